#!/bin/bash
# The GDBM session cache under accident and attack, against a live cachetd
# with 4 workers (issue 9 items 3-6, issue 10 defect 1):
#  - workers SIGKILLed again and again while they store: the file stays
#    usable (stats reads it whole) and resumption comes back;
#  - junk written over the buckets while cachetd runs (the header still
#    opens): `cachet cache stats` says so and changes nothing, then the
#    first worker that meets it repairs it, once, logs and counts it;
#  - the lock file removed under load while a worker restarts: no damage
#    (no repair needed), a new lock file, resumption works;
#  - symbolic and hard links planted at the cache and lock paths (root):
#    cachetd refuses to start and the targets keep bytes, owner and mode;
#  - a flood of full handshakes over max-entries = 50: the record count
#    never passes 50, evictions are counted, full is logged once, and a
#    normal client still resumes;
#  - TLS 1.3 tickets are single-use: 20 resumptions do not add 20 records,
#    and a spent ticket does not resume;
#  - `cachet cache stats|list` on a file that is not a cache: exit 1 with
#    the reason, the file keeps its bytes and mode, no lock file appears.
. "$top_srcdir/tests/lib.sh"
make_site "$T/site"
mkdir -p "$T/cache"
chmod 755 "$T/cache"
# The workers' own folder, as the man page advises: they can then recreate
# a removed lock file, and recovery can write its copy beside the file.
[ "$(id -u)" = 0 ] && chown nobody "$T/cache"
DB=$T/cache/sessions.db
WORKERS=4

G() { timeout 30 "$CACHET" get --cacert "$CERTS/ca.crt" "$@"; }
# resumed VERSION N: reconnections (of N) that resumed
resumed() {
	G "--tls$1" -r "$2" "$(URL /hello.txt)" 2>&1 >/dev/null |
		grep -c "^connection [0-9]*: TLSv$1 .* resumed$"
}
status_field() { C "$(URL /status)" | sed -n "s/^$1: //p"; }
records() { "$CACHET" cache stats "$DB" 2>/dev/null | sed -n 's/^records: //p'; }
# load SECONDS: full handshakes (stores) and resumptions, both versions
LOADPIDS=""
load() {
	local v mode
	for v in 1.2 1.3; do
		for mode in full resumed; do
			timeout $(($1 + 20)) "$CACHET" bench --cacert "$CERTS/ca.crt" \
				--handshake-only "--tls$v" --mode "$mode" -c 4 -d "$1" \
				--warmup 0 "localhost:$PORT" >/dev/null 2>&1 &
			LOADPIDS="$LOADPIDS $!"; PIDS="$PIDS $!"
		done
	done
}
load_wait() { local p; for p in $LOADPIDS; do wait "$p" 2>/dev/null; done; LOADPIDS=""; }
nworkers() { worker_pids | wc -w; }
four_workers() { [ "$(nworkers)" -eq 4 ]; }
# junk over the file from 12 KiB to its end, size kept
junk_tail() {
	python3 - "$1" <<'PY'
import os, sys
p = sys.argv[1]; n = os.path.getsize(p)
with open(p, "r+b") as f:
    f.seek(12288); f.write(bytes((i * 131 + 7) % 256 for i in range(max(0, n - 12288))))
PY
}

STATUS='location "/status" { status = true allow-address = {"127.0.0.1"} }'
write_conf "$T/c.conf" 'session-cache {' "store = \"gdbm:$DB\"" '}' "$STATUS"
start_cachetd "$T/c.conf" || exit 1

# --- item 3: workers killed while storing
load 8
kills=0
for i in $(seq 24); do
	victim=$(ps -o pid= --sort=start_time --ppid "$MASTER" | head -n 1 | tr -d ' ')
	[ -n "$victim" ] && kill -KILL "$victim" 2>/dev/null && kills=$((kills + 1))
	wait_for 3 four_workers
	sleep 0.2               # pace: let the new worker take some load
done
load_wait
wait_for 5 four_workers
out=$("$CACHET" cache stats "$DB" 2>&1); rc=$?
expect_eq "after $kills SIGKILLs under load: stats reads the whole file" "$rc" 0
check "after the kills: records kept ($(records))" test "$(records)" -ge 1
expect_eq "after the kills: TLS 1.2 resumes (3 of 3)" "$(resumed 1.2 3)" 3
expect_eq "after the kills: TLS 1.3 resumes (3 of 3)" "$(resumed 1.3 3)" 3
rep=$(status_field cache_repairs)
echo "# $kills workers killed under load: $rep repair(s) of the cache file"
if [ "${rep:-0}" -gt 0 ]; then
	expect_match "repairs are logged" "$(cat "$T/error.log")" "was damaged .*(recovered|recreated)"
