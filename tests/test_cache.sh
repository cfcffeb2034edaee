#!/bin/bash
# The shared session cache against a live cachetd with 4 workers: every
# reconnection resumes whichever worker answers (TLS 1.2 and 1.3), "none"
# and "internal" behave as they should, sealed records survive a restart
# only with a seal-key-file, nothing secret is on disk, and a damaged or
# unreachable cache file costs full handshakes, never a failure.
. "$top_srcdir/tests/lib.sh"
make_site "$T/site"
mkdir -p "$T/cache"
chmod 755 "$T/cache"
WORKERS=4

# sess FLAGS...: one connection with a request; prints New/Reused line
sess() {
	printf 'GET /hello.txt HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client \
		-connect "127.0.0.1:$PORT" -CAfile "$CERTS/ca.crt" -ign_eof "$@" 2>/dev/null |
		grep -E '^(New|Reused),'
}
# reuse_count VERSION N: first connection saves, N more offer it (TLS 1.2:
# the same session ID; TLS 1.3: the newest ticket, a ticket is single-use)
reuse_count() {
	local v=$1 n=$2 i out reused=0
	sess "-tls$v" -sess_out "$T/s$v" >/dev/null
	for i in $(seq "$n"); do
		if [ "$v" = 1_3 ]; then
			rm -f "$T/s$v.next"
			out=$(sess "-tls$v" -sess_in "$T/s$v" -sess_out "$T/s$v.next")
			[ -s "$T/s$v.next" ] && mv -f "$T/s$v.next" "$T/s$v"
		else
			out=$(sess "-tls$v" -sess_in "$T/s$v")
		fi
		case $out in Reused*) reused=$((reused + 1)) ;; esac
	done
	echo "$reused"
}

write_conf "$T/c.conf" 'session-cache {' "store = \"gdbm:$T/cache/sessions.db\"" '}' \
	'location "/status" { status = true allow-address = {"127.0.0.1"} }' \
	'location "/status-lan" { status = true allow-address = {"10.1.2.3", "::1"} }'
start_cachetd "$T/c.conf" || exit 1

