#!/bin/bash
# cachetd -t, -v, and refusal to start on a broken config.
. "$top_srcdir/tests/lib.sh"
make_site "$T/site"

out=$("$CACHETD" -v)
expect_match "-v prints the version" "$out" "^cachetd [0-9]+\.[0-9]+"
expect_match "-v prints the OpenSSL in use" "$out" "running on OpenSSL 3\."

write_conf "$T/good.conf"
out=$("$CACHETD" -t -c "$T/good.conf" 2>&1); rc=$?
expect_eq "-t on a good config exits 0" "$rc" 0
expect_match "-t says so" "$out" "test is successful"

write_conf "$T/bad.conf" 'workers = 0'
out=$("$CACHETD" -t -c "$T/bad.conf" 2>&1); rc=$?
expect_eq "-t on a bad config exits 1" "$rc" 1
expect_match "-t names file, line, problem" "$out" "$T/bad.conf:$(line_of "$T/bad.conf" 'workers = 0'): workers: must be at least 1"

write_conf "$T/nocert.conf" 'certificate = {"missing.crt", "x.crt"}'
out=$("$CACHETD" -t -c "$T/nocert.conf" 2>&1); rc=$?
expect_eq "-t with a missing certificate exits 1" "$rc" 1
expect_match "missing certificate: file, line, name" "$out" "nocert.conf:$(line_of "$T/nocert.conf" 'certificate = {"missing.crt", "x.crt"}'): certificate '$T/missing.crt'"

write_conf "$T/mismatch.conf" "certificate = {\"$CERTS/server-rsa.crt\"}" "key = {\"$CERTS/server-ecdsa.key\"}"
out=$("$CACHETD" -t -c "$T/mismatch.conf" 2>&1)
# the line of either half of the pair (today: the certificate's)
lc=$(line_of "$T/mismatch.conf" "certificate = {\"$CERTS/server-rsa.crt\"}")
lk=$(line_of "$T/mismatch.conf" "key = {\"$CERTS/server-ecdsa.key\"}")
expect_match "key that does not match" "$out" "mismatch.conf:($lc|$lk): key '.*server-ecdsa.key'"

write_conf "$T/noroot.conf" 'root = "nowhere"'
out=$("$CACHETD" -t -c "$T/noroot.conf" 2>&1)
expect_match "missing root named" "$out" "noroot.conf:$(line_of "$T/noroot.conf" 'root = "nowhere"'): root '$T/nowhere': No such file"

# comment lines before a directive do not shift the line named
write_conf "$T/comment.conf" '# one comment' '# and another' 'workers = 0'
out=$("$CACHETD" -t -c "$T/comment.conf" 2>&1)
expect_match "after comment lines: the right line named" "$out" "comment.conf:$(line_of "$T/comment.conf" 'workers = 0'): workers: must be at least 1"

write_conf "$T/cipher.conf" 'ciphers = "NOT-A-CIPHER"'
out=$("$CACHETD" -t -c "$T/cipher.conf" 2>&1)
expect_match "bad cipher list named" "$out" "ciphers: no usable cipher"

# A broken config does not start: exit non-zero, no pid file, no port.
printf 'listen = {"127.0.0.1:0"}\nroot = "site"\nthis is not a directive\n' > "$T/broken.conf"
out=$(timeout 10 "$CACHETD" -c "$T/broken.conf" 2>&1); rc=$?
expect_eq "broken config: exit 1" "$rc" 1
expect_match "broken config: line named" "$out" "broken.conf:$(line_of "$T/broken.conf" 'this is not a directive'):"

# A port already in use is an error at start.
write_conf "$T/a.conf"
start_cachetd "$T/a.conf" || exit 1
sed -i "s/127.0.0.1:0/127.0.0.1:$PORT/; s|pid-file.*|pid-file = \"$T/b.pid\"|; s|error-log.*||" "$T/a.conf"
out=$(timeout 10 "$CACHETD" -c "$T/a.conf" 2>&1); rc=$?
expect_eq "port in use: exit 1" "$rc" 1
expect_match "port in use: said" "$out" "listen '127.0.0.1:$PORT': Address already in use"
stop_cachetd

