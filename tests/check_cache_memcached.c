/*
 * check_cache_memcached.c - the memcached store against real memcached
 * processes (started here on free loopback ports, stopped after each
 * test): records round-trip under "cachet:HEX" with memcached's TTL; on a
 * real libev loop a fetch is CACHE_PENDING and its callback brings the
 * record; a stopped server (SIGSTOP) answers -1 at the fetch-timeout
 * while the loop keeps running its timers; a killed one answers -1 from
 * the lookup thread, before the deadline; close answers what is pending;
 * a server on a unix socket works as one on TCP.
 * Skipped (77) when memcached is not installed.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "cache.h"
#include "cache_int.h"      /* the backend's add, through the table */
#include "check_run.h"

#define MEMCACHED "/usr/bin/memcached"
#define TMO       50        /* ms: the fetch-timeout of these tests */

static unsigned char key1[CACHE_KEY_LEN], key2[CACHE_KEY_LEN];
static pid_t mpid[2];
static int mport[2];

/* A port nobody listens on now (the kernel's pick, released). */
static int
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof a;
	int s = socket(AF_INET, SOCK_STREAM, 0), p;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &al), 0);
	p = ntohs(a.sin_port);
	close(s);
	return p;
}

static int
connect_to(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int s = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
		close(s);
		return -1;
	}
	return s;
}

/* Start memcached number i on a free port; bounded: 5 ports, 5 s each. */
static void
start_memcached(int i)
{
	char portarg[16];
	int tries, n, s, st;

	for (tries = 0; tries < 5; tries++) {
		mport[i] = free_port();
		snprintf(portarg, sizeof portarg, "%d", mport[i]);
		if ((mpid[i] = fork()) == 0) {
			/* quiet: it reports our probes' short connections */
			if (freopen("/dev/null", "w", stderr) == NULL)
				_exit(127);
			execl(MEMCACHED, "memcached", "-l", "127.0.0.1", "-p",
			    portarg, "-U", "0", "-m", "16", "-t", "1", "-u",
			    "root", (char *)NULL);
			_exit(127);
		}
		for (n = 0; n < 500; n++) {
			if ((s = connect_to(mport[i])) >= 0) {
				close(s);
				return;
			}
			if (waitpid(mpid[i], &st, WNOHANG) == mpid[i])
				break;  /* port taken meanwhile: another */
			usleep(10000);
		}
		kill(mpid[i], SIGKILL);
		waitpid(mpid[i], &st, 0);
	}
	ck_abort_msg("memcached did not start");
}

static void
stop_memcached(int i)
{
	int st;

	if (mpid[i] <= 0)
		return;
	kill(mpid[i], SIGCONT);
	kill(mpid[i], SIGKILL);
	waitpid(mpid[i], &st, 0);
	mpid[i] = 0;
}

/* SIGSTOP server i and wait (2 s at most) until every thread of it is
 * stopped: kill() returns before they are. */
static void
pause_memcached(int i)
{
	char path[64], line[512];
	int n, running = 1;
	FILE *f;

	ck_assert_int_eq(kill(mpid[i], SIGSTOP), 0);
	for (n = 0; n < 200 && running; n++) {
		snprintf(path, sizeof path, "/proc/%d/stat", (int)mpid[i]);
		running = 0;
		if ((f = fopen(path, "r")) != NULL) {
			char *p = fgets(line, sizeof line, f) != NULL ?
			    strrchr(line, ')') : NULL;

			running = p == NULL || p[2] != 'T';
			fclose(f);
		}
		if (running)
			usleep(10000);
	}
	ck_assert_msg(!running, "memcached did not stop");
}

static void
setup(void)
{
	memset(key1, 1, sizeof key1);
	memset(key2, 2, sizeof key2);
	start_memcached(0);
}

static void
teardown(void)
{
	stop_memcached(0);
	stop_memcached(1);
}

