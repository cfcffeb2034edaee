#!/bin/bash
# stime.sh - resumed and full handshakes per second on ONE cachetd worker,
# with the GDBM store, OpenSSL's internal cache and none, measured by
# openssl s_time (a client we did not write), interleaved, median of 3.
#   bash bench/stime.sh [SECONDS]        (from a built tree; as any user)
# The aim: GDBM resumed within 10% of internal.
set -u
cd "$(dirname "$0")/.."
SECS=${1:-8}
T=$(mktemp -d /tmp/cachet-stime.XXXXXX); chmod 755 "$T"
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T" /dev/shm/cachet-stime-$$.db*' EXIT
sh certs/mkcerts "$T/certs" >/dev/null
mkdir -p "$T/site"; head -c 100 /dev/zero | tr '\0' x > "$T/site/index.html"; chmod -R a+rX "$T"

start() { # store
	cat > "$T/c.conf" <<CONF
listen = {"127.0.0.1:0"}
workers = 1
root = "$T/site"
certificate = "$T/certs/server-rsa.crt"
key = "$T/certs/server-rsa.key"
access-log = "/dev/null"
error-log = "$T/error.log"
session-cache { store = "$1" }
CONF
	: > "$T/error.log"
	src/cachetd -c "$T/c.conf" & PID=$!
	for _ in $(seq 50); do
		PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/error.log")
		[ -n "$PORT" ] && break; sleep 0.1
	done
	sleep 0.3
}
rate() { # extra s_time args
	openssl s_time -connect "127.0.0.1:$PORT" -www /index.html -time "$SECS" "$@" 2>/dev/null |
		awk '/connections in .* real seconds/ {for (i = 1; i <= NF; i++) if ($i == "connections") n = $(i-1); if ($0 ~ /real seconds/) for (i = 1; i <= NF; i++) if ($i == "real") s = $(i-1); } END { if (s > 0) printf "%.0f", n / s; else print 0 }'
}
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }

declare -A R
for round in 1 2 3; do
	for store in "gdbm:/dev/shm/cachet-stime-$$.db" internal none; do
		name=${store%%:*}
		start "$store"
		for v in tls1_2 tls1_3; do
			R[$name.$v.new.$round]=$(rate -new -$v)
			R[$name.$v.reuse.$round]=$(rate -reuse -$v)
		done
		kill $PID; wait $PID 2>/dev/null
	done
done
echo "# openssl s_time, 1 worker, RSA-2048, 100-byte page, ${SECS}s per run, median of 3 (conn/s)"
printf '%-9s %-7s %8s %8s %8s\n' store proto full resumed ratio
for name in gdbm internal none; do
	for v in tls1_2 tls1_3; do
		f=$(median "${R[$name.$v.new.1]}" "${R[$name.$v.new.2]}" "${R[$name.$v.new.3]}")
		r=$(median "${R[$name.$v.reuse.1]}" "${R[$name.$v.reuse.2]}" "${R[$name.$v.reuse.3]}")
		printf '%-9s %-7s %8s %8s %8s\n' "$name" "$v" "$f" "$r" "$(awk -v a="$r" -v b="$f" 'BEGIN { if (b > 0) printf "%.2f", a / b }')"
	done
done
