/*
 * tickets.c - session-ticket keys, with session-tickets = true.
 *
 * A stateless ticket is the session encrypted (AES-CBC) and authenticated
 * (HMAC-SHA256) under a key only the server knows; the key's 16-byte name
 * travels in the clear at the front of the ticket, so the server finds
 * the key again.  OpenSSL asks for keys through one callback (key_cb):
 * "a key to encrypt with, and its name" or "the key of this name".  Two
 * sources:
 *
 * FILES (ticket-key-files): nginx's ssl_session_ticket_key format, read
 * by the master at start and on each reload.  80 bytes: name[16],
 * HMAC key[32], AES-256 key[32]; 48 bytes: name[16], AES-128 key[16],
 * HMAC key[16].  The first file encrypts, all decrypt; a ticket opened
 * with another than the first is renewed (the callback answers 2, and
 * the client gets a ticket under the first key).  The operator rotates
 * by replacing the files and reloading.
 *
 * ROTATION (no files): time is cut in slots of ticket-key-period seconds
 * (slot n = unix time / period, the same on every host with a sane
 * clock).  Slot n's key encrypts during slot n and decrypts as long as a
 * ticket made in it may live: until (n + 1) * period + the session
 * timeout.  Then it is wiped.  A key's name says which slot it is for:
 *     period (u32) | slot (u64) | tag (4 random bytes)
 * so decryption finds it at ring[slot % TICKET_RING] in O(1); the tag
 * tells this host's key for a slot from another host's.
 *
 * Where the keys live, and why.  The ring is a MAP_SHARED anonymous
 * mapping the master makes once, before any fork, and keeps across
 * reloads: every worker of every generation sees the same slots, so a
 * ticket made by one worker opens in another, and a reload loses no
 * ticket.  A slot's key is made by whichever process first needs it (the
 * worker timer, half a period ahead; or a handshake), under a robust
 * process-shared mutex (a worker that dies holding it does not wedge
 * the others).  Keys are random bytes (RAND_bytes), never derived: the
 * other design, one long-lived secret in the master and HKDF(secret,
 * slot) per slot, needs no shared memory but has no forward secrecy: who
 * reads that secret once can rebuild every past key and open every
 * recorded ticket.  Here a key is wiped (OPENSSL_cleanse) when its slot
 * leaves the decrypt window, so a compromise reveals only the keys of
 * the last timeout + 2 periods.  The mapping is excluded from core dumps
 * and, when the limits allow, locked in memory (no swap).
 *
 * FARM (rotation, and a store on a server: cache_shares()): the key of
 * each slot is agreed through the store (cache_share, record
 * "ticket-key:PERIOD:SLOT", sealed with the seal key, first offer wins).
 * Each worker asks for the current and the next slot when it starts and
 * then at the middle of each slot, so the answer is in the ring before
 * the slot begins and no handshake waits for it; a key still missing is
 * asked for again every second.  For the first GRACE seconds of a worker
 * (the store's connection is still being made; a request under way) a
 * handshake that finds no key for the current slot gets no ticket rather
 * than one under a key other hosts will not know.  Past that, or at a
 * slot's start with the store silent (or answering with a value that
 * does not open: another seal key), the slot's key is made here, logged
 * and counted (ticket_keys_local): tickets of that slot resume on this
 * host only, until the store answers (asked again every second): the
 * farm's key then encrypts, and the one made here still decrypts (and
 * renews) the tickets made under it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ev.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cachetd.h"

#define NAME_LEN   16
#define KEY_FILE   80          /* name, HMAC key, AES-256 key */
#define KEY_FILE48 48          /* name, AES-128 key, HMAC key */
#define MAX_PEND   4           /* store requests in flight per worker */
#define GRACE      3           /* seconds after start the store has to
                                * answer before keys are made here */
#define RETRY_SOON 0.2         /* seconds: a missing key, in the grace */
#define RETRY      1.0         /* a missing key, later (store down) */

struct tkey {
	unsigned char name[NAME_LEN];
	unsigned char hmac[32];
	unsigned char aes[32];
	int           aes256;       /* 0: a 48-byte file (AES-128, 16-byte
	                             * HMAC key) */
};

enum { SLOT_EMPTY = 0, SLOT_LOCAL, SLOT_SHARED };

