/*
 * cache_gdbm.c - the GDBM backend: one file shared by every worker.
 *
 * GDBM's own locking does not wait (a busy file fails at once), so it is
 * off (GDBM_NOLOCK) and every operation runs under flock() on a lock file
 * beside the database: shared to read, exclusive to write.  The database
 * is opened for each operation and closed after it, so a store is on disk
 * (write-through) and visible to every process at once.  GDBM_NOMMAP: a
 * writer's close then costs one fsync instead of an msync of the map (see
 * OPENSSL-NOTES.md: ~24 us a store on tmpfs).
 *
 * The lock file also holds two numbers shared by all processes: the record
 * count (kept under the exclusive lock) and the time of the last purge,
 * which lets exactly one process claim each purge.
 *
 * Damage: a file GDBM cannot read is recovered with gdbm_recover() or, if
 * that fails, created anew, under the exclusive lock.  A folder or file we
 * may not use is logged (once a minute) and costs a miss; every operation
 * tries again, so the cache comes back by itself.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gdbm.h>

#include "cache_int.h"

#define META_MAGIC 0x63616368u /* "cach" */

struct gdbm_state {
	char *lockpath;
	int   lockfd;
	int   block_size;
};

struct meta {
	uint32_t magic;
	uint32_t pad;
	int64_t  count;
	int64_t  last_purge;
};

static struct gdbm_state *
G(struct cache *c)
{
	return c->be_data;
}

