#!/bin/bash
# Per-path client certificates against a live cachetd, TLS 1.2
# (renegotiation) and TLS 1.3 (post-handshake authentication), with curl,
# openssl s_client and python's ssl: who gets in, who gets 403 and why,
# resumed sessions, keep-alive, pipelining, stalling clients, and the
# server-wide verify-client modes.
. "$top_srcdir/tests/lib.sh"
make_site "$T/site"
mkdir -p "$T/site/secure" "$T/site/public" "$T/site/admin" "$T/site/opt"
echo "alice's secret" > "$T/site/secure/index.html"
echo "public page" > "$T/site/public/index.html"
echo "bob's admin page" > "$T/site/admin/index.html"
echo "optional page" > "$T/site/opt/index.html"
chmod -R a+rX "$T/site"
PY="python3 $top_srcdir/tests/pyget.py"
AUTHCONF=(
	"client-ca = \"$CERTS/ca.crt\""
	"client-crl = \"$CERTS/crl.pem\""
	'handshake-timeout = 4'
	'location "/secure/" {' 'verify-client = require' 'allow-subject = {"CN=alice,O=cachet demo"}' '}'
	'location "/admin/" {' 'allow-subject = {"CN=bob,*"}' '}'
	'location "/opt/" {' 'verify-client = optional' '}'
	'location "/docs/index.html" {' 'verify-client = require' 'allow-subject = {"CN=alice,O=cachet demo"}' '}'
	'location "/status" {' 'status = true' 'allow-address = {"127.0.0.1"}' '}'
	'session-cache {' "store = \"gdbm:$T/sessions.db\"" '}'
)
WORKERS=2 write_conf "$T/c.conf" "${AUTHCONF[@]}"
start_cachetd "$T/c.conf" || exit 1

counter() { C "$(URL /status)" | sed -n "s/^$1: //p"; }
auths() { echo $(( $(counter renegotiations) + $(counter post_handshake_auth) )); }
cc() { # who [curl args]: --cert/--key for a name, or none
	local who=$1; shift
	if [ "$who" = none ]; then C "$@"; else C --cert "$CERTS/$who.crt" --key "$CERTS/$who.key" "$@"; fi
}

for v in 1.2 1.3; do
	V="--tlsv$v --tls-max $v"
	# shellcheck disable=SC2086
	{
	before=$(auths)
	expect_eq "TLS $v curl: /public/ without certificate" "$(C $V "$(URL /public/)")" "public page"
	expect_eq "TLS $v: /public/ asks for no certificate" "$(auths)" "$before"

	expect_eq "TLS $v curl: alice gets /secure/" "$(cc alice $V -w '%{http_code}' "$(URL /secure/)")" "alice's secret
200"
	for who in bob mallory revoked expired none; do
		expect_eq "TLS $v curl: $who gets 403" "$(cc $who $V -o /dev/null -w '%{http_code}' "$(URL /secure/)" 2>/dev/null)" 403
	done
	}
done
# --- the location is decided on the path the file is served from: no
# spelling of /secure/ reaches alice's page without alice's certificate
mkdir -p "$T/site/sub"
for sp in '/%73ecure/' '//secure/' '/./secure/' '/sub/../secure/' \
	'/secure%2findex.html' '/secure%2Findex.html' '/secur%65/index.html' \
	'/SECURE/../secure/' '///secure///index.html' '/public/../secure/' \
	'/%2e/secure/' '/secure/./index.html' '/secure//' '/%2fsecure/' \
	'/sub/%2e%2e/secure/index.html' '/secure/x/../index.html'; do
	for who in none bob; do
		for v in 1.2 1.3; do
			out=$(cc $who --tlsv$v --tls-max $v --path-as-is -w ' status=%{http_code}' "$(URL "$sp")" 2>/dev/null)
			if printf '%s' "$out" | grep -q "alice's secret" || [ "${out##*status=}" != 403 ]; then
				fail "TLS $v $who: $sp gave ${out##*status=}"
			else
				ok "TLS $v $who: $sp refused with 403"
			fi
		done
	done
	expect_match "alice reaches $sp" "$(cc alice --path-as-is "$(URL "$sp")")" "alice's secret"
done
# a location on the index file holds for the folder URL too (the index
# path is routed again)
mkdir -p "$T/site/docs"; echo "docs index" > "$T/site/docs/index.html"; chmod -R a+rX "$T/site/docs"
for sp in /docs/ /docs/index.html '/docs/?x' '/docs//' /%64ocs/; do
	expect_eq "index location: $sp without certificate" "$(C --path-as-is -o /dev/null -w '%{http_code}' "$(URL "$sp")")" 403
	expect_eq "index location: $sp for alice" "$(cc alice --path-as-is "$(URL "$sp")")" "docs index"