struct slot {
	uint32_t    period;
	int64_t     n;
	int         state;
	struct tkey k;          /* encrypts (in the slot), decrypts */
	struct tkey alt;        /* decrypts only: the key made here before
	                         * the farm's arrived */
	int         has_alt;
};

struct ticket_ring {
	pthread_mutex_t lock;
	struct slot     s[TICKET_RING];
};

struct tickets {
	struct tkey        *files;  /* ticket-key-files, or NULL: rotation */
	size_t              nfiles;
	struct ticket_ring *ring;
	uint32_t            period;
	long                timeout;
	struct cache       *cache;  /* shares keys (a store on a server) */

	/* in a worker */
	struct worker_stats *st;
	struct ev_loop     *loop;
	ev_timer            tick;
	int                 share;  /* the store may be asked */
	int64_t             pend[MAX_PEND]; /* slots asked for; -1 free */
	time_t              grace;  /* until then, no key yet is no ticket */
	time_t              last_ask_log; /* "the store gave no key" */
	time_t              last_log;
};

/* A request to the store for one slot's key. */
struct share_req {
	struct tickets *t;
	uint32_t        period;
	int64_t         n;
};

static int ex_index = -1;

/* ------------------------------------------------------------ keys */

static void
put_be(unsigned char *p, uint64_t v, int len)
{
	int i;

	for (i = len - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t
get_be(const unsigned char *p, int len)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < len; i++)
		v = v << 8 | p[i];
	return v;
}

/* The 80-byte form (nginx's file layout): what files hold and what the
 * store shares. */
static void
key_bytes(const struct tkey *k, unsigned char out[KEY_FILE])
{
	memcpy(out, k->name, NAME_LEN);
	memcpy(out + 16, k->hmac, 32);
	memcpy(out + 48, k->aes, 32);
}

static int
key_parse(const unsigned char *b, size_t len, struct tkey *k)
{
	memset(k, 0, sizeof *k);
	memcpy(k->name, b, NAME_LEN);
	if (len == KEY_FILE) {
		memcpy(k->hmac, b + 16, 32);
		memcpy(k->aes, b + 48, 32);
		k->aes256 = 1;
		return 0;
	}
	if (len == KEY_FILE48) {
		memcpy(k->aes, b + 16, 16);
		memcpy(k->hmac, b + 32, 16);
		return 0;
	}
	return -1;
}

/* A fresh key for slot n. */
static int
key_make(uint32_t period, int64_t n, struct tkey *k)
{
	memset(k, 0, sizeof *k);
	put_be(k->name, period, 4);
	put_be(k->name + 4, (uint64_t)n, 8);
	k->aes256 = 1;
	if (RAND_bytes(k->name + 12, 4) != 1 ||
	    RAND_bytes(k->hmac, sizeof k->hmac) != 1 ||
	    RAND_bytes(k->aes, sizeof k->aes) != 1)
		return -1;
	return 0;
}

/* ticket-key-files: mode 0600 (as seal-key-file: refused otherwise),
 * 80 or 48 bytes. */
static int
key_read(const char *path, const struct conf_at *at, struct tkey *k,
    char *err, size_t errlen)
{
	unsigned char buf[KEY_FILE + 1];
	struct stat st;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		config_err(err, errlen, at, "ticket-key-files '%s': %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
		config_err(err, errlen, at, "ticket-key-files '%s': readable "
		    "by group or others (mode %03o); chmod 600 it", path,
		    (unsigned)st.st_mode & 0777);
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof buf);
	close(fd);
	if (n < 0 || key_parse(buf, (size_t)n, k) != 0) {
		config_err(err, errlen, at, "ticket-key-files '%s': must hold "
		    "exactly 80 bytes (head -c 80 /dev/urandom) or 48, not %zd",
		    path, n);
		OPENSSL_cleanse(buf, sizeof buf);
		return -1;
	}
	OPENSSL_cleanse(buf, sizeof buf);
	return 0;
}

/* ------------------------------------------------------------ the ring */

struct ticket_ring *
tickets_ring_new(void)
{
	struct ticket_ring *r;
	pthread_mutexattr_t a;

	r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		return NULL;
	(void)madvise(r, sizeof *r, MADV_DONTDUMP);
	(void)mlock(r, sizeof *r);      /* best effort: RLIMIT_MEMLOCK */
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&r->lock, &a);
	pthread_mutexattr_destroy(&a);
	return r;
}

