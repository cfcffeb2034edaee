/* check_cache_redis.c - the Redis backend against a real redis-server
 * started by the test on a free loopback port: the synchronous face the
 * tools use (store, fetch, remove, add: the first value stays), the
 * record's TTL, and the asynchronous face a worker uses on its libev loop
 * (a fetch answered later, a miss, add_start; a stopped server answered
 * -1 after the bound and then at once while the link is down; close
 * answering what is pending). */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <hiredis/hiredis.h>

#include "cache.h"
#include "cache_int.h"
#include "check_run.h"

static pid_t redis_pid;
static int redis_port;
static char spec[64];
static unsigned char key1[CACHE_KEY_LEN];
static const unsigned char id1[32] = "0123456789abcdef0123456789abcdef";
static const unsigned char id2[32] = "fedcba9876543210fedcba9876543210";

static int
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static redisContext *
admin(void)
{
	struct timeval tv = { 1, 0 };

	return redisConnectWithTimeout("127.0.0.1", redis_port, tv);
}

static void
setup(void)
{
	char port[16];
	int i;

	redis_port = free_port();
	snprintf(port, sizeof port, "%d", redis_port);
	snprintf(spec, sizeof spec, "redis:127.0.0.1:%d", redis_port);
	memset(key1, 7, sizeof key1);
	if ((redis_pid = fork()) == 0) {
		execlp("redis-server", "redis-server", "--port", port, "--bind",
		    "127.0.0.1", "--save", "", "--appendonly", "no",
		    "--logfile", "/dev/null", (char *)NULL);
		_exit(127);
	}
	ck_assert_int_gt(redis_pid, 0);
	for (i = 0; i < 100; i++) {     /* up to 10 s */
		redisContext *r = admin();
		redisReply *rep = r != NULL && !r->err ?
		    redisCommand(r, "PING") : NULL;
		int up = rep != NULL && rep->type == REDIS_REPLY_STATUS;

		if (rep != NULL)
			freeReplyObject(rep);
		if (r != NULL)
			redisFree(r);
		if (up)
			return;
		usleep(100000);
	}
	ck_abort_msg("redis-server did not start");
}

static void
teardown(void)
{
	kill(redis_pid, SIGCONT);
	kill(redis_pid, SIGTERM);
	waitpid(redis_pid, NULL, 0);
}

/* The store's key of a 32-byte ID: "cachet:" and its hex. */
static const char *
key_of(const unsigned char id[32])
{
	static char k[8 + 64];
	int i;

	strcpy(k, "cachet:");
	for (i = 0; i < 32; i++)
		sprintf(k + 7 + 2 * i, "%02x", id[i]);
	return k;
}

static struct cache *
open_redis(double fetch_timeout)
{
	struct cache_opts o = { .timeout = 300, .max_entries = 1000,
	    .purge_interval = 60, .uid = (uid_t)-1, .gid = (gid_t)-1,
	    .fetch_timeout = fetch_timeout };
	char err[256];
	struct cache *c = cache_open(spec, &o, key1, err, sizeof err);

	ck_assert_msg(c != NULL, "%s", err);
	return c;
}

