#!/usr/bin/env python3
"""syslogd.py SOCKET OUT: a syslog receiver for the tests.

Binds a UNIX datagram socket at SOCKET (as /dev/log is) and appends each
message it receives to OUT, one per line, as it came (a message holding a
newline would show as two lines: cachetd never sends one).  Runs until
TERM or INT; removes SOCKET on the way out.  --slow: takes nothing, so the
socket's queue fills (a receiver that does not keep up)."""
import os
import signal
import socket
import sys

def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    slow = "--slow" in sys.argv
    path, out = args
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o666)   # as /dev/log: workers reconnect as their user
    stop = lambda *_: (os.unlink(path), os._exit(0))
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if slow:
        while True:
            signal.pause()
    with open(out, "ab", buffering=0) as f:
        while True:
            msg = s.recv(65536)
            f.write(msg + b"\n")

main()
