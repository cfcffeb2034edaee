/*
 * cache.c - the backend-neutral face of the session cache: the table of
 * backends and the questions callers ask about a spec or a store (so
 * nothing outside cache/ knows which backends exist), the life of a
 * struct cache (new, prepare, attach, close), and store, fetch and remove
 * of sealed records with their counters.
 *
 * Invariants:
 * - A backend only ever sees sealed records (cache_seal.c) and is only
 *   called through the contract in cache_int.h; what a store keeps and
 *   whether it needs purging is read from its table, never from its name.
 * - cache_new() does no I/O; cache_prepare() is the one step that creates
 *   files, in the master as root; cache_open() is both, for tools.
 * - A record that is expired, damaged or sealed under another key or ID
 *   is a miss and is removed; a miss is never an error for the caller.
 * - Purges and the tools' inspection live in cache_purge.c.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache_int.h"

/* "internal" and "none" store nothing here: OpenSSL's own cache, or none. */
static const struct cache_backend backend_internal = {
	.name = "internal", .keeps = CACHE_KEEPS_IN_PROCESS,
};
static const struct cache_backend backend_none = {
	.name = "none", .keeps = CACHE_KEEPS_NOTHING,
};

/* Every backend; the first whose ARG is a path is the default file store
 * (cache_spec_for_file). */
static const struct cache_backend *const backends[] = {
	&cache_backend_gdbm,
	&cache_backend_memcached,
	&cache_backend_redis,
	&backend_internal,
	&backend_none,
};
#define NBACKENDS (sizeof backends / sizeof backends[0])

