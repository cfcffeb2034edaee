/*
 * cache_share.c - values a farm agrees on, through a store on a server.
 *
 * Session-ticket keys (src/tickets.c) must be the same on every host, or
 * a ticket made on one host is a full handshake on the next.  Each value
 * has a name ("ticket-key:3600:493817"); the first host to offer one
 * wins, and everybody uses what the store holds.  The backend's add
 * (Redis SET NX then GET, memcached add then get) does the arbitration;
 * this layer seals what is offered and opens what comes back, exactly as
 * for sessions (cache_seal.c, the name as the record's ID), so a value is
 * secret from the store and from anyone without the seal key, and one
 * moved under another name does not open.
 *
 * Unlike sessions, a value that does not open is not removed and is not
 * counted as a cache miss: it may be another host's, sealed under another
 * key (a farm whose seal-key-file differs).  The caller falls back to a
 * value of its own and the store keeps the first one; cache_log says so
 * (once a minute).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cache_int.h"

int
cache_shares(const struct cache *c)
{
	return c != NULL && c->be->add_start != NULL && c->be->add != NULL;
}

/* v of vl bytes sealed under name, into a malloc'd *rec of *rl bytes. */
static int
sealed(struct cache *c, const char *name, const unsigned char *v,
    size_t vl, long ttl, unsigned char **rec, size_t *rl)
{
	time_t now = time(NULL);
	size_t nl = strlen(name);

	if (!cache_is_share_name((const unsigned char *)name, nl))
		return -1;     /* would be taken for a session ID */

	*rl = CACHE_REC_HDR + vl + CACHE_REC_TAG;
	if (!cache_shares(c) || !c->have_key || nl == 0 ||
	    nl > CACHE_MAX_ID || *rl > CACHE_MAX_RECORD || ttl <= 0 ||
	    cache_aead_ready(c) != 0)
		return -1;
	if ((*rec = malloc(*rl)) == NULL)
		return -1;
	if (cache_seal(c, (const unsigned char *)name, nl, v, vl, now,
	    now + ttl, 0, *rec) != 0) {
		free(*rec);
		return -1;
	}
	return 0;
}

int
cache_share_open(struct cache *c, const unsigned char *k, size_t kl, int r,
    unsigned char *v, size_t vl, unsigned char **out, size_t *outl)
{
	time_t created, expires;
	unsigned char *p;

	if (r <= 0) {
		free(v);
		if (r < 0)
			c->st->errors++;
		return r < 0 ? -1 : 0;
	}
	if (cache_rec_times(v, vl, &created, &expires) != 0 ||
	    expires <= time(NULL)) {
		free(v);
		return 0;
	}
	if ((p = malloc(vl - CACHE_REC_HDR - CACHE_REC_TAG + 1)) == NULL ||
	    cache_unseal(c, k, kl, v, vl, p) != 0) {
		cache_log(c, CACHE_LOG_DAMAGE, 0, "shared value '%.*s' in the "
		    "store does not open: is the seal-key-file the same on "
		    "every host?", (int)kl, (const char *)k);
		free(p);
		free(v);
		return 0;
	}
	*outl = vl - CACHE_REC_HDR - CACHE_REC_TAG;
	*out = p;
	free(v);
	return 1;
}

int
cache_share(struct cache *c, const char *name, const unsigned char *v,
    size_t vl, long ttl, unsigned char **out, size_t *outl)
{
	unsigned char *rec, *got = NULL;
	size_t rl, gl = 0;
	int r;

	if (sealed(c, name, v, vl, ttl, &rec, &rl) != 0)
		return -1;
	r = c->be->add(c, (const unsigned char *)name, strlen(name), rec, rl,
	    time(NULL) + ttl, &got, &gl);
	free(rec);
	return cache_share_open(c, (const unsigned char *)name, strlen(name),
	    r, got, gl, out, outl);
}

int
cache_share_start(struct cache *c, const char *name, const unsigned char *v,
    size_t vl, long ttl, unsigned char **out, size_t *outl,
    cache_fetch_cb cb, void *arg)
{
	struct cache_req *q;
	unsigned char *rec;
	size_t rl, nl = strlen(name);
	int r;

	if (sealed(c, name, v, vl, ttl, &rec, &rl) != 0)
		return -1;
	if ((q = malloc(sizeof *q)) == NULL) {
		free(rec);
		return -1;
	}
	q->c = c;
	q->cb = cb;
	q->arg = arg;
	q->share = 1;
	q->idlen = nl;
	memcpy(q->id, name, nl);
	r = c->be->add_start(c, (const unsigned char *)name, nl, rec, rl,
	    time(NULL) + ttl, q);
	free(rec);
	if (r == CACHE_PENDING)
		return r;
	free(q);
	*out = NULL;
	*outl = 0;
	return r < 0 ? -1 : 0;
}