/* One text-protocol command to server i; its whole answer in out. */
static void
text_cmd(int i, const char *cmd, char *out, size_t len)
{
	int s = connect_to(mport[i]);
	size_t n = 0;
	ssize_t r;

	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(write(s, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
	/* a meta no-op after it: its MN ends the answer */
	ck_assert_int_eq(write(s, "mn\r\n", 4), 4);
	out[0] = '\0';
	while (n + 1 < len && (r = read(s, out + n, len - n - 1)) > 0) {
		n += (size_t)r;
		out[n] = '\0';
		if (n >= 4 && strcmp(out + n - 4, "MN\r\n") == 0) {
			out[n - 4] = '\0';
			break;
		}
	}
	close(s);
}

static char logged[4096];
static void
log_hook(int err, const char *msg)
{
	(void)err;
	strncat(logged, msg, sizeof logged - strlen(logged) - 2);
	strcat(logged, "\n");
}

static struct cache *
open_mc(const char *servers, const unsigned char *key, long tmo) /* ms */
{
	struct cache_opts o = { .timeout = 300, .max_entries = 1000,
	    .purge_interval = 60, .uid = (uid_t)-1, .gid = (gid_t)-1,
	    .fetch_timeout = tmo / 1000. };
	char spec[256], err[256];
	struct cache *c;

	snprintf(spec, sizeof spec, "memcached:%s", servers);
	c = cache_open(spec, &o, key, err, sizeof err);
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(cache_attach(c), 0);
	logged[0] = '\0';
	cache_set_log(c, log_hook);
	return c;
}

static struct cache *
open_tmo(const unsigned char *key, long tmo)
{
	char s[64];

	snprintf(s, sizeof s, "127.0.0.1:%d", mport[0]);
	return open_mc(s, key, tmo);
}

/* A fetch-timeout that a busy machine (the suite in parallel, under
 * ASan) does not reach: for the tests that are not about it. */
static struct cache *
open_one(const unsigned char *key)
{
	return open_tmo(key, 2000);
}

static int
put(struct cache *c, const char *id, const char *data, time_t expires)
{
	return cache_store(c, (const unsigned char *)id, strlen(id),
	    (const unsigned char *)data, strlen(data), time(NULL), expires);
}

static int
fetch_eq(struct cache *c, const char *id, const char *want)
{
	unsigned char *d;
	size_t n;
	int r = cache_fetch(c, (const unsigned char *)id, strlen(id), &d, &n);

	if (r != 1)
		return r;
	r = n == strlen(want) && memcmp(d, want, n) == 0 ? 1 : -2;
	free(d);
	return r;
}

/* ------------------------------------------------ synchronous calls */

START_TEST(spec_check)
{
	static const struct {
		const char *spec;
		const char *why;        /* NULL: valid */
	} cases[] = {
		{ "memcached:127.0.0.1:11211", NULL },
		{ "memcached:a.example:1,b.example:2,[::1]:3", NULL },
		{ "memcached:localhost", NULL },
		{ "memcached:[::1]", NULL },
		{ "memcached:/run/memcached/memcached.sock", NULL },
		{ "memcached:", "HOST:PORT,... missing" },
		{ "memcached", "HOST:PORT,... missing" },
		{ "memcached:a:0", "the port is not a number from 1 to 65535" },
		{ "memcached:a:65536", "the port is not" },
		{ "memcached:a:x1", "the port is not" },
		{ "memcached:a:", "the port is not" },
		{ "memcached:a,,b", "an empty server" },
		{ "memcached:a,", "an empty server" },
		{ "memcached:::1:11211", "[ADDRESS]:PORT" },
		{ "memcached:[::1", "[ADDRESS]:PORT" },
		{ "memcached:[::1]x", "':' expected" },
		{ "memcached:[zz]:1", "not an IPv6 address" },
		{ "memcached:a b:1", "not a host name" },
		{ "memcached::11211", "host missing" },
	};
	char err[256];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		err[0] = '\0';
		if (cases[i].why == NULL) {
			ck_assert_msg(cache_spec_check(cases[i].spec, err,
			    sizeof err) == 0, "%s: %s", cases[i].spec, err);
			continue;
		}
		ck_assert_msg(cache_spec_check(cases[i].spec, err,
		    sizeof err) == -1, "%s accepted", cases[i].spec);
		ck_assert_msg(strstr(err, cases[i].why) != NULL,
		    "%s: want '%s' in '%s'", cases[i].spec, cases[i].why, err);
	}
}
END_TEST

/* Stored under "cachet:" + hex with memcached's TTL; fetched, removed;
 * nothing to purge; another seal key or a garbage value is a miss. */
START_TEST(sync_store_fetch)
{
	struct cache *c = open_one(key1), *c2;
	char out[4096];
	long ttl = 0;
	char *p;

	ck_assert_int_eq(cache_keeps_records(c), 1);
	ck_assert_int_eq(cache_needs_purge(c), 0);
	ck_assert_int_eq(put(c, "ab", "hello", time(NULL) + 100), 0);
	ck_assert_int_eq(fetch_eq(c, "ab", "hello"), 1);
	ck_assert_int_eq(fetch_eq(c, "zz", "x"), 0);
	/* the key on the server, and its TTL (meta get: t) */
	text_cmd(0, "mg cachet:6162 t v\r\n", out, sizeof out);
	ck_assert_msg((p = strstr(out, " t")) != NULL, "%s", out);
	ttl = strtol(p + 2, NULL, 10);
	ck_assert_msg(ttl > 90 && ttl <= 100, "ttl %ld: %s", ttl, out);
	ck_assert_ptr_null(strstr(out, "hello"));    /* sealed */
	/* an expired record is not stored at all */
	ck_assert_int_eq(put(c, "old", "x", time(NULL) - 1), 0);
	text_cmd(0, "mg cachet:6f6c64 v\r\n", out, sizeof out);
	ck_assert_msg(strncmp(out, "EN", 2) == 0, "%s", out);
	/* another seal key: a miss */
	c2 = open_one(key2);
	ck_assert_int_eq(fetch_eq(c2, "ab", "hello"), 0);
	cache_close(c2);
	/* garbage under the key: a miss, removed */
	ck_assert_int_eq(put(c, "cd", "data", time(NULL) + 100), 0);
	text_cmd(0, "set cachet:6364 0 100 7\r\ngarbage\r\n", out, sizeof out);
	ck_assert_str_eq(out, "STORED\r\n");
	ck_assert_int_eq(fetch_eq(c, "cd", "data"), 0);
	text_cmd(0, "mg cachet:6364 v\r\n", out, sizeof out);
	ck_assert_msg(strncmp(out, "EN", 2) == 0, "%s", out);
	/* the record of another ID moved under this one: a miss */
	ck_assert_int_eq(put(c, "ef", "data", time(NULL) + 100), 0);
	ck_assert_int_eq(cache_remove(c, (const unsigned char *)"ab", 2), 0);
	ck_assert_int_eq(fetch_eq(c, "ab", "hello"), 0);
	ck_assert_int_eq(cache_purge_step(c, time(NULL)), 0);
	ck_assert_uint_eq(c->st->errors, 0);
	cache_close(c);
}
END_TEST

/* add: stored if absent, then what is there (the first value wins). */
START_TEST(sync_add)
{
	struct cache *c = open_one(key1);
	unsigned char *out = NULL;
	size_t outl = 0;

	ck_assert_int_eq(c->be->add(c, (const unsigned char *)"slot", 4,
	    (const unsigned char *)"one", 3, time(NULL) + 60, &out, &outl), 1);
	ck_assert_uint_eq(outl, 3);
	ck_assert_int_eq(memcmp(out, "one", 3), 0);
	free(out);
	ck_assert_int_eq(c->be->add(c, (const unsigned char *)"slot", 4,
	    (const unsigned char *)"two", 3, time(NULL) + 60, &out, &outl), 1);
	ck_assert_int_eq(memcmp(out, "one", 3), 0);
	free(out);
	cache_close(c);
}
END_TEST

/* A dead server: -1 at once, logged with the server; no loop needed. */
START_TEST(sync_dead_server)
{
	struct cache *c = open_one(key1);

	ck_assert_int_eq(put(c, "ab", "hello", time(NULL) + 100), 0);
	stop_memcached(0);
	ck_assert_int_eq(fetch_eq(c, "ab", "hello"), -1);
	ck_assert_uint_eq(c->st->errors, 1);
	ck_assert_msg(strstr(logged, "fetch") != NULL, "%s", logged);
	ck_assert_int_eq(put(c, "cd", "x", time(NULL) + 100), -1);
	cache_close(c);
}
END_TEST

/* Keys spread over two servers (ketama), every one found again. */
START_TEST(two_servers)
{
	char s[128], out[4096], id[16];
	struct cache *c;
	long items[2];
	int i, k;

	start_memcached(1);
	snprintf(s, sizeof s, "127.0.0.1:%d,127.0.0.1:%d", mport[0], mport[1]);
	c = open_mc(s, key1, 2000);
	for (k = 0; k < 100; k++) {
		snprintf(id, sizeof id, "id%d", k);
		ck_assert_int_eq(put(c, id, id, time(NULL) + 100), 0);
	}
	for (k = 0; k < 100; k++) {
		snprintf(id, sizeof id, "id%d", k);
		ck_assert_int_eq(fetch_eq(c, id, id), 1);
	}
	for (i = 0; i < 2; i++) {
		char *p;

		text_cmd(i, "stats\r\n", out, sizeof out);
		ck_assert_ptr_nonnull(p = strstr(out, "STAT curr_items "));
		items[i] = strtol(p + 16, NULL, 10);
		ck_assert_msg(items[i] > 10, "server %d: %ld", i, items[i]);
	}
	ck_assert_int_eq(items[0] + items[1], 100);
	cache_close(c);
}
END_TEST

/* A server on a unix socket: "memcached:/path". */
START_TEST(unix_socket)
{
	char dir[] = "/tmp/check_mc.XXXXXX", sock[64], spec[80];
	struct cache *c;
	pid_t pid;
	int n, st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof sock, "%s/mc.sock", dir);
	if ((pid = fork()) == 0) {
		if (freopen("/dev/null", "w", stderr) == NULL)
			_exit(127);
		execl(MEMCACHED, "memcached", "-s", sock, "-m", "16", "-t",
		    "1", "-u", "root", (char *)NULL);
		_exit(127);
	}
	for (n = 0; n < 500 && access(sock, F_OK) != 0; n++)
		usleep(10000);
	snprintf(spec, sizeof spec, "%s", sock);
	c = open_mc(spec, key1, 2000);
	ck_assert_int_eq(put(c, "ab", "over a socket", time(NULL) + 100), 0);
	ck_assert_int_eq(fetch_eq(c, "ab", "over a socket"), 1);
	ck_assert_uint_eq(c->st->errors, 0);
	cache_close(c);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	unlink(sock);
	rmdir(dir);
}
END_TEST