fi
expect_nomatch "no damage left for later" "$(cat "$T/error.log")" "will repair"

# --- item 3 and issue 10 defect 1: junk over the buckets while running
G --tls1.2 -r 0 "$(URL /hello.txt)" >/dev/null 2>&1
load 1; load_wait
check "a cache of some size to damage ($(stat -c %s "$DB") bytes)" test "$(stat -c %s "$DB")" -gt 20000
rep0=$(status_field cache_repairs)
junk_tail "$DB"
cp "$DB" "$T/damaged.copy"
out=$("$CACHET" cache stats "$DB" 2>&1); rc=$?
expect_eq "stats on a damaged file: exit 1" "$rc" 1
expect_match "stats on a damaged file: says why" "$out" "cannot be read"
expect_nomatch "stats on a damaged file: no 'records: 0'" "$out" "records: 0"
check "stats on a damaged file: changed nothing" cmp -s "$DB" "$T/damaged.copy"
n=0
for i in $(seq 6); do
	G --tls1.2 "$(URL /hello.txt)" >/dev/null 2>&1 && n=$((n + 1))
	G --tls1.3 "$(URL /hello.txt)" >/dev/null 2>&1 && n=$((n + 1))
done
expect_eq "damaged cache: every connection served" "$n" 12
rep1=$(status_field cache_repairs)
expect_eq "damaged cache: repaired once" "$((rep1 - rep0))" 1
expect_eq "repaired: TLS 1.2 resumes again" "$(resumed 1.2 3)" 3
expect_eq "repaired: TLS 1.3 resumes again" "$(resumed 1.3 3)" 3
expect_match "repair logged" "$(cat "$T/error.log")" "sessions.db' was damaged .*(recovered|recreated)"
out=$("$CACHET" cache stats "$DB" 2>&1); rc=$?
expect_eq "repaired: stats exit 0" "$rc" 0
expect_match "stats shows the repairs" "$out" "repairs: [1-9]"

# --- item 4: the lock file removed under load, a worker restarted
rep0=$(status_field cache_repairs)
load 4
rm -f "$DB.lock"
victim=$(worker_pids | awk '{print $1}')
kill -TERM "$victim"
wait_for 5 four_workers
rm -f "$DB.lock"
load_wait
check "a new lock file exists" test -f "$DB.lock"
out=$("$CACHET" cache stats "$DB" 2>&1); rc=$?
expect_eq "lock file removed under load: stats reads the whole file" "$rc" 0
expect_eq "lock file removed under load: no damage, no repair" "$(status_field cache_repairs)" "$rep0"
expect_eq "lock file removed: TLS 1.2 resumes (5 of 5)" "$(resumed 1.2 5)" 5
expect_eq "lock file removed: TLS 1.3 resumes (5 of 5)" "$(resumed 1.3 5)" 5
stop_cachetd

