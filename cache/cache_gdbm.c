/*
 * cache_gdbm.c - the GDBM backend: one file shared by every worker of
 * one host.  This file is the backend's table (cache_int.h's contract):
 * the operations, each one whole under the lock file's flock();
 * cache_gdbm_lock.c holds the lock file, its shared header and the safe
 * opening of files, cache_gdbm_db.c the database's opening, repair and
 * eviction.
 *
 * Invariants:
 * - Every operation takes the lock (shared to read, exclusive to write)
 *   and gives it back before returning: no lock is held between two
 *   calls, not even between the slices of a purge (the scan's cursor is
 *   a key kept in this process's state; a cursor deleted meanwhile
 *   restarts the scan, at most three times).  The database stays open
 *   between calls, and is used only while nobody else wrote it since
 *   (cache_gdbm_db.c).
 * - Only prepare creates files, in the master as root: both files, owned
 *   by the worker user, mode 0600; a planted link or a file of someone
 *   else stops it (cache_gdbm_lock.c says which).  Workers that find the
 *   folder missing serve full handshakes and retry.
 * - The record count in the shared header is exact: changed at each
 *   insert and removal, recounted when unknown; one purge claim per
 *   purge-interval across all processes.
 * - Records do not expire by themselves: scan and purge_claim are set,
 *   and the generic layer purges in slices (cache_purge.c).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache_gdbm.h"

/* The state, from the path; no I/O. */
static int
g_open(struct cache *c, char *err, size_t errlen)
{
	struct gdbm_state *g = calloc(1, sizeof *g);

	(void)err;
	(void)errlen;
	if (g == NULL)
		abort();
	c->be_data = g;
	g->lockfd = -1;
	g->nullfd = -1;
	g->block_size = c->o.block_size > 0 ? c->o.block_size : 4096;
	if (asprintf(&g->lockpath, "%s.lock", c->arg) < 0)
		abort();
	return 0;
}

/* In the master, as root, never read-only (cache_prepare sees to it). */
static int
g_prepare(struct cache *c, char *err, size_t errlen)
{
	struct gdbm_state *g = G(c);
	struct hold h;
	const char *why;
	GDBM_FILE db;
	int fd, e, se;

	/* Create both files now, owned by the worker user, mode 0600.  A
	 * file we must not trust stops us; one we cannot reach yet does not
	 * (workers retry and log). */
	fd = gd_safe_open(c, g->lockpath, 1, 1, &why, NULL);
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
	fd = gd_safe_open(c, c->arg, 1, 1, &why, NULL);
	if (fd == -2) {
		snprintf(err, errlen, "session cache '%s' %s: refusing to use "
		    "it", c->arg, why);
		return -1;
	}
	if (fd >= 0)
		close(fd);
	/* The exclusive lock sizes a new lock file (ftruncate to META_SIZE)
	 * and writes its header, before any worker maps it. */
	if (gd_begin(c, LOCK_EX, &h) == 0) {
		db = gd_writer_open(c, &h, GDBM_WRCREAT, &e, &se);
		if (db == NULL && gd_damaged(e)) {
			gd_fix_damage(c, &h, gdbm_strerror(e));
			db = gd_writer_open(c, &h, GDBM_WRCREAT, &e, &se);
		}
		if (db == NULL)
			snprintf(err, errlen, "session cache '%s': %s", c->arg,
			    se != 0 ? strerror(se) : gdbm_strerror(e));
		gd_end(c, &h);
	}
	gd_lock_close(c);       /* and the database: workers open their own */
	return 0;
}

static int
g_attach(struct cache *c)
{
	/* An inherited descriptor shares one open file description with the
	 * master and every sibling: flock() on it excludes nobody, and a
	 * database's file offset would be shared.  Its map and database go
	 * with it; the first lock maps the file opened here. */
	gd_lock_close(c);
	return gd_lock_open(c);
}

/* The store itself, under the exclusive lock: 0 stored, 1 full, -1
 * error, -2 damage (GDBM error in *e). */
