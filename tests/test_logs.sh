#!/bin/bash
# The logs against a live cachetd: the JSON access log under hostile
# requests (every line parsed by python3's json, the fields checked),
# syslog through a real receiver (tests/syslogd.py on a socket of its own:
# priority, ident, pid; the workers keep serving when it is gone or does
# not read, and find it again when it comes back), the buffered access
# log (lines out within the flush period, all of them after a graceful
# stop, HUP and USR1, none torn between two workers), and the config
# errors of the log directives.
. "$top_srcdir/tests/lib.sh"
command -v python3 >/dev/null || { echo "# python3 missing"; exit 77; }
make_site "$T/site"
J=$top_srcdir/tests/syslogd.py

# --- config errors: file:line and the problem; -t names the socket
bad() { # description line expected-message-regex
	write_conf "$T/bad.conf" "$2"
	local out; out=$("$CACHETD" -t -c "$T/bad.conf" 2>&1)
	expect_match "$1" "$out" "^cachetd: $T/bad.conf:$(line_of "$T/bad.conf" "$2"): $3"
}
bad "unknown facility" 'access-log = "syslog:kern"' \
    "access-log: 'syslog:kern': unknown syslog facility"
bad "unknown format" 'access-log-format = xml' \
    "access-log-format: 'xml' is not combined or json"
bad "buffer not a size" 'access-log-buffer = 64x' \
    "access-log-buffer: '64x' is not a size"
bad "buffer smaller than a line" 'access-log-buffer = 1k' \
    "access-log-buffer: 0 \(off\) or from 16k to 16m, not 1k"
write_conf "$T/bad.conf" 'error-log = "syslog"' \
    "syslog-socket = \"$T/no.sock\""
out=$("$CACHETD" -t -c "$T/bad.conf" 2>&1)
expect_match "-t: a missing syslog socket named at its line" "$out" \
    "$T/bad.conf:$(line_of "$T/bad.conf" "syslog-socket = \"$T/no.sock\""): error-log = \"syslog\": syslog-socket '$T/no.sock': No such file"
out=$("$CACHETD" -c "$T/bad.conf" 2>&1)
expect_match "start: the same message, and no start" "$out" \
    "syslog-socket '$T/no.sock': No such file"
write_conf "$T/ok.conf" 'access-log-buffer = 64k' 'access-log-format = json'
check "-t accepts 64k and json" "$CACHETD" -t -c "$T/ok.conf" >/dev/null

# ------------------------------------------------------------ JSON lines
# A client certificate is asked at the handshake (optional), so the line
# names alice; HTTP/1.0 and 1.1, TLS 1.2 and 1.3, resumed or not.
write_conf "$T/c.conf" 'access-log-format = json' \
    "client-ca = \"$CERTS/ca.crt\"" 'verify-client = optional' \
    "session-cache { store = \"gdbm:$T/sessions.db\" }"
start_cachetd "$T/c.conf" || exit 1
ua=$'q"uote \\back\\slash caf\xc3\xa9 \xff\xfe </script> \xe2\x80\xa8'
C -o /dev/null -A "$ua" -e 'https://ref.example/"x' "$(URL '/hello.txt?a=%00&b=%22')"
C -o /dev/null --tls-max 1.2 --cert "$CERTS/alice.crt" --key "$CERTS/alice.key" \
    "$(URL /sub/)"
C -o /dev/null -0 "$(URL /nothere)"
"$CACHET" get --cacert "$CERTS/ca.crt" -r 1 "$(URL /hello.txt?resume)" >/dev/null 2>&1
# raw bytes a curl would encode: high bytes and a quote in the target,
# control bytes in the request line (400, logged with what was read)
raw() { printf "$1" | sclient >/dev/null; }
raw 'GET /h\xff\xc3"\\x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'
raw 'GET /\x01\x1b[31m\x7f HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'
raw 'GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: a\x01b\r\nConnection: close\r\n\r\n'
raw 'GET /big HTTP/1.1\r\nHost: localhost\r\nUser-Agent: '"$(head -c 9000 /dev/zero | tr '\0' '\377')"'\r\nConnection: close\r\n\r\n'
n_sent=10       # and start_cachetd's probe
lines() { [ "$(wc -l < "$T/access.log")" -ge "$n_sent" ]; }
check "a line for each of the $n_sent requests" wait_for 5 lines
cat > "$T/check.py" <<'PY'
import json, os, re, sys
rows, bad = [], 0
for raw in open(sys.argv[1], "rb"):
    try:
        rows.append(json.loads(raw.decode("utf-8")))   # strict UTF-8
    except Exception as e:
        bad += 1
        print("# not JSON:", e, raw[:200])