void
cache_log(struct cache *c, enum cache_log_kind kind, int err,
    const char *fmt, ...)
{
	char msg[512], *p;
	va_list ap;
	time_t now = time(NULL);

	if (c->log == NULL || (c->last_log[kind] != 0 &&
	    now - c->last_log[kind] < 60))
		return;
	c->last_log[kind] = now;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* a server's own words (a Redis error) are in it: no control byte
	 * may start a forged line in the log */
	for (p = msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	c->log(err, msg);
}

/* -------------------------------------------------------------- specs */

/* The backend spec names ("NAME" or "NAME:..."), and *arg what follows
 * the colon (NULL: none); NULL when no backend has that name. */
static const struct cache_backend *
find_backend(const char *spec, const char **arg)
{
	const char *colon = strchr(spec, ':');
	size_t n = colon != NULL ? (size_t)(colon - spec) : strlen(spec);
	size_t i;

	*arg = colon != NULL ? colon + 1 : NULL;
	for (i = 0; i < NBACKENDS; i++)
		if (strlen(backends[i]->name) == n &&
		    strncmp(spec, backends[i]->name, n) == 0)
			return backends[i];
	return NULL;
}

/* The forms a spec can take, for messages: "gdbm:PATH", "internal" or
 * "none". */
static void
spec_forms(char *out, size_t len)
{
	size_t i, n = 0;

	out[0] = '\0';
	for (i = 0; i < NBACKENDS && n < len; i++) {
		const struct cache_backend *be = backends[i];
		n += (size_t)snprintf(out + n, len - n, "%s\"%s%s%s\"",
		    i == 0 ? "" : i + 1 == NBACKENDS ? " or " : ", ", be->name,
		    be->arg != NULL ? ":" : "", be->arg != NULL ? be->arg : "");
	}
}

int
cache_spec_check(const char *spec, char *err, size_t errlen)
{
	const struct cache_backend *be;
	const char *arg;
	char forms[256];

	if (spec == NULL || (be = find_backend(spec, &arg)) == NULL) {
		spec_forms(forms, sizeof forms);
		snprintf(err, errlen, "'%s' is not %s",
		    spec != NULL ? spec : "", forms);
		return -1;
	}
	if (be->arg == NULL && arg != NULL) {
		snprintf(err, errlen, "'%s': \"%s\" takes nothing after it",
		    spec, be->name);
		return -1;
	}
	if (be->arg != NULL && (arg == NULL || arg[0] == '\0')) {
		snprintf(err, errlen, "'%s': %s missing (\"%s:%s\")", spec,
		    be->arg, be->name, be->arg);
		return -1;
	}
	if (be->check != NULL && be->check(arg, err, errlen) != 0)
		return -1;
	return 0;
}

const char *
cache_spec_path(const char *spec)
{
	const struct cache_backend *be;
	const char *arg;

	if ((be = find_backend(spec, &arg)) == NULL || !be->arg_is_path ||
	    arg == NULL || arg[0] == '\0')
		return NULL;
	return arg;
}

char *
cache_spec_resolve(const char *spec, const char *dir)
{
	const char *path = cache_spec_path(spec);
	char *out;

	if (path == NULL || path[0] == '/' || dir == NULL) {
		if ((out = strdup(spec)) == NULL)
			abort();
		return out;
	}
	if (asprintf(&out, "%.*s%s/%s", (int)(path - spec), spec, dir,
	    path) < 0)
		abort();
	return out;
}

int
cache_spec_for_file(const char *path, char *spec, size_t len)
{
	size_t i;
	int n;

	for (i = 0; i < NBACKENDS && !backends[i]->arg_is_path; i++)
		;
	if (i == NBACKENDS || path == NULL || path[0] == '\0')
		return -1;
	n = snprintf(spec, len, "%s:%s", backends[i]->name, path);
	return n >= 0 && (size_t)n < len ? 0 : -1;
}

/* ----------------------------------------------------------- the store */

struct cache *
cache_new_with(const struct cache_backend *be, const char *arg,
    const struct cache_opts *o, const unsigned char key[CACHE_KEY_LEN],
    char *err, size_t errlen)
{
	struct cache *c;

	if ((c = calloc(1, sizeof *c)) == NULL)
		abort();
	c->be = be;
	c->o = *o;
	c->st = &c->own;
	if (arg != NULL && (c->arg = strdup(arg)) == NULL)
		abort();
	if (key != NULL) {
		memcpy(c->key, key, CACHE_KEY_LEN);
		c->have_key = 1;
	}
	if (errlen > 0)
		err[0] = '\0';
	if (be->open != NULL && be->open(c, err, errlen) != 0) {
		cache_close(c);
		return NULL;
	}
	return c;
}

struct cache *
cache_new(const char *spec, const struct cache_opts *o,
    const unsigned char key[CACHE_KEY_LEN], char *err, size_t errlen)
{
	const struct cache_backend *be;
	const char *arg;

	if (cache_spec_check(spec, err, errlen) != 0)
		return NULL;
	be = find_backend(spec, &arg);
	return cache_new_with(be, arg, o, key, err, errlen);
}

int
cache_prepare(struct cache *c, char *err, size_t errlen)
{
	if (errlen > 0)
		err[0] = '\0';
	if (c->o.read_only || c->be->prepare == NULL)
		return 0;
	return c->be->prepare(c, err, errlen);
}

struct cache *
cache_open(const char *spec, const struct cache_opts *o,
    const unsigned char key[CACHE_KEY_LEN], char *err, size_t errlen)
{
	struct cache *c = cache_new(spec, o, key, err, errlen);

	if (c != NULL && cache_prepare(c, err, errlen) != 0) {
		cache_close(c);
		return NULL;
	}
	return c;
}

int
cache_attach(struct cache *c)
{
	if (c->be->attach != NULL)
		return c->be->attach(c);
	return 0;
}

void
cache_close(struct cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	cache_ssl_hot_free(c);
	if (c->be->close != NULL)
		c->be->close(c);
	for (i = 0; i < c->pg_ndead; i++)
		free(c->pg_dead[i].k);
	free(c->pg_dead);
	EVP_CIPHER_CTX_free(c->cctx);
	EVP_CIPHER_CTX_free(c->dctx);
	EVP_CIPHER_free(c->aead);
	OPENSSL_cleanse(c->key, sizeof c->key);
	free(c->arg);
	free(c);
}

const char *
cache_kind(const struct cache *c)
{
	return c->be->name;
}

int
cache_keeps_records(const struct cache *c)
{
	return c != NULL && c->be->keeps == CACHE_KEEPS_RECORDS;
}

int
cache_needs_purge(const struct cache *c)
{
	return cache_keeps_records(c) && c->be->scan != NULL;
}

void
cache_set_stats(struct cache *c, struct cache_stats *st)
{
	c->st = st != NULL ? st : &c->own;
}

void
cache_set_log(struct cache *c, cache_log_fn fn)
{
	c->log = fn;
}

const struct cache_stats *
cache_stats(const struct cache *c)
{
	return c->st;
}

/* ------------------------------------------------------------ records */

int
cache_is_share_name(const unsigned char *id, size_t idlen)
{
	size_t n = sizeof CACHE_SHARE_PREFIX - 1;

	return idlen >= n && memcmp(id, CACHE_SHARE_PREFIX, n) == 0;
}

static int
store_flags(struct cache *c, const unsigned char *id, size_t idlen,
    const unsigned char *data, size_t len, time_t created, time_t expires,
    unsigned flags)
{
	unsigned char *rec;
	size_t rl = CACHE_REC_HDR + len + CACHE_REC_TAG;
	int r;

	if (c->be->keeps != CACHE_KEEPS_RECORDS)
		return -1;
	if (!c->have_key || idlen == 0 || idlen > CACHE_MAX_ID ||
	    cache_is_share_name(id, idlen) ||
	    rl > CACHE_MAX_RECORD || cache_aead_ready(c) != 0) {
		c->st->store_failures++;
		return -1;
	}
	if ((rec = malloc(rl)) == NULL || cache_seal(c, id, idlen, data, len,
	    created, expires, flags, rec) != 0) {
		free(rec);
		c->st->store_failures++;
		return -1;
	}
	r = c->be->put(c, id, idlen, rec, rl, expires);
	free(rec);
	if (r == 0)
		c->st->stores++;
	else if (r == 1)
		c->st->full++;
	else
		c->st->store_failures++;
	return r;
}

int
cache_store(struct cache *c, const unsigned char *id, size_t idlen,
    const unsigned char *data, size_t len, time_t created, time_t expires)
{
	return store_flags(c, id, idlen, data, len, created, expires, 0);
}

int
cache_store_once(struct cache *c, const unsigned char *id, size_t idlen,
    const unsigned char *data, size_t len, time_t created, time_t expires)
{
	return store_flags(c, id, idlen, data, len, created, expires,
	    CACHE_REC_ONCE);
}

/* Remove a record found unusable; counts as a miss for the caller. */
static void
drop(struct cache *c, const unsigned char *id, size_t idlen)
{
	struct cache_key k = { (unsigned char *)id, idlen, 1 };
	size_t n = 0;

	if (c->be->del(c, &k, 1, &n) < 0)
		c->st->errors++;
}

/* What the backend answered (r, and v of vl bytes, which this takes),
 * opened: 1 and *data, or 0 (a miss), or -1; counted. */
static int
opened(struct cache *c, const unsigned char *id, size_t idlen, int r,
    unsigned char *v, size_t vl, unsigned char **data, size_t *len)
{
	unsigned char *out;
	time_t created, expires;

	if (r <= 0) {
		c->st->misses++;
		if (r < 0)
			c->st->errors++;
		return r;
	}
	if (cache_rec_times(v, vl, &created, &expires) != 0) {
		free(v);
		c->st->misses++;
		drop(c, id, idlen);
		return 0;
	}
	if (expires <= time(NULL)) {
		free(v);
		c->st->misses++;
		c->st->expired++;
		drop(c, id, idlen);
		return 0;
	}
	if ((out = malloc(vl - CACHE_REC_HDR - CACHE_REC_TAG + 1)) == NULL ||
	    cache_unseal(c, id, idlen, v, vl, out) != 0) {
		free(out);
		free(v);
		c->st->misses++;
		drop(c, id, idlen);
		return 0;
	}
	*len = vl - CACHE_REC_HDR - CACHE_REC_TAG;
	*data = out;
	free(v);
	c->st->hits++;
	return 1;
}

int
cache_stamp(struct cache *c, const unsigned char *id, size_t idlen,
    uint64_t st[2])
{
	if (c->be->stamp == NULL || c->be->keeps != CACHE_KEEPS_RECORDS ||
	    !c->have_key)
		return -1;
	return c->be->stamp(c, id, idlen, st);
}

int
cache_fetch(struct cache *c, const unsigned char *id, size_t idlen,
    unsigned char **data, size_t *len)
{
	unsigned char *v = NULL;
	size_t vl = 0;
	int r;

	if (c->be->keeps != CACHE_KEEPS_RECORDS || !c->have_key ||
	    cache_is_share_name(id, idlen) || cache_aead_ready(c) != 0)
		return 0;
	r = c->be->get(c, id, idlen, &v, &vl);
	return opened(c, id, idlen, r, v, vl, data, len);
}

int
cache_set_loop(struct cache *c, void *loop)
{
	if (c == NULL || c->be->set_loop == NULL)
		return 0;
	return c->be->set_loop(c, loop);
}

int
cache_take(struct cache *c, const unsigned char *id, size_t idlen,
    unsigned char **data, size_t *len)
{
	unsigned char *v = NULL;
	size_t vl = 0;
	int r;

	if (c->be->keeps != CACHE_KEEPS_RECORDS || !c->have_key ||
	    idlen == 0 || idlen > CACHE_MAX_ID ||
	    cache_is_share_name(id, idlen) || cache_aead_ready(c) != 0)
		return 0;
	if (c->be->take == NULL) {      /* get, then del: not atomic */
		if ((r = c->be->get(c, id, idlen, &v, &vl)) == 1 &&
		    !cache_rec_once(v, vl)) {
			free(v);        /* reusable: stays */
			v = NULL;
			r = 0;
		} else if (r == 1 && cache_discard(c, id, idlen) != 0) {
			free(v);
			v = NULL;
			r = -1;
		}
		return opened(c, id, idlen, r, v, vl, data, len);
	}
	if ((r = c->be->take(c, id, idlen, &v, &vl)) == 1)
		c->st->removes++;
	return opened(c, id, idlen, r, v, vl, data, len);
}

int
cache_fetch_start(struct cache *c, const unsigned char *id, size_t idlen,
    unsigned char **data, size_t *len, cache_fetch_cb cb, void *arg)
{
	struct cache_req *q;
	int r;

	if (c->be->get_start == NULL || c->be->keeps != CACHE_KEEPS_RECORDS ||
	    !c->have_key || cache_aead_ready(c) != 0 || idlen == 0 ||
	    idlen > CACHE_MAX_ID || cache_is_share_name(id, idlen))
		return cache_fetch(c, id, idlen, data, len);
	if ((q = malloc(sizeof *q)) == NULL)
		return opened(c, id, idlen, -1, NULL, 0, data, len);
	q->c = c;
	q->cb = cb;
	q->arg = arg;
	q->share = 0;
	q->idlen = idlen;
	memcpy(q->id, id, idlen);
	if ((r = c->be->get_start(c, id, idlen, q)) == CACHE_PENDING)
		return r;
	free(q);
	return opened(c, id, idlen, r < 0 ? -1 : 0, NULL, 0, data, len);
}

void
cache_get_done(struct cache_req *q, int r, unsigned char *v, size_t vl)
{
	unsigned char *data = NULL;
	size_t len = 0;

	if (q->share)
		r = cache_share_open(q->c, q->id, q->idlen, r, v, vl, &data,
		    &len);
	else
		r = opened(q->c, q->id, q->idlen, r, v, vl, &data, &len);
	q->cb(q->arg, r, data, len);
	free(q);
}

static int
remove_key(struct cache *c, const unsigned char *id, size_t idlen, int stale)
{
	struct cache_key k = { (unsigned char *)id, idlen, stale };
	size_t n = 0;

	if (c->be->keeps != CACHE_KEEPS_RECORDS ||
	    cache_is_share_name(id, idlen))
		return 0;
	if (c->be->del(c, &k, 1, &n) < 0) {
		c->st->errors++;
		return -1;
	}
	c->st->removes += n;
	return 0;
}

int
cache_remove(struct cache *c, const unsigned char *id, size_t idlen)
{
	return remove_key(c, id, idlen, 0);
}

int
cache_discard(struct cache *c, const unsigned char *id, size_t idlen)
{
	return remove_key(c, id, idlen, 1);
}