static int
put_locked(struct cache *c, GDBM_FILE db, struct meta *m, datum key,
    datum val, int *e)
{
	int i, r;

	if (gdbm_exists(db, key)) {
		/* what processes remember of it is old */
		gd_bump_removed(m, key.dptr, (size_t)key.dsize);
		r = gdbm_store(db, key, val, GDBM_REPLACE);
	} else {
		if ((*e = gd_db_error(db)) != GDBM_NO_ERROR)
			return gd_damaged(*e) ? -2 : -1;
		if (m->count >= c->o.max_entries && m->full_since == 0) {
			m->full_since = time(NULL);
			cache_log(c, CACHE_LOG_FULL, 0, "session cache '%s' is "
			    "full (%ld records): evicting the oldest to make "
			    "room", c->arg, c->o.max_entries);
		}
		for (i = 0; i < EVICT_ROUNDS && m->count >= c->o.max_entries;
		    i++)
			if (gd_evict(c, db, m) < 0) {
				*e = gd_db_error(db);
				return -2;
			}
		if (m->count >= c->o.max_entries)
			return 1;
		if ((r = gdbm_store(db, key, val, GDBM_INSERT)) == 0)
			m->count++;
	}
	if (r != 0) {
		*e = gd_db_error(db);
		return gd_damaged(*e) ? -2 : -1;
	}
	if (m->full_since != 0 &&
	    m->count < c->o.max_entries - c->o.max_entries / 10)
		m->full_since = 0;
	return 0;
}

static int
g_put(struct cache *c, const unsigned char *k, size_t kl,
    const unsigned char *v, size_t vl, time_t expires)
{
	datum key = { (char *)k, (int)kl }, val = { (char *)v, (int)vl };
	struct hold h;
	GDBM_FILE db;
	int tries, e = 0, se, ret = -1;

	(void)expires;          /* purges expire records here */
	if (c->o.read_only || gd_begin(c, LOCK_EX, &h) != 0)
		return -1;
	for (tries = 0; tries < 2 && h.how == LOCK_EX; tries++) {
		db = gd_writer_open(c, &h, GDBM_WRCREAT, &e, &se);
		if (db == NULL) {
			if (!gd_damaged(e)) {
				gd_log_open_failure(c, e, se);
				break;
			}
			gd_fix_damage(c, &h, gdbm_strerror(e));
			continue;
		}
		ret = put_locked(c, db, h.m, key, val, &e);
		if (ret != -2)
			break;
		ret = -1;
		gd_fix_damage(c, &h, gdbm_strerror(e));
	}
	if (ret == -1 && e != GDBM_NO_ERROR && e != GDBM_FILE_OPEN_ERROR &&
	    !gd_damaged(e))
		cache_log(c, CACHE_LOG_IO, 0, "session cache '%s': store: %s",
		    c->arg, gdbm_strerror(e));
	gd_end(c, &h);
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

	if (gd_begin(c, LOCK_SH, &h) != 0)
		return -1;
	for (tries = 0; tries < 2 && h.how != 0; tries++) {
		if ((db = gd_db_get(c, &h, GDBM_READER, &e, &se)) == NULL) {
			if (e == GDBM_FILE_OPEN_ERROR && se == ENOENT) {
				ret = 0;        /* no file yet: a miss */
				break;
			}
			if (!gd_damaged(e)) {
				gd_log_open_failure(c, e, se);
				break;
			}
			gd_fix_damage(c, &h, gdbm_strerror(e));
		} else {
			val = gdbm_fetch(db, key);
			e = val.dptr == NULL ? gd_db_error(db) : GDBM_NO_ERROR;
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
			if (!gd_damaged(e)) {
				cache_log(c, CACHE_LOG_IO, 0, "session cache '%s':"
				    " fetch: %s", c->arg, gdbm_strerror(e));
				break;
			}
			gd_fix_damage(c, &h, gdbm_strerror(e));
		}
		if (c->o.read_only)
			break;
	}
	gd_end(c, &h);
	return ret;
}

/* A TLS 1.3 ticket is single-use: fetch and delete under one exclusive
 * lock (one lock round instead of two, and no second client can fetch it
 * between the two).  Only a record stored single-use is taken; any
 * other (a TLS 1.2 session's ID, sent in clear, offered as a ticket) is
 * a miss and stays.  Neither moves the stamp: tickets are never
 * remembered.  Damage is left to the next get or put to repair. */
