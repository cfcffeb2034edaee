#!/bin/bash
# How a connection ends, over TLS 1.2 and 1.3 with python's ssl: a client
# that asks to close gets the whole response and close_notify, and the
# server closes at once rather than waiting for the client's EOF; a client
# that may still be sending (a request pipelined after "Connection: close",
# a body not read) is drained first, so its response is not lost to a reset.
. "$top_srcdir/tests/lib.sh"
make_site "$T/site"
head -c 8000000 /dev/urandom > "$T/site/huge.bin"
head -c 2000000 /dev/urandom > "$T/site/mid.bin"    # fits a send buffer
chmod 644 "$T/site/huge.bin" "$T/site/mid.bin"
write_conf "$T/c.conf"
start_cachetd "$T/c.conf" || exit 1

out=$(python3 - "$PORT" "$CERTS/ca.crt" "$T/site/big.bin" "$T/site/huge.bin" "$T/site/mid.bin" <<'PY'
import socket, ssl, struct, sys, time
port, ca, big = int(sys.argv[1]), sys.argv[2], open(sys.argv[3], "rb").read()
huge = open(sys.argv[4], "rb").read()
mid = open(sys.argv[5], "rb").read()
TCP_CLOSE = 7

def half_close(ver, path, then=None, wait=0.3):
    """Request with Connection: close, then our close_notify while the
    server sends (a TLS 1.3 client may close its side while it reads; in
    TLS 1.2 it is the client giving up), through a small receive buffer:
    the server has much of the body queued when it ends, with our
    close_notify unread in its socket.  A close() then would reset the
    connection and throw away what is still queued."""
    ctx = ssl.create_default_context(cafile=ca)
    ctx.minimum_version = ctx.maximum_version = ver
    inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inb, outb, server_hostname="localhost")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    def flush():
        d = outb.read()
        if d:
            s.sendall(d)
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            flush()
            d = s.recv(65536)
            if not d:
                return b"", "eof in handshake"
            inb.write(d)
    flush()
    if then is None:
        obj.write(req(path, "close"))
    else:
        obj.write(req(path, "keep-alive") + req(then, "close"))
    flush()
    time.sleep(wait)    # the server is sending, not reading, when it comes
    try:
        obj.unwrap()
    except ssl.SSLWantReadError:
        pass
    flush()
    time.sleep(0.3)
    data, how = b"", None
    while how is None:
        try:
            d = s.recv(65536)
        except ConnectionResetError:
            how = "reset"
            break
        except socket.timeout:
            how = "timeout"
            break
        if not d:
            how = "eof-without-close_notify"
            break
        inb.write(d)
        while True:
            try:
                x = obj.read(65536)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                how = "close_notify"
                break
            if not x:
                how = "close_notify"
                break
            data += x
    s.close()
    if then is not None:    # both whole: the first's body, then the second
        head, _, rest = data.partition(b"\r\n\r\n")
        n = int([l.split(b":")[1] for l in head.split(b"\r\n")
                 if l.lower().startswith(b"content-length:")][0] or 0)
        second = rest[n:]
        return (rest[:n] == mid and second.startswith(b"HTTP/1.1 200") and
                second.endswith(b"hello, world\n")), how
    return data.split(b"\r\n\r\n", 1)[-1], how

def connect(ver):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.minimum_version = ctx.maximum_version = ver
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    # an EOF without close_notify raises instead of reading as b""
    return ctx.wrap_socket(raw, server_hostname="localhost",
                           suppress_ragged_eofs=False)

def read_to_close(s):
    """Everything up to the server's close_notify, and how it ended."""
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return data, "close_notify"
            data += b
    except ssl.SSLEOFError:
        return data, "eof-without-close_notify"
    except (ConnectionResetError, socket.timeout) as e:
        return data, type(e).__name__

def req(path, conn):
    return ("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: %s\r\n\r\n"
            % (path, conn)).encode()

def responses(data):
    return data.count(b"HTTP/1.1 ")

def tcp_state(sock):
    return struct.unpack("B", sock.getsockopt(socket.IPPROTO_TCP,
                                             socket.TCP_INFO, 104)[:1])[0]

