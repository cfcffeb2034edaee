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
 * Invariants:
 * - A lock is only trusted on the file that is at the lock path now: after
 *   flock() the descriptor is compared with the path (device, inode, link
 *   count) and, if the file was removed or replaced, reopened and locked
 *   again.  Processes that lock different inodes exclude nobody.
 * - Files are opened with O_NOFOLLOW, created with O_EXCL, and refused
 *   when they are not regular, have other hard links or belong to someone
 *   else than root, the worker user or us.  Owner and mode are changed on
 *   the descriptor that was checked, never by path: the master runs as
 *   root in a folder that may be world-writable.
 * - The lock file is a header of numbers shared by all processes (struct
 *   meta, META_SIZE bytes), mapped MAP_SHARED by each process and read and
 *   written in memory under the lock, so an operation costs no system call
 *   for them: the exact record count (changed at each insert and removal,
 *   recounted with gdbm_count() when unknown), the last purge (so one
 *   process claims each purge), totals of repairs and evictions, and a
 *   dirty mark that a writer sets while it is inside the database.  A
 *   store to the map is in the shared page at once: seen by the next
 *   holder of the lock, and left there by a process SIGKILLed meanwhile.
 *   No msync: the numbers are not durable across a power loss or a crash
 *   of the host, which is fine since the lock file can be recreated (a
 *   fresh header means "count unknown": the next writer recounts).
 * - The map is made only over a file at least META_SIZE long, checked on
 *   the fstat that every lock already does, so a map never reaches past
 *   the end of the file (no SIGBUS).  The lock file only grows: it is
 *   extended to META_SIZE (ftruncate) when its header is (re)initialised,
 *   and nothing here ever shrinks it.  A header of the wrong size or
 *   content (an older format, junk) gives fresh numbers under a shared
 *   lock and is re-initialised under the exclusive lock.  A lock file
 *   reopened because it was removed or replaced is mapped again.
 * - Damage is repaired under the exclusive lock, once, by the first
 *   process that sees it: a GDBM error that says the file is bad, on open
 *   or in the middle of a store, fetch, delete or scan, or a dirty mark
 *   left by a writer that died.  The repair count doubles as a generation:
 *   a process that saw damage and then finds the count moved knows another
 *   one repaired the file already.  Repair is gdbm_recover() (keeps the
 *   readable records; needs the right to create a file in the folder) or,
 *   failing that, a new empty database truncated in place.  The operation
 *   that saw the damage is tried once more, then misses: a full handshake.
 * - At max-entries a store evicts to make room: of a sample of records
 *   (EVICT_SAMPLE, taken round the file from where the last sample
 *   ended), the expired ones go, or else the oldest.  The count never
 *   exceeds max-entries.
 * - A read-only cache (the `cachet cache stats|list` tool) creates,
 *   chmods, marks and repairs nothing; damage is reported (log hook) and
 *   the operation fails.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gdbm.h>

#include "cache_int.h"

#define META_MAGIC   0x63616333u        /* "cac3": the layout below, mapped */
#define META_SIZE    64                 /* the lock file's size, at least */
#define LOCK_TRIES   8                  /* lock file replaced meanwhile */
#define EVICT_SAMPLE 16                 /* records looked at per eviction */
#define EVICT_ROUNDS 4                  /* samples per store, at most */

struct meta;

struct gdbm_state {
	char          *lockpath;
	int            lockfd;          /* -1: none (read-only, no file) */
	struct meta   *map;             /* lockfd's header, MAP_SHARED; NULL:
	                                 * not mapped (yet) */
	int            block_size;
	unsigned char *ev_cursor;       /* where the last sample ended */
	size_t         ev_cursor_len;
};

/* The lock file's header, mapped by every process; only read or written
 * under the lock. */
struct meta {
	uint32_t magic;
	uint32_t dirty;         /* a writer is in the database: seen by the
	                         * next holder of the lock, it died there */
	int64_t  count;         /* records; -1: unknown, recount */
	int64_t  last_purge;
	uint64_t repairs;       /* total; also the repair generation */
	uint64_t evictions;     /* total */
	int64_t  full_since;    /* max-entries met (logged); 0: not full */
};
_Static_assert(sizeof(struct meta) <= META_SIZE, "META_SIZE too small");

