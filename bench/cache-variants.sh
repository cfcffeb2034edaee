#!/bin/sh
# cache-variants.sh - run bench/cachebench over the GDBM variants that
# matter (block size, mmap or not, file system) at 1k, 100k and 1M records,
# one process and two.  Run by hand or with "make bench-cache"; takes a few
# minutes (filling 1M records alone takes ~40 s per variant).
#   DIR=/var/tmp sh bench/cache-variants.sh    # a persistent disk instead
set -eu
B=${CACHEBENCH:-bench/cachebench}
DIR=${DIR:-/dev/shm}
D=${SECS:-3}
f="$DIR/cachebench.$$.db"
trap 'rm -f "$f" "$f.lock"' EXIT
echo "# cachebench, file in $DIR ($(df -T "$DIR" | awk 'NR==2 {print $2}')), $(nproc) CPUs, $(date -u +%F)"
for n in ${RECORDS:-1000 100000 1000000}; do
	for variant in "-b 1024" "-b 4096" "-b 16384" "-b 4096 -m"; do
		# mmap at 1M records needs a file-sized msync per store: skip
		[ "$n" -ge 1000000 ] && [ "$variant" = "-b 4096 -m" ] && continue
		for p in 1 2; do
			echo "## $variant procs=$p"
			# shellcheck disable=SC2086
			$B -n "$n" -p "$p" -d "$D" $variant "$f" 2>&1 | grep -v '^op '
		done
	done
done
