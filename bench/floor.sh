#!/bin/bash
# bench/floor.sh - server CPU and system calls per connection of cachetd and
# nginx against the floor: bench/floor, the least a TLS server can do per
# connection with this OpenSSL and this kernel.
#
#   bash bench/floor.sh           (from a built tree: make)
#
# What the floor is: one process, one epoll loop; per connection accept4,
# a TLS handshake with OpenSSL's own in-process session cache (stateful
# resumption: session IDs in TLS 1.2, one stateful ticket in 1.3), a read
# until the end of the request head, one fixed 100-byte response in one
# SSL_write, close_notify sent "more follows" with close()'s FIN, close;
# with ACCESS_LOG=file one combined-format line per request by write(2).
# What it is not: no shared session cache (nothing leaves the process, no
# lock), no HTTP parsing, no file to find, open or send, no timers, no
# configuration.  So it is the lower bound of server CPU per connection for
# this OpenSSL and kernel: the TLS library, the kernel's TCP over loopback
# and the scheduling that any server pays; what a server spends above it is
# its own.  It is not a server: never run it for anything else.
#
# Each server runs with one worker (the floor's cache is per process):
#   floor    bench/floor -w 1
#   nginx    as bench/compare: shared:SSL:10m, tickets off; worker_processes 1
#   cachetd  as bench/compare's cachetd-gdbm: GDBM on /dev/shm; workers = 1
# Method, as bench/compare's cost tool: the worker's utime + stime from
# /proc/PID/stat before and after a counted run of `cachet bench --count N
# -p 2 -c 4` (after 200 connections of warm-up), per connection; in a
# separate run (strace slows the server) the worker's system calls (strace
# -c -f attached to it) per connection over STRACE_N connections.
# The machine is shared and noisy: every repetition runs all servers one
# after the other, and the ratios (server/nginx, server/floor) are taken
# within a repetition, then their median is reported.
#
# Settings (environment): REPS=5 SERVERS="floor cachetd nginx"
# CASES="1.2-resumed 1.3-resumed 1.2-full" ACCESS_LOGS="off file"
# N_RESUMED12=10000 N_RESUMED13=4000 N_FULL=1000 (connections per counted
# run: each >= 1 s of server CPU) STRACE_N=1000 STRACE_REPS=1 (strace in
# the first STRACE_REPS repetitions only: the counts hardly vary)
# PERF=1 (then a perf profile of the floor, TLS 1.2 resumed, by DSO)
# INSTR=1 (instead: user-space instructions per connection under
# callgrind, INSTR_N1=300 INSTR_N2=1300; OUT becomes floor-instr.md)
# OUT=bench/results/floor.md CACHETD=src/cachetd
# Everything started is stopped on exit.
set -u
cd "$(dirname "$0")/.."
TOP=$(pwd)
REPS=${REPS:-5}
SERVERS=${SERVERS:-floor cachetd nginx}
CASES=${CASES:-1.2-resumed 1.3-resumed 1.2-full}
ACCESS_LOGS=${ACCESS_LOGS:-off file}
N_RESUMED12=${N_RESUMED12:-10000}
N_RESUMED13=${N_RESUMED13:-4000}
N_FULL=${N_FULL:-1000}
STRACE_REPS=${STRACE_REPS:-1}
PERF=${PERF:-1}
INSTR_N1=${INSTR_N1:-300}
INSTR_N2=${INSTR_N2:-1300}
RUNNER=""              # a command the server runs under (INSTR: valgrind)
OUT=${OUT:-$TOP/bench/results/floor.md}
CACHET=$TOP/src/cachet/cachet
CACHETD=${CACHETD:-$TOP/src/cachetd}
FLOOR=$TOP/bench/floor
for x in "$CACHET" "$CACHETD" "$FLOOR"; do
	[ -x "$x" ] || { echo "floor.sh: $x missing: build first (make)" >&2; exit 1; }