# A client that closes without close_notify (as browsers do) keeps its
# session: once the server has seen the close, the next visit resumes.
out=$(python3 - "$PORT" "$CERTS/ca.crt" <<'PY'
import json, socket, ssl, sys, time, urllib.request
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
def conns():
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
    s.sendall(b"GET /status?format=json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    data = b""
    while b"}" not in data:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.unwrap()
    s.close()
    return json.loads(data.split(b"\r\n\r\n", 1)[1])["connections"]
results = []
for i in range(5):
    raw = socket.create_connection(("127.0.0.1", port))
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
    while b"hello, world" not in s.recv(65536):
        pass
    sess = s.session
    raw.close()           # no close_notify: the socket just goes
    s.close()
    t = time.time() + 5   # bounded: until the server has seen the close
    while conns() > 1 and time.time() < t:
        time.sleep(0.05)
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost", session=sess)
    results.append(s.session_reused)
    s.close()
print(sum(results), "of", len(results))
PY
)
expect_eq "no close_notify from the client: the session stays resumable" "$out" "5 of 5"

# A TLS 1.3 ClientHello whose key share the server does not take
# (ffdhe2048 first) draws a HelloRetryRequest, and the second ClientHello
# offers the ticket again: it resumes with the ticket the first one took,
# and the ticket is spent after that.
sess -tls1_3 -sess_out "$T/hrr" >/dev/null
out=$(printf 'GET /hello.txt HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client \
	-connect "127.0.0.1:$PORT" -CAfile "$CERTS/ca.crt" -ign_eof -tls1_3 \
	-groups ffdhe2048:X25519 -sess_in "$T/hrr" -msg 2>/dev/null)
expect_eq "HelloRetryRequest: two ServerHellos (the first a retry)" "$(printf '%s\n' "$out" | grep -c '<<< .*ServerHello')" 2
expect_match "HelloRetryRequest: the ticket still resumes" "$out" "Reused, TLSv1.3"
expect_match "HelloRetryRequest: the ticket is spent after that" "$(sess -tls1_3 -sess_in "$T/hrr")" "^New,"

local_hits() { C "$(URL /status)" | sed -n 's/^cache_local_hits: //p'; }
for v in 1_2 1_3; do
	: > "$T/access.log"
	lh=$(local_hits)
	expect_eq "TLS ${v/_/.}: 40 reconnections all resumed (gdbm)" "$(reuse_count $v 40)" 40
	pids=$(grep ' r [0-9]*$' "$T/access.log" | awk '{print $NF}' | sort -u | wc -l)
	check "TLS ${v/_/.}: resumed on $pids worker pids (>= 2)" test "$pids" -ge 2
	# TLS 1.2: each worker fetches the session from the file once, then
	# resumes it from memory (one more fetch allowed: a lookup that meets
	# another process inside the file, its write mark set, reads the file
	# and remembers nothing); TLS 1.3 tickets are never remembered
	lh=$(( $(local_hits) - lh ))
	if [ $v = 1_2 ]; then
		check "TLS 1.2: resumed from the workers' memory $lh of 40 times (>= 35)" test "$lh" -ge 35
	else
		expect_eq "TLS 1.3: never resumed from memory" "$lh" 0
	fi
done

# What a worker remembers never outlives the record: a TLS 1.2 session
# resumed on the workers (from memory after each one's first fetch), then
# removed from the file (cachet cache clear, or the file moved away): no
# worker resumes it any more.  A purge that removes nothing forgets
# nothing.
remembered() { # prints how many of 12 resumptions came from memory
	local lh=$(local_hits) r
	r=$(reuse_of_saved 12)
	echo "$r $(( $(local_hits) - lh ))"
}
reuse_of_saved() {
	local i n=0
	for i in $(seq "$1"); do
		case $(sess -tls1_2 -sess_in "$T/s1_2") in Reused*) n=$((n + 1)) ;; esac
	done
	echo $n
}
sess -tls1_2 -sess_out "$T/s1_2" >/dev/null
read -r r lh <<<"$(remembered)"
check "before clear: resumed 12 of 12 ($r), $lh from memory (>= 7)" test "$r" -eq 12 -a "$lh" -ge 7
"$CACHET" cache purge "$T/cache/sessions.db" >/dev/null
read -r r lh <<<"$(remembered)"
check "a purge that removes nothing: still resumed from memory ($r, $lh)" test "$r" -eq 12 -a "$lh" -ge 10
"$CACHET" cache clear "$T/cache/sessions.db" >/dev/null
expect_eq "after cachet cache clear: the session resumes on no worker" "$(reuse_of_saved 12)" 0
sess -tls1_2 -sess_out "$T/s1_2" >/dev/null
read -r r lh <<<"$(remembered)"
check "a new session: remembered again ($r, $lh from memory)" test "$r" -eq 12 -a "$lh" -ge 7
mv "$T/cache/sessions.db" "$T/cache/away.db"
expect_eq "after the file is removed: the session resumes on no worker" "$(reuse_of_saved 12)" 0
mv "$T/cache/away.db" "$T/cache/sessions.db"
expect_eq "the file back: the session in it resumes again" "$(reuse_of_saved 6)" 6
st=$(C "$(URL /status)")
expect_match "status page: cache hits counted" "$st" "cache_hits: ([89][0-9]|[1-9][0-9]{2})"
expect_match "status page: resumed handshakes" "$st" "handshakes_resumed: ([89][0-9]|[1-9][0-9]{2})"
expect_match "status page: 4 workers" "$st" "workers: 4"
expect_match "status page: JSON" "$(C "$(URL '/status?format=json')")" '^\{"uptime": [0-9]+, "workers": 4, .*"cache_store": "gdbm"\}$'
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["cache_stores"] > 0' "$(C "$(URL '/status?format=json')")" && ok "status JSON parses" || fail "status JSON parses"
expect_eq "status page for other addresses only: 403" "$(status_of "$(URL /status-lan)")" 403

# A client that resets its connection (no close_notify) after the
# handshake keeps its session, and the others keep theirs in the workers'
# memory (OpenSSL would remove it at SSL_free, which moved every worker's
# stamp); a TLS 1.3 ClientHello offering a TLS 1.2 session's ID (sent in
# clear) as its ticket does not take that session out of the file.
out=$(python3 - "$PORT" "$CERTS/ca.crt" "$CACHET" "$T/cache/sessions.db" "$T/s1_2" <<'PY'
import os, re, socket, ssl, struct, subprocess, sys, time, urllib.request
port, ca, cachet, db = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
def conn(session=None, rst=False):
    raw = socket.create_connection(("127.0.0.1", port))
    s = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
    s.recv(4096)
    reused, sess = s.session_reused, s.session
    if rst:     # no close_notify, and a reset
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    return reused, sess
def status(field):
    ctx2 = ssl.create_default_context(cafile=ca)
    with urllib.request.urlopen("https://localhost:%d/status" % port, context=ctx2, timeout=10) as r:
        return int(re.search(rb"\n" + field + rb": (\d+)", r.read()).group(1))
def local_hits():
    return status(b"cache_local_hits")
def records():
    out = subprocess.run([cachet, "cache", "stats", db], capture_output=True, text=True).stdout
    return int(re.search(r"records: (\d+)", out).group(1))
_, keep = conn()
for i in range(12):
    conn(keep)                          # remembered by the workers
rm0 = status(b"cache_removes")
_, gone = conn(rst=True)                # a full handshake, then a reset
for i in range(50):                     # until the server closed it
    if status(b"connections") <= 1:     # (the status request's own)
        break
    time.sleep(0.1)
lh = local_hits()
r1 = sum(conn(keep)[0] for i in range(8))
print("kept %d of 8, %d from memory; %d removed" % (r1, local_hits() - lh,
      status(b"cache_removes") - rm0))
print("reset session resumed", conn(gone)[0])
# a client that does not trust our certificate aborts the handshake with
# an alert (as scanners and misconfigured clients do): OpenSSL drops the
# session it was making, which was never stored: nothing is removed
rm0 = status(b"cache_removes")
bad = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
bad.maximum_version = ssl.TLSVersion.TLSv1_2
bad.load_default_certs()
for i in range(5):
    try:
        bad.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost").close()
    except ssl.SSLError:
        pass
lh = local_hits()
r2 = sum(conn(keep)[0] for i in range(8))
print("after 5 aborted handshakes: %d removed, kept %d of 8, %d from memory" %
      (status(b"cache_removes") - rm0, r2, local_hits() - lh))
# a client that completes a handshake, then sends a record that fails its
# check: the server's fatal alert (bad_record_mac) removes that session
# (RFC 5246 7.2.2), and only the memory of sessions with the same hash
# (1 in 256) is forgotten, not all of it
rm0 = status(b"cache_removes")
spoilt = []
for i in range(5):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
    spoilt.append(s.session)
    os.write(s.fileno(), b"\x17\x03\x03\x00\x30" + os.urandom(0x30))
    s.settimeout(5)
    try:
        os.read(s.fileno(), 100)        # the alert, then EOF
    except OSError:
        pass
    s.close()
for i in range(50):                     # until the server closed them
    if status(b"connections") <= 1:
        break
    time.sleep(0.1)
lh = local_hits()
r3 = sum(conn(keep)[0] for i in range(8))
print("after 5 fatal alerts: %d removed, %d of 5 resume, kept %d of 8, %d from memory" %
      (status(b"cache_removes") - rm0, sum(conn(x)[0] for x in spoilt), r3,
       local_hits() - lh))
# TLS 1.3 ClientHello, pre_shared_key identity = the TLS 1.2 session ID
def u16(n): return struct.pack(">H", n)
def ext(t, body): return u16(t) + u16(len(body)) + body
ident = keep.id
sni = b"localhost"
exts = ext(0, u16(len(sni) + 3) + b"\x00" + u16(len(sni)) + sni)
exts += ext(10, u16(2) + u16(0x001d))
exts += ext(13, u16(6) + u16(0x0804) + u16(0x0403) + u16(0x0401))
exts += ext(43, b"\x02\x03\x04") + ext(45, b"\x01\x01")
exts += ext(51, u16(36) + u16(0x001d) + u16(32) + os.urandom(32))
ids = u16(len(ident)) + ident + b"\x00\x00\x00\x00"
binders = b"\x20" + os.urandom(32)
exts += ext(41, u16(len(ids)) + ids + u16(len(binders)) + binders)
body = (b"\x03\x03" + os.urandom(32) + b"\x20" + os.urandom(32) + u16(2) +
        b"\x13\x01" + b"\x01\x00" + u16(len(exts)) + exts)
hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
n0 = records()
r = socket.create_connection(("127.0.0.1", port))
r.sendall(b"\x16\x03\x01" + u16(len(hs)) + hs)
r.settimeout(5)
try:
    answer = r.recv(5)
except OSError:
    answer = b""
r.close()
print("records %d -> %d after the TLS 1.3 hello (answered %s)" % (n0, records(), answer[:1].hex()))
PY
)
expect_match "a reset removes no session, and the workers' memory stays" "$out" "kept 8 of 8, [1-8] from memory; 0 removed"
expect_match "a reset connection's session still resumes" "$out" "reset session resumed True"
expect_match "a TLS 1.2 session ID offered as a TLS 1.3 ticket stays in the file" "$out" "records ([0-9]+) -> \\1 after"
# (each worker remembers the session after 20 resumptions; a flush would
# leave one fetch from the file per worker that answers)
expect_match "aborted handshakes remove nothing, the workers forget nothing" "$out" "after 5 aborted handshakes: 0 removed, kept 8 of 8, [78] from memory"
expect_match "a fatal alert removes its session, and the workers forget no other" "$out" "after 5 fatal alerts: 5 removed, 0 of 5 resume, kept 8 of 8, [78] from memory"

# files: private, owned by the worker user
perm=$(stat -c '%a' "$T/cache/sessions.db")
expect_eq "cache file mode 0600" "$perm" 600
expect_eq "lock file mode 0600" "$(stat -c '%a' "$T/cache/sessions.db.lock")" 600
if [ "$(id -u)" = 0 ]; then
	expect_eq "cache file owned by the worker user" "$(stat -c '%U' "$T/cache/sessions.db")" nobody
fi

# cachet cache on the live file
out=$("$CACHET" cache stats "$T/cache/sessions.db")
expect_match "cachet cache stats counts records" "$out" "records: [1-9][0-9]*"
expect_match "cachet cache stats: file size" "$out" "size: [0-9]+ bytes"
out=$("$CACHET" cache list "$T/cache/sessions.db")
expect_match "cachet cache list: one line per record" "$out" "^[0-9a-f]{16}  20[0-9-]+T[0-9:]+Z  20[0-9-]+T[0-9:]+Z  [0-9]+"
expect_match "cachet cache purge" "$("$CACHET" cache purge "$T/cache/sessions.db")" "purged 0 expired"

# no master key in the clear: take it from a saved session, search the file
sess -tls1_2 -sess_out "$T/mk" >/dev/null
mk=$(openssl sess_id -in "$T/mk" -noout -text | sed -n 's/^ *Master-Key: *//p')
check "a master key was read from the session (${#mk} hex digits)" test "${#mk}" -eq 96
python3 - "$T/cache/sessions.db" "$mk" <<'PY' && ok "cache file holds no master key in the clear" || fail "master key found in the cache file"
import sys
data = open(sys.argv[1], "rb").read()
key = bytes.fromhex(sys.argv[2])
sys.exit(1 if key in data or key[:16] in data else 0)
PY

# garbage over the cache file while cachetd runs: full handshakes, repaired
head -c 20000 /dev/urandom > "$T/cache/sessions.db"
fails=0; full=0
for i in $(seq 8); do
	out=$(sess -tls1_2 -sess_in "$T/s1_2") || fails=$((fails + 1))
	case $out in New*) full=$((full + 1)) ;; esac
