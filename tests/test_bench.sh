#!/bin/bash
# cachet bench against cachetd: the reuse check is real (100% against the
# GDBM store, 0% against store "none"), --json and --csv hold the fields,
# refused connections are counted, not fatal.
. "$top_srcdir/tests/lib.sh"
make_site "$T/site"
B() { "$CACHET" bench --cacert "$CERTS/ca.crt" --warmup 0 "$@"; }
json_field() { python3 -c 'import json,sys; d=json.load(sys.stdin); r=[x for x in d["results"] if x["mode"]==sys.argv[1]][0]; print(eval(sys.argv[2], {}, r))' "$@"; }

write_conf "$T/g.conf" 'session-cache {' "store = \"gdbm:$T/s.db\"" '}'
start_cachetd "$T/g.conf" || exit 1
for v in 1.2 1.3; do
	out=$(B --tls$v -n 50 --mode resumed --json "$(URL /hello.txt)")
	expect_eq "gdbm TLS $v: 50 resumed connections counted" "$(printf '%s' "$out" | json_field resumed 'connections')" 50
	expect_eq "gdbm TLS $v: 100% resumed" "$(printf '%s' "$out" | json_field resumed 'resumed_pct')" 100.0
	out=$(B --tls$v -n 50 --mode resumed --handshake-only --json "localhost:$PORT")
	expect_eq "gdbm TLS $v handshake-only: 100% resumed" "$(printf '%s' "$out" | json_field resumed 'resumed_pct')" 100.0
done
out=$(B -n 40 --mode both --json "$(URL /hello.txt)")
python3 - "$out" <<'PY' && ok "--json parses and holds every field" || fail "--json fields"
import json, sys
d = json.loads(sys.argv[1])
assert d["target"].startswith("https://localhost:")
assert [r["mode"] for r in d["results"]] == ["full", "resumed"]
for r in d["results"]:
    for k in ("connections", "seconds", "conn_per_s", "resumed", "resumed_pct", "latency_ms", "errors", "cpu_s"):
        assert k in r, k
    assert set(r["latency_ms"]) == {"p50", "p90", "p99", "max"}
    assert set(r["errors"]) == {"connect", "handshake", "io", "http", "timeout"}
    assert r["connections"] == 40 and r["conn_per_s"] > 0
    assert r["latency_ms"]["p50"] <= r["latency_ms"]["p99"] <= r["latency_ms"]["max"]
assert d["results"][0]["resumed"] == 0
assert d["results"][1]["resumed_pct"] == 100.0
PY
out=$(B -n 20 --mode full --csv "$(URL /hello.txt)")
expect_match "--csv: header" "$out" "^mode,conn_per_s,connections,resumed,resumed_pct,p50_ms"
expect_match "--csv: a full row" "$(printf '%s' "$out" | sed -n 2p)" "^full,[0-9.]+,20,0,0.0,"
out=$(B -n 30 -c 4 -p 2 --mode resumed "$(URL /hello.txt)")
expect_match "table: two processes, resumed 100%" "$out" "^resumed +[0-9.]+ +30 +100.0 "
expect_match "table: header" "$out" "conn/s +conns +resumed% +p50_ms"
out=$(B -n 10 --mode full --json "$(URL /missing)")
expect_eq "a 404 is counted as an http error" "$(printf '%s' "$out" | json_field full 'errors["http"]')" 10
# Ctrl-C (SIGINT to the bench) prints the results so far, at once: sent
# once requests are being served, well before the 30 s the run would take
# (the access log, opened O_APPEND, is emptied of the runs above first).
# With 4 connections in flight, 10 requests served mean the bench has
# finished at least 6 (a line is logged before the client reads the
# answer: after the first one alone, a slow client may count none yet).
: > "$T/access.log"
"$CACHET" bench --cacert "$CERTS/ca.crt" --warmup 0 -d 30 -c 4 --mode full --csv "$(URL /hello.txt)" > "$T/int.csv" 2>/dev/null &
BP=$!; PIDS="$PIDS $BP"
served_10() { [ "$(grep -c 'GET /hello.txt' "$T/access.log")" -ge 10 ]; }
wait_for 10 served_10
kill -INT "$BP"
check "SIGINT stops the bench" wait_for 10 gone "$BP"
wait "$BP"; rc=$?
expect_eq "SIGINT: exit 0" "$rc" 0
expect_match "SIGINT: results so far printed" "$(cat "$T/int.csv")" "^full,[0-9.]+,[1-9][0-9]*,"
stop_cachetd

