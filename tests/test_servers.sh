#!/bin/bash
# Server blocks chosen by SNI: two servers (a.test with an RSA certificate,
# b.test with an ECDSA one, different roots and policies) on one port.
# SNI picks the certificate and the content; an unknown name or none gets
# the default server (or, with unknown-sni = refuse, an alert); a session
# made for one server never resumes on the other (TLS 1.2 session IDs and
# TLS 1.3 tickets, from one shared cache); a Host of the other server is
# 421; locations and status pages are per server.
. "$top_srcdir/tests/lib.sh"

make_site "$T/site"
mkdir -p "$T/a/secure" "$T/b/secure" "$T/b/errors"
echo "site a" > "$T/a/index.html"
echo "secret of a" > "$T/a/secure/index.html"
echo "site b" > "$T/b/index.html"
echo "secret of b" > "$T/b/secure/index.html"
echo "b's own 404" > "$T/b/errors/404.html"
chmod -R a+rX "$T/a" "$T/b"

# servers.conf: the top level gives the defaults (the localhost certificate
# and the demo CA); a.test has its own certificate and root, b.test too,
# with an alias, its own locations, error pages and status page.
servers_conf() { # file [top-level lines...]
	local f=$1; shift
	write_conf "$f" "client-ca = \"$CERTS/ca.crt\"" \
		'session-cache {' "store = \"gdbm:$T/sessions.db\"" '}' "$@"
	cat >> "$f" <<CONF
server "a.test" {
	alias = "www.a.test"
	certificate = "$CERTS/a-test.crt"
	key = "$CERTS/a-test.key"
	root = "$T/a"
	header = "X-Site: a"
	location "/secure/" {
		verify-client = require
		allow-subject = "CN=alice,O=cachet demo"
	}
}
server "b.test" {
	alias = {"*.b.test"}
	certificate = "$CERTS/b-test.crt"
	key = "$CERTS/b-test.key"
	root = "$T/b"
	error-pages = "/errors"
	location "/secure/" {
		verify-client = require
		allow-subject = "CN=bob,O=cachet demo"
	}
	location "/server-status" {
		status = true
		allow-address = "127.0.0.1"
	}
}
CONF
}
servers_conf "$T/s.conf"
out=$("$CACHETD" -t -c "$T/s.conf" 2>&1)
expect_match "-t: the two-server config is fine" "$out" "test is successful"
expect_nomatch "-t: no name warning when the certificates cover the names" "$out" "warning"
start_cachetd "$T/s.conf" || exit 1

# curl for a name, resolved to the test port.
N() { # name args...
	local n=$1; shift
	C --resolve "$n:$PORT:127.0.0.1" "$@"
}
NURL() { echo "https://$1:$PORT$2"; }
# The peer certificate's subject and key size for an SNI name (or none).
peer() { # s_client args...
	printf 'Q\n' | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" \
		-CAfile "$CERTS/ca.crt" "$@" 2>&1
}

# --- SNI selects the certificate and the content ---
out=$(peer -servername a.test -verify_hostname a.test)
expect_match "SNI a.test: a's certificate" "$out" "subject=O = cachet demo, CN = a.test"
expect_match "SNI a.test: RSA-2048" "$out" "Server public key is 2048 bit"
expect_match "SNI a.test: verifies for a.test" "$out" "Verify return code: 0"
out=$(peer -servername b.test -verify_hostname b.test)
expect_match "SNI b.test: b's certificate" "$out" "subject=O = cachet demo, CN = b.test"
expect_match "SNI b.test: ECDSA P-256" "$out" "Server public key is 256 bit"
expect_match "SNI b.test: verifies for b.test" "$out" "Verify return code: 0"
out=$(peer -servername WWW.A.Test)
expect_match "SNI in upper case: a's alias" "$out" "CN = a.test"
out=$(peer -servername x.b.test -verify_hostname x.b.test)
expect_match "SNI x.b.test: b's wildcard alias" "$out" "CN = b.test"
expect_match "SNI x.b.test: the certificate covers it" "$out" "Verify return code: 0"
out=$(peer -servername y.x.b.test)
expect_match "SNI y.x.b.test: a wildcard is one label: default (a)" "$out" "CN = a.test"
# A HelloRetryRequest (the client's key share is for a group the server
# does not take) brings a second ClientHello through the SNI callback.
out=$(peer -servername b.test -tls1_3 -groups ffdhe2048:X25519)
expect_match "HelloRetryRequest: b's certificate" "$out" "CN = b.test"
expect_match "HelloRetryRequest: X25519 after the retry" "$out" "Server Temp Key: X25519"
out=$(peer -servername other.example)
expect_match "unknown SNI: the default server (the first)" "$out" "CN = a.test"
out=$(peer -noservername)
expect_match "no SNI: the default server" "$out" "CN = a.test"

