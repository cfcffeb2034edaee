/*
 * cache_ssl.c - the OpenSSL glue of the session cache.
 *
 * With a store that keeps sessions (gdbm), OpenSSL's own per-process cache
 * is off (SSL_SESS_CACHE_NO_INTERNAL) and three callbacks do the work:
 *   new:    i2d_SSL_SESSION, sealed and stored under the session ID
 *   get:    fetched, opened, d2i_SSL_SESSION; *copy = 0 (we hand over our
 *           only reference: with 1 every resumption would leak a session)
 *   remove: OpenSSL found the session bad (expired, fatal alert)
 * TLS 1.2 resumes by session ID; TLS 1.3 by stateful tickets
 * (SSL_OP_NO_TICKET), whose ticket is the session ID, so the same three
 * callbacks serve both.  One ticket per TLS 1.3 handshake: each ticket is
 * a record, and a client needs only one to come back.
 *
 * A TLS 1.3 ticket is single-use (RFC 8446 8.1, and C.4: clients should
 * not reuse one): the record is removed when it is fetched to resume, and
 * the resumed connection gets a new ticket.  Every TLS 1.3 resumption
 * stores one record; without this each would also leave the used one
 * behind and the cache would fill with spent tickets.  TLS 1.2 session IDs
 * stay reusable until they expire.
 *
 * A store on a server (Redis) answers later, and the get callback cannot
 * wait: the daemon's ClientHello callback prefetches the offered session
 * (cache_ssl_prefetch) and suspends the handshake until the answer is in;
 * get then answers from that record only, never from a fetch of its own.
 * The prefetch lives in the SSL's ex_data: freed with the SSL, or, if its
 * fetch is still pending then, orphaned and freed by the fetch's callback,
 * which then wakes nobody.
 *
 * A store whose backend gives stamps (gdbm) lets each worker remember the
 * TLS 1.2 sessions it fetched, decoded (struct cache_hot: HOT_SLOTS,
 * direct-mapped by session ID, each with the stamp it was fetched under).
 * A resumption whose session is remembered under the stamp of now is
 * answered from memory: no lock, no read, no unsealing, no d2i, two
 * stat()s.  An ID's stamp moves whenever its record may have gone or
 * changed (a removal by OpenSSL or `cachet cache` moves the counter of
 * the IDs with its hash, 1 in 4096; clear, repair or a file changed
 * outside the lock move them all), so nothing deleted is ever resumed
 * from memory; a record evicted at max-entries may still be (the session
 * stays valid).  Expired records go without moving anything: expiry is
 * checked on every use, as OpenSSL does.  TLS 1.3 tickets are never
 * remembered: they are single-use.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache_int.h"

static int ex_index = -1;       /* SSL_CTX: the store */
static int sess_index = -1;     /* SSL_SESSION: 1 if it is in the store
                                 * (stored or fetched here) */
#define HOT_SLOTS 1024          /* sessions a worker remembers, at most */

struct hot_entry {
	SSL_SESSION  *sess;     /* one reference; NULL: empty */
	uint64_t      stamp[2]; /* the store's stamp of the ID when fetched */
	time_t        expires;
	unsigned int  idlen;
	unsigned char id[SSL_MAX_SSL_SESSION_ID_LENGTH];
};

struct cache_hot {
	struct hot_entry e[HOT_SLOTS];
};
static int pf_index = -1;       /* SSL: its prefetch */

/* A session fetched for one handshake. */
struct prefetch {
	SSL              *ssl;      /* NULL: the SSL was freed meanwhile */
	cache_ssl_wake_fn wake;
	int               pending;
	int               r;        /* 1: data holds the DER session */
	unsigned char    *data;
	size_t            len;
	size_t            idlen;
	unsigned char     id[CACHE_MAX_ID];
};

static struct cache *
ctx_cache(SSL_CTX *ctx)
{
	return SSL_CTX_get_ex_data(ctx, ex_index);
}

/* OpenSSL calls the remove callback for every session it drops, also
 * one of a handshake that failed before anything was stored (any client
 * can send an alert): only a removal of a session that is in the store
 * goes to the store, and moves what every worker remembers. */
static void
mark_stored(SSL_SESSION *sess)
{
	if (sess_index >= 0)
		SSL_SESSION_set_ex_data(sess, sess_index, (void *)1);
}

static int
is_stored(SSL_SESSION *sess)
{
	return sess_index >= 0 && SSL_SESSION_get_ex_data(sess, sess_index) !=
	    NULL;
}

/* The slot of a session ID (random from the server; a client that offers
 * another only looks). */
