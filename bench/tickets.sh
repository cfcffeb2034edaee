#!/bin/bash
# tickets.sh - resumed handshakes per second on ONE cachetd worker with
# stateless session tickets, by where the ticket keys come from: keys made
# per slot in the shared ring (the default), ticket-key-files, and, for
# reference, the shared GDBM session cache (tickets off).  openssl s_time
# (a client we did not write), interleaved rounds, median of 3.
#   bash bench/tickets.sh [SECONDS]          (from a built tree)
#   CACHETD=/other/build/src/cachetd bash bench/tickets.sh   (another build,
#   e.g. one whose tickets use OpenSSL's own per-context key: the rows
#   "ring" and "files" then both show that)
# The aim: the key callback (a lock on the ring, the MAC key set per
# ticket) costs nothing measurable against a resumed handshake.
set -u
cd "$(dirname "$0")/.."
SECS=${1:-5}
CACHETD=${CACHETD:-src/cachetd}
T=$(mktemp -d /tmp/cachet-tickets.XXXXXX); chmod 755 "$T"
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T" /dev/shm/cachet-tickets-$$.db*' EXIT
sh certs/mkcerts "$T/certs" >/dev/null
mkdir -p "$T/site"; head -c 100 /dev/zero | tr '\0' x > "$T/site/index.html"; chmod -R a+rX "$T"
head -c 80 /dev/urandom > "$T/ticket.key"; chmod 600 "$T/ticket.key"

start() { # extra config lines
	cat > "$T/c.conf" <<CONF
listen = {"127.0.0.1:0"}
workers = 1
root = "$T/site"
certificate = "$T/certs/server-rsa.crt"
key = "$T/certs/server-rsa.key"
access-log = "/dev/null"
error-log = "$T/error.log"
CONF
	printf '%s\n' "$@" >> "$T/c.conf"
	: > "$T/error.log"
	"$CACHETD" -c "$T/c.conf" & PID=$!
	for _ in $(seq 50); do
		PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/error.log")
		[ -n "$PORT" ] && break; sleep 0.1
	done
	sleep 0.3
}
# cpu: utime + stime of the worker, in clock ticks
cpu() { awk '{print $14 + $15}' "/proc/$(pgrep -P "$PID" | head -n 1)/stat"; }
# rate ARGS: "CONN/S US/CONN": s_time's count, and the worker's CPU per
# connection over the run (steadier than conn/s on a shared machine)
rate() {
	local c0 c1 out
	c0=$(cpu)
	out=$(openssl s_time -connect "127.0.0.1:$PORT" -www /index.html -time "$SECS" "$@" 2>/dev/null)
	c1=$(cpu)
	printf '%s\n' "$out" | awk -v t0="$c0" -v t1="$c1" -v hz="$(getconf CLK_TCK)" '
		/connections in .* real seconds/ {
			for (i = 1; i <= NF; i++) {
				if ($i == "connections") n = $(i - 1)
				if ($i == "real") s = $(i - 1)
			}
		}
		END { if (s > 0 && n > 0) printf "%.0f %.0f", n / s, (t1 - t0) / hz * 1e6 / n; else print "0 0" }'
}
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
gone() { ! kill -0 "$1" 2>/dev/null; }

declare -A R U
names="ring files gdbm"
for round in 1 2 3; do
	for name in $names; do
		case $name in
		ring)  start 'session-tickets = true' ;;
		files) start 'session-tickets = true' "ticket-key-files = {\"$T/ticket.key\"}" ;;
		gdbm)  start "session-cache { store = \"gdbm:/dev/shm/cachet-tickets-$$.db\" }" ;;
		esac
		for v in tls1_2 tls1_3; do
			if gone "$PID"; then R[$name.$v.$round]=0; U[$name.$v.$round]=0; continue; fi
			read -r R[$name.$v.$round] U[$name.$v.$round] <<< "$(rate -reuse -$v)"
		done
		kill $PID 2>/dev/null; wait $PID 2>/dev/null
	done
done
echo "# openssl s_time -reuse, 1 worker, RSA-2048, 100-byte page, ${SECS}s per run,"
echo "# median of 3: resumed conn/s, and the worker's CPU per connection (us); $CACHETD"
printf '%-6s %9s %9s %9s %9s\n' keys 1.2/s 1.2us 1.3/s 1.3us
for name in $names; do
	printf '%-6s' "$name"
	for v in tls1_2 tls1_3; do
		printf ' %9s %9s' "$(median "${R[$name.$v.1]}" "${R[$name.$v.2]}" "${R[$name.$v.3]}")" \
			"$(median "${U[$name.$v.1]}" "${U[$name.$v.2]}" "${U[$name.$v.3]}")"
	done
	echo
done