done
expect_eq "garbage cache: no failed handshake" "$fails" 0
check "garbage cache: sessions lost, full handshakes ($full)" test "$full" -ge 1
expect_eq "garbage cache: repaired, resumption works again" "$(reuse_count 1_2 5)" 5
expect_match "garbage cache: logged" "$(cat "$T/error.log")" "damaged .*(recovered|recreated)"

# chmod 000 on the cache folder: full handshakes, then it comes back
if [ "$(id -u)" = 0 ]; then
	chmod 000 "$T/cache"
	fails=0; reused=0
	for i in $(seq 6); do
		out=$(sess -tls1_2 -sess_in "$T/s1_2") || fails=$((fails + 1))
		case $out in Reused*) reused=$((reused + 1)) ;; esac
	done
	expect_eq "unreachable cache: every handshake works" "$fails" 0
	expect_eq "unreachable cache: none resumed" "$reused" 0
	expect_eq "unreachable cache: one page still served" "$(C "$(URL /hello.txt)")" "hello, world"
	chmod 755 "$T/cache"
	expect_eq "cache folder back: resumption works again" "$(reuse_count 1_2 5)" 5
fi

# a session from another server: full handshake, never an error
openssl s_server -accept 0 -naccept 3 -cert "$CERTS/server-rsa.crt" -key "$CERTS/server-rsa.key" \
	-context other -www > "$T/sserver.out" 2>&1 &