/* ------------------------------------------------------ on a loop */

struct answer {
	int            calls, r;
	unsigned char *data;
	size_t         len;
	ev_tstamp      at;
	struct ev_loop *loop;
};

static void
answered(void *arg, int r, unsigned char *data, size_t len)
{
	struct answer *a = arg;

	a->calls++;
	a->r = r;
	free(a->data);
	a->data = data;
	a->len = len;
	if (a->loop != NULL) {
		ev_now_update(a->loop);
		a->at = ev_now(a->loop);
		ev_break(a->loop, EVBREAK_ALL);
	}
}

static int ticks;
static void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	ticks++;
}

static void
guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* Run loop until a's callback ran, 5 s at most. */
static void
run_until(struct ev_loop *loop, struct answer *a)
{
	ev_timer guard;

	ev_timer_init(&guard, guard_cb, 5., 0.);
	ev_timer_start(loop, &guard);
	a->loop = loop;
	if (a->calls == 0)
		ev_run(loop, 0);
	ev_timer_stop(loop, &guard);
}

static int
start_fetch(struct cache *c, const char *id, struct answer *a)
{
	unsigned char *d = NULL;
	size_t n = 0;

	return cache_fetch_start(c, (const unsigned char *)id, strlen(id), &d,
	    &n, answered, a);
}