static int
open_lockfile(struct cache *c)
{
	struct gdbm_state *g = G(c);

	if (g->lockfd >= 0)
		return 0;
	g->lockfd = open(g->lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (g->lockfd < 0) {
		cache_log(c, errno, "session cache lock '%s': %s", g->lockpath,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
lock(struct cache *c, int how)
{
	if (open_lockfile(c) != 0)
		return -1;
	while (flock(G(c)->lockfd, how) != 0) {
		if (errno != EINTR) {
			cache_log(c, errno, "session cache flock: %s",
			    strerror(errno));
			return -1;
		}
	}
	return 0;
}

static void
unlock(struct cache *c)
{
	flock(G(c)->lockfd, LOCK_UN);
}

static void
meta_read(struct cache *c, struct meta *m)
{
	if (pread(G(c)->lockfd, m, sizeof *m, 0) != (ssize_t)sizeof *m ||
	    m->magic != META_MAGIC) {
		memset(m, 0, sizeof *m);
		m->magic = META_MAGIC;
	}
}

static void
meta_write(struct cache *c, const struct meta *m)
{
	(void)!pwrite(G(c)->lockfd, m, sizeof *m, 0);
}

static int
damaged(int e)
{
	switch (e) {
	case GDBM_BAD_MAGIC_NUMBER:
	case GDBM_EMPTY_DATABASE:
	case GDBM_FILE_EOF:
	case GDBM_FILE_READ_ERROR:
	case GDBM_BAD_FILE_OFFSET:
	case GDBM_BYTE_SWAPPED:
	case GDBM_MALFORMED_DATA:
	case GDBM_NEED_RECOVERY:
	case GDBM_DIR_OVERFLOW:
	case GDBM_BAD_BUCKET:
	case GDBM_BAD_HEADER:
	case GDBM_BAD_AVAIL:
	case GDBM_BAD_HASH_TABLE:
	case GDBM_BAD_DIR_ENTRY:
	case GDBM_BUCKET_CACHE_CORRUPTED:
	case GDBM_BAD_HASH_ENTRY:
	case GDBM_BLOCK_SIZE_ERROR:
		return 1;
	default:
		return 0;
	}
}

static GDBM_FILE
raw_open(struct cache *c, int mode)
{
	GDBM_FILE db = gdbm_open(c->path, G(c)->block_size, mode |
	    GDBM_NOLOCK | (c->o.use_mmap ? 0 : GDBM_NOMMAP) | GDBM_CLOEXEC,
	    0600, NULL);

	if (db != NULL && c->o.cache_size > 0) {
		size_t n = (size_t)c->o.cache_size;
		gdbm_setopt(db, GDBM_SETCACHESIZE, &n, sizeof n);
	}
	return db;
}

/* Under the exclusive lock: make the file usable again. */
static void
repair(struct cache *c, int why)
{
	struct meta m;
	GDBM_FILE db;

	db = raw_open(c, GDBM_WRITER);
	if (db != NULL) {
		if (gdbm_recover(db, NULL, GDBM_RCVR_FORCE) == 0) {
			gdbm_close(db);
			cache_log(c, 0, "session cache '%s' was damaged (%s): "
			    "recovered", c->path, gdbm_strerror(why));
			return;
		}
		gdbm_close(db);
	}
	/* Beyond recovery: start afresh (sessions are only a cache).  The
	 * file is truncated in place: that needs no right on the folder. */
	db = raw_open(c, GDBM_NEWDB);
	if (db == NULL) {
		cache_log(c, errno, "session cache '%s' is damaged (%s) and "
		    "cannot be recreated: %s", c->path, gdbm_strerror(why),
		    gdbm_strerror(gdbm_errno));
		return;
	}
	gdbm_close(db);
	meta_read(c, &m);
	m.count = 0;
	meta_write(c, &m);
	cache_log(c, 0, "session cache '%s' was damaged (%s): recreated",
	    c->path, gdbm_strerror(why));
}

/*
 * Open the database; the caller holds the lock (exclusive when writing).
 * *absent is set when a reader finds no file (a miss, not an error).
 * On damage seen under a shared lock, the lock is upgraded to repair and
 * NULL returned: this one operation misses, the next one works.
 */
static GDBM_FILE
db_open(struct cache *c, int writer, int *absent)
{
	GDBM_FILE db;
	int e, se;

	*absent = 0;
	db = raw_open(c, writer ? GDBM_WRCREAT : GDBM_READER);
	if (db != NULL)
		return db;
	e = gdbm_errno;
	se = errno;
	if (!writer && e == GDBM_FILE_OPEN_ERROR && se == ENOENT) {
		*absent = 1;
		return NULL;
	}
	if (!damaged(e)) {
		cache_log(c, se, "session cache '%s': %s (%s)", c->path,
		    gdbm_strerror(e), strerror(se));
		return NULL;
	}
	if (!writer) {
		unlock(c);
		if (lock(c, LOCK_EX) != 0)
			return NULL;
	}
	repair(c, e);
	if (!writer) {
		unlock(c);
		lock(c, LOCK_SH);
		return NULL;
	}
	return raw_open(c, GDBM_WRCREAT);
}

/* After a failed operation on an open file: recover it if GDBM says so. */
static void
after_error(struct cache *c, GDBM_FILE db)
{
	int e = gdbm_last_errno(db);

	if (gdbm_needs_recovery(db) || damaged(e))
		cache_log(c, 0, "session cache '%s': %s; will repair", c->path,
		    gdbm_strerror(e));
	else if (e != GDBM_ITEM_NOT_FOUND)
		cache_log(c, errno, "session cache '%s': %s", c->path,
		    gdbm_strerror(e));
}

/* ---------------------------------------------------------- operations */

static int
g_prepare(struct cache *c, char *err, size_t errlen)
{
	struct gdbm_state *g = calloc(1, sizeof *g);
	GDBM_FILE db;
	int fd;

	if (g == NULL)
		abort();
	c->be_data = g;
	g->lockfd = -1;
	g->block_size = c->o.block_size > 0 ? c->o.block_size : 4096;
	if (asprintf(&g->lockpath, "%s.lock", c->path) < 0)
		abort();
	err[0] = '\0';
	/* Create both files now, owned by the worker user, mode 0600.
	 * Failing here is not fatal: workers retry and log. */
	fd = open(g->lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "session cache lock '%s': %s; serving "
		    "full handshakes until it can be created", g->lockpath,
		    strerror(errno));
		return 0;
	}
	if (c->o.uid != (uid_t)-1)
		(void)!fchown(fd, c->o.uid, c->o.gid);
	fchmod(fd, 0600);
	if (flock(fd, LOCK_EX) == 0) {
		db = raw_open(c, GDBM_WRCREAT);
		if (db == NULL && damaged(gdbm_errno)) {
			g->lockfd = fd;
			repair(c, gdbm_errno);
			g->lockfd = -1;
			db = raw_open(c, GDBM_WRCREAT);
		}
		if (db != NULL)
			gdbm_close(db);
		else
			snprintf(err, errlen, "session cache '%s': %s", c->path,
			    gdbm_strerror(gdbm_errno));
		if (c->o.uid != (uid_t)-1)
			(void)!chown(c->path, c->o.uid, c->o.gid);
		chmod(c->path, 0600);
		flock(fd, LOCK_UN);
	}
	close(fd);
	return 0;
}

static int
g_attach(struct cache *c)
{
	struct gdbm_state *g = G(c);

	/* An inherited descriptor shares one open file description with the
	 * master and every sibling: flock() on it excludes nobody. */
	if (g->lockfd >= 0)
		close(g->lockfd);
	g->lockfd = -1;
	return open_lockfile(c);
}

static int
g_put(struct cache *c, const unsigned char *k, size_t kl,
    const unsigned char *v, size_t vl)
{
	datum key = { (char *)k, (int)kl }, val = { (char *)v, (int)vl };
	struct meta m;
	GDBM_FILE db;
	int absent, r, ret = -1;

	if (lock(c, LOCK_EX) != 0)
		return -1;
	if ((db = db_open(c, 1, &absent)) == NULL)
		goto out;
	meta_read(c, &m);
	if (m.count >= c->o.max_entries && !gdbm_exists(db, key)) {
		gdbm_close(db);
		ret = 1;        /* full: a purge may make room */
		goto out;
	}
	r = gdbm_store(db, key, val, GDBM_INSERT);
	if (r == 1) {           /* known: replace, count unchanged */
		r = gdbm_store(db, key, val, GDBM_REPLACE);
	} else if (r == 0) {
		m.count++;
		meta_write(c, &m);
	}
	if (r != 0)
		after_error(c, db);
	ret = r == 0 ? 0 : -1;
	gdbm_close(db);
out:
	unlock(c);
	return ret;
}

static int
g_get(struct cache *c, const unsigned char *k, size_t kl, unsigned char **v,
    size_t *vl)
{
	datum key = { (char *)k, (int)kl }, val;
	GDBM_FILE db;
	int absent, ret = 0;

	if (lock(c, LOCK_SH) != 0)
		return -1;
	if ((db = db_open(c, 0, &absent)) == NULL) {
		unlock(c);
		return absent ? 0 : -1;
	}
	val = gdbm_fetch(db, key);
	if (val.dptr != NULL) {
		*v = (unsigned char *)val.dptr;
		*vl = (size_t)val.dsize;
		ret = 1;
	} else if (gdbm_errno != GDBM_ITEM_NOT_FOUND) {
		after_error(c, db);
		ret = -1;
	}
	gdbm_close(db);
	unlock(c);
	return ret;
}

static int
g_del(struct cache *c, const struct cache_key *keys, size_t n,
    size_t *removed)
{
	struct meta m;
	GDBM_FILE db;
	size_t i;
	int absent, ret = 0;

	*removed = 0;
	if (lock(c, LOCK_EX) != 0)
		return -1;
	if ((db = db_open(c, 1, &absent)) == NULL) {
		unlock(c);
		return -1;
	}
	for (i = 0; i < n; i++) {
		datum key = { (char *)keys[i].k, (int)keys[i].kl };
		if (gdbm_delete(db, key) == 0)
			(*removed)++;
		else if (gdbm_last_errno(db) != GDBM_ITEM_NOT_FOUND) {
			after_error(c, db);
			ret = -1;
			break;
		}
	}
	gdbm_close(db);
	if (*removed > 0) {
		meta_read(c, &m);
		m.count = m.count > (int64_t)*removed ?
		    m.count - (int64_t)*removed : 0;
		meta_write(c, &m);
	}
	unlock(c);
	return ret;
}

static void
set_cursor(struct cache *c, datum k)
{
	free(c->pg_cursor);
	c->pg_cursor = (unsigned char *)k.dptr;    /* take ownership */
	c->pg_cursor_len = (size_t)k.dsize;
}

static int
g_scan(struct cache *c, size_t max, cache_mark_fn fn, void *arg)
{
	GDBM_FILE db;
	datum k;
	size_t seen = 0;
	int absent;

	if (lock(c, LOCK_SH) != 0)
		return -1;
	if ((db = db_open(c, 0, &absent)) == NULL) {
		unlock(c);
		return absent ? 0 : -1;
	}
	if (c->pg_cursor != NULL) {
		datum cur = { (char *)c->pg_cursor, (int)c->pg_cursor_len };
		if (gdbm_exists(db, cur)) {
			k = gdbm_nextkey(db, cur);
		} else if (++c->pg_restarts <= 3) {
			k = gdbm_firstkey(db);  /* cursor deleted: start over */
		} else {
			k.dptr = NULL;
		}
	} else {
		k = gdbm_firstkey(db);
	}
	while (k.dptr != NULL && seen < max) {
		datum v = gdbm_fetch(db, k);
		seen++;
		if (v.dptr != NULL) {
			if (fn((unsigned char *)k.dptr, (size_t)k.dsize,
			    (unsigned char *)v.dptr, (size_t)v.dsize, arg) == 1)
				cache_keep_dead(c, (unsigned char *)k.dptr,
				    (size_t)k.dsize);
			free(v.dptr);
		}
		if (seen == max) {
			set_cursor(c, k);
			break;
		}
		{
			datum next = gdbm_nextkey(db, k);
			free(k.dptr);
			k = next;
		}
	}
	gdbm_close(db);
	unlock(c);
	return k.dptr != NULL ? 1 : 0;
}

static int
g_clear(struct cache *c)
{
	struct meta m;
	GDBM_FILE db;

	if (lock(c, LOCK_EX) != 0)
		return -1;
	db = raw_open(c, GDBM_NEWDB);
	if (db == NULL) {
		unlock(c);
		return -1;
	}
	gdbm_close(db);
	meta_read(c, &m);
	m.count = 0;
	meta_write(c, &m);
	unlock(c);
	return 0;
}

static int
g_meta(struct cache *c, long *count, time_t *last_purge, int set_count,
    long count_value, time_t claim_now, long interval, long max_entries)
{
	struct meta m;
	int ret = 0;

	if (lock(c, set_count || claim_now ? LOCK_EX : LOCK_SH) != 0)
		return -1;
	meta_read(c, &m);
	if (set_count) {
		m.count = count_value;
		meta_write(c, &m);
	}
	if (claim_now != 0) {
		time_t since = claim_now - (time_t)m.last_purge;
		if (since >= interval || (m.count >= max_entries && since >= 1)) {
			m.last_purge = claim_now;
			meta_write(c, &m);
			ret = 1;
		}
	}
	if (count != NULL)
		*count = (long)m.count;
	if (last_purge != NULL)
		*last_purge = (time_t)m.last_purge;
	unlock(c);
	return ret;
}

static void
g_close(struct cache *c)
{
	struct gdbm_state *g = G(c);

	if (g == NULL)
		return;
	if (g->lockfd >= 0)
		close(g->lockfd);
	free(g->lockpath);
	free(g);
	c->be_data = NULL;
}

const struct cache_backend cache_backend_gdbm = {
	.name = "gdbm",
	.stores = 1,
	.prepare = g_prepare,
	.attach = g_attach,
	.put = g_put,
	.get = g_get,
	.del = g_del,
	.scan = g_scan,
	.clear = g_clear,
	.meta = g_meta,
	.close = g_close,
};
