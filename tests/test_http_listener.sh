#!/bin/bash
# http-listen: the plain-HTTP listener.  Everything is redirected to https
# (301 for GET/HEAD, 308 otherwise) on the Host sent, with the canonical
# path (no open redirect) and the query; a missing or bad Host is 400.
# With acme-root, /.well-known/acme-challenge/TOKEN serves the token file
# byte-exact and nothing else (no "..", "/", "%2f", symlink out, folder);
# other /.well-known paths redirect like any path.  A silent client times
# out, and the TLS port still works.
. "$top_srcdir/tests/lib.sh"
make_site "$T/site"
mkdir -p "$T/acme/sub" "$T/outside"
printf 'tokABC_-9.thumbprint-xyz' > "$T/acme/tokABC_-9"
echo secret > "$T/outside/secret"
echo subfile > "$T/acme/sub/x"
ln -s "$T/outside/secret" "$T/acme/escape"
mkdir -p "$T/site/errors"; echo 'site 404 page' > "$T/site/errors/404.html"
chmod -R a+rX "$T/acme" "$T/outside" "$T/site"
WORKERS=1 write_conf "$T/c.conf" 'http-listen = {"127.0.0.1:0"}' \
	"acme-root = \"$T/acme\"" 'header-timeout = 2' 'error-pages = "/errors"' \
	'header = {"Strict-Transport-Security: max-age=63072000"}' \
	'location "/status" {' 'status = yes' 'allow-address = {"127.0.0.1"}' '}'
start_cachetd "$T/c.conf" || exit 1
HPORT=$(sed -n 's,.*listening on http://127\.0\.0\.1:\([0-9]*\).*,\1,p' "$T/error.log" | tail -n 1)
check "the http port is logged" test -n "$HPORT"

H() { curl -sS --max-time 10 -o /dev/null -D - "$@" | tr -d '\r'; }
HURL() { echo "http://127.0.0.1:$HPORT$1"; }
code() { sed -n '1s/^HTTP\/1.1 \([0-9]*\).*/\1/p'; }
loc() { sed -n 's/^Location: //Ip'; }
# raw request text (printf format) to the http port; prints the answer
raw() {
	python3 - "$HPORT" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(sys.argv[2].encode("latin-1").decode("unicode_escape").encode("latin-1"))
out = b""
while True:
    d = s.recv(65536)
    if not d: break
    out += d
sys.stdout.write(out.decode("latin-1").replace("\r", ""))
PY
}
expect_nomatch "no HSTS over plain HTTP (RFC 6797 7.2)" "$(H "$(HURL /x)")" "Strict-Transport-Security"
expect_match "HSTS over https" "$(C -s -D - -o /dev/null "$(URL /hello.txt)")" "Strict-Transport-Security: max-age=63072000"

# --- redirects
h=$(H -H 'Host: example.org' "$(HURL '/a/b.html?x=1&y=2')")
expect_eq "GET: 301" "$(echo "$h" | code)" 301
expect_eq "GET: Location with port and query" "$(echo "$h" | loc)" \
	"https://example.org:$PORT/a/b.html?x=1&y=2"
expect_match "GET: Connection: close" "$h" "^Connection: close"
h=$(H -I -H 'Host: example.org' "$(HURL /x)")
expect_eq "HEAD: 301" "$(echo "$h" | code)" 301
h=$(H -X POST -d 'a=1' -H 'Host: example.org' "$(HURL '/form?q=2')")
expect_eq "POST: 308" "$(echo "$h" | code)" 308
expect_eq "POST: Location" "$(echo "$h" | loc)" "https://example.org:$PORT/form?q=2"
h=$(H -X DELETE -H 'Host: example.org' "$(HURL /x)")
expect_eq "DELETE: 308" "$(echo "$h" | code)" 308
h=$(H -H 'Host: example.org:8080' "$(HURL /p)")
expect_eq "Host port dropped, https port used" "$(echo "$h" | loc)" "https://example.org:$PORT/p"
h=$(H -H 'Host: [::1]:8080' "$(HURL /p)")
expect_eq "IPv6 Host" "$(echo "$h" | loc)" "https://[::1]:$PORT/p"
h=$(H "$(HURL /p)")
expect_eq "IPv4 Host (curl's own)" "$(echo "$h" | loc)" "https://127.0.0.1:$PORT/p"

# --- odd paths: never the raw target
a=$(raw 'GET //evil.example/x HTTP/1.1\r\nHost: example.org\r\n\r\n')
expect_match "//evil.example: 301" "$a" "^HTTP/1.1 301"
expect_match "//evil.example: stays on the host" "$a" \
	"Location: https://example.org:$PORT/evil.example/x"$'\n'
