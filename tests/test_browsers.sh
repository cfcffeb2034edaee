#!/bin/bash
# Real browsers on protected paths (issue 11): headless Chromium and
# Firefox ESR from Debian, each with its own NSS database that trusts the
# test CA and holds alice's certificate, bob's, or none, and is set to pick
# it without a prompt (Chromium: the AutoSelectCertificateForUrls policy;
# Firefox: security.default_personal_cert).  Each page is loaded by a
# fresh browser process with a bounded lifetime.
#
# The oracle is the server's access log (status, protocol, subject,
# verification); Chromium's DOM is read as well.  A screenshot of every
# page (and Chromium's DOM) is kept in tests/tmp/browsers/ for a person.
#
# Chromium reads its policy only from /etc/chromium/policies/managed/: the
# test adds one file there and puts back exactly what was there on exit.
# A missing browser (or certutil/pk12util) is a SKIP line and exit 77.
. "$top_srcdir/tests/lib.sh"

OUT=$top_builddir/tests/tmp/browsers
POLDIR=/etc/chromium/policies/managed
CHROMIUM=$(command -v chromium || true)
FIREFOX=$(command -v firefox-esr || true)
SKIPPED=0

if ! command -v certutil >/dev/null || ! command -v pk12util >/dev/null; then
	echo "SKIP - certutil/pk12util not installed (Debian package libnss3-tools)"
	exit 77
fi
if [ -z "$CHROMIUM" ]; then
	echo "SKIP - chromium not installed (Debian package chromium)"; SKIPPED=1
elif ! { [ -w "$POLDIR" ] || { [ ! -e "$POLDIR" ] && [ "$(id -u)" = 0 ]; }; }; then
	echo "SKIP - chromium: cannot write its policy in $POLDIR (run as root)"
	CHROMIUM=""; SKIPPED=1
fi
if [ -z "$FIREFOX" ]; then
	echo "SKIP - firefox-esr not installed (Debian package firefox-esr)"; SKIPPED=1
fi
[ -n "$CHROMIUM$FIREFOX" ] || exit 77

rm -rf "$OUT"
mkdir -p "$OUT"

# --- Chromium's policy folder: note what exists, put it back on exit ----
POLFILE=$POLDIR/cachet-test-$$.json
POL_MADE=""             # folders this test made, deepest last
POL_SAVED=""            # a file of the same name that was there (never, in practice)
policy_restore() {
	local d
	[ -n "$CHROMIUM" ] || return 0
	rm -f "$POLFILE"
	[ -z "$POL_SAVED" ] || mv "$POL_SAVED" "$POLFILE"
	for d in $(printf '%s\n' $POL_MADE | tac); do rmdir "$d" 2>/dev/null; done
	POL_MADE=""
}
browsers_exit() {
	local p
	# Browsers still running (a timeout's leftovers), by their profile,
	# which lives under $T: that names them and no other process.
	for p in $(pgrep -f -- "--user-data-dir=$T/|--profile $T/" 2>/dev/null); do
		kill -KILL "$p" 2>/dev/null
	done
	policy_restore
	cp "$T"/access*.log "$T"/error*.log "$OUT/" 2>/dev/null
	cleanup
}
trap browsers_exit EXIT
trap 'exit 130' INT TERM HUP

if [ -n "$CHROMIUM" ]; then
	# One run at a time changes the policy (two parallel "make check"s):
	# a lock on the package's own folder, which no run removes.
	if [ -d /etc/chromium ] && exec 9</etc/chromium; then
		flock -w 120 9 || echo "# chromium: waited 120 s for $POLDIR; going on"
	fi
	for d in /etc/chromium /etc/chromium/policies "$POLDIR"; do
		[ -d "$d" ] && continue
		mkdir "$d" || exit 1
		POL_MADE="$POL_MADE $d"
	done
	if [ -e "$POLFILE" ]; then
		POL_SAVED=$T/policy.saved
		cp -p "$POLFILE" "$POL_SAVED"
	fi
fi

# --- the site and the two servers ----------------------------------------
mkdir -p "$T/site"
cp -R "$top_srcdir/conf/site/." "$T/site/"
chmod -R a+rX "$T/site"
SECURE=('client-ca = "'"$CERTS"'/ca.crt"' 'client-crl = "'"$CERTS"'/crl.pem"'
	'location "/secure/" {' 'verify-client = require'
	'allow-subject = {"CN=alice,O=cachet demo"}' '}')

# The demo's protocols (TLS 1.2 and 1.3) and the default for clients
# without post-handshake authentication.
WORKERS=1 write_conf "$T/demo.conf" 'protocols = {"TLSv1.2", "TLSv1.3"}' \
	'handshake-timeout = 10' "${SECURE[@]}"
