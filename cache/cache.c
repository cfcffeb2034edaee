/*
 * cache.c - the backend-neutral part of the session cache: the table of
 * backends, sealed records, expiry, counters and purging in slices.
 *
 * Record format (version 1), all integers big-endian:
 *
 *   0  u8   version            |
 *   1  u8   reserved[3]        |  header, not secret, authenticated:
 *   4  u64  created            |  the expiry cannot be moved without
 *  12  u64  expires            |  breaking the tag
 *  20  u32  length of sealed   |
 *  24  u8   nonce[12]          |
 *  36  sealed bytes (AES-256-GCM of the DER session), then tag[16]
 *
 * Additional data: the session ID, then the 36 header bytes.  A record
 * sealed under another ID, another key, or changed by one bit does not
 * open, and is a miss.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "cache_int.h"

#define REC_VERSION  1
#define REC_HDR      36
#define REC_NONCE    12
#define REC_TAG      16
#define PURGE_SLICE  1000       /* records per lock hold */

static int nop_prepare(struct cache *c, char *e, size_t l)
{ (void)c; (void)e; (void)l; return 0; }

/* "internal" and "none" store nothing here: OpenSSL's own cache, or none. */
static const struct cache_backend backend_internal = {
	.name = "internal", .stores = 0, .prepare = nop_prepare,
};
static const struct cache_backend backend_none = {
	.name = "none", .stores = 0, .prepare = nop_prepare,
};

static const struct {
	const char                 *prefix;
	int                         has_path;
	const struct cache_backend *be;
} backends[] = {
	{ "gdbm:", 1, &cache_backend_gdbm },
	{ "internal", 0, &backend_internal },
	{ "none", 0, &backend_none },
};

void
cache_log(struct cache *c, enum cache_log_kind kind, int err,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	time_t now = time(NULL);

	if (c->log == NULL || (c->last_log[kind] != 0 &&
	    now - c->last_log[kind] < 60))
		return;
	c->last_log[kind] = now;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	c->log(err, msg);
}

