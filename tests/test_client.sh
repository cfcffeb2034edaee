#!/bin/bash
# The cachet client: `get` against cachetd (bodies, headers, resumption
# with -r and session files, certificate failures, protected paths) and
# `shell` against openssl s_server (bulk both ways, a renegotiation in the
# middle) and under a pseudo-terminal against cachetd.
. "$top_srcdir/tests/lib.sh"
make_site "$T/site"
mkdir -p "$T/site/secure"; echo "alice's secret" > "$T/site/secure/index.html"; chmod -R a+rX "$T/site"
CA=(--cacert "$CERTS/ca.crt")
ALICE=(--cert "$CERTS/alice.crt" --key "$CERTS/alice.key")
WORKERS=2 write_conf "$T/c.conf" "client-ca = \"$CERTS/ca.crt\"" \
	'location "/secure/" {' 'allow-subject = {"CN=alice,O=cachet demo"}' '}' \
	'session-cache {' "store = \"gdbm:$T/s.db\"" '}'
start_cachetd "$T/c.conf" || exit 1
G() { "$CACHET" get "${CA[@]}" "$@"; }

expect_eq "get: body" "$(G "$(URL /hello.txt)")" "hello, world"
out=$(G -i "$(URL /hello.txt)")
expect_match "get -i: status line" "$out" "^HTTP/1.1 200 OK"
expect_match "get -i: headers" "$out" "Content-Length: 13"
expect_match "get -i: and body" "$out" "^hello, world"
out=$(G -I -i "$(URL /hello.txt)")
expect_match "get -I: HEAD answered" "$out" "^HTTP/1.1 200 OK"
expect_nomatch "get -I: no body" "$out" "hello, world"
G -o "$T/big" "$(URL /big.bin)"
check "get -o: 300 kB file intact" cmp -s "$T/big" "$T/site/big.bin"
G "$(URL /missing)" >/dev/null 2>&1; rc=$?
expect_eq "get: 404 without --fail exits 0" "$rc" 0
G --fail "$(URL /missing)" >/dev/null 2>&1; rc=$?
expect_eq "get --fail: 404 exits 6" "$rc" 6

for v in 1.2 1.3; do
	out=$(G --tls$v -r 5 "$(URL /hello.txt)" 2>&1 >/dev/null)
	expect_eq "get -r 5 TLS $v: 5 resumed" "$(printf '%s\n' "$out" | grep -c "^connection [2-6]: TLSv$v .* resumed$")" 5
	expect_match "get -r 5 TLS $v: first is full" "$out" "^connection 1: TLSv$v [A-Z0-9_-]+ full"
done

# session files, across processes and servers
G --sess-out "$T/sess" "$(URL /hello.txt)" >/dev/null 2>&1
out=$(G --sess-in "$T/sess" "$(URL /hello.txt)" 2>&1 >/dev/null)
expect_match "--sess-out then --sess-in in another process: resumed" "$out" "^connection 1: .* resumed$"
check "session file is private" test "$(stat -c %a "$T/sess")" = 600
PORT1=$PORT; MASTER1=$MASTER
mkdir -p "$T/b"; cp "$T/c.conf" "$T/b.conf"
sed -i "s|$T/s.db|$T/b/s.db|; s|$T/cachetd.pid|$T/b/pid|; s|$T/access.log|$T/b/access.log|; s|$T/error.log|$T/b/error.log|" "$T/b.conf"
"$CACHETD" -c "$T/b.conf" 2>>"$T/stderr.log" & MASTER2=$!; PIDS="$PIDS $MASTER2"
port2_up() { # server 2 logged its port and a worker answers there
	PORT2=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/b/error.log" 2>/dev/null)
	[ -n "$PORT2" ] && PORT=$PORT2 answers
}
wait_for 5 port2_up
G --sess-out "$T/two" "https://localhost:$PORT1/hello.txt" >/dev/null 2>&1
G --sess-out "$T/two" "https://localhost:$PORT2/hello.txt" >/dev/null 2>&1
expect_eq "session file holds two servers" "$(grep -c "^localhost:" "$T/two")" 2
expect_match "server 1 resumes from the shared file" "$(G --sess-in "$T/two" "https://localhost:$PORT1/hello.txt" 2>&1 >/dev/null)" "resumed$"
expect_match "server 2 resumes from the shared file" "$(G --sess-in "$T/two" "https://localhost:$PORT2/hello.txt" 2>&1 >/dev/null)" "resumed$"
# a session of server 2 offered to server 1: full handshake, no error
sed "s/^localhost:$PORT2$/localhost:$PORT1/" "$T/two" | awk -v k="localhost:$PORT1" 'BEGIN{n=0} $0==k{n++} n==2||$0!=k{print}' > "$T/foreign"
out=$(G --sess-in "$T/foreign" "https://localhost:$PORT1/hello.txt" 2>&1); rc=$?
expect_eq "a session from another server: still works" "$rc" 0
expect_match "a session from another server: full handshake" "$out" "connection 1: .* full"
kill -TERM "$MASTER2"
printf 'localhost:%s\n-----BEGIN SSL SESSION PARAMETERS-----\nnot base64 at all\n-----END SSL SESSION PARAMETERS-----\ngarbage line\n' "$PORT1" > "$T/damaged"
out=$(G --sess-in "$T/damaged" "$(URL /hello.txt)" 2>&1); rc=$?
expect_eq "a damaged session file is ignored" "$rc" 0
expect_match "... and the fetch works" "$out" "hello, world"
G --sess-in "$T/nonexistent" "$(URL /hello.txt)" >/dev/null 2>&1; rc=$?
expect_eq "a missing session file is ignored" "$rc" 0

