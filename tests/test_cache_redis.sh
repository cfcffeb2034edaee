#!/bin/bash
# The Redis session store against real redis-server instances (loopback
# ports and a unix socket) and two or more cachetd "hosts" (their own
# configs, ports, logs and workers; the same seal key and Redis): a
# session made on one host resumes on another (TLS 1.2 session ID, TLS 1.3
# stateful ticket), records in Redis are sealed, a tampered record or
# another seal key costs a full handshake, and a dead, restarted, stopped
# (SIGSTOP: accepts, never answers) or password-protected server costs
# full handshakes after a bounded wait, never an error or a stuck worker.
. "$top_srcdir/tests/lib.sh"
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
	echo "# redis-server not installed: skipped"; exit 77; }
make_site "$T/site"
head -c 32 /dev/urandom > "$T/seal"
head -c 32 /dev/urandom > "$T/seal-other"
chmod 600 "$T/seal" "$T/seal-other"
RPIDS=""

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_redis NAME PORT [args...]: a redis-server that keeps nothing on disk
start_redis() {
	local name=$1 port=$2; shift 2
	mkdir -p "$T/$name"
	redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$T/$name" --logfile "$T/$name/redis.log" "$@" &
	eval "RPID_$name=$!"
	RPIDS="$RPIDS $!"
	if [ "$port" = 0 ]; then
		wait_for 10 test -S "$T/$name/redis.sock"
	else
		wait_for 10 redis-cli -p "$port" ${RAUTH:+-a "$RAUTH" --no-auth-warning} ping >/dev/null 2>&1
	fi
}
stop_redis() { # NAME
	local pid; eval "pid=\$RPID_$1"
	kill -CONT "$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null
	wait_for 10 gone "$pid"
}
stop_all_redis() {
	for p in $RPIDS; do kill -CONT "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; done
	for p in $RPIDS; do wait_for 5 gone "$p" || kill -KILL "$p" 2>/dev/null; done
	cleanup
}
trap stop_all_redis EXIT

# host_conf NAME [lines...]: a host's config, its files in $T/NAME
host_conf() {
	local name=$1; shift
	mkdir -p "$T/$name"
	cat > "$T/$name/c.conf" <<CONF
listen = {"127.0.0.1:0"}
workers = ${WORKERS:-2}
root = "$T/site"
mime-types = "$top_srcdir/conf/mime.types"
certificate = {"$CERTS/server-rsa.crt"}
key = {"$CERTS/server-rsa.key"}
access-log = "$T/$name/access.log"
error-log = "$T/$name/error.log"
pid-file = "$T/$name/cachetd.pid"
location "/status" { status = true allow-address = {"127.0.0.1"} }
CONF
	for line in "$@"; do printf '%s\n' "$line" >> "$T/$name/c.conf"; done
}
# start_host NAME: sets PORT_NAME and MASTER_NAME
start_host() {
	local name=$1 pid port
	: > "$T/$name/error.log"
	"$CACHETD" -c "$T/$name/c.conf" 2>>"$T/stderr.log" &
	pid=$!
	PIDS="$PIDS $pid"
	eval "MASTER_$name=$pid"
	host_port() {
		port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/$name/error.log" | tail -n 1)
		[ -n "$port" ] && [ "$(pgrep -P "$pid" | wc -w)" -ge "${WORKERS:-2}" ]
	}
	if ! wait_for 10 host_port; then
		echo "# host $name did not start:"; sed 's/^/#   /' "$T/$name/error.log" "$T/stderr.log"
		return 1
	fi
	eval "PORT_$name=$port"
}
port_of() { eval "echo \$PORT_$1"; }

# sess HOST FLAGS...: one connection with a request; prints New/Reused
sess() {
	local port; port=$(port_of "$1"); shift
	printf 'GET /hello.txt HTTP/1.0\r\n\r\n' | timeout 20 openssl s_client \
		-connect "127.0.0.1:$port" -CAfile "$CERTS/ca.crt" -ign_eof "$@" 2>/dev/null |
		grep -E '^(New|Reused),' | cut -d, -f1
}
stat_of() { # HOST FIELD
	C "https://localhost:$(port_of "$1")/status" | sed -n "s/^$2: //p"
}
# wait until every worker of HOST talks to Redis: a session made there
# resumes there (a worker whose link is not up yet misses at once)
resumes_on() { # HOST VERSION
	[ "$(sess "$1" "-tls$2" -sess_out "$T/probe")" = New ] &&
		[ "$(sess "$1" "-tls$2" -sess_in "$T/probe")" = Reused ]
}
# redis_get PORT KEY: the raw value, hex
redis_get() {
	python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
k = sys.argv[2].encode()
s.sendall(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(k), k))
buf = b""
while b"\r\n" not in buf:
    buf += s.recv(65536)
