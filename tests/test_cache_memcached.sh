#!/bin/bash
# The memcached store against two real memcached servers and two cachetd
# "hosts" (two instances: their own configs, ports and workers; the same
# seal key file and the same two servers), as a farm behind a load
# balancer would run: a session made on A resumes on B (TLS 1.2 session
# IDs, TLS 1.3 stateful tickets), counted by both hosts' /status; keys
# spread over both servers; a killed server costs full handshakes for its
# keys only and is used again once back; a stopped one (SIGSTOP: accepts,
# never answers) costs a bounded wait; a tampered record or another seal
# key is a full handshake, never a failure.
. "$top_srcdir/tests/lib.sh"

# 1: the daemon's fetch is asynchronous (the ClientHello callback waiting
# on cache_fetch_start, merged from the redis branch); 0 skips the test
# that a handshake waiting on a stalled memcached does not hold its worker.
ASYNC_SEAM=1

MEMCACHED=$(command -v memcached || echo /usr/bin/memcached)
[ -x "$MEMCACHED" ] || { echo "# memcached not installed: skipped"; exit 77; }
make_site "$T/site"
head -c 32 /dev/urandom > "$T/seal.key"; chmod 600 "$T/seal.key"
head -c 32 /dev/urandom > "$T/other.key"; chmod 600 "$T/other.key"
WORKERS=2
# seconds: the default (0.05) is meant for a cache on the local network;
# this machine runs the suite in parallel on 2 CPUs, and until the
# daemon's fetch is asynchronous a worker waits this long on a stalled
# server
FETCH_TIMEOUT=0.5

# ------------------------------------------------------------ memcached
# free_port: a loopback port nobody listens on now (the kernel's pick)
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# mc_cmd N COMMAND: one text-protocol command to server N, its answer
# (a meta no-op after it ends the answer; 3 s at most)
mc_cmd() {
	python3 - "${MCPORT[$1]}" "$2" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1") + b"mn\r\n")
data = b""
try:
    while not data.endswith(b"MN\r\n"):
        b = s.recv(65536)
        if not b:
            break
        data += b
except socket.timeout:
    pass
sys.stdout.write((data[:-4] if data.endswith(b"MN\r\n") else data).decode("latin-1").replace("\r", ""))
PY
}
mc_up() { mc_cmd "$1" 'version\r\n' 2>/dev/null | grep -q '^VERSION'; }
# mc_start N: memcached number N on a free port (kept across restarts)
declare -a MCPORT MCPID
mc_start() {
	local n=$1 tries
	for tries in 1 2 3 4 5; do
		[ -n "${MCPORT[$n]:-}" ] && [ "$tries" -eq 1 ] || MCPORT[$n]=$(free_port)
		"$MEMCACHED" -l 127.0.0.1 -p "${MCPORT[$n]}" -U 0 -m 16 -t 1 -u root 2>/dev/null &
		MCPID[$n]=$!
		PIDS="$PIDS ${MCPID[$n]}"
		wait_for 5 mc_up "$n" && return 0
		kill -KILL "${MCPID[$n]}" 2>/dev/null
	done
	return 1
}
mc_kill() { kill -CONT "${MCPID[$1]}" 2>/dev/null; kill -KILL "${MCPID[$1]}"; wait "${MCPID[$1]}" 2>/dev/null; }
mc_stat() { mc_cmd "$1" 'stats\r\n' | sed -n "s/^STAT $2 \\([0-9]*\\).*/\\1/p"; }
mc_items() { mc_stat "$1" curr_items; }
mc_start 0 && mc_start 1 || { fail "memcached started"; finish; }
SERVERS="127.0.0.1:${MCPORT[0]},127.0.0.1:${MCPORT[1]}"

# ------------------------------------------------------------- two hosts
# host_conf NAME KEYFILE: host NAME's config in $T/NAME/
host_conf() {
	mkdir -p "$T/$1"
	write_conf "$T/$1/c.conf" 'session-cache {' \
		"store = \"memcached:$SERVERS\"" "seal-key-file = \"$2\"" \
		"fetch-timeout = $FETCH_TIMEOUT" '}' \
		'location "/status" { status = true allow-address = {"127.0.0.1"} }'
	sed -i "s|$T/cachetd.pid|$T/$1/pid|; s|$T/access.log|$T/$1/access.log|; s|$T/error.log|$T/$1/error.log|" "$T/$1/c.conf"
}
# host_start NAME: start host NAME; sets PORT_NAME and MASTER_NAME
host_start() {
	local name=$1 p
	"$CACHETD" -c "$T/$name/c.conf" 2>>"$T/stderr.log" &
	eval "MASTER_$name=$!"
	PIDS="$PIDS $!"
	host_up() {
		p=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/$name/error.log" 2>/dev/null | tail -n 1)
		[ -n "$p" ] && PORT=$p answers
	}
	wait_for 10 host_up || { echo "# host $name did not start:"; sed 's/^/#   /' "$T/$name/error.log" "$T/stderr.log"; return 1; }
	eval "PORT_$name=$p"
}
host_conf A "$T/seal.key"
host_conf B "$T/seal.key"
host_start A && host_start B || { fail "both hosts started"; finish; }