# certificate failures and their exit codes
"$CACHET" get --cacert "$CERTS/other-ca.crt" "$(URL /hello.txt)" >/dev/null 2>"$T/e1"; rc=$?
expect_eq "wrong --cacert: exit 5" "$rc" 5
expect_match "wrong --cacert: says why" "$(cat "$T/e1")" "server certificate: unable to get local issuer"
G --servername not-this-host.example "https://127.0.0.1:$PORT/hello.txt" >/dev/null 2>"$T/e2"; rc=$?
expect_eq "name mismatch: exit 5" "$rc" 5
expect_match "name mismatch: says so" "$(cat "$T/e2")" "hostname mismatch"
expect_eq "-k skips the check" "$("$CACHET" get -k --servername not-this-host.example "https://127.0.0.1:$PORT/hello.txt")" "hello, world"
"$CACHET" get "${CA[@]}" "https://127.0.0.1:1/" >/dev/null 2>&1; rc=$?
expect_eq "connection refused: exit 3" "$rc" 3
"$CACHET" get "${CA[@]}" "http://x/" >/dev/null 2>&1; rc=$?
expect_eq "not an https URL: usage, exit 2" "$rc" 2
"$CACHET" get --bogus >/dev/null 2>&1; rc=$?
expect_eq "unknown option: exit 2" "$rc" 2
for r in 5x "" -1 100001 " 3"; do
	"$CACHET" get "${CA[@]}" -r "$r" "$(URL /hello.txt)" >"$T/r.out" 2>"$T/r.err"; rc=$?
	if [ "$rc" = 2 ] && [ ! -s "$T/r.out" ] && grep -q -- "^cachet get: -r/--reconnect: '$r' is not" "$T/r.err"; then
		ok "get -r '$r': refused, naming the option, nothing fetched"
	else fail "get -r '$r': exit $rc, stderr: $(head -c 300 "$T/r.err")"; fi
done
G "https://::1:$PORT/hello.txt" >/dev/null 2>&1; rc=$?
expect_eq "an IPv6 literal without brackets: usage, exit 2" "$rc" 2
G "https://localhost:65536/" >/dev/null 2>&1; rc=$?
expect_eq "port 65536: usage, exit 2" "$rc" 2
expect_match "get --help lists the common options" "$("$CACHET" get --help)" "--ciphersuites"

# protected path with alice
for v in 1.2 1.3; do
	out=$(G -v --tls$v "${ALICE[@]}" "$(URL /secure/)" 2>"$T/v$v")
	expect_eq "get TLS $v: alice's certificate gets /secure/" "$out" "alice's secret"
done
expect_match "get -v TLS 1.2: renegotiation seen" "$(cat "$T/v1.2")" "renegotiated"
expect_match "get -v TLS 1.3: post-handshake auth seen" "$(cat "$T/v1.3")" "post-handshake auth"
expect_match "get -v: summary" "$(cat "$T/v1.3")" "server certificate: CN=localhost,O=cachet demo"