expect_eq "content of a by SNI a.test" "$(N a.test "$(NURL a.test /)")" "site a"
expect_eq "content of b by SNI b.test" "$(N b.test "$(NURL b.test /)")" "site b"
expect_eq "content of b by its wildcard alias" "$(N x.b.test "$(NURL x.b.test /)")" "site b"
expect_eq "a's headers on a" "$(N a.test -D - -o /dev/null "$(NURL a.test /)" | tr -d '\r' | grep -i '^x-site:')" "X-Site: a"
expect_eq "a's headers not on b" "$(N b.test -D - -o /dev/null "$(NURL b.test /)" | tr -d '\r' | grep -ci '^x-site:')" "0"
expect_eq "b's error pages on b" "$(N b.test "$(NURL b.test /nothing)")" "b's own 404"
expect_match "a has no such error page" "$(N a.test "$(NURL a.test /nothing)")" "<h1>404 Not Found</h1>"

# --- 421: a Host that is not the connection's server ---
st=$(N a.test -o /dev/null -w '%{http_code}' -H "Host: b.test:$PORT" "$(NURL a.test /)")
expect_eq "Host b.test on an a.test connection: 421" "$st" 421
st=$(N b.test -o /dev/null -w '%{http_code}' -H "Host: a.test" "$(NURL b.test /)")
expect_eq "Host a.test on a b.test connection: 421" "$st" 421
st=$(N a.test -o /dev/null -w '%{http_code}' -H "Host: WWW.A.TEST." "$(NURL a.test /)")
expect_eq "Host of a's alias (any case, final dot) on a: 200" "$st" 200
st=$(N a.test -o /dev/null -w '%{http_code}' -H "Host: unknown.example" "$(NURL a.test /)")
expect_eq "unknown Host on the default server's connection: 200" "$st" 200
st=$(N b.test -o /dev/null -w '%{http_code}' -H "Host: unknown.example" "$(NURL b.test /)")
expect_eq "unknown Host (the default's) on b: 421" "$st" 421
out=$(printf 'GET https://b.test/ HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n' | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername a.test -CAfile "$CERTS/ca.crt" -quiet -ign_eof 2>/dev/null)
expect_match "absolute-form authority b.test on a: 421" "$out" "^HTTP/1.1 421 Misdirected Request"
out=$(printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername b.test -CAfile "$CERTS/ca.crt" -quiet -ign_eof 2>/dev/null)
expect_match "HTTP/1.0 without Host: the connection's server (b)" "$out" "site b"
out=$(printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -noservername -CAfile "$CERTS/ca.crt" -quiet -ign_eof 2>/dev/null)
expect_match "no SNI, no Host: the default server (a)" "$out" "site a"

