/* check_share.c - values a farm agrees on (cache_share.c), through a
 * backend of the test's own that implements add and add_start over one
 * in-memory table: the "server" two hosts (two struct cache) share.
 * add_start queues its requests and answers them when the test says, in
 * order, as a server would: so two hosts can offer a value for the same
 * name before either hears back.  What is checked: the first offer wins
 * and both hosts get it, whatever the order of the answers; the store
 * never sees the value in the clear; a value sealed under another key or
 * moved under another name does not open (0, and the store keeps it); an
 * expired record is not used; an unreachable store is -1; a store that
 * cannot share (GDBM) says so. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "cache_int.h"
#include "check_run.h"

#define MAXREC 16
#define MAXQ   16

/* The "server": records, and the add requests not yet answered. */
static struct {
	unsigned char k[MAXREC][CACHE_MAX_ID];
	size_t        kl[MAXREC];
	unsigned char *v[MAXREC];
	size_t        vl[MAXREC];
	time_t        exp[MAXREC];
	int           n;
	int           down;             /* every request fails */
	struct {
		struct cache_req *q;
		unsigned char k[CACHE_MAX_ID], *v;
		size_t kl, vl;
		time_t exp;
	} pend[MAXQ];
	int           np;
	int           adds;             /* add/add_start calls seen */
} srv;

static void
srv_reset(void)
{
	int i;

	for (i = 0; i < srv.n; i++)
		free(srv.v[i]);
	for (i = 0; i < srv.np; i++)
		free(srv.pend[i].v);
	memset(&srv, 0, sizeof srv);
}

static int
srv_find(const unsigned char *k, size_t kl)
{
	int i;

	for (i = 0; i < srv.n; i++)
		if (srv.kl[i] == kl && memcmp(srv.k[i], k, kl) == 0)
			return i;
	return -1;
}

static unsigned char *
dup_bytes(const unsigned char *v, size_t vl)
{
	unsigned char *p = malloc(vl);

	ck_assert_ptr_nonnull(p);
	memcpy(p, v, vl);
	return p;
}

/* SET NX then GET, as one step of the server. */
static int
srv_add(const unsigned char *k, size_t kl, const unsigned char *v,
    size_t vl, time_t exp, unsigned char **out, size_t *outl)
{
	int i;

	if (srv.down)
		return -1;
	if ((i = srv_find(k, kl)) < 0) {
		ck_assert_int_lt(srv.n, MAXREC);
		i = srv.n++;
		memcpy(srv.k[i], k, kl);
		srv.kl[i] = kl;
		srv.v[i] = dup_bytes(v, vl);
		srv.vl[i] = vl;
		srv.exp[i] = exp;
	}
	*out = dup_bytes(srv.v[i], srv.vl[i]);
	*outl = srv.vl[i];
	return 1;
}

static int
mem_put(struct cache *c, const unsigned char *k, size_t kl,
    const unsigned char *v, size_t vl, time_t expires)
{
	(void)c; (void)k; (void)kl; (void)v; (void)vl; (void)expires;
	return -1;
}

static int
mem_get(struct cache *c, const unsigned char *k, size_t kl,
    unsigned char **v, size_t *vl)
{
	(void)c; (void)k; (void)kl; (void)v; (void)vl;
	return 0;
}

static int
mem_del(struct cache *c, const struct cache_key *k, size_t n,
    size_t *removed)
{
	(void)c; (void)k; (void)n;
	*removed = 0;
	return 0;
}

static int
mem_add(struct cache *c, const unsigned char *k, size_t kl,
    const unsigned char *v, size_t vl, time_t expires, unsigned char **out,
    size_t *outl)
{
	(void)c;
	srv.adds++;
	return srv_add(k, kl, v, vl, expires, out, outl);
}

static int
mem_add_start(struct cache *c, const unsigned char *k, size_t kl,
    const unsigned char *v, size_t vl, time_t expires, struct cache_req *q)
{
	(void)c;
	srv.adds++;
	ck_assert_int_lt(srv.np, MAXQ);
	srv.pend[srv.np].q = q;
	memcpy(srv.pend[srv.np].k, k, kl);
	srv.pend[srv.np].kl = kl;
	srv.pend[srv.np].v = dup_bytes(v, vl);
	srv.pend[srv.np].vl = vl;
	srv.pend[srv.np].exp = expires;
	srv.np++;
	return CACHE_PENDING;
}