SSRV=$!; PIDS="$PIDS $SSRV"
wait_for 5 grep -q ACCEPT "$T/sserver.out"
OPORT=$(ss -ltnp 2>/dev/null | grep "pid=$SSRV," | grep -oE ':[0-9]+ ' | head -n 1 | tr -d ': ')
if [ -n "$OPORT" ]; then
	for v in 1_2 1_3; do
		printf 'GET / HTTP/1.0\r\n\r\n' | timeout 5 openssl s_client -connect "127.0.0.1:$OPORT" -tls$v -ign_eof -sess_out "$T/other$v" >/dev/null 2>&1
		out=$(sess "-tls$v" -sess_in "$T/other$v"); rc=$?
		expect_match "TLS ${v/_/.}: foreign session gives a full handshake" "$out" "^New,"
	done
else
	fail "could not start openssl s_server"
fi
kill "$SSRV" 2>/dev/null
stop_cachetd

# store = "none": nothing resumes
write_conf "$T/none.conf" 'session-cache {' 'store = "none"' '}'
start_cachetd "$T/none.conf" || exit 1
expect_eq "store none: TLS 1.2 never resumed" "$(reuse_count 1_2 10)" 0
expect_eq "store none: TLS 1.3 never resumed" "$(reuse_count 1_3 10)" 0
stop_cachetd