# status NAME FIELD: a counter of host NAME's /status
status() {
	C "https://localhost:$(eval echo \$PORT_$1)/status?format=json" |
		python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"
}
# sess PORT FLAGS...: one openssl s_client connection with a request;
# prints its New/Reused line
sess() {
	printf 'GET /hello.txt HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client \
		-connect "127.0.0.1:$1" -CAfile "$CERTS/ca.crt" -ign_eof "${@:2}" 2>/dev/null |
		grep -E '^(New|Reused),'
}
G() { "$CACHET" get --cacert "$CERTS/ca.crt" "$@"; }
# stored COMMAND...: run it, then wait (bounded) until a store it made has
# reached a server: stores are sent without waiting, and the next
# connection, to another host, could otherwise come first
sets() { echo $(( $(mc_stat 0 cmd_set) + $(mc_stat 1 cmd_set) )); }
sets_above() { [ "$(sets)" -gt "$S0" ]; }
stored() { S0=$(sets); "$@"; wait_for 5 sets_above; }
# a cachet session file saved for one host, offered to another
moved() { sed "s/^localhost:$2\$/localhost:$3/" "$1"; }

# ------------------------------------------- made on A, resumed on B
for v in 1.2 1.3; do
	rA=$(status A handshakes_resumed); rB=$(status B handshakes_resumed)
	stored G --tls$v --sess-out "$T/g$v" "https://localhost:$PORT_A/hello.txt" >/dev/null 2>&1
	moved "$T/g$v" "$PORT_A" "$PORT_B" > "$T/g$v.B"
	out=$(G --tls$v --sess-in "$T/g$v.B" "https://localhost:$PORT_B/hello.txt" 2>&1 >/dev/null)
	expect_match "cachet get, TLS $v: made on A, resumed on B" "$out" "^connection 1: TLSv$v .* resumed$"
	expect_eq "TLS $v: B counts the resumption" "$(status B handshakes_resumed)" "$((rB + 1))"
	expect_eq "TLS $v: A resumed nothing" "$(status A handshakes_resumed)" "$rA"

	o=${v/./_}
	stored sess "$PORT_A" -tls$o -sess_out "$T/s$o" >/dev/null
	S0=$(sets)
	out=$(sess "$PORT_B" -tls$o -sess_in "$T/s$o" -sess_out "$T/s$o.B")
	[ "$v" = 1.2 ] || wait_for 5 sets_above     # B's new ticket
	expect_match "s_client, TLS $v: made on A, resumed on B" "$out" "^Reused"
	# and back: B's new session (TLS 1.3: B's new ticket) resumes on A
	[ "$v" = 1.2 ] || cp "$T/s$o.B" "$T/s$o"
	out=$(sess "$PORT_A" -tls$o -sess_in "$T/s$o")
	expect_match "s_client, TLS $v: and again on A" "$out" "^Reused"
done
# a TLS 1.3 ticket is single-use: spent on B, it is a full handshake on A
# once B's delete (sent without waiting) has reached the server
deletes() { echo $(( $(mc_stat 0 delete_hits) + $(mc_stat 1 delete_hits) )); }
stored sess "$PORT_A" -tls1_3 -sess_out "$T/once" >/dev/null
d0=$(deletes)
sess "$PORT_B" -tls1_3 -sess_in "$T/once" >/dev/null
deleted() { [ "$(deletes)" -gt "$d0" ]; }
check "TLS 1.3: the ticket's record is deleted when used on B" wait_for 5 deleted
expect_match "TLS 1.3: a ticket used on B does not resume on A" "$(sess "$PORT_A" -tls1_3 -sess_in "$T/once")" "^New"