/* The server handles request i (in arrival order) and answers it. */
static void
srv_answer(int i)
{
	unsigned char *out = NULL;
	size_t outl = 0;
	int r = srv_add(srv.pend[i].k, srv.pend[i].kl, srv.pend[i].v,
	    srv.pend[i].vl, srv.pend[i].exp, &out, &outl);
	struct cache_req *q = srv.pend[i].q;

	free(srv.pend[i].v);
	srv.pend[i].v = NULL;
	cache_get_done(q, r, out, outl);
}

static const struct cache_backend mem_backend = {
	.name = "mem", .keeps = CACHE_KEEPS_RECORDS,
	.put = mem_put, .get = mem_get, .del = mem_del,
	.add = mem_add, .add_start = mem_add_start,
};

static unsigned char key1[CACHE_KEY_LEN], key2[CACHE_KEY_LEN];

static struct cache *
host(const unsigned char *key)
{
	struct cache_opts o = { .timeout = 300, .max_entries = 100,
	    .purge_interval = 60, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	char err[256];
	struct cache *c = cache_new_with(&mem_backend, NULL, &o, key, err,
	    sizeof err);

	ck_assert_msg(c != NULL, "%s", err);
	return c;
}

static void
setup(void)
{
	srv_reset();
	memset(key1, 1, sizeof key1);
	memset(key2, 2, sizeof key2);
}

static void
teardown(void)
{
	srv_reset();
}

/* What an asynchronous answer brought. */
struct got {
	int            calls, r;
	unsigned char *v;
	size_t         vl;
};

static void
got_cb(void *arg, int r, unsigned char *v, size_t vl)
{
	struct got *g = arg;

	g->calls++;
	g->r = r;
	g->v = v;
	g->vl = vl;
}

static const unsigned char A[80] = "value offered by host A";
static const unsigned char B[80] = "value offered by host B";

/* A client picks the session ID it offers: one spelled like a shared
 * value's name must not read it, delete it or overwrite it through the
 * session layer; and a shared value's name must be one a session ID
 * lookup refuses. */
START_TEST(sessions_cannot_reach_shares)
{
	static const char name[] = "ticket-key:60:9";
	struct cache *a = host(key1);
	unsigned char *out;
	size_t outl;
	time_t now = time(NULL);

	ck_assert_int_eq(cache_share(a, name, A, sizeof A, 120, &out, &outl),
	    1);
	free(out);
	ck_assert_int_eq(cache_fetch(a, (const unsigned char *)name,
	    sizeof name - 1, &out, &outl), 0);
	ck_assert_int_eq(cache_remove(a, (const unsigned char *)name,
	    sizeof name - 1), 0);
	ck_assert_int_eq(cache_store(a, (const unsigned char *)name,
	    sizeof name - 1, B, sizeof B, now, now + 60), -1);
	ck_assert_int_eq(srv.n, 1);
	ck_assert_int_eq(cache_share(a, name, B, sizeof B, 120, &out, &outl),
	    1);
	ck_assert_mem_eq(out, A, sizeof A);     /* still the first one */
	free(out);
	ck_assert_int_eq(cache_share(a, "session-like", B, sizeof B, 120,
	    &out, &outl), -1);
	cache_close(a);
}
END_TEST

START_TEST(first_offer_wins)
{
	struct cache *a = host(key1), *b = host(key1);
	unsigned char *out;
	size_t outl;

	ck_assert_int_eq(cache_shares(a), 1);
	ck_assert_int_eq(cache_share(a, "ticket-key:60:7", A, sizeof A, 120,
	    &out, &outl), 1);
	ck_assert_uint_eq(outl, sizeof A);
	ck_assert_mem_eq(out, A, sizeof A);
	free(out);
	/* host B offers another value: it gets A's */
	ck_assert_int_eq(cache_share(b, "ticket-key:60:7", B, sizeof B, 120,
	    &out, &outl), 1);
	ck_assert_mem_eq(out, A, sizeof A);
	free(out);
	/* another name is another value */
	ck_assert_int_eq(cache_share(b, "ticket-key:60:8", B, sizeof B, 120,
	    &out, &outl), 1);
	ck_assert_mem_eq(out, B, sizeof B);
	free(out);
	ck_assert_int_eq(srv.n, 2);
	cache_close(a);
	cache_close(b);
}
END_TEST

/* Both hosts ask before either hears back; the server takes A's request
 * first but answers B first: both end up with A's value. */
START_TEST(concurrent_offers_agree)
{
	struct cache *a = host(key1), *b = host(key1);
	struct got ga = { 0 }, gb = { 0 };
	unsigned char *out = NULL;
	size_t outl = 0;

	ck_assert_int_eq(cache_share_start(a, "ticket-key:60:9", A, sizeof A,
	    120, &out, &outl, got_cb, &ga), CACHE_PENDING);
	ck_assert_int_eq(cache_share_start(b, "ticket-key:60:9", B, sizeof B,
	    120, &out, &outl, got_cb, &gb), CACHE_PENDING);
	ck_assert_int_eq(ga.calls + gb.calls, 0);       /* nothing yet */
	{
		/* the server stores A's offer, then answers B, then A */
		unsigned char *o2;
		size_t o2l;
		ck_assert_int_eq(srv_add(srv.pend[0].k, srv.pend[0].kl,
		    srv.pend[0].v, srv.pend[0].vl, srv.pend[0].exp, &o2,
		    &o2l), 1);
		free(o2);
	}
	srv_answer(1);
	ck_assert_int_eq(gb.calls, 1);
	ck_assert_int_eq(ga.calls, 0);
	srv_answer(0);
	ck_assert_int_eq(ga.calls, 1);
	ck_assert_int_eq(ga.r, 1);
	ck_assert_int_eq(gb.r, 1);
	ck_assert_uint_eq(ga.vl, sizeof A);
	ck_assert_uint_eq(gb.vl, sizeof A);
	ck_assert_mem_eq(ga.v, A, sizeof A);
	ck_assert_mem_eq(gb.v, A, sizeof A);
	free(ga.v);
	free(gb.v);
	ck_assert_int_eq(srv.n, 1);
	cache_close(a);
	cache_close(b);
}
END_TEST

/* The store holds sealed bytes only: the value is not in them. */
START_TEST(store_sees_no_secret)
{
	struct cache *a = host(key1);
	unsigned char *out;
	size_t outl, i;
	unsigned char secret[80];

	memset(secret, 0x5a, sizeof secret);
	ck_assert_int_eq(cache_share(a, "ticket-key:k:1", secret, sizeof secret, 60, &out,
	    &outl), 1);
	free(out);
	ck_assert_int_eq(srv.n, 1);
	ck_assert_uint_eq(srv.vl[0], CACHE_REC_HDR + sizeof secret +
	    CACHE_REC_TAG);
	for (i = 0; i + 8 <= srv.vl[0]; i++)
		ck_assert_msg(memcmp(srv.v[0] + i, secret, 8) != 0,
		    "clear value in the store at %zu", i);
	cache_close(a);
}
END_TEST

/* A host with another seal key cannot open what the farm agreed on: 0,
 * and the record stays for the others. */
START_TEST(other_seal_key)
{
	struct cache *a = host(key1), *x = host(key2);
	unsigned char *out = NULL;
	size_t outl;

	ck_assert_int_eq(cache_share(a, "ticket-key:k:2", A, sizeof A, 60,
	    &out, &outl),
	    1);
	free(out);
	out = NULL;
	ck_assert_int_eq(cache_share(x, "ticket-key:k:2", B, sizeof B, 60,
	    &out, &outl),
	    0);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(srv.n, 1);
	ck_assert_int_eq(cache_share(a, "ticket-key:k:2", B, sizeof B, 60,
	    &out, &outl),
	    1);
	ck_assert_mem_eq(out, A, sizeof A);
	free(out);
	cache_close(a);
	cache_close(x);
}
END_TEST

/* A record moved under another name does not open. */
START_TEST(moved_record)
{
	struct cache *a = host(key1);
	unsigned char *out = NULL;
	size_t outl;

	ck_assert_int_eq(cache_share(a, "ticket-key:k:3", A, sizeof A, 60,
	    &out, &outl),
	    1);
	free(out);
	out = NULL;
	/* the record now sits under ticket-key:k:4 */
	memcpy(srv.k[0], "ticket-key:k:4", sizeof "ticket-key:k:4" - 1);
	ck_assert_int_eq(cache_share(a, "ticket-key:k:4", B, sizeof B, 60,
	    &out, &outl),
	    0);
	ck_assert_ptr_null(out);
	/* and a changed byte is no better */
	memcpy(srv.k[0], "ticket-key:k:3", sizeof "ticket-key:k:3" - 1);
	srv.v[0][CACHE_REC_HDR + 3] ^= 1;
	ck_assert_int_eq(cache_share(a, "ticket-key:k:3", B, sizeof B, 60,
	    &out, &outl),
	    0);
	cache_close(a);
}
END_TEST

/* An expired record (a server that has not dropped it yet) is not used;
 * the expiry is sealed, so it cannot be moved forward. */
START_TEST(expired_record)
{
	struct cache *a = host(key1);
	unsigned char *out = NULL;
	size_t outl;

	ck_assert_int_eq(cache_share(a, "ticket-key:k:5", A, sizeof A, 1, &out, &outl),
	    1);
	free(out);
	out = NULL;
	/* expires = created + 1: rewrite both into the past, unsealed */
	{
		time_t then = time(NULL) - 10;
		int b;
		for (b = 0; b < 8; b++) {
			srv.v[0][4 + 7 - b] = (unsigned char)((uint64_t)then >>
			    (8 * b));
			srv.v[0][12 + 7 - b] = (unsigned char)((uint64_t)(then +
			    1) >> (8 * b));
		}
	}
	ck_assert_int_eq(cache_share(a, "ticket-key:k:5", B, sizeof B, 60,
	    &out, &outl),
	    0);
	ck_assert_ptr_null(out);
	cache_close(a);
}
END_TEST

START_TEST(store_down)
{
	struct cache *a = host(key1);
	struct got g = { 0 };
	unsigned char *out = NULL;
	size_t outl = 0;

	srv.down = 1;
	ck_assert_int_eq(cache_share(a, "ticket-key:k:6", A, sizeof A, 60,
	    &out, &outl),
	    -1);
	ck_assert_int_eq(cache_share_start(a, "ticket-key:k:6", A, sizeof A, 60, &out,
	    &outl, got_cb, &g), CACHE_PENDING);
	srv_answer(0);
	ck_assert_int_eq(g.calls, 1);
	ck_assert_int_eq(g.r, -1);
	ck_assert_ptr_null(g.v);
	ck_assert_uint_ge(cache_stats(a)->errors, 2);
	cache_close(a);
}
END_TEST

/* Bad arguments never reach the store. */
START_TEST(bad_arguments)
{
	struct cache *a = host(key1), *nokey;
	struct cache_opts o = { .timeout = 300, .max_entries = 100,
	    .uid = (uid_t)-1, .gid = (gid_t)-1 };
	char err[256], longname[CACHE_MAX_ID + 2];
	unsigned char *out = NULL;
	size_t outl;

	memset(longname, 'x', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	ck_assert_int_eq(cache_share(a, "", A, sizeof A, 60, &out, &outl), -1);
	ck_assert_int_eq(cache_share(a, longname, A, sizeof A, 60, &out,
	    &outl), -1);
	ck_assert_int_eq(cache_share(a, "ticket-key:k:7", A, sizeof A, 0, &out, &outl),
	    -1);
	nokey = cache_new_with(&mem_backend, NULL, &o, NULL, err, sizeof err);
	ck_assert_int_eq(cache_share(nokey, "ticket-key:k:7", A, sizeof A, 60, &out,
	    &outl), -1);
	ck_assert_int_eq(srv.adds, 0);
	cache_close(nokey);
	cache_close(a);
}
END_TEST

/* Stores on this host do not share: keys stay in each host's memory. */
START_TEST(local_stores_do_not_share)
{
	struct cache_opts o = { .timeout = 300, .max_entries = 100,
	    .uid = (uid_t)-1, .gid = (gid_t)-1 };
	char err[256];
	unsigned char *out = NULL;
	size_t outl;
	struct cache *c;

	ck_assert_int_eq(cache_shares(NULL), 0);
	c = cache_new("gdbm:/nonexistent/s.db", &o, key1, err, sizeof err);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(cache_shares(c), 0);
	ck_assert_int_eq(cache_share(c, "ticket-key:k:8", A, sizeof A, 60,
	    &out, &outl),
	    -1);
	cache_close(c);
	c = cache_new("none", &o, key1, err, sizeof err);
	ck_assert_int_eq(cache_shares(c), 0);
	cache_close(c);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("share");
	TCase *tc = tcase_create("share");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, first_offer_wins);
	tcase_add_test(tc, sessions_cannot_reach_shares);
	tcase_add_test(tc, concurrent_offers_agree);
	tcase_add_test(tc, store_sees_no_secret);
	tcase_add_test(tc, other_seal_key);
	tcase_add_test(tc, moved_record);
	tcase_add_test(tc, expired_record);
	tcase_add_test(tc, store_down);
	tcase_add_test(tc, bad_arguments);
	tcase_add_test(tc, local_stores_do_not_share);
	suite_add_tcase(s, tc);
	return check_run(s);
}