check "usage error exits 2" test "$("$CACHETD" -x >/dev/null 2>&1; echo $?)" = 2
# workers beyond what a reload can hold (two generations side by side)
write_conf "$T/many.conf" 'workers = 140'
out=$("$CACHETD" -t -c "$T/many.conf" 2>&1); rc=$?
expect_eq "workers = 140 refused" "$rc" 1
expect_match "workers limit: file, line, reason" "$out" "many.conf:[0-9]+: workers: at most 128 \(a reload runs two generations"
write_conf "$T/max.conf" 'workers = 128'
check "workers = 128 accepted" "$CACHETD" -t -c "$T/max.conf"
# location prefixes must be written as the canonical paths they match
for pre in '/./secure/' '/%73ecure/' '/secure//' '/secure/../public/' '/x/%zz'; do
	write_conf "$T/loc.conf" "location \"$pre\" {" 'verify-client = optional' '}'
	sed -i "1i client-ca = \"$CERTS/ca.crt\"" "$T/loc.conf"
	out=$("$CACHETD" -t -c "$T/loc.conf" 2>&1); rc=$?
	expect_eq "location \"$pre\" refused" "$rc" 1
	expect_match "location \"$pre\": says why" "$out" "loc.conf:[0-9]+: location \"$pre\": not a canonical path"
done
write_conf "$T/loc.conf" 'location "/secure//" {' '}'
expect_match "the canonical spelling is suggested" "$("$CACHETD" -t -c "$T/loc.conf" 2>&1)" 'write "/secure/"'
# ---- the grammar, end to end (each message exact: file, line, problem) ----
# tconf NAME LINES...: a config of LINES only (no write_conf header)
tconf() { local f=$T/$1; shift; printf '%s\n' "$@" > "$f"; }
# t_err FILE: what -t says, on one line, and its exit status in RC
t_err() { out=$("$CACHETD" -t -c "$1" 2>&1); RC=$?; }

# The shipped demo config, with its comments: a value broken on a known
# line is named on that line (libConfuse named 11 for 5 and 82 for 48).
mkdir -p "$T/demo/conf"
cp "$top_srcdir/conf/cachetd.conf" "$T/demo/conf/"
l=$(grep -n '^workers' "$T/demo/conf/cachetd.conf" | cut -d: -f1)
sed -i 's/^workers .*/workers     = 0/' "$T/demo/conf/cachetd.conf"
t_err "$T/demo/conf/cachetd.conf"
expect_eq "demo config, workers broken: exit 1" "$RC" 1
expect_match "demo config: the line of workers ($l) named" "$out" "cachetd.conf:$l: workers: must be at least 1, not 0"
cp "$top_srcdir/conf/cachetd.conf" "$T/demo/conf/"
l=$(grep -n 'verify-client' "$T/demo/conf/cachetd.conf" | head -n 1 | cut -d: -f1)
sed -i 's/verify-client = require/verify-client = sometimes/' "$T/demo/conf/cachetd.conf"
t_err "$T/demo/conf/cachetd.conf"
expect_match "demo config: the line of verify-client ($l) named" "$out" "cachetd.conf:$l: verify-client: 'sometimes' is not none, optional or require"

# a comment inside a list parses; an element after it is named on its line
write_conf "$T/list.conf" 'protocols = {' '  # TLS 1.2 for old clients' '  "TLSv1.2",' '  # and' '  "TLSv1.1"' '}'
t_err "$T/list.conf"
expect_match "comment in a list: the bad element's line" "$out" "list.conf:$(line_of "$T/list.conf" '  "TLSv1.1"'): protocols: TLSv1.1 is not supported"
write_conf "$T/list2.conf" 'protocols = {' '  # TLS 1.3 only' '  "TLSv1.3"' '}'
check "comment in a list: accepted" "$CACHETD" -t -c "$T/list2.conf"

