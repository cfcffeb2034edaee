#!/bin/bash
# Static files as RFC 9110 has them: byte ranges (single, suffix, open,
# multipart/byteranges read by python's email parser, 416, If-Range both
# ways), ETag and If-None-Match before If-Modified-Since, precompressed
# siblings, header lines, the built-in media types, and bad Range headers
# that must cost nothing.
. "$top_srcdir/tests/lib.sh"
make_site "$T/site"
head -c 10000 /dev/urandom > "$T/site/data.bin"
seq 1 3000 > "$T/site/n.txt"
gzip -9 -k "$T/site/n.txt"
printf 'old' > "$T/site/stale.txt"; printf 'gz' | gzip > "$T/site/stale.txt.gz"
touch -d '2020-01-01' "$T/site/stale.txt.gz"
mkdir -p "$T/site/hdr"; echo hdr > "$T/site/hdr/f.txt"
echo '<p>x</p>' > "$T/site/page.html"; echo 'x' > "$T/site/file.qqq"
chmod -R a+rX "$T/site"
WORKERS=1 write_conf "$T/c.conf" 'gzip-static = true' 'default-type = "text/x-unknown"' \
	'header = {"Strict-Transport-Security: max-age=63072000", "X-Test: server"}' \
	'location "/hdr/" {' 'header = {"X-Location: hdr"}' '}'
start_cachetd "$T/c.conf" || exit 1
hdr() { C -s -D - -o /dev/null "$@" | tr -d '\r'; }
field() { sed -n "s/^$1: //Ip"; }

# --- single ranges, byte-exact
for r in 0-9 -500 9500- 100-100 9990-20000; do
	C -s -r "$r" -o "$T/part" "$(URL /data.bin)"
	case $r in
	-*) want=$(tail -c "${r#-}" "$T/site/data.bin" | od -An -tx1) ;;
	*-) want=$(tail -c +$(( ${r%-} + 1 )) "$T/site/data.bin" | od -An -tx1) ;;
	*) a=${r%-*}; b=${r#*-}; [ "$b" -gt 9999 ] && b=9999
	   want=$(tail -c +$((a + 1)) "$T/site/data.bin" | head -c $((b - a + 1)) | od -An -tx1) ;;
	esac
	expect_eq "range $r: the right bytes" "$(od -An -tx1 < "$T/part")" "$want"
done
h=$(hdr -r 0-9 "$(URL /data.bin)")
expect_match "range: 206" "$h" "^HTTP/1.1 206 Partial Content"
expect_eq "range: Content-Range" "$(echo "$h" | field Content-Range)" "bytes 0-9/10000"
expect_eq "range: Content-Length" "$(echo "$h" | field Content-Length)" 10
expect_eq "Accept-Ranges on a 200" "$(hdr "$(URL /data.bin)" | field Accept-Ranges)" bytes
h=$(hdr -r 10000- "$(URL /data.bin)")
expect_match "unsatisfiable: 416" "$h" "^HTTP/1.1 416 Range Not Satisfiable"
expect_eq "416: Content-Range bytes */LEN" "$(echo "$h" | field Content-Range)" "bytes */10000"
expect_eq "416: the connection stays open" "$(echo "$h" | field Connection)" keep-alive

# --- several ranges: multipart/byteranges, parsed by python's email parser
out=$(python3 - "$PORT" "$CERTS/ca.crt" "$T/site/data.bin" <<'PY'
import email, email.policy, socket, ssl, sys
port, ca, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
data = open(path, "rb").read()
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="localhost")
s.sendall(b"GET /data.bin HTTP/1.1\r\nHost: localhost\r\nRange: bytes=0-9, 5000-5099,-10\r\nConnection: close\r\n\r\n")
raw = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    raw += b
head, _, body = raw.partition(b"\r\n\r\n")
lines = head.decode().split("\r\n")
hdrs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
assert lines[0].startswith("HTTP/1.1 206"), lines[0]
assert int(hdrs["content-length"]) == len(body), (hdrs["content-length"], len(body))
msg = email.message_from_bytes(b"Content-Type: " + hdrs["content-type"].encode() + b"\r\n\r\n" + body, policy=email.policy.HTTP)
assert msg.get_content_type() == "multipart/byteranges"
parts = list(msg.iter_parts())
want = [(0, 9), (5000, 5099), (9990, 9999)]
assert len(parts) == 3, len(parts)
for p, (a, b) in zip(parts, want):
    assert p["Content-Range"] == "bytes %d-%d/%d" % (a, b, len(data)), p["Content-Range"]
    assert p.get_payload(decode=True) == data[a:b + 1], (a, b)
print("multipart ok", len(parts))
PY
)
expect_eq "multipart/byteranges: three parts, byte-exact, length exact" "$out" "multipart ok 3"

