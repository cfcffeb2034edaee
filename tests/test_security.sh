#!/bin/bash
# What a hostile or careless client can try: leaving the root, bytes that
# are not TLS, silent connections, slow requests.  Each must cost the
# client, never the worker or the other clients.
. "$top_srcdir/tests/lib.sh"
make_site "$T/site"
echo "TOPSECRET" > "$T/secret.txt"
chmod 644 "$T/secret.txt"
ln -s ../secret.txt "$T/site/escape"
ln -s /etc "$T/site/etc"
ln -s hello.txt "$T/site/inside"
WORKERS=1 write_conf "$T/c.conf" 'handshake-timeout = 3' 'header-timeout = 3' 'keepalive-timeout = 3'
start_cachetd "$T/c.conf" || exit 1

# --- traversal: no attempt returns the secret or a system file
for p in '/../secret.txt' '/%2e%2e/secret.txt' '/%2E%2E/secret.txt' \
	'/sub/../../secret.txt' '/%2e%2e%2fsecret.txt' '/..%2fsecret.txt' \
	'/.%2e/secret.txt' '/%252e%252e/secret.txt' '/secret.txt%00.html' \
	'/escape' '/etc/passwd' '/etc/hostname' '/./../secret.txt' \
	'/sub/%2e%2e/%2e%2e/secret.txt' '/..\secret.txt' '/%c0%ae%c0%ae/secret.txt'; do
	body=$(C --path-as-is -w ' status=%{http_code}' "$(URL "$p")" 2>&1)
	st=${body##*status=}
	if printf '%s' "$body" | grep -q -e TOPSECRET -e 'root:' || [ "$st" -lt 400 ]; then
		fail "traversal $p: status $st"
	else
		ok "traversal $p refused with $st"
	fi
done
out=$(printf 'GET ../secret.txt HTTP/1.0\r\n\r\n' | sclient)
expect_match "relative target: 400" "$out" "^HTTP/1.1 400"
expect_eq "symlink out of the root: 403" "$(status_of "$(URL /escape)")" 403
expect_eq "symlink to a folder outside: 403" "$(status_of "$(URL /etc/passwd)")" 403
expect_eq "symlink inside the root is followed" "$(C "$(URL /inside)")" "hello, world"

# --- redirects stay on this server: Location is built from the path that
# was served, never from the target as sent
mkdir -p "$T/site/a b"
for t in '//evil.example/x/..%2f..%2fsub' '//evil.example/../sub' \
	'/%2f%2fevil.example/..%2fsub' '/./sub' '/x/../sub' '/%73ub' '/a%20b?x=1#f'; do
	hdr=$(printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$t" | sclient | tr -d '\r')
	loc=$(printf '%s\n' "$hdr" | sed -n 's/^Location: //p')
	case $loc in
	/sub/|/a%20b/\?x=1) ok "redirect for $t: $loc" ;;
	*) fail "redirect for $t: '${loc}'" ;;
	esac
done

# bytes a header must not carry raw are escaped in the query too
hdr=$(printf 'GET /sub?a=\xff\x80b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' | sclient | tr -d '\r')
expect_eq "redirect: raw high bytes in the query escaped" "$(printf '%s\n' "$hdr" | sed -n 's/^Location: //p')" "/sub/?a=%FF%80b"

# a file named with a final slash is no file (as nginx)
expect_eq "/hello.txt/ is 404" "$(status_of "$(URL /hello.txt/)")" 404

# plain HTTP sent to the TLS port gets a short answer that says so
out=$(curl -s --max-time 5 -w ' status=%{http_code}' "http://127.0.0.1:$PORT/hello.txt")
expect_match "plain HTTP to the TLS port: 400" "$out" "status=400$"
expect_match "plain HTTP to the TLS port: says to use https" "$out" "This port speaks HTTPS"
expect_nomatch "plain HTTP to the TLS port: no file" "$out" "hello, world"

# --- bytes that are not TLS: dropped, and the worker keeps serving
out=$(python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(range(256)) * 8)
data = b""
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
except (ConnectionResetError, socket.timeout) as e:
    print("reset-or-timeout", type(e).__name__)
print("closed", len(data), b"TOPSECRET" in data, b"HTTP/1.1 200" in data)
PY
)
expect_match "plain-text client is dropped, gets no page" "$out" "closed [0-9]+ False False|reset-or-timeout ConnectionResetError"
expect_eq "still serving after junk" "$(C "$(URL /hello.txt)")" "hello, world"