static void
ring_lock(struct ticket_ring *r)
{
	/* The owner died holding it: a slot it was filling is still
	 * SLOT_EMPTY (the state is written last), so the ring is usable;
	 * at worst one key is half written, and its tickets do not
	 * resume. */
	if (pthread_mutex_lock(&r->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&r->lock);
}

static struct slot *
ring_at(struct tickets *t, int64_t n)
{
	return &t->ring->s[(uint64_t)n % TICKET_RING];
}

/* Can slot s still open tickets at now? */
static int
slot_live(const struct tickets *t, const struct slot *s, time_t now)
{
	return s->state != SLOT_EMPTY &&
	    (s->n + 1) * (int64_t)s->period + t->timeout > (int64_t)now;
}

/* Forget the keys that can no longer open a ticket.  Under the lock. */
static void
ring_wipe(struct tickets *t, time_t now)
{
	size_t i;

	for (i = 0; i < TICKET_RING; i++) {
		struct slot *s = &t->ring->s[i];
		if (s->state != SLOT_EMPTY && !slot_live(t, s, now)) {
			s->state = SLOT_EMPTY;
			s->has_alt = 0;
			OPENSSL_cleanse(&s->k, sizeof s->k);
			OPENSSL_cleanse(&s->alt, sizeof s->alt);
		}
	}
}

/* Slot n of this period, or NULL (no key yet).  Under the lock. */
static struct slot *
ring_find_locked(struct tickets *t, int64_t n)
{
	struct slot *s = ring_at(t, n);

	if (s->state == SLOT_EMPTY || s->period != t->period || s->n != n ||
	    !slot_live(t, s, time(NULL)))
		return NULL;
	return s;
}

/* Slot n's key of this period into *k: 0, or -1 (none yet).  Under the
 * lock. */
static int
ring_get_locked(struct tickets *t, int64_t n, struct tkey *k)
{
	struct slot *s = ring_find_locked(t, n);

	if (s == NULL)
		return -1;
	if (k != NULL)
		*k = s->k;
	return 0;
}

/* Has slot n the farm's key (SLOT_SHARED), one made here, or none? */
static int
ring_state(struct tickets *t, int64_t n)
{
	struct slot *s;
	int state;

	ring_lock(t->ring);
	s = ring_find_locked(t, n);
	state = s != NULL ? s->state : SLOT_EMPTY;
	pthread_mutex_unlock(&t->ring->lock);
	return state;
}

static int
ring_get(struct tickets *t, int64_t n, struct tkey *k)
{
	int r;

	ring_lock(t->ring);
	r = ring_get_locked(t, n, k);
	pthread_mutex_unlock(&t->ring->lock);
	return r;
}

/* Put k in slot n unless the slot has a key already; *k becomes the
 * slot's key either way.  The farm's key (SLOT_SHARED) also replaces one
 * made here, which then only decrypts: tickets made under it still open
 * on this host, and new ones open on every host.  1: put, 0: one was
 * there.  The place may hold a live key of another period (a reload
 * changed ticket-key-period): the new period wins.  Within one period
 * places never collide: TICKET_SLOTS <= TICKET_RING (config.c). */
static int
ring_put(struct tickets *t, int64_t n, struct tkey *k, int state)
{
	struct slot *s = ring_at(t, n), *had;
	int r = 1;

	ring_lock(t->ring);
	ring_wipe(t, time(NULL));
	if ((had = ring_find_locked(t, n)) != NULL && state == SLOT_SHARED &&
	    had->state == SLOT_LOCAL) {
		had->alt = had->k;
		had->has_alt = 1;
		had->k = *k;
		had->state = SLOT_SHARED;
	} else if (had != NULL) {
		*k = had->k;
		r = 0;
	} else {
		s->state = SLOT_EMPTY;
		OPENSSL_cleanse(&s->alt, sizeof s->alt);
		s->period = t->period;
		s->n = n;
		s->k = *k;
		s->has_alt = 0;
		s->state = state;       /* last: see ring_lock */
	}
	pthread_mutex_unlock(&t->ring->lock);
	return r;
}

/* Slot n's key, made here if it has none yet. */
static int
ring_make(struct tickets *t, int64_t n, struct tkey *k)
{
	int r;

	if (ring_get(t, n, k) == 0)
		return 0;
	if (key_make(t->period, n, k) != 0)
		return -1;
	r = ring_put(t, n, k, SLOT_LOCAL);
	if (r == 1 && t->cache != NULL) {
		if (t->st != NULL)
			t->st->ticket_keys_local++;
		if (log_ratelimit(&t->last_log, 60))
			log_warn("session tickets: no key from the store for "
			    "slot %" PRId64 "; made one on this host: its "
			    "tickets resume here only", n);
	}
	return 0;
}

/* ------------------------------------------------------ store requests */

static int
pending(const struct tickets *t, int64_t n)
{
	int i;

	for (i = 0; i < MAX_PEND; i++)
		if (t->pend[i] == n)
			return 1;
	return 0;
}

static void
set_pending(struct tickets *t, int64_t n, int on)
{
	int i;

	for (i = 0; i < MAX_PEND; i++)
		if (on ? t->pend[i] == -1 : t->pend[i] == n) {
			t->pend[i] = on ? n : -1;
			return;
		}
}

/* Run tick() again within delay seconds (sooner if it is due sooner). */
static void
tick_within(struct tickets *t, double delay)
{
	if (ev_is_active(&t->tick) &&
	    ev_timer_remaining(t->loop, &t->tick) <= delay)
		return;
	ev_timer_stop(t->loop, &t->tick);
	ev_timer_set(&t->tick, delay, 0.);
	ev_timer_start(t->loop, &t->tick);
}

/* The store's answer for one slot: the farm's key, into the ring; none,
 * and the slot is asked for again soon. */
static void
share_done(void *arg, int r, unsigned char *v, size_t vl)
{
	struct share_req *q = arg;
	struct tickets *t = q->t;
	struct tkey k;

	set_pending(t, q->n, 0);
	if (r == 1 && vl == KEY_FILE && key_parse(v, vl, &k) == 0 &&
	    get_be(k.name, 4) == q->period &&
	    (int64_t)get_be(k.name + 4, 8) == q->n && q->period == t->period) {
		(void)ring_put(t, q->n, &k, SLOT_SHARED);
	} else {
		if (log_ratelimit(&t->last_ask_log, 60))
			log_warn("session tickets: the store gave no key for "
			    "slot %" PRId64 " (%s)", q->n, r < 0 ?
			    "unreachable" : "absent, or sealed with another "
			    "seal-key-file");
		if (t->loop != NULL && q->period == t->period)
			tick_within(t, time(NULL) < t->grace ? RETRY_SOON :
			    RETRY);
	}
	OPENSSL_cleanse(&k, sizeof k);
	if (v != NULL) {
		OPENSSL_cleanse(v, vl);
		free(v);
	}
	free(q);
}

/* Offer a fresh key for slot n; the store answers with the farm's. */
static void
share_ask(struct tickets *t, int64_t n)
{
	struct share_req *q;
	struct tkey k;
	unsigned char b[KEY_FILE], *v = NULL;
	char name[64];
	size_t vl = 0;
	int r;

	/* pending(t, -1): a free entry for one more request */
	if (pending(t, n) || !pending(t, -1) ||
	    key_make(t->period, n, &k) != 0)
		return;
	key_bytes(&k, b);
	OPENSSL_cleanse(&k, sizeof k);
	snprintf(name, sizeof name, "ticket-key:%" PRIu32 ":%" PRId64,
	    t->period, n);
	q = xmalloc(sizeof *q);
	q->t = t;
	q->period = t->period;
	q->n = n;
	set_pending(t, n, 1);
	/* the record outlives the slot's decrypt window; asked for up to a
	 * period before the slot starts */
	r = cache_share_start(t->cache, name, b, sizeof b,
	    2 * (long)t->period + t->timeout, &v, &vl, share_done, q);
	OPENSSL_cleanse(b, sizeof b);
	if (r != CACHE_PENDING)
		share_done(q, r, v, vl);
}

/* Half-way through each slot: forget old keys; have the next slot's key
 * (and the current one's, at start or after a failure) ready. */
static void
tick(struct tickets *t)
{
	double now = ev_time(), mid;
	int64_t n = (int64_t)now / t->period;
	struct tkey k;

	ring_lock(t->ring);
	ring_wipe(t, (time_t)now);
	pthread_mutex_unlock(&t->ring->lock);
	if (t->share) {
		if (ring_state(t, n) != SLOT_SHARED)
			share_ask(t, n);
		if (ring_state(t, n + 1) != SLOT_SHARED)
			share_ask(t, n + 1);
		/* The farm's key still missing (the store not connected yet,
		 * or down): ask again soon rather than at the middle of the
		 * slot; a key made here meanwhile is replaced when it comes. */
		if ((ring_state(t, n) != SLOT_SHARED && !pending(t, n)) ||
		    (ring_state(t, n + 1) != SLOT_SHARED && !pending(t, n + 1))) {
			tick_within(t, (time_t)now < t->grace ? RETRY_SOON :
			    RETRY);
			return;
		}
	} else {
		(void)ring_make(t, n, &k);
		(void)ring_make(t, n + 1, &k);
		OPENSSL_cleanse(&k, sizeof k);
	}
	mid = (double)n * t->period + t->period / 2.0;
	if (mid <= now)
		mid += t->period;
	ev_timer_stop(t->loop, &t->tick);
	ev_timer_set(&t->tick, mid - now, 0.);
	ev_timer_start(t->loop, &t->tick);
}

static void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	tick(w->data);
}