# --- ETag and conditional requests
h=$(hdr "$(URL /data.bin)")
etag=$(echo "$h" | field ETag); lm=$(echo "$h" | field Last-Modified)
expect_match "a strong ETag" "$etag" '^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$'
st() { C -s -o /dev/null -w '%{http_code}' "$@"; }
expect_eq "If-None-Match: the tag: 304" "$(st -H "If-None-Match: $etag" "$(URL /data.bin)")" 304
expect_eq "If-None-Match: in a list: 304" "$(st -H "If-None-Match: \"a\", $etag" "$(URL /data.bin)")" 304
expect_eq "If-None-Match: weak form: 304" "$(st -H "If-None-Match: W/$etag" "$(URL /data.bin)")" 304
expect_eq "If-None-Match: *: 304" "$(st -H 'If-None-Match: *' "$(URL /data.bin)")" 304
expect_eq "If-None-Match: another tag: 200" "$(st -H 'If-None-Match: "nope"' "$(URL /data.bin)")" 200
expect_eq "If-None-Match decides alone (a later If-Modified-Since is ignored): 200" \
	"$(st -H 'If-None-Match: "nope"' -H 'If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT' "$(URL /data.bin)")" 200
expect_eq "If-Modified-Since alone: 304" "$(st -H "If-Modified-Since: $lm" "$(URL /data.bin)")" 304
h=$(hdr -H "If-None-Match: $etag" "$(URL /data.bin)")
expect_eq "304 carries the ETag" "$(echo "$h" | field ETag)" "$etag"
expect_nomatch "304 has no body length" "$h" "^Content-Length"
expect_eq "If-Range with the tag: 206" "$(st -r 0-9 -H "If-Range: $etag" "$(URL /data.bin)")" 206
expect_eq "If-Range with another tag: 200" "$(st -r 0-9 -H 'If-Range: "old"' "$(URL /data.bin)")" 200
expect_eq "If-Range weak: 200" "$(st -r 0-9 -H "If-Range: W/$etag" "$(URL /data.bin)")" 200
expect_eq "If-Range with the date: 206" "$(st -r 0-9 -H "If-Range: $lm" "$(URL /data.bin)")" 206
expect_eq "If-Range with an older date: 200" "$(st -r 0-9 -H 'If-Range: Sat, 01 Jan 2000 00:00:00 GMT' "$(URL /data.bin)")" 200

# --- resuming a download (curl -C -)
head -c 3333 "$T/site/data.bin" > "$T/resumed"
C -s -C - -o "$T/resumed" "$(URL /data.bin)"
check "curl -C - resumes to the same file" cmp -s "$T/resumed" "$T/site/data.bin"

