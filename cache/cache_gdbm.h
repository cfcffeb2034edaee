/*
 * cache_gdbm.h - what the three files of the GDBM backend share; nothing
 * else includes it.
 *
 *   cache_gdbm.c       the operations (the backend's table): prepare,
 *                      put, get, del, scan, clear, purge claims
 *   cache_gdbm_db.c    the database under the lock: opening it, damage
 *                      and its repair, one operation's begin/end, eviction
 *   cache_gdbm_lock.c  the lock file: files opened safely, flock() on the
 *                      file at the lock path now, its shared mapped header
 *
 * c->arg is the database's path; the lock file is beside it (PATH.lock).
 */
#ifndef CACHET_CACHE_GDBM_H
#define CACHET_CACHE_GDBM_H

#include <sys/file.h>
#include <sys/stat.h>

#include <gdbm.h>

#include "cache_int.h"

#define META_MAGIC   0x63616335u        /* "cac5": the layout below, mapped */
#define META_SIZE    36864              /* the lock file's size, at least */
#define RM_BUCKETS   4096               /* removal counters, by key hash */
#define LOCK_TRIES   8                  /* lock file replaced meanwhile */
#define EVICT_SAMPLE 16                 /* records looked at per eviction */
#define EVICT_ROUNDS 4                  /* samples per store, at most */

struct meta;

/* The backend's own state (c->be_data), one per process. */
struct gdbm_state {
	char          *lockpath;
	int            lockfd;          /* -1: none (read-only, no file) */
	dev_t          lock_dev;        /* lockfd's file, to compare with the */
	ino_t          lock_ino;        /* file at the lock path */
	struct meta   *map;             /* lockfd's header, MAP_SHARED; NULL:
	                                 * not mapped (yet) */
	GDBM_FILE      db;              /* kept open between operations; NULL:
	                                 * none */
	int            db_writer;       /* db was opened for writing */
	uint64_t       db_gen;          /* the header's gen when db was last
	                                 * known current */
	struct stat    db_st;           /* the file as db last saw it (device,
	                                 * inode, size, mtime) */
	int            nullfd;          /* /dev/null, for gd_db_drop; -1 */
	int            block_size;
	unsigned char *ev_cursor;       /* where the last eviction sample
	                                 * ended */
	size_t         ev_cursor_len;
	unsigned char *sc_cursor;       /* the last key a scan slice visited
	                                 * (NULL: start from the first) */
	size_t         sc_cursor_len;
	int            sc_restarts;     /* cursor deleted meanwhile: restarts
	                                 * of this scan, bounded */
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
	uint64_t gen;           /* bumped by every writer and repair: a
	                         * process whose open database saw another
	                         * value reopens it; random when the header
	                         * is (re)initialised */
	/* What a process's memory of sessions (cache_ssl.c) is checked
	 * against, without the lock (gd_stamp): */
	uint64_t rmgen;         /* moved when any record may have gone or
	                         * changed: clear, repair, a change of the
	                         * file by someone outside the lock; random
	                         * when (re)initialised */
	uint64_t wvalid;        /* 1: w* below are the file as the last
	                         * writer left it */
	uint64_t wdev, wino;
	int64_t  wsize, wmtime_ns, wctime_ns;
	uint64_t rmb[RM_BUCKETS]; /* bumped when a record of keys with this
	                         * hash is removed or replaced (not evicted,
	                         * taken, or expired): one removal makes
	                         * the processes forget 1/RM_BUCKETS of what
	                         * they remember, not all of it */
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

static inline struct gdbm_state *
G(struct cache *c)
{
	return c->be_data;
}

/* The write-in-progress mark: a plain store into the shared page, kept
 * in program order with the database writes around it. */
static inline void
gd_mark_dirty(struct meta *m, uint32_t v)
{
	__atomic_store_n(&m->dirty, v, __ATOMIC_SEQ_CST);
}

/* Any record may have gone or changed (clear, repair): what processes
 * remember of the store is stale. */
static inline void
gd_bump_rmgen(struct meta *m)
{
	__atomic_add_fetch(&m->rmgen, 1, __ATOMIC_SEQ_CST);
}

/* The removal counter of key k. */
static inline unsigned
gd_rm_bucket(const void *k, size_t kl)
{
	const unsigned char *p = k;
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < kl; i++)
		h = (h ^ p[i]) * 16777619u;
	return (h ^ h >> 16) % RM_BUCKETS;
}

/* The record of key k may have gone or changed (under the exclusive
 * lock): what processes remember of keys with its hash is stale. */
static inline void
gd_bump_removed(struct meta *m, const void *k, size_t kl)
{
	__atomic_add_fetch(&m->rmb[gd_rm_bucket(k, kl)], 1, __ATOMIC_SEQ_CST);
}

/* ------------------------------------------------- cache_gdbm_lock.c */
/* Open path without following a symbolic link (create: O_EXCL); a
 * writable open gives it to opts.uid/gid, mode 0600, through the
 * descriptor.  -1 (errno), or -2 refused (*why). */
int  gd_safe_open(struct cache *, const char *path, int rw, int create,
         const char **why, struct stat *st);
int  gd_lock_open(struct cache *);
/* A generation no process is likely to have seen. */
uint64_t gd_gen_fresh(void);
void gd_lock_close(struct cache *);        /* also unmaps the header */
/* Lock the file at the lock path now (LOCK_SH or LOCK_EX); h->m: the
 * numbers under it. */
int  gd_lock(struct cache *, int how, struct hold *h);
void gd_unlock(struct cache *);

/* --------------------------------------------------- cache_gdbm_db.c */
int       gd_damaged(int gdbm_error);
int       gd_db_error(GDBM_FILE);
GDBM_FILE gd_db_open(struct cache *, int mode, int *e, int *se,
              struct stat *st);
/* The process's open database, reopened only when another process wrote
 * (the header's gen moved) or the file at the path changed meanwhile. */
GDBM_FILE gd_db_get(struct cache *, struct hold *, int mode, int *e,
              int *se);
void      gd_db_drop(struct cache *);     /* close it, without fsync */
void      gd_log_open_failure(struct cache *, int e, int se);
void      gd_fix_damage(struct cache *, struct hold *, const char *why);
/* Lock, take the numbers, repair a writer's death; a writer marks the
 * file dirty until gd_end(). */
int       gd_begin(struct cache *, int how, struct hold *);
void      gd_end(struct cache *, struct hold *);
GDBM_FILE gd_writer_open(struct cache *, struct hold *, int mode, int *e,
              int *se);
int       gd_evict(struct cache *, GDBM_FILE, struct meta *);
int       gd_stamp(struct cache *, const unsigned char *k, size_t kl,
              uint64_t st[2]);

#endif
