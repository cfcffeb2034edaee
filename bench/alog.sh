#!/bin/bash
# alog.sh - what writing the access log costs cachetd, unbuffered against
# access-log-buffer: server CPU per connection (the workers' utime+stime
# from /proc over a counted run of cachet bench) and system calls per
# connection (strace -c -f on the workers), for resumed TLS 1.2 and 1.3
# connections (the cheapest, where a log line weighs most), in both
# formats.  Medians of REPS runs, interleaved.
#   bash bench/alog.sh [COUNT] [REPS]     (from a built tree)
set -u
cd "$(dirname "$0")/.."
N=${1:-4000}
REPS=${2:-3}
T=$(mktemp -d "${TMPDIR:-/tmp}/cachet-alog.XXXXXX"); chmod 755 "$T"
trap 'kill $(jobs -p) 2>/dev/null; [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; rm -rf "$T"' EXIT
sh certs/mkcerts "$T/certs" >/dev/null
mkdir -p "$T/site"; head -c 100 /dev/zero | tr '\0' x > "$T/site/index.html"; chmod -R a+rX "$T"
HZ=$(getconf CLK_TCK)

start() { # buffer format
	cat > "$T/c.conf" <<CONF
listen = {"127.0.0.1:0"}
workers = 2
root = "$T/site"
certificate = "$T/certs/server-rsa.crt"
key = "$T/certs/server-rsa.key"
access-log = "$T/access.log"
access-log-buffer = $1
access-log-format = $2
error-log = "$T/error.log"
session-cache { store = "gdbm:/dev/shm/cachet-alog-$$.db" }
CONF
	: > "$T/error.log"; : > "$T/access.log"
	src/cachetd -c "$T/c.conf" & PID=$!
	for _ in $(seq 50); do
		PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/error.log")
		[ -n "$PORT" ] && [ "$(pgrep -P $PID | wc -w)" -eq 2 ] && break; sleep 0.1
	done
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null; PID=; rm -f /dev/shm/cachet-alog-$$.db*; }
ticks() { local p s=0; for p in $(pgrep -P "$PID"); do
	s=$((s + $(awk '{print $14 + $15}' /proc/$p/stat))); done; echo $s; }
bench() { # proto count
	src/cachet/cachet bench --mode resumed --tls$1 -p 2 -c 4 --count "$2" \
	    --warmup 0 --cacert "$T/certs/ca.crt" "https://localhost:$PORT/" >/dev/null 2>&1
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A CPU SYS
for rep in $(seq "$REPS"); do
	for fmt in combined json; do
		for buf in 0 64k; do
			for v in 1.2 1.3; do
				start "$buf" "$fmt"
				bench "$v" 200          # sessions cached, pages warm
				a=$(ticks); bench "$v" "$N"; b=$(ticks)
				CPU[$fmt.$buf.$v.$rep]=$(awk -v t=$((b - a)) -v hz="$HZ" -v n="$N" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
				if [ "$rep" -eq 1 ] && command -v strace >/dev/null; then
					args=; for p in $(pgrep -P "$PID"); do args="$args -p $p"; done
					strace -c -f -qq -o "$T/strace.out" $args & ST=$!
					sleep 0.5
					bench "$v" 1000
					kill -INT $ST; wait $ST 2>/dev/null
					SYS[$fmt.$buf.$v]=$(awk '$NF == "total" { printf "%.1f", $(NF-2) / 1000 }' "$T/strace.out")
				fi
				stop
			done
		done
	done
done
echo "# $(date -u +%FT%TZ) $(nproc) CPUs; 2 workers, RSA-2048, resumed, $N connections/run, median of $REPS; access log on $(df -T "$T" | awk 'NR==2 {print $2}')"
printf '%-9s %-7s %-6s %16s %16s\n' format buffer proto "cpu us/conn" "syscalls/conn"
for fmt in combined json; do for buf in 0 64k; do for v in 1.2 1.3; do
	c=$(median $(for r in $(seq "$REPS"); do echo "${CPU[$fmt.$buf.$v.$r]}"; done))
	printf '%-9s %-7s %-6s %16s %16s\n' "$fmt" "$buf" "TLS$v" "$c" "${SYS[$fmt.$buf.$v]:--}"
done; done; done
