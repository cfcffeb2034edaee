/*
 * cache_gdbm_db.c - the GDBM backend's database under the lock: opening
 * it through a checked descriptor, damage and its repair, the begin and
 * end of one operation (lock, numbers, write mark), and eviction at
 * max-entries.
 *
 * Each process keeps the database open between operations (gd_db_get):
 * an operation costs the lock, one stat() of the file and GDBM's reads
 * of one bucket and one record, not an open, a header and a directory.
 * GDBM caches the header, the directory and buckets in the process, so an
 * open database is only used while nothing else wrote the file since:
 * every writer and every repair bumps the generation in the lock file's
 * shared header under the exclusive lock, and an operation that finds it
 * moved, or finds another file at the path or the file changed by
 * someone outside the lock (device, inode, size, mtime against what this
 * process last saw), drops its database and opens it afresh.  A store
 * writes through to the file (GDBM's own writes, at the end of each
 * store), so the next process to lock sees it.
 *
 * Nothing is fsynced: not at each store (GDBM_SYNC off), not when an open
 * database is dropped (gd_db_drop points the descriptor at /dev/null
 * before gdbm_close, whose sync would otherwise flush every process's
 * writes to the disk).  Sessions are disposable: the file is kept
 * consistent, not durable.  A killed process leaves its writes in the
 * page cache, as complete as GDBM left them, and its dirty mark makes the
 * next process repair; a crash of the host or a power loss may lose the
 * stores the kernel had not yet written back (up to dirty_expire, ~30 s
 * on Linux) or leave a torn file, which the first operation that meets
 * its damage repairs (recovered, or recreated empty): full handshakes
 * for the sessions lost, never a wrong one (records are sealed).
 * GDBM_NOMMAP: reads and writes are pread/pwrite-like system calls;
 * with the map (use_mmap) a drop costs an msync.
 *
 * Invariants:
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
#include <unistd.h>

#include "cache_gdbm.h"

int
gd_damaged(int e)
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
int
gd_db_error(GDBM_FILE db)
{
	int e = gdbm_last_errno(db);

	if (gdbm_needs_recovery(db))
		return GDBM_NEED_RECOVERY;
	return e == GDBM_ITEM_NOT_FOUND ? GDBM_NO_ERROR : e;
}

/*
 * Open the database through a checked descriptor (*st, if given: its
 * status then).  NULL on failure, with *e the GDBM error
 * (GDBM_FILE_OPEN_ERROR and *se the errno when the file could not be
 * opened, or was refused: then logged here).  GDBM_WRITER finds an empty
 * file damaged, as GDBM_READER does: only GDBM_WRCREAT (under the
 * exclusive lock) initialises one.
 */