def segs_in(sock):
    """Segments this socket received (tcp_info.tcpi_segs_in)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    return struct.unpack_from("I", info, 140)[0] if len(info) >= 144 else None

def one_segment_ends():
    """TLS 1.2, ten connections of one request with Connection: close:
    the segments that came after the request.  The answer's end,
    close_notify and the FIN in one segment make 1 (a delayed pure ACK of
    the request, 2); sent apart they make 3, or 2 when the kernel merged
    two: never 1."""
    counts = []
    for _ in range(10):
        s = connect(ssl.TLSVersion.TLSv1_2)
        a = segs_in(s)
        if a is None:
            return "no tcpi_segs_in"
        s.sendall(req("/hello.txt", "close"))
        data, how = read_to_close(s)
        counts.append(segs_in(s) - a)
        s.close()
    return "ones %d max %d" % (counts.count(1), max(counts))

def server_gone(s):
    """Our close_notify goes to a server that closed its socket: its
    kernel answers with a reset and our socket is CLOSE.  A server still
    draining reads it instead, and our socket stays in CLOSE_WAIT."""
    raw = s.unwrap()
    t0 = time.time()
    while time.time() - t0 < 5:
        if tcp_state(raw) == TCP_CLOSE:
            raw.close()
            return "closed"
        time.sleep(0.02)
    raw.close()
    return "still-open"

print("segments:", one_segment_ends())
for name, ver in (("1.2", ssl.TLSVersion.TLSv1_2),
                  ("1.3", ssl.TLSVersion.TLSv1_3)):
    # Connection: close
    s = connect(ver)
    s.sendall(req("/hello.txt", "close"))
    data, how = read_to_close(s)
    print(name, "close:", responses(data), data.endswith(b"hello, world\n"), how)
    print(name, "close-server:", server_gone(s))

    # keep-alive, then close on the second request
    s = connect(ver)
    s.sendall(req("/hello.txt", "keep-alive"))
    s.sendall(req("/sub/", "close"))
    data, how = read_to_close(s)
    print(name, "ka+close:", responses(data), data.endswith(b"sub index\n"), how)
    print(name, "ka+close-server:", server_gone(s))

    # a big keep-alive response then a small closing one, pipelined, and
    # our close_notify a second later: the big one (2 MB, queued whole in
    # the server's send buffer while we do not read) is still on its way
    # when the small one is out, so the server drains, and all arrives
    body, how = half_close(ver, "/mid.bin", then="/hello.txt", wait=1.0)
    print(name, "pipelined-half-close:", body, how)

    # HTTP/1.0, no keep-alive
    s = connect(ver)
    s.sendall(b"GET /hello.txt HTTP/1.0\r\n\r\n")
    data, how = read_to_close(s)
    print(name, "1.0:", data.startswith(b"HTTP/1.1 200"), how)
    print(name, "1.0-server:", server_gone(s))

    # a big file: every record, then close_notify
    s = connect(ver)
    s.sendall(req("/big.bin", "close"))
    data, how = read_to_close(s)
    body = data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""
    print(name, "big:", body == big, how)

    # keep-alive: a big file (records marked "more follows" but the
    # last), then a small one on the same connection, then close
    s = connect(ver)
    s.sendall(req("/big.bin", "keep-alive"))
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(65536)
    head, body = head.split(b"\r\n\r\n", 1)
    n = int([l.split(b":")[1] for l in head.split(b"\r\n")
             if l.lower().startswith(b"content-length:")][0])
    while len(body) < n:
        body += s.recv(65536)
    s.sendall(req("/hello.txt", "close"))
    data, how = read_to_close(s)
    print(name, "big+ka:", body == big, data.endswith(b"hello, world\n"), how)

    # the client closes its side while the answer comes: 8 MB still arrive
    body, how = half_close(ver, "/huge.bin")
    print(name, "half-close:", body == huge, how)

    # a request pipelined after "Connection: close": one answer, whole
    s = connect(ver)
    s.sendall(req("/hello.txt", "close") + req("/sub/", "keep-alive"))
    data, how = read_to_close(s)
    print(name, "pipelined:", responses(data), data.endswith(b"hello, world\n"), how)
    s.close()
PY
)
echo "$out" | sed 's/^/# /'
seg=$(echo "$out" | sed -n 's/^segments: //p')
n1=$(echo "$seg" | sed -n 's/^ones \([0-9]*\) max \([0-9]*\)$/\1/p')
mx=$(echo "$seg" | sed -n 's/^ones \([0-9]*\) max \([0-9]*\)$/\2/p')
check "the answer's end, close_notify and FIN in one segment, mostly ($seg)" \
    test "${n1:-0}" -ge 5 -a "${mx:-9}" -le 2
for v in 1.2 1.3; do
	expect_eq "TLS $v Connection: close: one response, whole, then close_notify" \
	    "$(echo "$out" | grep "^$v close:")" "$v close: 1 True close_notify"
	expect_eq "TLS $v Connection: close: the server closed without waiting for the client" \
	    "$(echo "$out" | grep "^$v close-server:")" "$v close-server: closed"
	expect_eq "TLS $v keep-alive then close: both responses, close_notify" \
	    "$(echo "$out" | grep "^$v ka+close:")" "$v ka+close: 2 True close_notify"
	expect_eq "TLS $v keep-alive then close: drained (an earlier response may still be queued)" \
	    "$(echo "$out" | grep "^$v ka+close-server:")" "$v ka+close-server: still-open"
	expect_eq "TLS $v 2 MB kept alive, then a closing request, pipelined, then our close_notify: both whole" \
	    "$(echo "$out" | grep "^$v pipelined-half-close:")" "$v pipelined-half-close: True close_notify"
	expect_eq "TLS $v HTTP/1.0: response and close_notify" \
	    "$(echo "$out" | grep "^$v 1.0:")" "$v 1.0: True close_notify"
	expect_eq "TLS $v HTTP/1.0: closed at once" \
	    "$(echo "$out" | grep "^$v 1.0-server:")" "$v 1.0-server: closed"
	expect_eq "TLS $v 300 kB with Connection: close: intact, then close_notify" \
	    "$(echo "$out" | grep "^$v big:")" "$v big: True close_notify"
	expect_eq "TLS $v keep-alive: 300 kB, then a small file on the same connection" \
	    "$(echo "$out" | grep "^$v big+ka:")" "$v big+ka: True True close_notify"
	expect_eq "TLS $v the client's close_notify while 8 MB come: all of it, then close_notify" \
	    "$(echo "$out" | grep "^$v half-close:")" "$v half-close: True close_notify"
	expect_eq "TLS $v a request pipelined after close: one whole response, close_notify" \
	    "$(echo "$out" | grep "^$v pipelined:")" "$v pipelined: 1 True close_notify"
done

# A body the server does not read (413) is drained: the answer arrives
# whole, not destroyed by a reset (curl sends 300 kB after the head).
expect_eq "413 arrives while the client still sends its body" \
    "$(status_of -X POST --data-binary "@$T/site/big.bin" "$(URL /)")" 413
expect_eq "still serving" "$(C "$(URL /hello.txt)")" "hello, world"
finish