a=$(raw 'GET ///evil.example HTTP/1.1\r\nHost: example.org\r\n\r\n')
expect_match "///evil.example: stays on the host" "$a" \
	"Location: https://example.org:$PORT/evil.example"$'\n'
a=$(raw 'GET /%2e%2e/ HTTP/1.1\r\nHost: example.org\r\n\r\n')
expect_match "/%2e%2e/: 400 (above the root)" "$a" "^HTTP/1.1 400"
expect_nomatch "/%2e%2e/: no Location" "$a" "Location:"
a=$(raw 'GET /a/../b/./c HTTP/1.1\r\nHost: example.org\r\n\r\n')
expect_match "dot segments resolved" "$a" "Location: https://example.org:$PORT/b/c"$'\n'
h=$(H -H 'Host: example.org' "$(HURL '/a%20b')")
expect_eq "/a%20b re-encoded" "$(echo "$h" | loc)" "https://example.org:$PORT/a%20b"
a=$(raw 'GET /%5cevil.example HTTP/1.1\r\nHost: example.org\r\n\r\n')
expect_match "backslash encoded" "$a" "Location: https://example.org:$PORT/%5Cevil.example"$'\n'
a=$(raw 'GET /q?a=\xff"<> HTTP/1.1\r\nHost: example.org\r\n\r\n')
expect_match "query: invisible bytes encoded" "$a" "Location: https://example.org:$PORT/q\\?a=%FF\"<>"$'\n'
a=$(raw 'GET http://evil.example/x HTTP/1.1\r\nHost: example.org\r\n\r\n')
expect_nomatch "absolute-form target: no redirect to it" "$a" "Location: https://evil"

# --- Host: missing or invalid is 400
a=$(raw 'GET /x HTTP/1.0\r\n\r\n')
expect_match "no Host (HTTP/1.0): 400" "$a" "^HTTP/1.1 400"
for bad in 'user@example.org' 'evil.example/x' 'a b' 'exa%6dple.org' \
	'example.org:80:80' 'example.org:abc' '[::1' '[fe80::1%eth0]' \
	'[::1]x' 'exa..mple' '.example' '' \
	"$(printf 'a%.0s' $(seq 64)).example" "$(printf 'aaaaaaaaa.%.0s' $(seq 26))"; do
	a=$(raw "GET /x HTTP/1.1\\r\\nHost: $bad\\r\\n\\r\\n")
	expect_match "bad Host '$bad': 400" "$a" "^HTTP/1.1 400"
	expect_nomatch "bad Host '$bad': no Location" "$a" "Location:"
done

# --- ACME
C_acme() { curl -sS --max-time 10 "$@"; }
C_acme -o "$T/got" "$(HURL /.well-known/acme-challenge/tokABC_-9)"
check "token served byte-exact" cmp -s "$T/got" "$T/acme/tokABC_-9"
h=$(H "$(HURL /.well-known/acme-challenge/tokABC_-9)")
expect_eq "token: 200" "$(echo "$h" | code)" 200
expect_match "token: text/plain" "$h" "^Content-Type: text/plain"
expect_nomatch "token: no redirect" "$h" "^Location:"
h=$(H -I "$(HURL /.well-known/acme-challenge/tokABC_-9)")
expect_eq "token HEAD: 200" "$(echo "$h" | code)" 200
expect_match "token HEAD: length" "$h" "^Content-Length: 24"
for t in '/.well-known/acme-challenge/..%2f..%2fc.conf' \
	'/.well-known/acme-challenge/sub/x' \
	'/.well-known/acme-challenge/sub%2fx' \
	'/.well-known/acme-challenge/%74okABC_-9' \
	'/.well-known/acme-challenge/../acme-challenge/tokABC_-9' \
	'/.well-known/acme-challenge/sub' \
	'/.well-known/acme-challenge/' \
	'/.well-known/acme-challenge' \
	'/.well-known/acme-challenge/nosuch' \
	'/.well-known/acme-challenge/tok.ABC'; do
	a=$(raw "GET $t HTTP/1.1\\r\\nHost: example.org\\r\\n\\r\\n")
	expect_match "$t: 404" "$a" "^HTTP/1.1 404"
	expect_nomatch "$t: no Location" "$a" "Location:"
done
a=$(raw 'GET /.well-known/acme-challenge/escape HTTP/1.1\r\nHost: example.org\r\n\r\n')
expect_match "symlink out of acme-root: 403 or 404" "$a" "^HTTP/1.1 40[34]"
expect_nomatch "symlink out of acme-root: not served" "$a" "secret"
h=$(H -X POST "$(HURL /.well-known/acme-challenge/tokABC_-9)")
expect_eq "token POST: 405" "$(echo "$h" | code)" 405
h=$(H -H 'Host: example.org' "$(HURL /.well-known/security.txt)")
expect_eq "other /.well-known: redirected" "$(echo "$h" | loc)" \
	"https://example.org:$PORT/.well-known/security.txt"