GDBM_FILE
gd_db_open(struct cache *c, int mode, int *e, int *se, struct stat *st)
{
	int writer = mode != GDBM_READER;
	struct stat own, *stp = st != NULL ? st : &own;
	const char *why;
	GDBM_FILE db;
	int fd;

	*e = GDBM_NO_ERROR;
	*se = 0;
	fd = gd_safe_open(c, c->arg, writer, writer && mode != GDBM_WRITER,
	    &why, stp);
	if (fd >= 0 && mode == GDBM_WRITER && stp->st_size == 0) {
		close(fd);
		*e = GDBM_EMPTY_DATABASE;
		return NULL;
	}
	if (fd < 0) {
		*e = GDBM_FILE_OPEN_ERROR;
		*se = fd == -2 ? EPERM : errno;
		if (fd == -2)
			cache_log(c, CACHE_LOG_IO, 0, "session cache '%s' %s: "
			    "refusing to use it", c->arg, why);
		return NULL;
	}
	db = gdbm_fd_open(fd, c->arg, G(c)->block_size, mode | GDBM_NOLOCK |
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

/* Close the kept database.  GDBM's close of a writer fsyncs the file,
 * which on a disk writes back every process's stores: the descriptor is
 * first pointed at /dev/null, where the fsync does nothing (the stores
 * are in the page cache already; see above for what that gives). */
void
gd_db_drop(struct cache *c)
{
	struct gdbm_state *g = G(c);

	if (g->db == NULL)
		return;
	if (g->db_writer && g->nullfd < 0)
		g->nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (g->db_writer && g->nullfd >= 0)
		(void)dup2(g->nullfd, gdbm_fdesc(g->db));
	gdbm_close(g->db);
	g->db = NULL;
}

static int64_t
mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* The change time: set by the kernel at every write, chmod, rename or
 * link, never by touch or cp -p (as the mtime can be). */
static int64_t
ctime_ns(const struct stat *st)
{
	return (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

/* Is the kept database current: nobody wrote since we last looked (the
 * shared generation), and the file at the path is the one it has open,
 * as it last saw it?  Without a shared header there is no generation:
 * never. */
static int
db_current(struct cache *c, const struct hold *h)
{
	struct gdbm_state *g = G(c);
	struct stat st;

	if (g->db == NULL || h->m == &h->own || h->m->gen != g->db_gen ||
	    stat(c->arg, &st) != 0)
		return 0;
	return st.st_dev == g->db_st.st_dev && st.st_ino == g->db_st.st_ino &&
	    st.st_size == g->db_st.st_size &&
	    mtime_ns(&st) == mtime_ns(&g->db_st) &&
	    ctime_ns(&st) == ctime_ns(&g->db_st);
}

/* The file as the last writer left it, in the shared header: what a
 * process's remembered sessions are checked against (gd_stamp). */
static void
record_file(struct meta *m, const struct stat *st)
{
	m->wdev = (uint64_t)st->st_dev;
	m->wino = (uint64_t)st->st_ino;
	m->wsize = (int64_t)st->st_size;
	m->wmtime_ns = mtime_ns(st);
	m->wctime_ns = ctime_ns(st);
	m->wvalid = 1;
}

/* Under the lock: st (the file just opened at the path) is not as the
 * last writer left it: changed by someone outside the lock (replaced,
 * truncated, overwritten, or the lock file restored from a copy), so
 * what processes remember of it is stale: a fresh rmgen, not the next
 * one, which a lock file restored from a copy may have handed out
 * already.  A read-only cache maps the header read-only, and remembers
 * nothing. */
static void
check_outside(struct cache *c, const struct hold *h, const struct stat *st)
{
	struct meta *m = h->m;

	if (c->o.read_only || m == &h->own || !m->wvalid)
		return;
	if (m->wdev != (uint64_t)st->st_dev || m->wino != (uint64_t)st->st_ino ||
	    m->wsize != (int64_t)st->st_size || m->wmtime_ns != mtime_ns(st) ||
	    m->wctime_ns != ctime_ns(st))
		__atomic_store_n(&m->rmgen, gd_gen_fresh(), __ATOMIC_SEQ_CST);
}

/*
 * Under the lock h: the database, kept open from an earlier operation if
 * current, else opened afresh.  mode: GDBM_READER to read (opened as
 * GDBM_WRITER unless the cache is read-only, so a later store can use
 * it), GDBM_WRITER or GDBM_WRCREAT to write.  NULL on failure as
 * gd_db_open.
 */
GDBM_FILE
gd_db_get(struct cache *c, struct hold *h, int mode, int *e, int *se)
{
	struct gdbm_state *g = G(c);
	int open_mode = mode;
	struct stat st;

	*e = GDBM_NO_ERROR;
	*se = 0;
	if (db_current(c, h) && (g->db_writer || mode == GDBM_READER))
		return g->db;
	gd_db_drop(c);
	if (mode == GDBM_READER && !c->o.read_only)
		open_mode = GDBM_WRITER;
	g->db = gd_db_open(c, open_mode, e, se, &st);
	if (g->db == NULL)
		return NULL;
	check_outside(c, h, &st);
	g->db_writer = open_mode != GDBM_READER;
	g->db_gen = h->m->gen;
	g->db_st = st;
	if (st.st_size == 0 && fstat(gdbm_fdesc(g->db), &g->db_st) != 0)
		gd_db_drop(c);          /* GDBM_WRCREAT wrote a new file */
	return g->db;
}

/* Our own write, under the exclusive lock: a new generation, and the
 * file as we leave it recorded in the header.  The kept database stays
 * current with it only if it was current under this lock (checked or
 * opened by gd_db_get in this operation: nobody else wrote since), and
 * then takes the file as it left it. */
static void
wrote(struct cache *c, struct meta *m)
{
	struct gdbm_state *g = G(c);
	int current = g->db != NULL && g->db_gen == m->gen;
	struct stat st;

	m->gen++;
	if (!current || fstat(gdbm_fdesc(g->db), &g->db_st) != 0) {
		gd_db_drop(c);
		if (stat(c->arg, &st) == 0)
			record_file(m, &st);
		else
			m->wvalid = 0;
		return;
	}
	g->db_gen = m->gen;
	record_file(m, &g->db_st);
}

/* An open failure that is not damage: unreachable (logged, a miss). */
void
gd_log_open_failure(struct cache *c, int e, int se)
{
	if (se == EPERM && e == GDBM_FILE_OPEN_ERROR)
		return;         /* refused: db_open said why */
	cache_log(c, CACHE_LOG_IO, se, "session cache '%s': %s (%s)", c->arg,
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

	gd_db_drop(c);
	db = gd_db_open(c, GDBM_WRITER, &e, &se, NULL);
	if (db == NULL || gdbm_recover(db, NULL, GDBM_RCVR_FORCE) != 0 ||
	    gdbm_count(db, &n) != 0) {
		if (db != NULL)
			gdbm_close(db);
		/* Beyond recovery, or no right to create the copy that
		 * recovery renames into place: start afresh, truncated in
		 * place (sessions are only a cache). */
		db = gd_db_open(c, GDBM_NEWDB, &e, &se, NULL);
		if (db == NULL) {
			cache_log(c, CACHE_LOG_REPAIR, se, "session cache '%s' "
			    "is damaged (%s) and cannot be recreated: %s",
			    c->arg, why, gdbm_strerror(e));
			return;
		}
		n = 0;
		how = "recreated";
	}
	gdbm_close(db);
	if (strcmp(how, "recovered") == 0) {
		/* Recovery renamed a new file into place: owner, mode. */
		const char *w;
		int fd = gd_safe_open(c, c->arg, 1, 0, &w, NULL);
		if (fd >= 0)
			close(fd);
	}
	m->count = (int64_t)n;
	gd_mark_dirty(m, 0);
	m->repairs++;
	m->gen++;
	gd_bump_rmgen(m);
	m->full_since = 0;
	c->st->repairs++;
	cache_log(c, CACHE_LOG_REPAIR, 0, "session cache '%s' was damaged (%s):"
	    " %s, %llu record(s) kept; full handshakes meanwhile", c->arg,
	    why, how, (unsigned long long)n);
}

/*
 * Damage seen while holding h: repair it under the exclusive lock unless
 * another process did since h's numbers were read.  Leaves the exclusive
 * lock held (h->how says what is held) and h->m fresh.
 */
void
gd_fix_damage(struct cache *c, struct hold *h, const char *why)
{
	uint64_t gen = h->m->repairs;

	if (c->o.read_only) {
		cache_log(c, CACHE_LOG_DAMAGE, 0, "session cache '%s' cannot "
		    "be read (%s): damaged, or not a session cache; not "
		    "repaired here (cachetd repairs a damaged cache when it "
		    "next uses it; `cachet cache clear` empties it)", c->arg,
		    why);
		return;
	}
	if (h->how != LOCK_EX) {
		gd_unlock(c);
		h->how = 0;
		if (gd_lock(c, LOCK_EX, h) != 0)
			return;
		h->how = LOCK_EX;
		if (h->m->repairs != gen && !h->m->dirty)
			return;         /* another process repaired it */
	}
	repair(c, h->m, why);
}

/* Take the lock and the shared numbers; a writer marks the file dirty
 * until gd_end().  A dirty mark found here was left by a writer that died
 * inside the database: repaired before anyone reads the file. */
int
gd_begin(struct cache *c, int how, struct hold *h)
{
	h->how = 0;
	if (gd_lock(c, how, h) != 0)
		return -1;
	h->how = how;
	if (h->m->dirty) {
		gd_fix_damage(c, h, "a process died while writing it");
		if (c->o.read_only || h->how == 0) {
			gd_unlock(c);
			return -1;
		}
	}
	if (h->how == LOCK_EX && !c->o.read_only)
		gd_mark_dirty(h->m, 1);
	return 0;
}

void
gd_end(struct cache *c, struct hold *h)
{
	if (h->how == LOCK_EX && !c->o.read_only) {
		wrote(c, h->m);
		gd_mark_dirty(h->m, 0);
	}
	if (h->how != 0)
		gd_unlock(c);
}

/* The database for writing under h; recount when the count is unknown. */
GDBM_FILE
gd_writer_open(struct cache *c, struct hold *h, int mode, int *e, int *se)
{
	GDBM_FILE db = gd_db_get(c, h, mode, e, se);
	gdbm_count_t n;

	if (db == NULL || h->m->count >= 0)
		return db;
	if (gdbm_count(db, &n) != 0) {
		*e = gd_db_error(db);
		gd_db_drop(c);
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
		if (k.dptr == NULL && gd_db_error(db) == GDBM_NO_ERROR &&
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
	if (k.dptr == NULL && gd_db_error(db) != GDBM_NO_ERROR) {
		while (n > 0)
			free(keys[--n].dptr);
		return -1;
	}
	return n;
}

/* Make room for one record: of a sample, remove the expired records or
 * else the oldest.  Returns how many were removed, -1 on damage. */
int
gd_evict(struct cache *c, GDBM_FILE db, struct meta *m)
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
			if (gd_db_error(db) != GDBM_NO_ERROR)
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
			if (gd_db_error(db) != GDBM_NO_ERROR)
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

/* ------------------------------------------------------------ stamps */

/*
 * A stamp of key k for what this process remembers of the store
 * (cache_ssl.c keeps decoded sessions): while it does not change, no
 * record of k has gone or changed since it was taken, so a remembered
 * session is still in the file.  st: the whole store's number (rmgen,
 * with the lock file's identity) and the removal counter of k's hash.
 * -1: none now (nothing remembered may be used).  Taken without the
 * lock, for two stat()s: the lock file must be ours and mapped whole (as
 * under the lock: no map past its end); no writer may be inside (dirty,
 * read before and after); the database at the path must be the file as
 * the last writer left it (device, inode, size, mtime, ctime), so a file
 * replaced, truncated or overwritten outside the lock gives no stamp,
 * and the next process to lock it moves rmgen (check_outside).
 */
int
gd_stamp(struct cache *c, const unsigned char *k, size_t kl, uint64_t st[2])
{
	struct gdbm_state *g = G(c);
	struct meta *m = g->map;
	unsigned b = gd_rm_bucket(k, kl);
	struct stat fs;
	uint64_t r, rb;

	if (m == NULL || c->o.read_only || g->lockfd < 0 ||
	    lstat(g->lockpath, &fs) != 0 || fs.st_dev != g->lock_dev ||
	    fs.st_ino != g->lock_ino || fs.st_size < META_SIZE)
		return -1;
	if (__atomic_load_n(&m->magic, __ATOMIC_SEQ_CST) != META_MAGIC ||
	    __atomic_load_n(&m->dirty, __ATOMIC_SEQ_CST) != 0 ||
	    __atomic_load_n(&m->wvalid, __ATOMIC_SEQ_CST) != 1)
		return -1;
	r = __atomic_load_n(&m->rmgen, __ATOMIC_SEQ_CST);
	rb = __atomic_load_n(&m->rmb[b], __ATOMIC_SEQ_CST);
	if (stat(c->arg, &fs) != 0 ||
	    __atomic_load_n(&m->wdev, __ATOMIC_SEQ_CST) != (uint64_t)fs.st_dev ||
	    __atomic_load_n(&m->wino, __ATOMIC_SEQ_CST) != (uint64_t)fs.st_ino ||
	    __atomic_load_n(&m->wsize, __ATOMIC_SEQ_CST) != (int64_t)fs.st_size ||
	    __atomic_load_n(&m->wmtime_ns, __ATOMIC_SEQ_CST) != mtime_ns(&fs) ||
	    __atomic_load_n(&m->wctime_ns, __ATOMIC_SEQ_CST) != ctime_ns(&fs))
		return -1;
	/* a writer came and went meanwhile: it may have removed */
	if (__atomic_load_n(&m->dirty, __ATOMIC_SEQ_CST) != 0 ||
	    __atomic_load_n(&m->rmgen, __ATOMIC_SEQ_CST) != r ||
	    __atomic_load_n(&m->rmb[b], __ATOMIC_SEQ_CST) != rb)
		return -1;
	/* and of this lock file: another one (a copy put back) has
	 * numbers of its own */
	st[0] = r ^ ((uint64_t)g->lock_ino * 0x9e3779b97f4a7c15u) ^
	    (uint64_t)g->lock_dev;
	st[1] = rb;
	return 0;
}
