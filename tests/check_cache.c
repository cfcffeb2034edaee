/* check_cache.c - the session cache library on real GDBM files: store,
 * fetch, remove, expiry, purge, the cap and eviction, sealing (tampering,
 * wrong key), damaged files (at open, in the middle of operations, a
 * writer killed while writing) and their repair, two processes each
 * keeping the database open and seeing the other's writes at once (and
 * the file repaired, replaced, removed or emptied under them), read-only
 * opens, planted
 * symbolic and hard links, a removed lock file, the lock file's shared
 * header (mapped; wrong size or content), key files, and four
 * processes at once; what the library says about specs and stores, and
 * the backend contract with a backend of the test's own (no scan, an
 * asynchronous fetch). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <gdbm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "cache_int.h"      /* a backend of our own, through the table */
#include "check_run.h"

static char dir[] = "/tmp/check_cache.XXXXXX";
static char db[1100], spec[1200];
static unsigned char key1[CACHE_KEY_LEN], key2[CACHE_KEY_LEN];

static void
setup(void)
{
	strcpy(dir, "/tmp/check_cache.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(db, sizeof db, "%s/s.db", dir);
	snprintf(spec, sizeof spec, "gdbm:%s", db);
	memset(key1, 1, sizeof key1);
	memset(key2, 2, sizeof key2);
}

static void
teardown(void)
{
	char cmd[1200];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	(void)!system(cmd);
}

static struct cache *
open_cache(const unsigned char *key, long max)
{
	struct cache_opts o = { .timeout = 300, .max_entries = max,
	    .purge_interval = 60, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	char err[256];
	struct cache *c = cache_open(spec, &o, key, err, sizeof err);

	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(cache_attach(c), 0);
	return c;
}

static int
fetch_eq(struct cache *c, const char *id, const char *want)
{
	unsigned char *d;
	size_t n;
	int r = cache_fetch(c, (const unsigned char *)id, strlen(id), &d, &n);

	if (r != 1)
		return r;
	r = n == strlen(want) && memcmp(d, want, n) == 0 ? 1 : -2;
	free(d);
	return r;
}

static int
put(struct cache *c, const char *id, const char *data, time_t expires)
{
	return cache_store(c, (const unsigned char *)id, strlen(id),
	    (const unsigned char *)data, strlen(data), time(NULL), expires);
}

START_TEST(store_fetch_remove)
{
	struct cache *c = open_cache(key1, 1000);
	struct stat st;
	time_t later = time(NULL) + 100;

	ck_assert_int_eq(put(c, "id-1", "session one", later), 0);
	ck_assert_int_eq(put(c, "id-2", "session two", later), 0);
	ck_assert_int_eq(fetch_eq(c, "id-1", "session one"), 1);
	ck_assert_int_eq(fetch_eq(c, "id-2", "session two"), 1);
	ck_assert_int_eq(fetch_eq(c, "id-3", "x"), 0);
	ck_assert_int_eq(put(c, "id-1", "replaced", later), 0);
	ck_assert_int_eq(fetch_eq(c, "id-1", "replaced"), 1);
	ck_assert_int_eq(cache_remove(c, (const unsigned char *)"id-1", 4), 0);
	ck_assert_int_eq(fetch_eq(c, "id-1", "replaced"), 0);
	ck_assert_uint_eq(cache_stats(c)->hits, 3);
	ck_assert_uint_eq(cache_stats(c)->misses, 2);
	ck_assert_uint_eq(cache_stats(c)->stores, 3);
	ck_assert_uint_eq(cache_stats(c)->removes, 1);
	/* files are private */
	ck_assert_int_eq(stat(db, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	strcat(db, ".lock");
	ck_assert_int_eq(stat(db, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	cache_close(c);
}
END_TEST

/* A single-use record (a TLS 1.3 ticket) is taken once: fetched and
 * removed in one step, and gone for every other handle on the file. */
START_TEST(take_once)
{
	struct cache *a = open_cache(key1, 1000), *b = open_cache(key1, 1000);
	time_t later = time(NULL) + 100;
	unsigned char *d = NULL;
	size_t dl = 0;

	ck_assert_int_eq(cache_store_once(a, (const unsigned char *)"ticket-1",
	    8, (const unsigned char *)"one use", 7, time(NULL), later), 0);
	ck_assert_int_eq(cache_take(b, (const unsigned char *)"ticket-1", 8,
	    &d, &dl), 1);
	ck_assert_uint_eq(dl, 7);
	ck_assert_mem_eq(d, "one use", 7);
	free(d);
	ck_assert_int_eq(cache_take(a, (const unsigned char *)"ticket-1", 8,
	    &d, &dl), 0);
	ck_assert_int_eq(fetch_eq(a, "ticket-1", "one use"), 0);
	ck_assert_int_eq(fetch_eq(b, "ticket-1", "one use"), 0);
	ck_assert_uint_eq(cache_stats(b)->removes, 1);
	ck_assert_uint_eq(cache_stats(b)->hits, 1);
	/* the others stay; a reusable record (a TLS 1.2 session, whose ID
	 * a client may offer as a ticket) is not taken: a miss, and kept */
	ck_assert_int_eq(put(a, "id-2", "stays", later), 0);
	ck_assert_int_eq(cache_take(b, (const unsigned char *)"id-9", 4,
	    &d, &dl), 0);
	ck_assert_int_eq(cache_take(b, (const unsigned char *)"id-2", 4,
	    &d, &dl), 0);
	ck_assert_int_eq(fetch_eq(b, "id-2", "stays"), 1);
	ck_assert_int_eq(fetch_eq(a, "id-2", "stays"), 1);
	cache_close(a);
	cache_close(b);
}
END_TEST

START_TEST(big_record)
{
	struct cache *c = open_cache(key1, 1000);
	unsigned char *big = malloc(20000), *d;
	size_t n;

	memset(big, 'q', 20000);
	ck_assert_int_eq(cache_store(c, (const unsigned char *)"big", 3, big,
	    20000, time(NULL), time(NULL) + 60), 0);
	ck_assert_int_eq(cache_fetch(c, (const unsigned char *)"big", 3, &d,
	    &n), 1);
	ck_assert_uint_eq(n, 20000);
	ck_assert_int_eq(memcmp(d, big, n), 0);
	free(d);
	free(big);
	cache_close(c);
}
END_TEST

START_TEST(expiry_and_purge)
{
	struct cache *c = open_cache(key1, 1000);
	struct cache_info info;
	size_t removed;
	char id[32];
	int i;

	for (i = 0; i < 50; i++) {
		snprintf(id, sizeof id, "old-%d", i);
		ck_assert_int_eq(put(c, id, "stale", time(NULL) - 1), 0);
		snprintf(id, sizeof id, "new-%d", i);
		ck_assert_int_eq(put(c, id, "fresh", time(NULL) + 100), 0);
	}
	/* an expired record is a miss and is removed on fetch */
	ck_assert_int_eq(fetch_eq(c, "old-0", "stale"), 0);
	ck_assert_uint_eq(cache_stats(c)->expired, 1);
	ck_assert_int_eq(cache_info(c, time(NULL), &info), 0);
	ck_assert_uint_eq(info.count, 99);
	ck_assert_uint_eq(info.expired, 49);
	ck_assert_int_gt(info.file_size, 0);
	ck_assert_int_eq(cache_purge_all(c, time(NULL), &removed), 0);
	ck_assert_uint_eq(removed, 49);
	ck_assert_int_eq(cache_info(c, time(NULL), &info), 0);
	ck_assert_uint_eq(info.count, 50);
	ck_assert_uint_eq(info.expired, 0);
	ck_assert_int_eq(fetch_eq(c, "new-7", "fresh"), 1);
	cache_close(c);
}
END_TEST

static int
put_at(struct cache *c, const char *id, time_t created, time_t expires)
{
	return cache_store(c, (const unsigned char *)id, strlen(id),
	    (const unsigned char *)"v", 1, created, expires);
}

START_TEST(cap)
{
	struct cache *c = open_cache(key1, 10);
	struct cache_info info;
	time_t now = time(NULL);
	char id[32];
	int i, kept = 0;

	for (i = 0; i < 10; i++) {
		snprintf(id, sizeof id, "k%d", i);
		ck_assert_int_eq(put(c, id, "v", now + (i < 4 ? -1 : 100)), 0);
	}
	/* full: the expired records make room first */
	ck_assert_int_eq(put(c, "eleventh", "v", now + 100), 0);
	ck_assert_uint_eq(cache_stats(c)->full, 0);
	ck_assert_uint_ge(cache_stats(c)->expired, 1);
	ck_assert_uint_eq(cache_stats(c)->evictions, 0);
	ck_assert_int_eq(fetch_eq(c, "eleventh", "v"), 1);
	/* replacing a known record is not growth */
	ck_assert_int_eq(put(c, "k5", "v2", now + 100), 0);
	/* a flood: every store is kept, the count never passes the cap,
	 * the oldest go first */
	for (i = 0; i < 200; i++) {
		snprintf(id, sizeof id, "flood-%d", i);
		ck_assert_int_eq(put_at(c, id, now + i, now + 1000), 0);
		ck_assert_int_eq(cache_info(c, now, &info), 0);
		ck_assert_uint_le(info.count, 10);
	}
	ck_assert_uint_eq(info.count, 10);
	ck_assert_uint_eq(cache_stats(c)->full, 0);
	ck_assert_uint_ge(cache_stats(c)->evictions, 190);
	ck_assert_uint_eq(info.evictions, cache_stats(c)->evictions);
	ck_assert_int_eq(fetch_eq(c, "flood-199", "v"), 1);
	ck_assert_int_eq(fetch_eq(c, "flood-198", "v"), 1);
	for (i = 190; i < 200; i++) {
		snprintf(id, sizeof id, "flood-%d", i);
		kept += fetch_eq(c, id, "v") == 1;
	}
	ck_assert_int_ge(kept, 8);      /* the newest ten, or nearly */
	ck_assert_int_eq(fetch_eq(c, "flood-0", "v"), 0);
	cache_close(c);
}
END_TEST

/* Flip one bit of the stored record, behind the library's back. */
static void
flip_bit(const char *id, size_t byte)
{
	GDBM_FILE f = gdbm_open(db, 0, GDBM_WRITER | GDBM_NOLOCK, 0600, NULL);
	datum k = { (char *)id, (int)strlen(id) }, v;

	ck_assert_ptr_nonnull(f);
	v = gdbm_fetch(f, k);
	ck_assert_ptr_nonnull(v.dptr);
	ck_assert_uint_gt((size_t)v.dsize, byte);
	v.dptr[byte] ^= 0x10;
	ck_assert_int_eq(gdbm_store(f, k, v, GDBM_REPLACE), 0);
	free(v.dptr);
	gdbm_close(f);
}

START_TEST(tampering)
{
	struct cache *c = open_cache(key1, 1000);
	size_t where[] = { 5, 13, 30, 40, 52 };   /* header, nonce, body, tag */
	size_t i;

	for (i = 0; i < sizeof where / sizeof where[0]; i++) {
		ck_assert_int_eq(put(c, "victim", "secret session bytes!!",
		    time(NULL) + 100), 0);
		ck_assert_int_eq(fetch_eq(c, "victim", "secret session bytes!!"),
		    1);
		flip_bit("victim", where[i]);
		ck_assert_msg(fetch_eq(c, "victim", "secret session bytes!!") == 0,
		    "bit at byte %zu", where[i]);
		/* and the bad record is gone */
		ck_assert_int_eq(fetch_eq(c, "victim", "x"), 0);
	}
	cache_close(c);
}
END_TEST

START_TEST(record_under_other_id)
{
	struct cache *c = open_cache(key1, 1000);
	GDBM_FILE f;
	datum a = { "id-a", 4 }, b = { "id-b", 4 }, v;

	ck_assert_int_eq(put(c, "id-a", "alice's session", time(NULL) + 99), 0);
	/* copy the sealed record to another key: the ID is authenticated */
	f = gdbm_open(db, 0, GDBM_WRITER | GDBM_NOLOCK, 0600, NULL);
	v = gdbm_fetch(f, a);
	gdbm_store(f, b, v, GDBM_REPLACE);
	free(v.dptr);
	gdbm_close(f);
	ck_assert_int_eq(fetch_eq(c, "id-b", "alice's session"), 0);
	ck_assert_int_eq(fetch_eq(c, "id-a", "alice's session"), 1);
	cache_close(c);
}
END_TEST

START_TEST(wrong_key)
{
	struct cache *c1 = open_cache(key1, 1000), *c2;

	ck_assert_int_eq(put(c1, "id", "data", time(NULL) + 100), 0);
	c2 = open_cache(key2, 1000);
	ck_assert_int_eq(fetch_eq(c2, "id", "data"), 0);
	cache_close(c2);
	cache_close(c1);
}
END_TEST

START_TEST(no_plaintext_on_disk)
{
	struct cache *c = open_cache(key1, 1000);
	const char *marker = "MASTERKEY-0123456789abcdef";
	char buf[65536];
	ssize_t n;
	int fd;

	ck_assert_int_eq(put(c, "id", marker, time(NULL) + 100), 0);
	fd = open(db, O_RDONLY);
	n = read(fd, buf, sizeof buf);
	close(fd);
	ck_assert_int_gt(n, 0);
	ck_assert_ptr_null(memmem(buf, (size_t)n, marker, strlen(marker)));
	cache_close(c);
}
END_TEST

START_TEST(damaged_file)
{
	struct cache *c = open_cache(key1, 1000);
	char junk[8192];
	FILE *f;
	int i, ok = 0;

	ck_assert_int_eq(put(c, "before", "x", time(NULL) + 100), 0);
	/* garbage over the whole file */
	for (i = 0; i < (int)sizeof junk; i++)
		junk[i] = (char)(i * 131 + 7);
	ck_assert_ptr_nonnull(f = fopen(db, "w"));
	fwrite(junk, 1, sizeof junk, f);
	fclose(f);
	/* a miss (the record is lost), never a crash; then it works again */
	ck_assert_int_le(fetch_eq(c, "before", "x"), 0);
	for (i = 0; i < 3 && !ok; i++)
		ok = put(c, "after", "y", time(NULL) + 100) == 0;
	ck_assert_int_eq(ok, 1);
	ck_assert_int_eq(fetch_eq(c, "after", "y"), 1);
	/* an empty file */
	ck_assert_int_eq(truncate(db, 0), 0);
	ck_assert_int_le(fetch_eq(c, "after", "y"), 0);
	ck_assert_int_eq(put(c, "again", "z", time(NULL) + 100), 0);
	ck_assert_int_eq(fetch_eq(c, "again", "z"), 1);
	ck_assert_uint_gt(cache_stats(c)->errors + cache_stats(c)->misses, 0);
	cache_close(c);
}
END_TEST

/* Overwrite the file from `from` to its end with junk, keeping its size:
 * the header still opens, buckets do not. */
static void
junk_tail(off_t from)
{
	struct stat st;
	char junk[4096];
	int fd, i;

	for (i = 0; i < (int)sizeof junk; i++)
		junk[i] = (char)(i * 131 + 7);
	ck_assert_int_eq(stat(db, &st), 0);
	ck_assert_int_gt(st.st_size, from);
	fd = open(db, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	while (from < st.st_size) {
		ck_assert_int_gt(pwrite(fd, junk, sizeof junk, from), 0);
		from += sizeof junk;
	}
	close(fd);
}

static char logged[4096];
static void
log_to_buf(int err, const char *msg)
{
	(void)err;
	strncat(logged, msg, sizeof logged - strlen(logged) - 2);
	strcat(logged, "\n");
}

static void
fill(struct cache *c, const char *prefix, int n)
{
	char id[32];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(id, sizeof id, "%s-%d", prefix, i);
		ck_assert_int_eq(put(c, id, "a session of a decent length, "
		    "a session of a decent length", time(NULL) + 100), 0);
	}
}

/* Damage an opened file shows only when a bucket is read: repaired under
 * the exclusive lock by the first process that sees it, once, logged;
 * the other process then finds a good file and repairs nothing. */
START_TEST(damage_in_operations)
{
	struct cache *c1 = open_cache(key1, 100000), *c2;
	struct cache_info info;
	char id[32];
	int i, hits = 0;

	fill(c1, "rec", 400);
	c2 = open_cache(key1, 100000);
	logged[0] = '\0';
	cache_set_log(c1, log_to_buf);
	cache_set_log(c2, log_to_buf);
	junk_tail(3 * 4096);
	/* whatever each call meets, no crash; c1 repairs */
	for (i = 0; i < 400; i++) {
		snprintf(id, sizeof id, "rec-%d", i);
		hits += fetch_eq(c1, id, "x") == -2;
	}
	(void)hits;
	ck_assert_uint_eq(cache_stats(c1)->repairs, 1);
	ck_assert_ptr_nonnull(strstr(logged, "was damaged"));
	ck_assert_ptr_nonnull(strstr(logged, "recovered") ?
	    strstr(logged, "recovered") : strstr(logged, "recreated"));
	/* the other process sees a good file: stores, fetches, scans */
	ck_assert_int_eq(put(c2, "after", "y", time(NULL) + 100), 0);
	ck_assert_int_eq(fetch_eq(c2, "after", "y"), 1);
	ck_assert_int_eq(fetch_eq(c1, "after", "y"), 1);
	ck_assert_int_eq(cache_info(c2, time(NULL), &info), 0);
	ck_assert_uint_ge(info.count, 1);
	ck_assert_uint_eq(info.repairs, 1);
	ck_assert_uint_eq(cache_stats(c2)->repairs, 0);
	/* damage met by a store */
	fill(c2, "more", 400);
	junk_tail(3 * 4096);
	for (i = 0; i < 20; i++) {
		snprintf(id, sizeof id, "new-%d", i);
		put(c2, id, "z", time(NULL) + 100);
	}
	ck_assert_uint_eq(cache_stats(c2)->repairs, 1);
	ck_assert_int_eq(put(c2, "last", "z", time(NULL) + 100), 0);
	ck_assert_int_eq(fetch_eq(c1, "last", "z"), 1);
	/* damage met by a scan (a purge) */
	fill(c2, "again", 400);
	junk_tail(3 * 4096);
	ck_assert_int_ne(cache_purge_all(c1, time(NULL), NULL), 0);
	ck_assert_uint_eq(cache_stats(c1)->repairs, 2);
	ck_assert_int_eq(cache_purge_all(c1, time(NULL), NULL), 0);
	ck_assert_int_eq(cache_info(c1, time(NULL), &info), 0);
	ck_assert_uint_eq(info.repairs, 3);
	cache_close(c2);
	cache_close(c1);
}
END_TEST

/* A writer killed while it holds the exclusive lock, again and again:
 * the file stays usable (also to a process that keeps it open meanwhile),
 * every record stored since is found, and the count stays exact. */
START_TEST(writer_killed)
{
	struct cache *c = open_cache(key1, 1000000);
	struct cache_info info;
	GDBM_FILE f;
	gdbm_count_t n;
	char pid_id[32];
	int round, status;

	/* this process keeps its database open across the kills */
	ck_assert_int_eq(put(c, "before", "b", time(NULL) + 300), 0);
	ck_assert_int_eq(fetch_eq(c, "before", "b"), 1);
	for (round = 0; round < 30; round++) {
		pid_t kid = fork();
		if (kid == 0) {
			struct cache *me = open_cache(key1, 1000000);
			char id[32];
			int j;
			for (j = 0; ; j++) {
				snprintf(id, sizeof id, "r%d-%d", round, j);
				put(me, id, "a value long enough to need a block "
				    "of its own now and then, a value", time(NULL) +
				    300);
			}
		}
		usleep(2000 + (useconds_t)(round * 997) % 8000);
		kill(kid, SIGKILL);
		ck_assert_int_eq(waitpid(kid, &status, 0), kid);
		/* usable through the database kept open (a record lost to a
		 * repair is a miss, never an error) */
		ck_assert_int_ge(fetch_eq(c, "before", "b"), 0);
		snprintf(pid_id, sizeof pid_id, "parent-%d", round);
		ck_assert_int_eq(put(c, pid_id, "p", time(NULL) + 300), 0);
		ck_assert_int_eq(fetch_eq(c, pid_id, "p"), 1);
	}
	ck_assert_int_eq(put(c, "kept", "k", time(NULL) + 100), 0);
	cache_close(c);
	c = open_cache(key1, 1000000);
	ck_assert_int_eq(fetch_eq(c, "kept", "k"), 1);
	ck_assert_int_eq(put(c, "survivor", "s", time(NULL) + 100), 0);
	ck_assert_int_eq(fetch_eq(c, "survivor", "s"), 1);
	ck_assert_int_eq(cache_info(c, time(NULL), &info), 0);
	cache_close(c);
	f = gdbm_open(db, 0, GDBM_READER | GDBM_NOLOCK, 0600, NULL);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(gdbm_count(f, &n), 0);
	gdbm_close(f);
	ck_assert_uint_eq(info.count, (size_t)n);
}
END_TEST

/* Turn-taking between two processes over a pipe pair: wait for the
 * other's byte, then give it ours. */
static void
turn_wait(int fd)
{
	char b;

	ck_assert_int_eq(read(fd, &b, 1), 1);
}

static void
turn_give(int fd)
{
	ck_assert_int_eq(write(fd, "t", 1), 1);
}

static int
del(struct cache *c, const char *id)
{
	return cache_remove(c, (const unsigned char *)id, strlen(id));
}

/* Two processes, each keeping its database open between operations,
 * storing, replacing, removing and fetching in turn: each sees the
 * other's last write at once (a new record, a replaced value, a removed
 * one), never its own stale copy of a bucket. */
START_TEST(two_processes_alternate)
{
	int to_kid[2], to_parent[2], status, i;
	char id[32], val[32], want[32];
	struct cache *c;
	pid_t kid;

	c = open_cache(key1, 1000000);
	cache_close(c);
	ck_assert_int_eq(pipe(to_kid), 0);
	ck_assert_int_eq(pipe(to_parent), 0);
	if ((kid = fork()) == 0) {
		struct cache *me = open_cache(key1, 1000000);
		int bad = 0;
		alarm(30);
		for (i = 0; i < 200; i++) {
			turn_wait(to_kid[0]);
			snprintf(id, sizeof id, "p-%d", i);
			snprintf(want, sizeof want, "parent %d", i);
			bad += fetch_eq(me, id, want) != 1;
			bad += fetch_eq(me, "shared", want) != 1;
			if (i > 0) {    /* the parent removed our last one */
				snprintf(id, sizeof id, "k-%d", i - 1);
				bad += fetch_eq(me, id, "kid") != 0;
			}
			snprintf(val, sizeof val, "kid %d", i);
			bad += put(me, "shared", val, time(NULL) + 100) != 0;
			snprintf(id, sizeof id, "k-%d", i);
			bad += put(me, id, "kid", time(NULL) + 100) != 0;
			turn_give(to_parent[1]);
		}
		cache_close(me);
		_exit(bad == 0 ? 0 : 1);
	}
	c = open_cache(key1, 1000000);
	for (i = 0; i < 200; i++) {
		snprintf(id, sizeof id, "p-%d", i);
		snprintf(val, sizeof val, "parent %d", i);
		ck_assert_int_eq(put(c, id, val, time(NULL) + 100), 0);
		ck_assert_int_eq(put(c, "shared", val, time(NULL) + 100), 0);
		turn_give(to_kid[1]);
		turn_wait(to_parent[0]);
		snprintf(want, sizeof want, "kid %d", i);
		ck_assert_int_eq(fetch_eq(c, "shared", want), 1);
		snprintf(id, sizeof id, "k-%d", i);
		ck_assert_int_eq(fetch_eq(c, id, "kid"), 1);
		ck_assert_int_eq(del(c, id), 0);
	}
	ck_assert_int_eq(waitpid(kid, &status, 0), kid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the other process saw a stale record");
	cache_close(c);
	close(to_kid[0]);
	close(to_kid[1]);
	close(to_parent[0]);
	close(to_parent[1]);
}
END_TEST

/* A database kept open by one process while another repairs the file
 * (recovery renames a new file into place), replaces it outside the
 * lock (an administrator's mv), removes it, or empties it: the next
 * operation uses the file at the path now, never the one it had open. */
START_TEST(kept_open_survives_replace)
{
	struct cache *c1 = open_cache(key1, 100000), *c2;
	char other[1200], ospec[1300], err[256];
	struct cache_opts o = { .timeout = 300, .max_entries = 1000,
	    .purge_interval = 60, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	struct stat before, after;
	struct timespec times[2];
	struct cache *c3;
	int i;

	fill(c1, "rec", 400);
	ck_assert_int_eq(fetch_eq(c1, "rec-1", "a session of a decent length, "
	    "a session of a decent length"), 1);  /* c1's database is open */
	c2 = open_cache(key1, 100000);
	/* a write that stat() cannot see (same size, the mtime put back, as
	 * on a kernel with coarse timestamps): the generation tells */
	ck_assert_int_eq(put(c1, "same", "value-1", time(NULL) + 100), 0);
	ck_assert_int_eq(put(c2, "same", "value-2", time(NULL) + 100), 0);
	ck_assert_int_eq(fetch_eq(c1, "same", "value-2"), 1);
	ck_assert_int_eq(stat(db, &before), 0);
	ck_assert_int_eq(put(c2, "same", "value-3", time(NULL) + 100), 0);
	ck_assert_int_eq(stat(db, &after), 0);
	ck_assert_int_eq(after.st_size, before.st_size);
	times[0] = before.st_atim;
	times[1] = before.st_mtim;
	ck_assert_int_eq(utimensat(AT_FDCWD, db, times, 0), 0);
	ck_assert_int_eq(fetch_eq(c1, "same", "value-3"), 1);
	/* repaired by another process: a new inode at the path */
	junk_tail(3 * 4096);
	for (i = 0; i < 400 && cache_stats(c2)->repairs == 0; i++) {
		char id[32];
		snprintf(id, sizeof id, "rec-%d", i);
		(void)fetch_eq(c2, id, "x");
	}
	ck_assert_uint_eq(cache_stats(c2)->repairs, 1);
	ck_assert_int_eq(put(c2, "after-repair", "r", time(NULL) + 100), 0);
	ck_assert_int_eq(fetch_eq(c1, "after-repair", "r"), 1);
	ck_assert_int_eq(put(c1, "from-c1", "1", time(NULL) + 100), 0);
	ck_assert_int_eq(fetch_eq(c2, "from-c1", "1"), 1);
	ck_assert_uint_eq(cache_stats(c1)->repairs, 0);
	/* replaced outside the lock by another file: c1 and c2 read it */
	snprintf(other, sizeof other, "%s/other.db", dir);
	snprintf(ospec, sizeof ospec, "gdbm:%s", other);
	c3 = cache_open(ospec, &o, key1, err, sizeof err);
	ck_assert_ptr_nonnull(c3);
	ck_assert_int_eq(cache_attach(c3), 0);
	ck_assert_int_eq(put(c3, "only-in-other", "o", time(NULL) + 100), 0);
	cache_close(c3);
	ck_assert_int_eq(rename(other, db), 0);
	ck_assert_int_eq(fetch_eq(c1, "only-in-other", "o"), 1);
	ck_assert_int_eq(fetch_eq(c1, "from-c1", "1"), 0);
	ck_assert_int_eq(fetch_eq(c2, "only-in-other", "o"), 1);
	/* removed: a miss, then a store makes a new file both see */
	ck_assert_int_eq(unlink(db), 0);
	ck_assert_int_eq(fetch_eq(c1, "only-in-other", "o"), 0);
	ck_assert_int_eq(put(c2, "new-file", "n", time(NULL) + 100), 0);
	ck_assert_int_eq(fetch_eq(c1, "new-file", "n"), 1);
	ck_assert_int_eq(fetch_eq(c1, "only-in-other", "o"), 0);
	/* emptied in place: damage, repaired, then usable again */
	ck_assert_int_eq(truncate(db, 0), 0);
	ck_assert_int_le(fetch_eq(c1, "new-file", "n"), 0);
	ck_assert_int_eq(put(c1, "again", "z", time(NULL) + 100), 0);
	ck_assert_int_eq(fetch_eq(c2, "again", "z"), 1);
	cache_close(c2);
	cache_close(c1);
}
END_TEST

/* stats and list open read-only: a file that is not a cache keeps its
 * bytes and mode, no lock file appears, the reason is logged. */
START_TEST(read_only_open)
{
	struct cache_opts o = { .timeout = 300, .max_entries = 10,
	    .purge_interval = 60, .uid = (uid_t)-1, .gid = (gid_t)-1,
	    .read_only = 1 };
	const char text[] = "not a cache at all\n";
	char err[256], lockp[1200], buf[64];
	struct cache_info info;
	struct stat st;
	struct cache *c;
	int fd;

	fd = open(db, O_WRONLY | O_CREAT, 0644);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	chmod(db, 0644);
	c = cache_open(spec, &o, NULL, err, sizeof err);
	ck_assert_msg(c != NULL, "%s", err);
	logged[0] = '\0';
	cache_set_log(c, log_to_buf);
	ck_assert_int_eq(cache_attach(c), 0);
	ck_assert_int_eq(cache_info(c, time(NULL), &info), -1);
	ck_assert_ptr_nonnull(strstr(logged, "cannot be read"));
	ck_assert_int_eq(cache_list(c, NULL, NULL), -1);
	ck_assert_int_eq(cache_store(c, (const unsigned char *)"a", 1,
	    (const unsigned char *)"b", 1, time(NULL), time(NULL) + 9), -1);
	ck_assert_int_eq(cache_clear(c), -1);
	cache_close(c);
	ck_assert_int_eq(stat(db, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0644);
	fd = open(db, O_RDONLY);
	ck_assert_int_eq(read(fd, buf, sizeof buf), (ssize_t)strlen(text));
	close(fd);
	ck_assert_int_eq(memcmp(buf, text, strlen(text)), 0);
	snprintf(lockp, sizeof lockp, "%s.lock", db);
	ck_assert_int_ne(access(lockp, F_OK), 0);
}
END_TEST

/* Links planted at the cache and lock paths are refused: the targets
 * keep their bytes and mode. */
START_TEST(planted_links)
{
	struct cache_opts o = { .timeout = 300, .max_entries = 10,
	    .purge_interval = 60, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	char target[1200], lockp[1200], err[256];
	struct stat st;
	int fd;

	snprintf(target, sizeof target, "%s/precious", dir);
	snprintf(lockp, sizeof lockp, "%s.lock", db);
	fd = open(target, O_WRONLY | O_CREAT, 0644);
	ck_assert_int_eq(write(fd, "precious\n", 9), 9);
	close(fd);
	chmod(target, 0644);
	/* symbolic link at the cache path */
	ck_assert_int_eq(symlink(target, db), 0);
	ck_assert_ptr_null(cache_open(spec, &o, key1, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "symbolic link"));
	ck_assert_ptr_nonnull(strstr(err, db));
	unlink(db);
	unlink(lockp);
	/* symbolic link at the lock path */
	ck_assert_int_eq(symlink(target, lockp), 0);
	ck_assert_ptr_null(cache_open(spec, &o, key1, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "symbolic link"));
	ck_assert_ptr_nonnull(strstr(err, lockp));
	unlink(lockp);
	unlink(db);
	/* hard link at the lock path */
	ck_assert_int_eq(link(target, lockp), 0);
	ck_assert_ptr_null(cache_open(spec, &o, key1, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "hard links"));
	unlink(lockp);
	ck_assert_int_eq(stat(target, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0644);
	ck_assert_int_eq(st.st_size, 9);
}
END_TEST

/* The lock file's header as cache_gdbm.c lays it out (struct meta),
 * read with pread() beside the processes that map it. */
#define HDR_SIZE  36864
#define HDR_MAGIC 0x63616335u           /* "cac5" */
struct hdr {
	uint32_t magic, dirty;
	int64_t  count, last_purge;
	uint64_t repairs, evictions;
};

static void
read_hdr(const char *path, struct hdr *h)
{
	int fd = open(path, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, h, sizeof *h, 0), (ssize_t)sizeof *h);
	close(fd);
}

static void
write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_TRUNC);

	ck_assert_int_ge(fd, 0);
	if (n > 0)
		ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static int
same_bytes(const char *path, const void *p, size_t n)
{
	static char buf[HDR_SIZE + 8192];
	int fd = open(path, O_RDONLY);
	ssize_t r;

	ck_assert_int_ge(fd, 0);
	r = read(fd, buf, sizeof buf);
	close(fd);
	return r == (ssize_t)n && memcmp(buf, p, n) == 0;
}

/* The lock file removed while in use: the next operation locks a new
 * one at the path, as every process opening the path now does. */
START_TEST(lock_file_removed)
{
	struct cache *c = open_cache(key1, 1000);
	char lockp[1200];
	struct stat st;
	struct hdr h;
	int fd, orphan;

	snprintf(lockp, sizeof lockp, "%s.lock", db);
	ck_assert_int_eq(put(c, "one", "1", time(NULL) + 100), 0);
	orphan = open(lockp, O_RDONLY);
	ck_assert_int_ge(orphan, 0);
	ck_assert_int_eq(unlink(lockp), 0);
	ck_assert_int_eq(put(c, "two", "2", time(NULL) + 100), 0);
	ck_assert_int_eq(stat(lockp, &st), 0);
	/* the numbers are kept in the new file (mapped anew, recounted),
	 * not in the orphan */
	read_hdr(lockp, &h);
	ck_assert_uint_eq(h.magic, HDR_MAGIC);
	ck_assert_int_eq(h.count, 2);
	ck_assert_int_eq(pread(orphan, &h, sizeof h, 0), (ssize_t)sizeof h);
	ck_assert_int_eq(h.count, 1);
	close(orphan);
	/* another process holds the new lock file: we must wait for it */
	fd = open(lockp, O_RDWR);
	ck_assert_int_eq(flock(fd, LOCK_EX), 0);
	{
		pid_t kid = fork();
		int status;
		if (kid == 0) {
			struct cache *me;
			alarm(5);
			me = open_cache(key1, 1000);
			/* blocks until the parent lets go */
			_exit(put(me, "three", "3", time(NULL) + 100) == 0 ?
			    0 : 1);
		}
		usleep(300000);
		ck_assert_int_eq(waitpid(kid, &status, WNOHANG), 0);
		flock(fd, LOCK_UN);
		ck_assert_int_eq(waitpid(kid, &status, 0), kid);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	close(fd);
	ck_assert_int_eq(fetch_eq(c, "three", "3"), 1);
	ck_assert_int_eq(fetch_eq(c, "one", "1"), 1);
	cache_close(c);
}
END_TEST

/* The numbers live in a shared map of the lock file: what a process
 * stores there is in the file at once, and a write-in-progress mark
 * left in it (a writer that died) is repaired by the next process to
 * lock, once. */
START_TEST(lock_file_header)
{
	struct cache *c1 = open_cache(key1, 1000), *c2;
	struct cache_info info;
	char lockp[1200];
	struct hdr h;
	struct stat st;
	uint32_t one = 1;
	int fd;

	snprintf(lockp, sizeof lockp, "%s.lock", db);
	ck_assert_int_eq(stat(lockp, &st), 0);
	ck_assert_int_eq(st.st_size, HDR_SIZE);
	ck_assert_int_eq(put(c1, "a", "1", time(NULL) + 100), 0);
	ck_assert_int_eq(put(c1, "b", "2", time(NULL) + 100), 0);
	ck_assert_int_eq(put(c1, "c", "3", time(NULL) + 100), 0);
	read_hdr(lockp, &h);
	ck_assert_uint_eq(h.magic, HDR_MAGIC);
	ck_assert_uint_eq(h.dirty, 0);
	ck_assert_int_eq(h.count, 3);
	ck_assert_uint_eq(h.repairs, 0);
	c2 = open_cache(key1, 1000);
	/* a writer died inside the database: its mark is left */
	fd = open(lockp, O_WRONLY);
	ck_assert_int_eq(pwrite(fd, &one, sizeof one, 4), (ssize_t)sizeof one);
	close(fd);
	logged[0] = '\0';
	cache_set_log(c1, log_to_buf);
	cache_set_log(c2, log_to_buf);
	/* a reader sees it, under the lock, and repairs once */
	ck_assert_int_eq(fetch_eq(c1, "a", "1"), 1);
	ck_assert_uint_eq(cache_stats(c1)->repairs, 1);
	ck_assert_ptr_nonnull(strstr(logged, "died while writing"));
	read_hdr(lockp, &h);
	ck_assert_uint_eq(h.dirty, 0);
	ck_assert_uint_eq(h.repairs, 1);
	ck_assert_int_eq(h.count, 3);
	/* the other process finds it repaired: nothing more to do */
	ck_assert_int_eq(fetch_eq(c2, "b", "2"), 1);
	ck_assert_int_eq(put(c2, "d", "4", time(NULL) + 100), 0);
	ck_assert_uint_eq(cache_stats(c2)->repairs, 0);
	ck_assert_int_eq(cache_info(c2, time(NULL), &info), 0);
	ck_assert_uint_eq(info.repairs, 1);
	ck_assert_uint_eq(info.count, 4);
	/* a writer's mark too: the next writer repairs, once */
	fd = open(lockp, O_WRONLY);
	ck_assert_int_eq(pwrite(fd, &one, sizeof one, 4), (ssize_t)sizeof one);
	close(fd);
	ck_assert_int_eq(put(c2, "e", "5", time(NULL) + 100), 0);
	ck_assert_int_eq(put(c1, "f", "6", time(NULL) + 100), 0);
	ck_assert_uint_eq(cache_stats(c2)->repairs, 1);
	ck_assert_uint_eq(cache_stats(c1)->repairs, 1);
	read_hdr(lockp, &h);
	ck_assert_uint_eq(h.dirty, 0);
	ck_assert_uint_eq(h.repairs, 2);
	ck_assert_int_eq(h.count, 6);
	cache_close(c2);
	cache_close(c1);
}
END_TEST

/* A lock file of the wrong size or content (empty, short, the older
 * layout, junk, longer), put there while processes have it mapped:
 * no crash; a reader gets on without changing it; the next writer
 * re-initialises it (recounting), never shrinks it; read-only opens
 * never change it. */
START_TEST(lock_file_wrong)
{
	struct cache_opts ro = { .timeout = 300, .max_entries = 1000,
	    .purge_interval = 60, .uid = (uid_t)-1, .gid = (gid_t)-1,
	    .read_only = 1 };
	struct cache *c = open_cache(key1, 1000), *r;
	struct cache_info info;
	static char junk[HDR_SIZE + 4096];
	struct { uint32_t magic, dirty; int64_t count, purge; uint64_t rep,
	    ev; int64_t full; uint64_t gen; } old = { 0x63616334u, 0, 5, 0, 0, 0,
	    0, 0 };
	struct { const void *p; size_t n; off_t size; } v[] = {
		{ junk, 0, HDR_SIZE },
		{ junk, 10, HDR_SIZE },
		{ &old, sizeof old, HDR_SIZE },
		{ junk, HDR_SIZE, HDR_SIZE },
		{ junk, sizeof junk, sizeof junk },
	};
	char lockp[1200], err[256], id[32];
	struct hdr h;
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof junk; i++)
		junk[i] = (char)(i * 131 + 7);
	snprintf(lockp, sizeof lockp, "%s.lock", db);
	ck_assert_int_eq(put(c, "keep", "k", time(NULL) + 100), 0);
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		write_file(lockp, v[i].p, v[i].n);
		/* a reader: served, the file left as it is */
		ck_assert_int_eq(fetch_eq(c, "keep", "k"), 1);
		ck_assert(same_bytes(lockp, v[i].p, v[i].n));
		/* read-only (cachet cache stats): changes nothing */
		r = cache_open(spec, &ro, key1, err, sizeof err);
		ck_assert_ptr_nonnull(r);
		ck_assert_int_eq(cache_info(r, time(NULL), &info), 0);
		ck_assert_uint_eq(info.count, i + 1);
		cache_close(r);
		ck_assert(same_bytes(lockp, v[i].p, v[i].n));
		/* a writer: a good header again, the count recounted */
		snprintf(id, sizeof id, "w%zu", i);
		ck_assert_int_eq(put(c, id, "w", time(NULL) + 100), 0);
		ck_assert_int_eq(stat(lockp, &st), 0);
		ck_assert_int_eq(st.st_size, v[i].size);
		read_hdr(lockp, &h);
		ck_assert_uint_eq(h.magic, HDR_MAGIC);
		ck_assert_uint_eq(h.dirty, 0);
		ck_assert_int_eq(h.count, (int64_t)i + 2);
		ck_assert_uint_eq(cache_stats(c)->repairs, 0);
	}
	/* the master finds junk at start: re-initialised there */
	write_file(lockp, junk, 20);
	r = open_cache(key1, 1000);
	ck_assert_int_eq(stat(lockp, &st), 0);
	ck_assert_int_eq(st.st_size, HDR_SIZE);
	read_hdr(lockp, &h);
	ck_assert_uint_eq(h.magic, HDR_MAGIC);
	ck_assert_int_eq(h.count, (int64_t)i + 1);
	ck_assert_int_eq(fetch_eq(r, "keep", "k"), 1);
	cache_close(r);
	cache_close(c);
}
END_TEST

/* A writer killed while it holds the exclusive lock, at a known point:
 * parked by the log hook, which a store calls under the lock when the
 * cache becomes full.  Its mark is in the lock file at once, stays
 * there, and the next process to lock repairs, once. */
static int park_fd = -1;
static void
park(int err, const char *msg)
{
	(void)err;
	(void)msg;
	(void)!write(park_fd, "p", 1);
	for (;;)
		pause();
}

/* A child process that stores id into a cache of max entries, which is
 * full: parked by the log hook under the exclusive lock, inside the
 * database.  Returns once it is there; the caller kills it. */
static pid_t
park_writer(long max, const char *id)
{
	int p[2];
	pid_t kid;
	char b;

	ck_assert_int_eq(pipe(p), 0);
	if ((kid = fork()) == 0) {
		struct cache *me = open_cache(key1, max);
		close(p[0]);
		park_fd = p[1];
		alarm(10);
		cache_set_log(me, park);
		put(me, id, "x", time(NULL) + 100);
		_exit(1);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &b, 1), 1);
	close(p[0]);
	return kid;
}

START_TEST(killed_holding_lock)
{
	struct cache *c = open_cache(key1, 2), *c2;
	char lockp[1200];
	struct hdr h;
	int status;
	pid_t kid;

	snprintf(lockp, sizeof lockp, "%s.lock", db);
	ck_assert_int_eq(put(c, "one", "1", time(NULL) + 100), 0);
	ck_assert_int_eq(put(c, "two", "2", time(NULL) + 100), 0);
	c2 = open_cache(key1, 2);
	kid = park_writer(2, "three");
	read_hdr(lockp, &h);
	ck_assert_uint_eq(h.dirty, 1);          /* seen while it is inside */
	kill(kid, SIGKILL);
	ck_assert_int_eq(waitpid(kid, &status, 0), kid);
	read_hdr(lockp, &h);
	ck_assert_uint_eq(h.dirty, 1);          /* and left by its death */
	ck_assert_int_eq(fetch_eq(c, "one", "1"), 1);
	ck_assert_uint_eq(cache_stats(c)->repairs, 1);
	ck_assert_int_eq(fetch_eq(c2, "two", "2"), 1);
	ck_assert_uint_eq(cache_stats(c2)->repairs, 0);
	read_hdr(lockp, &h);
	ck_assert_uint_eq(h.dirty, 0);
	ck_assert_uint_eq(h.repairs, 1);
	cache_close(c2);
	cache_close(c);
}
END_TEST

/* cache_stamp() of id as one number (0: none); stp(): of "one". */
static uint64_t
stpk(struct cache *c, const char *id)
{
	uint64_t st[2];

	if (cache_stamp(c, (const unsigned char *)id, strlen(id), st) != 0)
		return 0;
	return st[0] ^ (st[1] * 0x9e3779b97f4a7c15u) ^ 1;
}
#define stp(c) stpk((c), "one")

/* The stamp a process checks what it remembers against (cache_ssl.c),
 * seen by a second handle on the file (its own locks and map, as another
 * worker): unchanged by reads, new records and evictions; moved by every
 * removal or change of a record, a clear, a repair, the file changed,
 * replaced or removed outside the lock; none while a writer is inside or
 * the lock file is not the one at the path. */
START_TEST(stamps)
{
	struct cache *a = open_cache(key1, 4), *b = open_cache(key1, 4);
	char lockp[1200], id[32], b1;
	uint64_t s, s2;
	size_t removed;
	int i, fd, status;
	pid_t kid;

	snprintf(lockp, sizeof lockp, "%s.lock", db);
	ck_assert_uint_eq(stp(b), 0);   /* never locked: no map */
	ck_assert_int_eq(put(a, "one", "1", time(NULL) + 100), 0);
	ck_assert_int_eq(fetch_eq(b, "one", "1"), 1);
	s = stp(b);
	ck_assert_uint_ne(s, 0);
	ck_assert_uint_eq(stp(a), s);
	/* reads and new records: the same */
	ck_assert_int_eq(fetch_eq(a, "one", "1"), 1);
	ck_assert_int_eq(put(a, "two", "2", time(NULL) + 100), 0);
	ck_assert_int_eq(put(a, "three", "3", time(NULL) + 100), 0);
	ck_assert_uint_eq(stp(b), s);
	/* evictions at the cap (4): the same (the session stays valid) */
	for (i = 0; i < 6; i++) {
		snprintf(id, sizeof id, "ev-%d", i);
		ck_assert_int_eq(put(a, id, "e", time(NULL) + 100), 0);
	}
	ck_assert_uint_ge(cache_stats(a)->evictions, 1);
	ck_assert_uint_eq(stp(b), s);
	/* a removal: the removed key's stamp moves, for every handle; of
	 * the others, only those of keys with the same hash (1 in 256) */
	{
		uint64_t k0[32], k5 = stpk(b, "ev-5");
		char kn[16];
		int same = 0;
		for (i = 0; i < 32; i++) {
			snprintf(kn, sizeof kn, "k%d", i);
			k0[i] = stpk(b, kn);
		}
		ck_assert_int_eq(cache_remove(a, (const unsigned char *)"ev-5",
		    4), 0);
		ck_assert_uint_ne(stpk(b, "ev-5"), 0);
		ck_assert_uint_ne(stpk(b, "ev-5"), k5);
		ck_assert_uint_ne(stpk(a, "ev-5"), k5);
		for (i = 0; i < 32; i++) {
			snprintf(kn, sizeof kn, "k%d", i);
			same += stpk(b, kn) == k0[i];
		}
		ck_assert_int_ge(same, 30);
	}
	/* a removal of what is not there (evicted already) moves it too:
	 * OpenSSL's removal of a session (a fatal alert) must reach every
	 * process that remembers it */
	s2 = stpk(b, "nope");
	ck_assert_int_eq(cache_remove(a, (const unsigned char *)"nope", 4), 0);
	ck_assert_uint_ne(stpk(b, "nope"), s2);
	/* a record replaced: moved */
	s2 = stpk(b, "r");
	ck_assert_int_eq(put(a, "r", "first", time(NULL) + 100), 0);
	ck_assert_uint_eq(stpk(b, "r"), s2);
	ck_assert_int_eq(put(a, "r", "changed", time(NULL) + 100), 0);
	ck_assert_int_eq(fetch_eq(b, "r", "changed"), 1);
	ck_assert_uint_ne(stpk(b, "r"), s2);
	s = stp(b);
	/* expired records purged, or dropped when fetched, a spent ticket
	 * or a record discarded: the same (nobody may remember them: each
	 * remembered copy checks its own expiry) */
	ck_assert_int_eq(put(a, "stale", "x", time(NULL) - 1), 0);
	ck_assert_int_eq(put(a, "stale2", "x", time(NULL) - 1), 0);
	ck_assert_uint_eq(stp(b), s);
	ck_assert_int_eq(cache_purge_all(b, time(NULL), &removed), 0);
	ck_assert_uint_ge(removed, 1);
	ck_assert_uint_eq(stp(a), s);
	ck_assert_int_eq(put(a, "stale3", "x", time(NULL) - 1), 0);
	removed = cache_stats(b)->expired;
	ck_assert_int_eq(fetch_eq(b, "stale3", "x"), 0);        /* dropped */
	ck_assert_uint_eq(cache_stats(b)->expired, removed + 1);
	ck_assert_int_eq(cache_store_once(a, (const unsigned char *)"tk", 2,
	    (const unsigned char *)"t", 1, time(NULL), time(NULL) + 100), 0);
	{
		unsigned char *d;
		size_t dl;
		ck_assert_int_eq(cache_take(b, (const unsigned char *)"tk", 2,
		    &d, &dl), 1);
		free(d);
	}
	ck_assert_int_eq(cache_discard(a, (const unsigned char *)"r", 1), 0);
	ck_assert_int_eq(fetch_eq(b, "r", "changed"), 0);
	ck_assert_uint_eq(stp(a), s);
	/* clear: moved */
	ck_assert_int_eq(cache_clear(b), 0);
	ck_assert_uint_ne(stp(a), s);
	ck_assert_uint_ne(stp(a), 0);
	s = stp(a);
	/* the file changed outside the lock (same inode, same size): no
	 * stamp until a process under the lock sees it, then a new one */
	ck_assert_int_eq(put(a, "four", "4", time(NULL) + 100), 0);
	ck_assert_uint_eq(stp(a), s);
	/* (a byte written back as it was: no damage; and the mtime put
	 * back as the last store left it, as touch -r or cp -p would: only
	 * the change time tells) */
	fd = open(db, O_RDWR);
	ck_assert_int_ge(fd, 0);
	{
		struct stat st;
		struct timespec ts[2] = { { 0, UTIME_OMIT }, { 0, 0 } };
		ck_assert_int_eq(fstat(fd, &st), 0);
		ts[1] = st.st_mtim;
		ck_assert_int_eq(pread(fd, &b1, 1, 600), 1);
		ck_assert_int_eq(pwrite(fd, &b1, 1, 600), 1);
		ck_assert_int_eq(futimens(fd, ts), 0);
	}
	close(fd);
	ck_assert_uint_eq(stp(a), 0);
	ck_assert_uint_eq(stp(b), 0);
	{       /* a read-only look (cachet cache stats) sees it too, and
		 * writes nothing: its map of the header is read-only */
		struct cache_opts ro = { .timeout = 300, .max_entries = 4,
		    .purge_interval = 60, .uid = (uid_t)-1, .gid = (gid_t)-1,
		    .read_only = 1 };
		struct cache_info info;
		char err[256];
		struct cache *r = cache_open(spec, &ro, key1, err, sizeof err);
		ck_assert_ptr_nonnull(r);
		ck_assert_int_eq(fetch_eq(r, "four", "4"), 1);
		ck_assert_int_eq(cache_info(r, time(NULL), &info), 0);
		ck_assert_uint_eq(stp(r), 0);
		cache_close(r);
	}
	ck_assert_uint_eq(stp(a), 0);
	ck_assert_int_eq(fetch_eq(b, "four", "4"), 1);
	ck_assert_uint_eq(cache_stats(b)->repairs, 0);
	ck_assert_int_eq(put(b, "five", "5", time(NULL) + 100), 0);
	s2 = stp(a);
	ck_assert_uint_ne(s2, 0);
	ck_assert_uint_ne(s2, s);
	/* removed outside the lock: none; made anew by a writer: a new one */
	ck_assert_int_eq(unlink(db), 0);
	ck_assert_uint_eq(stp(a), 0);
	ck_assert_int_eq(put(b, "six", "6", time(NULL) + 100), 0);
	s = stp(a);
	ck_assert_uint_ne(s, 0);
	ck_assert_uint_ne(s, s2);
	/* the lock file put back from an older copy, in place: its rmgen
	 * goes back; the stamp under which a record was remembered must
	 * not come back after that record's removal */
	{
		char bak[1300], cmd[2700];
		uint64_t s_mem;
		snprintf(bak, sizeof bak, "%s.bak", lockp);
		snprintf(cmd, sizeof cmd, "cp '%s' '%s'", lockp, bak);
		ck_assert_int_eq(system(cmd), 0);
		ck_assert_int_eq(cache_remove(a, (const unsigned char *)"five",
		    4), 0);
		ck_assert_int_eq(fetch_eq(b, "six", "6"), 1);
		s_mem = stpk(b, "six");         /* "six" remembered under it */
		ck_assert_uint_ne(s_mem, 0);
		ck_assert_int_eq(cache_remove(a, (const unsigned char *)"six",
		    3), 0);
		snprintf(cmd, sizeof cmd, "cp '%s' '%s'", bak, lockp);
		ck_assert_int_eq(system(cmd), 0);
		ck_assert_uint_eq(stpk(b, "six"), 0);   /* the file moved on */
		ck_assert_int_eq(put(b, "ten", "10", time(NULL) + 100), 0);
		ck_assert_uint_ne(stpk(b, "six"), 0);
		ck_assert_uint_ne(stpk(b, "six"), s_mem);
		ck_assert_uint_eq(stp(a), stp(b));
		unlink(bak);
	}
	/* the lock file removed: none for a handle that holds the old one */
	ck_assert_int_eq(unlink(lockp), 0);
	ck_assert_uint_eq(stp(a), 0);
	ck_assert_int_eq(put(b, "seven", "7", time(NULL) + 100), 0);
	ck_assert_uint_eq(stp(a), 0);   /* still the orphan */
	ck_assert_int_eq(fetch_eq(a, "seven", "7"), 1);
	ck_assert_uint_ne(stp(a), 0);   /* the new one, locked */
	ck_assert_uint_eq(stp(a), stp(b));
	/* a writer inside (parked by the log hook when the cache is full,
	 * then killed there): none while it is inside, nor after, until the
	 * repair, which moves it */
	s = stp(a);
	kid = park_writer(1, "eight");
	ck_assert_uint_eq(stp(a), 0);
	kill(kid, SIGKILL);
	ck_assert_int_eq(waitpid(kid, &status, 0), kid);
	ck_assert_uint_eq(stp(a), 0);
	(void)fetch_eq(b, "seven", "7");        /* repairs */
	ck_assert_uint_eq(cache_stats(b)->repairs, 1);
	ck_assert_int_eq(put(b, "nine", "9", time(NULL) + 100), 0);
	ck_assert_uint_ne(stp(a), 0);
	ck_assert_uint_ne(stp(a), s);
	cache_close(b);
	cache_close(a);
}
END_TEST

START_TEST(missing_folder_comes_back)
{
	struct cache_opts o = { .timeout = 300, .max_entries = 1000,
	    .purge_interval = 60, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	char err[256], sub[1200], sspec[1300];
	struct cache *c;

	snprintf(sub, sizeof sub, "%s/later", dir);
	snprintf(sspec, sizeof sspec, "gdbm:%s/s.db", sub);
	err[0] = '\0';
	c = cache_open(sspec, &o, key1, err, sizeof err);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(strstr(err, "full handshakes"));
	cache_attach(c);
	ck_assert_int_eq(cache_store(c, (const unsigned char *)"a", 1,
	    (const unsigned char *)"b", 1, time(NULL), time(NULL) + 9), -1);
	ck_assert_int_eq(fetch_eq(c, "a", "b"), -1);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	ck_assert_int_eq(cache_store(c, (const unsigned char *)"a", 1,
	    (const unsigned char *)"b", 1, time(NULL), time(NULL) + 9), 0);
	ck_assert_int_eq(fetch_eq(c, "a", "b"), 1);
	cache_close(c);
}
END_TEST

START_TEST(key_files)
{
	unsigned char k[CACHE_KEY_LEN];
	char path[1200], err[256];
	int fd;

	snprintf(path, sizeof path, "%s/seal.key", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_eq(write(fd, key2, sizeof key2), (ssize_t)sizeof key2);
	close(fd);
	ck_assert_int_eq(cache_read_key(path, k, err, sizeof err), 0);
	ck_assert_int_eq(memcmp(k, key2, sizeof k), 0);
	chmod(path, 0640);
	ck_assert_int_eq(cache_read_key(path, k, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "readable by group or others"));
	chmod(path, 0600);
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	close(fd);
	ck_assert_int_eq(cache_read_key(path, k, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "exactly 32 bytes"));
	ck_assert_int_eq(cache_read_key("/nonexistent", k, err, sizeof err), -1);
}
END_TEST

START_TEST(four_processes)
{
	pid_t kids[4];
	int i, status;
	struct cache *c;
	struct cache_info info;
	GDBM_FILE f;
	gdbm_count_t n;

	c = open_cache(key1, 1000000);
	cache_close(c);
	for (i = 0; i < 4; i++) {
		if ((kids[i] = fork()) == 0) {
			struct cache *me = open_cache(key1, 1000000); /* after fork */
			time_t end = time(NULL) + 2;
			char id[32], val[64];
			int j = 0, bad = 0;
			while (time(NULL) < end && j < 100000) {
				snprintf(id, sizeof id, "p%d-%d", i, j);
				snprintf(val, sizeof val, "value of %s", id);
				if (put(me, id, val, time(NULL) + 300) != 0)
					bad++;
				if (fetch_eq(me, id, val) != 1)
					bad++;
				j++;
			}
			/* every record of this process is still there */
			while (j-- > 0) {
				snprintf(id, sizeof id, "p%d-%d", i, j);
				snprintf(val, sizeof val, "value of %s", id);
				if (fetch_eq(me, id, val) != 1)
					bad++;
			}
			cache_close(me);
			_exit(bad == 0 ? 0 : 1);
		}
	}
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(waitpid(kids[i], &status, 0), kids[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "process %d lost records", i);
	}
	/* the file opens cleanly and holds every record */
	f = gdbm_open(db, 0, GDBM_READER | GDBM_NOLOCK, 0600, NULL);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(gdbm_count(f, &n), 0);
	gdbm_close(f);
	c = open_cache(key1, 1000000);
	ck_assert_int_eq(cache_info(c, time(NULL), &info), 0);
	ck_assert_uint_eq(info.count, (size_t)n);
	ck_assert_uint_gt(n, 400);
	cache_close(c);
}
END_TEST

START_TEST(backends)
{
	struct cache_opts o = { .timeout = 300, .max_entries = 10,
	    .purge_interval = 60, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	char err[256];
	struct cache *c;

	c = cache_open("internal", &o, key1, err, sizeof err);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(cache_kind(c), "internal");
	cache_close(c);
	c = cache_open("none", &o, key1, err, sizeof err);
	ck_assert_str_eq(cache_kind(c), "none");
	ck_assert_int_eq(fetch_eq(c, "x", "y"), 0);
	cache_close(c);
	ck_assert_ptr_null(cache_open("redis:x", &o, key1, err, sizeof err));
	ck_assert_ptr_null(cache_open("gdbm:", &o, key1, err, sizeof err));
}
END_TEST

/* Is this spec valid?  With the reason when it is not. */
START_TEST(spec_check)
{
	static const struct {
		const char *spec;
		const char *why;        /* NULL: valid */
	} cases[] = {
		{ "gdbm:/var/cache/cachet/s.db", NULL },
		{ "gdbm:relative.db", NULL },
		{ "internal", NULL },
		{ "none", NULL },
		{ "redis:127.0.0.1:6379", NULL },
		{ "redis:localhost:6379/15", NULL },
		{ "redis:[::1]:6379", NULL },
		{ "redis:unix:/run/redis/redis.sock", NULL },
		{ "redis:unix:/run/redis/redis.sock/2", NULL },
		{ "redis:x", "redis: 'x' is not HOST:PORT or unix:PATH" },
		{ "redis:", "'redis:': HOST:PORT missing" },
		{ "redis:h:0", "port '0' is not a number from 1 to 65535" },
		{ "redis:h:65536", "port '65536'" },
		{ "redis:h:+1", "port '+1'" },
		{ "redis::6379", "no host" },
		{ "redis:::1:6379", "no host" },
		{ "redis:[::1:6379", "is not [ADDRESS]:PORT" },
		{ "redis:h:6379/99999999", "database '99999999'" },
		{ "redis:unix:run/r.sock", "must be absolute" },
		{ "memcache:x", "'memcache:x' is not \"gdbm:PATH\", "
		    "\"memcached:HOST:PORT,...\", \"redis:HOST:PORT\", \"internal\" or \"none\"" },
		{ "", "'' is not \"gdbm:PATH\"" },
		{ "GDBM:/x", "is not" },
		{ "gdbm:", "'gdbm:': PATH missing (\"gdbm:PATH\")" },
		{ "gdbm", "'gdbm': PATH missing" },
		{ "none:x", "'none:x': \"none\" takes nothing after it" },
		{ "internal:", "takes nothing" },
		{ "nonesuch", "is not" },
	};
	char err[256];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		err[0] = '\0';
		if (cases[i].why == NULL) {
			ck_assert_msg(cache_spec_check(cases[i].spec, err,
			    sizeof err) == 0, "%s: %s", cases[i].spec, err);
			continue;
		}
		ck_assert_msg(cache_spec_check(cases[i].spec, err,
		    sizeof err) == -1, "%s accepted", cases[i].spec);
		ck_assert_msg(strstr(err, cases[i].why) != NULL,
		    "%s: want '%s' in '%s'", cases[i].spec, cases[i].why, err);
	}
	ck_assert_int_eq(cache_spec_check(NULL, err, sizeof err), -1);
}
END_TEST

/* The file a spec names, resolved against the config's folder. */
START_TEST(spec_paths)
{
	char s[64], *r;

	ck_assert_str_eq(cache_spec_path("gdbm:/a/b.db"), "/a/b.db");
	ck_assert_ptr_null(cache_spec_path("internal"));
	ck_assert_ptr_null(cache_spec_path("none"));
	ck_assert_ptr_null(cache_spec_path("gdbm:"));
	ck_assert_ptr_null(cache_spec_path("redis:x"));
	r = cache_spec_resolve("gdbm:cache/s.db", "/etc/cachet");
	ck_assert_str_eq(r, "gdbm:/etc/cachet/cache/s.db");
	free(r);
	r = cache_spec_resolve("gdbm:/abs.db", "/etc/cachet");
	ck_assert_str_eq(r, "gdbm:/abs.db");
	free(r);
	r = cache_spec_resolve("gdbm:rel.db", NULL);
	ck_assert_str_eq(r, "gdbm:rel.db");
	free(r);
	r = cache_spec_resolve("internal", "/etc/cachet");
	ck_assert_str_eq(r, "internal");
	free(r);
	ck_assert_int_eq(cache_spec_for_file("/x/s.db", s, sizeof s), 0);
	ck_assert_int_eq(cache_spec_check(s, NULL, 0), 0);
	ck_assert_str_eq(cache_spec_path(s), "/x/s.db");
	ck_assert_int_eq(cache_spec_for_file("/x/s.db", s, 8), -1);
	ck_assert_int_eq(cache_spec_for_file("", s, sizeof s), -1);
}
END_TEST

/* Does this store keep records, need purging?  And only prepare makes
 * files. */
START_TEST(store_questions)
{
	struct cache_opts o = { .timeout = 300, .max_entries = 10,
	    .purge_interval = 60, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	static const struct {
		const char *spec;
		int         keeps, purge;
	} kinds[] = {
		{ "internal", 0, 0 },
		{ "none", 0, 0 },
		{ NULL, 1, 1 },         /* spec: the gdbm file */
	};
	char err[256], lockp[1200];
	struct cache *c;
	size_t i;

	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		const char *s = kinds[i].spec != NULL ? kinds[i].spec : spec;
		c = cache_new(s, &o, key1, err, sizeof err);
		ck_assert_msg(c != NULL, "%s: %s", s, err);
		ck_assert_int_eq(cache_keeps_records(c), kinds[i].keeps);
		ck_assert_int_eq(cache_needs_purge(c), kinds[i].purge);
		if (!kinds[i].purge)    /* never claims a purge */
			ck_assert_int_eq(cache_purge_due(c, time(NULL) + 3600),
			    0);
		cache_close(c);
	}
	ck_assert_int_eq(cache_keeps_records(NULL), 0);
	ck_assert_int_eq(cache_needs_purge(NULL), 0);
	/* cache_new (cachetd -t) touches nothing; cache_prepare makes both
	 * files, mode 0600 */
	snprintf(lockp, sizeof lockp, "%s.lock", db);
	c = cache_new(spec, &o, key1, err, sizeof err);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_ne(access(db, F_OK), 0);
	ck_assert_int_ne(access(lockp, F_OK), 0);
	ck_assert_int_eq(cache_prepare(c, err, sizeof err), 0);
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(access(db, F_OK), 0);
	ck_assert_int_eq(access(lockp, F_OK), 0);
	cache_close(c);
	ck_assert_ptr_null(cache_new("gdbm:", &o, key1, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "PATH missing"));
}
END_TEST

/* A backend of the test's own, through the table: records in memory
 * with their expiry (as a server with a TTL keeps them), no scan, and a
 * fetch that answers later, when the test says (as a network store
 * does, from the worker's loop). */
#define MEM_MAX 8
static struct {
	struct {
		unsigned char  k[CACHE_MAX_ID];
		size_t         kl;
		unsigned char *v;
		size_t         vl;
		time_t         expires;
	} r[MEM_MAX];
	int               n;
	struct cache_req *pending;      /* the fetch under way */
	unsigned char     pk[CACHE_MAX_ID];
	size_t            pkl;
} mem;

static int
mem_find(const unsigned char *k, size_t kl)
{
	int i;

	for (i = 0; i < mem.n; i++)
		if (mem.r[i].kl == kl && memcmp(mem.r[i].k, k, kl) == 0)
			return i;
	return -1;
}

static int
mem_put(struct cache *c, const unsigned char *k, size_t kl,
    const unsigned char *v, size_t vl, time_t expires)
{
	int i = mem_find(k, kl);

	(void)c;
	if (i < 0 && mem.n == MEM_MAX)
		return 1;
	if (i < 0)
		i = mem.n++;
	free(mem.r[i].v);
	memcpy(mem.r[i].k, k, kl);
	mem.r[i].kl = kl;
	mem.r[i].v = malloc(vl);
	memcpy(mem.r[i].v, v, vl);
	mem.r[i].vl = vl;
	mem.r[i].expires = expires;
	return 0;
}

static int
mem_get(struct cache *c, const unsigned char *k, size_t kl,
    unsigned char **v, size_t *vl)
{
	int i = mem_find(k, kl);

	(void)c;
	if (i < 0)
		return 0;
	*v = malloc(mem.r[i].vl);
	memcpy(*v, mem.r[i].v, mem.r[i].vl);
	*vl = mem.r[i].vl;
	return 1;
}

static int
mem_get_start(struct cache *c, const unsigned char *k, size_t kl,
    struct cache_req *q)
{
	(void)c;
	if (mem.pending != NULL)
		return -1;      /* one at a time here */
	mem.pending = q;
	memcpy(mem.pk, k, kl);
	mem.pkl = kl;
	return CACHE_PENDING;
}

/* The server's answer arrives: r forced (-1: timed out), or what the
 * store holds. */
static void
mem_answer(struct cache *c, int force)
{
	struct cache_req *q = mem.pending;
	unsigned char *v = NULL;
	size_t vl = 0;
	int r = force != 0 ? force : mem_get(c, mem.pk, mem.pkl, &v, &vl);

	mem.pending = NULL;
	cache_get_done(q, r, v, vl);
}

static int
mem_del(struct cache *c, const struct cache_key *keys, size_t n,
    size_t *removed)
{
	size_t j;
	int i;

	(void)c;
	*removed = 0;
	for (j = 0; j < n; j++) {
		if ((i = mem_find(keys[j].k, keys[j].kl)) < 0)
			continue;
		free(mem.r[i].v);
		mem.r[i] = mem.r[--mem.n];
		(*removed)++;
	}
	return 0;
}

static const struct cache_backend mem_backend = {
	.name = "mem",
	.keeps = CACHE_KEEPS_RECORDS,
	.put = mem_put,
	.get = mem_get,
	.get_start = mem_get_start,
	.del = mem_del,
};

struct answer {
	int            calls, r;
	unsigned char *data;
	size_t         len;
};

static void
answered(void *arg, int r, unsigned char *data, size_t len)
{
	struct answer *a = arg;

	a->calls++;
	a->r = r;
	free(a->data);
	a->data = data;
	a->len = len;
}

START_TEST(backend_without_scan)
{
	struct cache_opts o = { .timeout = 300, .max_entries = 10,
	    .purge_interval = 1, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	struct answer a = { 0, 0, NULL, 0 };
	struct cache_info info;
	unsigned char *d = NULL;
	char err[256];
	struct cache *c;
	size_t n = 0, removed = 99;
	time_t now = time(NULL);

	memset(&mem, 0, sizeof mem);
	c = cache_new_with(&mem_backend, NULL, &o, key1, err, sizeof err);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(cache_prepare(c, err, sizeof err), 0);
	ck_assert_int_eq(cache_attach(c), 0);
	ck_assert_int_eq(cache_keeps_records(c), 1);
	ck_assert_int_eq(cache_needs_purge(c), 0);
	/* the backend gets each record's expiry, for its TTL */
	ck_assert_int_eq(put(c, "a", "va", now + 100), 0);
	ck_assert_int_eq(mem.r[0].expires, now + 100);
	ck_assert_int_eq(put(c, "old", "vo", now - 1), 0);
	ck_assert_int_eq(fetch_eq(c, "a", "va"), 1);
	/* nothing to purge, nothing to list, nothing to clear */
	ck_assert_int_eq(cache_purge_due(c, now + 3600), 0);
	ck_assert_int_eq(cache_purge_due_interval(c, now + 3600), 0);
	ck_assert_int_eq(cache_purge_step(c, now), 0);
	ck_assert_int_eq(cache_purge_all(c, now + 3600, &removed), 0);
	ck_assert_uint_eq(removed, 0);
	ck_assert_int_eq(cache_info(c, now, &info), -1);
	ck_assert_int_eq(cache_list(c, NULL, NULL), -1);
	ck_assert_int_eq(cache_clear(c), -1);
	ck_assert_int_eq(mem.n, 2);
	/* a fetch that waits for the store: pending, then answered once */
	ck_assert_int_eq(cache_fetch_start(c, (const unsigned char *)"a", 1,
	    &d, &n, answered, &a), CACHE_PENDING);
	ck_assert_int_eq(a.calls, 0);
	mem_answer(c, 0);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(a.r, 1);
	ck_assert_uint_eq(a.len, 2);
	ck_assert_int_eq(memcmp(a.data, "va", 2), 0);
	ck_assert_uint_eq(cache_stats(c)->hits, 2);
	/* an expired record arrives: a miss, and removed */
	ck_assert_int_eq(cache_fetch_start(c, (const unsigned char *)"old", 3,
	    &d, &n, answered, &a), CACHE_PENDING);
	mem_answer(c, 0);
	ck_assert_int_eq(a.calls, 2);
	ck_assert_int_eq(a.r, 0);
	ck_assert_ptr_null(a.data);
	ck_assert_uint_eq(cache_stats(c)->expired, 1);
	ck_assert_int_eq(mem.n, 1);
	/* the store does not answer in time: an error, a miss */
	ck_assert_int_eq(cache_fetch_start(c, (const unsigned char *)"a", 1,
	    &d, &n, answered, &a), CACHE_PENDING);
	mem_answer(c, -1);
	ck_assert_int_eq(a.calls, 3);
	ck_assert_int_eq(a.r, -1);
	ck_assert_uint_eq(cache_stats(c)->errors, 1);
	/* a fetch that cannot be sent is answered at once, not later */
	mem.pending = (struct cache_req *)&mem;  /* busy */
	ck_assert_int_eq(cache_fetch_start(c, (const unsigned char *)"a", 1,
	    &d, &n, answered, &a), -1);
	ck_assert_int_eq(a.calls, 3);
	mem.pending = NULL;
	cache_close(c);
	while (mem.n > 0)
		free(mem.r[--mem.n].v);
}
END_TEST

/* A store on this host answers cache_fetch_start at once. */
START_TEST(fetch_start_local)
{
	struct cache *c = open_cache(key1, 100);
	struct answer a = { 0, 0, NULL, 0 };
	unsigned char *d = NULL;
	size_t n = 0;

	ck_assert_int_eq(put(c, "a", "va", time(NULL) + 100), 0);
	ck_assert_int_eq(cache_fetch_start(c, (const unsigned char *)"a", 1,
	    &d, &n, answered, &a), 1);
	ck_assert_int_eq(a.calls, 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(memcmp(d, "va", 2), 0);
	free(d);
	ck_assert_int_eq(cache_fetch_start(c, (const unsigned char *)"b", 1,
	    &d, &n, answered, &a), 0);
	cache_close(c);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("cache");
	TCase *tc = tcase_create("gdbm");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, store_fetch_remove);
	tcase_add_test(tc, take_once);
	tcase_add_test(tc, big_record);
	tcase_add_test(tc, expiry_and_purge);
	tcase_add_test(tc, cap);
	tcase_add_test(tc, tampering);
	tcase_add_test(tc, record_under_other_id);
	tcase_add_test(tc, wrong_key);
	tcase_add_test(tc, no_plaintext_on_disk);
	tcase_add_test(tc, damaged_file);
	tcase_add_test(tc, damage_in_operations);
	tcase_add_test(tc, writer_killed);
	tcase_add_test(tc, two_processes_alternate);
	tcase_add_test(tc, kept_open_survives_replace);
	tcase_add_test(tc, read_only_open);
	tcase_add_test(tc, planted_links);
	tcase_add_test(tc, lock_file_removed);
	tcase_add_test(tc, lock_file_header);
	tcase_add_test(tc, lock_file_wrong);
	tcase_add_test(tc, killed_holding_lock);
	tcase_add_test(tc, stamps);
	tcase_add_test(tc, missing_folder_comes_back);
	tcase_add_test(tc, key_files);
	tcase_add_test(tc, four_processes);
	tcase_add_test(tc, backends);
	tcase_add_test(tc, spec_check);
	tcase_add_test(tc, spec_paths);
	tcase_add_test(tc, store_questions);
	tcase_add_test(tc, backend_without_scan);
	tcase_add_test(tc, fetch_start_local);
	suite_add_tcase(s, tc);
	return check_run(s);
}
