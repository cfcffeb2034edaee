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
for _ in $(seq 50); do
	n=$(worker_pids | wc -w)
	[ "$n" -eq 2 ] && ! worker_pids | grep -qw "$victim" && break
	sleep 0.1
done
expect_eq "killed worker replaced" "$(worker_pids | wc -w)" 2
check "killed worker gone" bash -c "! echo '$(worker_pids)' | grep -qw $victim"
expect_match "restart logged" "$(cat "$T/error.log")" "worker $victim killed by signal 9; restarting"
ok=0; for _ in $(seq 10); do [ "$(C "$(URL /which.txt)")" = one ] && ok=$((ok + 1)); done
expect_eq "serving continues after the kill" "$ok" 10

# --- HUP with a changed root, under a client loop
old=$(worker_pids)
( end=$((SECONDS + 4)); while [ $SECONDS -lt $end ]; do
	C -o /dev/null -w '%{http_code}\n' "$(URL /which.txt)" 2>/dev/null || echo fail
  done > "$T/loop.out" ) &
LOOP=$!
sleep 1
sed -i "s|^root = .*|root = \"$T/site2\"|" "$T/c.conf"
kill -HUP "$MASTER"
wait $LOOP
n=$(wc -l < "$T/loop.out")
bad=$(grep -vc '^200$' "$T/loop.out")
check "client loop ran through the reload ($n requests)" test "$n" -gt 10
expect_eq "no failed request during the reload" "$bad" 0
expect_eq "new root served after HUP" "$(C "$(URL /which.txt)")" two
for _ in $(seq 50); do
	still=0; for p in $old; do kill -0 "$p" 2>/dev/null && still=1; done
	[ $still -eq 0 ] && break; sleep 0.1
done
expect_eq "old workers have exited" "$still" 0
expect_eq "still two workers" "$(worker_pids | wc -w)" 2
expect_match "reload logged" "$(cat "$T/error.log")" "reloaded: generation 2"

# --- HUP with a broken config keeps the old one serving
before=$(worker_pids)
cp "$T/c.conf" "$T/c.conf.good"
printf 'workers = "lots"\n' >> "$T/c.conf"
kill -HUP "$MASTER"
for _ in $(seq 50); do grep -q "reload failed" "$T/error.log" && break; sleep 0.1; done
expect_match "broken reload: file, line, problem logged" "$(cat "$T/error.log")" "reload failed: $T/c.conf:10: .*keeping the old configuration"
expect_eq "broken reload: still serving" "$(C "$(URL /which.txt)")" two
expect_eq "broken reload: same workers" "$(worker_pids)" "$before"
cp "$T/c.conf.good" "$T/c.conf"

# --- USR1 reopens the logs (for log rotation)
mv "$T/access.log" "$T/access.log.1"
kill -USR1 "$MASTER"
for _ in $(seq 50); do [ -f "$T/access.log" ] && break; sleep 0.1; done
sleep 0.5
C -o /dev/null -A after-usr1 "$(URL /which.txt)"
sleep 0.3
expect_match "new access log after USR1" "$(cat "$T/access.log" 2>/dev/null)" "after-usr1"
expect_nomatch "rotated log no longer written" "$(cat "$T/access.log.1")" "after-usr1"

# --- TERM: an in-flight download finishes, then everything stops
C --limit-rate 150K -o "$T/slow" "$(URL /big.bin)" &
DL=$!
sleep 0.5
workers=$(worker_pids)
t0=$SECONDS
stop_cachetd
wait $DL; rc=$?
expect_eq "in-flight download completed through TERM" "$rc" 0
check "download intact" cmp -s "$T/slow" "$T/site2/big.bin"
check "master gone" bash -c "! kill -0 $MASTER 2>/dev/null"
alive=0; for p in $workers; do kill -0 "$p" 2>/dev/null && alive=1; done
expect_eq "workers gone" "$alive" 0
check "stopped within the bound ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -le 13
check "pid file removed" test ! -e "$T/cachetd.pid"
expect_match "stop logged" "$(tail -n 1 "$T/error.log")" "stopped"
# --- kill -9 of the master: the workers notice and go, freeing the port
start_cachetd "$T/c.conf" || exit 1
oldport=$PORT
workers=$(worker_pids)
expect_eq "two workers again" "$(echo $workers | wc -w)" 2
kill -KILL "$MASTER"
wait "$MASTER" 2>/dev/null
alive=1
for _ in $(seq 100); do
	alive=0; for p in $workers; do kill -0 "$p" 2>/dev/null && alive=1; done
	[ $alive = 0 ] && break
	sleep 0.1
done
expect_eq "orphaned workers exit" "$alive" 0
sed -i "s|^listen = .*|listen = {\"127.0.0.1:$oldport\"}|" "$T/c.conf"
start_cachetd "$T/c.conf" || exit 1
expect_eq "a new master binds the same port" "$PORT" "$oldport"
expect_eq "and serves" "$(C "$(URL /which.txt)")" two
stop_cachetd
finish
