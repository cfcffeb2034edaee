#!/bin/bash
# systemd readiness (Type=notify) without systemd: a Python listener binds
# the AF_UNIX datagram socket systemd would, starts cachetd with
# NOTIFY_SOCKET naming it, and checks what arrives, and from whom: READY=1
# once TLS is answered, RELOADING=1 (with a current MONOTONIC_USEC) then
# READY=1 around a HUP, also a HUP with a broken config, and STOPPING=1 at
# TERM; all from the master's pid.  Once with a socket file, once with an
# abstract ('@') name.
. "$top_srcdir/tests/lib.sh"
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
make_site "$T/site"
write_conf "$T/c.conf"

cat > "$T/notify.py" <<'PY'
import os, re, signal, socket, ssl, struct, subprocess, sys, time

cachetd, conf, errlog, ca, addr = sys.argv[1:6]
out = []
def check(desc, cond, more=""):
    print(("ok - " if cond else "FAIL - ") + desc + ("" if cond else ": " + more))
    sys.stdout.flush()

sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
sock.bind("\0" + addr[1:] if addr.startswith("@") else addr)
sock.settimeout(15)

def recv():
    """(message, sender pid), or (None, None) after 15 s"""
    try:
        data, anc, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(12))
    except socket.timeout:
        return None, None
    pid = None
    for level, kind, d in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", d[:12])[0]
    return data.decode(), pid

def port():
    m = re.findall(r"listening on 127\.0\.0\.1:(\d+)", open(errlog).read())
    return int(m[-1]) if m else None

def tls_answers(p):
    ctx = ssl.create_default_context(cafile=ca)
    try:
        with socket.create_connection(("127.0.0.1", p), timeout=5) as s:
            with ctx.wrap_socket(s, server_hostname="localhost") as t:
                t.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n"
                          b"Connection: close\r\n\r\n")
                return t.recv(100).startswith(b"HTTP/1.1 200")
    except OSError as e:
        return False

env = dict(os.environ, NOTIFY_SOCKET=addr)
stderr = open(os.path.join(os.path.dirname(errlog), "stderr.log"), "a")
proc = subprocess.Popen([cachetd, "-c", conf], env=env, stderr=stderr)
tag = "[%s] " % ("abstract" if addr.startswith("@") else "socket file")

msg, pid = recv()
check(tag + "READY=1 at start", msg is not None and "READY=1" in msg.split("\n"), repr(msg))
check(tag + "sent by the master", pid == proc.pid, "pid %s, master %d" % (pid, proc.pid))
p = port()
check(tag + "at READY=1 the port answers TLS at once", p is not None and tls_answers(p))

# HUP: RELOADING=1 with MONOTONIC_USEC, then READY=1
before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
proc.send_signal(signal.SIGHUP)
msg, pid = recv()
lines = (msg or "").split("\n")
check(tag + "RELOADING=1 at HUP", "RELOADING=1" in lines, repr(msg))
usec = [int(l.split("=", 1)[1]) for l in lines if l.startswith("MONOTONIC_USEC=")]
after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
check(tag + "MONOTONIC_USEC is the reload's CLOCK_MONOTONIC time",
      len(usec) == 1 and before <= usec[0] <= after, repr(msg))
msg, pid = recv()
check(tag + "READY=1 after the new generation", msg is not None and "READY=1" in msg.split("\n"), repr(msg))
check(tag + "reload messages from the master", pid == proc.pid)
check(tag + "generation 2 logged before READY=1", "reloaded: generation 2" in open(errlog).read())
check(tag + "serving after the reload", tls_answers(port()))

# HUP with a broken config: RELOADING=1 then READY=1 all the same (or
# systemctl reload would hang), with a STATUS= saying so
good = open(conf).read()
open(conf, "a").write('workers = "lots"\n')
proc.send_signal(signal.SIGHUP)
m1, _ = recv()
m2, _ = recv()
check(tag + "broken reload: RELOADING=1", m1 is not None and "RELOADING=1" in m1.split("\n"), repr(m1))
check(tag + "broken reload: READY=1 with STATUS=reload failed",
      m2 is not None and "READY=1" in m2.split("\n") and "STATUS=reload failed" in m2, repr(m2))
open(conf, "w").write(good)

# TERM: STOPPING=1, then the master exits 0
proc.send_signal(signal.SIGTERM)
msg, pid = recv()
check(tag + "STOPPING=1 at TERM", msg == "STOPPING=1", repr(msg))
check(tag + "STOPPING=1 from the master", pid == proc.pid)
try:
    rc = proc.wait(20)
except subprocess.TimeoutExpired:
    proc.kill(); rc = "timeout"
check(tag + "master exits 0 after STOPPING=1", rc == 0, "exit %s" % rc)
sock.settimeout(0.5)
msg, _ = recv()
check(tag + "nothing after STOPPING=1", msg is None, repr(msg))
print("done")
PY

run() { # NOTIFY_SOCKET value
	local line done=0
	while IFS= read -r line; do
		case $line in
		"ok - "*) ok "${line#ok - }" ;;
		"FAIL - "*) fail "${line#FAIL - }" ;;
		done) done=1 ;;
		*) echo "# $line" ;;
		esac
	done < <(python3 "$T/notify.py" "$CACHETD" "$T/c.conf" "$T/error.log" \
	    "$CERTS/ca.crt" "$1" 2>&1)
	[ $done = 1 ] || fail "the listener ran to its end ($1)"
}
: > "$T/error.log"
run "$T/notify.sock"
: > "$T/error.log"
run "@cachet-test-notify-$$"

# Without NOTIFY_SOCKET nothing changes: started the usual way, it serves.
unset NOTIFY_SOCKET
start_cachetd "$T/c.conf" && ok "starts without NOTIFY_SOCKET" || fail "starts without NOTIFY_SOCKET"
expect_eq "serves without NOTIFY_SOCKET" "$(C "$(URL /hello.txt)")" "hello, world"
stop_cachetd
finish
