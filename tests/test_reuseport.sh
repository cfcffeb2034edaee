#!/bin/bash
# Listening sockets of their own (SO_REUSEPORT): each worker accepts on a
# socket of its own per address, bound by the master; every worker serves;
# a HUP that changes the number of workers (2 -> 3 -> 1 -> 2) hands the
# sockets over under a client loop making one new connection after another
# without a connection refused, reset or left unanswered; afterwards every
# socket is accepted on (a socket nobody accepts on would leave its share
# of clients hanging).
. "$top_srcdir/tests/lib.sh"
make_site "$T/site"
WORKERS=2 write_conf "$T/c.conf"
start_cachetd "$T/c.conf" || exit 1

# listen_lines: ss's lines for our port (one per listening socket)
listen_lines() { ss -Hltnp "sport = :$PORT" 2>/dev/null; }
# owners: for each listening socket, the cachetd pids that hold it besides
# the master, one line per socket
owners() {
	listen_lines | grep -o 'pid=[0-9]*' | sed 's/pid=//' | grep -vx "$MASTER" | sort | uniq -c | awk '{print $1}' | sort -u
}
# rchar of a process: bytes it read (a worker that served read its clients)
rchar() { sed -n 's/^rchar: //p' "/proc/$1/io" 2>/dev/null || echo 0; }
# served_all N: N new connections, then every worker read from clients
served_all() {
	local p before="" i n=0 after
	for p in $(worker_pids); do before="$before $p:$(rchar "$p")"; done
	for i in $(seq "$1"); do
		[ "$(C "$(URL /hello.txt)")" = "hello, world" ] && n=$((n + 1))
	done
	[ "$n" -eq "$1" ] || { echo "# only $n of $1 answered"; return 1; }
	for p in $before; do
		after=$(rchar "${p%%:*}")
		[ $((after - ${p#*:})) -ge 1000 ] || { echo "# worker ${p%%:*} served nothing"; return 1; }
	done
}
all_generation_up() { # workers N
	[ "$(worker_pids | wc -w)" -eq "$1" ]
}

expect_eq "two workers, two listening sockets on the port" "$(listen_lines | wc -l)" 2
expect_eq "each worker holds one socket of its own (and the master)" "$(owners)" 1
check "both workers serve (40 new connections)" served_all 40

# A client loop: new TLS connections one after another, each must be
# answered; stops when $T/stop appears (bounded: 60 s).
cat > "$T/loop.py" <<'PY'
import socket, ssl, sys, time, os
port, ca, stop, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
ok = bad = 0
errs = []
end = time.time() + 60
while time.time() < end and not os.path.exists(stop):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            with ctx.wrap_socket(s, server_hostname="localhost") as t:
                t.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    d = t.recv(4096)
                    if not d:
                        break
                    data += d
        if data.startswith(b"HTTP/1.1 200") and data.endswith(b"hello, world\n"):
            ok += 1
        else:
            bad += 1
            errs.append("bad answer %r" % data[:40])
    except Exception as e:
        bad += 1
        errs.append("%s: %s" % (type(e).__name__, e))
    with open(out + ".n.tmp", "w") as f:
        f.write("%d\n" % (ok + bad))
    os.rename(out + ".n.tmp", out + ".n")
with open(out, "w") as f:
    f.write("%d %d\n" % (ok, bad))
    for e in errs[:10]:
        f.write(e + "\n")
PY
python3 "$T/loop.py" "$PORT" "$CERTS/ca.crt" "$T/stop" "$T/loop.out" &
LOOP=$!
PIDS="$PIDS $LOOP"
# connected N: the loop has made N connections
count() { local n; n=$(cat "$T/loop.out.n" 2>/dev/null); echo "${n:-0}"; }
connected() { [ "$(count)" -ge "$1" ]; }
gen=1
for n in 3 1 2; do
	done_so_far=$(count)
	check "before the HUP to $n worker(s): the loop connects" wait_for 20 connected $((done_so_far + 20))
	old=$(worker_pids)
	sed -i "s|^workers = .*|workers = $n|" "$T/c.conf"
	kill -HUP "$MASTER"
	gen=$((gen + 1))
	check "HUP to $n worker(s): reloaded" wait_for 10 grep -q "reloaded: generation $gen " "$T/error.log"
	old_gone() { local p; for p in $old; do gone "$p" || return 1; done; }
	check "HUP to $n worker(s): the old generation has exited" wait_for 15 old_gone
	check "HUP to $n worker(s): $n running" wait_for 5 all_generation_up "$n"
done
check "after the HUPs: the loop connects" wait_for 20 connected $(( $(count) + 20 ))
touch "$T/stop"
wait_for 15 gone "$LOOP"
read -r good bad < "$T/loop.out"
echo "# client loop: $good answered, $bad failed through three reloads"
sed -n '2,$p' "$T/loop.out" | sed 's/^/#   /'
expect_eq "client loop: no connection failed through the reloads" "$bad" 0
check "client loop: kept connecting ($good)" test "${good:-0}" -ge 80

# 3 sockets (the most workers yet), 2 workers: one has two
expect_eq "the socket count never shrinks: three sockets" "$(listen_lines | wc -l)" 3
expect_eq "every socket is held by a worker" "$(listen_lines | grep -c 'pid=[0-9]*.*pid=[0-9]*')" 3
check "both workers serve, every socket answers (60 new connections)" served_all 60
stop_cachetd
finish