# premature close: a server that does not send close_notify
python3 - "$T/pc.port" "$CERTS" <<'PY' &
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2] + "/server-rsa.crt", sys.argv[2] + "/server-rsa.key")
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1)
open(sys.argv[1], "w").write(str(ls.getsockname()[1]))
ls.settimeout(10)
c, _ = ls.accept()
s = ctx.wrap_socket(c, server_side=True)
s.recv(4096)
s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial body")
s.shutdown(socket.SHUT_RDWR); c.close()
PY
PC=$!; PIDS="$PIDS $PC"
wait_for 5 test -s "$T/pc.port"
out=$(G "https://localhost:$(cat "$T/pc.port")/" 2>"$T/e3"); rc=$?
expect_eq "premature close: exit 7" "$rc" 7
expect_match "premature close: said" "$(cat "$T/e3")" "premature close"
expect_eq "premature close: what came is printed" "$out" "partial body"
wait $PC 2>/dev/null

# --- the Host header a server sees, from get and from bench: the port
# (not 443 here) and IPv6 literals in brackets
python3 - "$T/hosts" "$T/hs.port" "$CERTS" <<'PY' &
import socket, ssl, sys
out, portfile, certs = sys.argv[1:4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(certs + "/server-rsa.crt", certs + "/server-rsa.key")
ls = socket.socket(socket.AF_INET6); ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
ls.bind(("::", 0)); ls.listen(8)
open(portfile, "w").write(str(ls.getsockname()[1]))
ls.settimeout(20)
for _ in range(4):
    c, _ = ls.accept(); c.settimeout(5)
    s = ctx.wrap_socket(c, server_side=True)
    data = b""
    while b"\r\n\r\n" not in data:
        d = s.recv(4096)
        if not d: break
        data += d
    host = [l for l in data.split(b"\r\n") if l.lower().startswith(b"host:")]
    open(out, "ab").write((host[0] if host else b"(none)") + b"\n")
    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    try: s.unwrap()
    except Exception: pass
    c.close()
PY
HS=$!; PIDS="$PIDS $HS"
wait_for 5 test -s "$T/hs.port"
P=$(cat "$T/hs.port")
G "https://[::1]:$P/" >/dev/null 2>&1
G "https://127.0.0.1:$P/" >/dev/null 2>&1
"$CACHET" bench "${CA[@]}" --warmup 0 -c 1 -n 1 --mode full "https://[::1]:$P/" >/dev/null 2>&1
"$CACHET" bench "${CA[@]}" --warmup 0 -c 1 -n 1 --mode full "https://localhost:$P/" >/dev/null 2>&1
wait $HS 2>/dev/null
expect_eq "Host: get to [::1]:$P" "$(sed -n 1p "$T/hosts")" "Host: [::1]:$P"
expect_eq "Host: get to 127.0.0.1:$P" "$(sed -n 2p "$T/hosts")" "Host: 127.0.0.1:$P"
expect_eq "Host: bench to [::1]:$P" "$(sed -n 3p "$T/hosts")" "Host: [::1]:$P"
expect_eq "Host: bench to localhost:$P" "$(sed -n 4p "$T/hosts")" "Host: localhost:$P"

# --- shell against openssl s_server: 8 MiB down, 1 MiB up, at once.
# The client's input ends once it holds the 8 MiB: it then sends
# close_notify and s_server closes.  s_server's own input ends once both
# sides hold every byte (at most 25 s), so it never cuts the transfer short.
size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }
has_bytes() { [ "$(size_of "$1")" -ge "$2" ]; } # file bytes
listening() { ss -ltn | grep -q ":$1 "; }        # port
bulk_done() { has_bytes "$T/cli.out" 8388608 && has_bytes "$T/srv.out" 1048576; }
SS=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
head -c 8388608 /dev/urandom > "$T/down"
head -c 1048576 /dev/urandom > "$T/up"
rm -f "$T/cli.out" "$T/srv.in"; mkfifo "$T/srv.in"
timeout 30 openssl s_server -quiet -accept "127.0.0.1:$SS" -naccept 1 \
	-cert "$CERTS/server-rsa.crt" -key "$CERTS/server-rsa.key" < "$T/srv.in" > "$T/srv.out" 2>/dev/null &
SRV=$!; PIDS="$PIDS $SRV"
(cat "$T/down"; wait_for 25 bulk_done) > "$T/srv.in" &
FEED=$!; PIDS="$PIDS $FEED"
wait_for 5 listening "$SS"
(cat "$T/up"; wait_for 20 has_bytes "$T/cli.out" 8388608) |
	timeout 30 "$CACHET" shell "${CA[@]}" "localhost:$SS" > "$T/cli.out"; rc=$?
