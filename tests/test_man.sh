#!/bin/bash
# The man pages are well-formed (mandoc -T lint) and name every directive
# the config parser knows.
. "$top_srcdir/tests/lib.sh"
if ! command -v mandoc >/dev/null; then echo "# mandoc missing"; exit 77; fi
for m in "$top_srcdir"/man/*.[0-9]; do
	out=$(mandoc -T lint -W warning "$m" 2>&1)
	expect_eq "$(basename "$m") lints clean" "$out" ""
done
# Every directive and block in the config's tables is documented (rows
# such as { "workers", D_INT, ... } in config_dirs.c and { "location",
# CTX_LOCATION, ... } in config.c).
dirs=$(cat "$top_srcdir/src/config_dirs.c" "$top_srcdir/src/config.c" | grep -oE '\{ "[a-z0-9-]+", (D_[A-Z]+|CTX_[A-Z]+)' | sed 's/{ "//; s/".*//' | sort -u)
check "the directive tables are found in config_dirs.c and config.c ($(echo $dirs | wc -w))" test "$(echo $dirs | wc -w)" -ge 30
for d in $dirs include; do
	check "cachetd.conf(5) documents $d" grep -q "Cm $d" "$top_srcdir/man/cachetd.conf.5"
done
# Every option the cachet sub-commands list in --help is in cachet(1).
for sub in get shell bench; do
	for o in $("$CACHET" "$sub" --help | grep -oE -- '--[a-z0-9.-]+' | sort -u); do
		check "cachet(1) documents $sub $o" grep -q -- "Fl -${o#--}" "$top_srcdir/man/cachet.1"
	done
done
finish