/* ------------------------------------------------------------ OpenSSL */

static int
use_key(const struct tkey *k, unsigned char *iv, EVP_CIPHER_CTX *cctx,
    EVP_MAC_CTX *hctx, int enc)
{
	const EVP_CIPHER *c = k->aes256 ? EVP_aes_256_cbc() :
	    EVP_aes_128_cbc();
	OSSL_PARAM p[3];

	p[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    (void *)k->hmac, k->aes256 ? 32 : 16);
	p[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	p[2] = OSSL_PARAM_construct_end();
	if (EVP_MAC_CTX_set_params(hctx, p) != 1)
		return -1;
	if (enc)
		return EVP_EncryptInit_ex(cctx, c, NULL, k->aes, iv) == 1 ?
		    0 : -1;
	return EVP_DecryptInit_ex(cctx, c, NULL, k->aes, iv) == 1 ? 0 : -1;
}

/* The key to encrypt with: 0, 1 (none: issue no ticket), -1. */
static int
key_for_encrypt(struct tickets *t, struct tkey *k)
{
	int64_t n;

	if (t->files != NULL) {
		*k = t->files[0];
		return 0;
	}
	n = (int64_t)time(NULL) / t->period;
	if (ring_get(t, n, k) == 0)
		return 0;
	if (t->share && (pending(t, n) || time(NULL) < t->grace))
		return 1;       /* the farm's key is on its way */
	return ring_make(t, n, k);
}

/* The key named name: 0 and *renew (a ticket to replace: not the key
 * that encrypts now), or -1. */
static int
key_for_decrypt(struct tickets *t, const unsigned char *name,
    struct tkey *k, int *renew)
{
	size_t i;
	uint32_t period;
	int64_t n;
	struct slot *s;
	time_t now = time(NULL);

	if (t->files != NULL) {
		for (i = 0; i < t->nfiles; i++)
			if (memcmp(t->files[i].name, name, NAME_LEN) == 0) {
				*k = t->files[i];
				*renew = i != 0;
				return 0;
			}
		return -1;
	}
	period = (uint32_t)get_be(name, 4);
	n = (int64_t)get_be(name + 4, 8);
	if (period == 0 || n < 0)
		return -1;
	s = &t->ring->s[(uint64_t)n % TICKET_RING];
	ring_lock(t->ring);
	if (s->state == SLOT_EMPTY || s->period != period || s->n != n ||
	    !slot_live(t, s, now)) {
		pthread_mutex_unlock(&t->ring->lock);
		return -1;
	}
	if (memcmp(s->k.name, name, NAME_LEN) == 0) {
		*k = s->k;
		*renew = period != t->period || n != (int64_t)now / period;
	} else if (s->has_alt && memcmp(s->alt.name, name, NAME_LEN) == 0) {
		*k = s->alt;
		*renew = 1;     /* onto the farm's key */
	} else {
		pthread_mutex_unlock(&t->ring->lock);
		return -1;
	}
	pthread_mutex_unlock(&t->ring->lock);
	return 0;
}

static int
key_cb(SSL *ssl, unsigned char name[NAME_LEN], unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct tickets *t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl),
	    ex_index);
	struct tkey k;
	int r, renew = 0;

	if (t == NULL)
		return 0;       /* no ticket, or a full handshake */
	if (enc) {
		/* no key: no ticket (a full handshake next time), never a
		 * failed handshake */
		if (key_for_encrypt(t, &k) != 0)
			return 0;
		memcpy(name, k.name, NAME_LEN);
		r = RAND_bytes(iv, EVP_CIPHER_get_iv_length(k.aes256 ?
		    EVP_aes_256_cbc() : EVP_aes_128_cbc())) == 1 &&
		    use_key(&k, iv, cctx, hctx, 1) == 0 ? 1 : -1;
	} else if (key_for_decrypt(t, name, &k, &renew) != 0) {
		if (t->st != NULL)
			t->st->tickets_unknown++;
		return 0;       /* unknown or forgotten: full handshake */
	} else {
		r = use_key(&k, iv, cctx, hctx, 0) == 0 ? 1 + renew : -1;
		if (r == 2 && t->st != NULL)
			t->st->tickets_renewed++;
	}
	OPENSSL_cleanse(&k, sizeof k);
	return r;
}