/* Stores go to the thread; a fetch is pending, then brings the record;
 * a miss is 0; removes are counted when done. */
START_TEST(loop_fetch)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct cache *c = open_one(key1);
	struct answer a = { 0 }, b = { 0 };

	ck_assert_int_eq(cache_set_loop(c, loop), 0);
	ck_assert_int_eq(put(c, "ab", "hello", time(NULL) + 100), 0);
	ck_assert_int_eq(start_fetch(c, "ab", &a), CACHE_PENDING);
	ck_assert_int_eq(a.calls, 0);
	run_until(loop, &a);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(a.r, 1);
	ck_assert_uint_eq(a.len, 5);
	ck_assert_int_eq(memcmp(a.data, "hello", 5), 0);
	ck_assert_int_eq(start_fetch(c, "nothere", &b), CACHE_PENDING);
	run_until(loop, &b);
	ck_assert_int_eq(b.calls, 1);
	ck_assert_int_eq(b.r, 0);
	ck_assert_int_eq(cache_remove(c, (const unsigned char *)"ab", 2), 0);
	memset(&b, 0, sizeof b);
	ck_assert_int_eq(start_fetch(c, "ab", &b), CACHE_PENDING);
	run_until(loop, &b);
	ck_assert_int_eq(b.r, 0);
	ck_assert_uint_eq(c->st->removes, 1);
	ck_assert_uint_eq(c->st->hits, 1);
	ck_assert_uint_eq(c->st->errors, 0);
	free(a.data);
	cache_close(c);
	ck_assert_int_eq(a.calls, 1);   /* close answers nothing twice */
	ev_loop_destroy(loop);
}
END_TEST

