/*
 * cache_purge.c - sweeping expired records out of a store that does not
 * expire them itself, in slices, and the tools' look inside a store
 * (info, list, clear).  Both go through the backend's optional scan.
 *
 * Invariants:
 * - A purge is two phases over the backend's scan: mark (collect the keys
 *   of expired or unreadable records, PURGE_SLICE records a call), then
 *   delete them, PURGE_SLICE keys a call.  Each call is one backend
 *   operation, so the backend's lock is held for one slice at most and
 *   handshakes go on between slices; the scan's cursor is the backend's.
 * - Only one process purges at a time: the backend's purge_claim decides
 *   who (GDBM: the last purge's time in the lock file's shared header).
 * - A store without scan (one that expires records itself, with a TTL)
 *   never purges: every call here is a no-op that succeeds, and info and
 *   list fail (it cannot be listed).
 * - The record count is not set from a pass: records stored or removed by
 *   other processes between slices would make it drift.  The backend
 *   keeps it exact at each insert and removal.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cache_int.h"

#define PURGE_SLICE  1000       /* records per lock hold */

/* Keep a key to delete in the second phase; out of memory, it waits for
 * the next purge. */
static void
keep_dead(struct cache *c, const unsigned char *k, size_t kl)
{
	if (c->pg_ndead == c->pg_cap) {
		size_t nc = c->pg_cap ? c->pg_cap * 2 : 256;
		struct cache_key *nk = realloc(c->pg_dead, nc * sizeof *nk);
		if (nk == NULL)
			return;
		c->pg_dead = nk;
		c->pg_cap = nc;
	}
	if ((c->pg_dead[c->pg_ndead].k = malloc(kl ? kl : 1)) == NULL)
		return;
	memcpy(c->pg_dead[c->pg_ndead].k, k, kl);
	c->pg_dead[c->pg_ndead].kl = kl;
	c->pg_dead[c->pg_ndead].stale = 1;     /* expired or unreadable */
	c->pg_ndead++;
}

static void
mark_expired(const unsigned char *k, size_t kl, const unsigned char *v,
    size_t vl, void *arg)
{
	struct cache *c = arg;
	time_t created, expires;

	if (cache_rec_times(v, vl, &created, &expires) != 0 ||
	    expires <= c->pg_now)
		keep_dead(c, k, kl);
}

static void
purge_reset(struct cache *c)
{
	size_t i;

	for (i = 0; i < c->pg_ndead; i++)
		free(c->pg_dead[i].k);
	c->pg_ndead = c->pg_done = 0;
	c->pg_phase = 0;
}

int
cache_purge_step(struct cache *c, time_t now)
{
	int r, restart = 0;

	if (!cache_needs_purge(c))
		return 0;
	if (c->pg_phase == 0) {
		purge_reset(c);
		c->pg_phase = 1;
		c->pg_now = now;
		restart = 1;
	}
	if (c->pg_phase == 1) {
		r = c->be->scan(c, restart, PURGE_SLICE, mark_expired, c);
		if (r < 0) {
			c->st->errors++;
			purge_reset(c);
			return -1;
		}
		if (r == 1)
			return 1;
		c->pg_phase = 2;
	}
	if (c->pg_done < c->pg_ndead) {
		size_t n = c->pg_ndead - c->pg_done, removed = 0;
		if (n > PURGE_SLICE)
			n = PURGE_SLICE;
		r = c->be->del(c, c->pg_dead + c->pg_done, n, &removed);
		if (r < 0) {
			c->st->errors++;
			purge_reset(c);
			return -1;
		}
		c->st->expired += removed;
		c->pg_done += n;
		if (c->pg_done < c->pg_ndead)
			return 1;
	}
	purge_reset(c);
	return 0;
}

/* Whether this process claims the next purge (or_full: the cap counts
 * too); never while one is under way here. */
static int
claim(struct cache *c, time_t now, int or_full)
{
	if (!cache_needs_purge(c) || c->be->purge_claim == NULL ||
	    c->pg_phase != 0)
		return 0;
	return c->be->purge_claim(c, now, or_full) == 1;
}

int
cache_purge_due(struct cache *c, time_t now)
{
	return claim(c, now, 1);
}

int
cache_purge_due_interval(struct cache *c, time_t now)
{
	return claim(c, now, 0);
}

int
cache_purge_all(struct cache *c, time_t now, size_t *removed)
{
	uint64_t before = c->st->expired;
	int r;

	purge_reset(c);
	while ((r = cache_purge_step(c, now)) == 1)
		;
	if (removed != NULL)
		*removed = (size_t)(c->st->expired - before);
	return r;
}

/* --------------------------------------------------- inspection (tools) */

struct info_arg {
	struct cache_info *info;
	time_t             now;
	int (*fn)(const struct cache_entry *, void *);
	void              *arg;
	int                stop;
};

static void
visit(const unsigned char *k, size_t kl, const unsigned char *v, size_t vl,
    void *p)
{
	struct info_arg *a = p;
	struct cache_entry e;

	memset(&e, 0, sizeof e);
	e.idlen = kl < sizeof e.id ? kl : sizeof e.id;
	memcpy(e.id, k, e.idlen);
	e.size = vl;
	if (cache_rec_times(v, vl, &e.created, &e.expires) != 0)
		e.created = e.expires = 0;
	if (a->info != NULL) {
		a->info->count++;
		if (e.expires <= a->now)
			a->info->expired++;
		if (e.created != 0 && (a->info->oldest == 0 ||
		    e.created < a->info->oldest))
			a->info->oldest = e.created;
		if (e.created > a->info->newest)
			a->info->newest = e.created;
	}
	if (a->fn != NULL && !a->stop && a->fn(&e, a->arg) != 0)
		a->stop = 1;
}

/* Every record through visit, slice by slice (a purge under way here is
 * dropped: it restarts when next due). */
static int
walk(struct cache *c, struct info_arg *a)
{
	int r, restart = 1;

	purge_reset(c);
	while ((r = c->be->scan(c, restart, PURGE_SLICE, visit, a)) == 1 &&
	    !a->stop)
		restart = 0;
	return r < 0 ? -1 : 0;
}

int
cache_info(struct cache *c, time_t now, struct cache_info *info)
{
	struct info_arg a = { info, now, NULL, NULL, 0 };

	memset(info, 0, sizeof *info);
	if (!cache_keeps_records(c) || c->be->scan == NULL)
		return -1;
	if (c->be->totals != NULL)
		c->be->totals(c, info);
	return walk(c, &a);
}

int
cache_list(struct cache *c, int (*fn)(const struct cache_entry *, void *),
    void *arg)
{
	struct info_arg a = { NULL, 0, fn, arg, 0 };

	if (!cache_keeps_records(c) || c->be->scan == NULL)
		return -1;
	return walk(c, &a);
}

int
cache_clear(struct cache *c)
{
	if (!cache_keeps_records(c) || c->be->clear == NULL)
		return -1;
	return c->be->clear(c);
}