# --- per-server locations and policies ---
A="--cert $CERTS/alice.crt --key $CERTS/alice.key"
B="--cert $CERTS/bob.crt --key $CERTS/bob.key"
expect_eq "alice on a's /secure/: allowed" "$(N a.test $A "$(NURL a.test /secure/)")" "secret of a"
st=$(N b.test $A -o /dev/null -w '%{http_code}' "$(NURL b.test /secure/)")
expect_eq "alice on b's /secure/: 403 (b's list)" "$st" 403
expect_eq "bob on b's /secure/: allowed" "$(N b.test $B "$(NURL b.test /secure/)")" "secret of b"
st=$(N a.test $B -o /dev/null -w '%{http_code}' "$(NURL a.test /secure/)")
expect_eq "bob on a's /secure/: 403" "$st" 403
# alice's certificate, accepted on an a.test connection, cannot be carried
# to b's protected path by a Host header.
st=$(N a.test $A -o /dev/null -w '%{http_code}' -H "Host: b.test" "$(NURL a.test /secure/)")
expect_eq "alice's a.test connection asking for b's /secure/: 421" "$st" 421

# TLS 1.2: the certificate is asked by renegotiation, on the SSL_CTX SNI
# moved the connection to (the verify mode set for it must survive the
# renegotiation's ClientHello, which comes through the SNI callback again).
expect_eq "TLS 1.2 renegotiation on b (bob): allowed" "$(N b.test --tls-max 1.2 $B "$(NURL b.test /secure/)")" "secret of b"
st=$(N b.test --tls-max 1.2 $A -o /dev/null -w '%{http_code}' "$(NURL b.test /secure/)")
expect_eq "TLS 1.2 renegotiation on b (alice): 403" "$st" 403
expect_eq "TLS 1.2 renegotiation on a (alice): allowed" "$(N a.test --tls-max 1.2 $A "$(NURL a.test /secure/)")" "secret of a"
# A client without post-handshake authentication (a browser) is held to
# TLS 1.2 on a server with protected paths; set per server.
pyver() { # name: the protocol Python (no PHA offered) gets
	python3 - "$PORT" "$CERTS/ca.crt" "$1" <<'PY'
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10), server_hostname=sys.argv[3])
print(s.version())
PY
}
expect_eq "no PHA, server with protected paths (b): TLS 1.2" "$(pyver b.test)" "TLSv1.2"

# per-server status page
st=$(N b.test -o /dev/null -w '%{http_code}' "$(NURL b.test /server-status)")
expect_eq "b's status page" "$st" 200
expect_match "b's status page shows counters" "$(N b.test "$(NURL b.test /server-status)")" "requests"
st=$(N a.test -o /dev/null -w '%{http_code}' "$(NURL a.test /server-status)")
expect_eq "no status page on a" "$st" 404

# --- sessions: one cache, but never across servers ---
# s_client: a session saved under one name, offered under the other.
sess() { # out-or-in file name proto
	printf 'GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$3" |
		timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername "$3" \
		-CAfile "$CERTS/ca.crt" -"$4" -"$1" "$2" -ign_eof 2>&1
}
# The cache's hit counter (b's status page) shows that the lookup found
# a's session in the shared cache and OpenSSL declined it there (another
# session ID context), rather than the client not offering it.
hits() {
	N b.test "$(NURL b.test '/server-status?format=json')" |
		sed -n 's/.*"cache_hits": \([0-9]*\).*/\1/p'
}
for proto in tls1_2 tls1_3; do
	sess sess_out "$T/a-$proto.sess" a.test $proto >/dev/null
	sess sess_out "$T/a2-$proto.sess" a.test $proto >/dev/null
	check "$proto: a session was saved for a.test" test -s "$T/a-$proto.sess"
	h0=$(hits)
	out=$(sess sess_in "$T/a-$proto.sess" b.test $proto)
	h1=$(hits)
	expect_eq "$proto: b's lookup found a's session in the cache" "$((h1 - h0))" 1
	expect_match "$proto: a's session offered under b.test: full handshake" "$out" "^New, "
	expect_nomatch "$proto: ... not Reused" "$out" "^Reused, "
	expect_match "$proto: ... and b's certificate" "$out" "CN = b.test"
	expect_match "$proto: ... and b's content" "$out" "site b"
	out=$(sess sess_in "$T/a2-$proto.sess" a.test $proto)
	expect_match "$proto: a's session under a.test again: Reused" "$out" "^Reused, "
	expect_match "$proto: ... and a's content" "$out" "site a"