# --- 50 silent connections (25 raw TCP, 25 after a TLS handshake) to a
# single-worker server: a normal request is served while all 50 are still
# open.  A worker that waited on one of them would answer only after
# handshake-timeout or header-timeout (3 s) had closed some: the holder
# reports how many the server had closed when the request was answered.
python3 - "$PORT" "$T/silent.ready" "$T/silent.check" <<'PY' > "$T/silent.out" &
import os, socket, ssl, sys, time
port, ready, check = int(sys.argv[1]), sys.argv[2], sys.argv[3]
socks = []
for i in range(25):
    socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
for i in range(25):
    socks.append(ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5)))
open(ready, "w").write("ready\n")
end = time.time() + 20
while not os.path.exists(check) and time.time() < end:
    time.sleep(0.02)
closed = 0
for s in socks:         # open: nothing to read (TLS: no record but tickets)
    s.setblocking(False)
    try:
        if isinstance(s, ssl.SSLSocket):
            s.recv(1)
        else:
            s.recv(1, socket.MSG_PEEK)
        closed += 1     # EOF, or bytes the server had no reason to send
    except (BlockingIOError, ssl.SSLWantReadError):
        pass
    except OSError:
        closed += 1     # reset, close_notify, alert
print("closed", closed, "of", len(socks))
PY
SILENT=$!
PIDS="$PIDS $SILENT"
check "50 silent connections are open" wait_for 10 test -f "$T/silent.ready"
out=$(C "$(URL /hello.txt)")
touch "$T/silent.check"
wait "$SILENT"
expect_eq "a request among 50 silent connections is served" "$out" "hello, world"
expect_eq "... while all 50 are still open (none waited out)" "$(cat "$T/silent.out")" "closed 0 of 50"

# --- deadlines, probed at once (each its own connection): a silent client
# is closed after handshake-timeout, a slow request gets 408 after
# header-timeout, and an idle keep-alive connection, which first serves a
# second request, is closed after keepalive-timeout.  All three are 3 s:
# closing much earlier (< 2 s) is as wrong as never closing (10 s).
out=$(python3 - "$PORT" "$CERTS/ca.crt" <<'PY'
import socket, ssl, sys, threading, time
port = int(sys.argv[1])
ctx = ssl.create_default_context(cafile=sys.argv[2])
def closed_after(sock, limit=10):
    t0 = time.time()
    sock.settimeout(limit)
    data = b""
    try:
        while True:
            b = sock.recv(4096)
            if not b:
                break
            data += b
    except (ssl.SSLError, ConnectionResetError, OSError):
        pass
    return time.time() - t0, data
def response(sock):  # one response to GET /hello.txt, read whole
    data = b""
    sock.settimeout(5)
    while b"hello, world\n" not in data:
        b = sock.recv(4096)
        if not b:
            break
        data += b
    return data
def tls():
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
res = {}
def handshake():
    dt, _ = closed_after(socket.create_connection(("127.0.0.1", port)))
    res["h"] = "handshake-timeout %.1f" % dt
def header():
    s = tls()
    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n")
    dt, data = closed_after(s)
    res["r"] = "header-timeout %.1f %s" % (dt, data.split(b"\r\n")[0].decode())
def keepalive():
    s = tls()
    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    first = response(s)
    time.sleep(0.5)             # idle, but less than keepalive-timeout
    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    second = response(s)
    dt, data = closed_after(s)
    res["k"] = "keepalive: %s then %s; keepalive-timeout %.1f %d" % (
        first.split(b"\r\n")[0].decode(), second.split(b"\r\n")[0].decode(), dt, len(data))
ts = [threading.Thread(target=f) for f in (handshake, header, keepalive)]
for t in ts: t.start()
for t in ts: t.join()
print(res.get("h")); print(res.get("r")); print(res.get("k"))
PY
)
expect_match "silent client closed after handshake-timeout" "$out" "^handshake-timeout [2-8]\.[0-9]$"
expect_match "slow request gets 408 after header-timeout" "$out" "^header-timeout [2-8]\.[0-9] HTTP/1.1 408 Request Timeout$"
expect_match "keep-alive: a second request after 0.5 s idle is served" "$out" "^keepalive: HTTP/1.1 200 OK then HTTP/1.1 200 OK;"
expect_match "idle keep-alive closed after keepalive-timeout" "$out" "; keepalive-timeout [2-8]\.[0-9] 0$"

# --- privileges: started as root, the workers run as nobody.
if [ "$(id -u)" = 0 ]; then
	users=$(for p in $(worker_pids); do ps -o user= -p "$p"; done | sort -u | tr -d ' \n')
	expect_eq "workers dropped root" "$users" "nobody"
	expect_eq "master is root" "$(ps -o user= -p "$MASTER" | tr -d ' ')" "root"
else
	echo "# not root: privilege drop not tested"
fi
stop_cachetd
finish