# a file cut off inside a block, or a list, does not pass
write_conf "$T/cut.conf" "client-ca = \"$CERTS/ca.crt\"" 'location "/x" {' '  verify-client = require'
t_err "$T/cut.conf"
expect_eq "cut inside a block: exit 1" "$RC" 1
expect_match "cut inside a block: where it opened" "$out" "cut.conf:$(line_of "$T/cut.conf" 'location "/x" {'):15: the block opened here is not closed \(the file ends at line $(wc -l < "$T/cut.conf")\)"
write_conf "$T/cut2.conf" 'protocols = {"TLSv1.2",'
t_err "$T/cut2.conf"
expect_match "cut inside a list: where it opened" "$out" "cut2.conf:$(line_of "$T/cut2.conf" 'protocols = {"TLSv1.2",'):13: the list opened here is not closed"
write_conf "$T/extra.conf" '}'
t_err "$T/extra.conf"
expect_match "a '}' too many" "$out" "extra.conf:$(line_of "$T/extra.conf" '}'):1: '}' without a '{' to close"

# include: a glob relative to the including file's folder, in order
mkdir -p "$T/inc/sites"
write_conf "$T/inc/main.conf" 'include "sites/*.conf"'
tconf inc/sites/a.conf '# site a' 'index = "a.html"'
tconf inc/sites/b.conf '# site b' '' 'header = "X-Site: b"'
check "include: a folder of sites" "$CACHETD" -t -c "$T/inc/main.conf"
tconf inc/sites/b.conf '# site b' '' 'bogus = 1'
t_err "$T/inc/main.conf"
expect_eq "include: an error in an included file: exit 1" "$RC" 1
expect_match "include: the included file and its line named" "$out" "^cachetd: $T/inc/sites/b.conf:3: unknown directive 'bogus'"
tconf inc/sites/b.conf "certificate = \"$CERTS/nothere.crt\"" "key = \"$CERTS/server-rsa.key\""
t_err "$T/inc/main.conf"
expect_match "include: a -t check names the included file's line" "$out" "$T/inc/sites/b.conf:1: certificate '$CERTS/nothere.crt': No such file or directory"
rm "$T/inc/sites/b.conf"
write_conf "$T/inc/loop.conf" 'include "loop.conf"'
t_err "$T/inc/loop.conf"
expect_match "include: a file that includes itself" "$out" "loop.conf:$(line_of "$T/inc/loop.conf" 'include "loop.conf"'): include 'loop.conf': includes nested more than 8 deep"

# ---- what -t checks beyond the syntax ----
write_conf "$T/crl.conf" "client-crl = \"$CERTS/crl.pem\""
t_err "$T/crl.conf"
expect_eq "client-crl without client-ca: exit 1" "$RC" 1
expect_match "client-crl without client-ca: said" "$out" "crl.conf:$(line_of "$T/crl.conf" "client-crl = \"$CERTS/crl.pem\""): client-crl needs client-ca"

write_conf "$T/nocrl.conf" "client-ca = \"$CERTS/ca.crt\"" "client-crl = \"$T/missing.pem\""
t_err "$T/nocrl.conf"
expect_match "missing CRL: No such file or directory, on its line" "$out" "nocrl.conf:$(line_of "$T/nocrl.conf" "client-crl = \"$T/missing.pem\""): client-crl '$T/missing.pem': No such file or directory"
expect_nomatch "missing CRL: no OpenSSL 'system lib'" "$out" "system lib"

echo "not a CRL" > "$T/junk.pem"
write_conf "$T/junkcrl.conf" "client-ca = \"$CERTS/ca.crt\"" "client-crl = \"$T/junk.pem\""
t_err "$T/junkcrl.conf"
expect_eq "a CRL that does not parse: exit 1" "$RC" 1
expect_match "a CRL that does not parse: named" "$out" "junkcrl.conf:$(line_of "$T/junkcrl.conf" "client-crl = \"$T/junk.pem\""): client-crl '$T/junk.pem'"
write_conf "$T/goodcrl.conf" "client-ca = \"$CERTS/ca.crt\"" "client-crl = \"$CERTS/crl.pem\""
check "a CA and its CRL: accepted" "$CACHETD" -t -c "$T/goodcrl.conf"