struct cache *
cache_open(const char *spec, const struct cache_opts *o,
    const unsigned char key[CACHE_KEY_LEN], char *err, size_t errlen)
{
	struct cache *c;
	size_t i;

	for (i = 0; i < sizeof backends / sizeof backends[0]; i++) {
		size_t pl = strlen(backends[i].prefix);
		if (backends[i].has_path ? strncmp(spec, backends[i].prefix,
		    pl) == 0 && spec[pl] != '\0' :
		    strcmp(spec, backends[i].prefix) == 0)
			break;
	}
	if (i == sizeof backends / sizeof backends[0]) {
		snprintf(err, errlen, "unknown session store '%s'", spec);
		return NULL;
	}
	if ((c = calloc(1, sizeof *c)) == NULL)
		abort();
	c->be = backends[i].be;
	c->o = *o;
	c->st = &c->own;
	if (backends[i].has_path &&
	    (c->path = strdup(spec + strlen(backends[i].prefix))) == NULL)
		abort();
	if (key != NULL) {
		memcpy(c->key, key, CACHE_KEY_LEN);
		c->have_key = 1;
	}
	if (c->be->prepare(c, err, errlen) != 0) {
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
	if (c->be->close != NULL)
		c->be->close(c);
	for (i = 0; i < c->pg_ndead; i++)
		free(c->pg_dead[i].k);
	free(c->pg_dead);
	free(c->pg_cursor);
	EVP_CIPHER_CTX_free(c->cctx);
	EVP_CIPHER_free(c->aead);
	OPENSSL_cleanse(c->key, sizeof c->key);
	free(c->path);
	free(c);
}

const char *
cache_kind(const struct cache *c)
{
	return c->be->name;
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

/* ----------------------------------------------------------- records */

static void
put_u64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t
get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Parse a header: 0 if well formed (version and length agree). */
int
cache_rec_times(const unsigned char *v, size_t vl, time_t *created,
    time_t *expires)
{
	if (vl < REC_HDR + REC_TAG || v[0] != REC_VERSION)
		return -1;
	if ((size_t)get_u32(v + 20) != vl - REC_HDR - REC_TAG)
		return -1;
	*created = (time_t)get_u64(v + 4);
	*expires = (time_t)get_u64(v + 12);
	return 0;
}

static int
aead_ready(struct cache *c)
{
	if (c->cctx != NULL)
		return 0;
	if ((c->aead = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)) == NULL ||
	    (c->cctx = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	return 0;
}

static int
seal(struct cache *c, const unsigned char *id, size_t idlen,
    const unsigned char *data, size_t len, time_t created, time_t expires,
    unsigned char *out)
{
	EVP_CIPHER_CTX *x = c->cctx;
	int n, f;

	out[0] = REC_VERSION;
	out[1] = out[2] = out[3] = 0;
	put_u64(out + 4, (uint64_t)created);
	put_u64(out + 12, (uint64_t)expires);
	put_u32(out + 20, (uint32_t)len);
	if (RAND_bytes(out + 24, REC_NONCE) != 1)
		return -1;
	if (EVP_EncryptInit_ex2(x, c->aead, c->key, out + 24, NULL) != 1 ||
	    EVP_EncryptUpdate(x, NULL, &n, id, (int)idlen) != 1 ||
	    EVP_EncryptUpdate(x, NULL, &n, out, REC_HDR) != 1 ||
	    EVP_EncryptUpdate(x, out + REC_HDR, &n, data, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(x, out + REC_HDR + n, &f) != 1 ||
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, REC_TAG,
	    out + REC_HDR + len) != 1)
		return -1;
	return 0;
}

static int
unseal(struct cache *c, const unsigned char *id, size_t idlen,
    const unsigned char *v, size_t vl, unsigned char *out)
{
	EVP_CIPHER_CTX *x = c->cctx;
	size_t len = vl - REC_HDR - REC_TAG;
	int n, f;

	if (EVP_DecryptInit_ex2(x, c->aead, c->key, v + 24, NULL) != 1 ||
	    EVP_DecryptUpdate(x, NULL, &n, id, (int)idlen) != 1 ||
	    EVP_DecryptUpdate(x, NULL, &n, v, REC_HDR) != 1 ||
	    EVP_DecryptUpdate(x, out, &n, v + REC_HDR, (int)len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, REC_TAG,
	    (void *)(v + REC_HDR + len)) != 1 ||
	    EVP_DecryptFinal_ex(x, out + n, &f) != 1)
		return -1;
	return 0;
}

int
cache_store(struct cache *c, const unsigned char *id, size_t idlen,
    const unsigned char *data, size_t len, time_t created, time_t expires)
{
	unsigned char *rec;
	size_t rl = REC_HDR + len + REC_TAG;
	int r;

	if (!c->be->stores)
		return -1;
	if (!c->have_key || idlen == 0 || idlen > CACHE_MAX_ID ||
	    rl > CACHE_MAX_RECORD || aead_ready(c) != 0) {
		c->st->store_failures++;
		return -1;
	}
	if ((rec = malloc(rl)) == NULL ||
	    seal(c, id, idlen, data, len, created, expires, rec) != 0) {
		free(rec);
		c->st->store_failures++;
		return -1;
	}
	r = c->be->put(c, id, idlen, rec, rl);
	free(rec);
	if (r == 0)
		c->st->stores++;
	else if (r == 1)
		c->st->full++;
	else
		c->st->store_failures++;
	return r;
}

/* Remove a record found unusable; counts as a miss for the caller. */
static void
drop(struct cache *c, const unsigned char *id, size_t idlen)
{
	struct cache_key k = { (unsigned char *)id, idlen };
	size_t n = 0;

	if (c->be->del(c, &k, 1, &n) < 0)
		c->st->errors++;
}

int
cache_fetch(struct cache *c, const unsigned char *id, size_t idlen,
    unsigned char **data, size_t *len)
{
	unsigned char *v = NULL, *out;
	time_t created, expires;
	size_t vl;
	int r;

	if (!c->be->stores || !c->have_key || aead_ready(c) != 0)
		return 0;
	r = c->be->get(c, id, idlen, &v, &vl);
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
	if ((out = malloc(vl - REC_HDR - REC_TAG + 1)) == NULL ||
	    unseal(c, id, idlen, v, vl, out) != 0) {
		free(out);
		free(v);
		c->st->misses++;
		drop(c, id, idlen);
		return 0;
	}
	*len = vl - REC_HDR - REC_TAG;
	*data = out;
	free(v);
	c->st->hits++;
	return 1;
}

int
cache_remove(struct cache *c, const unsigned char *id, size_t idlen)
{
	struct cache_key k = { (unsigned char *)id, idlen };
	size_t n = 0;

	if (!c->be->stores)
		return 0;
	if (c->be->del(c, &k, 1, &n) < 0) {
		c->st->errors++;
		return -1;
	}
	c->st->removes += n;
	return 0;
}

/* ------------------------------------------------------------ purging */

int
cache_keep_dead(struct cache *c, const unsigned char *k, size_t kl)
{
	if (c->pg_ndead == c->pg_cap) {
		size_t nc = c->pg_cap ? c->pg_cap * 2 : 256;
		struct cache_key *nk = realloc(c->pg_dead, nc * sizeof *nk);
		if (nk == NULL)
			return -1;
		c->pg_dead = nk;
		c->pg_cap = nc;
	}
	if ((c->pg_dead[c->pg_ndead].k = malloc(kl ? kl : 1)) == NULL)
		return -1;
	memcpy(c->pg_dead[c->pg_ndead].k, k, kl);
	c->pg_dead[c->pg_ndead].kl = kl;
	c->pg_ndead++;
	return 0;
}

static int
mark_expired(const unsigned char *k, size_t kl, const unsigned char *v,
    size_t vl, void *arg)
{
	struct cache *c = arg;
	time_t created, expires;

	(void)k;
	(void)kl;
	if (cache_rec_times(v, vl, &created, &expires) != 0 || expires <= c->pg_now)
		return 1;
	c->pg_kept++;
	return 0;
}

static void
purge_reset(struct cache *c)
{
	size_t i;

	for (i = 0; i < c->pg_ndead; i++)
		free(c->pg_dead[i].k);
	c->pg_ndead = c->pg_done = c->pg_kept = 0;
	free(c->pg_cursor);
	c->pg_cursor = NULL;
	c->pg_cursor_len = 0;
	c->pg_restarts = 0;
	c->pg_phase = 0;
}

int
cache_purge_step(struct cache *c, time_t now)
{
	int r;

	if (!c->be->stores)
		return 0;
	if (c->pg_phase == 0) {
		purge_reset(c);
		c->pg_phase = 1;
		c->pg_now = now;
	}
	if (c->pg_phase == 1) {
		r = c->be->scan(c, PURGE_SLICE, mark_expired, c);
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
	/* The count is not set from this pass: records stored or removed by
	 * other processes between slices would make it drift.  The backend
	 * keeps it exact at each insert and removal. */
	purge_reset(c);
	return 0;
}

int
cache_purge_due(struct cache *c, time_t now)
{
	if (!c->be->stores || c->pg_phase != 0)
		return 0;
	return c->be->purge_claim(c, now, c->o.purge_interval,
	    c->o.max_entries) == 1;
}

int
cache_purge_due_interval(struct cache *c, time_t now)
{
	if (!c->be->stores || c->pg_phase != 0)
		return 0;
	return c->be->purge_claim(c, now, c->o.purge_interval,
	    LONG_MAX) == 1;
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
	struct cache      *c;
	struct cache_info *info;
	time_t             now;
	int (*fn)(const struct cache_entry *, void *);
	void              *arg;
	int                stop;
};

static int
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
	return 0;
}

static int
walk(struct cache *c, struct info_arg *a)
{
	int r;

	purge_reset(c);
	c->pg_phase = 1;
	while ((r = c->be->scan(c, PURGE_SLICE, visit, a)) == 1 && !a->stop)
		;
	purge_reset(c);
	return r < 0 ? -1 : 0;
}

int
cache_info(struct cache *c, time_t now, struct cache_info *info)
{
	struct info_arg a = { c, info, now, NULL, NULL, 0 };
	struct stat st;

	memset(info, 0, sizeof *info);
	if (!c->be->stores)
		return -1;
	if (c->path != NULL && stat(c->path, &st) == 0)
		info->file_size = st.st_size;
	if (c->be->totals != NULL)
		c->be->totals(c, info);
	return walk(c, &a);
}

int
cache_list(struct cache *c, int (*fn)(const struct cache_entry *, void *),
    void *arg)
{
	struct info_arg a = { c, NULL, 0, fn, arg, 0 };

	if (!c->be->stores)
		return -1;
	return walk(c, &a);
}

int
cache_clear(struct cache *c)
{
	if (!c->be->stores)
		return -1;
	return c->be->clear(c);
}

int
cache_read_key(const char *path, unsigned char key[CACHE_KEY_LEN], char *err,
    size_t errlen)
{
	unsigned char buf[CACHE_KEY_LEN + 1];
	struct stat st;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "seal-key-file '%s': %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
		snprintf(err, errlen, "seal-key-file '%s': readable by group or "
		    "others (mode %03o); chmod 600 it", path,
		    (unsigned)st.st_mode & 0777);
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof buf);
	close(fd);
	if (n != CACHE_KEY_LEN) {
		snprintf(err, errlen, "seal-key-file '%s': must hold exactly %d "
		    "bytes (head -c 32 /dev/urandom), not %zd", path,
		    CACHE_KEY_LEN, n);
		return -1;
	}
	memcpy(key, buf, CACHE_KEY_LEN);
	OPENSSL_cleanse(buf, sizeof buf);
	return 0;
}