static int
g_take(struct cache *c, const unsigned char *k, size_t kl,
    unsigned char **v, size_t *vl)
{
	datum key = { (char *)k, (int)kl }, val;
	struct hold h;
	GDBM_FILE db;
	int e, se, ret = -1;

	if (c->o.read_only || gd_begin(c, LOCK_EX, &h) != 0)
		return -1;
	if ((db = gd_writer_open(c, &h, GDBM_WRITER, &e, &se)) == NULL) {
		if (gd_damaged(e))
			gd_fix_damage(c, &h, gdbm_strerror(e));
		else if (!(e == GDBM_FILE_OPEN_ERROR && se == ENOENT))
			gd_log_open_failure(c, e, se);
		gd_end(c, &h);
		return e == GDBM_FILE_OPEN_ERROR && se == ENOENT ? 0 : -1;
	}
	val = gdbm_fetch(db, key);
	if (val.dptr != NULL && !cache_rec_once((unsigned char *)val.dptr,
	    (size_t)val.dsize)) {
		free(val.dptr);         /* reusable: not the client's to take */
		ret = 0;
	} else if (val.dptr != NULL) {
		if (gdbm_delete(db, key) == 0 && h.m->count > 0)
			h.m->count--;
		*v = (unsigned char *)val.dptr;
		*vl = (size_t)val.dsize;
		ret = 1;
	} else if ((e = gd_db_error(db)) == GDBM_NO_ERROR) {
		ret = 0;
	} else if (gd_damaged(e)) {
		gd_fix_damage(c, &h, gdbm_strerror(e));
	} else {
		cache_log(c, CACHE_LOG_IO, 0, "session cache '%s': fetch: %s",
		    c->arg, gdbm_strerror(e));
	}
	gd_end(c, &h);
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
	if (c->o.read_only || gd_begin(c, LOCK_EX, &h) != 0)
		return -1;
	if ((db = gd_writer_open(c, &h, GDBM_WRITER, &e, &se)) == NULL) {
		if (gd_damaged(e))
			gd_fix_damage(c, &h, gdbm_strerror(e));
		else if (!(e == GDBM_FILE_OPEN_ERROR && se == ENOENT))
			gd_log_open_failure(c, e, se);
		gd_end(c, &h);
		return e == GDBM_FILE_OPEN_ERROR && se == ENOENT ? 0 : -1;
	}
	for (i = 0; i < n; i++) {
		datum key = { (char *)keys[i].k, (int)keys[i].kl };
		if (gdbm_delete(db, key) == 0) {
			(*removed)++;
			h.m->count--;
		} else if ((e = gd_db_error(db)) != GDBM_NO_ERROR) {
			ret = -1;
			break;
		}
	}
	/* Remembered copies are gone too, also when the record was not
	 * here (evicted, say): a removal by OpenSSL (a fatal alert) must
	 * reach every worker that remembers the session.  Not for records
	 * nobody may remember (expired: each remembered copy checks its
	 * own expiry; unreadable; spent tickets). */
	for (i = 0; i < n; i++)
		if (!keys[i].stale)
			gd_bump_removed(h.m, keys[i].k, keys[i].kl);
	if (ret != 0 && gd_damaged(e))
		gd_fix_damage(c, &h, gdbm_strerror(e));
	else if (ret != 0)
		cache_log(c, CACHE_LOG_IO, 0, "session cache '%s': delete: %s",
		    c->arg, gdbm_strerror(e));
	if (h.m->count < 0)
		h.m->count = -1;         /* unknown: the next writer recounts */
	gd_end(c, &h);
	return ret;
}

/* Keep k (taken, not copied) as where the next slice goes on. */
static void
set_cursor(struct gdbm_state *g, datum k)
{
	free(g->sc_cursor);
	g->sc_cursor = (unsigned char *)k.dptr;
	g->sc_cursor_len = k.dptr != NULL ? (size_t)k.dsize : 0;
}

/* The first key of this slice: after the cursor; when the cursor's
 * record was deleted meanwhile, from the first key again (a few times,
 * then the scan ends: it is bounded). */
static datum
first_key(struct gdbm_state *g, GDBM_FILE db, int restart)
{
	datum cur, none = { NULL, 0 };

	if (restart) {
		set_cursor(g, none);
		g->sc_restarts = 0;
	}
	if (g->sc_cursor == NULL)
		return gdbm_firstkey(db);
	cur.dptr = (char *)g->sc_cursor;
	cur.dsize = (int)g->sc_cursor_len;
	if (gdbm_exists(db, cur))
		return gdbm_nextkey(db, cur);
	if (++g->sc_restarts <= 3)
		return gdbm_firstkey(db);
	return none;
}

