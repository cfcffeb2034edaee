#!/usr/bin/env python3
"""pyget.py - one HTTPS request with python's ssl module (a client we did
not write), for the tests.  Prints the status line, then the body.

  pyget.py PORT PATH [--tls 1.2|1.3|any] [--cert F --key F] [--pha|--no-pha]
           [--ca FILE] [--stall SECONDS]

--stall sends the request and then does not read for SECONDS (so a
certificate request from the server goes unanswered), then reads: prints
CLOSED if the server dropped the connection.
"""
import argparse, socket, ssl, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("path")
ap.add_argument("--tls", default="1.3")
ap.add_argument("--cert")
ap.add_argument("--key")
ap.add_argument("--ca")
ap.add_argument("--pha", dest="pha", action="store_true", default=True)
ap.add_argument("--no-pha", dest="pha", action="store_false")
ap.add_argument("--stall", type=float, default=0)
a = ap.parse_args()

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(a.ca)
if a.tls == "any":
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
else:
    v = ssl.TLSVersion.TLSv1_2 if a.tls == "1.2" else ssl.TLSVersion.TLSv1_3
    ctx.minimum_version = ctx.maximum_version = v
ctx.post_handshake_auth = a.pha
if a.cert:
    ctx.load_cert_chain(a.cert, a.key)
raw = socket.create_connection(("127.0.0.1", a.port), timeout=10)
s = ctx.wrap_socket(raw, server_hostname="localhost")
s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
           % a.path).encode())
if a.stall:
    time.sleep(a.stall)
data = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
except (ssl.SSLError, ConnectionResetError, BrokenPipeError, OSError) as e:
    if not data:
        print("CLOSED", type(e).__name__)
        sys.exit(0)
if not data:
    print("CLOSED eof")
    sys.exit(0)
head, _, body = data.partition(b"\r\n\r\n")
print(head.split(b"\r\n")[0].decode())
sys.stdout.write(body.decode(errors="replace"))