head, rest = buf.split(b"\r\n", 1)
n = int(head[1:])
while len(rest) < n + 2:
    rest += s.recv(65536)
print(rest[:n].hex())
PY
}
# the store key of the session in an s_client session file
sess_key() { echo "cachet:$(openssl sess_id -in "$1" -noout -text | sed -n 's/^ *Session-ID: //p' | tr 'A-F' 'a-f')"; }
master_key() { openssl sess_id -in "$1" -noout -text | sed -n 's/^ *Master-Key: //p' | tr 'A-F' 'a-f'; }

RPORT=$(free_port)
start_redis r1 "$RPORT" || { fail "redis-server did not start"; finish; }
STORE="store = \"redis:127.0.0.1:$RPORT\""

# ----------------------------------------------------------- the config
host_conf bad1 'session-cache {' 'store = "redis:localhost"' '}'
out=$("$CACHETD" -t -c "$T/bad1/c.conf" 2>&1)
expect_match "a store without a port is refused, naming the line" "$out" \
	"c.conf:$(line_of "$T/bad1/c.conf" 'store = "redis:localhost"'): store: redis: .localhost. is not HOST:PORT"
host_conf bad2 'session-cache {' 'store = "redis:unix:run/r.sock"' '}'
out=$("$CACHETD" -t -c "$T/bad2/c.conf" 2>&1)
expect_match "a relative unix socket path is refused" "$out" "absolute"
printf 'secret\n' > "$T/pw-open"; chmod 644 "$T/pw-open"
host_conf bad3 'session-cache {' "$STORE" "password-file = \"$T/pw-open\"" '}'
out=$("$CACHETD" -t -c "$T/bad3/c.conf" 2>&1)
expect_match "a password file others can read is refused, naming it" "$out" \
	"c.conf:$(line_of "$T/bad3/c.conf" "password-file = \"$T/pw-open\""): password-file '$T/pw-open': readable by group or others"
host_conf bad4 'session-cache {' "$STORE" 'fetch-timeout = 0' '}'
out=$("$CACHETD" -t -c "$T/bad4/c.conf" 2>&1)
expect_match "fetch-timeout must be positive" "$out" "fetch-timeout: must be seconds"

# ------------------------------------------- two hosts, one Redis store
# fetch-timeout generous here: these hosts check what is shared, not the
# bound (hosts d and e do), and a loaded machine can take 50 ms to answer
for h in a b; do
	host_conf $h 'session-cache {' "$STORE" "seal-key-file = \"$T/seal\"" \
		'fetch-timeout = 2' '}'
	start_host $h || { fail "host $h did not start"; finish; }
done
host_conf c 'session-cache {' "$STORE" "seal-key-file = \"$T/seal-other\"" \
	'fetch-timeout = 2' '}'
start_host c || { fail "host c did not start"; finish; }
check "host a resumes its own sessions through Redis (TLS 1.2)" wait_for 10 resumes_on a 1_2
check "host b does (TLS 1.2)" wait_for 10 resumes_on b 1_2

before_b=$(stat_of b handshakes_resumed); hits_b=$(stat_of b cache_hits)
sess a -tls1_2 -sess_out "$T/s12" >/dev/null
expect_eq "TLS 1.2: a session made on host a resumes on host b" "$(sess b -tls1_2 -sess_in "$T/s12")" Reused
expect_eq "... and again (a session ID stays until it expires)" "$(sess b -tls1_2 -sess_in "$T/s12")" Reused
expect_eq "host b's /status counts both resumptions" "$(( $(stat_of b handshakes_resumed) - before_b ))" 2
check "host b's /status counts the cache hits" test "$(( $(stat_of b cache_hits) - hits_b ))" -ge 2

sess a -tls1_3 -sess_out "$T/s13" >/dev/null
before_a=$(stat_of a handshakes_resumed)
expect_eq "TLS 1.3: a stateful ticket from host a resumes on host b" \
	"$(sess b -tls1_3 -sess_in "$T/s13" -sess_out "$T/s13b")" Reused
expect_eq "... the ticket host b issued then resumes on host a" \
	"$(sess a -tls1_3 -sess_in "$T/s13b")" Reused
expect_eq "host a's /status counts it" "$(( $(stat_of a handshakes_resumed) - before_a ))" 1
expect_eq "a TLS 1.3 ticket is single-use: the spent one is a full handshake" \
	"$(sess a -tls1_3 -sess_in "$T/s13")" New

# cachet get: --sess-out on a, the entry moved to b's address, --sess-in on b
"$CACHET" get --cacert "$CERTS/ca.crt" --tls1.2 --sess-out "$T/cg" \
	"https://localhost:$PORT_a/hello.txt" >/dev/null 2>&1