/* ---------------------------------------------------------- life */

struct tickets *
tickets_new(const struct config *cf, struct ticket_ring *ring,
    struct cache *cache, char *err, size_t errlen)
{
	struct tickets *t = xcalloc(1, sizeof *t);
	size_t i;

	t->ring = ring;
	t->period = (uint32_t)cf->ticket_key_period;
	t->timeout = cf->cache.timeout;
	for (i = 0; i < MAX_PEND; i++)
		t->pend[i] = -1;
	if (cf->nticket_key_files > 0) {
		t->files = xcalloc(cf->nticket_key_files, sizeof *t->files);
		t->nfiles = cf->nticket_key_files;
		for (i = 0; i < t->nfiles; i++)
			if (key_read(cf->ticket_key_files[i], &cf->tkfiles_at,
			    &t->files[i], err, errlen) != 0) {
				tickets_free(t);
				return NULL;
			}
		return t;
	}
	if (cache_shares(cache)) {
		t->cache = cache;
		if (cf->cache.seal_key_file == NULL)
			log_warn("session tickets: keys are shared through the "
			    "store sealed with the seal key, but no "
			    "seal-key-file is set: other hosts cannot open "
			    "this host's keys (give every host the same file)");
	}
	return t;
}

void
tickets_free(struct tickets *t)
{
	if (t == NULL)
		return;
	if (t->files != NULL) {
		OPENSSL_cleanse(t->files, t->nfiles * sizeof *t->files);
		free(t->files);
	}
	free(t);
}

