#!/bin/bash
# verify-client = require at the server level holds for resumed sessions:
# OpenSSL does not check a resumed session's certificate again (and TLS
# 1.3 tickets chain without end), so a session made before the client's
# certificate was revoked, or before the server asked for certificates at
# all, must not keep the door open after a reload.  Each case has its
# control: the same session resumes (so the 403 comes from the policy, not
# from a lost session) and a fresh handshake is refused as before.
. "$top_srcdir/tests/lib.sh"
make_site "$T/site"

# resume VERSION SESSFILE [s_client args]: "Reused <status>" or "New <status>"
resume() {
	local v=$1 f=$2 out; shift 2
	out=$(printf 'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
		timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
		-CAfile "$CERTS/ca.crt" -ign_eof "-tls$v" -sess_in "$f" "$@" 2>/dev/null)
	printf '%s %s\n' "$(printf '%s\n' "$out" | grep -Eo '^(New|Reused),' | tr -d ,)" \
		"$(printf '%s\n' "$out" | sed -n 's/^HTTP\/1\.1 \([0-9]*\).*/\1/p' | head -n 1)"
}
# first VERSION SESSFILE [s_client args]: a fresh handshake; the status
first() {
	local v=$1 f=$2; shift 2
	printf 'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
		timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
		-CAfile "$CERTS/ca.crt" -ign_eof "-tls$v" -sess_out "$f" "$@" 2>/dev/null |
		sed -n 's/^HTTP\/1\.1 \([0-9]*\).*/\1/p' | head -n 1
}
reload() { # CONF-LINES...: rewrite the config, HUP, wait for the generation
	local gen=$1; shift
	write_conf "$T/c.conf" "$@"
	kill -HUP "$MASTER"
	wait_for 10 grep -q "reloaded: generation $gen " "$T/error.log"
}
STORE='session-cache {'
STORE2="store = \"gdbm:$T/sessions.db\""

for v in 1_2 1_3; do
	# --- a certificate revoked after the session was made
	write_conf "$T/c.conf" "$STORE" "$STORE2" '}' "client-ca = \"$CERTS/ca.crt\"" \
		'verify-client = require'
	start_cachetd "$T/c.conf" || exit 1
	expect_eq "TLS ${v/_/.}: revoked's certificate, not on a list yet: served" \
		"$(first $v "$T/rv$v" -cert "$CERTS/revoked.crt" -key "$CERTS/revoked.key")" 200
	# a TLS 1.3 ticket is single-use: go on with the one this resumption
	# brings; a TLS 1.2 session ID stays (s_client saves nothing new)
	if [ $v = 1_3 ]; then
		got=$(resume $v "$T/rv$v" -sess_out "$T/rv$v.b")
	else
		got=$(resume $v "$T/rv$v"); cp "$T/rv$v" "$T/rv$v.b"
	fi
	expect_eq "TLS ${v/_/.}: control: its session resumes" "$got" "Reused 200"
	check "TLS ${v/_/.}: reload with the CRL" reload 2 "$STORE" "$STORE2" '}' \
		"client-ca = \"$CERTS/ca.crt\"" "client-crl = \"$CERTS/crl.pem\"" \
		'verify-client = require'
	expect_eq "TLS ${v/_/.}: the revoked certificate's session resumes, and is refused" \
		"$(resume $v "$T/rv$v.b")" "Reused 403"
	check "TLS ${v/_/.}: ... logged as revoked" grep -q '403 for /hello.txt: revoked' "$T/error.log"
	expect_eq "TLS ${v/_/.}: control: a fresh handshake with it gets no page" \
		"$(first $v "$T/rv$v.c" -cert "$CERTS/revoked.crt" -key "$CERTS/revoked.key")" ""
	expect_eq "TLS ${v/_/.}: alice's certificate is served" \
		"$(first $v "$T/al$v" -cert "$CERTS/alice.crt" -key "$CERTS/alice.key")" 200
	expect_eq "TLS ${v/_/.}: ... and her session resumes and is served" \
		"$(resume $v "$T/al$v")" "Reused 200"
	stop_cachetd

	# --- a session made before the server asked for certificates
	rm -f "$T/sessions.db"*
	write_conf "$T/c.conf" "$STORE" "$STORE2" '}' "client-ca = \"$CERTS/ca.crt\""
	start_cachetd "$T/c.conf" || exit 1
	expect_eq "TLS ${v/_/.}: no certificate asked: served" "$(first $v "$T/no$v")" 200
	check "TLS ${v/_/.}: reload with verify-client = require" reload 2 "$STORE" "$STORE2" '}' \
		"client-ca = \"$CERTS/ca.crt\"" 'verify-client = require'
	expect_eq "TLS ${v/_/.}: the certificate-less session resumes, and is refused" \
		"$(resume $v "$T/no$v")" "Reused 403"
	expect_eq "TLS ${v/_/.}: control: a fresh handshake without a certificate gets no page" \
		"$(first $v "$T/no$v.c")" ""
	stop_cachetd
done
finish
