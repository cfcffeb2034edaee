#!/bin/bash
# TLS against a live cachetd: both protocol versions, both certificate
# types, cipher control (the article's -a experiment), protocol limits and
# the refusal of client-initiated renegotiation.
. "$top_srcdir/tests/lib.sh"
make_site "$T/site"
write_conf "$T/c.conf"
start_cachetd "$T/c.conf" || exit 1

for v in 1.2 1.3; do
	out=$(C -v --tlsv$v --tls-max $v -o /dev/null "$(URL /hello.txt)" 2>&1)
	expect_match "TLS $v handshake" "$out" "SSL connection using TLSv$v"
	expect_eq "TLS $v fetch" "$(C --tlsv$v --tls-max $v "$(URL /hello.txt)")" "hello, world"
done

# RSA and ECDSA certificates, served together; the client's choice decides.
out=$(printf 'GET /hello.txt HTTP/1.0\r\n\r\n' | sclient -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 -quiet 2>&1; printf 'Q\n' | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 -CAfile "$CERTS/ca.crt" 2>&1)
expect_match "TLS 1.2 ECDSA: 256-bit key" "$out" "Server public key is 256 bit"
expect_match "TLS 1.2 ECDSA: verified" "$out" "Verify return code: 0"
out=$(printf 'Q\n' | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 -CAfile "$CERTS/ca.crt" 2>&1)
expect_match "TLS 1.2 RSA: 2048-bit key" "$out" "Server public key is 2048 bit"
out=$(printf 'Q\n' | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -tls1_3 -sigalgs ecdsa_secp256r1_sha256 -CAfile "$CERTS/ca.crt" 2>&1)
expect_match "TLS 1.3 ECDSA: 256-bit key" "$out" "Server public key is 256 bit"
out=$(printf 'Q\n' | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -tls1_3 -sigalgs rsa_pss_rsae_sha256 -CAfile "$CERTS/ca.crt" 2>&1)
expect_match "TLS 1.3 RSA: 2048-bit key" "$out" "Server public key is 2048 bit"
expect_match "TLS 1.3 RSA: verified" "$out" "Verify return code: 0"

