#!/bin/bash
# make demo from a VPATH build (mkdir b && cd b && ../configure && make
# demo): in a copy of the source tree, configure in a folder of its own,
# then "make demo DEMO_ARGS=-t" checks the demo config with the cachetd
# under test (DEMO_CACHETD, so nothing is compiled here): the
# certificates, the config and its links are made in the build tree, and
# the source tree is not written to.
. "$top_srcdir/tests/lib.sh"
command -v git >/dev/null && git -C "$top_srcdir" rev-parse --git-dir >/dev/null 2>&1 ||
	{ echo "# not a git checkout: no list of the sources to copy"; exit 77; }
[ -x "$top_srcdir/configure" ] || { echo "# no configure in $top_srcdir (autoreconf -fi)"; exit 77; }
S=$T/src
mkdir -p "$S" "$T/b"
# the sources as tracked, and what autoreconf made
( cd "$top_srcdir" && { git ls-files; ls -d configure Makefile.in config.h.in \
    aclocal.m4 build-aux m4 2>/dev/null; } | tar -cf - -T - ) | tar -xf - -C "$S"
chmod -R a-w "$S"    # the source tree is read only: nothing may be made there
( cd "$T/b" && "$S/configure" >"$T/configure.out" 2>&1 )
check "VPATH configure" [ $? -eq 0 ]
out=$(make -s -C "$T/b" demo DEMO_ARGS=-t DEMO_CACHETD="$CACHETD" 2>&1)
rc=$?
expect_eq "make demo DEMO_ARGS=-t exits 0" "$rc" 0
expect_match "  and the demo config checks" "$out" "configuration file demo/cachetd.conf test is successful"
check "demo certificates in the build tree" [ -f "$T/b/demo/certs/server-rsa.crt" -a -f "$T/b/demo/certs/alice.p12" ]
check "the demo config and its links there" [ -f "$T/b/demo/cachetd.conf" -a -d "$T/b/demo/site" -a -f "$T/b/demo/mime.types" ]
check "nothing made in the source tree" [ ! -e "$S/demo" ]
chmod -R u+w "$S"
finish
