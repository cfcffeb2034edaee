#!/bin/bash
# bench/sni.sh CACHETD [NAME] - server CPU per connection (the workers'
# utime+stime from /proc over a counted run of `cachet bench
# --handshake-only`: handshakes, no HTTP), full and resumed TLS 1.3, for one cachetd binary: with the one implicit server
# (no NAME), or with two server blocks and the client naming NAME
# (a.test: the default server's SSL_CTX; b.test: the connection moves to
# another SSL_CTX in the ClientHello callback).  Run by hand, from the
# build folder (needs tests/certs and src/cachet/cachet):
#   bench/sni.sh src/cachetd; bench/sni.sh src/cachetd b.test
set -eu
CACHETD=$1 NAME=${2:-} N=${N:-3000}
CERTS=$PWD/tests/certs CACHET=$PWD/src/cachet/cachet
T=$(mktemp -d "${TMPDIR:-/tmp}/sni-bench.XXXXXX")
chmod 755 "$T"     # workers run as nobody when started as root
trap 'kill $M 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
mkdir "$T/site"; echo hi > "$T/site/index.html"
cat > "$T/c.conf" <<CONF
listen = {"127.0.0.1:0"}
workers = 1
root = "$T/site"
certificate = {"$CERTS/server-rsa.crt"}
key = {"$CERTS/server-rsa.key"}
error-log = "$T/error.log"
access-log = "/dev/null"
session-cache { store = "gdbm:$T/s.db" }
CONF
[ -n "$NAME" ] && cat >> "$T/c.conf" <<CONF
server "a.test" {
	certificate = {"$CERTS/a-test.crt"}
	key = {"$CERTS/a-test.key"}
}
server "b.test" {
	certificate = {"$CERTS/b-test.crt"}
	key = {"$CERTS/b-test.key"}
}
CONF
"$CACHETD" -c "$T/c.conf" & M=$!
for _ in $(seq 50); do
	PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/error.log" 2>/dev/null || true)
	[ -n "$PORT" ] && [ -n "$(pgrep -P $M)" ] && break; sleep 0.1
done
W=$(pgrep -P $M)
cpu() { awk '{print $14 + $15}' /proc/$W/stat; }
host=${NAME:-localhost}
for mode in full resumed; do
	c0=$(cpu)
	"$CACHET" bench --mode $mode -n "$N" -c 4 --tls1.3 --cacert "$CERTS/ca.crt" \
		--handshake-only --servername "$host" "127.0.0.1:$PORT" > "$T/b.out" 2>&1 ||
		{ cat "$T/b.out"; exit 1; }
	c1=$(cpu)
	echo "$mode ${NAME:-implicit}: $(( (c1 - c0) * 1000000 / $(getconf CLK_TCK) / N )) us/conn" \
		"($(sed -n "s/^$mode  *[0-9.]*  *[0-9]*  *\([0-9.]*\) .*/\1% resumed/p" "$T/b.out"))"
done
