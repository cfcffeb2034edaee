/*
 * cache_gdbm_lock.c - the GDBM backend's lock file: files opened safely,
 * flock() on the file that is at the lock path now, and the lock file's
 * header of numbers shared by every process (struct meta).
 *
 * GDBM's own locking does not wait (a busy file fails at once), so it is
 * off (GDBM_NOLOCK) and every operation runs under flock() on a lock file
 * beside the database: shared to read, exclusive to write.
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
 *   dirty mark that a writer sets while it is inside the database, and a
 *   generation that every writer and repair bumps (cache_gdbm_db.c keeps
 *   each process's database open while it does not move), and what the
 *   processes' memory of sessions is checked against without the lock
 *   (gd_stamp: the file as the last writer left it, a number for the
 *   whole file and removal counters by key hash).  A
 *   store to the map is in the shared page at once: seen by the next
 *   holder of the lock, and left there by a process SIGKILLed meanwhile.
 *   No msync: the numbers are not durable across a power loss or a crash
 *   of the host, which is fine since the lock file can be recreated (a
 *   fresh header means "count unknown": the next writer recounts).
 * - The map is made only over a file at least META_SIZE long, checked on
 *   the lstat that every lock already does, so a map never reaches past
 *   the end of the file (no SIGBUS).  The lock file only grows: it is
 *   extended to META_SIZE (ftruncate) when its header is (re)initialised,
 *   and nothing here ever shrinks it.  A header of the wrong size or
 *   content (an older format, junk) gives fresh numbers under a shared
 *   lock and is re-initialised under the exclusive lock.  A lock file
 *   reopened because it was removed or replaced is mapped again.
 * - A read-only cache creates, chmods and maps for writing nothing; with
 *   no lock file it looks without a lock.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cache_gdbm.h"

/* Why a file found at one of our paths must not be used, or NULL. */
static const char *
refused(const struct cache *c, const struct stat *st)
{
	if (!S_ISREG(st->st_mode))
		return "is not a regular file";
	if (st->st_nlink > 1)
		return "has other hard links";
	if (st->st_uid != 0 &&
	    (c->o.uid == (uid_t)-1 || st->st_uid != c->o.uid) &&
	    st->st_uid != geteuid())
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
int
gd_safe_open(struct cache *c, const char *path, int rw, int create,
    const char **why, struct stat *stp)
{
	int flags = (rw ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK;         /* a planted FIFO must not block us */
	struct stat own, *stq = stp != NULL ? stp : &own;
	int fd = -1;

	*why = NULL;
	/* The file is there nearly always: open it, and create it (O_EXCL)
	 * only when it is not, then open what another process created
	 * meanwhile. */
	fd = open(path, flags);
	if (fd < 0 && create && errno == ENOENT) {
		fd = open(path, flags | O_CREAT | O_EXCL, 0600);
		if (fd < 0 && errno == EEXIST)
			fd = open(path, flags);
	}
	if (fd < 0) {
		if (errno != ELOOP)
			return -1;
		*why = "is a symbolic link";
		return -2;
	}
	if (fstat(fd, stq) != 0) {
		close(fd);
		return -1;
	}
	if ((*why = refused(c, stq)) != NULL) {
		close(fd);
		return -2;
	}
	if (rw && c->o.uid != (uid_t)-1 &&
	    (stq->st_uid != c->o.uid || stq->st_gid != c->o.gid))
		(void)!fchown(fd, c->o.uid, c->o.gid);
	if (rw && (stq->st_mode & 07777) != 0600)
		(void)!fchmod(fd, 0600);
	return fd;
}

int
gd_lock_open(struct cache *c)
{
	struct gdbm_state *g = G(c);
	const char *why;
	struct stat st;
	int rw = !c->o.read_only;

	if (g->lockfd >= 0)
		return 0;
	g->lockfd = gd_safe_open(c, g->lockpath, rw, rw, &why, &st);
	if (g->lockfd >= 0) {
		g->lock_dev = st.st_dev;
		g->lock_ino = st.st_ino;
		return 0;
	}
	if (!rw && why == NULL && errno == ENOENT)
		return 0;       /* nobody locks it: look without a lock */
	cache_log(c, CACHE_LOG_IO, errno, "session cache lock '%s': %s",
	    g->lockpath, why != NULL ? why : strerror(errno));
	return -1;
}

void
gd_lock_close(struct cache *c)
{
	struct gdbm_state *g = G(c);

	/* A database opened under another lock file's numbers is not
	 * trusted under this one's. */
	gd_db_drop(c);
	if (g->map != NULL)
		munmap(g->map, META_SIZE);
	g->map = NULL;
	if (g->lockfd >= 0)
		close(g->lockfd);
	g->lockfd = -1;
}

/* Is the locked descriptor still the file at the lock path?  *st: its
 * status, taken under the lock.  One lstat(): the descriptor's device
 * and inode were taken when it was opened, and an inode number cannot be
 * reused while we hold the file open, so the same numbers at the path
 * are the same file (not removed, not replaced). */
static int
lock_current(struct cache *c, struct stat *st)
{
	struct gdbm_state *g = G(c);

	if (lstat(g->lockpath, st) != 0)
		return 0;
	return st->st_dev == g->lock_dev && st->st_ino == g->lock_ino;
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

/* A generation no process is likely to have seen, for a header
 * (re)initialised: no one keeps a database it opened under another
 * header.  (No getpid(): a system call; the address of our stack
 * differs between processes enough, with the time.) */
uint64_t
gd_gen_fresh(void)
{
	struct timespec ts;
	uintptr_t here = (uintptr_t)&ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec << 30 ^ (uint64_t)ts.tv_nsec) ^
	    (uint64_t)here << 20;
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
	m->gen = gd_gen_fresh();
	m->rmgen = gd_gen_fresh() ^ 0x5bd1e995u;
	h->m = m;
}

/* Take the lock, on the file at the lock path now, and its numbers. */
int
gd_lock(struct cache *c, int how, struct hold *h)
{
	struct gdbm_state *g = G(c);
	struct stat st;
	int i;

	for (i = 0; i < LOCK_TRIES; i++) {
		if (gd_lock_open(c) != 0)
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
		gd_lock_close(c);
	}
	cache_log(c, CACHE_LOG_IO, 0, "session cache lock '%s' keeps being "
	    "replaced", g->lockpath);
	return -1;
}

void
gd_unlock(struct cache *c)
{
	if (G(c)->lockfd >= 0)
		flock(G(c)->lockfd, LOCK_UN);
}