print("parsed", len(rows), "bad", bad)
def one(pred):
    got = [r for r in rows if pred(r)]
    return got[0] if got else {}
keys = {"time", "client", "method", "target", "protocol", "status", "bytes",
        "referer", "user_agent", "request_time", "tls", "cipher", "resumed",
        "client_subject", "verify", "server_name", "server", "pid"}
print("keys", all(set(r) == keys for r in rows))
r = one(lambda r: (r["target"] or "").startswith("/hello.txt?a="))
# what was sent, with each byte that is not UTF-8 as U+00XX
exp = os.fsencode(sys.argv[2]).decode("utf-8", "surrogateescape")
exp = "".join(chr(ord(c) - 0xdc00) if 0xdc80 <= ord(c) <= 0xdcff else c
              for c in exp)
print("ua", r.get("user_agent") == exp)
print("referer", r.get("referer") == 'https://ref.example/"x')
print("target", r.get("target") == "/hello.txt?a=%00&b=%22")
print("fields", r.get("method"), r.get("protocol"), r.get("status"),
      r.get("bytes"), r.get("tls"), r.get("server_name"), r.get("resumed"),
      r.get("client_subject"), r.get("client"),
      type(r.get("request_time")).__name__)
print("time", bool(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r.get("time", ""))))
a = one(lambda r: r["target"] == "/sub/")
print("alice", a.get("tls"), a.get("client_subject"), a.get("verify"))
print("http10", one(lambda r: r["target"] == "/nothere").get("protocol"),
      one(lambda r: r["target"] == "/nothere").get("status"))
res = [r["resumed"] for r in rows if r["target"] == "/hello.txt?resume"]
print("resume", res)
print("high", bool(one(lambda r: r["target"] == '/h\u00ff\u00c3"\\x')))
c = one(lambda r: (r["target"] or "").startswith("/\u0001"))
print("ctl", c.get("target") == "/\u0001\u001b[31m\u007f", c.get("status"))
print("bigua", one(lambda r: r["target"] == "/big").get("status"),
      len(one(lambda r: r["target"] == "/big").get("user_agent") or ""))
PY
out=$(python3 "$T/check.py" "$T/access.log" "$ua")
echo "$out" | grep -v '^# not JSON' | sed 's/^/# /' 
expect_match "every line parses as strict UTF-8 JSON" "$out" "^parsed $n_sent bad 0$"
expect_match "every line has the same keys" "$out" "^keys True$"
expect_match "User-Agent decodes to what was sent (invalid bytes as U+00XX)" "$out" "^ua True$"
expect_match "Referer with a quote" "$out" "^referer True$"
expect_match "%00 and %22 kept as sent" "$out" "^target True$"
expect_match "method, protocol, status, bytes, tls, SNI, client" "$out" \
    "^fields GET HTTP/1.1 200 13 TLSv1.3 localhost False None 127.0.0.1 float$"
expect_match "time in ISO 8601 UTC" "$out" "^time True$"
expect_match "TLS 1.2 with alice's certificate" "$out" \
    "^alice TLSv1.2 CN=alice,O=cachet demo ok$"
expect_match "HTTP/1.0, 404" "$out" "^http10 HTTP/1.0 404$"
expect_match "resumed: false then true" "$out" "^resume \[False, True\]$"
expect_match "raw high bytes, quote and backslash in the target" "$out" "^high True$"
expect_match "control bytes in the request line: 400, logged escaped" "$out" "^ctl True 400$"
expect_match "a 9000-byte User-Agent of 0xff: the line is cut, still JSON" "$out" "^bigua 404 [0-9]{3,4}$"
stop_cachetd

# ---------------------------------------------------------------- syslog
SOCK=$T/log.sock
start_syslogd() { # [--slow]
	python3 "$J" "$SOCK" "$T/syslog.out" "$@" &
	SYSLOGD=$!
	PIDS="$PIDS $SYSLOGD"
	wait_for 5 test -S "$SOCK"
}
stop_syslogd() { kill -TERM "$SYSLOGD"; wait_for 5 gone "$SYSLOGD"; }
start_syslogd
write_conf "$T/s.conf" 'error-log = "syslog"' 'access-log = "syslog:local0"' \
    'access-log-format = json' "syslog-socket = \"$SOCK\""