write_conf "$T/n.conf" 'session-cache {' 'store = "none"' '}'
start_cachetd "$T/n.conf" || exit 1
for v in 1.2 1.3; do
	out=$(B --tls$v -n 50 --mode resumed --json "$(URL /hello.txt)")
	expect_eq "store none TLS $v: 0% resumed (the check is real)" "$(printf '%s' "$out" | json_field resumed 'resumed_pct')" 0.0
	expect_eq "store none TLS $v: the connections still count" "$(printf '%s' "$out" | json_field resumed 'connections')" 50
done
stop_cachetd

# a closed port: errors counted, no crash, exit 3
CLOSED=$PORT
out=$(B -n 30 --mode full --json "https://localhost:$CLOSED/"); rc=$?
expect_eq "closed port: exit 3" "$rc" 3
check "closed port: connect errors counted" test "$(printf '%s' "$out" | json_field full 'errors["connect"]')" -ge 30
B "ftp://nowhere/" >/dev/null 2>&1; rc=$?
expect_eq "bad target: usage, exit 2" "$rc" 2
B --mode sideways "$(URL /)" >/dev/null 2>&1; rc=$?
expect_eq "bad mode: usage, exit 2" "$rc" 2

# Every numeric option is parsed whole: a usage error (exit 2) that names
# the option, and nothing measured (atoi/atof took "-d 5x" as 5).
bad() { # option-as-named args...
	local name=$1 out rc; shift
	out=$("$CACHET" bench --cacert "$CERTS/ca.crt" "$@" "https://localhost:$CLOSED/" 2>"$T/bad.err"); rc=$?
	if [ "$rc" = 2 ] && [ -z "$out" ] && grep -q -- "^cachet bench: $name: '" "$T/bad.err"; then
		ok "bench $(printf "'%s' " "$@"): refused, naming $name"
	else fail "bench $*: exit $rc, stdout '$(printf '%s' "$out" | head -c 200)', stderr: $(head -c 300 "$T/bad.err")"; fi
}
bad -d/--duration -d 5x
bad -d/--duration -d ""
bad -d/--duration -d nan
bad -d/--duration -d 0
bad -d/--duration --duration=-1
bad -c/--concurrency -c 8k
bad -c/--concurrency -c 0
bad -p/--procs -p 65
bad -p/--procs -p 1.5
bad -n/--count -n 10x
bad -n/--count -n -1
bad -n/--count -n 99999999999999999999
bad --warmup --warmup 1s
bad --warmup --warmup inf
bad --keepalive --keepalive 0
bad --keepalive --keepalive " 2"

# The results' shared memory cannot be mapped (64 processes need ~1 GiB):
# a clear error, exit 1, no table of garbage, no process left behind.
if (ulimit -v 400000; "$CACHET" --version) >/dev/null 2>&1; then
	out=$( (ulimit -v 400000; exec "$CACHET" bench --cacert "$CERTS/ca.crt" -p 64 -n 64 --mode full --json "https://localhost:$CLOSED/") 2>"$T/mm.err"); rc=$?
	expect_eq "mmap fails: exit 1" "$rc" 1
	expect_match "mmap fails: says why" "$(cat "$T/mm.err")" "^cachet bench: cannot map [0-9]+ MiB of shared memory for 64 process"
	expect_eq "mmap fails: nothing printed as results" "$out" ""
else
	echo "# cachet does not start under ulimit -v (sanitizer build): mmap failure not tested"
fi
finish
