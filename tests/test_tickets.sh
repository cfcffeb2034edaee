#!/bin/bash
# Session-ticket keys (session-tickets = true) against live cachetd
# instances with 2 workers each, several at once playing "hosts":
#  - ticket-key-files: cachetd -t checks them (FILE:LINE); a ticket made
#    by one host resumes on another given the same file, not on one with
#    another file; after the files are swapped to {A, B} and a HUP, a
#    ticket made under B still resumes and is renewed under A; a broken
#    file on HUP keeps the old keys;
#  - rotation (no files): both workers encrypt with the same key (a
#    ticket made by one worker resumes on the other), a reload keeps the
#    keys; with a 2 s period and a 6 s session timeout a ticket from the
#    previous slot resumes (renewed), one older than the window does not
#    and its key is reported unknown;
#  - with a Redis store (skipped until cachetd -t accepts "redis:"): two
#    hosts agree on the key of a slot, so a ticket resumes across them.
# Checked with openssl s_client (-sess_out/-sess_in) and cachet get
# (--sess-out/--sess-in), TLS 1.2 and 1.3.
. "$top_srcdir/tests/lib.sh"
make_site "$T/site"

# host_conf NAME [lines...]: a config for host NAME, logs of its own.
host_conf() {
	local n=$1; shift
	write_conf "$T/$n.conf" 'session-tickets = true' \
		'location "/status" { status = true allow-address = {"127.0.0.1"} }' "$@"
	sed -i -e "s|^error-log = .*|error-log = \"$T/$n.err\"|" \
		-e "s|^access-log = .*|access-log = \"$T/$n.access\"|" \
		-e "s|^pid-file = .*|pid-file = \"$T/$n.pid\"|" "$T/$n.conf"
}
host_port() { sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/$1.err" | tail -n 1; }
host_up() { [ -n "$(host_port "$1")" ] && [ "$(pgrep -P "$2" | wc -w)" -ge 2 ]; }
# start_host NAME: start it; sets PORT_NAME and PID_NAME
start_host() {
	local n=$1 pid
	: > "$T/$n.err"
	"$CACHETD" -c "$T/$n.conf" 2>>"$T/stderr.log" &
	pid=$!
	PIDS="$PIDS $pid"
	if ! wait_for 10 host_up "$n" "$pid" || gone "$pid"; then
		echo "# host $n did not start:"; sed 's/^/#   /' "$T/$n.err"
		return 1
	fi
	eval "PID_$n=$pid PORT_$n=$(host_port "$n")"
}
stop_host() { kill -TERM "$1" 2>/dev/null; wait_for 15 gone "$1"; }

# sess PORT FLAGS...: one connection and a request: "New" or "Reused"
sess() {
	local port=$1; shift
	printf 'GET /hello.txt HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client \
		-connect "127.0.0.1:$port" -servername localhost \
		-CAfile "$CERTS/ca.crt" -ign_eof "$@" 2>/dev/null |
		sed -n 's/^\(New\|Reused\),.*/\1/p'
}
# sess_nst PORT FLAGS...: as sess, then the key name of the TLS 1.2
# NewSessionTicket the server sent (none: the ticket was not renewed),
# read from s_client -msg (type, length, lifetime, ticket length: 10 bytes)
sess_nst() {
	local port=$1; shift
	printf 'GET /hello.txt HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client \
		-connect "127.0.0.1:$port" -servername localhost \
		-CAfile "$CERTS/ca.crt" -ign_eof -msg "$@" 2>/dev/null | awk '
		/^(New|Reused),/ { split($0, a, ","); r = a[1] }
		/^(<<<|>>>)/ { nst = /NewSessionTicket/; if (nst) hex = ""; next }
		nst && /^    [0-9a-f][0-9a-f] [0-9a-f][0-9a-f]/ { hex = hex $0; next }
		{ nst = 0 }
		END { gsub(/ /, "", hex); print r, substr(hex, 21, 32) }'
}
# ticket_name FILE: the key name (16 bytes, hex) at the front of the
# ticket saved in an s_client session file
ticket_name() {
	openssl sess_id -in "$1" -noout -text 2>/dev/null |
		sed -n '/TLS session ticket:$/{n;p;q}' | cut -d- -f2- |
		tr -d ' -' | cut -c1-32
}
# slot_of NAME: a made key's name is period (4 bytes) | slot (8) | tag (4)
slot_of() { echo $((16#${1:8:16})); }
key_name() { od -An -tx1 -N16 "$1" | tr -d ' \n'; }
counter() { # PORT NAME: a counter of the status page
	curl -sS --max-time 10 --cacert "$CERTS/ca.crt" \
		"https://localhost:$1/status" | sed -n "s/^$2: //p"
}

# --------------------------------------------------- cachetd -t checks
mkdir -p "$T/keys"
chmod 700 "$T/keys"
for k in A B C; do head -c 80 /dev/urandom > "$T/keys/$k.key"; done
head -c 48 /dev/urandom > "$T/keys/short.key"
head -c 79 /dev/urandom > "$T/keys/bad-size.key"
cp "$T/keys/A.key" "$T/keys/open.key"
chmod 600 "$T"/keys/*.key
chmod 644 "$T/keys/open.key"

t_check() { "$CACHETD" -t -c "$1" 2>&1; }
host_conf t1 "ticket-key-files = {\"$T/keys/A.key\", \"$T/keys/short.key\"}"
expect_match "-t: an 80- and a 48-byte key file are accepted" "$(t_check "$T/t1.conf")" "test is successful"
host_conf t2 "ticket-key-files = {\"$T/keys/A.key\", \"$T/keys/open.key\"}"
expect_match "-t: a key file readable by others is refused at its line" "$(t_check "$T/t2.conf")" \
	"t2.conf:$(line_of "$T/t2.conf" "ticket-key-files = {\"$T/keys/A.key\", \"$T/keys/open.key\"}"): ticket-key-files '.*open.key': readable by group or others \(mode 644\)"
host_conf t3 "ticket-key-files = {\"$T/keys/bad-size.key\"}"
expect_match "-t: a 79-byte key file is refused" "$(t_check "$T/t3.conf")" \
	"t3.conf:[0-9]+: ticket-key-files '.*bad-size.key': must hold exactly 80 bytes .* not 79"
host_conf t4 "ticket-key-files = {\"$T/keys/none.key\"}"
expect_match "-t: a missing key file is refused" "$(t_check "$T/t4.conf")" \
	"t4.conf:[0-9]+: ticket-key-files '.*none.key': No such file"
write_conf "$T/t5.conf" "ticket-key-files = {\"$T/keys/A.key\"}"
expect_match "-t: ticket-key-files without session-tickets" "$(t_check "$T/t5.conf")" \
	"t5.conf:$(line_of "$T/t5.conf" "ticket-key-files = {\"$T/keys/A.key\"}"): ticket-key-files needs session-tickets = true"
host_conf t6 'ticket-key-period = 1' 'session-cache { timeout = 86400 }'
expect_match "-t: a period that would keep too many keys" "$(t_check "$T/t6.conf")" \
	"t6.conf:$(line_of "$T/t6.conf" 'ticket-key-period = 1'): ticket-key-period: 1 s would keep 86402 keys .* at least 85 s"
host_conf t7 'ticket-key-period = 0'
expect_match "-t: a zero period" "$(t_check "$T/t7.conf")" "t7.conf:[0-9]+: ticket-key-period: must be seconds between 1 and 86400, not 0"
host_conf t8 'ticket-key-period = 2'
expect_match "-t: a 2 s period" "$(t_check "$T/t8.conf")" "test is successful"

# ------------------------------------- files: two hosts, and a third one
host_conf A "ticket-key-files = {\"$T/keys/A.key\"}"
host_conf B "ticket-key-files = {\"$T/keys/A.key\", \"$T/keys/C.key\"}"
host_conf C "ticket-key-files = {\"$T/keys/C.key\"}"
start_host A && start_host B && start_host C || exit 1
nameA=$(key_name "$T/keys/A.key")
for v in 1_2 1_3; do
	expect_eq "files, TLS $v: full handshake on host A" "$(sess "$PORT_A" "-tls$v" -sess_out "$T/a$v")" New
	expect_eq "files, TLS $v: the ticket is under key A" "$(ticket_name "$T/a$v")" "$nameA"
	expect_eq "files, TLS $v: host A's ticket resumes on host B (same file)" "$(sess "$PORT_B" "-tls$v" -sess_in "$T/a$v")" Reused
	[ $v = 1_2 ] && expect_eq "files, TLS 1.2: ... opened by B's first key: not renewed" \
		"$(sess_nst "$PORT_B" -tls1_2 -sess_in "$T/a$v")" "Reused "
	expect_eq "files, TLS $v: not on host C (another file)" "$(sess "$PORT_C" "-tls$v" -sess_in "$T/a$v")" New
done
check "files: host C reports an unknown key" test "$(counter "$PORT_C" tickets_unknown_key)" -ge 2
expect_eq "files: B opened A's tickets with its first key: nothing renewed" "$(counter "$PORT_B" tickets_renewed)" 0

# cachet get: the session file is keyed host:port; a load balancer would
# send the client to B under the same name: move the entry there.
for v in 1.2 1.3; do
	"$CACHET" get --cacert "$CERTS/ca.crt" "--tls$v" --sess-out "$T/cachet$v" \
		"https://localhost:$PORT_A/hello.txt" >/dev/null 2>"$T/cachet.err"
	sed -i "s/^localhost:$PORT_A\$/localhost:$PORT_B/" "$T/cachet$v"
	out=$("$CACHET" get --cacert "$CERTS/ca.crt" "--tls$v" --sess-in "$T/cachet$v" \
		"https://localhost:$PORT_B/hello.txt" 2>&1 >/dev/null)
	expect_match "cachet get, TLS $v: A's session resumes on B" "$out" "connection 1: TLSv$v .* resumed"
	sed -i "s/^localhost:$PORT_B\$/localhost:$PORT_C/" "$T/cachet$v"
	out=$("$CACHET" get --cacert "$CERTS/ca.crt" "--tls$v" --sess-in "$T/cachet$v" \
		"https://localhost:$PORT_C/hello.txt" 2>&1 >/dev/null)
	expect_match "cachet get, TLS $v: not on C" "$out" "connection 1: TLSv$v .* full"
done
stop_host "$PID_A"
stop_host "$PID_B"

# ------------------------- files: the second file decrypts after a HUP
# host C encrypts under C; swap its files to {A, C}, reload: a ticket
# made under C resumes, and the client gets a new ticket under A.
nameC=$(key_name "$T/keys/C.key")
for v in 1_2 1_3; do
	sess "$PORT_C" "-tls$v" -sess_out "$T/c$v" >/dev/null
	expect_eq "files, TLS $v: the ticket is under key C" "$(ticket_name "$T/c$v")" "$nameC"
done
sed -i "s|^ticket-key-files = .*|ticket-key-files = {\"$T/keys/A.key\", \"$T/keys/C.key\"}|" "$T/C.conf"
kill -HUP "$PID_C"
new_key_serving() {
	sess "$PORT_C" -tls1_2 -sess_out "$T/probe" >/dev/null
	[ "$(ticket_name "$T/probe")" = "$nameA" ]
}
check "HUP: the new generation encrypts under A" wait_for 10 new_key_serving
renewed0=$(counter "$PORT_C" tickets_renewed)
expect_eq "files, TLS 1.2: a ticket under C resumes after the swap, renewed under A" \
	"$(sess_nst "$PORT_C" -tls1_2 -sess_in "$T/c1_2")" "Reused $nameA"
expect_eq "files, TLS 1.3: a ticket under C resumes after the swap" \
	"$(sess "$PORT_C" -tls1_3 -sess_in "$T/c1_3" -sess_out "$T/c1_3.new")" Reused
expect_eq "files, TLS 1.3: the new ticket is under A" "$(ticket_name "$T/c1_3.new")" "$nameA"
check "files: renewals counted ($renewed0 before)" test "$(counter "$PORT_C" tickets_renewed)" -ge $((renewed0 + 2))
# a broken key file on HUP: the old keys stay
chmod 644 "$T/keys/C.key"
kill -HUP "$PID_C"
check "HUP with a key file readable by others: refused, logged" \
	wait_for 10 grep -q "reload failed: .*C.conf:[0-9]*: ticket-key-files '.*C.key': readable by group or others" "$T/C.err"
expect_eq "after the refused reload, tickets under C still resume" "$(sess "$PORT_C" -tls1_2 -sess_in "$T/c1_2")" Reused
chmod 600 "$T/keys/C.key"
stop_host "$PID_C"

# ---------------------------- rotation: one key for every worker, kept
host_conf R 'workers = 2'
start_host R || exit 1
: > "$T/R.access"
# lines_are N: the access log has N lines (written after the response)
lines_are() { [ "$(wc -l < "$T/R.access")" -eq "$1" ]; }
last_pid() { tail -n 1 "$T/R.access" | awk '{print $NF}'; }
# a full handshake, then a resumption of its ticket, until a ticket made
# by one worker has resumed on the other 3 times (at most 40 pairs)
names="" reused=0 cross=0 i=0 issuers=""
while [ $i -lt 40 ] && { [ $cross -lt 3 ] || [ $i -lt 8 ]; }; do
	i=$((i + 1))
	sess "$PORT_R" -tls1_2 -sess_out "$T/r$i" >/dev/null
	wait_for 5 lines_are $((2 * i - 1))
	by=$(last_pid)
	issuers="$issuers $by"
	names="$names $(ticket_name "$T/r$i")"
	[ "$(sess "$PORT_R" -tls1_2 -sess_in "$T/r$i")" = Reused ] && reused=$((reused + 1))
	wait_for 5 lines_are $((2 * i))
	[ "$(last_pid)" != "$by" ] && cross=$((cross + 1))
done
expect_eq "rotation: $i tickets under one key" "$(echo $names | tr ' ' '\n' | sort -u | wc -l)" 1
check "rotation: both workers made tickets" test "$(echo $issuers | tr ' ' '\n' | sort -u | wc -l)" -eq 2
expect_eq "rotation: all $i tickets resumed" "$reused" "$i"
check "rotation: a ticket made by one worker resumed on the other ($cross times)" test "$cross" -ge 3
n0=$(echo $names | awk '{print $1}')
expect_eq "rotation: the key name says the period (3600 s)" "${n0:0:8}" "00000e10"
expect_eq "rotation: ... and the slot (unix time / 3600)" "$(slot_of "$n0")" "$(( $(date +%s) / 3600 ))"
sess "$PORT_R" -tls1_3 -sess_out "$T/r13" >/dev/null
kill -HUP "$PID_R"
reloaded() { grep -q "reloaded: generation 2" "$T/R.err"; }
check "rotation: reloaded" wait_for 10 reloaded
expect_eq "rotation, TLS 1.2: a ticket resumes after a reload (keys kept)" "$(sess "$PORT_R" -tls1_2 -sess_in "$T/r1")" Reused
expect_eq "rotation, TLS 1.3: a ticket resumes after a reload" "$(sess "$PORT_R" -tls1_3 -sess_in "$T/r13")" Reused
stop_host "$PID_R"

# ------------------------------ rotation: 2 s slots, 6 s session window
host_conf P 'ticket-key-period = 2' 'session-cache { timeout = 6 }'
start_host P || exit 1
sess "$PORT_P" -tls1_2 -sess_out "$T/p0" >/dev/null
n0=$(ticket_name "$T/p0")
s0=$(slot_of "$n0")
next_slot() { # a new ticket's key is for a later slot
	sess "$PORT_P" -tls1_2 -sess_out "$T/pn" >/dev/null
	[ "$(slot_of "$(ticket_name "$T/pn")")" -gt "$s0" ]
}
check "2 s period: a new slot's key encrypts within 5 s" wait_for 5 next_slot
n1=$(ticket_name "$T/pn")
check "2 s period: a different key (${n0:8:16} then ${n1:8:16})" test "$n1" != "$n0"
renewed0=$(counter "$PORT_P" tickets_renewed)
out=$(sess_nst "$PORT_P" -tls1_2 -sess_in "$T/p0")
expect_match "2 s period: the previous slot's ticket still resumes" "$out" "^Reused [0-9a-f]{32}$"
check "2 s period: ... renewed under a later slot's key" test "$(slot_of "${out#Reused }")" -gt "$s0"
check "2 s period: renewal counted" test "$(counter "$PORT_P" tickets_renewed)" -gt "$renewed0"
# slot s0's key opens tickets until (s0 + 1) * 2 + 6
past_window() { [ "$(date +%s)" -ge $(( (s0 + 1) * 2 + 6 )) ]; }
check "2 s period: the window of slot $s0 ends within 10 s" wait_for 10 past_window
unknown0=$(counter "$PORT_P" tickets_unknown_key)
expect_eq "2 s period: a ticket older than the window: full handshake" "$(sess "$PORT_P" -tls1_2 -sess_in "$T/p0")" New
check "2 s period: ... its key is forgotten (tickets_unknown_key)" test "$(counter "$PORT_P" tickets_unknown_key)" -gt "$unknown0"
# keys are wiped, not only refused: after 7 slots (one key made for each,
# and one ahead) at most timeout / period + 2 = 5 are held in memory
seventh_slot() { [ $(( $(date +%s) / 2 )) -ge $((s0 + 7)) ]; }
check "2 s period: slot $((s0 + 7)) comes within 10 s" wait_for 10 seventh_slot
held=$(counter "$PORT_P" ticket_keys_held)
check "2 s period: $held keys held in memory (2 to 5)" test "$held" -ge 2 -a "$held" -le 5
stop_host "$PID_P"

# ---------------------------------- farms: through Redis, memcached
# Each runs once its backend exists: cachetd -t must accept the store.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
head -c 32 /dev/urandom > "$T/keys/seal.key"
chmod 600 "$T/keys/seal.key"
# farm_conf HOST STORE: a host of a farm (same seal key everywhere)
farm_conf() {
	host_conf "$1" 'session-cache {' "store = \"$2\"" \
		"seal-key-file = \"$T/keys/seal.key\"" '}'
}
# right after start a host issues no ticket until the store answers
issues_ticket() {
	rm -f "$T/fprobe"
	sess "$1" -tls1_2 -sess_out "$T/fprobe" >/dev/null
	[ -n "$(ticket_name "$T/fprobe")" ]
}
# farm K WHAT STORE SERVER_PID DEAD_STORE: hosts K1 and K2 share ticket
# keys through STORE (served by SERVER_PID); K3 has a store that is not
# there; K4 starts while the server is stopped (SIGSTOP).
farm() {
	local k=$1 what=$2 store=$3 spid=$4 dead=$5 v p1 p2 p3 p4 own fk
	farm_conf "${k}1" "$store" && start_host "${k}1" || return 1
	farm_conf "${k}2" "$store" && start_host "${k}2" || return 1
	eval "p1=\$PORT_${k}1 p2=\$PORT_${k}2"
	check "$what: host 1 issues tickets" wait_for 10 issues_ticket "$p1"
	check "$what: host 2 issues tickets" wait_for 10 issues_ticket "$p2"
	for v in 1_2 1_3; do
		sess "$p1" "-tls$v" -sess_out "$T/${k}1$v" >/dev/null
		sess "$p2" "-tls$v" -sess_out "$T/${k}2$v" >/dev/null
		expect_match "$what, TLS $v: both hosts encrypt under the same key" \
			"$(ticket_name "$T/${k}1$v") $(ticket_name "$T/${k}2$v")" "^([0-9a-f]{32}) \\1$"
		expect_eq "$what, TLS $v: a ticket from host 1 resumes on host 2" "$(sess "$p2" "-tls$v" -sess_in "$T/${k}1$v")" Reused
		expect_eq "$what, TLS $v: a ticket from host 2 resumes on host 1" "$(sess "$p1" "-tls$v" -sess_in "$T/${k}2$v")" Reused
	done
	fk=$(ticket_name "$T/${k}11_2")
	expect_eq "$what: no key made locally on host 1" "$(counter "$p1" ticket_keys_local)" 0
	expect_eq "$what: no key made locally on host 2" "$(counter "$p2" ticket_keys_local)" 0

	# a host whose store is not there: after the grace it makes the
	# slot's key itself, says so, and its tickets resume only there
	farm_conf "${k}3" "$dead" && start_host "${k}3" || return 1
	eval "p3=\$PORT_${k}3"
	check "$what, store down: host 3 issues tickets after the grace" wait_for 15 issues_ticket "$p3"
	sess "$p3" -tls1_2 -sess_out "$T/${k}3" >/dev/null
	expect_eq "$what, store down: its ticket resumes on host 3" "$(sess "$p3" -tls1_2 -sess_in "$T/${k}3")" Reused
	expect_eq "$what, store down: not on host 1" "$(sess "$p1" -tls1_2 -sess_in "$T/${k}3")" New
	check "$what, store down: counted (ticket_keys_local)" test "$(counter "$p3" ticket_keys_local)" -ge 1
	check "$what, store down: logged" grep -q 'made one on this host: its tickets resume here only' "$T/${k}3.err"
	eval "stop_host \$PID_${k}3"

	# the server stops answering (SIGSTOP) while host 4 starts: it makes
	# the slot's key itself; when the server answers again host 4 takes
	# the farm's key, and still opens the tickets made under its own
	kill -STOP "$spid"
	farm_conf "${k}4" "$store" && start_host "${k}4" || { kill -CONT "$spid"; return 1; }
	eval "p4=\$PORT_${k}4"
	check "$what, server stopped: host 4 issues tickets after the grace" wait_for 15 issues_ticket "$p4"
	sess "$p4" -tls1_2 -sess_out "$T/${k}4" >/dev/null
	own=$(ticket_name "$T/${k}4")
	check "$what, server stopped: host 4's key is its own" test -n "$own" -a "$own" != "$fk"
	kill -CONT "$spid"
	farm_key() {
		rm -f "$T/${k}4n"
		sess "$p4" -tls1_2 -sess_out "$T/${k}4n" >/dev/null
		[ "$(ticket_name "$T/${k}4n")" = "$fk" ]
	}
	check "$what, server back: host 4 takes the farm's key within 15 s" wait_for 15 farm_key
	expect_eq "$what, server back: a ticket from host 4 now resumes on host 1" "$(sess "$p1" -tls1_2 -sess_in "$T/${k}4n")" Reused
	expect_eq "$what, server back: host 4's earlier ticket still resumes there, renewed under the farm's key" \
		"$(sess_nst "$p4" -tls1_2 -sess_in "$T/${k}4")" "Reused $fk"
	eval "stop_host \$PID_${k}4; stop_host \$PID_${k}1; stop_host \$PID_${k}2"
}

host_conf probe 'session-cache { store = "redis:127.0.0.1:6379" }'
if ! t_check "$T/probe.conf" >/dev/null; then
	echo "# skipped: hosts sharing ticket keys through Redis (cachetd -t refuses a redis: store: no Redis backend in this build)"
elif ! command -v redis-server >/dev/null; then
	echo "# skipped: hosts sharing ticket keys through Redis (no redis-server)"
else
	rport=$(free_port)
	redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$T" --logfile "$T/redis.log" --daemonize no &
	RPID=$!
	PIDS="$PIDS $RPID"
	check "redis-server answers" wait_for 10 bash -c "redis-cli -p $rport ping 2>/dev/null | grep -q PONG"
	farm r Redis "redis:127.0.0.1:$rport" "$RPID" "redis:127.0.0.1:$(free_port)"
	# the record's name, as it is or hex-encoded (what the backend does)
	hexname=$(printf 'ticket-key:3600:' | od -An -tx1 | tr -d ' \n')
	nrec=$( { redis-cli -p "$rport" --scan --pattern '*ticket-key:3600:*'
		redis-cli -p "$rport" --scan --pattern "*$hexname*"; } | wc -l)
	check "Redis: one record per slot, current and next ($nrec)" test "$nrec" -ge 2 -a "$nrec" -le 3
	kill -TERM "$RPID"
	wait_for 5 gone "$RPID"
fi

host_conf probe 'session-cache { store = "memcached:127.0.0.1:11211" }'
if ! t_check "$T/probe.conf" >/dev/null; then
	echo "# skipped: hosts sharing ticket keys through memcached (cachetd -t refuses a memcached: store: no memcached backend in this build)"
elif ! command -v memcached >/dev/null; then
	echo "# skipped: hosts sharing ticket keys through memcached (no memcached)"
else
	mport=$(free_port)
	memcached -l 127.0.0.1 -p "$mport" -U 0 -m 16 -t 1 -u root 2>/dev/null &
	MPID=$!
	PIDS="$PIDS $MPID"
	mc_up() { python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1])),1); s.sendall(b"version\r\n"); sys.exit(0 if s.recv(64).startswith(b"VERSION") else 1)' "$mport" 2>/dev/null; }
	check "memcached answers" wait_for 10 mc_up
	farm m memcached "memcached:127.0.0.1:$mport" "$MPID" "memcached:127.0.0.1:$(free_port)"
	kill -TERM "$MPID"
	wait_for 5 gone "$MPID"
fi
finish