static int
g_scan(struct cache *c, int restart, size_t max, cache_visit_fn fn,
    void *arg)
{
	struct gdbm_state *g = G(c);
	datum k, none = { NULL, 0 };
	struct hold h;
	GDBM_FILE db;
	size_t seen = 0;
	int e, se;

	if (gd_begin(c, LOCK_SH, &h) != 0)
		return -1;
	if ((db = gd_db_get(c, &h, GDBM_READER, &e, &se)) == NULL) {
		set_cursor(g, none);
		if (e == GDBM_FILE_OPEN_ERROR && se == ENOENT) {
			gd_end(c, &h);
			return 0;
		}
		if (gd_damaged(e))
			gd_fix_damage(c, &h, gdbm_strerror(e));
		else
			gd_log_open_failure(c, e, se);
		gd_end(c, &h);
		return -1;
	}
	k = first_key(g, db, restart);
	while (k.dptr != NULL && seen < max) {
		datum v = gdbm_fetch(db, k);
		seen++;
		if (v.dptr != NULL) {
			fn((unsigned char *)k.dptr, (size_t)k.dsize,
			    (unsigned char *)v.dptr, (size_t)v.dsize, arg);
			free(v.dptr);
		} else if (gd_db_error(db) != GDBM_NO_ERROR) {
			break;
		}
		if (seen == max) {
			set_cursor(g, k);
			break;
		}
		{
			datum next = gdbm_nextkey(db, k);
			free(k.dptr);
			k = next;
		}
	}
	if ((e = gd_db_error(db)) != GDBM_NO_ERROR) {
		if ((unsigned char *)k.dptr != g->sc_cursor)
			free(k.dptr);
		set_cursor(g, none);
		if (gd_damaged(e))
			gd_fix_damage(c, &h, gdbm_strerror(e));
		else
			cache_log(c, CACHE_LOG_IO, 0, "session cache '%s': "
			    "scan: %s", c->arg, gdbm_strerror(e));
		gd_end(c, &h);
		return -1;
	}
	gd_end(c, &h);
	if (k.dptr == NULL)
		set_cursor(g, none);
	return k.dptr != NULL ? 1 : 0;
}

static int
g_clear(struct cache *c)
{
	struct hold h;
	GDBM_FILE db;
	int e, se;

	if (c->o.read_only || gd_begin(c, LOCK_EX, &h) != 0)
		return -1;
	gd_db_drop(c);
	if ((db = gd_db_open(c, GDBM_NEWDB, &e, &se, NULL)) == NULL) {
		gd_log_open_failure(c, e, se);
		gd_end(c, &h);
		return -1;
	}
	gdbm_close(db);
	h.m->count = 0;
	h.m->full_since = 0;
	gd_bump_rmgen(h.m);
	gd_end(c, &h);
	return 0;
}

static void
g_totals(struct cache *c, struct cache_info *info)
{
	struct hold h;
	struct stat st;

	if (stat(c->arg, &st) == 0)
		info->file_size = st.st_size;
	if (gd_lock(c, LOCK_SH, &h) != 0)
		return;
	info->repairs = h.m->repairs;
	info->evictions = h.m->evictions;
	gd_unlock(c);
}

static int
g_purge_claim(struct cache *c, time_t now, int or_full)
{
	struct hold h;
	time_t since;
	int ret = 0;

	if (c->o.read_only || gd_lock(c, LOCK_EX, &h) != 0)
		return -1;
	since = now - (time_t)h.m->last_purge;
	if (since >= c->o.purge_interval || (or_full &&
	    h.m->count >= c->o.max_entries && since >= 1)) {
		h.m->last_purge = now;
		ret = 1;
	}
	gd_unlock(c);
	return ret;
}

static void
g_close(struct cache *c)
{
	struct gdbm_state *g = G(c);

	if (g == NULL)
		return;
	gd_lock_close(c);
	if (g->nullfd >= 0)
		close(g->nullfd);
	free(g->ev_cursor);
	free(g->sc_cursor);
	free(g->lockpath);
	free(g);
	c->be_data = NULL;
}

const struct cache_backend cache_backend_gdbm = {
	.name = "gdbm",
	.arg = "PATH",
	.arg_is_path = 1,
	.keeps = CACHE_KEEPS_RECORDS,
	.open = g_open,
	.prepare = g_prepare,
	.attach = g_attach,
	.put = g_put,
	.get = g_get,
	.take = g_take,
	.del = g_del,
	.scan = g_scan,
	.clear = g_clear,
	.totals = g_totals,
	.purge_claim = g_purge_claim,
	.stamp = gd_stamp,
	.close = g_close,
};