static struct hot_entry *
hot_slot(struct cache *c, const unsigned char *id, unsigned int idlen)
{
	uint64_t h = 0xcbf29ce484222325u;
	unsigned int i;

	if (c->hot == NULL || idlen == 0 ||
	    idlen > SSL_MAX_SSL_SESSION_ID_LENGTH)
		return NULL;
	for (i = 0; i < idlen && i < 16; i++)
		h = (h ^ id[i]) * 0x100000001b3u;
	return &c->hot->e[h & (HOT_SLOTS - 1)];
}

static void
hot_clear(struct hot_entry *e)
{
	SSL_SESSION_free(e->sess);      /* NULL: nothing */
	e->sess = NULL;
	e->idlen = 0;
}

static int
hot_match(const struct hot_entry *e, const unsigned char *id,
    unsigned int idlen)
{
	return e != NULL && e->sess != NULL && e->idlen == idlen &&
	    CRYPTO_memcmp(e->id, id, idlen) == 0;
}

/* The remembered session for id if still valid under stamp: a new
 * reference, or NULL (a stale or expired one is forgotten). */
static SSL_SESSION *
hot_get(struct cache *c, const unsigned char *id, unsigned int idlen,
    const uint64_t stamp[2])
{
	struct hot_entry *e = hot_slot(c, id, idlen);

	if (!hot_match(e, id, idlen))
		return NULL;
	if (e->stamp[0] != stamp[0] || e->stamp[1] != stamp[1] ||
	    e->expires <= time(NULL)) {
		hot_clear(e);
		return NULL;
	}
	if (SSL_SESSION_up_ref(e->sess) != 1)
		return NULL;
	return e->sess;
}

/* Remember sess (a TLS 1.2 session just fetched under stamp). */
static void
hot_put(struct cache *c, const unsigned char *id, unsigned int idlen,
    SSL_SESSION *sess, const uint64_t stamp[2])
{
	struct hot_entry *e;

	if (SSL_SESSION_get_protocol_version(sess) >= TLS1_3_VERSION)
		return;
	if (c->hot == NULL && (c->hot = calloc(1, sizeof *c->hot)) == NULL)
		return;
	if ((e = hot_slot(c, id, idlen)) == NULL ||
	    SSL_SESSION_up_ref(sess) != 1)
		return;
	hot_clear(e);
	e->sess = sess;
	e->stamp[0] = stamp[0];
	e->stamp[1] = stamp[1];
	e->expires = (time_t)SSL_SESSION_get_time(sess) +
	    (time_t)SSL_SESSION_get_timeout(sess);
	e->idlen = idlen;
	memcpy(e->id, id, idlen);
}

static void
hot_forget(struct cache *c, const unsigned char *id, unsigned int idlen)
{
	struct hot_entry *e = hot_slot(c, id, idlen);

	if (hot_match(e, id, idlen))
		hot_clear(e);
}

void
cache_ssl_hot_free(struct cache *c)
{
	size_t i;

	if (c == NULL || c->hot == NULL)
		return;
	for (i = 0; i < HOT_SLOTS; i++)
		hot_clear(&c->hot->e[i]);
	free(c->hot);
	c->hot = NULL;
}

static void
pf_free(struct prefetch *pf)
{
	if (pf == NULL)
		return;
	if (pf->data != NULL)
		OPENSSL_cleanse(pf->data, pf->len);
	free(pf->data);
	free(pf);
}

/* SSL_free: a prefetch still waiting for its answer is left to the
 * fetch's callback. */
static void
pf_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	struct prefetch *pf = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (pf == NULL)
		return;
	if (pf->pending)
		pf->ssl = NULL;
	else
		pf_free(pf);
}

static void
pf_done(void *arg, int r, unsigned char *data, size_t len)
{
	struct prefetch *pf = arg;

	pf->pending = 0;
	pf->r = r;
	pf->data = data;
	pf->len = len;
	if (pf->ssl == NULL) {
		pf_free(pf);    /* its connection is gone */
		return;
	}
	pf->wake(pf->ssl);
}

/* A new record for the SSL's handshake, for the session id: in place of
 * any earlier one (another ClientHello, after a HelloRetryRequest).
 * NULL: out of memory. */
static struct prefetch *
pf_attach(SSL *ssl, const unsigned char *id, size_t idlen)
{
	struct prefetch *pf;

	cache_ssl_prefetch_end(ssl);
	if ((pf = calloc(1, sizeof *pf)) == NULL)
		return NULL;
	pf->ssl = ssl;
	pf->idlen = idlen;
	memcpy(pf->id, id, idlen);
	if (SSL_set_ex_data(ssl, pf_index, pf) != 1) {
		free(pf);
		return NULL;
	}
	return pf;
}