# store = "internal": resumes only on the worker that made the session
write_conf "$T/int.conf" 'session-cache {' 'store = "internal"' '}'
start_cachetd "$T/int.conf" || exit 1
: > "$T/access.log"
r=$(reuse_count 1_2 40)
first=$(head -n 1 "$T/access.log" | awk '{print $NF}')
rpids=$(grep ' r [0-9]*$' "$T/access.log" | awk '{print $NF}' | sort -u)
fullother=$(grep ' \. [0-9]*$' "$T/access.log" | awk '{print $NF}' | grep -vc "^$first$")
check "internal: some reconnections resumed ($r of 40)" test "$r" -ge 1
check "internal: not all resumed ($r of 40)" test "$r" -lt 40
expect_eq "internal: resumed only on the worker of the first handshake" "$rpids" "$first"
check "internal: other workers did full handshakes ($fullother)" test "$fullother" -ge 1
stop_cachetd

# session-tickets = true: stateless tickets instead of the cache; the
# ticket key is the master's, so every worker opens every ticket.
write_conf "$T/t.conf" 'session-tickets = true' 'session-cache {' "store = \"gdbm:$T/cache/t.db\"" '}'
start_cachetd "$T/t.conf" || exit 1
: > "$T/access.log"
expect_eq "tickets: TLS 1.2 resumed 20 of 20" "$(reuse_count 1_2 20)" 20
expect_eq "tickets: TLS 1.3 resumed 20 of 20" "$(reuse_count 1_3 20)" 20
pids=$(grep ' r [0-9]*$' "$T/access.log" | awk '{print $NF}' | sort -u | wc -l)
check "tickets: resumed on $pids worker pids (>= 2)" test "$pids" -ge 2
expect_match "tickets: nothing stored in the cache" "$("$CACHET" cache stats "$T/cache/t.db")" "records: 0"
stop_cachetd

# a persistent seal-key-file: sessions survive a restart; without one not
head -c 32 /dev/urandom > "$T/seal.key"; chmod 600 "$T/seal.key"
write_conf "$T/k.conf" 'session-cache {' "store = \"gdbm:$T/cache/k.db\"" "seal-key-file = \"$T/seal.key\"" '}'
start_cachetd "$T/k.conf" || exit 1
sess -tls1_2 -sess_out "$T/ks" >/dev/null
stop_cachetd
start_cachetd "$T/k.conf" || exit 1
expect_match "seal-key-file: resumed after a restart" "$(sess -tls1_2 -sess_in "$T/ks")" "^Reused"
stop_cachetd
write_conf "$T/nk.conf" 'session-cache {' "store = \"gdbm:$T/cache/nk.db\"" '}'
start_cachetd "$T/nk.conf" || exit 1
sess -tls1_2 -sess_out "$T/nks" >/dev/null
stop_cachetd
start_cachetd "$T/nk.conf" || exit 1
expect_match "no seal-key-file: a restart loses the sessions" "$(sess -tls1_2 -sess_in "$T/nks")" "^New"
stop_cachetd
chmod 644 "$T/seal.key"
out=$("$CACHETD" -t -c "$T/k.conf" 2>&1)
expect_match "a seal key readable by others is refused" "$out" "k.conf:1[0-9]: seal-key-file .* readable by group or others"
finish