done
# the path in the error log is escaped: no forged lines
C -g --path-as-is -o /dev/null "$(URL '/secure/%0a2026-01-01T00:00:00Z%20[error]%201:%20FORGED%1b[31m')"
expect_nomatch "no forged error-log line" "$(cat "$T/error.log")" "^2026-01-01T00:00:00Z"
expect_match "the path is logged escaped" "$(cat "$T/error.log")" "403 for /secure/%0A2026-01-01T00%3A00%3A00Z%20%5Berror%5D%201%3A%20FORGED%1B%5B31m"

# the status page too, whatever the spelling (allowed from 127.0.0.1 only:
# served here, and its location is found through every spelling)
for sp in '/%73tatus' '//status' '/./status' '/x/../status'; do
	expect_match "status page as $sp" "$(C --path-as-is "$(URL "$sp")")" "^renegotiations: "
done

log=$(cat "$T/error.log")
expect_match "log: bob not on the list" "$log" "403 for /secure/: not on the list \(CN=bob,O=cachet demo\)"
expect_match "log: mallory untrusted" "$log" "403 for /secure/: untrusted \(CN=mallory"
expect_match "log: revoked" "$log" "403 for /secure/: revoked \(CN=revoked"
expect_match "log: expired" "$log" "403 for /secure/: expired \(CN=expired"
expect_match "log: no certificate" "$log" "403 for /secure/: no certificate"
expect_match "log: renegotiation counted" "$log" "renegotiation for /secure/"
expect_match "log: post-handshake authentication counted" "$log" "post-handshake authentication for /secure/"
expect_match "access log: alice's subject and ok" "$(cat "$T/access.log")" "\"GET /secure/ HTTP/1.1\" 200 .* \"CN=alice,O=cachet demo\" ok [r.] [0-9]+$"
expect_match "access log: bob not-listed" "$(cat "$T/access.log")" "\"GET /secure/ HTTP/1.1\" 403 .* \"CN=bob,O=cachet demo\" not-listed [r.] [0-9]+$"

# --- openssl s_client, typed requests
req='GET /secure/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'
sc() { # tls-flag who [more s_client args]
	local v=$1 who=$2; shift 2
	local a=()
	[ "$who" != none ] && a=(-cert "$CERTS/$who.crt" -key "$CERTS/$who.key")
	printf "$req" | sclient "$v" "${a[@]}" "$@"
}
expect_match "s_client TLS 1.2: alice 200" "$(sc -tls1_2 alice)" "^HTTP/1.1 200"
expect_match "s_client TLS 1.2: bob 403" "$(sc -tls1_2 bob)" "^HTTP/1.1 403"
expect_match "s_client TLS 1.2: revoked 403" "$(sc -tls1_2 revoked)" "^HTTP/1.1 403"
expect_match "s_client TLS 1.2: no certificate 403" "$(sc -tls1_2 none)" "^HTTP/1.1 403"
expect_match "s_client TLS 1.3 -enable_pha: alice 200" "$(sc -tls1_3 alice -enable_pha)" "^HTTP/1.1 200"
expect_match "s_client TLS 1.3 -enable_pha: bob 403" "$(sc -tls1_3 bob -enable_pha)" "^HTTP/1.1 403"
expect_match "s_client TLS 1.3 -enable_pha: mallory 403" "$(sc -tls1_3 mallory -enable_pha)" "^HTTP/1.1 403"
out=$(sc -tls1_3 alice)
expect_match "s_client TLS 1.3 without PHA: 403" "$out" "^HTTP/1.1 403"
expect_match "s_client TLS 1.3 without PHA: says why" "$out" "post-handshake authentication"
expect_match "log: client without PHA" "$(cat "$T/error.log")" "403 for /secure/: client did not offer TLS 1.3 post-handshake authentication, nor TLS 1.2"
# A client that offers TLS 1.2 and 1.3 but no post-handshake auth (as every
# browser) is held to TLS 1.2, so a renegotiation can ask it; s_client
# would abort on a downgrade sentinel, so getting in proves there is none.
logged() { wait_for 5 grep -qE "$1" "$T/access.log"; }
out=$(printf 'GET /secure/?nopha HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' | sclient -cert "$CERTS/alice.crt" -key "$CERTS/alice.key")
expect_match "no PHA, TLS 1.2 offered: alice 200 through renegotiation" "$out" "^HTTP/1.1 200"
check "no PHA: held to TLS 1.2" logged "\"GET /secure/\\?nopha HTTP/1.1\" 200 .* TLSv1.2 .*\"CN=alice,O=cachet demo\" ok"
expect_match "no PHA, no certificate: 403" "$(sc -no_ssl3 none)" "^HTTP/1.1 403"
out=$(printf 'GET /public/?nopha HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' | sclient)
expect_match "no PHA, public page: served" "$out" "public page"
check "no PHA, public page: over TLS 1.2 too (the trade-off)" logged "\"GET /public/\\?nopha HTTP/1.1\" 200 .* TLSv1.2 "
C --cert "$CERTS/alice.crt" --key "$CERTS/alice.key" -o /dev/null "$(URL '/secure/?curlpha')"
check "curl offers PHA: stays on TLS 1.3" logged "\"GET /secure/\\?curlpha HTTP/1.1\" 200 .* TLSv1.3 .*\"CN=alice,O=cachet demo\" ok"

