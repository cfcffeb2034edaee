# lib.sh - shared helpers of the integration tests (sourced by tests/*.sh).
#
# Each test script makes its own folder, writes a config that listens on
# 127.0.0.1 port 0 (the kernel picks a free port; cachetd logs it), starts a
# real cachetd and talks to it with real clients.  Everything started is
# stopped on exit, whatever happens.  Scripts print one line per check and
# exit 1 if any check failed, 77 to skip.
set -u
: "${top_srcdir:?run from make check}" "${top_builddir:?run from make check}"
CACHETD=$top_builddir/src/cachetd
CACHET=$top_builddir/src/cachet/cachet
CERTS=$top_builddir/tests/certs
T=$(mktemp -d "${TMPDIR:-/tmp}/cachet-test.XXXXXX")
chmod 755 "$T"
PASSED=0
FAILED=0
PIDS=""

cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	for p in $PIDS; do
		wait_for 5 gone "$p" || kill -KILL "$p" 2>/dev/null
	done
	# workers of a killed master
	pkill -KILL -f "cachetd -c $T/" 2>/dev/null
	if [ "$FAILED" -eq 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$T"; else echo "# files kept in $T"; fi
}
trap cleanup EXIT

ok()   { PASSED=$((PASSED + 1)); echo "ok - $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $*"; }
check() { # description command...
	local d=$1; shift
	if "$@"; then ok "$d"; else fail "$d"; fi
}
expect_eq() { # description got want
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: got '$2', want '$3'"; fi
}
expect_match() { # description text extended-regex
	if printf '%s' "$2" | grep -Eq -- "$3"; then ok "$1"
	else fail "$1: '$3' not in: $(printf '%s' "$2" | head -c 600)"; fi
}
expect_nomatch() { # description text extended-regex
	if printf '%s' "$2" | grep -Eq -- "$3"; then
		fail "$1: '$3' found in: $(printf '%s' "$2" | head -c 600)"
	else ok "$1"; fi
}
# wait_for SECONDS COMMAND...: run COMMAND every 0.1 s until it succeeds
# (0) or SECONDS have passed (1).  The one way the scripts wait for
# something to happen; a bare sleep only paces a client on purpose.
wait_for() {
	local end=$(( $(date +%s%N) + ${1%.*} * 1000000000 )) frac
	case $1 in *.*) frac=${1#*.}000000000; end=$(( end + 10#${frac:0:9} )) ;; esac
	shift
	while :; do
		"$@" && return 0
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.1
	done
}
finish() {
	# A sanitizer build reports on stderr: any report fails the script.
	if cat "$T"/stderr.log 2>/dev/null | grep -Eq 'Sanitizer|runtime error:'; then
		fail "sanitizer report on cachetd's stderr:"
		grep -E -A8 'Sanitizer|runtime error:' "$T"/stderr.log | head -40 | sed 's/^/#   /'
	fi
	echo "# $PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit $?
}

# A small site: index, a text file, a folder with and without an index.
make_site() { # dir
	mkdir -p "$1/sub" "$1/noindex" "$1/dir"
	echo "<h1>index of $1</h1>" > "$1/index.html"
	echo "hello, world" > "$1/hello.txt"
	echo "sub index" > "$1/sub/index.html"
	echo "x" > "$1/noindex/file.txt"
	printf 'body{}' > "$1/style.css"
	head -c 300000 /dev/urandom > "$1/big.bin"
	chmod -R a+rX "$1"
}

# write_conf FILE [extra lines...]: a config on a kernel-chosen port.
write_conf() {
	local f=$1; shift
	cat > "$f" <<CONF
listen = {"127.0.0.1:0"}
workers = ${WORKERS:-2}
root = "$T/site"
mime-types = "$top_srcdir/conf/mime.types"
certificate = {"$CERTS/server-rsa.crt", "$CERTS/server-ecdsa.crt"}
key = {"$CERTS/server-rsa.key", "$CERTS/server-ecdsa.key"}
access-log = "$T/access.log"
error-log = "$T/error.log"
pid-file = "$T/cachetd.pid"
CONF
	for line in "$@"; do printf '%s\n' "$line" >> "$f"; done
}

# line_of FILE TEXT: the number of the last line of FILE that is TEXT
# (what a config error must name, however many lines write_conf wrote).
line_of() { grep -nFx -- "$2" "$1" | tail -n 1 | cut -d: -f1; }

# start_cachetd CONF: start in the background, set PORT and MASTER.
start_cachetd() {
	local conf=$1
	: > "$T/error.log"
	"$CACHETD" -c "$conf" 2>>"$T/stderr.log" &
	MASTER=$!
	PIDS="$PIDS $MASTER"
	# the port is logged and a worker runs, or the master died
	wait_for 10 up_or_dead && ! gone "$MASTER" && wait_port && return 0
	echo "# cachetd did not start:"; cat "$T/error.log" "$T/stderr.log" | sed 's/^/#   /'
	return 1
}
up_or_dead() {
	PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/error.log" | tail -n 1)
	{ [ -n "$PORT" ] && [ "$(worker_pids | wc -w)" -ge 1 ]; } || gone "$MASTER"
}
gone() { ! kill -0 "$1" 2>/dev/null; } # pid: the process has exited

wait_port() { wait_for 5 answers; } # until something answers TLS on PORT
answers() { # a refusal counts: it answered
	curl -s -k -o /dev/null --max-time 5 "https://127.0.0.1:$PORT/"
	case $? in 7|28) return 1 ;; *) return 0 ;; esac
}

stop_cachetd() { # bounded TERM of the master
	kill -TERM "$MASTER" 2>/dev/null
	wait_for 15 gone "$MASTER"
	wait "$MASTER" 2>/dev/null
}

worker_pids() { pgrep -P "$MASTER" 2>/dev/null | tr '\n' ' '; }

# curl against the test server, CA checked, loopback only.
C() { curl -sS --max-time 10 --cacert "$CERTS/ca.crt" "$@"; }
URL() { echo "https://localhost:$PORT$1"; }
status_of() { C -o /dev/null -w '%{http_code}' "$@"; }

# s_client with a bounded lifetime; request text on stdin.
sclient() {
	timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
		-CAfile "$CERTS/ca.crt" -quiet -ign_eof "$@" 2>/dev/null
}