/* A stopped server: -1 at the deadline, by the loop itself, while the
 * loop keeps running other timers; the late answer is dropped. */
START_TEST(loop_stopped_server)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct cache *c = open_tmo(key1, TMO);
	struct answer a = { 0 }, b = { 0 };
	ev_timer tick;
	ev_tstamp t0;
	int i;

	ck_assert_int_eq(cache_set_loop(c, loop), 0);
	ck_assert_int_eq(put(c, "ab", "hello", time(NULL) + 100), 0);
	/* the thread connected and the put done (on a busy machine the
	 * first round trip may miss the 50 ms: again, a few times) */
	for (i = 0; i < 20 && b.r != 1; i++) {
		memset(&b, 0, sizeof b);
		ck_assert_int_eq(start_fetch(c, "ab", &b), CACHE_PENDING);
		run_until(loop, &b);
		free(b.data);
	}
	ck_assert_int_eq(b.r, 1);
	c->st->errors = 0;
	logged[0] = '\0';
	memset(c->last_log, 0, sizeof c->last_log);
	pause_memcached(0);
	ev_timer_init(&tick, tick_cb, 0.005, 0.005);
	ev_timer_start(loop, &tick);
	ticks = 0;
	ev_now_update(loop);
	t0 = ev_now(loop);
	ck_assert_int_eq(start_fetch(c, "ab", &a), CACHE_PENDING);
	run_until(loop, &a);
	ev_timer_stop(loop, &tick);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(a.r, -1);
	ck_assert_msg(a.at - t0 >= TMO / 1000. - 0.002, "answered after "
	    "%.3f s, before the deadline", a.at - t0);
	ck_assert_msg(a.at - t0 < 2., "answered after %.3f s", a.at - t0);
	ck_assert_msg(ticks >= 3, "the loop ran %d ticks while waiting",
	    ticks);
	ck_assert_msg(strstr(logged, "no answer within 50 ms") != NULL, "%s",
	    logged);
	ck_assert_uint_eq(c->st->errors, 1);
	kill(mpid[0], SIGCONT);
	cache_close(c);                 /* joins the thread: bounded */
	ck_assert_int_eq(a.calls, 1);
	ev_loop_destroy(loop);
}
END_TEST

/* A killed server: the thread answers -1 (connection refused), not the
 * deadline (2 s here, so that a busy machine does not get there first). */
START_TEST(loop_killed_server)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct cache *c = open_one(key1);
	struct answer a = { 0 };

	ck_assert_int_eq(cache_set_loop(c, loop), 0);
	stop_memcached(0);
	ck_assert_int_eq(start_fetch(c, "ab", &a), CACHE_PENDING);
	run_until(loop, &a);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(a.r, -1);
	ck_assert_msg(strstr(logged, "fetch:") != NULL &&
	    strstr(logged, "no answer within") == NULL, "%s", logged);
	ck_assert_uint_eq(c->st->errors, 1);
	cache_close(c);
	ev_loop_destroy(loop);
}
END_TEST

/* Which server (0 or 1) holds the record of id, or -1. */
static int
holder(const char *id)
{
	char cmd[128], out[4096];
	size_t i;
	int n;

	n = snprintf(cmd, sizeof cmd, "mg cachet:");
	for (i = 0; id[i] != '\0'; i++)
		n += snprintf(cmd + n, sizeof cmd - (size_t)n, "%02x",
		    (unsigned char)id[i]);
	snprintf(cmd + n, sizeof cmd - (size_t)n, " v\r\n");
	for (n = 0; n < 2; n++) {
		text_cmd(n, cmd, out, sizeof out);
		if (strncmp(out, "VA", 2) == 0)
			return n;
	}
	return -1;
}

/* A stopped server holds the lookups of its own keys only: a key on the
 * other server is answered meanwhile (a thread per server). */