# --- precompressed siblings
h=$(hdr -H 'Accept-Encoding: gzip' "$(URL /n.txt)")
expect_eq "gzip accepted: Content-Encoding" "$(echo "$h" | field Content-Encoding)" gzip
expect_eq "gzip: the sibling's length" "$(echo "$h" | field Content-Length)" "$(stat -c %s "$T/site/n.txt.gz")"
expect_match "gzip: the type of the file itself" "$(echo "$h" | field Content-Type)" "^text/plain"
expect_eq "gzip: Vary" "$(echo "$h" | field Vary)" Accept-Encoding
check "gzip: the body is the sibling" cmp -s <(C -s -H 'Accept-Encoding: gzip' "$(URL /n.txt)") "$T/site/n.txt.gz"
expect_eq "gzip: its own ETag" "$(echo "$h" | field ETag | grep -c "$(hdr "$(URL /n.txt)" | field ETag)")" 0
h=$(hdr "$(URL /n.txt)")
expect_nomatch "no Accept-Encoding: plain" "$h" "^Content-Encoding"
expect_eq "plain: still Vary" "$(echo "$h" | field Vary)" Accept-Encoding
expect_nomatch "gzip;q=0: plain" "$(hdr -H 'Accept-Encoding: gzip;q=0' "$(URL /n.txt)")" "^Content-Encoding"
expect_nomatch "older sibling: plain" "$(hdr -H 'Accept-Encoding: gzip' "$(URL /stale.txt)")" "^Content-Encoding"
check "gzip + range: bytes of the sibling" cmp -s <(C -s -r 0-99 -H 'Accept-Encoding: gzip' "$(URL /n.txt)") <(head -c 100 "$T/site/n.txt.gz")
h=$(C -s -I -H 'Accept-Encoding: gzip' "$(URL /n.txt)" | tr -d '\r')
expect_eq "HEAD + gzip: the sibling's length" "$(echo "$h" | field Content-Length)" "$(stat -c %s "$T/site/n.txt.gz")"

# --- header lines: every answer, server then location
for p in /data.bin /missing /hdr/f.txt; do
	h=$(hdr "$(URL $p)")
	expect_eq "header on $p" "$(echo "$h" | field Strict-Transport-Security)" "max-age=63072000"
done
expect_eq "header on a 304" "$(hdr -H "If-None-Match: $etag" "$(URL /data.bin)" | field X-Test)" server
expect_eq "location header" "$(hdr "$(URL /hdr/f.txt)" | field X-Location)" hdr
expect_eq "location header only there" "$(hdr "$(URL /data.bin)" | field X-Location)" ""
write_conf "$T/bad.conf" 'header = {"Content-Length: 5"}'
expect_match "header: framing fields refused" "$("$CACHETD" -t -c "$T/bad.conf" 2>&1)" "header: Content-Length is set by cachetd itself"
write_conf "$T/bad.conf" 'header = {"No colon"}'
expect_match "header: malformed refused" "$("$CACHETD" -t -c "$T/bad.conf" 2>&1)" "bad.conf:[0-9]+: .*header: 'No colon' is not"

# --- media types without a mime-types file
expect_match ".html" "$(hdr "$(URL /page.html)" | field Content-Type)" "^text/html"
expect_eq "default-type" "$(hdr "$(URL /file.qqq)" | field Content-Type)" "text/x-unknown"

# --- bad Range headers: a defined answer, and the worker goes on
many="bytes=$(seq -s, 0 2 1998 | sed 's/\([0-9]*\)/\1-\1/g')"
expect_eq "1000 ranges: the whole file once (200)" "$(st -H "Range: $many" "$(URL /data.bin)")" 200
many="bytes=$(seq -s, 0 2 19998 | sed 's/\([0-9]*\)/\1-\1/g')"
expect_eq "10 000 ranges: a head too large (431)" "$(st -H "Range: $many" "$(URL /data.bin)")" 431
expect_eq "overlapping ranges: 200" "$(st -r 0-5000,100-200 "$(URL /data.bin)")" 200
expect_eq "huge numbers: 200" "$(st -H 'Range: bytes=0-999999999999999999999999' "$(URL /data.bin)")" 200
expect_eq "negative: 200" "$(st -H 'Range: bytes=-5-3' "$(URL /data.bin)")" 200
expect_eq "bytes= alone: 200" "$(st -H 'Range: bytes=' "$(URL /data.bin)")" 200
expect_eq "still serving" "$(C -s "$(URL /hello.txt)")" "hello, world"
stop_cachetd