int
cache_ssl_async(SSL_CTX *ctx)
{
	struct cache *c;

	return ex_index >= 0 && (c = ctx_cache(ctx)) != NULL &&
	    c->be->get_start != NULL;
}

int
cache_ssl_prefetch(SSL *ssl, const unsigned char *id, size_t idlen,
    cache_ssl_wake_fn wake)
{
	struct cache *c = ctx_cache(SSL_get_SSL_CTX(ssl));
	struct prefetch *pf = pf_index >= 0 ? SSL_get_ex_data(ssl, pf_index) :
	    NULL;
	int r;

	if (c == NULL || pf_index < 0 || idlen == 0 || idlen > CACHE_MAX_ID)
		return 1;
	if (pf != NULL && pf->idlen == idlen && memcmp(pf->id, id,
	    idlen) == 0)
		return !pf->pending;    /* the retry: answered, or not yet */
	if ((pf = pf_attach(ssl, id, idlen)) == NULL)
		return 1;
	pf->wake = wake;
	r = cache_fetch_start(c, id, idlen, &pf->data, &pf->len, pf_done, pf);
	if (r == CACHE_PENDING) {
		pf->pending = 1;
		return 0;
	}
	pf->r = r;
	return 1;
}

void
cache_ssl_prefetch_end(SSL *ssl)
{
	struct prefetch *pf;

	if (pf_index < 0 || (pf = SSL_get_ex_data(ssl, pf_index)) == NULL)
		return;
	SSL_set_ex_data(ssl, pf_index, NULL);
	pf_ex_free(NULL, pf, NULL, 0, 0, NULL);
}

/* A copy of the prefetched session, if it is the one asked for.  The
 * prefetch keeps its record until the SSL goes: a ClientHello after a
 * HelloRetryRequest asks for the same session again. */
static int
prefetched(SSL *ssl, const unsigned char *id, int idlen, unsigned char **der,
    size_t *len)
{
	struct prefetch *pf = SSL_get_ex_data(ssl, pf_index);

	if (pf == NULL || pf->pending || pf->r != 1 || pf->data == NULL ||
	    pf->idlen != (size_t)idlen || memcmp(pf->id, id, pf->idlen) != 0 ||
	    (*der = malloc(pf->len)) == NULL)
		return 0;
	memcpy(*der, pf->data, pf->len);
	*len = pf->len;
	return 1;
}

/* A ticket this connection took (GDBM: fetched and removed): kept with
 * the SSL like a prefetch, for a ClientHello after a HelloRetryRequest,
 * which offers it again (it is gone from the store). */
static void
keep_taken(SSL *ssl, const unsigned char *id, int idlen,
    const unsigned char *der, size_t len)
{
	struct prefetch *pf;
	unsigned char *copy;

	if (pf_index < 0 || idlen <= 0 || (size_t)idlen > CACHE_MAX_ID ||
	    (copy = malloc(len)) == NULL)
		return;
	if ((pf = pf_attach(ssl, id, (size_t)idlen)) == NULL) {
		free(copy);
		return;
	}
	memcpy(copy, der, len);
	pf->data = copy;
	pf->len = len;
	pf->r = 1;
}

static int
new_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct cache *c = ctx_cache(SSL_get_SSL_CTX(ssl));
	unsigned char *der, *p;
	const unsigned char *id;
	unsigned int idlen;
	time_t created;
	int n;

	if (c == NULL)
		return 0;
	id = SSL_SESSION_get_id(sess, &idlen);
	n = i2d_SSL_SESSION(sess, NULL);
	if (idlen == 0 || n <= 0) {
		c->st->store_failures++;
		return 0;
	}
	if ((der = malloc((size_t)n)) == NULL) {
		c->st->store_failures++;
		return 0;
	}
	p = der;
	i2d_SSL_SESSION(sess, &p);
	created = (time_t)SSL_SESSION_get_time(sess);
	/* a TLS 1.3 ticket is single-use: only such records are taken */
	if ((SSL_SESSION_get_protocol_version(sess) >= TLS1_3_VERSION ?
	    cache_store_once : cache_store)(c, id, idlen, der, (size_t)n,
	    created, created + (time_t)SSL_SESSION_get_timeout(sess)) == 0)
		mark_stored(sess);
	else if (sess_index >= 0)       /* a dup may carry another's mark */
		SSL_SESSION_set_ex_data(sess, sess_index, NULL);
	OPENSSL_cleanse(der, (size_t)n);
	free(der);
	return 0;               /* we keep no reference */
}