start_cachetd "$T/demo.conf" || exit 1
DEMO=$PORT DEMO_MASTER=$MASTER
# start_cachetd reads the port from $T/error.log: the first server keeps
# writing to its file under the new name.
mv "$T/error.log" "$T/error-demo.log"
# TLS 1.3 only, and clients without post-handshake authentication refused.
WORKERS=1 write_conf "$T/refuse.conf" 'protocols = {"TLSv1.3"}' \
	'tls13-without-pha = refuse' "${SECURE[@]}"
sed -i "s|access\.log|access-refuse.log|; s|cachetd\.pid|refuse.pid|" "$T/refuse.conf"
start_cachetd "$T/refuse.conf" || exit 1
REFUSE=$PORT

# --- the NSS databases -----------------------------------------------------
# nssdb DIR WHO: a database in DIR trusting the test CA, with WHO's
# certificate and key imported from WHO.p12 (none: no certificate).
nssdb() {
	mkdir -p "$1"
	certutil -N -d "sql:$1" --empty-password &&
	certutil -A -d "sql:$1" -n "cachet test CA" -t "C,," -i "$CERTS/ca.crt" &&
	if [ "$2" != none ]; then
		pk12util -i "$CERTS/$2.p12" -d "sql:$1" -W cachet >/dev/null
	fi
}

# --- the oracle ------------------------------------------------------------
# log_line LOG FROM UA-REGEX PATH: the line of LOG after line FROM that
# answers "GET PATH" from that browser (waits up to 10 s).  A certificate
# exchange the browser gave up is logged as 499 and retried: such lines
# are skipped here (page() counts them in ABORTED).
log_line() {
	local log=$1 from=$2 ua=$3 path=$4 i l
	for i in $(seq 100); do
		l=$(tail -n +"$((from + 1))" "$log" 2>/dev/null |
			grep -F "\"GET $path HTTP/1.1\"" | grep -E "$ua")
		l=$(printf '%s\n' "$l" | grep -v '" 499 ' | head -n 1)
		[ -n "$l" ] && { printf '%s\n' "$l"; return 0; }
		sleep 0.1
	done
	return 1
}
# Fields of an access-log line after the user agent: protocol cipher
# "subject" verify r|. pid
line_status() { printf '%s' "$1" | sed -n 's/^[^"]*"[^"]*" \([0-9]*\) .*/\1/p'; }
line_tls() { printf '%s' "$1" | sed -n 's/.*" \(TLSv1\.[0-9]\) \([^ ]*\) "\([^"]*\)" \([^ ]*\) [r.] [0-9]*$/\1|\3|\4/p'; }

# --- the browsers ----------------------------------------------------------
CHFLAGS=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
	--disable-background-networking --disable-component-update --disable-sync
	--disable-default-apps --disable-extensions --window-size=900,600)

# chromium_page WHO PORT PATH NAME: load the page with WHO's database;
# the DOM goes to $OUT/chromium-NAME.html, a screenshot beside it.
chromium_page() {
	local who=$1 port=$2 path=$3 name=$4 home=$T/chromium-$1
	[ -d "$home/.pki/nssdb" ] || nssdb "$home/.pki/nssdb" "$who" || return 1
	HOME=$home timeout -k 5 30 "$CHROMIUM" "${CHFLAGS[@]}" \
		--user-data-dir="$home/profile-$name" \
		--screenshot="$OUT/chromium-$name.png" --dump-dom \
		"https://localhost:$port$path" \
		>"$OUT/chromium-$name.html" 2>"$T/chromium-$name.err"
}