# --- error pages of the site's own, and return redirects
mkdir -p "$T/site/errors" "$T/site/old"
echo "<h1>nothing here</h1>" > "$T/site/errors/404.html"
chmod -R a+rX "$T/site/errors" "$T/site/old"
write_conf "$T/e.conf" 'error-pages = "/errors"' \
	'location "/old/" {' 'return = "301 https://example.org$request_uri"' '}' \
	'location "/moved" {' 'return = "308 /new/"' '}' \
	'location "/self/" {' 'return = "302 $request_uri"' '}'
start_cachetd "$T/e.conf" || exit 1
h=$(C -s -D - "$(URL /nope)" | tr -d '\r')
expect_match "error-pages: the status stays 404" "$h" "^HTTP/1.1 404"
expect_match "error-pages: the site's page" "$h" "<h1>nothing here</h1>"
expect_match "error-pages: its type" "$(echo "$h" | field Content-Type)" "^text/html"
expect_nomatch "error-pages: HEAD has no body" "$(C -s -I "$(URL /nope)")" "nothing here"
h=$(C -s -D - -o /dev/null -X POST "$(URL /hello.txt)" | tr -d '\r')
expect_match "no page for 405: the built-in one" "$h" "^HTTP/1.1 405"
expect_eq "still serving after error pages" "$(C -s "$(URL /hello.txt)")" "hello, world"
h=$(hdr "$(URL '/old/a%20b/x.html?q=1')")
expect_match "return 301" "$h" "^HTTP/1.1 301"
expect_eq "return: \$request_uri is the canonical path and the query" "$(echo "$h" | field Location)" "https://example.org/old/a%20b/x.html?q=1"
h=$(C -s -D - -o /dev/null --path-as-is "$(URL '//old/../old/./x')" | tr -d '\r')
expect_eq "return: odd spellings come out canonical" "$(echo "$h" | field Location)" "https://example.org/old/x"
expect_eq "return 308 to a path" "$(hdr "$(URL /moved)" | field Location)" "/new/"
h=$(printf 'GET //evil.example/../self/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' | sclient | tr -d '\r')
expect_eq "return \$request_uri never becomes another host" "$(echo "$h" | field Location)" "/self/x"
stop_cachetd
for bad in '"999 /x"' '"301"' '"301 ftp://x"' '"301 //evil.example/"' '"301 /a b"'; do
	write_conf "$T/bad.conf" 'location "/r/" {' "return = $bad" '}'
	expect_match "return = $bad refused" "$("$CACHETD" -t -c "$T/bad.conf" 2>&1)" "bad.conf:[0-9]+: .*return:"
done
write_conf "$T/bad.conf" 'error-pages = "errors/../x"'
expect_match "error-pages: not canonical, refused" "$("$CACHETD" -t -c "$T/bad.conf" 2>&1)" "error-pages: 'errors/../x' is not"

# --- a 1 GiB file served in ranges reassembles to the same checksum
truncate -s 1G "$T/site/big1g"
for off in 0 300 700 1023; do
	head -c 1048576 /dev/urandom | dd of="$T/site/big1g" bs=1M seek=$off conv=notrunc status=none
done
chmod a+r "$T/site/big1g"
start_cachetd "$T/c.conf" || exit 1
q=268435456 dl=""
for i in 0 1 2 3; do
	# bounded, but generous: 1 GiB through TLS on a shared machine
	curl -sS --max-time 300 --cacert "$CERTS/ca.crt" -r $((i * q))-$(((i + 1) * q - 1)) -o "$T/p$i" "$(URL /big1g)" &
	dl="$dl $!"
done
wait $dl        # the downloads only: cachetd is a child too
expect_eq "1 GiB in four ranges: same checksum" "$(cat "$T"/p0 "$T"/p1 "$T"/p2 "$T"/p3 | sha256sum | cut -d' ' -f1)" "$(sha256sum < "$T/site/big1g" | cut -d' ' -f1)"
rm -f "$T"/p[0-3] "$T/site/big1g"
finish