done

# The same with cachet, which keeps sessions by host:port.  Its Host is
# the URL's 127.0.0.1, a name no server has: the default server's (a), so
# b's connection answers 421 and a's serves.
for v in 1.2 1.3; do
	"$CACHET" get --tls$v --cacert "$CERTS/ca.crt" --servername a.test --sess-out "$T/c$v.sess" "https://127.0.0.1:$PORT/" >/dev/null 2>&1
	"$CACHET" get --tls$v --cacert "$CERTS/ca.crt" --servername a.test --sess-out "$T/d$v.sess" "https://127.0.0.1:$PORT/" >/dev/null 2>&1
	out=$("$CACHET" get -v --tls$v --cacert "$CERTS/ca.crt" --servername b.test --sess-in "$T/c$v.sess" "https://127.0.0.1:$PORT/" 2>&1)
	expect_match "cachet TLS $v: a's session under b.test: full handshake" "$out" "session: full handshake"
	expect_match "cachet TLS $v: ... with b's certificate" "$out" "server certificate: CN=b.test"
	out=$("$CACHET" get -v --tls$v --cacert "$CERTS/ca.crt" --servername a.test --sess-in "$T/d$v.sess" "https://127.0.0.1:$PORT/" 2>&1)
	expect_match "cachet TLS $v: a's session under a.test: resumed" "$out" "session: resumed"
	expect_match "cachet TLS $v: ... and a's content" "$out" "site a"
done

# The access log says which server answered (for a format that has room
# for it; the combined line is unchanged).
check "access log: still combined lines" grep -q '" 421 ' "$T/access.log"

# --- HUP swaps a server's certificate, under a client loop: one
# connection after another to a.test (each "SUBJECT-CN BODY") from before
# the HUP until the new certificate has been served 5 times (at most 20 s).
# An idle keep-alive connection of the old generation is closed cleanly
# (close_notify), as on any reload.
python3 - "$PORT" "$CERTS/ca.crt" "$T/held.ready" > "$T/held.out" 2>&1 <<'PY' &
import socket, ssl, sys
port, ca, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30), server_hostname="a.test")
s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
data = b""
while not data.rstrip().endswith(b"site a"):
    data += s.recv(4096)
print("first:", data.split(b" ")[1].decode(), flush=True)
open(ready, "w").close()
print("then:", "closed cleanly" if s.recv(4096) == b"" else "data", flush=True)
PY
HELD=$!
PIDS="$PIDS $HELD"
check "an idle connection to a.test is held open" wait_for 10 test -e "$T/held.ready"
one() {
	printf 'GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n' |
		timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername a.test \
		-CAfile "$CERTS/ca.crt" -ign_eof 2>/dev/null |
		sed -n 's/^subject=.*CN = \(.*\)$/\1/p; s/^\(site a\)$/ok/p' | tr '\n' ' '
	echo
}
( end=$((SECONDS + 20)); while [ $SECONDS -lt $end ]; do
	one
	[ "$(grep -c '^localhost ok $' "$T/loop.out")" -ge 5 ] && break
  done > "$T/loop.out" ) &
