#!/bin/bash
# make demo from a VPATH build (mkdir b && cd b && ../configure && make
# demo): configure in a folder of its own, then "make demo DEMO_ARGS=-t"
# checks the demo config with the cachetd under test (DEMO_CACHETD, so
# nothing is compiled here): the certificates, the config and its links
# are made in the build tree, and nothing in the source tree.  configure
# refuses a source tree configured in place: then the sources are copied
# first (what git tracks or would, and the generated autotools files, as
# ./setup does for its sanitizer pass).
. "$top_srcdir/tests/lib.sh"
[ -x "$top_srcdir/configure" ] || { echo "# no configure in $top_srcdir (autoreconf -fi)"; exit 77; }
S=$top_srcdir
if [ -f "$top_srcdir/config.status" ]; then
	[ "$(git -C "$top_srcdir" rev-parse --show-toplevel 2>/dev/null)" = "$(cd "$top_srcdir" && pwd -P)" ] ||
		{ echo "# $top_srcdir is configured in place and not a git checkout to copy"; exit 77; }
	S=$T/src
	mkdir -p "$S"
	( cd "$top_srcdir" && { git ls-files -z -co --exclude-standard
	  printf '%s\0' configure Makefile.in config.h.in aclocal.m4 build-aux m4
	} | tar --null -T - --ignore-failed-read -cf - 2>/dev/null ) | tar -xf - -C "$S"
fi
had_demo=no; [ -e "$S/demo" ] && had_demo=yes
mkdir -p "$T/b"
( cd "$T/b" && "$S/configure" >"$T/configure.out" 2>&1 )
check "VPATH configure" [ $? -eq 0 ]
out=$(make -s -C "$T/b" demo DEMO_ARGS=-t DEMO_CACHETD="$CACHETD" 2>&1)
rc=$?
expect_eq "make demo DEMO_ARGS=-t exits 0" "$rc" 0
expect_match "  and the demo config checks" "$out" "configuration file demo/cachetd.conf test is successful"
check "demo certificates in the build tree" [ -f "$T/b/demo/certs/server-rsa.crt" -a -f "$T/b/demo/certs/alice.p12" ]
check "the demo config and its links there" [ -f "$T/b/demo/cachetd.conf" -a -d "$T/b/demo/site" -a -f "$T/b/demo/mime.types" ]
[ $had_demo = no ] && check "nothing made in the source tree" [ ! -e "$S/demo" ]
finish