static SSL_SESSION *
get_cb(SSL *ssl, const unsigned char *id, int idlen, int *copy)
{
	struct cache *c = ctx_cache(SSL_get_SSL_CTX(ssl));
	const unsigned char *p;
	unsigned char *der;
	SSL_SESSION *sess;
	uint64_t stamp[2];
	int stamped = 0;
	size_t len;
	int taken = 0;          /* fetched and removed in one step */

	*copy = 0;
	if (c == NULL || idlen <= 0)
		return NULL;
	if (c->be->get_start != NULL) {
		/* never a fetch here: only what the ClientHello prefetched */
		if (!prefetched(ssl, id, idlen, &der, &len))
			return NULL;
	} else if ((taken = SSL_version(ssl) >= TLS1_3_VERSION)) {
		/* after a HelloRetryRequest: the ticket taken for the first
		 * ClientHello of this connection */
		if (!prefetched(ssl, id, idlen, &der, &len)) {
			if (cache_take(c, id, (size_t)idlen, &der, &len) != 1)
				return NULL;
			keep_taken(ssl, id, idlen, der, len);
		}
	} else {
		/* the stamp before the fetch: a removal after it moves it */
		if ((stamped = cache_stamp(c, id, (size_t)idlen, stamp) == 0) &&
		    (sess = hot_get(c, id, (unsigned int)idlen, stamp)) != NULL) {
			c->st->hits++;
			c->st->local_hits++;
			return sess;    /* marked when it was fetched */
		}
		if (cache_fetch(c, id, (size_t)idlen, &der, &len) != 1)
			return NULL;
	}
	p = der;
	sess = d2i_SSL_SESSION(NULL, &p, (long)len);
	OPENSSL_cleanse(der, len);
	free(der);
	/* bad, or a spent TLS 1.3 ticket: gone, unless taken already;
	 * nobody may remember either (no stamp moves) */
	if (!taken && (sess == NULL ||
	    SSL_SESSION_get_protocol_version(sess) == TLS1_3_VERSION)) {
		cache_discard(c, id, (size_t)idlen);
		return sess;
	}
	if (sess != NULL)
		mark_stored(sess);
	if (sess != NULL && stamped)
		hot_put(c, id, (unsigned int)idlen, sess, stamp);
	return sess;
}

static void
remove_cb(SSL_CTX *ctx, SSL_SESSION *sess)
{
	struct cache *c = ctx_cache(ctx);
	const unsigned char *id;
	unsigned int idlen;

	if (c == NULL)
		return;
	id = SSL_SESSION_get_id(sess, &idlen);
	hot_forget(c, id, idlen);
	if (idlen > 0 && is_stored(sess)) {
		if (SSL_SESSION_get_protocol_version(sess) >= TLS1_3_VERSION)
			cache_discard(c, id, idlen);    /* never remembered */
		else
			cache_remove(c, id, idlen);
	}
}

int
cache_ssl_setup(SSL_CTX *ctx, struct cache *c, long timeout, int tickets)
{
	SSL_CTX_set_timeout(ctx, timeout);
	if (tickets) {
		/* Stateless tickets instead of a server-side cache: the
		 * daemon's key callback (src/tickets.c) gives every worker,
		 * and with a shared store every host, the same keys. */
		SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		return 0;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ctx, 1);
	if (c == NULL || c->be->keeps == CACHE_KEEPS_NOTHING) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		return 0;
	}
	if (c->be->keeps == CACHE_KEEPS_IN_PROCESS) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
		SSL_CTX_sess_set_cache_size(ctx, c->o.max_entries);
		return 0;
	}
	if (ex_index < 0 &&
	    (ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
	    NULL)) < 0)
		return -1;
	if (sess_index < 0 &&
	    (sess_index = SSL_SESSION_get_ex_new_index(0, NULL, NULL, NULL,
	    NULL)) < 0)
		return -1;
	if (pf_index < 0 &&
	    (pf_index = SSL_get_ex_new_index(0, NULL, NULL, NULL,
	    pf_ex_free)) < 0)
		return -1;
	SSL_CTX_set_ex_data(ctx, ex_index, c);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER |
	    SSL_SESS_CACHE_NO_INTERNAL);
	SSL_CTX_sess_set_new_cb(ctx, new_cb);
	SSL_CTX_sess_set_get_cb(ctx, get_cb);
	SSL_CTX_sess_set_remove_cb(ctx, remove_cb);
	return 0;
}