LOOP=$!
PIDS="$PIDS $LOOP"
served_some() { [ "$(grep -c '^a.test ok $' "$T/loop.out")" -ge 3 ]; }
check "client loop: a.test's certificate before the HUP" wait_for 10 served_some
sed -i "s|$CERTS/a-test.crt|$CERTS/server-rsa.crt|; s|$CERTS/a-test.key|$CERTS/server-rsa.key|" "$T/s.conf"
kill -HUP "$MASTER"
wait $LOOP
n=$(wc -l < "$T/loop.out")
bad=$(grep -Evc '^(a\.test|localhost) ok $' "$T/loop.out")
expect_eq "client loop: every connection through the reload served ($n)" "$bad" 0
check "client loop: the new certificate for a.test after the HUP" grep -q '^localhost ok $' "$T/loop.out"
out=$(peer -servername b.test)
expect_match "after HUP, b.test's certificate is unchanged" "$out" "CN = b.test"
wait_for 15 gone "$HELD"
expect_eq "the held idle connection: served, then closed cleanly" "$(cat "$T/held.out" | tr '\n' ' ')" "first: 200 then: closed cleanly "
stop_cachetd

# --- verify-client at a server's handshake: set on the SSL_CTX SNI
# chose, not the default server's ---
servers_conf "$T/v.conf"
sed -i "s|^\troot = \"$T/b\"\$|&\n\tverify-client = require|" "$T/v.conf"
start_cachetd "$T/v.conf" || exit 1
st=$(N b.test -o /dev/null -w '%{http_code}' "$(NURL b.test /)" 2>/dev/null)
expect_eq "verify-client = require on b: no certificate, no handshake" "$st" 000
expect_eq "verify-client = require on b: bob's certificate, served" "$(N b.test $B "$(NURL b.test /)")" "site b"
expect_eq "... and a asks nothing" "$(N a.test "$(NURL a.test /)")" "site a"
stop_cachetd
# ... also when the default server is optional: a connection begins on
# the default server's SSL_CTX and its verify callback (accept all, the
# policy decides) must not stay for b's require
servers_conf "$T/v2.conf" 'verify-client = optional' "client-crl = \"$CERTS/crl.pem\""
sed -i "s|^\troot = \"$T/b\"\$|&\n\tverify-client = require|" "$T/v2.conf"
start_cachetd "$T/v2.conf" || exit 1
for who in mallory revoked expired; do
	st=$(N b.test --cert "$CERTS/$who.crt" --key "$CERTS/$who.key" -o /dev/null -w '%{http_code}' "$(NURL b.test /)" 2>/dev/null)
	expect_eq "require on b behind an optional default: $who refused at the handshake" "$st" 000
done
expect_eq "require on b behind an optional default: bob served" "$(N b.test $B "$(NURL b.test /)")" "site b"
expect_eq "... and a (optional, from the top level) serves mallory" "$(N a.test --cert "$CERTS/mallory.crt" --key "$CERTS/mallory.key" "$(NURL a.test /)" 2>/dev/null)" "site a"
stop_cachetd

# --- the plain-HTTP listener redirects to the server Host names ---
servers_conf "$T/h.conf" 'http-listen = {"127.0.0.1:0"}'
start_cachetd "$T/h.conf" || exit 1
HPORT=$(sed -n 's,.*listening on http://127\.0\.0\.1:\([0-9]*\).*,\1,p' "$T/error.log" | tail -n 1)
hloc() { curl -sS --max-time 10 -o /dev/null -D - "$@" | tr -d '\r' | sed -n 's/^Location: //Ip'; }
expect_eq "http: Host b.test goes to https://b.test" "$(hloc -H 'Host: b.test' "http://127.0.0.1:$HPORT/x?y")" "https://b.test:$PORT/x?y"
expect_eq "http: a wildcard alias keeps its name" "$(hloc -H 'Host: x.b.test' "http://127.0.0.1:$HPORT/")" "https://x.b.test:$PORT/"
expect_eq "http: an unknown Host goes to the default server's name" "$(hloc -H 'Host: evil.example' "http://127.0.0.1:$HPORT/p")" "https://a.test:$PORT/p"
expect_eq "http: no Host (HTTP/1.0) too" "$(hloc --http1.0 -H 'Host:' "http://127.0.0.1:$HPORT/p")" "https://a.test:$PORT/p"
stop_cachetd

