#!/bin/bash
# HTTP/1.1 static files over TLS against a live cachetd: status codes,
# headers, HEAD, 304, folders, keep-alive and pipelining, limits.
. "$top_srcdir/tests/lib.sh"
make_site "$T/site"
write_conf "$T/c.conf"
start_cachetd "$T/c.conf" || exit 1

# 200 with body and headers
hdr=$(C -D - -o "$T/body" "$(URL /hello.txt)")
expect_match "200 status" "$hdr" "^HTTP/1.1 200 OK"
expect_match "Content-Type from mime.types" "$hdr" "Content-Type: text/plain"
expect_match "Content-Length" "$hdr" "Content-Length: 13"
expect_match "Last-Modified" "$hdr" "Last-Modified: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT"
expect_eq "body" "$(cat "$T/body")" "hello, world"
expect_match "css type" "$(C -D - -o /dev/null "$(URL /style.css)")" "Content-Type: text/css"
expect_match "unknown extension is octet-stream" "$(C -D - -o /dev/null "$(URL /big.bin)")" "Content-Type: application/octet-stream"

# a big file arrives whole
C -o "$T/big" "$(URL /big.bin)"
check "300 kB file intact" cmp -s "$T/big" "$T/site/big.bin"

# HEAD: headers only
hdr=$(C -I "$(URL /hello.txt)")
expect_match "HEAD 200" "$hdr" "^HTTP/1.1 200"
expect_match "HEAD Content-Length" "$hdr" "Content-Length: 13"
out=$(printf 'HEAD /hello.txt HTTP/1.0\r\n\r\n' | sclient)
expect_nomatch "HEAD sends no body" "$out" "hello, world"

# 304
lm=$(C -I "$(URL /hello.txt)" | sed -n 's/^Last-Modified: \(.*\)\r$/\1/p')
expect_eq "304 with If-Modified-Since" "$(status_of -H "If-Modified-Since: $lm" "$(URL /hello.txt)")" 304
expect_eq "200 when modified since" "$(status_of -H "If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT" "$(URL /hello.txt)")" 200
expect_eq "bad If-Modified-Since ignored" "$(status_of -H "If-Modified-Since: yesterday" "$(URL /hello.txt)")" 200

# folders
expect_eq "index.html for /" "$(C "$(URL /)")" "<h1>index of $T/site</h1>"
expect_eq "index.html for /sub/" "$(C "$(URL /sub/)")" "sub index"
hdr=$(C -D - -o /dev/null "$(URL /sub)")
expect_match "folder without slash redirects" "$hdr" "^HTTP/1.1 301"
expect_match "redirect target" "$hdr" "Location: /sub/"
expect_eq "no listing: 403" "$(status_of "$(URL /noindex/)")" 403

# errors
expect_eq "404" "$(status_of "$(URL /missing.html)")" 404
hdr=$(C -D - -o /dev/null -X POST -d x=1 "$(URL /hello.txt)")
expect_match "405 for POST" "$hdr" "^HTTP/1.1 405"
expect_match "405 has Allow" "$hdr" "Allow: GET, HEAD"
expect_eq "405 for DELETE" "$(status_of -X DELETE "$(URL /)")" 405
out=$(printf 'this is not http\r\n\r\n' | sclient)
expect_match "400 for garbage" "$out" "^HTTP/1.1 400 Bad Request"
out=$(printf 'GET / HTTP/1.1\r\n\r\n' | sclient)
expect_match "400 for HTTP/1.1 without Host" "$out" "^HTTP/1.1 400"
long=$(head -c 9000 /dev/zero | tr '\0' a)
expect_eq "414 for a long URI" "$(status_of "$(URL "/$long")")" 414
big=$(for i in $(seq 400); do printf -- "-H X-Filler-%d:%s " "$i" 0123456789012345678901234567890123456789; done)
# shellcheck disable=SC2086
expect_eq "431 for large headers" "$(status_of $big "$(URL /)")" 431
expect_eq "413 for a large body" "$(head -c 100000 /dev/zero | status_of -X GET --data-binary @- "$(URL /)")" 413
expect_eq "small body on GET is read and ignored" "$(status_of -X GET -d abc "$(URL /hello.txt)")" 200

# the worker kept serving through all of that
expect_eq "still serving" "$(C "$(URL /hello.txt)")" "hello, world"

# keep-alive: two requests, one connection (curl reuses it)
out=$(C -v -o /dev/null -o /dev/null "$(URL /hello.txt)" "$(URL /style.css)" 2>&1)
expect_match "curl reuses the connection" "$out" "Re-using existing connection"
expect_eq "one handshake for two requests" "$(printf '%s' "$out" | grep -c 'SSL connection using')" 1

# pipelining: three requests sent at once, three answers in order
out=$(printf 'GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\nHEAD /style.css HTTP/1.1\r\nHost: x\r\n\r\nGET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | sclient)
expect_eq "pipelined: three responses" "$(printf '%s' "$out" | grep -c '^HTTP/1.1')" 3
expect_match "pipelined: in order" "$(printf '%s' "$out" | grep '^HTTP/1.1' | tr -d '\r' | tr '\n' ' ')" "200 OK HTTP/1.1 200 OK HTTP/1.1 404"

# HTTP/1.0 closes unless asked; keep-alive when asked
out=$(printf 'GET /hello.txt HTTP/1.0\r\n\r\n' | sclient)
expect_match "HTTP/1.0 gets Connection: close" "$out" "Connection: close"
out=$(printf 'GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /hello.txt HTTP/1.0\r\n\r\n' | sclient)
expect_eq "HTTP/1.0 keep-alive serves both" "$(printf '%s' "$out" | grep -c '^HTTP/1.1 200')" 2

# access log: Combined Log Format plus protocol, cipher, r/., pid
wait_for 5 grep -q 'GET /hello.txt HTTP/1.1" 200 13' "$T/access.log"
line=$(grep 'GET /hello.txt HTTP/1.1" 200 13' "$T/access.log" | head -n 1)
expect_match "access log line" "$line" '^127\.0\.0\.1 - - \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:]{8} \+0000\] "GET /hello.txt HTTP/1.1" 200 13 "-" "curl/[^"]+" TLSv1\.[23] [A-Z0-9_-]+ "-" - [r.] [0-9]+$'
expect_match "error log line format" "$(head -n 1 "$T/error.log")" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z \[notice\] [0-9]+: '

stop_cachetd
finish