: > "$T/error.log"
"$CACHETD" -c "$T/s.conf" 2>>"$T/stderr.log" &
MASTER=$!
PIDS="$PIDS $MASTER"
port_in_syslog() {
	PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/syslog.out" | tail -n 1)
	[ -n "$PORT" ] && [ "$(worker_pids | wc -w)" -ge 2 ]
}
check "cachetd starts, its error log in syslog" wait_for 10 port_in_syslog
wait_port
expect_match "error line: <daemon.notice>, ident cachetd, the master's pid" \
    "$(cat "$T/syslog.out")" "^<29>[A-Z][a-z]{2} [ 0-9]{2} [0-9:]{8} cachetd\[$MASTER\]: listening on 127\.0\.0\.1:$PORT$"
expect_eq "nothing written to error-log's file" "$(cat "$T/error.log")" ""
C -o /dev/null -A 'sys"log' "$(URL /hello.txt)"
got_access() { grep -q '^<134>.*"/hello.txt"' "$T/syslog.out"; }
check "access line arrives as <local0.info>" wait_for 5 got_access
line=$(grep '^<134>.*"/hello.txt"' "$T/syslog.out" | head -n 1)
wpids=$(worker_pids)
expect_match "  from a worker, ident cachetd" "$line" "^<134>[A-Z][a-z]{2} [ 0-9]{2} [0-9:]{8} cachetd\[($(echo $wpids | tr ' ' '|'))\]: \{"
expect_eq "  its JSON parses" "$(printf '%s' "${line#*]: }" | python3 -c 'import json,sys; print(json.load(sys.stdin)["user_agent"])')" 'sys"log'

# the receiver gone: served all the same, nothing restarts
stop_syslogd
codes=$(for i in 1 2 3 4 5 6; do C -o /dev/null -w '%{http_code} ' "$(URL /hello.txt?gone$i)"; done)
expect_eq "receiver gone: every request served" "$codes" "200 200 200 200 200 200 "
expect_eq "  by the same workers" "$(worker_pids)" "$wpids"
# back at the same path: found again (at most a second later)
start_syslogd
back() { C -o /dev/null "$(URL /hello.txt?back)"; grep -q '"/hello.txt?back"' "$T/syslog.out"; }
check "receiver back: lines arrive again" wait_for 10 back
kill -HUP "$MASTER"
check "  the master's lines too (HUP)" wait_for 10 grep -q '^<29>.*reloaded: generation 2' "$T/syslog.out"
stop_syslogd

# a receiver that reads nothing (its queue fills): never blocks a worker
start_syslogd --slow
wpids=$(worker_pids)
codes=$(for i in $(seq 40); do C -o /dev/null -w '%{http_code}\n' "$(URL /hello.txt?slow$i)"; done | sort | uniq -c | tr -s ' ')
expect_eq "receiver not reading: 40 requests all 200" "$codes" " 40 200"
expect_eq "  by the same workers" "$(worker_pids)" "$wpids"
stop_syslogd
stop_cachetd

# -------------------------------------------------------- buffered lines
write_conf "$T/b.conf" 'access-log-buffer = 16k' 'access-log-format = json'
: > "$T/access.log"
start_cachetd "$T/b.conf" || exit 1
C -o /dev/null "$(URL /hello.txt?first)"
check "buffered: a lone line is written within the flush period" \
    wait_for 5 grep -q '"/hello.txt?first"' "$T/access.log"
# The buffer is used: a burst of requests is written in far fewer writes
# than lines (strace on both workers, when it can attach).
if command -v strace >/dev/null && strace -o /dev/null true 2>/dev/null; then
	afd=$(ls -l /proc/$(worker_pids | awk '{print $1}')/fd 2>/dev/null | sed -n "s|.* \([0-9]*\) -> $T/access.log$|\1|p")
	for p in $(worker_pids); do
		strace -qq -e trace=write -e signal=none -o "$T/strace.$p" -p "$p" &
		PIDS="$PIDS $!"
	done
	attached() { local p; for p in $(worker_pids); do grep -q TracerPid:.[1-9] /proc/$p/status || return 1; done; }
	if ! wait_for 5 attached; then
		echo "SKIP: counting writes (strace cannot attach)"
	else
	C $(for i in $(seq 100); do URL "/hello.txt?k$i"; done) >/dev/null
	wait_for 5 grep -q '"/hello.txt?k100"' "$T/access.log"
	writes=$(cat "$T"/strace.* 2>/dev/null | grep -c "^write($afd,")
	check "buffered: 100 lines in at most 5 writes (got $writes)" [ "$writes" -ge 1 -a "$writes" -le 5 ]
	fi
else
	echo "SKIP: counting writes (no strace, or it cannot attach)"
fi
# A burst from parallel clients over new connections, on both workers,
# then a graceful stop: every line there once, none torn.
N=240
for k in $(seq 8); do
	echo "$(for i in $(seq $k 8 $N); do printf '%s ' "$(URL "/hello.txt?b=$i")"; done)"
done | xargs -P 8 -n 30 curl -sS --max-time 20 --cacert "$CERTS/ca.crt" \
    -H 'Connection: close' -o /dev/null >/dev/null 2>&1
old=$(worker_pids)
kill -HUP "$MASTER"     # a new generation: the old one flushes as it stops
old_gone() { local p; for p in $old; do gone "$p" || return 1; done; }
wait_for 15 old_gone
C -o /dev/null "$(URL /hello.txt?after-hup)"
kill -USR1 "$MASTER"    # reopen: the workers replaced flush as they stop
wait_for 10 grep -q 'logs reopened' "$T/error.log"
C -o /dev/null "$(URL /hello.txt?after-usr1)"
stop_cachetd
cat > "$T/burst.py" <<'PY'
import json, sys
n = int(sys.argv[2])
seen, pids, bad, other = {}, set(), 0, set()
for raw in open(sys.argv[1], "rb"):
    try:
        r = json.loads(raw)
    except Exception:
        bad += 1
        continue
    t = r["target"]
    if t.startswith("/hello.txt?b="):
        seen[t] = seen.get(t, 0) + 1
        pids.add(r["pid"])
    else:
        other.add(t)
missing = n - len(seen)
dups = sum(c - 1 for c in seen.values())
print("torn", bad, "missing", missing, "dups", dups, "workers", len(pids) >= 2)
print("hup", "/hello.txt?after-hup" in other, "usr1", "/hello.txt?after-usr1" in other)
PY
out=$(python3 "$T/burst.py" "$T/access.log" "$N")
expect_eq "after a graceful stop: $N burst lines, none torn, missing or twice, from both workers" \
    "$(echo "$out" | head -n 1)" "torn 0 missing 0 dups 0 workers True"
expect_eq "lines of the generations after HUP and USR1 flushed at the stop" \
    "$(echo "$out" | tail -n 1)" "hup True usr1 True"

# --- access-log = off: no access line anywhere (as nginx's access_log
# off), neither in a file nor on standard error, and no file named "off";
# the error log as before
write_conf "$T/off.conf"
sed -i 's|^access-log = .*|access-log = off|' "$T/off.conf"
check "access-log = off: -t accepts it" "$CACHETD" -t -c "$T/off.conf"
: > "$T/access.log"
: > "$T/stderr.log"
start_cachetd "$T/off.conf" || exit 1
for i in 1 2 3; do
	expect_eq "access-log = off: request $i served" "$(C "$(URL "/hello.txt?off=$i")")" "hello, world"
done
kill -HUP "$MASTER"             # a reload keeps it off
check "access-log = off: reloaded" wait_for 10 grep -q 'reload' "$T/error.log"
expect_eq "access-log = off: served after the reload" "$(C "$(URL /hello.txt?off=4)")" "hello, world"
kill -USR1 "$MASTER"            # and so does a reopen
check "access-log = off: logs reopened" wait_for 10 grep -q 'logs reopened' "$T/error.log"
expect_eq "access-log = off: served after the reopen" "$(C "$(URL /hello.txt?off=5)")" "hello, world"
stop_cachetd
check "access-log = off: the error log still written" grep -q 'listening on' "$T/error.log"
check "access-log = off: no line on standard error" test "$(grep -c 'off=' "$T/stderr.log")" -eq 0
check "access-log = off: nothing in the file a default config would use" test ! -s "$T/access.log"
check "access-log = off: no file named off" test ! -e "$T/off"
# error-log = off is a file named off, as in nginx: -t says so
write_conf "$T/eoff.conf"
sed -i 's|^error-log = .*|error-log = off|' "$T/eoff.conf"
out=$("$CACHETD" -t -c "$T/eoff.conf" 2>&1)
expect_match "error-log = off: -t warns, with the file and line" "$out" \
    "eoff.conf:[0-9]+: warning: error-log = off is a file named off \($T/off\)"
finish
