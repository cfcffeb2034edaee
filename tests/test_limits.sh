#!/bin/bash
# A worker at worker-connections: idle keep-alive connections make room
# for new clients (oldest first); with none idle the excess is refused at
# once instead of waiting in the backlog; and accepting always resumes as
# soon as there is room, however long the worker was full.
. "$top_srcdir/tests/lib.sh"
make_site "$T/site"
WORKERS=1 write_conf "$T/c.conf" 'worker-connections = 10' \
	'keepalive-timeout = 50' 'header-timeout = 50' 'handshake-timeout = 50' \
	'location "/status" {' 'status = true' 'allow-address = {"127.0.0.1"}' '}'
start_cachetd "$T/c.conf" || exit 1
HOLD="python3 $top_srcdir/tests/holdconns.py"
counter() { C "$(URL /status)" | sed -n "s/^$1: //p"; }

hold() { # n mode tag: hold n connections until release_tag appears
	rm -f "$T/ready.$3" "$T/release.$3"
	$HOLD "$PORT" "$CERTS/ca.crt" "$1" "$2" "$T/ready.$3" "$T/release.$3" &
	PIDS="$PIDS $!"
	wait_for 10 test -s "$T/ready.$3"
}

# --- 10 idle keep-alive connections fill the worker; a new client is
# served all the same, because the oldest idle one makes room
hold 10 idle idle || fail "could not hold 10 idle connections"
# at the limit, but nobody new: nothing is closed
expect_eq "10 idle at the limit: all 10 still open" \
	"$(ss -Htn state established "( sport = :$PORT )" | wc -l)" 10
expect_eq "full of idle connections: a new client is served" \
	"$(C --max-time 5 "$(URL /hello.txt)")" "hello, world"
expect_eq "the next one too" "$(C --max-time 5 "$(URL /hello.txt)")" "hello, world"
drained=$(counter connections_drained)
check "an idle connection was closed to make room ($drained)" [ "${drained:-0}" -ge 1 ]
expect_match "logged once" "$(grep -c 'closing idle keep-alive connections' "$T/error.log")" "^1$"
touch "$T/release.idle"

# --- 10 slow clients (half a request each) fill the worker and none is
# idle: new clients are refused promptly, not left in the backlog ...
one_conn() { [ "$(counter connections)" = 1 ]; }   # only the status request
wait_for 5 one_conn
hold 10 slow slow || fail "could not hold 10 slow connections"
for i in 1 2 3; do
	t0=$(date +%s%N)
	out=$(C --max-time 8 "$(URL /hello.txt)" 2>&1); rc=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	if [ $rc -ne 0 ] && [ $rc -ne 28 ] && [ $ms -lt 3000 ]; then
		ok "full, none idle: attempt $i refused in $ms ms (curl $rc)"
	else
		fail "full, none idle: attempt $i: curl $rc after $ms ms: $out"
	fi
done
expect_match "refusal logged" "$(cat "$T/error.log")" "worker-connections \(10\) reached, none idle: refusing"
# ... and once they go, accepting resumes (the worker was full for longer
# than any one-shot timer)
touch "$T/release.slow"
served() { [ "$(C --max-time 2 "$(URL /hello.txt)" 2>/dev/null)" = "hello, world" ]; }
check "room again: accepting resumed" wait_for 5 served
refused=$(counter connections_refused)
check "refused connections counted ($refused)" [ "${refused:-0}" -ge 3 ]

# --- raw TCP connections that never send a byte hold a slot only: they
# are the first to make room (as in nginx), so they cannot lock clients out
d0=$(counter connections_drained)
hold 10 raw raw || fail "could not hold 10 raw connections"
expect_eq "raw flood: a new client is served" "$(C --max-time 5 "$(URL /hello.txt)")" "hello, world"
d1=$(counter connections_drained)
check "raw flood: silent connections were closed to make room ($d0 -> $d1)" [ "$d1" -gt "$d0" ]
touch "$T/release.raw"
finish
