#!/bin/bash
# The master: worker restart after SIGKILL, graceful reload on HUP (also
# with a broken config), log reopening on USR1, graceful stop on TERM.
. "$top_srcdir/tests/lib.sh"
make_site "$T/site"
make_site "$T/site2"
echo one > "$T/site/which.txt"
echo two > "$T/site2/which.txt"
chmod 644 "$T"/site*/which.txt
write_conf "$T/c.conf"
start_cachetd "$T/c.conf" || exit 1
expect_eq "pid file holds the master" "$(cat "$T/cachetd.pid")" "$MASTER"
expect_eq "two workers" "$(worker_pids | wc -w)" 2

# --- SIGKILL of a worker is repaired
victim=$(worker_pids | awk '{print $1}')
kill -KILL "$victim"
replaced() { [ "$(worker_pids | wc -w)" -eq 2 ] && ! worker_pids | grep -qw "$victim"; }
wait_for 5 replaced
expect_eq "killed worker replaced" "$(worker_pids | wc -w)" 2
check "killed worker gone" bash -c "! echo '$(worker_pids)' | grep -qw $victim"
expect_match "restart logged" "$(cat "$T/error.log")" "worker $victim killed by signal 9; restarting"
ok=0; for _ in $(seq 10); do [ "$(C "$(URL /which.txt)")" = one ] && ok=$((ok + 1)); done
expect_eq "serving continues after the kill" "$ok" 10

# --- HUP with a changed root, under a client loop: one request after
# another (each "STATUS BODY") from before the HUP until the new root has
# been served 5 times (at most 20 s)
old=$(worker_pids)
( end=$((SECONDS + 20)); while [ $SECONDS -lt $end ]; do
	echo "$(C -w ' %{http_code}' "$(URL /which.txt)" 2>/dev/null | tr -d '\n') " | awk '{print $2, $1}'
	[ "$(grep -c '^200 two$' "$T/loop.out")" -ge 5 ] && break
  done > "$T/loop.out" ) &
LOOP=$!
PIDS="$PIDS $LOOP"
served_some() { [ "$(grep -c '^200 one$' "$T/loop.out")" -ge 3 ]; }
check "client loop served the old root before the HUP" wait_for 10 served_some
sed -i "s|^root = .*|root = \"$T/site2\"|" "$T/c.conf"
kill -HUP "$MASTER"
wait $LOOP
n=$(wc -l < "$T/loop.out")
bad=$(grep -Evc '^200 (one|two)$' "$T/loop.out")
expect_eq "client loop: every request through the reload answered 200 ($n requests)" "$bad" 0
check "client loop: the new root served during the loop" grep -q '^200 two$' "$T/loop.out"
expect_eq "new root served after HUP" "$(C "$(URL /which.txt)")" two
old_gone() { local p; for p in $old; do gone "$p" || return 1; done; }
check "old workers have exited" wait_for 5 old_gone
expect_eq "still two workers" "$(worker_pids | wc -w)" 2
expect_match "reload logged" "$(cat "$T/error.log")" "reloaded: generation 2"

# --- HUP with a broken config keeps the old one serving
before=$(worker_pids)
cp "$T/c.conf" "$T/c.conf.good"
printf 'workers = "lots"\n' >> "$T/c.conf"
kill -HUP "$MASTER"
wait_for 5 grep -q "reload failed" "$T/error.log"
expect_match "broken reload: file, line, problem logged" "$(cat "$T/error.log")" "reload failed: $T/c.conf:$(line_of "$T/c.conf" 'workers = "lots"'): .*keeping the old configuration"
expect_eq "broken reload: still serving" "$(C "$(URL /which.txt)")" two
expect_eq "broken reload: same workers" "$(worker_pids)" "$before"
cp "$T/c.conf.good" "$T/c.conf"

# --- USR1 reopens the logs (for log rotation)
# (the master reopens its logs and replaces the workers gracefully)
before=$(worker_pids)
mv "$T/access.log" "$T/access.log.1"
kill -USR1 "$MASTER"
all_new() { local p w=$(worker_pids); [ "$(echo $w | wc -w)" -eq 2 ] || return 1
	for p in $before; do echo " $w " | grep -qw "$p" && return 1; done; return 0; }
check "USR1: the access log is reopened" wait_for 5 test -f "$T/access.log"
check "USR1: the workers are replaced" wait_for 10 all_new
C -o /dev/null -A after-usr1 "$(URL /which.txt)"
wait_for 5 grep -q after-usr1 "$T/access.log"
expect_match "new access log after USR1" "$(cat "$T/access.log" 2>/dev/null)" "after-usr1"
expect_nomatch "rotated log no longer written" "$(cat "$T/access.log.1")" "after-usr1"

# --- TERM: an in-flight download finishes, then everything stops
C --limit-rate 150K -o "$T/slow" "$(URL /big.bin)" &
DL=$!
check "download under way before TERM" wait_for 5 test -s "$T/slow"
workers=$(worker_pids)
t0=$SECONDS
stop_cachetd
wait $DL; rc=$?
expect_eq "in-flight download completed through TERM" "$rc" 0
check "download intact" cmp -s "$T/slow" "$T/site2/big.bin"
check "master gone" bash -c "! kill -0 $MASTER 2>/dev/null"
alive=0; for p in $workers; do kill -0 "$p" 2>/dev/null && alive=1; done
expect_eq "workers gone" "$alive" 0
# master.c's MASTER_STOP_BOUND (12 s) is the promise; not a speed figure
check "stopped within the master's bound of 12 s ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -le 13
check "pid file removed" test ! -e "$T/cachetd.pid"
expect_match "stop logged" "$(tail -n 1 "$T/error.log")" "stopped"
# --- kill -9 of the master: the workers notice and go, freeing the port
start_cachetd "$T/c.conf" || exit 1
oldport=$PORT
workers=$(worker_pids)
expect_eq "two workers again" "$(echo $workers | wc -w)" 2
kill -KILL "$MASTER"
wait "$MASTER" 2>/dev/null
workers_gone() { local p; for p in $workers; do gone "$p" || return 1; done; }
check "orphaned workers exit" wait_for 10 workers_gone
sed -i "s|^listen = .*|listen = {\"127.0.0.1:$oldport\"}|" "$T/c.conf"
start_cachetd "$T/c.conf" || exit 1
expect_eq "a new master binds the same port" "$PORT" "$oldport"
expect_eq "and serves" "$(C "$(URL /which.txt)")" two
stop_cachetd
finish