# --- python's ssl
A=(--ca "$CERTS/ca.crt")
ALICE=(--cert "$CERTS/alice.crt" --key "$CERTS/alice.key")
BOB=(--cert "$CERTS/bob.crt" --key "$CERTS/bob.key")
expect_match "python TLS 1.2: alice 200" "$($PY "$PORT" /secure/ --tls 1.2 "${A[@]}" "${ALICE[@]}")" "200 OK"
expect_match "python TLS 1.2: bob 403" "$($PY "$PORT" /secure/ --tls 1.2 "${A[@]}" "${BOB[@]}")" "403 Forbidden"
expect_match "python TLS 1.2: none 403" "$($PY "$PORT" /secure/ --tls 1.2 "${A[@]}")" "403 Forbidden"
expect_match "python TLS 1.3 PHA: alice 200" "$($PY "$PORT" /secure/ --tls 1.3 "${A[@]}" "${ALICE[@]}")" "200 OK"
expect_match "python TLS 1.3 PHA: bob 403" "$($PY "$PORT" /secure/ --tls 1.3 "${A[@]}" "${BOB[@]}")" "403 Forbidden"
expect_match "python TLS 1.3 PHA: revoked 403" "$($PY "$PORT" /secure/ --tls 1.3 "${A[@]}" --cert "$CERTS/revoked.crt" --key "$CERTS/revoked.key")" "403 Forbidden"
out=$($PY "$PORT" /secure/ --tls 1.3 --no-pha "${A[@]}" "${ALICE[@]}")
# pyget prints the status line, then the body: both halves must be there
expect_match "python TLS 1.3 without PHA: 403" "$(printf '%s\n' "$out" | head -n 1)" "^HTTP/1\.1 403 Forbidden$"
expect_match "python TLS 1.3 without PHA: the reason in the body" "$(printf '%s\n' "$out" | tail -n +2)" "post-handshake authentication"
out=$($PY "$PORT" '/secure/?pynopha' --tls any --no-pha "${A[@]}" "${ALICE[@]}" 2>&1)
expect_match "python without PHA, TLS 1.2 and 1.3 offered: alice 200" "$out" "200 OK"
check "python without PHA: over TLS 1.2" logged "\"GET /secure/\\?pynopha HTTP/1.1\" 200 .* TLSv1.2 "