START_TEST(sync_store_fetch_remove)
{
	struct cache *c = open_redis(0);
	unsigned char *data, *out;
	size_t len, outl;
	time_t now = time(NULL);
	redisContext *r;
	redisReply *rep;

	ck_assert(cache_keeps_records(c));
	ck_assert(!cache_needs_purge(c));       /* Redis expires records */
	ck_assert_int_eq(cache_store(c, id1, sizeof id1,
	    (const unsigned char *)"session one", 11, now, now + 100), 0);
	ck_assert_int_eq(cache_fetch(c, id1, sizeof id1, &data, &len), 1);
	ck_assert_uint_eq(len, 11);
	ck_assert(memcmp(data, "session one", 11) == 0);
	free(data);
	ck_assert_int_eq(cache_fetch(c, id2, sizeof id2, &data, &len), 0);

	/* the TTL is the record's expiry; the bytes are sealed */
	r = admin();
	rep = redisCommand(r, "PTTL %s", key_of(id1));
	ck_assert_int_eq(rep->type, REDIS_REPLY_INTEGER);
	ck_assert_int_gt(rep->integer, 90000);
	ck_assert_int_le(rep->integer, 100000);
	freeReplyObject(rep);
	rep = redisCommand(r, "GET %s", key_of(id1));
	ck_assert_int_eq(rep->type, REDIS_REPLY_STRING);
	ck_assert(memmem(rep->str, rep->len, "session one", 11) == NULL);
	freeReplyObject(rep);
	redisFree(r);

	ck_assert_int_eq(cache_remove(c, id1, sizeof id1), 0);
	ck_assert_int_eq(cache_fetch(c, id1, sizeof id1, &data, &len), 0);

	/* add: the first value stays, and is what both are told */
	ck_assert_int_eq(cache_backend_redis.add(c, id2, sizeof id2,
	    (const unsigned char *)"first", 5, now + 100, &out, &outl), 1);
	ck_assert(outl == 5 && memcmp(out, "first", 5) == 0);
	free(out);
	ck_assert_int_eq(cache_backend_redis.add(c, id2, sizeof id2,
	    (const unsigned char *)"second", 6, now + 100, &out, &outl), 1);
	ck_assert(outl == 5 && memcmp(out, "first", 5) == 0);
	free(out);
	cache_close(c);
}
END_TEST

/* ------------------------------------------------------ asynchronous */

struct answer {
	int            n;       /* callbacks so far */
	int            r;
	unsigned char *data;
	size_t         len;
};

static void
answered(void *arg, int r, unsigned char *data, size_t len)
{
	struct answer *a = arg;

	a->n++;
	a->r = r;
	a->data = data;
	a->len = len;
}

static void
tick(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
}

/* Turn the loop until *flag or 10 s (a hang, not a speed check). */
static void
run_until(struct ev_loop *loop, const int *flag)
{
	ev_timer t;
	int i;

	ev_timer_init(&t, tick, 0.01, 0.01);
	ev_timer_start(loop, &t);
	for (i = 0; i < 1000 && !*flag; i++)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &t);
	ck_assert_msg(*flag, "no answer within 10 s");
}

static void
done_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	*(int *)t->data = 1;
}

/* The link is up once a fetch is sent rather than answered at once;
 * tries for up to 10 s, turning the loop 0.1 s between tries. */
static void
wait_link(struct ev_loop *loop, struct cache *c)
{
	struct answer a = { 0 };
	unsigned char *data;
	size_t len;
	int i, r = -1, slept;
	ev_timer t;

	for (i = 0; i < 100; i++) {
		r = cache_fetch_start(c, id2, sizeof id2, &data, &len,
		    answered, &a);
		if (r == CACHE_PENDING)
			break;
		slept = 0;
		ev_timer_init(&t, done_cb, 0.1, 0.);
		t.data = &slept;
		ev_timer_start(loop, &t);
		while (!slept)
			ev_run(loop, EVRUN_ONCE);
	}
	ck_assert_int_eq(r, CACHE_PENDING);
	run_until(loop, &a.n);
	free(a.data);
}