sed -i "s/^localhost:$PORT_a\$/localhost:$PORT_b/" "$T/cg"
out=$("$CACHET" get -v --cacert "$CERTS/ca.crt" --tls1.2 --sess-in "$T/cg" \
	"https://localhost:$PORT_b/hello.txt" 2>&1)
expect_match "cachet get: a session saved on host a resumes on host b" "$out" "resumed"
expect_match "... and the request is answered" "$out" "hello, world"

# records are sealed
key=$(sess_key "$T/s12")
val=$(redis_get "$RPORT" "$key")
check "the record is in Redis under cachet:<session ID>" test -n "$val"
expect_match "the record is a sealed record (version 1), not a DER session (30 82 ...)" "$val" "^01000000"
mk=$(master_key "$T/s12")
check "the session's master key is not in the record" test -n "$mk" -a "${val#*"$mk"}" = "$val"
ttl=$(redis-cli -p "$RPORT" pttl "$key")
check "Redis expires the record itself (PX: the session timeout, 300 s)" test "$ttl" -gt 200000 -a "$ttl" -le 300000

expect_eq "a host with another seal key cannot resume it" "$(sess c -tls1_2 -sess_in "$T/s12")" New

# tamper with one byte of the sealed part
b=$(redis-cli -p "$RPORT" getrange "$key" 60 60)
[ "$b" = A ] && nb=B || nb=A
redis-cli -p "$RPORT" setrange "$key" 60 "$nb" >/dev/null
wpids=$(pgrep -P "$MASTER_b" | sort | tr '\n' ' ')
miss_b=$(stat_of b cache_misses)
expect_eq "a record changed in Redis: a full handshake" "$(sess b -tls1_2 -sess_in "$T/s12")" New
check "... counted as a miss" test "$(stat_of b cache_misses)" -gt "$miss_b"
expect_eq "... and the same workers serve on" "$(pgrep -P "$MASTER_b" | sort | tr '\n' ' ')" "$wpids"
dropped() { [ "$(redis-cli -p "$RPORT" exists "$key")" = 0 ]; }
check "... which dropped the damaged record" wait_for 5 dropped

# ------------------------------------------------- Redis killed, restarted
sess a -tls1_2 -sess_out "$T/k12" >/dev/null
stop_redis r1
statuses=""
for i in 1 2 3 4; do statuses="$statuses$(status_of "https://localhost:$PORT_b/hello.txt") "; done
expect_eq "Redis down: requests are answered" "$statuses" "200 200 200 200 "
expect_eq "Redis down: a resuming client gets a full handshake" "$(sess b -tls1_2 -sess_in "$T/k12")" New
expect_eq "Redis down: TLS 1.3 too" "$(sess b -tls1_3 -sess_in "$T/s13b")" New
check "host b's /status counts server errors" test "$(stat_of b cache_server_errors)" -gt 0
start_redis r1 "$RPORT" || fail "redis-server did not restart"
check "Redis back: host a resumes again (within 15 s)" wait_for 15 resumes_on a 1_2
resume_ab() { sess a -tls1_2 -sess_out "$T/r12" >/dev/null; [ "$(sess b -tls1_2 -sess_in "$T/r12")" = Reused ]; }
check "Redis back: a session from a resumes on b again" wait_for 15 resume_ab

# ---------------------------------------------- unix socket, database 3
start_redis r2 0 --unixsocket "$T/r2/redis.sock" --unixsocketperm 777 ||
	fail "redis-server on a unix socket did not start"
host_conf u 'session-cache {' "store = \"redis:unix:$T/r2/redis.sock/3\"" \
	"seal-key-file = \"$T/seal\"" '}'
start_host u || fail "host u did not start"
check "redis:unix:PATH/DB: sessions resume" wait_for 10 resumes_on u 1_2
check "... stored in database 3" test "$(redis-cli -s "$T/r2/redis.sock" -n 3 dbsize)" -ge 1
expect_eq "... not in database 0" "$(redis-cli -s "$T/r2/redis.sock" -n 0 dbsize)" 0

# ------------------------------------------------------------ passwords
printf 'right-one\n' > "$T/pw-right"; printf 'wrong-one\n' > "$T/pw-wrong"
chmod 600 "$T/pw-right" "$T/pw-wrong"
RPORT3=$(free_port)
RAUTH=right-one start_redis r3 "$RPORT3" --requirepass right-one ||
	fail "redis-server with a password did not start"
host_conf pw 'session-cache {' "store = \"redis:127.0.0.1:$RPORT3/2\"" \
	"password-file = \"$T/pw-right\"" "seal-key-file = \"$T/seal\"" '}'