# --- resumed sessions
r0=$(auths)
printf "$req" | sclient -tls1_2 -cert "$CERTS/alice.crt" -key "$CERTS/alice.key" -sess_out "$T/alice12" >/dev/null
printf "$req" | sclient -tls1_3 -enable_pha -cert "$CERTS/alice.crt" -key "$CERTS/alice.key" -sess_out "$T/alice13" >/dev/null
r1=$(auths)
expect_eq "alice's first visits authenticated twice" "$((r1 - r0))" 2
for v in 1_2 1_3; do
	sf=$T/alice${v/_/}
	out=$(printf "$req" | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$CERTS/ca.crt" -tls$v -enable_pha -sess_in "$sf" -ign_eof 2>/dev/null)
	expect_match "TLS ${v/_/.}: alice's resumed session: reused" "$out" "^Reused"
	expect_match "TLS ${v/_/.}: alice's resumed session: 200 without a certificate sent" "$out" "^HTTP/1.1 200"
done
expect_eq "resumed authenticated sessions: no new authentication" "$(auths)" "$r1"
# a session from a /public visit must authenticate
preq='GET /public/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'
for v in 1_2 1_3; do
	printf "$preq" | sclient -tls$v -sess_out "$T/pub$v" >/dev/null
	r2=$(auths)
	out=$(printf "$req" | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$CERTS/ca.crt" -tls$v -enable_pha -sess_in "$T/pub$v" -ign_eof 2>/dev/null)
	expect_match "TLS ${v/_/.}: /public session resumed" "$out" "^Reused"
	expect_match "TLS ${v/_/.}: /public session without a certificate: 403" "$out" "^HTTP/1.1 403"
	out=$(printf "$req" | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$CERTS/ca.crt" -tls$v -enable_pha -sess_in "$T/pub$v" -cert "$CERTS/alice.crt" -key "$CERTS/alice.key" -ign_eof 2>/dev/null)
	expect_match "TLS ${v/_/.}: /public session then alice: 200" "$out" "^HTTP/1.1 200"
	expect_eq "TLS ${v/_/.}: /public session had to authenticate (twice: 403, then 200)" "$(( $(auths) - r2 ))" 2
done

# --- keep-alive: two requests to /secure/, one authentication
for v in 1.2 1.3; do
	r=$(auths)
	out=$(cc alice --tlsv$v --tls-max $v "$(URL /secure/)" "$(URL /secure/index.html)")
	expect_eq "TLS $v: two /secure/ requests on one connection" "$out" "alice's secret
alice's secret"
	expect_eq "TLS $v: ... and one authentication" "$(( $(auths) - r ))" 1
	# another location on the same connection: asked again
	r=$(auths)
	out=$(cc alice --tlsv$v --tls-max $v -w ' %{http_code}\n' "$(URL /secure/)" "$(URL /admin/)")
	expect_match "TLS $v: alice then /admin/ (bob only): 403" "$out" "403$"
	expect_eq "TLS $v: ... asked again for /admin/" "$(( $(auths) - r ))" 2
	expect_eq "TLS $v: bob's wildcard entry gets /admin/" "$(cc bob --tlsv$v --tls-max $v "$(URL /admin/)")" "bob's admin page"
done

# --- optional location: asked, served with or without a certificate
expect_eq "optional location without certificate" "$(C "$(URL /opt/)")" "optional page"
expect_eq "optional location with alice" "$(cc alice "$(URL /opt/)")" "optional page"
expect_eq "optional location with mallory (untrusted): 403" "$(cc mallory -o /dev/null -w '%{http_code}' "$(URL /opt/)")" 403

# --- pipelined requests behind the one that triggers renegotiation
# (-quiet implies -ign_eof: s_client reads until the server closes)
out=$(printf 'GET /secure/ HTTP/1.1\r\nHost: x\r\n\r\nGET /public/ HTTP/1.1\r\nHost: x\r\n\r\n' | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$CERTS/ca.crt" -tls1_2 -cert "$CERTS/alice.crt" -key "$CERTS/alice.key" -quiet 2>/dev/null)
expect_match "pipelined: the first request is answered under alice" "$out" "alice's secret"
expect_nomatch "pipelined: the request read before renegotiation is not served" "$out" "public page"
expect_match "pipelined: connection closed after the response" "$out" "Connection: close"

# --- a client that never answers the certificate request: dropped after
# handshake-timeout (4 s, they stall 5 s); meanwhile the workers serve everyone else.
# (pyget prints "CLOSED ..." when the server closed without an answer.)
nostall() { ! grep -q 'no answer to the client certificate request' "$T/error.log"; }
asks() { grep -Ec '(renegotiation|post-handshake authentication) for /secure/' "$T/error.log"; }
asked_both() { [ "$(asks)" -ge $((a0 + 2)) ]; }
a0=$(asks)
$PY "$PORT" /secure/ --tls 1.2 "${A[@]}" --stall 5 > "$T/stall12" &
S1=$!
$PY "$PORT" /secure/ --tls 1.3 "${A[@]}" "${ALICE[@]}" --stall 5 > "$T/stall13" &
S2=$!
PIDS="$PIDS $S1 $S2"
check "both stallers were asked for a certificate" wait_for 5 asked_both
check "no staller dropped before the test request" nostall
out=$(C -w ' %{http_code}' "$(URL /public/)")
# served before either staller was dropped: a worker waiting on a staller
# would answer only after handshake-timeout closed it
stalled_then=no; nostall && stalled_then=yes
expect_eq "others are served while two clients stall" "$out" "public page
 200"
expect_eq "... before the stallers' handshake-timeout ran out" "$stalled_then" yes
wait $S1 $S2
expect_match "TLS 1.2 staller dropped" "$(cat "$T/stall12")" "^CLOSED"
expect_match "TLS 1.3 staller dropped" "$(cat "$T/stall13")" "^CLOSED"
expect_eq "stall log: two clients timed out" "$(grep -c 'no answer to the client certificate request' "$T/error.log")" 2
expect_match "stalled certificate requests are logged: 408" "$(cat "$T/access.log")" "\"GET /secure/ HTTP/1.1\" 408 "
# a client that drops the connection instead of answering the certificate
# request (Chromium does, to show its picker) leaves a 499 line
python3 - "$PORT" "$CERTS/ca.crt" <<'PY'
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(sys.argv[2])
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5), server_hostname="localhost")
s.sendall(b"GET /secure/?dropped HTTP/1.1\r\nHost: localhost\r\n\r\n")
s.close()
PY
check "a dropped certificate exchange is logged as 499" wait_for 5 grep -q 'GET /secure/?dropped HTTP/1.1" 499 ' "$T/access.log"
stop_cachetd

# --- server-wide verify-client
write_conf "$T/req.conf" "client-ca = \"$CERTS/ca.crt\"" "client-crl = \"$CERTS/crl.pem\"" 'verify-client = require'
start_cachetd "$T/req.conf" || exit 1
for v in 1.2 1.3; do
	C --tlsv$v --tls-max $v -o /dev/null "$(URL /hello.txt)" 2>/dev/null; rc=$?
	check "require, TLS $v: no certificate refused at the handshake (curl $rc)" test "$rc" -ne 0
	expect_eq "require, TLS $v: alice gets in" "$(cc alice --tlsv$v --tls-max $v "$(URL /hello.txt)")" "hello, world"
	cc revoked --tlsv$v --tls-max $v -o /dev/null "$(URL /hello.txt)" 2>/dev/null; rc=$?
	check "require, TLS $v: revoked refused at the handshake (curl $rc)" test "$rc" -ne 0
done
stop_cachetd
write_conf "$T/opt.conf" "client-ca = \"$CERTS/ca.crt\"" "client-crl = \"$CERTS/crl.pem\"" 'verify-client = optional'
start_cachetd "$T/opt.conf" || exit 1
: > "$T/access.log"
expect_eq "optional: no certificate served" "$(C "$(URL /hello.txt)")" "hello, world"
expect_eq "optional: alice served" "$(cc alice "$(URL /hello.txt)")" "hello, world"
logged_both() { [ "$(grep -c 'GET /hello.txt' "$T/access.log")" -ge 2 ]; }
check "optional: both requests logged" wait_for 5 logged_both
expect_match "optional: subject recorded" "$(cat "$T/access.log")" "\"CN=alice,O=cachet demo\" ok"
expect_match "optional: no subject recorded as -" "$(cat "$T/access.log")" "\"-\" - [r.] [0-9]+$"
# A certificate the handshake found fault with is served (optional) and
# logged with what is wrong with it: only a chain the handshake verified
# without an error is taken as verified (not checked a second time).
for who in revoked mallory expired; do
	for v in 1.2 1.3; do
		: > "$T/access.log"
		expect_eq "optional, TLS $v: $who served" "$(cc $who --tlsv$v --tls-max $v "$(URL /hello.txt)")" "hello, world"
		want=$(case $who in revoked) echo revoked ;; mallory) echo untrusted ;; expired) echo expired ;; esac)
		check "optional, TLS $v: $who logged as $want" wait_for 5 logged "\"CN=$who[^\"]*\" $want "
	done