START_TEST(loop_stall_isolated)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct answer a = { 0 }, b = { 0 };
	char s[128], id[16], on[2][16];
	struct cache *c;
	int k, h;

	start_memcached(1);
	snprintf(s, sizeof s, "127.0.0.1:%d,127.0.0.1:%d", mport[0], mport[1]);
	c = open_mc(s, key1, 1000);
	on[0][0] = on[1][0] = '\0';
	for (k = 0; k < 40 && (on[0][0] == '\0' || on[1][0] == '\0'); k++) {
		snprintf(id, sizeof id, "s%d", k);
		ck_assert_int_eq(put(c, id, id, time(NULL) + 100), 0);
		if ((h = holder(id)) >= 0 && on[h][0] == '\0')
			snprintf(on[h], sizeof on[h], "%s", id);
	}
	ck_assert_msg(on[0][0] != '\0' && on[1][0] != '\0', "keys spread");
	ck_assert_int_eq(cache_set_loop(c, loop), 0);
	pause_memcached(0);
	ck_assert_int_eq(start_fetch(c, on[0], &a), CACHE_PENDING);
	ck_assert_int_eq(start_fetch(c, on[1], &b), CACHE_PENDING);
	run_until(loop, &b);
	ck_assert_int_eq(b.calls, 1);
	ck_assert_int_eq(b.r, 1);
	ck_assert_int_eq(a.calls, 0);   /* still waiting on server 0 */
	run_until(loop, &a);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(a.r, -1);
	free(b.data);
	kill(mpid[0], SIGCONT);
	cache_close(c);
	ev_loop_destroy(loop);
}
END_TEST

/* close answers every pending fetch (-1), once, and joins the thread
 * even while it waits on a stopped server. */
START_TEST(loop_close_pending)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct cache *c = open_tmo(key1, TMO);
	struct answer a[3];
	int i;

	memset(a, 0, sizeof a);
	ck_assert_int_eq(cache_set_loop(c, loop), 0);
	pause_memcached(0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(start_fetch(c, "ab", &a[i]), CACHE_PENDING);
	cache_close(c);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(a[i].calls, 1);
		ck_assert_int_eq(a[i].r, -1);
	}
	ev_loop_destroy(loop);
}
END_TEST

/* Many fetches in flight at once, all answered, each once (a generous
 * fetch-timeout: the thread takes them one by one, on a busy machine). */
START_TEST(loop_many)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct cache *c = open_tmo(key1, 3000);
	static struct answer a[200];
	char id[16];
	int i, hits = 0, calls = 0;

	memset(a, 0, sizeof a);
	ck_assert_int_eq(cache_set_loop(c, loop), 0);
	for (i = 0; i < 100; i++) {
		snprintf(id, sizeof id, "m%d", i);
		ck_assert_int_eq(put(c, id, id, time(NULL) + 100), 0);
	}
	for (i = 0; i < 200; i++) {
		snprintf(id, sizeof id, "m%d", i);
		ck_assert_int_eq(start_fetch(c, id, &a[i]), CACHE_PENDING);
	}
	run_until(loop, &a[199]);
	/* the answers come in order: all there once the last is */
	for (i = 0; i < 200; i++) {
		calls += a[i].calls;
		hits += a[i].calls == 1 && a[i].r == 1;
		free(a[i].data);
	}
	ck_assert_int_eq(calls, 200);
	ck_assert_int_eq(hits, 100);
	cache_close(c);
	ev_loop_destroy(loop);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("cache_memcached");
	TCase *tc = tcase_create("memcached");

	if (access(MEMCACHED, X_OK) != 0) {
		printf("# %s not installed: skipped\n", MEMCACHED);
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, spec_check);
	tcase_add_test(tc, sync_store_fetch);
	tcase_add_test(tc, sync_add);
	tcase_add_test(tc, sync_dead_server);
	tcase_add_test(tc, two_servers);
	tcase_add_test(tc, unix_socket);
	tcase_add_test(tc, loop_fetch);
	tcase_add_test(tc, loop_stopped_server);
	tcase_add_test(tc, loop_killed_server);
	tcase_add_test(tc, loop_close_pending);
	tcase_add_test(tc, loop_stall_isolated);
	tcase_add_test(tc, loop_many);
	suite_add_tcase(s, tc);
	return check_run(s);
}