start_host pw || fail "host pw did not start"
check "password-file: AUTH and SELECT, sessions resume" wait_for 10 resumes_on pw 1_3
host_conf pwbad 'session-cache {' "store = \"redis:127.0.0.1:$RPORT3\"" \
	"password-file = \"$T/pw-wrong\"" "seal-key-file = \"$T/seal\"" '}'
start_host pwbad || fail "host pwbad did not start"
logged_auth() { grep -q "redis 127.0.0.1:$RPORT3: AUTH refused: WRONGPASS" "$T/pwbad/error.log"; }
check "a wrong password is logged clearly" wait_for 10 logged_auth
sess pwbad -tls1_2 -sess_out "$T/pw12" >/dev/null
expect_eq "a wrong password: full handshakes" "$(sess pwbad -tls1_2 -sess_in "$T/pw12")" New
expect_eq "... and requests are answered" "$(status_of "https://localhost:$PORT_pwbad/hello.txt")" 200
stop_cachetd_pid() { kill -TERM "$1"; wait_for 15 gone "$1"; }
stop_cachetd_pid "$MASTER_pwbad"; stop_cachetd_pid "$MASTER_pw"; stop_cachetd_pid "$MASTER_u"
stop_cachetd_pid "$MASTER_c"

# --------------------- a stopped Redis (SIGSTOP): accepts, never answers
# One worker, and a bound of a few seconds: a resuming handshake waits
# for Redis while a second client on the same worker is served.
WORKERS=1 host_conf d 'session-cache {' "$STORE" "seal-key-file = \"$T/seal\"" \
	'fetch-timeout = 4' '}'
WORKERS=1 start_host d || fail "host d did not start"
check "host d resumes" wait_for 10 resumes_on d 1_2
sess d -tls1_2 -sess_out "$T/d12" >/dev/null
# a second host whose handshakes give up before the fetch does: the
# connection is freed while its fetch is pending (the late answer must
# not touch it: ASan runs this too)
WORKERS=1 host_conf e 'session-cache {' "$STORE" "seal-key-file = \"$T/seal\"" \
	'fetch-timeout = 3' '}' 'handshake-timeout = 1'
WORKERS=1 start_host e || fail "host e did not start"
check "host e resumes" wait_for 10 resumes_on e 1_2
sess e -tls1_2 -sess_out "$T/e12" >/dev/null

kill -STOP "$RPID_r1"
# bytes waiting in the stopped Redis' socket: a fetch is pending there
redis_queued() {
	ss -tnH state established "( sport = :$RPORT )" | awk '$1 > 0 { q = 1 } END { exit !q }'
}
sess d -tls1_2 -sess_in "$T/d12" > "$T/first.out" &
first=$!
check "the resuming handshake's fetch is pending in the stopped Redis" wait_for 10 redis_queued
t0=$(date +%s%N)
expect_eq "meanwhile a second client on the same worker is served" \
	"$(status_of "https://localhost:$PORT_d/hello.txt")" 200
check "... while the first is still waiting for Redis" test ! -s "$T/first.out" -a -d "/proc/$first"
wait "$first"
expect_eq "the first handshake completes after the bound, in full" "$(cat "$T/first.out")" New
check "... counted as a fetch timeout" test "$(stat_of d cache_fetch_timeouts)" -ge 1
expect_eq "while Redis stays stopped, another resuming client gets a full handshake" \
	"$(sess d -tls1_2 -sess_in "$T/d12")" New
# host e: the handshake deadline (1 s) ends the connection before the
# fetch's bound (3 s); the answer that comes later finds it gone
e_workers=$(pgrep -P "$MASTER_e" | tr '\n' ' ')
ebefore=$(( $(stat_of e handshakes_failed_timeout) ))
sess e -tls1_2 -sess_in "$T/e12" >/dev/null
check "host e: a handshake that outlives its deadline while fetching is closed" \
	test "$(stat_of e handshakes_failed_timeout)" -gt "$ebefore"
e_timeout() { [ "$(stat_of e cache_fetch_timeouts)" -ge 1 ]; }
check "... the fetch's own bound passes later" wait_for 10 e_timeout
expect_eq "... and the worker is still the same, serving" \
	"$(pgrep -P "$MASTER_e" | tr '\n' ' ') $(status_of "https://localhost:$PORT_e/hello.txt")" "$e_workers 200"
kill -CONT "$RPID_r1"
check "Redis answering again: host d resumes (within 15 s)" wait_for 15 resumes_on d 1_2

# A stopped worker (TERM) with a fetch pending: it exits, nothing crashes
kill -STOP "$RPID_r1"
sess d -tls1_2 -sess_in "$T/d12" >/dev/null &
first=$!
wait_for 10 redis_queued
kill -TERM "$MASTER_d"
check "host d stops while a handshake waits for Redis" wait_for 15 gone "$MASTER_d"
wait "$first"
kill -CONT "$RPID_r1"

finish