done
stop_cachetd
# --- tls13-without-pha = refuse: clients without PHA keep TLS 1.3 and get
# a 403 that says what can be done
WORKERS=1 write_conf "$T/refuse.conf" "client-ca = \"$CERTS/ca.crt\"" 'tls13-without-pha = refuse' \
	'location "/secure/" {' 'verify-client = require' '}'
start_cachetd "$T/refuse.conf" || exit 1
out=$(printf 'GET /secure/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' | sclient -cert "$CERTS/alice.crt" -key "$CERTS/alice.key")
expect_match "refuse: 403" "$out" "^HTTP/1.1 403"
expect_match "refuse: the page says what the administrator can do" "$out" "tls13-without-pha = tls1.2"
check "refuse: stayed on TLS 1.3" logged "\" 403 .* TLSv1.3 "
expect_match "refuse: the log says why" "$(cat "$T/error.log")" "tls13-without-pha = refuse; tls1.2 would let browsers in"
expect_match "refuse: PHA clients still get in" "$(cc alice "$(URL /secure/)")" "alice's secret"
stop_cachetd
write_conf "$T/badpha.conf" 'tls13-without-pha = sometimes'
expect_match "bad tls13-without-pha: file, line, choices" "$("$CACHETD" -t -c "$T/badpha.conf" 2>&1)" "badpha.conf:[0-9]+: .*tls13-without-pha: 'sometimes' is not tls1.2 or refuse"
finish