START_TEST(async_fetch)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct cache *c = open_redis(0);
	struct answer a = { 0 };
	unsigned char *data;
	size_t len;
	time_t now = time(NULL);

	ck_assert_int_eq(cache_store(c, id1, sizeof id1,
	    (const unsigned char *)"session one", 11, now, now + 100), 0);
	ck_assert_int_eq(cache_set_loop(c, loop), 0);
	wait_link(loop, c);

	ck_assert_int_eq(cache_fetch_start(c, id1, sizeof id1, &data, &len,
	    answered, &a), CACHE_PENDING);
	ck_assert_int_eq(a.n, 0);               /* never from inside */
	run_until(loop, &a.n);
	ck_assert_int_eq(a.n, 1);
	ck_assert_int_eq(a.r, 1);
	ck_assert(a.len == 11 && memcmp(a.data, "session one", 11) == 0);
	free(a.data);

	memset(&a, 0, sizeof a);
	ck_assert_int_eq(cache_fetch_start(c, id2, sizeof id2, &data, &len,
	    answered, &a), CACHE_PENDING);
	run_until(loop, &a.n);
	ck_assert_int_eq(a.r, 0);               /* a miss */

	/* put on the loop: sent, then visible to a fetch */
	ck_assert_int_eq(cache_store(c, id2, sizeof id2,
	    (const unsigned char *)"two", 3, now, now + 100), 0);
	memset(&a, 0, sizeof a);
	ck_assert_int_eq(cache_fetch_start(c, id2, sizeof id2, &data, &len,
	    answered, &a), CACHE_PENDING);
	run_until(loop, &a.n);
	ck_assert_int_eq(a.r, 1);
	free(a.data);

	cache_close(c);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(async_stalled_server)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct cache *c = open_redis(0.2);
	struct answer a = { 0 }, b = { 0 };
	unsigned char *data;
	size_t len;

	ck_assert_int_eq(cache_set_loop(c, loop), 0);
	wait_link(loop, c);
	kill(redis_pid, SIGSTOP);
	ck_assert_int_eq(cache_fetch_start(c, id1, sizeof id1, &data, &len,
	    answered, &a), CACHE_PENDING);
	run_until(loop, &a.n);
	ck_assert_int_eq(a.n, 1);
	ck_assert_int_eq(a.r, -1);              /* after the bound */
	ck_assert_uint_eq(cache_stats(c)->fetch_timeouts, 1);
	/* the link is down now: a fetch is a miss at once, not a wait */
	ck_assert_int_eq(cache_fetch_start(c, id1, sizeof id1, &data, &len,
	    answered, &b), -1);
	ck_assert_int_eq(b.n, 0);
	kill(redis_pid, SIGCONT);
	wait_link(loop, c);                     /* and it comes back */

	/* close answers what is pending, before it returns */
	kill(redis_pid, SIGSTOP);
	memset(&a, 0, sizeof a);
	ck_assert_int_eq(cache_fetch_start(c, id1, sizeof id1, &data, &len,
	    answered, &a), CACHE_PENDING);
	cache_close(c);
	ck_assert_int_eq(a.n, 1);
	ck_assert_int_eq(a.r, -1);
	kill(redis_pid, SIGCONT);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(unreachable_server)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct cache *c;
	struct answer a = { 0 };
	unsigned char *data;
	size_t len;
	time_t now = time(NULL);

	kill(redis_pid, SIGTERM);
	waitpid(redis_pid, NULL, 0);
	c = open_redis(0);
	/* tools: an error, not a hang */
	ck_assert_int_eq(cache_fetch(c, id1, sizeof id1, &data, &len), -1);
	ck_assert_int_eq(cache_store(c, id1, sizeof id1,
	    (const unsigned char *)"x", 1, now, now + 10), -1);
	ck_assert_uint_ge(cache_stats(c)->server_errors, 1);
	/* a worker: misses at once */
	ck_assert_int_eq(cache_set_loop(c, loop), 0);
	ck_assert_int_eq(cache_fetch_start(c, id1, sizeof id1, &data, &len,
	    answered, &a), -1);
	ck_assert_int_eq(a.n, 0);
	cache_close(c);
	ev_loop_destroy(loop);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("cache_redis");
	TCase *tc = tcase_create("redis");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sync_store_fetch_remove);
	tcase_add_test(tc, async_fetch);
	tcase_add_test(tc, async_stalled_server);
	tcase_add_test(tc, unreachable_server);
	suite_add_tcase(s, tc);
	return check_run(s);
}