expect_eq "shell: exits 0 when the server closes" "$rc" 0
check "shell: 8 MiB from the server intact" cmp -s "$T/down" "$T/cli.out"
wait $SRV $FEED 2>/dev/null
check "shell: 1 MiB to the server intact" cmp -s "$T/up" "$T/srv.out"

# --- a renegotiation asked by s_server (R on its stdin) mid-stream
SS=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -c 'import sys; sys.stdout.write(("0123456789" * 6553 + "\n") * 64)' > "$T/d1"    # digits: no s_server command
cp "$T/d1" "$T/d2"
python3 -c 'import sys; sys.stdout.write("".join("upload line %06d\n" % i for i in range(40000)))' > "$T/u2"
want=$(( $(stat -c %s "$T/d1") * 2 ))
upload_twice() { # s_server's stdout holds the upload twice, its notes aside
	python3 - "$T/srv2.out" "$T/u2" <<'PY'
import re, sys
got = open(sys.argv[1], "rb").read()
up = open(sys.argv[2], "rb").read()
# s_server writes its own notes into the same stdout, even mid-line
got = re.sub(rb"(SSL_do_handshake -> -?[0-9]+|(Read|read|write) [RW]? ?BLOCK)\n", b"", got)
sys.exit(0 if got.count(up) == 2 else 1)
PY
}
reneg_done() {
	has_bytes "$T/cli2.out" "$want" &&
	has_bytes "$T/srv2.out" $(( 2 * $(size_of "$T/u2") )) && upload_twice
}
rm -f "$T/cli2.out" "$T/srv2.out" "$T/srv2.in"; mkfifo "$T/srv2.in"
timeout 40 openssl s_server -tls1_2 -accept "127.0.0.1:$SS" -naccept 1 \
	-cert "$CERTS/server-rsa.crt" -key "$CERTS/server-rsa.key" < "$T/srv2.in" > "$T/srv2.out" 2>&1 &
SRV=$!; PIDS="$PIDS $SRV"
# The two sleeps pace the feed on purpose: R (renegotiate) comes after
# d1 is on its way and before d2.  Then the feed ends (and s_server
# closes) once both sides have every byte, or after 30 s.
( cat "$T/d1"; sleep 1; printf 'R\n'; sleep 1; cat "$T/d2"; wait_for 30 reneg_done ) > "$T/srv2.in" &
FEED=$!; PIDS="$PIDS $FEED"
wait_for 5 listening "$SS"
# the sleep sends the second copy of the upload around the renegotiation
(cat "$T/u2"; sleep 1; cat "$T/u2"; wait_for 30 has_bytes "$T/cli2.out" "$want") |
	timeout 40 "$CACHET" shell -v "${CA[@]}" "localhost:$SS" > "$T/cli2.out" 2>"$T/shell2.err"; rc=$?
wait $SRV $FEED 2>/dev/null
expect_eq "renegotiation: shell exits 0" "$rc" 0
check "renegotiation: every byte from the server" cmp -s "$T/cli2.out" <(cat "$T/d1" "$T/d2")
expect_match "renegotiation: two handshakes finished" "$(grep -a -v -e '^upload' -e '^[0-9]' "$T/srv2.out")" " 2 server accepts that finished"
check "renegotiation: every byte to the server" upload_twice

# --- under a pseudo-terminal, typing a request to cachetd.  The sleeps
# pace the typing on purpose: the request comes once the shell is up on
# the terminal, and the terminal stays open while the answer comes back.
out=$( (sleep 1; printf 'GET /hello.txt HTTP/1.0\n\n'; sleep 3) | timeout 15 script -qfec "$CACHET shell --crlf --cacert $CERTS/ca.crt localhost:$PORT" /dev/null 2>&1)
expect_match "shell on a terminal: typed request answered" "$out" "hello, world"
expect_match "shell on a terminal: status line" "$out" "HTTP/1.1 200 OK"
out=$(printf 'GET /hello.txt HTTP/1.0\r\n\r\n' | timeout 15 "$CACHET" shell "${CA[@]}" "localhost:$PORT"); rc=$?
expect_match "shell on a pipe: answered" "$out" "hello, world"
expect_eq "shell on a pipe: exit 0" "$rc" 0
stop_cachetd
finish