done
for x in nginx strace curl python3; do
	command -v $x >/dev/null || { echo "floor.sh: $x missing" >&2; exit 1; }
done

W=$(mktemp -d /tmp/cachet-floor.XXXXXX)
DB=/dev/shm/cachet-floor-$$.db
chmod 755 "$W"
SPID=""
PIDS=""
cleanup() {
	local p
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.5
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$W" "$DB"*
}
trap cleanup EXIT
trap 'exit 1' INT TERM
sh certs/mkcerts "$W/certs" >/dev/null
mkdir -p "$W/site" "$(dirname "$OUT")"
head -c 99 /dev/zero | tr '\0' x > "$W/site/index.html"; echo >> "$W/site/index.html"
chmod -R a+rX "$W"
CRT=$W/certs/server-rsa.crt
KEY=$W/certs/server-rsa.key

. "$TOP/bench/lib.sh"

# start SERVER LOG(off|file): sets PORT and SPID
start() {
	local s=$1 log=$2
	PORT=$(free_port)
	rm -f "$W"/*-access.log
	case $s in
	nginx)
		nginx_conf "$W/nginx.conf" "$PORT" 1 "$log" "$CRT" "$KEY"
		$RUNNER nginx -c "$W/nginx.conf" -g 'daemon off;' 2>>"$W/nginx.err" & SPID=$! ;;
	cachetd)
		rm -f "$DB"*
		cachetd_conf "$W/cachetd.conf" "$PORT" 1 "$log" "$CRT" "$KEY" "gdbm:$DB"
		$RUNNER "$CACHETD" -c "$W/cachetd.conf" 2>>"$W/cachetd.err" & SPID=$! ;;
	floor)
		local args=""
		[ "$log" = file ] && args="-l $W/floor-access.log"
		$RUNNER "$FLOOR" -c "$CRT" -k "$KEY" -p "$PORT" -w 1 $args 2>>"$W/floor.err" & SPID=$! ;;
	esac
	PIDS="$PIDS $SPID"
	wait_tls "$PORT" || { echo "floor.sh: $s did not start:" >&2; tail -n 3 "$W"/*.err >&2; return 1; }
}

# INSTR=1: user-space instructions per connection instead, counted by
# callgrind (repeatable, unlike CPU time on a shared machine; the kernel's
# share is not in them).  The server runs under valgrind twice, for
# INSTR_N1 and INSTR_N2 connections; the worker's totals differ by what
# INSTR_N2 - INSTR_N1 connections cost (start, warm-up and exit cancel).
instr_run() { # SERVER PROTO MODE N -> the worker's instructions
	rm -f "$W"/cg/cg.*
	RUNNER="valgrind --tool=callgrind --trace-children=yes --callgrind-out-file=$W/cg/cg.%p.out" \
	    start "$1" off || { stop; return 1; }
	counted "$2" "$3" "$4"
	stop
	for f in "$W"/cg/cg.*.out; do awk '/^totals:/ { print $2 }' "$f"; done |
	    sort -n | tail -n 1
}
if [ "${INSTR:-0}" = 1 ]; then
	command -v valgrind >/dev/null || { echo "floor.sh: valgrind missing" >&2; exit 1; }
	mkdir -p "$W/cg"; chmod 1777 "$W/cg"   # the workers drop privileges
	WAIT_N=600
	OUT=${OUT%.md}-instr.md
	{
	echo "# User-space instructions per connection (callgrind): cachetd and nginx against the floor"
	echo
	echo "\`INSTR=1 bash bench/floor.sh\` (INSTR_N1=$INSTR_N1 INSTR_N2=$INSTR_N2; full handshakes a fifth of those)"
	echo
	echo "# $(date -u +%FT%TZ) $(nproc) CPUs, $(uname -r); nginx $(nginx -v 2>&1 | sed 's/.*\///'), $("$CACHETD" -v | head -n 1) ($(git -C "$TOP" describe --always --dirty 2>/dev/null)), $(openssl version | cut -d' ' -f1-2), $(valgrind --version)"
	echo
	echo "One worker each, no access log, RSA-2048, 100-byte page; the worker's instructions per connection."
	echo
	echo "| case | $(printf '%s | ' $SERVERS)$(printf '%s ÷ floor | ' $SERVERS | sed 's/floor ÷ floor | //')cachetd ÷ nginx |"
	echo "|$(printf -- '---|%.0s' $(seq $(( $(echo $SERVERS | wc -w) * 2 + 1))))"
	} | tee "$W/instr.md"
	for c in $CASES; do
		v=${c%-*} mode=${c#*-} n1=$INSTR_N1 n2=$INSTR_N2
		[ "$mode" = full ] && n1=$((n1 / 5)) n2=$((n2 / 5))
		row="| TLS $v $mode |" per=""
		for s in $SERVERS; do
			a=$(instr_run "$s" "$v" "$mode" "$n1") b=$(instr_run "$s" "$v" "$mode" "$n2")
			x=$(awk -v a="$a" -v b="$b" -v n=$((n2 - n1)) 'BEGIN { if (a > 0 && b > a) printf "%.0f", (b - a) / n; else print "-" }')
			per="$per $s=$x"
			row="$row $x |"
		done
		row="$row$(echo "$per" | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2]; o[i] = kv[1] }
			for (i = 1; i <= NF; i++) if (o[i] != "floor") printf " %s |", (v["floor"] > 0 && v[o[i]] > 0) ? sprintf("%.2f", v[o[i]] / v["floor"]) : "-"
			printf " %s |", (v["nginx"] > 0 && v["cachetd"] > 0) ? sprintf("%.2f", v["cachetd"] / v["nginx"]) : "-" }')"
		echo "$row" | tee -a "$W/instr.md"
	done
	cp "$W/instr.md" "$OUT"
	echo "report: $OUT"
	exit 0
fi

RAW=$W/raw.txt
: > "$RAW"
MACHINE="# $(date -u +%FT%TZ) $(nproc) CPUs, $(uname -r); nginx $(nginx -v 2>&1 | sed 's/.*\///'), $("$CACHETD" -v | head -n 1) ($(git -C "$TOP" describe --always --dirty 2>/dev/null)), $(openssl version | cut -d' ' -f1-2); $REPS runs; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$MACHINE"
for rep in $(seq "$REPS"); do
	for log in $ACCESS_LOGS; do
		for s in $SERVERS; do
			CUR=$s-log$log
			start "$s" "$log" || { stop; continue; }
			for c in $CASES; do
				v=${c%-*} mode=${c#*-}
				case $c in
				1.2-resumed) n=$N_RESUMED12 ;;
				1.3-resumed) n=$N_RESUMED13 ;;
				*) n=$N_FULL ;;
				esac
				st=0; [ "$rep" -le "$STRACE_REPS" ] && st=1
				r=$(cost "$v" "$mode" "$n" "$st")
				echo "$rep $log $s $v $mode $r" | tee -a "$RAW"
			done
			stop
		done
	done
done

# A profile of the floor by DSO, TLS 1.2 resumed, no access log.
PROFILE=""
if [ "$PERF" = 1 ] && command -v perf >/dev/null; then
	start floor off && {
		counted 1.2 resumed 200
		w=$(workers | xargs | tr ' ' ,)
		perf record -q -e cpu-clock -g -o "$W/perf.data" -p "$w" >/dev/null 2>&1 & ppid=$!
		sleep 1
		counted 1.2 resumed "$N_RESUMED12"
		kill -INT "$ppid"; wait "$ppid" 2>/dev/null
		PROFILE=$(perf report -i "$W/perf.data" --no-children -g none --sort dso --stdio 2>/dev/null | grep -v '^$')
	}
	stop
fi

{
	echo "# Server CPU per connection: cachetd and nginx against the floor"
	echo
	echo "\`REPS=$REPS bash bench/floor.sh\` (N_RESUMED12=$N_RESUMED12 N_RESUMED13=$N_RESUMED13 N_FULL=$N_FULL STRACE_N=$STRACE_N STRACE_REPS=$STRACE_REPS ACCESS_LOGS=\"$ACCESS_LOGS\")"
	echo
	echo "$MACHINE"
	echo
	echo "One worker each, RSA-2048, 100-byte page; client \`cachet bench -k --count N -p 2 -c 4\`."
	echo "CPU: the worker's utime + stime over the counted run, per connection."
	echo "Ratios are taken within a repetition, then the median; syscalls are over $STRACE_N connections (strace -c -f)."
	echo
	python3 - "$RAW" "$SERVERS" <<'PY'
import collections, statistics, sys
raw, servers = sys.argv[1], sys.argv[2].split()
cpu = collections.defaultdict(dict)     # (log, v, mode) -> {rep: {server: us}}
calls = collections.defaultdict(list)   # (log, v, mode, server) -> [n]
for line in open(raw):
    f = line.split()
    if len(f) < 7 or f[5] in ("", "-"):
        continue
    rep, log, s, v, mode, c, sc = f[:7]
    cpu[(log, v, mode)].setdefault(rep, {})[s] = float(c)
    if sc != "-":
        calls[(log, v, mode, s)].append(float(sc))
def med(x):
    return statistics.median(x) if x else None
def fmt(x, p="%.1f"):
    return p % x if x is not None else "-"
pairs = [(a, b) for a, b in (("cachetd", "floor"), ("nginx", "floor"), ("cachetd", "nginx"))
         if a in servers and b in servers]
for log in dict.fromkeys(k[0] for k in cpu):
    print("## Access log: %s\n" % log)
    hdr = ["case"] + ["%s µs/conn" % s for s in servers] + ["%s syscalls/conn" % s for s in servers] + \
          ["%s/%s" % p for p in pairs]
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    detail = []
    for key in [k for k in cpu if k[0] == log]:
        reps = cpu[key]
        row = ["TLS %s %s" % key[1:]]
        row += [fmt(med([r[s] for r in reps.values() if s in r]), "%.0f") for s in servers]
        row += [fmt(med(calls[key + (s,)])) for s in servers]
        for a, b in pairs:
            rs = [r[a] / r[b] for r in reps.values() if a in r and b in r and r[b] > 0]
            row.append(fmt(med(rs), "%.2f"))
            detail.append("- TLS %s %s, %s/%s per run: %s" % (key[1], key[2], a, b,
                          " ".join("%.2f" % x for x in rs)))
        print("| " + " | ".join(row) + " |")
    print()
    print("Every run, µs/conn (" + " / ".join(servers) + "):")
    print()
    for key in [k for k in cpu if k[0] == log]:
        print("- TLS %s %s: %s" % (key[1], key[2], "  ".join(
            "/".join(fmt(r.get(s), "%.0f") for s in servers) for _, r in sorted(cpu[key].items()))))
    print()
    print("Ratios per run:")
    print()
    print("\n".join(detail))
    print()
PY
	if [ -n "$PROFILE" ]; then
		echo "## Where the floor's worker spends its CPU (TLS 1.2 resumed, no log)"
		echo
		echo "\`perf record -e cpu-clock -g -p <worker>\` over $N_RESUMED12 connections; \`perf report --no-children -g none --sort dso\`:"
		echo
		echo '```'
		echo "$PROFILE" | grep -v '^#' | sed '/^ *$/d'
		echo '```'
	fi
} > "$W/report.md"
cat "$W/report.md"
cp "$W/report.md" "$OUT"
mkdir -p "$(dirname "$OUT")/floor"
cp "$RAW" "$W"/strace-*.txt "$(dirname "$OUT")/floor/" 2>/dev/null
echo "report: $OUT"