# firefox_page WHO PORT PATH NAME: the same with Firefox (its profile
# holds its database); a screenshot only.
firefox_profile() { # dir who
	nssdb "$1" "$2" || return 1
	cat > "$1/user.js" <<'PREFS'
user_pref("security.default_personal_cert", "Select Automatically");
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("browser.aboutwelcome.enabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("app.normandy.enabled", false);
user_pref("app.update.auto", false);
user_pref("extensions.update.enabled", false);
user_pref("extensions.getAddons.cache.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("network.proxy.type", 0);
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("browser.safebrowsing.downloads.enabled", false);
user_pref("browser.safebrowsing.update.enabled", false);
user_pref("services.settings.server", "https://127.0.0.1:9/");
user_pref("security.OCSP.enabled", 0);
PREFS
}
firefox_page() {
	local who=$1 port=$2 path=$3 name=$4 prof=$T/firefox-$1
	[ -f "$prof/user.js" ] || firefox_profile "$prof" "$who" || return 1
	HOME=$T/firefox-home timeout -k 5 40 "$FIREFOX" --headless --no-remote \
		--profile "$prof" --window-size=900,600 \
		--screenshot "$OUT/firefox-$name.png" "https://localhost:$port$path" \
		>"$T/firefox-$name.err" 2>&1
}

UA_chromium='HeadlessChrome/'
UA_firefox='Firefox/'
# page BROWSER WHO PORT PATH NAME: load it; set LINE (its access-log line),
# STATUS, PROTO, SUBJ, VERIFY and DOM (Chromium; empty for Firefox).
page() {
	local b=$1 who=$2 port=$3 path=$4 name=$5 from ua t0 rc log=$T/access.log
	[ "$port" != "$REFUSE" ] || log=$T/access-refuse.log
	from=$(wc -l < "$log" 2>/dev/null || echo 0)
	ua=UA_$b
	t0=$SECONDS
	"${b}_page" "$who" "$port" "$path" "$name"; rc=$?
	[ $rc -eq 0 ] || echo "# $b $name: exit $rc after $((SECONDS - t0)) s"
	LINE=$(log_line "$log" "$from" "${!ua}" "$path") || LINE=""
	ABORTED=$(tail -n +"$((from + 1))" "$log" | grep -F "\"GET $path HTTP/1.1\"" |
		grep -E "${!ua}" | grep -c '" 499 ')
	STATUS=$(line_status "$LINE")
	IFS='|' read -r PROTO SUBJ VERIFY <<<"$(line_tls "$LINE")"
	DOM=""
	[ "$b" != chromium ] || DOM=$(tr "\n" " " < "$OUT/chromium-$name.html" 2>/dev/null)
	echo "# $b $name ($((SECONDS - t0)) s, $ABORTED aborted exchange(s)): ${LINE:-no access-log line}"
}

# Checks on one page: what the log says, and the page text where known.
expect_page() { # browser name status subject-regex text-regex
	local b=$1 n=$2
	expect_eq "$b $n: status" "$STATUS" "$3"
	expect_match "$b $n: subject and verification in the access log" "$SUBJ $VERIFY" "$4"
	expect_match "$b $n: protocol in the access log" "$PROTO" '^TLSv1\.[23]$'
	if [ "$b" = chromium ]; then
		expect_match "$b $n: page text" "$DOM" "$5"
	fi
	if [ -s "$OUT/$b-$n.png" ]; then ok "$b $n: screenshot $OUT/$b-$n.png"
	else fail "$b $n: no screenshot"; fi
}

REASON_NOT_LISTED='not (on the|in the|on its) (access )?list|not allowed|not permitted'
run_browser() { # browser
	local b=$1
	if [ "$b" = chromium ]; then
		# Pick a certificate for both servers without asking.
		printf '{"AutoSelectCertificateForUrls": ["{\\"pattern\\":\\"https://localhost:%s\\",\\"filter\\":{}}", "{\\"pattern\\":\\"https://localhost:%s\\",\\"filter\\":{}}"]}\n' \
			"$DEMO" "$REFUSE" > "$POLFILE"
		chmod 644 "$POLFILE"
	fi
	page "$b" none "$DEMO" / root
	expect_page "$b" root 200 '^-' 'cachet'
	page "$b" alice "$DEMO" /secure/ secure-alice
	expect_page "$b" secure-alice 200 '^CN=alice,O=cachet demo ok$' 'Hello, alice'
	echo "# $b: alice's page over $PROTO"
	page "$b" bob "$DEMO" /secure/ secure-bob
	expect_page "$b" secure-bob 403 '^CN=bob,O=cachet demo not-listed$' "403.*($REASON_NOT_LISTED)"
	page "$b" none "$DEMO" /secure/ secure-none
	expect_page "$b" secure-none 403 '^- ' '403.*certificate'
	page "$b" alice "$REFUSE" /secure/ refuse-alice
	expect_page "$b" refuse-alice 403 '.' '403'
	expect_eq "$b refuse-alice: TLS 1.3 (the server allows no other)" "$PROTO" TLSv1.3
}

t_start=$SECONDS
if [ -n "$CHROMIUM" ]; then
	echo "# $("$CHROMIUM" --version 2>/dev/null)"
	run_browser chromium
	policy_restore
	exec 9<&-
	expect_eq "chromium: its policy folder is as it was" \
		"$(ls "$POLFILE" 2>/dev/null)" ""
fi
if [ -n "$FIREFOX" ]; then
	echo "# $("$FIREFOX" --version 2>/dev/null)"
	run_browser firefox
fi
echo "# browsers took $((SECONDS - t_start)) s; screenshots in $OUT"

# Every certificate exchange the server started left one access-log line
# (200, 403, or 499 for one the browser gave up), none left unlogged.
asked=$(grep -c ': renegotiation for /secure/\|: post-handshake authentication for /secure/' "$T/error-demo.log")
answered=$(grep -c '"GET /secure/ HTTP/1.1" [0-9]' "$T/access.log")
expect_eq "every certificate exchange ($asked) has its access-log line" "$answered" "$asked"

stop_cachetd
MASTER=$DEMO_MASTER stop_cachetd
if [ "$SKIPPED" = 1 ] && [ "$FAILED" -eq 0 ]; then
	echo "# $PASSED passed, $FAILED failed (a browser was skipped)"
	exit 77
fi
finish