# Old protocols are refused by default.
out=$(printf 'Q\n' | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' 2>&1)
expect_match "TLS 1.1 refused (protocol version alert)" "$out" "alert protocol version"

# Client-initiated renegotiation is refused (s_client's R command).  The
# sleeps pace the client on purpose: R is handled before the request is
# typed, and stdin stays open long enough for a response, if any, to come.
out=$( (printf 'R\n'; sleep 1; printf 'GET /hello.txt HTTP/1.0\r\n\r\n'; sleep 1) | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -tls1_2 -CAfile "$CERTS/ca.crt" -crlf 2>&1)
expect_match "client renegotiation refused" "$out" "no renegotiation"
expect_nomatch "no response after the refused renegotiation" "$out" "hello, world"
expect_eq "still serving" "$(C "$(URL /hello.txt)")" "hello, world"
stop_cachetd

# One forced cipher: a client offering only another one fails cleanly.
write_conf "$T/one.conf" 'ciphers = "ECDHE-RSA-AES256-GCM-SHA384"' 'ciphersuites = "TLS_AES_256_GCM_SHA384"'
start_cachetd "$T/one.conf" || exit 1
out=$(C -v --tlsv1.2 --tls-max 1.2 -o /dev/null "$(URL /hello.txt)" 2>&1)
expect_match "TLS 1.2: the forced cipher is used" "$out" "using TLSv1.2 / ECDHE-RSA-AES256-GCM-SHA384"
C --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-RSA-AES128-GCM-SHA256 "$(URL /hello.txt)" >/dev/null 2>&1; rc=$?
expect_eq "TLS 1.2: other cipher fails with a handshake error (curl 35)" "$rc" 35
out=$(printf 'Q\n' | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384 -CAfile "$CERTS/ca.crt" 2>&1)
expect_match "TLS 1.3: the forced suite is used" "$out" "Cipher is TLS_AES_256_GCM_SHA384"
out=$(printf 'Q\n' | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256 -CAfile "$CERTS/ca.crt" 2>&1)
expect_match "TLS 1.3: other suite fails with an alert" "$out" "handshake failure|no shared cipher|alert"
expect_eq "still serving after refused handshakes" "$(C "$(URL /hello.txt)")" "hello, world"
stop_cachetd

# protocols = TLSv1.3 only
write_conf "$T/13.conf" 'protocols = {"TLSv1.3"}'
start_cachetd "$T/13.conf" || exit 1
C --tlsv1.2 --tls-max 1.2 "$(URL /hello.txt)" >/dev/null 2>&1; rc=$?
expect_eq "TLS 1.3 only: a TLS 1.2 client fails (curl 35)" "$rc" 35
expect_eq "TLS 1.3 only: TLS 1.3 works" "$(C --tlsv1.3 "$(URL /hello.txt)")" "hello, world"
stop_cachetd
# Key exchange is on elliptic curves only by default: a client cannot
# make the server compute an 8192-bit finite-field exchange (D(HE)at).
start_cachetd "$T/c.conf" || exit 1
out=$(printf 'Q\n' | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -tls1_3 -groups ffdhe8192 -CAfile "$CERTS/ca.crt" 2>&1)
expect_match "TLS 1.3 ffdhe8192 refused" "$out" "alert handshake failure|no suitable key share|handshake failure"
out=$(printf 'Q\n' | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -tls1_3 -groups X25519 -CAfile "$CERTS/ca.crt" 2>&1)
expect_match "TLS 1.3 X25519 works" "$out" "Server Temp Key: X25519"
stop_cachetd
write_conf "$T/grp.conf" 'groups = "P-384"'
start_cachetd "$T/grp.conf" || exit 1
out=$(printf 'Q\n' | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -tls1_3 -CAfile "$CERTS/ca.crt" 2>&1)
expect_match "groups = P-384 is used" "$out" "Server Temp Key: ECDH, (secp384r1|P-384)"
stop_cachetd
write_conf "$T/nogrp.conf" 'groups = "nosuchgroup"'
out=$("$CACHETD" -t -c "$T/nogrp.conf" 2>&1); rc=$?
expect_eq "unknown group: -t fails" "$rc" 1
expect_match "unknown group: says so" "$out" "groups: no usable group in 'nosuchgroup'"

# DHE suites work (automatic RFC 7919 parameters), not just pass -t
write_conf "$T/dhe.conf" 'ciphers = "DHE-RSA-AES128-GCM-SHA256"' 'protocols = {"TLSv1.2"}'
check "DHE-only config passes -t" "$CACHETD" -t -c "$T/dhe.conf"
start_cachetd "$T/dhe.conf" || exit 1
out=$(C -v --tlsv1.2 --tls-max 1.2 --ciphers DHE-RSA-AES128-GCM-SHA256 "$(URL /hello.txt)" 2>&1)
expect_match "DHE handshake" "$out" "using TLSv1.2 / DHE-RSA-AES128-GCM-SHA256"
expect_match "DHE fetch" "$out" "hello, world"
stop_cachetd

# Failed handshakes are counted by reason and logged at debug level;
# KeyUpdates are capped per connection.
write_conf "$T/dbg.conf" 'log-level = "debug"' 'handshake-timeout = 1' \
	'location "/status" {' 'status = true' 'allow-address = {"127.0.0.1"}' '}'
start_cachetd "$T/dbg.conf" || exit 1
counter() { C "$(URL /status)" | sed -n "s/^$1: //p"; }
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | timeout 5 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=4)
s.sendall(sys.stdin.buffer.read())
try:
    s.recv(100)
except OSError:
    pass' "$PORT"
printf 'Q\n' | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' >/dev/null 2>&1
printf 'Q\n' | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -tls1_2 -cipher AES128-SHA >/dev/null 2>&1
curl -s --max-time 5 --cacert "$CERTS/bob.crt" "$(URL /)" >/dev/null 2>&1
python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
t = time.time() + 5
while time.time() < t:      # bounded: until the server closes (timeout)
    try:
        if not s.recv(100):
            break
    except OSError:
        break' "$PORT"
expect_eq "failed: plain HTTP counted as not TLS" "$(counter handshakes_failed_not_tls)" 1
expect_eq "failed: TLS 1.1 counted as protocol" "$(counter handshakes_failed_protocol)" 1
expect_eq "failed: no common cipher counted" "$(counter handshakes_failed_cipher)" 1
expect_eq "failed: client's alert (unknown CA) counted" "$(counter handshakes_failed_alert)" 1
expect_eq "failed: silent client counted as timeout" "$(counter handshakes_failed_timeout)" 1
expect_match "debug log names the reason" "$(cat "$T/error.log")" "\[debug\] .*handshake failed: not TLS: http request"
out=$(python3 "$top_srcdir/tests/keyupdate.py" "$PORT" "$CERTS/ca.crt" 10)
expect_match "10 KeyUpdates: still served" "$out" "^served"
out=$(python3 "$top_srcdir/tests/keyupdate.py" "$PORT" "$CERTS/ca.crt" 60)
expect_match "60 KeyUpdates: closed" "$out" "^closed"
expect_eq "KeyUpdate limit counted" "$(counter key_update_limit)" 1
expect_match "KeyUpdate limit logged" "$(cat "$T/error.log")" "more than 32 TLS 1.3 KeyUpdate messages"
stop_cachetd
write_conf "$T/bad.conf" 'log-level = "chatty"'
out=$("$CACHETD" -t -c "$T/bad.conf" 2>&1)
expect_match "bad log-level: file, line and choices" "$out" "bad.conf:[0-9]+: .*log-level: 'chatty' is not error, warn, notice, info or debug"
finish