# --- stateless tickets (session-tickets = true): the ticket carries the
# session ID context too, so the same holds without the cache ---
servers_conf "$T/t.conf" "session-tickets = true"
start_cachetd "$T/t.conf" || exit 1
for proto in tls1_2 tls1_3; do
	sess sess_out "$T/ta-$proto.sess" a.test $proto >/dev/null
	sess sess_out "$T/ta2-$proto.sess" a.test $proto >/dev/null
	out=$(sess sess_in "$T/ta-$proto.sess" b.test $proto)
	expect_match "tickets, $proto: a's ticket under b.test: full handshake" "$out" "^New, "
	expect_match "tickets, $proto: ... with b's certificate" "$out" "CN = b.test"
	out=$(sess sess_in "$T/ta2-$proto.sess" a.test $proto)
	expect_match "tickets, $proto: a's ticket under a.test: Reused" "$out" "^Reused, "
done
stop_cachetd

# --- unknown-sni = refuse ---
servers_conf "$T/r.conf" "unknown-sni = refuse"
start_cachetd "$T/r.conf" || exit 1
out=$(peer -servername other.example)
expect_match "refuse: unknown name gets the unrecognized_name alert" "$out" "unrecognized name|alert number 112"
expect_nomatch "refuse: ... and no certificate" "$out" "CN = a.test"
out=$(peer -servername b.test)
expect_match "refuse: b.test still served" "$out" "CN = b.test"
out=$(peer -noservername)
expect_match "refuse: no SNI still gets the default server" "$out" "CN = a.test"
stop_cachetd

# --- an explicit default server ---
servers_conf "$T/d.conf"
sed -i "s|^\troot = \"$T/b\"\$|&\n\tdefault = true|" "$T/d.conf"
start_cachetd "$T/d.conf" || exit 1
out=$(peer -servername other.example)
expect_match "default = true: unknown names get b" "$out" "CN = b.test"
out=$(peer -noservername)
expect_match "default = true: no SNI gets b" "$out" "CN = b.test"
stop_cachetd

# --- config errors, each at its line ---
conf_err() { # description file want-regex
	local out rc
	out=$("$CACHETD" -t -c "$2" 2>&1); rc=$?
	expect_eq "$1: -t fails" "$rc" 1
	expect_match "$1: says where" "$out" "$3"
}
servers_conf "$T/e1.conf"
cat >> "$T/e1.conf" <<CONF
server "c.test" {
	alias = "WWW.a.test"
}
CONF
conf_err "duplicate name" "$T/e1.conf" "e1.conf:$(line_of "$T/e1.conf" $'\talias = "WWW.a.test"'): server \"c.test\": the name 'www.a.test' is already server \"a.test\"'s"
servers_conf "$T/e2.conf"
cat >> "$T/e2.conf" <<CONF
server "B.test" {
}
CONF
conf_err "duplicate server" "$T/e2.conf" "e2.conf:$(line_of "$T/e2.conf" 'server "B.test" {'): server \"b.test\": the name 'b.test' is already"
cat > "$T/e3.conf" <<CONF
listen = {"127.0.0.1:0"}
mime-types = "$top_srcdir/conf/mime.types"
root = "$T/site"
server "a.test" {
	certificate = "$CERTS/a-test.crt"
	key = "$CERTS/a-test.key"
}
server "b.test" {
	root = "$T/b"
}
CONF
conf_err "server without certificate" "$T/e3.conf" "e3.conf:$(line_of "$T/e3.conf" 'server "b.test" {'): server \"b.test\": certificate: missing"
servers_conf "$T/e4.conf"
sed -i 's/^\tkey = "[^"]*b-test.key"$/&\n\tdefault = true/; s/^\tkey = "[^"]*a-test.key"$/&\n\tdefault = true/' "$T/e4.conf"
conf_err "two default servers" "$T/e4.conf" "e4.conf:$(line_of "$T/e4.conf" 'server "b.test" {'): server \"b.test\": a second default server"
write_conf "$T/e5.conf" 'server "-bad-.test" {' '}'
conf_err "a bad server name" "$T/e5.conf" "e5.conf:$(line_of "$T/e5.conf" 'server "-bad-.test" {'):.*not a host name"
write_conf "$T/e6.conf" 'alias = "x.test"'
conf_err "alias at the top level" "$T/e6.conf" "e6.conf:$(line_of "$T/e6.conf" 'alias = "x.test"'): alias: not allowed at the top level \(it belongs in a server block\)"
write_conf "$T/e7.conf" 'server "a.test" {' '	listen = {"127.0.0.1:0"}' '}'
conf_err "listen in a server block" "$T/e7.conf" "e7.conf:$(line_of "$T/e7.conf" '	listen = {"127.0.0.1:0"}'): listen: not allowed in a server block"
write_conf "$T/e8.conf" 'unknown-sni = maybe'
conf_err "unknown-sni value" "$T/e8.conf" "unknown-sni: 'maybe' is not default or refuse"

