#!/bin/bash
# Socket activation: sockets passed by systemd (LISTEN_PID, LISTEN_FDS, as
# systemd-socket-activate passes them) serve the listen address they are
# bound to, shared by every worker; an address not passed is bound as
# usual (a socket per worker); a passed socket that matches no address is
# closed, with a warning; a HUP to more workers keeps the passed socket
# and shares it with the new ones.
. "$top_srcdir/tests/lib.sh"
command -v systemd-socket-activate >/dev/null ||
	{ echo "# SKIP: no systemd-socket-activate"; exit 77; }
make_site "$T/site"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P1=$(free_port); P2=$(free_port); P3=$(free_port)
# P1: passed and configured; P2: configured, not passed; P3: passed only
WORKERS=2 write_conf "$T/c.conf"
sed -i "s|^listen = .*|listen = {\"127.0.0.1:$P1\", \"127.0.0.1:$P2\"}|" "$T/c.conf"
: > "$T/error.log"
systemd-socket-activate -l "127.0.0.1:$P1" -l "127.0.0.1:$P3" \
	"$CACHETD" -c "$T/c.conf" 2>>"$T/stderr.log" &
MASTER=$!
PIDS="$PIDS $MASTER"
# systemd-socket-activate starts cachetd on the first connection: once it
# listens (a connection before that is refused, and nothing starts it)
sa_listens() { [ -n "$(ss -Hltn "sport = :$P1" 2>/dev/null)" ]; }
wait_for 10 sa_listens
curl -s -k -o /dev/null --max-time 10 "https://127.0.0.1:$P1/" &
PIDS="$PIDS $!"
two_workers() { [ "$(worker_pids | wc -w)" -eq 2 ]; }
check "started on the first connection, two workers" wait_for 10 two_workers
expect_match "the passed socket is used" "$(cat "$T/error.log")" "listening on 127.0.0.1:$P1 \(socket from systemd\)"
expect_match "the address not passed is bound" "$(cat "$T/error.log")" "listening on 127.0.0.1:$P2$"
expect_match "the passed socket of no address: closed, said" "$(cat "$T/error.log")" "passed by systemd matches no listen address: closed"

listen_lines() { ss -Hltnp "sport = :$1" 2>/dev/null; }
holders() { listen_lines "$1" | grep -o 'pid=[0-9]*' | sort -u | wc -l; }
get() { curl -sS --max-time 10 --cacert "$CERTS/ca.crt" "https://localhost:$1/hello.txt"; }
served() { local i n=0; for i in $(seq "$2"); do [ "$(get "$1")" = "hello, world" ] && n=$((n + 1)); done; echo "$n"; }

expect_eq "passed address: one socket" "$(listen_lines "$P1" | wc -l)" 1
expect_eq "passed address: held by the master and both workers" "$(holders "$P1")" 3
expect_eq "address not passed: a socket per worker" "$(listen_lines "$P2" | wc -l)" 2
expect_eq "the passed socket of no address no longer listens" "$(listen_lines "$P3" | wc -l)" 0
expect_eq "passed address: 20 requests served" "$(served "$P1" 20)" 20
expect_eq "address not passed: 20 requests served" "$(served "$P2" 20)" 20

sed -i "s|^workers = .*|workers = 3|" "$T/c.conf"
kill -HUP "$MASTER"
check "HUP to three workers: reloaded" wait_for 10 grep -q "reloaded: generation 2 " "$T/error.log"
three_workers() { [ "$(worker_pids | wc -w)" -eq 3 ]; }
check "HUP to three workers: three running" wait_for 15 three_workers
expect_eq "after the HUP: still the one passed socket" "$(listen_lines "$P1" | wc -l)" 1
expect_eq "after the HUP: held by the master and the three workers" "$(holders "$P1")" 4
expect_eq "after the HUP: three sockets for the address not passed" "$(listen_lines "$P2" | wc -l)" 3
expect_eq "after the HUP: passed address serves" "$(served "$P1" 20)" 20
expect_eq "after the HUP: address not passed serves" "$(served "$P2" 20)" 20
stop_cachetd
finish
