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

static int
do_stats(struct cache *c, const char *path)
{
	struct cache_info info;
	char a[32], b[32];

	if (cache_info(c, time(NULL), &info) != 0)
		return -1;
	printf("file: %s\nsize: %lld bytes\nrecords: %zu\nexpired: %zu\n"
	    "oldest: %s\nnewest: %s\nrepairs: %llu\nevictions: %llu\n", path,
	    (long long)info.file_size, info.count, info.expired,
	    iso(info.oldest, a, sizeof a), iso(info.newest, b, sizeof b),
	    (unsigned long long)info.repairs,
	    (unsigned long long)info.evictions);
	return 0;
}

static int
do_list(struct cache *c, const char *path)
{
	(void)path;
	printf("%-16s  %-20s  %-20s  %s\n", "ID", "CREATED", "EXPIRES",
	    "SIZE");
	return cache_list(c, print_entry, NULL);
}

static int
do_purge(struct cache *c, const char *path)
{
	size_t removed = 0;

	(void)path;
	if (cache_purge_all(c, time(NULL), &removed) != 0)
		return -1;
	printf("purged %zu expired record(s)\n", removed);
	return 0;
}

static int
do_clear(struct cache *c, const char *path)
{
	(void)path;
	if (cache_clear(c) != 0)
		return -1;
	printf("cleared\n");
	return 0;
}

/* The operations; only those that are not read_only may write. */
static const struct cache_op {
	const char *name;
	int         read_only;
	int       (*run)(struct cache *, const char *path);
} ops[] = {
	{ "stats", 1, do_stats },
	{ "list", 1, do_list },
	{ "purge", 0, do_purge },
	{ "clear", 0, do_clear },
};

/* The cache at path, opened as op needs, locked; NULL when said why. */
static struct cache *
open_cache(const char *path, const struct cache_op *op)
{
	struct cache_opts o;
	struct cache *c;
	struct stat st;
	char spec[4200], err[512];

	if (stat(path, &st) != 0) {
		fprintf(stderr, "cachet cache: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	/* Anything (re)created keeps the owner cachetd's workers use. */
	memset(&o, 0, sizeof o);
	o.read_only = op->read_only;
	o.timeout = 300;
	o.max_entries = 1L << 40;
	o.purge_interval = 60;
	o.uid = st.st_uid;
	o.gid = st.st_gid;
	snprintf(spec, sizeof spec, "gdbm:%s", path);
	if ((c = cache_open(spec, &o, NULL, err, sizeof err)) == NULL) {
		fprintf(stderr, "cachet cache: %s\n", err);
		return NULL;
	}
	cache_set_log(c, log_hook);
	if (cache_attach(c) != 0) {
		fprintf(stderr, "cachet cache: %s: cannot lock it\n", path);
		cache_close(c);
		return NULL;
	}
	return c;
}

int
cmd_cache(int argc, char **argv)
{
	const struct cache_op *op = NULL;
	struct cache *c;
	size_t i;
	int r;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return EX_OK;
	}
	if (argc != 3) {
		usage(stderr);
		return EX_USAGE;
	}
	for (i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (strcmp(argv[1], ops[i].name) == 0)
			op = &ops[i];
	if (op == NULL) {
		fprintf(stderr, "cachet cache: unknown operation '%s'\n", argv[1]);
		usage(stderr);
		return EX_USAGE;
	}
	if ((c = open_cache(argv[2], op)) == NULL)
		return EX_OTHER;
	r = op->run(c, argv[2]);
	cache_close(c);
	if (r != 0) {
		fprintf(stderr, "cachet cache: %s: %s failed%s\n", argv[2],
		    op->name, op->read_only ? " (nothing was changed)" : "");
		return EX_OTHER;
	}
	return EX_OK;
}