# --- item 6: max-entries 50, a flood of full handshakes
DB=$T/cache/small.db
write_conf "$T/s.conf" 'session-cache {' "store = \"gdbm:$DB\"" 'max-entries = 50' '}' "$STATUS"
start_cachetd "$T/s.conf" || exit 1
load 3
most=0
load_alive() { local p; for p in $LOADPIDS; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
while load_alive; do
	r=$(records); [ "${r:-0}" -gt "$most" ] && most=$r
	sleep 0.2               # pace: sample the count while the flood runs
done
load_wait
r=$(records); [ "${r:-0}" -gt "$most" ] && most=$r
st=$(C "$(URL /status)")
ev=$(printf '%s' "$st" | sed -n 's/^cache_evictions: //p')
stores=$(printf '%s' "$st" | sed -n 's/^cache_stores: //p')
echo "# flood: $stores stores, $ev evictions, at most $most records seen"
check "flood: more stores than max-entries ($stores)" test "${stores:-0}" -gt 100
check "flood: the count never passed 50 (at most $most)" test "$most" -le 50
check "flood: evictions counted ($ev)" test "${ev:-0}" -gt 0
expect_match "flood: no store refused" "$st" "cache_full: 0"
expect_eq "flood: full logged once" "$(grep -c 'is full' "$T/error.log")" 1
expect_eq "after the flood: TLS 1.2 resumes (5 of 5)" "$(resumed 1.2 5)" 5
expect_eq "after the flood: TLS 1.3 resumes (5 of 5)" "$(resumed 1.3 5)" 5
expect_match "cachet cache stats: evictions" "$("$CACHET" cache stats "$DB")" "evictions: [1-9]"
stop_cachetd

# --- item 6: TLS 1.3 tickets are single-use
DB=$T/cache/once.db
write_conf "$T/o.conf" 'session-cache {' "store = \"gdbm:$DB\"" '}' "$STATUS"
start_cachetd "$T/o.conf" || exit 1
r0=$(records)
expect_eq "TLS 1.3: 20 reconnections resumed" "$(resumed 1.3 20)" 20
r1=$(records)
check "TLS 1.3: 20 resumptions added $((r1 - r0)) record(s), not 21" test $((r1 - r0)) -le 2
printf 'GET /hello.txt HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" \
	-CAfile "$CERTS/ca.crt" -tls1_3 -ign_eof -sess_out "$T/t13" >/dev/null 2>&1
out=$(printf 'GET /hello.txt HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" \
	-CAfile "$CERTS/ca.crt" -tls1_3 -ign_eof -sess_in "$T/t13" 2>/dev/null | grep -E '^(New|Reused),')
expect_match "TLS 1.3: a ticket resumes once" "$out" "^Reused"
out=$(printf 'GET /hello.txt HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" \
	-CAfile "$CERTS/ca.crt" -tls1_3 -ign_eof -sess_in "$T/t13" 2>/dev/null | grep -E '^(New|Reused),')
expect_match "TLS 1.3: a spent ticket gives a full handshake" "$out" "^New"
stop_cachetd

# --- issue 10 defect 1: stats and list on a file that is not a cache
printf 'just some text, not a cache\n' > "$T/notcache"
chmod 644 "$T/notcache"
cp "$T/notcache" "$T/notcache.orig"
for op in stats list; do
	out=$("$CACHET" cache "$op" "$T/notcache" 2>&1); rc=$?
	expect_eq "cache $op on a non-cache file: exit 1" "$rc" 1
	expect_match "cache $op on a non-cache file: the reason" "$out" "notcache' cannot be read"
done
check "non-cache file: same bytes" cmp -s "$T/notcache" "$T/notcache.orig"
expect_eq "non-cache file: same mode" "$(stat -c %a "$T/notcache")" 644
check "non-cache file: no lock file made" test ! -e "$T/notcache.lock"

# --- item 5: links planted at the cache and lock paths (root only)
if [ "$(id -u)" != 0 ]; then
	echo "# SKIP planted links: needs root (the master's chown is the risk)"
	finish
fi
mkdir -p "$T/plant" "$T/victim"
chmod 755 "$T/plant"
printf 'root-owned, precious\n' > "$T/victim/file"
chmod 644 "$T/victim/file"
cp "$T/victim/file" "$T/victim/orig"
plant() { # what: conf line set; cachetd must refuse
	local what=$1 out rc
	write_conf "$T/p.conf" 'session-cache {' "store = \"gdbm:$T/plant/s.db\"" '}'
	out=$(timeout 10 "$CACHETD" -c "$T/p.conf" 2>&1); rc=$?
	check "$what: cachetd refuses to start (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
	expect_match "$what: the error names the path" "$out$(cat "$T/error.log")" "$2"
	check "$what: target keeps its bytes" cmp -s "$T/victim/file" "$T/victim/orig"
	expect_eq "$what: target keeps owner and mode" "$(stat -c '%U %a' "$T/victim/file")" "root 644"
	rm -f "$T/plant/s.db" "$T/plant/s.db.lock"
}
ln -s "$T/victim/file" "$T/plant/s.db"
plant "symlink at the cache path" "plant/s.db' is a symbolic link"
ln -s "$T/victim/file" "$T/plant/s.db.lock"
plant "symlink at the lock path" "plant/s.db.lock' is a symbolic link"
ln "$T/victim/file" "$T/plant/s.db.lock"
plant "hard link at the lock path" "plant/s.db.lock' has other hard links"
ln "$T/victim/file" "$T/plant/s.db"
plant "hard link at the cache path" "plant/s.db' has other hard links"
finish
