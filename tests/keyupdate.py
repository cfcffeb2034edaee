#!/usr/bin/env python3
"""Send N TLS 1.3 KeyUpdate messages, then a request, through openssl
s_client's "k" command; print "served" if the answer comes back,
"closed" if the server closed the connection first.

    keyupdate.py PORT CAFILE N"""
import os, select, subprocess, sys, time

port, ca, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
p = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:" + port,
                      "-servername", "localhost", "-CAfile", ca, "-tls1_3",
                      "-crlf"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT)
out = b""
deadline = time.time() + 20


def drain(wait):
    global out
    r, _, _ = select.select([p.stdout], [], [], wait)
    if r:
        b = os.read(p.stdout.fileno(), 65536)
        if not b:
            return False
        out += b
    return True


while b"Verify return code" not in out and time.time() < deadline:
    if not drain(0.1):
        break
alive = True
for i in range(n):
    try:
        p.stdin.write(b"k\n")
        p.stdin.flush()
    except BrokenPipeError:
        alive = False
        break
    # one command per read of s_client's: let it take this line alone
    if not drain(0.01):
        alive = False
        break
if alive:
    try:
        p.stdin.write(b"GET /hello.txt HTTP/1.0\n\n")
        p.stdin.flush()
    except BrokenPipeError:
        pass
while time.time() < deadline and b"hello, world" not in out:
    if not drain(0.1):
        break
print("served" if b"hello, world" in out else "closed",
      out.count(b"KEYUPDATE"))
try:
    p.stdin.close()
except BrokenPipeError:
    pass
p.kill()
p.wait()
