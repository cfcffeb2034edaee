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
finish