int
tickets_setup(SSL_CTX *ctx, struct tickets *t)
{
	if (t == NULL)
		return 0;
	if (ex_index < 0 && (ex_index = SSL_CTX_get_ex_new_index(0, NULL,
	    NULL, NULL, NULL)) < 0)
		return -1;
	if (SSL_CTX_set_ex_data(ctx, ex_index, t) != 1)
		return -1;
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, key_cb);
	return 0;
}

void
tickets_worker(struct tickets *t, struct ev_loop *loop,
    struct worker_stats *st, int share)
{
	if (t == NULL)
		return;
	t->st = st;
	if (t->files != NULL || t->ring == NULL)
		return;
	t->loop = loop;
	t->share = share && t->cache != NULL;
	t->grace = time(NULL) + GRACE;
	ev_init(&t->tick, tick_cb);
	t->tick.data = t;
	tick(t);                /* now: before the first handshake */
}

size_t
tickets_held(struct tickets *t)
{
	size_t i, n = 0;

	if (t == NULL)
		return 0;
	if (t->files != NULL)
		return t->nfiles;
	if (t->ring == NULL)
		return 0;
	ring_lock(t->ring);
	for (i = 0; i < TICKET_RING; i++)
		n += (t->ring->s[i].state != SLOT_EMPTY) + t->ring->s[i].has_alt;
	pthread_mutex_unlock(&t->ring->lock);
	return n;
}

void
tickets_stop(struct tickets *t, struct ev_loop *loop)
{
	if (t != NULL && t->loop != NULL)
		ev_timer_stop(loop, &t->tick);
}