# -t warns (and passes) for a name the certificate does not cover.
write_conf "$T/w.conf"
cat >> "$T/w.conf" <<CONF
server "a.test" {
	alias = {"nota.test", "*.a.test"}
	certificate = "$CERTS/a-test.crt"
	key = "$CERTS/a-test.key"
}
server "localhost" {
}
CONF
out=$("$CACHETD" -t -c "$T/w.conf" 2>&1); rc=$?
expect_eq "-t: names not covered are a warning, not an error" "$rc" 0
l=$(line_of "$T/w.conf" $'\talias = {"nota.test", "*.a.test"}')
expect_match "-t: warns for nota.test at its line" "$out" "w.conf:$l: warning: server \"a.test\": certificate '[^']*a-test.crt' does not cover the name 'nota.test'"
expect_match "-t: warns for *.a.test" "$out" "does not cover the name '\*\.a\.test'"
expect_nomatch "-t: no warning for a.test itself" "$out" "cover the name 'a.test'"
expect_nomatch "-t: localhost inherits the top level's certificate, which covers it" "$out" "'localhost'"

# -t warns when a server block's own locations hide a top-level location
# that restricts access (inherited whole, or not at all).
write_conf "$T/h.conf" "client-ca = \"$CERTS/ca.crt\""
cat >> "$T/h.conf" <<CONF
location "/admin/" {
	verify-client = require
}
location "/open/" {
	header = {"X-A: b"}
}
server "a.test" {
	certificate = "$CERTS/a-test.crt"
	key = "$CERTS/a-test.key"
	location "/docs/" { header = {"X-B: c"} }
}
server "b.test" {
	certificate = "$CERTS/b-test.crt"
	key = "$CERTS/b-test.key"
	location "/admin/" { verify-client = require }
}
server "localhost" {
}
CONF
out=$("$CACHETD" -t -c "$T/h.conf" 2>&1); rc=$?
expect_eq "-t: a hidden location is a warning, not an error" "$rc" 0
expect_match "-t: warns for a.test, at its block, naming /admin/ and its line" "$out" \
	"h.conf:$(line_of "$T/h.conf" 'server "a.test" {'): warning: server \"a.test\" has locations of its own, so the top-level location \"/admin/\" \(.*h.conf:$(line_of "$T/h.conf" 'location "/admin/" {')\), which restricts access, does not apply to it"
expect_nomatch "-t: no warning for a location that restricts nothing" "$out" '"/open/"'
expect_nomatch "-t: none for b.test, which writes /admin/ again" "$out" 'server \"b.test\" has'
expect_nomatch "-t: none for localhost, which inherits them all" "$out" 'server \"localhost\" has'

finish