a=$(raw 'GET /.well-known/acme-challenge/tokABC_-9 HTTP/1.0\r\n\r\n')
expect_match "token without Host: served" "$a" "tokABC_-9.thumbprint-xyz"
# nothing of the site in the clear
a=$(raw 'GET /hello.txt HTTP/1.1\r\nHost: example.org\r\n\r\n')
expect_nomatch "site files not served in the clear" "$a" "hello, world"
a=$(raw 'GET /.well-known/acme-challenge/nosuch HTTP/1.1\r\nHost: x\r\n\r\n')
expect_nomatch "the site's error pages not served in the clear" "$a" "site 404 page"
expect_match "the site's error pages on https" "$(C "$(URL /nosuch)")" "site 404 page"

# --- parse errors and limits: the same parser
a=$(raw 'GARBAGE\r\n\r\n')
expect_match "garbage: 400" "$a" "^HTTP/1.1 400"
a=$(raw "GET /$(head -c 9000 /dev/zero | tr '\0' a) HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
expect_match "long target: 414" "$a" "^HTTP/1.1 414"

# --- slow and silent clients time out (header-timeout = 2)
t0=$(date +%s)
a=$(python3 - "$HPORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
print(repr(s.recv(100)))
PY
)
t1=$(date +%s)
expect_eq "silent client: closed without an answer" "$a" "b''"
check "silent client: closed by header-timeout" test $((t1 - t0)) -ge 1 -a $((t1 - t0)) -le 6
a=$(python3 - "$HPORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
print(s.recv(100).split(b"\r\n")[0].decode())
PY
)
expect_eq "slow client: 408" "$a" "HTTP/1.1 408 Request Timeout"

# --- one answer per connection
a=$(raw 'GET /a HTTP/1.1\r\nHost: example.org\r\n\r\nGET /b HTTP/1.1\r\nHost: example.org\r\n\r\n')
expect_eq "pipelined: one answer, then close" "$(echo "$a" | grep -c '^HTTP/1.1')" 1

# --- the TLS port still works; access log; status page
expect_eq "TLS port serves" "$(C "$(URL /hello.txt)")" "hello, world"
expect_match "access log: protocol http" "$(cat "$T/access.log")" \
	'"GET /.well-known/acme-challenge/tokABC_-9 HTTP/1.1" 200 24 .* http - '
expect_match "access log: redirect logged" "$(cat "$T/access.log")" '"POST /form\?q=2 HTTP/1.1" 308 '
s=$(C "$(URL /status)")
expect_match "status: http_requests" "$s" "http_requests: [1-9]"
expect_match "status: http_redirects" "$s" "http_redirects: [1-9]"
expect_match "status: http_acme_served" "$s" "http_acme_served: [1-9]"
stop_cachetd

# --- https-port = 443: no port in the Location
WORKERS=1 write_conf "$T/d.conf" 'http-listen = {"127.0.0.1:0"}' 'https-port = 443'
start_cachetd "$T/d.conf" || exit 1
HPORT=$(sed -n 's,.*listening on http://127\.0\.0\.1:\([0-9]*\).*,\1,p' "$T/error.log" | tail -n 1)
h=$(H -H 'Host: www.example.org' "$(HURL '/x?y')")
expect_eq "https-port 443: no port" "$(echo "$h" | loc)" "https://www.example.org/x?y"
h=$(H -H 'Host: example.org' "$(HURL /.well-known/acme-challenge/tok)")
expect_eq "no acme-root: the challenge path redirects" "$(echo "$h" | loc)" \
	"https://example.org/.well-known/acme-challenge/tok"
stop_cachetd

# --- config errors
write_conf "$T/e.conf" 'acme-root = "/nonexistent"'
expect_match "acme-root without http-listen" "$("$CACHETD" -t -c "$T/e.conf" 2>&1)" \
	"e.conf:$(line_of "$T/e.conf" 'acme-root = "/nonexistent"'): acme-root needs http-listen"
write_conf "$T/e.conf" 'http-listen = {"127.0.0.1:0"}' 'acme-root = "/nonexistent"'
expect_match "acme-root missing folder" "$("$CACHETD" -t -c "$T/e.conf" 2>&1)" \
	"acme-root '/nonexistent': No such file"
write_conf "$T/e.conf" 'http-listen = {"nohost"}'
expect_match "http-listen bad address" "$("$CACHETD" -t -c "$T/e.conf" 2>&1)" \
	"http-listen: 'nohost' is not ADDR:PORT"
write_conf "$T/e.conf" 'https-port = 70000'
expect_match "https-port out of range" "$("$CACHETD" -t -c "$T/e.conf" 2>&1)" \
	"https-port: must be a port from 1 to 65535"
finish
