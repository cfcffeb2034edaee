#!/bin/bash
# make install, as a packager runs it: DESTDIR=$T/root prefix=/usr
# sysconfdir=/etc.  The systemd unit lands in systemd's unit folder with
# this install's paths and passes systemd-analyze verify.
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
finish
