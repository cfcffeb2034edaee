#!/usr/bin/env python3
"""Hold N TLS connections to a test server, then close them on request.

    holdconns.py PORT CAFILE N MODE READYFILE RELEASEFILE

MODE idle: handshake, one keep-alive request answered, then silence.
MODE slow: handshake, then half a request head (a slowloris).
MODE raw:  a TCP connection that never starts TLS.
Writes READYFILE with the number held once all are set up, closes them all
when RELEASEFILE appears, and gives up after 60 s whatever happens."""
import os, socket, ssl, sys, time

port, ca, n, mode, ready, release = (int(sys.argv[1]), sys.argv[2],
    int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6])
ctx = ssl.create_default_context(cafile=ca)
deadline = time.time() + 60
held = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if mode != "raw":
        s = ctx.wrap_socket(s, server_hostname="localhost")
    if mode == "idle":
        s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        data = b""
        while b"hello, world" not in data:
            b = s.recv(4096)
            if not b:
                sys.exit("connection %d closed before its answer" % i)
            data += b
    elif mode == "slow":
        s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: loc")
    held.append(s)
with open(ready + ".tmp", "w") as f:
    f.write("%d\n" % len(held))
os.rename(ready + ".tmp", ready)
closed = 0
while not os.path.exists(release) and time.time() < deadline:
    time.sleep(0.05)
for s in held:
    s.close()