/* One operation's hold on the store: the lock and the numbers under it:
 * the shared header, or (no usable header) this process's own fresh
 * numbers, dropped at the end. */
struct hold {
	int          how;       /* LOCK_SH, LOCK_EX, 0: lost */
	struct meta *m;
	struct meta  own;
};

static struct gdbm_state *
G(struct cache *c)
{
	return c->be_data;
}

/* ------------------------------------------------------------- files */

/* Why a file found at one of our paths must not be used, or NULL. */
static const char *
refused(const struct cache *c, const struct stat *st)
{
	if (!S_ISREG(st->st_mode))
		return "is not a regular file";
	if (st->st_nlink > 1)
		return "has other hard links";
	if (st->st_uid != 0 && st->st_uid != geteuid() &&
	    (c->o.uid == (uid_t)-1 || st->st_uid != c->o.uid))
		return "is owned by another user";
	return NULL;
}

/*
 * Open path without following a symbolic link; with create, make it if
 * absent (O_EXCL: never adopt what appeared meanwhile).  A writable open
 * gives the file to opts.uid/gid and mode 0600 through the descriptor.
 * Returns the descriptor, -1 (errno) when it cannot be opened now, or -2
 * when the file is refused (*why says why).
 */
static int
safe_open(struct cache *c, const char *path, int rw, int create,
    const char **why)
{
	int flags = (rw ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK;         /* a planted FIFO must not block us */
	struct stat st;
	int fd = -1;

	*why = NULL;
	if (create)
		fd = open(path, flags | O_CREAT | O_EXCL, 0600);
	if (fd < 0 && (!create || errno == EEXIST))
		fd = open(path, flags);
	if (fd < 0) {
		if (errno != ELOOP)
			return -1;
		*why = "is a symbolic link";
		return -2;
	}
	if (fstat(fd, &st) != 0) {
		close(fd);
		return -1;
	}
	if ((*why = refused(c, &st)) != NULL) {
		close(fd);
		return -2;
	}
	if (rw && c->o.uid != (uid_t)-1 &&
	    (st.st_uid != c->o.uid || st.st_gid != c->o.gid))
		(void)!fchown(fd, c->o.uid, c->o.gid);
	if (rw && (st.st_mode & 07777) != 0600)
		(void)!fchmod(fd, 0600);
	return fd;
}

static int
open_lockfile(struct cache *c)
{
	struct gdbm_state *g = G(c);
	const char *why;
	int rw = !c->o.read_only;

	if (g->lockfd >= 0)
		return 0;
	g->lockfd = safe_open(c, g->lockpath, rw, rw, &why);
	if (g->lockfd >= 0)
		return 0;
	if (!rw && why == NULL && errno == ENOENT)
		return 0;       /* nobody locks it: look without a lock */
	cache_log(c, CACHE_LOG_IO, errno, "session cache lock '%s': %s",
	    g->lockpath, why != NULL ? why : strerror(errno));
	return -1;
}

static void
close_lockfile(struct cache *c)
{
	struct gdbm_state *g = G(c);

	if (g->map != NULL)
		munmap(g->map, META_SIZE);
	g->map = NULL;
	if (g->lockfd >= 0)
		close(g->lockfd);
	g->lockfd = -1;
}

/* Is the locked descriptor still the file at the lock path?  *st: its
 * status, taken under the lock. */
static int
lock_current(struct cache *c, struct stat *st)
{
	struct stat b;

	if (fstat(G(c)->lockfd, st) != 0 || st->st_nlink == 0 ||
	    lstat(G(c)->lockpath, &b) != 0)
		return 0;
	return st->st_dev == b.st_dev && st->st_ino == b.st_ino;
}

/* Map the lock file's header: only ever over a file at least META_SIZE
 * long (the caller checked, under the lock). */
static int
map_lockfile(struct cache *c)
{
	struct gdbm_state *g = G(c);
	void *p = mmap(NULL, META_SIZE, PROT_READ |
	    (c->o.read_only ? 0 : PROT_WRITE), MAP_SHARED, g->lockfd, 0);

	if (p == MAP_FAILED) {
		cache_log(c, CACHE_LOG_IO, errno, "session cache lock '%s': "
		    "mmap: %s; no shared record count or crash mark meanwhile",
		    g->lockpath, strerror(errno));
		return -1;
	}
	g->map = p;
	return 0;
}

static void
meta_fresh(struct meta *m)
{
	memset(m, 0, sizeof *m);
	m->magic = META_MAGIC;
	m->count = -1;
}

/*
 * Under the lock (st: the lock file's status then, NULL when there is no
 * lock file): point h->m at the shared header if it holds our numbers.
 * Else, under the exclusive lock, (re)initialise it: a new lock file, an
 * older format, junk; the file is extended to META_SIZE, never shrunk,
 * so every process's map stays inside it.  Otherwise (a shared lock, a
 * read-only cache, a map that cannot be made) h->m is fresh numbers of
 * our own, count unknown, dropped at the end of the operation.
 */
static void
meta_get(struct cache *c, const struct stat *st, int how, struct hold *h)
{
	struct gdbm_state *g = G(c);
	struct meta *m;

	meta_fresh(&h->own);
	h->m = &h->own;
	if (st == NULL || g->lockfd < 0)
		return;
	if (g->map != NULL && st->st_size < META_SIZE) {
		/* Shrunk behind our back (not by us): never touch it. */
		munmap(g->map, META_SIZE);
		g->map = NULL;
	}
	if (g->map == NULL && st->st_size >= META_SIZE)
		(void)map_lockfile(c);
	m = g->map;
	if (m != NULL && m->magic == META_MAGIC && m->dirty <= 1 &&
	    m->count >= -1) {
		h->m = m;
		return;
	}
	if (how != LOCK_EX || c->o.read_only)
		return;
	if (m == NULL) {
		if (st->st_size < META_SIZE &&
		    ftruncate(g->lockfd, META_SIZE) != 0) {
			cache_log(c, CACHE_LOG_IO, errno, "session cache lock "
			    "'%s': %s", g->lockpath, strerror(errno));
			return;
		}
		if (map_lockfile(c) != 0)
			return;
		m = g->map;
	}
	memset(m, 0, META_SIZE);
	*m = h->own;
	h->m = m;
}

/* Take the lock, on the file at the lock path now, and its numbers. */
static int
lock(struct cache *c, int how, struct hold *h)
{
	struct gdbm_state *g = G(c);
	struct stat st;
	int i;

	for (i = 0; i < LOCK_TRIES; i++) {
		if (open_lockfile(c) != 0)
			return -1;
		if (g->lockfd < 0) {
			meta_get(c, NULL, how, h);
			return 0;
		}
		while (flock(g->lockfd, how) != 0) {
			if (errno != EINTR) {
				cache_log(c, CACHE_LOG_IO, errno, "session cache "
				    "flock '%s': %s", g->lockpath,
				    strerror(errno));
				return -1;
			}
		}
		if (lock_current(c, &st)) {
			meta_get(c, &st, how, h);
			return 0;
		}
		/* Removed or replaced: lock what is there now (or a new
		 * one), not the orphan; map it afresh. */
		close_lockfile(c);
	}
	cache_log(c, CACHE_LOG_IO, 0, "session cache lock '%s' keeps being "
	    "replaced", g->lockpath);
	return -1;
}

static void
unlock(struct cache *c)
{
	if (G(c)->lockfd >= 0)
		flock(G(c)->lockfd, LOCK_UN);
}

/* The write-in-progress mark: a plain store into the shared page, kept
 * in program order with the database writes around it. */
static void
mark_dirty(struct meta *m, uint32_t v)
{
	__atomic_store_n(&m->dirty, v, __ATOMIC_SEQ_CST);
}

/* ---------------------------------------------------------- database */

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

/* The error of a failed call on db: 0 for "no such key" (no error). */
static int
db_error(GDBM_FILE db)
{
	int e = gdbm_last_errno(db);

	if (gdbm_needs_recovery(db))
		return GDBM_NEED_RECOVERY;
	return e == GDBM_ITEM_NOT_FOUND ? GDBM_NO_ERROR : e;
}

/*
 * Open the database through a checked descriptor.  NULL on failure, with
 * *e the GDBM error (GDBM_FILE_OPEN_ERROR and *se the errno when the file
 * could not be opened, or was refused: then logged here).
 */
static GDBM_FILE
db_open(struct cache *c, int mode, int *e, int *se)
{
	int writer = mode != GDBM_READER;
	const char *why;
	GDBM_FILE db;
	int fd;

	*e = GDBM_NO_ERROR;
	*se = 0;
	fd = safe_open(c, c->path, writer, writer && mode != GDBM_WRITER,
	    &why);
	if (fd < 0) {
		*e = GDBM_FILE_OPEN_ERROR;
		*se = fd == -2 ? EPERM : errno;
		if (fd == -2)
			cache_log(c, CACHE_LOG_IO, 0, "session cache '%s' %s: "
			    "refusing to use it", c->path, why);
		return NULL;
	}
	db = gdbm_fd_open(fd, c->path, G(c)->block_size, mode | GDBM_NOLOCK |
	    (c->o.use_mmap ? 0 : GDBM_NOMMAP) | GDBM_CLOEXEC |
	    GDBM_CLOERROR, NULL);
	if (db == NULL) {
		*e = gdbm_errno;
		*se = errno;
		return NULL;
	}
	if (c->o.cache_size > 0) {
		size_t n = (size_t)c->o.cache_size;
		gdbm_setopt(db, GDBM_SETCACHESIZE, &n, sizeof n);
	}
	return db;
}

/* An open failure that is not damage: unreachable (logged, a miss). */
static void
log_open_failure(struct cache *c, int e, int se)
{
	if (se == EPERM && e == GDBM_FILE_OPEN_ERROR)
		return;         /* refused: db_open said why */
	cache_log(c, CACHE_LOG_IO, se, "session cache '%s': %s (%s)", c->path,
	    gdbm_strerror(e), strerror(se));
}

/* Under the exclusive lock: make the file usable again, and say so. */
static void
repair(struct cache *c, struct meta *m, const char *why)
{
	gdbm_count_t n = 0;
	const char *how = "recovered";
	GDBM_FILE db;
	int e, se;

	db = db_open(c, GDBM_WRITER, &e, &se);
	if (db == NULL || gdbm_recover(db, NULL, GDBM_RCVR_FORCE) != 0 ||
	    gdbm_count(db, &n) != 0) {
		if (db != NULL)
			gdbm_close(db);
		/* Beyond recovery, or no right to create the copy that
		 * recovery renames into place: start afresh, truncated in
		 * place (sessions are only a cache). */
		db = db_open(c, GDBM_NEWDB, &e, &se);
		if (db == NULL) {
			cache_log(c, CACHE_LOG_REPAIR, se, "session cache '%s' "
			    "is damaged (%s) and cannot be recreated: %s",
			    c->path, why, gdbm_strerror(e));
			return;
		}
		n = 0;
		how = "recreated";
	}
	gdbm_close(db);
	if (strcmp(how, "recovered") == 0) {
		/* Recovery renamed a new file into place: owner, mode. */
		const char *w;
		int fd = safe_open(c, c->path, 1, 0, &w);
		if (fd >= 0)
			close(fd);
	}
	m->count = (int64_t)n;
	mark_dirty(m, 0);
	m->repairs++;
	m->full_since = 0;
	c->st->repairs++;
	cache_log(c, CACHE_LOG_REPAIR, 0, "session cache '%s' was damaged (%s):"
	    " %s, %llu record(s) kept; full handshakes meanwhile", c->path,
	    why, how, (unsigned long long)n);
}

/*
 * Damage seen while holding h: repair it under the exclusive lock unless
 * another process did since h's numbers were read.  Leaves the exclusive
 * lock held (h->how says what is held) and h->m fresh.
 */
static void
fix_damage(struct cache *c, struct hold *h, const char *why)
{
	uint64_t gen = h->m->repairs;

	if (c->o.read_only) {
		cache_log(c, CACHE_LOG_DAMAGE, 0, "session cache '%s' cannot "
		    "be read (%s): damaged, or not a session cache; not "
		    "repaired here (cachetd repairs a damaged cache when it "
		    "next uses it; `cachet cache clear` empties it)", c->path,
		    why);
		return;
	}
	if (h->how != LOCK_EX) {
		unlock(c);
		h->how = 0;
		if (lock(c, LOCK_EX, h) != 0)
			return;
		h->how = LOCK_EX;
		if (h->m->repairs != gen && !h->m->dirty)
			return;         /* another process repaired it */
	}
	repair(c, h->m, why);
}

/* Take the lock and the shared numbers; a writer marks the file dirty
 * until end().  A dirty mark found here was left by a writer that died
 * inside the database: repaired before anyone reads the file. */
static int
begin(struct cache *c, int how, struct hold *h)
{
	h->how = 0;
	if (lock(c, how, h) != 0)
		return -1;
	h->how = how;
	if (h->m->dirty) {
		fix_damage(c, h, "a process died while writing it");
		if (c->o.read_only || h->how == 0) {
			unlock(c);
			return -1;
		}
	}
	if (h->how == LOCK_EX && !c->o.read_only)
		mark_dirty(h->m, 1);
	return 0;
}

static void
end(struct cache *c, struct hold *h)
{
	if (h->how == LOCK_EX && !c->o.read_only)
		mark_dirty(h->m, 0);
	if (h->how != 0)
		unlock(c);
}

/* Open for writing under h; recount when the count is unknown. */
static GDBM_FILE
writer_open(struct cache *c, struct hold *h, int mode, int *e, int *se)
{
	GDBM_FILE db = db_open(c, mode, e, se);
	gdbm_count_t n;

	if (db == NULL || h->m->count >= 0)
		return db;
	if (gdbm_count(db, &n) != 0) {
		*e = db_error(db);
		gdbm_close(db);
		return NULL;
	}
	h->m->count = (int64_t)n;
	return db;
}

/* ----------------------------------------------------------- eviction */

static void
set_ev_cursor(struct cache *c, datum k)
{
	struct gdbm_state *g = G(c);

	free(g->ev_cursor);
	g->ev_cursor = NULL;
	g->ev_cursor_len = 0;
	if (k.dptr != NULL && (g->ev_cursor = malloc((size_t)k.dsize)) != NULL) {
		memcpy(g->ev_cursor, k.dptr, (size_t)k.dsize);
		g->ev_cursor_len = (size_t)k.dsize;
	}
}

/* Collect up to EVICT_SAMPLE keys, going on from the last sample and
 * round the file at most once.  Returns how many, or -1 on damage. */
static int
sample_keys(struct cache *c, GDBM_FILE db, datum *keys)
{
	struct gdbm_state *g = G(c);
	datum k = { NULL, 0 };
	int n = 0, wrapped = 0;

	if (g->ev_cursor != NULL) {
		datum cur = { (char *)g->ev_cursor, (int)g->ev_cursor_len };
		k = gdbm_nextkey(db, cur);      /* gone: start over */
	}
	if (k.dptr == NULL) {
		k = gdbm_firstkey(db);
		wrapped = 1;
	}
	while (k.dptr != NULL && n < EVICT_SAMPLE) {
		keys[n++] = k;
		k = gdbm_nextkey(db, k);
		if (k.dptr == NULL && db_error(db) == GDBM_NO_ERROR &&
		    !wrapped) {
			k = gdbm_firstkey(db);
			wrapped = 1;
		}
		if (k.dptr != NULL && wrapped && k.dsize == keys[0].dsize &&
		    memcmp(k.dptr, keys[0].dptr, (size_t)k.dsize) == 0) {
			free(k.dptr);   /* round the whole file */
			k.dptr = NULL;
			break;
		}
	}
	free(k.dptr);
	if (k.dptr == NULL && db_error(db) != GDBM_NO_ERROR) {
		while (n > 0)
			free(keys[--n].dptr);
		return -1;
	}
	return n;
}

/* Make room for one record: of a sample, remove the expired records or
 * else the oldest.  Returns how many were removed, -1 on damage. */
static int
evict(struct cache *c, GDBM_FILE db, struct meta *m)
{
	datum keys[EVICT_SAMPLE];
	char dead[EVICT_SAMPLE];
	time_t created, expires, oldest_t = 0, now = time(NULL);
	int n, i, oldest = -1, ndead = 0, removed = 0, last = -1, bad = 0;

	if ((n = sample_keys(c, db, keys)) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		datum v = gdbm_fetch(db, keys[i]);
		dead[i] = 0;
		if (v.dptr == NULL) {
			if (db_error(db) != GDBM_NO_ERROR)
				bad = 1;
			continue;
		}
		if (cache_rec_times((unsigned char *)v.dptr, (size_t)v.dsize,
		    &created, &expires) != 0 || expires <= now) {
			dead[i] = 1;
			ndead++;
		} else if (oldest < 0 || created < oldest_t) {
			oldest = i;
			oldest_t = created;
		}
		free(v.dptr);
	}
	if (!bad && ndead == 0 && oldest >= 0)
		dead[oldest] = 2;
	for (i = 0; i < n && !bad; i++) {
		if (dead[i] == 0) {
			last = i;
			continue;
		}
		if (gdbm_delete(db, keys[i]) != 0) {
			if (db_error(db) != GDBM_NO_ERROR)
				bad = 1;
			continue;
		}
		removed++;
		m->count--;
		if (dead[i] == 2) {
			m->evictions++;
			c->st->evictions++;
		} else {
			c->st->expired++;
		}
	}
	if (last >= 0)
		set_ev_cursor(c, keys[last]);
	for (i = 0; i < n; i++)
		free(keys[i].dptr);
	return bad ? -1 : removed;
}

/* ---------------------------------------------------------- operations */

static int
g_prepare(struct cache *c, char *err, size_t errlen)
{
	struct gdbm_state *g = calloc(1, sizeof *g);
	struct hold h;
	const char *why;
	GDBM_FILE db;
	int fd, e, se;

	if (g == NULL)
		abort();
	c->be_data = g;
	g->lockfd = -1;
	g->block_size = c->o.block_size > 0 ? c->o.block_size : 4096;
	if (asprintf(&g->lockpath, "%s.lock", c->path) < 0)
		abort();
	err[0] = '\0';
	if (c->o.read_only)
		return 0;       /* look at what is there, change nothing */
	/* Create both files now, owned by the worker user, mode 0600.  A
	 * file we must not trust stops us; one we cannot reach yet does not
	 * (workers retry and log). */
	fd = safe_open(c, g->lockpath, 1, 1, &why);
	if (fd == -2) {
		snprintf(err, errlen, "session cache lock '%s' %s: refusing to "
		    "use it", g->lockpath, why);
		return -1;
	}
	if (fd < 0) {
		snprintf(err, errlen, "session cache lock '%s': %s; serving "
		    "full handshakes until it can be created", g->lockpath,
		    strerror(errno));
		return 0;
	}
	g->lockfd = fd;
	fd = safe_open(c, c->path, 1, 1, &why);
	if (fd == -2) {
		snprintf(err, errlen, "session cache '%s' %s: refusing to use "
		    "it", c->path, why);
		return -1;
	}
	if (fd >= 0)
		close(fd);
	/* The exclusive lock sizes a new lock file (ftruncate to META_SIZE)
	 * and writes its header, before any worker maps it. */
	if (begin(c, LOCK_EX, &h) == 0) {
		db = writer_open(c, &h, GDBM_WRCREAT, &e, &se);
		if (db == NULL && damaged(e)) {
			fix_damage(c, &h, gdbm_strerror(e));
			db = writer_open(c, &h, GDBM_WRCREAT, &e, &se);
		}
		if (db != NULL)
			gdbm_close(db);
		else
			snprintf(err, errlen, "session cache '%s': %s", c->path,
			    se != 0 ? strerror(se) : gdbm_strerror(e));
		end(c, &h);
	}
	close_lockfile(c);
	return 0;
}

static int
g_attach(struct cache *c)
{
	/* An inherited descriptor shares one open file description with the
	 * master and every sibling: flock() on it excludes nobody.  Its map
	 * goes with it; the first lock maps the file opened here. */
	close_lockfile(c);
	return open_lockfile(c);
}

/* The store itself, under the exclusive lock: 0 stored, 1 full, -1
 * error, -2 damage (GDBM error in *e). */
static int
put_locked(struct cache *c, GDBM_FILE db, struct meta *m, datum key,
    datum val, int *e)
{
	int i, r;

	if (gdbm_exists(db, key)) {
		r = gdbm_store(db, key, val, GDBM_REPLACE);
	} else {
		if ((*e = db_error(db)) != GDBM_NO_ERROR)
			return damaged(*e) ? -2 : -1;
		if (m->count >= c->o.max_entries && m->full_since == 0) {
			m->full_since = time(NULL);
			cache_log(c, CACHE_LOG_FULL, 0, "session cache '%s' is "
			    "full (%ld records): evicting the oldest to make "
			    "room", c->path, c->o.max_entries);
		}
		for (i = 0; i < EVICT_ROUNDS && m->count >= c->o.max_entries;
		    i++)
			if (evict(c, db, m) < 0) {
				*e = db_error(db);
				return -2;
			}
		if (m->count >= c->o.max_entries)
			return 1;
		if ((r = gdbm_store(db, key, val, GDBM_INSERT)) == 0)
			m->count++;
	}
	if (r != 0) {
		*e = db_error(db);
		return damaged(*e) ? -2 : -1;
	}
	if (m->full_since != 0 &&
	    m->count < c->o.max_entries - c->o.max_entries / 10)
		m->full_since = 0;
	return 0;
}

static int
g_put(struct cache *c, const unsigned char *k, size_t kl,
    const unsigned char *v, size_t vl)
{
	datum key = { (char *)k, (int)kl }, val = { (char *)v, (int)vl };
	struct hold h;
	GDBM_FILE db;
	int tries, e = 0, se, ret = -1;

	if (c->o.read_only || begin(c, LOCK_EX, &h) != 0)
		return -1;
	for (tries = 0; tries < 2 && h.how == LOCK_EX; tries++) {
		if ((db = writer_open(c, &h, GDBM_WRCREAT, &e, &se)) == NULL) {
			if (!damaged(e)) {
				log_open_failure(c, e, se);
				break;
			}
			fix_damage(c, &h, gdbm_strerror(e));
			continue;
		}
		ret = put_locked(c, db, h.m, key, val, &e);
		gdbm_close(db);
		if (ret != -2)
			break;
		ret = -1;
		fix_damage(c, &h, gdbm_strerror(e));
	}
	if (ret == -1 && e != GDBM_NO_ERROR && e != GDBM_FILE_OPEN_ERROR &&
	    !damaged(e))
		cache_log(c, CACHE_LOG_IO, 0, "session cache '%s': store: %s",
		    c->path, gdbm_strerror(e));
	end(c, &h);
	return ret;
}

static int
g_get(struct cache *c, const unsigned char *k, size_t kl, unsigned char **v,
    size_t *vl)
{
	datum key = { (char *)k, (int)kl }, val;
	struct hold h;
	GDBM_FILE db;
	int tries, e, se, ret = -1;

	if (begin(c, LOCK_SH, &h) != 0)
		return -1;
	for (tries = 0; tries < 2 && h.how != 0; tries++) {
		if ((db = db_open(c, GDBM_READER, &e, &se)) == NULL) {
			if (e == GDBM_FILE_OPEN_ERROR && se == ENOENT) {
				ret = 0;        /* no file yet: a miss */
				break;
			}
			if (!damaged(e)) {
				log_open_failure(c, e, se);
				break;
			}
			fix_damage(c, &h, gdbm_strerror(e));
		} else {
			val = gdbm_fetch(db, key);
			e = val.dptr == NULL ? db_error(db) : GDBM_NO_ERROR;
			gdbm_close(db);
			if (val.dptr != NULL) {
				*v = (unsigned char *)val.dptr;
				*vl = (size_t)val.dsize;
				ret = 1;
				break;
			}
			if (e == GDBM_NO_ERROR) {
				ret = 0;
				break;
			}
			if (!damaged(e)) {
				cache_log(c, CACHE_LOG_IO, 0, "session cache '%s':"
				    " fetch: %s", c->path, gdbm_strerror(e));
				break;
			}
			fix_damage(c, &h, gdbm_strerror(e));
		}
		if (c->o.read_only)
			break;
	}
	end(c, &h);
	return ret;
}

static int
g_del(struct cache *c, const struct cache_key *keys, size_t n,
    size_t *removed)
{
	struct hold h;
	GDBM_FILE db;
	size_t i;
	int e, se, ret = 0;

	*removed = 0;
	if (c->o.read_only || begin(c, LOCK_EX, &h) != 0)
		return -1;
	if ((db = writer_open(c, &h, GDBM_WRITER, &e, &se)) == NULL) {
		if (damaged(e))
			fix_damage(c, &h, gdbm_strerror(e));
		else if (!(e == GDBM_FILE_OPEN_ERROR && se == ENOENT))
			log_open_failure(c, e, se);
		end(c, &h);
		return e == GDBM_FILE_OPEN_ERROR && se == ENOENT ? 0 : -1;
	}
	for (i = 0; i < n; i++) {
		datum key = { (char *)keys[i].k, (int)keys[i].kl };
		if (gdbm_delete(db, key) == 0) {
			(*removed)++;
			h.m->count--;
		} else if ((e = db_error(db)) != GDBM_NO_ERROR) {
			ret = -1;
			break;
		}
	}
	gdbm_close(db);
	if (ret != 0 && damaged(e))
		fix_damage(c, &h, gdbm_strerror(e));
	else if (ret != 0)
		cache_log(c, CACHE_LOG_IO, 0, "session cache '%s': delete: %s",
		    c->path, gdbm_strerror(e));
	if (h.m->count < 0)
		h.m->count = -1;         /* unknown: the next writer recounts */
	end(c, &h);
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
	struct hold h;
	GDBM_FILE db;
	datum k;
	size_t seen = 0;
	int e, se;

	if (begin(c, LOCK_SH, &h) != 0)
		return -1;
	if ((db = db_open(c, GDBM_READER, &e, &se)) == NULL) {
		if (e == GDBM_FILE_OPEN_ERROR && se == ENOENT) {
			end(c, &h);
			return 0;
		}
		if (damaged(e))
			fix_damage(c, &h, gdbm_strerror(e));
		else
			log_open_failure(c, e, se);
		end(c, &h);
		return -1;
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
		} else if (db_error(db) != GDBM_NO_ERROR) {
			break;
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
	if ((e = db_error(db)) != GDBM_NO_ERROR) {
		if ((unsigned char *)k.dptr != c->pg_cursor)
			free(k.dptr);
		gdbm_close(db);
		if (damaged(e))
			fix_damage(c, &h, gdbm_strerror(e));
		else
			cache_log(c, CACHE_LOG_IO, 0, "session cache '%s': "
			    "scan: %s", c->path, gdbm_strerror(e));
		end(c, &h);
		return -1;
	}
	gdbm_close(db);
	end(c, &h);
	return k.dptr != NULL ? 1 : 0;
}

static int
g_clear(struct cache *c)
{
	struct hold h;
	GDBM_FILE db;
	int e, se;

	if (c->o.read_only || begin(c, LOCK_EX, &h) != 0)
		return -1;
	if ((db = db_open(c, GDBM_NEWDB, &e, &se)) == NULL) {
		log_open_failure(c, e, se);
		end(c, &h);
		return -1;
	}
	gdbm_close(db);
	h.m->count = 0;
	h.m->full_since = 0;
	end(c, &h);
	return 0;
}

static void
g_totals(struct cache *c, struct cache_info *info)
{
	struct hold h;

	if (lock(c, LOCK_SH, &h) != 0)
		return;
	info->repairs = h.m->repairs;
	info->evictions = h.m->evictions;
	unlock(c);
}

static int
g_purge_claim(struct cache *c, time_t now, long interval, long max_entries)
{
	struct hold h;
	time_t since;
	int ret = 0;

	if (c->o.read_only || lock(c, LOCK_EX, &h) != 0)
		return -1;
	since = now - (time_t)h.m->last_purge;
	if (since >= interval || (h.m->count >= max_entries && since >= 1)) {
		h.m->last_purge = now;
		ret = 1;
	}
	unlock(c);
	return ret;
}

static void
g_close(struct cache *c)
{
	struct gdbm_state *g = G(c);

	if (g == NULL)
		return;
	close_lockfile(c);
	free(g->ev_cursor);
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
	.totals = g_totals,
	.purge_claim = g_purge_claim,
	.close = g_close,
};