# ------------------------------------------------ keys on both servers
for i in $(seq 30); do sess "$PORT_A" -tls1_2 >/dev/null; done
i0=$(mc_items 0); i1=$(mc_items 1)
check "keys on server 1 ($i0) and server 2 ($i1)" test "${i0:-0}" -gt 3 -a "${i1:-0}" -gt 3
key=$(mc_cmd 0 'lru_crawler metadump all\r\n' | sed -n 's/^key=\(cachet%3A[0-9a-f]*\) .*/\1/p' | head -n 1)
expect_match "keys are cachet: and the session ID in hex" "$key" '^cachet%3A[0-9a-f]{64}$'
ttl=$(mc_cmd 0 'lru_crawler metadump all\r\n' | sed -n 's/^key=cachet%3A[0-9a-f]* exp=\([0-9-]*\) .*/\1/p' | head -n 1)
now=$(date +%s)
check "records expire by themselves: TTL = the session timeout (300 s)" \
	test "$((ttl - now))" -gt 250 -a "$((ttl - now))" -le 301

# ----------------------------------------- which server holds a session
# holder FILE: the server (0 or 1, or none) that holds the TLS 1.2
# session saved in FILE (its ID is in the key)
holder() {
	local id
	id=$(openssl sess_id -in "$1" -noout -text 2>/dev/null | sed -n 's/^ *Session-ID: \([0-9A-F]*\)$/\1/p' | tr 'A-F' 'a-f')
	for n in 0 1; do
		mc_cmd "$n" "mg cachet:$id v\\r\\n" | grep -q '^VA' && { echo "$n"; return; }
	done
	echo none
}
# sessions until there is one on each server (bounded)
for i in $(seq 40); do
	sess "$PORT_A" -tls1_2 -sess_out "$T/x$i" >/dev/null
	h=$(holder "$T/x$i")
	[ "$h" = 0 ] && [ ! -f "$T/on0" ] && cp "$T/x$i" "$T/on0"
	[ "$h" = 1 ] && [ ! -f "$T/on1" ] && cp "$T/x$i" "$T/on1"
	[ -f "$T/on0" ] && [ -f "$T/on1" ] && break
done
check "a session on each server" test -f "$T/on0" -a -f "$T/on1"

# ------------------------------------------------ tampered, other key
id=$(openssl sess_id -in "$T/on0" -noout -text | sed -n 's/^ *Session-ID: \([0-9A-F]*\)$/\1/p' | tr 'A-F' 'a-f')
cp "$T/on0" "$T/tampered"
mc_cmd 0 "set cachet:$id 0 300 20\\r\\nxxxxxxxxxxxxxxxxxxxx\\r\\n" >/dev/null
expect_match "a garbage record: full handshake" "$(sess "$PORT_B" -tls1_2 -sess_in "$T/tampered")" "^New"
expect_eq "the garbage record is removed" "$(mc_cmd 0 "mg cachet:$id v\\r\\n")" "EN"
mkdir -p "$T/C"
host_conf C "$T/other.key"
host_start C || fail "host C (another seal key) started"
expect_match "... the same session resumes with the right key" "$(sess "$PORT_B" -tls1_2 -sess_in "$T/on1")" "^Reused"
expect_match "another seal key: no resumption" "$(sess "$PORT_C" -tls1_2 -sess_in "$T/on1")" "^New"
kill -TERM "$MASTER_C"; wait_for 10 gone "$MASTER_C"
# (a record that does not open is removed, by whichever host: C's key
# cost that session; the ones below are new)
rm -f "$T/on0" "$T/on1"
for i in $(seq 40); do
	sess "$PORT_A" -tls1_2 -sess_out "$T/y$i" >/dev/null
	h=$(holder "$T/y$i")
	[ "$h" = 0 ] && [ ! -f "$T/on0" ] && cp "$T/y$i" "$T/on0"
	[ "$h" = 1 ] && [ ! -f "$T/on1" ] && cp "$T/y$i" "$T/on1"
	[ -f "$T/on0" ] && [ -f "$T/on1" ] && break
done

# ------------------------------------------------------ kill server 0
mc_kill 0
e5=0; stuck=0
for i in $(seq 20); do
	code=$(C -o /dev/null -w '%{http_code}' --max-time 5 "https://localhost:$PORT_A/hello.txt"); rc=$?
	[ "$rc" -ne 0 ] && stuck=$((stuck + 1))
	case $code in 5*) e5=$((e5 + 1)) ;; esac
