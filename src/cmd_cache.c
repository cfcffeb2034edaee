/*
 * cmd_cache.c - `cachet cache stats|list|purge|clear PATH`: look inside a
 * GDBM session cache, or clean it, with the same locking as cachetd (safe
 * while it runs).  Only record headers are read: no key is needed and no
 * secret is shown.  stats and list open the cache read-only: they never
 * create, chmod or repair anything, and a file that is damaged or not a
 * cache is an error (exit 1) with the reason; only purge and clear write.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cache.h"
#include "cachet.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: cachet cache stats|list|purge|clear PATH\n"
	    "  stats  records, expired records, file size, oldest and newest,\n"
	    "         repairs and evictions (read-only)\n"
	    "  list   one line per record: ID prefix, created, expires, size\n"
	    "         (read-only)\n"
	    "  purge  remove expired records\n"
	    "  clear  remove every record (also starts a damaged file afresh)\n");
}

static const char *
iso(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (t == 0)
		return "-";
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

static int
print_entry(const struct cache_entry *e, void *arg)
{
	char id[2 * 8 + 1], a[32], b[32];
	size_t i, n = e->idlen < 8 ? e->idlen : 8;

	(void)arg;
	for (i = 0; i < n; i++)
		snprintf(id + 2 * i, 3, "%02x", e->id[i]);
	printf("%-16s  %-20s  %-20s  %zu%s\n", id, iso(e->created, a, sizeof a),
	    iso(e->expires, b, sizeof b), e->size,
	    e->expires != 0 && e->expires <= time(NULL) ? "  expired" : "");
	return 0;
}

/* The library's reasons (damage, refused files) go to stderr. */
static void
log_hook(int err, const char *msg)
{
	(void)err;
	fprintf(stderr, "cachet cache: %s\n", msg);
}

int
cmd_cache(int argc, char **argv)
{
	struct cache_opts o;
	struct cache_info info;
	struct cache *c;
	struct stat st;
	char spec[4200], err[512], a[32], b[32];
	const char *op, *path;
	int r = 0, look;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc != 3) {
		usage(stderr);
		return 2;
	}
	op = argv[1];
	path = argv[2];
	if (strcmp(op, "stats") != 0 && strcmp(op, "list") != 0 &&
	    strcmp(op, "purge") != 0 && strcmp(op, "clear") != 0) {
		fprintf(stderr, "cachet cache: unknown operation '%s'\n", op);
		usage(stderr);
		return 2;
	}
	if (stat(path, &st) != 0) {
		fprintf(stderr, "cachet cache: %s: %s\n", path, strerror(errno));
		return 1;
	}
	/* Anything (re)created keeps the owner cachetd's workers use. */
	look = strcmp(op, "stats") == 0 || strcmp(op, "list") == 0;
	memset(&o, 0, sizeof o);
	o.read_only = look;
	o.timeout = 300;
	o.max_entries = 1L << 40;
	o.purge_interval = 60;
	o.uid = st.st_uid;
	o.gid = st.st_gid;
	snprintf(spec, sizeof spec, "gdbm:%s", path);
	if ((c = cache_open(spec, &o, NULL, err, sizeof err)) == NULL) {
		fprintf(stderr, "cachet cache: %s\n", err);
		return 1;
	}
	cache_set_log(c, log_hook);
	if (cache_attach(c) != 0) {
		fprintf(stderr, "cachet cache: %s: cannot lock it\n", path);
		cache_close(c);
		return 1;
	}
	if (strcmp(op, "stats") == 0) {
		r = cache_info(c, time(NULL), &info);
		if (r == 0)
			printf("file: %s\nsize: %lld bytes\nrecords: %zu\n"
			    "expired: %zu\noldest: %s\nnewest: %s\n"
			    "repairs: %llu\nevictions: %llu\n", path,
			    (long long)info.file_size, info.count, info.expired,
			    iso(info.oldest, a, sizeof a),
			    iso(info.newest, b, sizeof b),
			    (unsigned long long)info.repairs,
			    (unsigned long long)info.evictions);
	} else if (strcmp(op, "list") == 0) {
		printf("%-16s  %-20s  %-20s  %s\n", "ID", "CREATED", "EXPIRES",
		    "SIZE");
		r = cache_list(c, print_entry, NULL);
	} else if (strcmp(op, "purge") == 0) {
		size_t removed = 0;
		r = cache_purge_all(c, time(NULL), &removed);
		if (r == 0)
			printf("purged %zu expired record(s)\n", removed);
	} else {
		r = cache_clear(c);
		if (r == 0)
			printf("cleared\n");
	}
	cache_close(c);
	if (r != 0) {
		fprintf(stderr, "cachet cache: %s: %s failed%s\n", path, op,
		    look ? " (nothing was changed)" : "");
		return 1;
	}
	return 0;
}
