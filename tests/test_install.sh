#!/bin/bash
# make install, as a packager runs it: DESTDIR=$T/root prefix=/usr
# sysconfdir=/etc.  The systemd unit lands in systemd's unit folder with
# this install's paths and passes systemd-analyze verify; the installed
# cachetd.conf passes the installed cachetd -t once certs/mkcerts'
# certificate and key are where it expects them (in a mount namespace
# where /var and /usr/share are the installed ones), and a second install
# keeps an edited cachetd.conf.
. "$top_srcdir/tests/lib.sh"
R=$T/root
make -s -C "$top_builddir" install DESTDIR="$R" prefix=/usr sysconfdir=/etc \
    >"$T/install.out" 2>&1
check "make install DESTDIR=... prefix=/usr sysconfdir=/etc" [ $? -eq 0 ]
check "cachetd installed in /usr/sbin" [ -x "$R/usr/sbin/cachetd" ]

# --- the unit
unitdir=$(sed -n 's/^systemdsystemunitdir = //p' "$top_builddir/Makefile")
unitdir=${unitdir//\$\{prefix\}//usr}
U=$R$unitdir/cachetd.service
check "unit installed in $unitdir" [ -f "$U" ]
expect_eq "unit starts the installed cachetd on the installed config" \
    "$(grep '^ExecStart=' "$U")" "ExecStart=/usr/sbin/cachetd -c /etc/cachet/cachetd.conf"
expect_eq "unit checks that config first" "$(grep '^ExecStartPre=' "$U")" \
    "ExecStartPre=/usr/sbin/cachetd -t -c /etc/cachet/cachetd.conf"
expect_nomatch "no @name@ left in the unit" "$(cat "$U")" '@[a-z]+@'
for l in Type=notify 'ExecReload=/bin/kill -HUP $MAINPID' NoNewPrivileges=yes \
    ProtectSystem=strict ProtectHome=yes PrivateTmp=yes StateDirectory=cachet \
    LogsDirectory=cachet; do
	check "unit: $l" grep -qxF -- "$l" "$U"
done
# verify checks that ExecStart's program exists and Documentation='s
# man pages: in a mount namespace of its own, /usr/sbin is the installed
# one, and MANPATH the installed pages.
if ! command -v systemd-analyze >/dev/null; then
	echo "SKIP: systemd-analyze verify (no systemd-analyze: Debian package systemd)"
elif ! unshare -m true 2>/dev/null; then
	echo "SKIP: systemd-analyze verify (no mount namespace: unshare -m)"
else
	out=$(unshare -m sh -c 'mount --bind "$1/usr/sbin" /usr/sbin &&
	    MANPATH="$1/usr/share/man" systemd-analyze verify "$2" 2>&1' sh "$R" "$U")
	rc=$?
	check "systemd-analyze verify exits 0" [ $rc -eq 0 ]
	expect_eq "systemd-analyze verify says nothing" "$out" ""
fi

# --- the config
C=$R/etc/cachet/cachetd.conf
check "cachetd.conf installed in /etc/cachet" [ -f "$C" ]
expect_nomatch "no @name@ left in cachetd.conf" "$(cat "$C")" '@[a-z]+@'
check "the store in the unit's state folder" grep -qF '"gdbm:/var/lib/cachet/sessions.db"' "$C"
check "the error log in the unit's logs folder" grep -qF '"/var/log/cachet/error.log"' "$C"
check "the access log in the unit's logs folder" grep -qF '"/var/log/cachet/access.log"' "$C"
check "the root installed with a page" [ -f "$R/usr/share/cachet/site/index.html" ]
check "state and log folders made" [ -d "$R/var/lib/cachet" -a -d "$R/var/log/cachet" ]
"$top_srcdir/certs/mkcerts" "$T/certs" >/dev/null 2>&1
cp "$T/certs/server-rsa.crt" "$R/etc/cachet/server.crt"
cp "$T/certs/server-rsa.key" "$R/etc/cachet/server.key"
if unshare -m true 2>/dev/null; then
	out=$(unshare -m sh -c 'mount --bind "$1/var" /var &&
	    mount --bind "$1/usr/share" /usr/share &&
	    "$1/usr/sbin/cachetd" -t -c "$1/etc/cachet/cachetd.conf" 2>&1' sh "$R")
	rc=$?
	expect_eq "installed cachetd -t on the installed config: exit 0" "$rc" 0
	expect_match "  and says so" "$out" "configuration file .* test is successful"
else
	echo "SKIP: cachetd -t on the installed config (no mount namespace: unshare -m)"
fi
out=$("$R/usr/sbin/cachetd" -t -c "$C" 2>&1)
expect_match "outside the namespace -t fails on an installed path not there" "$out" "'/(usr/share|var/(lib|log))/cachet"

echo "listen = {\"127.0.0.1:8443\"}  # edited" >> "$C"
edited=$(cat "$C")
make -s -C "$top_builddir" install DESTDIR="$R" prefix=/usr sysconfdir=/etc \
    >"$T/install2.out" 2>&1
check "second make install" [ $? -eq 0 ]
expect_eq "second make install keeps the edited cachetd.conf" "$(cat "$C")" "$edited"
expect_match "  and says so" "$(cat "$T/install2.out")" "cachetd.conf exists: kept"

# --- --help is -h
expect_eq "cachetd --help prints what -h prints" "$("$R/usr/sbin/cachetd" --help)" \
    "$("$R/usr/sbin/cachetd" -h)"
check "cachetd --help exits 0" "$R/usr/sbin/cachetd" --help >/dev/null
finish
