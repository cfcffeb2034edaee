# bench/lib.sh - what bench/compare and bench/floor.sh share (sourced):
# the servers' configs, starting and stopping one, and measuring a
# server's own cost per connection.  The caller sets W (its folder, with
# certs/ and site/), CACHET, and before each measurement PORT, SPID, CUR.
#
# WAIT_N     tenths of a second to wait for a start or a stop (100)
# STRACE_N   connections under strace in cost() (1000)

WAIT_N=${WAIT_N:-100}
STRACE_N=${STRACE_N:-1000}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_tls() { # port
	for _ in $(seq "$WAIT_N"); do
		curl -sk -o /dev/null --max-time 2 "https://127.0.0.1:$1/" && return 0
		sleep 0.1
	done
	return 1
}

# nginx_conf FILE PORT WORKERS ACCESS(off|file|buffer) CERT KEY
nginx_conf() {
	local access
	case $4 in
	file) access="access_log $W/nginx-access.log;" ;;
	buffer) access="access_log $W/nginx-access.log combined buffer=64k flush=1s;" ;;
	*) access="access_log off;" ;;
	esac
	cat > "$1" <<CONF
worker_processes $3;
user nobody nogroup;
pid $W/nginx.pid;
error_log $W/nginx.err;
events { worker_connections 1024; }
http {
	$access
	ssl_session_cache shared:SSL:10m;
	ssl_session_tickets off;
	ssl_protocols TLSv1.2 TLSv1.3;
	client_body_temp_path $W/nginx-tmp;
	server {
		listen 127.0.0.1:$2 ssl;
		ssl_certificate $5;
		ssl_certificate_key $6;
		root $W/site;
	}
}
CONF
}

# cachetd_conf FILE PORT WORKERS ACCESS(off|file|buffer) CERT KEY STORE
cachetd_conf() {
	cat > "$1" <<CONF
listen = {"127.0.0.1:$2"}
workers = $3
root = "$W/site"
certificate = "$5"
key = "$6"
access-log = $( [ "$4" != off ] && echo "\"$W/cachetd-access.log\"" || echo off)
$( [ "$4" = buffer ] && echo "access-log-buffer = 64k")
error-log = "$W/cachetd.err"
session-cache { store = "$7" }
CONF
}

stop() {
	kill -TERM "$SPID" 2>/dev/null
	for _ in $(seq "$WAIT_N"); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	sleep 0.3
}

# The server's worker processes (the children of the one started).
workers() { pgrep -P "$SPID" | tr '\n' ' '; }
# CPU ticks (utime + stime) of the processes given, summed.
ticks() { local p; for p; do cut -d')' -f2 "/proc/$p/stat"; done | awk '{ s += $12 + $13 } END { print s + 0 }'; }
# A counted run: N connections.
counted() { # PROTO MODE N
	"$CACHET" bench -k --tls$1 --mode "$2" -p 2 -c 4 --count "$3" --warmup 0 \
		"https://localhost:$PORT/index.html" >/dev/null 2>&1
}
# cost PROTO MODE N STRACE(0|1) -> "CPU-us/conn syscalls/conn": the
# workers' utime + stime over N connections (after 200 to warm up), and
# with STRACE=1, in a separate run (strace slows the server), their
# system calls per connection over STRACE_N (strace -c -f), the summary
# kept as $W/strace-$CUR-tlsPROTO-MODE.txt.
cost() {
	local v=$1 mode=$2 n=$3 w t0 t1 hz cpu sc="-" p args=""
	hz=$(getconf CLK_TCK)
	counted "$v" "$mode" 200               # warm: files, caches, pages
	w=$(workers)
	t0=$(ticks $w)
	counted "$v" "$mode" "$n"
	t1=$(ticks $w)
	cpu=$(awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$hz" 'BEGIN { printf "%.1f", (b - a) * 1e6 / hz / n }')
	if [ "$4" = 1 ]; then
		for p in $w; do args="$args -p $p"; done
		strace -c -f -q -o "$W/strace.out" $args & local spid=$!
		sleep 1                         # attach (no readiness signal)
		counted "$v" "$mode" "$STRACE_N"
		kill -INT "$spid"; wait "$spid" 2>/dev/null
		sc=$(awk -v n="$STRACE_N" '$NF == "total" { c = $4 } END { if (c) printf "%.1f", c / n; else print "-" }' "$W/strace.out")
		cp "$W/strace.out" "$W/strace-$CUR-tls$v-$mode.txt"
	fi
	echo "$cpu $sc"
}