done
expect_eq "server 0 killed: 20 requests, none failed or hung" "$stuck" 0
expect_eq "server 0 killed: no 5xx" "$e5" 0
# a reload (as a start) names the server that does not answer
kill -HUP "$MASTER_A"
check "server 0 killed: a reload logs it as not answering" wait_for 10 grep -q "not answering: 127.0.0.1:${MCPORT[0]};" "$T/A/error.log"
expect_match "server 0 killed: a session on server 1 still resumes" "$(sess "$PORT_B" -tls1_2 -sess_in "$T/on1")" "^Reused"
expect_match "server 0 killed: a session on server 0 is a full handshake" "$(sess "$PORT_B" -tls1_2 -sess_in "$T/on0")" "^New"
# new sessions go to the live server once every worker's client has
# ejected the dead one (after MC_FAILURES rounds of MC_RETRY s), and resume
resumes_on_b() { sess "$PORT_B" -tls1_2 -sess_in "$1" | grep -q '^Reused'; }
fresh_resumes() {
	sess "$PORT_A" -tls1_2 -sess_out "$T/during" >/dev/null
	resumes_on_b "$T/during"
}
check "server 0 killed: new sessions resume (on the live server)" wait_for 20 fresh_resumes
mc_start 0 || fail "memcached 0 restarted"
# back: within the retry bound, new sessions land on server 0 again
fresh_on0() {
	sess "$PORT_A" -tls1_2 -sess_out "$T/back" >/dev/null
	[ "$(holder "$T/back")" = 0 ] && resumes_on_b "$T/back"
}
check "server 0 restarted: sessions on it resume again" wait_for 20 fresh_on0

# ------------------------------------------------------ stop server 0
# a server that accepts and never answers: handshakes complete after the
# bounded wait (fetch-timeout, 50 ms by default), never fail
kill -STOP "${MCPID[0]}"
ok_hs=0
for i in $(seq 10); do
	out=$(sess "$PORT_B" -tls1_2 -sess_in "$T/back")
	case $out in New*|Reused*) ok_hs=$((ok_hs + 1)) ;; esac
done
expect_eq "server 0 stopped: 10 handshakes complete" "$ok_hs" 10
code=$(C -o /dev/null -w '%{http_code}' --max-time 5 "https://localhost:$PORT_A/hello.txt")
expect_eq "server 0 stopped: requests answered" "$code" 200
expect_match "server 0 stopped: a session on server 1 still resumes" "$(sess "$PORT_B" -tls1_2 -sess_in "$T/on1")" "^Reused"
kill -CONT "${MCPID[0]}"

# ---------- a second client on the same worker while one handshake waits
if [ "$ASYNC_SEAM" = 1 ]; then
	# one worker, so both clients meet there; fetch-timeout 2 (s) makes the
	# first handshake wait long on the stopped server
	mkdir -p "$T/D"
	WORKERS=1 FETCH_TIMEOUT=2 host_conf D "$T/seal.key"
	host_start D || { fail "host D started"; finish; }
	wait_for 5 mc_up 0
	sess "$PORT_D" -tls1_2 -sess_out "$T/d0" >/dev/null
	for i in $(seq 40); do [ "$(holder "$T/d0")" = 0 ] && break; sess "$PORT_D" -tls1_2 -sess_out "$T/d0" >/dev/null; done
	check "host D: a session on server 0" test "$(holder "$T/d0")" = 0
	kill -STOP "${MCPID[0]}"
	( s=$(date +%s%N); sess "$PORT_D" -tls1_2 -sess_in "$T/d0" >/dev/null; echo $(( ($(date +%s%N) - s) / 1000000 )) > "$T/d.slow" ) &
	slow=$!
	sleep 0.3       # paces the second client: the first is waiting now
	s=$(date +%s%N)
	code=$(C -o /dev/null -w '%{http_code}' --max-time 5 "https://localhost:$PORT_D/hello.txt")
	fast=$(( ($(date +%s%N) - s) / 1000000 ))
	wait "$slow"
	expect_eq "second client on the same worker: answered" "$code" 200
	# it started 0.3 s into a 2 s stall: held by it, it would take 1.7 s
	check "second client served in $fast ms while the first waited $(cat "$T/d.slow") ms" \
		test "$fast" -lt 1000
	check "the first waited on the stalled server (fetch-timeout 2 s)" \
		test "$(cat "$T/d.slow")" -ge 1900
	kill -CONT "${MCPID[0]}"
else
	echo "# skipped: a second client on the same worker while one handshake waits (ASYNC_SEAM=0: the daemon's fetch is still synchronous)"
fi

# ---------------------------------------------------------- logged, counted
check "host A logged the dead server" grep -q "session cache 'memcached:.*: .*(127.0.0.1:${MCPORT[0]})" "$T/A/error.log" "$T/B/error.log"
check "cache errors counted" test "$(status B cache_errors)" -gt 0
check "fetches past fetch-timeout counted" test "$(( $(status A cache_fetch_timeouts) + $(status B cache_fetch_timeouts) ))" -gt 0
check "server failures counted" test "$(( $(status A cache_server_errors) + $(status B cache_server_errors) ))" -gt 0
check "both hosts still up" kill -0 "$MASTER_A" "$MASTER_B"
finish