write_conf "$T/noca.conf" "client-ca = \"$T/missing-ca.crt\""
t_err "$T/noca.conf"
expect_match "missing CA: No such file or directory" "$out" "noca.conf:$(line_of "$T/noca.conf" "client-ca = \"$T/missing-ca.crt\""): client-ca '$T/missing-ca.crt': No such file or directory"

write_conf "$T/other.conf" "certificate = {\"$CERTS/server-rsa.crt\"}" '# the key of another certificate' "key = {\"$CERTS/alice.key\"}"
t_err "$T/other.conf"
expect_match "key of another certificate: the key's line" "$out" "other.conf:$(line_of "$T/other.conf" "key = {\"$CERTS/alice.key\"}"): key '$CERTS/alice.key' does not match certificate '$CERTS/server-rsa.crt'"

write_conf "$T/nokey.conf" "certificate = {\"$CERTS/server-rsa.crt\"}" "key = {\"$T/nokey.key\"}"
t_err "$T/nokey.conf"
expect_match "missing key: the key's line" "$out" "nokey.conf:$(line_of "$T/nokey.conf" "key = {\"$T/nokey.key\"}"): key '$T/nokey.key': No such file or directory"

write_conf "$T/store.conf" 'session-cache {' "  store = \"gdbm:$T/no/such/folder/s.db\"" '}'
t_err "$T/store.conf"
expect_eq "store in a missing folder: exit 1" "$RC" 1
expect_match "store in a missing folder: said" "$out" "store.conf:$(line_of "$T/store.conf" "  store = \"gdbm:$T/no/such/folder/s.db\""): store '$T/no/such/folder/s.db': folder '$T/no/such/folder': No such file or directory"
check "-t created nothing" test ! -e "$T/no"
mkdir -p "$T/store"
write_conf "$T/store2.conf" 'session-cache {' "  store = \"gdbm:$T/store/s.db\"" '}'
check "store in a folder that exists: accepted" "$CACHETD" -t -c "$T/store2.conf"
check "-t made no cache file" test ! -e "$T/store/s.db"

write_conf "$T/nolog.conf" "error-log = \"$T/nologs/e.log\""
t_err "$T/nolog.conf"
expect_match "error-log in a missing folder" "$out" "nolog.conf:$(line_of "$T/nolog.conf" "error-log = \"$T/nologs/e.log\""): error-log '$T/nologs/e.log': folder '$T/nologs': No such file or directory"

write_conf "$T/nomime.conf" "mime-types = \"$T/none.types\""
t_err "$T/nomime.conf"
expect_match "missing mime types: its line" "$out" "nomime.conf:$(line_of "$T/nomime.conf" "mime-types = \"$T/none.types\""): mime-types: .*No such file or directory"

write_conf "$T/port.conf" 'listen = {"127.0.0.1:65536"}'
t_err "$T/port.conf"
expect_match "a port out of range" "$out" "port.conf:$(line_of "$T/port.conf" 'listen = {"127.0.0.1:65536"}'): listen: '127.0.0.1:65536' is not ADDR:PORT"

# one message per problem, once: -t and a failed start alike
write_conf "$T/once.conf" 'root = "nowhere"'
sed -i '/^error-log/d' "$T/once.conf"
out=$(timeout 10 "$CACHETD" -c "$T/once.conf" 2>&1); rc=$?
expect_eq "failed start: exit 1" "$rc" 1
expect_eq "failed start: the error printed once" "$(printf '%s\n' "$out" | grep -c "root '$T/nowhere'")" 1
t_err "$T/once.conf"
expect_eq "-t: the error printed once" "$(printf '%s\n' "$out" | grep -c "root '$T/nowhere'")" 1
finish
