/*
 * cache_redis.c - the Redis backend: sealed records on a Redis server,
 * shared by every host of a farm, through hiredis.
 *
 *   store = "redis:HOST:PORT"        ("[v6addr]:PORT" too)
 *   store = "redis:unix:/PATH"
 * either followed by "/DB" for a database other than 0.  The password,
 * if any, comes from the session-cache block's password-file (never from
 * the spec: the config may be world-readable); AUTH then SELECT follow
 * every connect.
 *
 * A record is "cachet:" and the hex of its key, set with SET ... PX: the
 * TTL is the record's expiry, so Redis expires records itself and there
 * is no scan and no purge.
 *
 * Two faces:
 * - Tools and the master use the synchronous get/put/del/add: a hiredis
 *   context opened on first use, with a timeout on connect and on every
 *   command.
 * - A worker (set_loop) uses the asynchronous context on its own libev
 *   loop (hiredis' adapter) and never waits: get_start and add_start send
 *   and return CACHE_PENDING, with an ev_timer per request as the bound
 *   (hiredis 0.14 has no timeout of its own for async commands); put and
 *   del send and return.
 *
 * THE LINK (a worker's async context) is DOWN, CONNECTING or READY.
 * Connecting pipelines AUTH, SELECT and a PING; the PING's answer makes it
 * READY.  Fetches are only sent on a READY link; otherwise they are
 * answered -1 at once (a full handshake, not a wait).  Whatever goes
 * wrong (a connect error, AUTH refused, no PING answer within the bound,
 * a fetch not answered within the bound, the server closing) drops the
 * link: hiredis then calls every pending callback with no reply, which
 * answers every pending fetch -1 at once, and a timer reconnects after a
 * backoff (doubling from 0.1 s to 2 s; reset once READY).  A server that
 * accepts and never answers (SIGSTOP) thus costs one fetch the bound,
 * then misses at once while the link is down.
 *
 * A request (struct rreq) lives until hiredis calls its callback, which
 * it always does (a reply, or none when the context goes); its fetch may
 * have been answered before that, by its timer.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <ev.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wcast-qual"
#include <hiredis/adapters/libev.h>
#pragma GCC diagnostic pop

#include "cache_int.h"

#define KEY_PREFIX   "cachet:"
#define BACKOFF_MIN  0.1        /* seconds before the first reconnect */
#define BACKOFF_MAX  2.0
#define SYNC_TIMEOUT 1.0        /* tools: connect and each command */
#define MAX_DB       1000000
#define OBUF_MAX     (4 << 20)  /* bytes queued for a server not reading */

enum link { LINK_DOWN, LINK_CONNECTING, LINK_READY };

struct redis;

/* A fetch (GET, or add's GET) sent on the async link. */
struct rreq {
	struct redis     *rd;
	struct cache_req *q;        /* NULL once answered */
	ev_timer          tm;
};

struct redis {
	struct cache      *c;
	/* where */
	char              *host;        /* NULL: unix socket */
	int                port;
	char              *path;
	long               db;
	char              *password;    /* NULL: none */
	char               where[300];  /* for messages */
	double             timeout;     /* the bound on a fetch */
	/* tools */
	redisContext      *sync;
	/* a worker */
	struct ev_loop    *loop;
	redisAsyncContext *ac;
	enum link          link;
	ev_timer           retry;       /* reconnect after backoff */
	ev_timer           hello;       /* the PING's bound */
	double             backoff;
};

/* ------------------------------------------------------------- the spec */

/* Parse ARG into its parts: 0, or -1 and why in err.  host/path are
 * malloc'd (when wanted: out may be NULL for check). */
static int
parse_arg(const char *arg, struct redis *out, char *err, size_t errlen)
{
	char buf[4096], *slash, *end, *colon, *host;
	long db = 0, port;

	if (strlen(arg) >= sizeof buf) {
		snprintf(err, errlen, "redis: '%s' is too long", arg);
		return -1;
	}
	strcpy(buf, arg);
	/* an optional "/DB": the last slash followed by digits only */
	if ((slash = strrchr(buf, '/')) != NULL && slash[1] != '\0' &&
	    strspn(slash + 1, "0123456789") == strlen(slash + 1) &&
	    slash != buf + 5) {
		errno = 0;
		db = strtol(slash + 1, &end, 10);
		if (errno != 0 || db > MAX_DB) {
			snprintf(err, errlen, "redis: database '%s' is not "
			    "a number from 0 to %d", slash + 1, MAX_DB);
			return -1;
		}
		*slash = '\0';
	}
	if (strncmp(buf, "unix:", 5) == 0) {
		if (buf[5] != '/') {
			snprintf(err, errlen, "redis: 'unix:%s': the socket's "
			    "path must be absolute (\"redis:unix:/run/redis/"
			    "redis-server.sock\")", buf + 5);
			return -1;
		}
		if (out != NULL && (out->path = strdup(buf + 5)) == NULL)
			abort();
		if (out != NULL)
			out->db = db;
		return 0;
	}
	host = buf;
	if (buf[0] == '[') {
		if ((end = strchr(buf, ']')) == NULL || end[1] != ':') {
			snprintf(err, errlen, "redis: '%s' is not "
			    "[ADDRESS]:PORT", arg);
			return -1;
		}
		*end = '\0';
		host = buf + 1;
		colon = end + 1;
	} else if ((colon = strrchr(buf, ':')) == NULL) {
		snprintf(err, errlen, "redis: '%s' is not HOST:PORT or "
		    "unix:PATH (\"redis:127.0.0.1:6379\")", arg);
		return -1;
	} else {
		*colon = '\0';
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 1 ||
	    port > 65535 || !isdigit((unsigned char)colon[1])) {
		snprintf(err, errlen, "redis: port '%s' is not a number from 1 "
		    "to 65535", colon + 1);
		return -1;
	}
	if (host[0] == '\0' || (host == buf && strchr(host, ':') != NULL)) {
		snprintf(err, errlen, "redis: '%s': no host (an IPv6 address "
		    "goes in brackets: \"redis:[::1]:6379\")", arg);
		return -1;
	}
	if (out != NULL) {
		if ((out->host = strdup(host)) == NULL)
			abort();
		out->port = (int)port;
		out->db = db;
	}
	return 0;
}

static int
redis_check(const char *arg, char *err, size_t errlen)
{
	return parse_arg(arg, NULL, err, errlen);
}

static int
redis_open(struct cache *c, char *err, size_t errlen)
{
	struct redis *rd;

	if ((rd = calloc(1, sizeof *rd)) == NULL)
		abort();
	c->be_data = rd;
	rd->c = c;
	if (parse_arg(c->arg, rd, err, errlen) != 0)
		return -1;
	if (c->o.password != NULL && (rd->password =
	    strdup(c->o.password)) == NULL)
		abort();
	rd->timeout = c->o.fetch_timeout > 0 ? c->o.fetch_timeout :
	    CACHE_FETCH_TIMEOUT;
	if (rd->host != NULL)
		snprintf(rd->where, sizeof rd->where, "redis %s%s%s:%d",
		    strchr(rd->host, ':') ? "[" : "", rd->host,
		    strchr(rd->host, ':') ? "]" : "", rd->port);
	else
		snprintf(rd->where, sizeof rd->where, "redis unix:%s",
		    rd->path);
	return 0;
}

/* The key of a record: the prefix and the hex of k (keys stay readable
 * in redis-cli).  out holds sizeof KEY_PREFIX + 2 * kl bytes. */
static size_t
make_key(const unsigned char *k, size_t kl, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, n = sizeof KEY_PREFIX - 1;

	memcpy(out, KEY_PREFIX, n);
	for (i = 0; i < kl; i++) {
		out[n++] = hex[k[i] >> 4];
		out[n++] = hex[k[i] & 15];
	}
	out[n] = '\0';
	return n;
}

/* Milliseconds from now until expires, at least 1. */
static long long
ttl_ms(time_t expires)
{
	time_t now = time(NULL);

	return expires > now ? (long long)(expires - now) * 1000 : 1;
}

/* What a GET answered, as get would return it: 1 with *v, 0, -1. */
static int
got(struct redis *rd, const redisReply *rep, unsigned char **v, size_t *vl)
{
	if (rep == NULL)
		return -1;
	switch (rep->type) {
	case REDIS_REPLY_NIL:
		return 0;
	case REDIS_REPLY_STRING:
		if ((*v = malloc(rep->len > 0 ? rep->len : 1)) == NULL)
			return -1;
		memcpy(*v, rep->str, rep->len);
		*vl = rep->len;
		return 1;
	case REDIS_REPLY_ERROR:
		rd->c->st->server_errors++;
		cache_log(rd->c, CACHE_LOG_IO, 0, "session cache: %s: %s",
		    rd->where, rep->str);
		return -1;
	default:
		return -1;
	}
}

/* ------------------------------------------------- synchronous: tools */

static void
sync_drop(struct redis *rd)
{
	if (rd->sync != NULL)
		redisFree(rd->sync);
	rd->sync = NULL;
}

/* Run one command on the synchronous context; NULL on any failure (then
 * the context is dropped: the next call connects again). */
static redisReply *
sync_cmd(struct redis *rd, const char *fmt, ...)
{
	redisReply *rep;
	va_list ap;

	va_start(ap, fmt);
	rep = redisvCommand(rd->sync, fmt, ap);
	va_end(ap);
	if (rep == NULL) {
		rd->c->st->server_errors++;
		cache_log(rd->c, CACHE_LOG_IO, 0, "session cache: %s: %s",
		    rd->where, rd->sync->errstr);
		sync_drop(rd);
	}
	return rep;
}

/* AUTH or SELECT: 0 when answered OK. */
static int
sync_hello(struct redis *rd, const char *what, redisReply *rep)
{
	int ok;

	if (rep == NULL)
		return -1;
	ok = rep->type == REDIS_REPLY_STATUS;
	if (!ok) {
		rd->c->st->server_errors++;
		cache_log(rd->c, CACHE_LOG_IO, 0, "session cache: %s: %s "
		    "refused: %s", rd->where, what,
		    rep->type == REDIS_REPLY_ERROR ? rep->str : "?");
	}
	freeReplyObject(rep);
	if (!ok)
		sync_drop(rd);
	return ok ? 0 : -1;
}

static int
sync_ready(struct redis *rd)
{
	struct timeval tv = { (time_t)SYNC_TIMEOUT,
	    (suseconds_t)((SYNC_TIMEOUT - (time_t)SYNC_TIMEOUT) * 1e6) };

	if (rd->sync != NULL)
		return 0;
	rd->sync = rd->host != NULL ?
	    redisConnectWithTimeout(rd->host, rd->port, tv) :
	    redisConnectUnixWithTimeout(rd->path, tv);
	if (rd->sync == NULL || rd->sync->err) {
		rd->c->st->server_errors++;
		cache_log(rd->c, CACHE_LOG_IO, 0, "session cache: %s: %s",
		    rd->where, rd->sync != NULL ? rd->sync->errstr :
		    "out of memory");
		sync_drop(rd);
		return -1;
	}
	if (redisSetTimeout(rd->sync, tv) != REDIS_OK) {
		sync_drop(rd);
		return -1;
	}
	if (rd->password != NULL && sync_hello(rd, "AUTH",
	    sync_cmd(rd, "AUTH %s", rd->password)) != 0)
		return -1;
	if (rd->db != 0 && sync_hello(rd, "SELECT",
	    sync_cmd(rd, "SELECT %ld", rd->db)) != 0)
		return -1;
	return 0;
}

/* ---------------------------------------------------- the async link */

static void link_open(struct redis *);

static void
retry_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	link_open(t->data);
}

/* Drop the link (a failure): every pending request is answered -1 by
 * hiredis' callbacks, and a reconnect waits for the backoff. */
static void
link_drop(struct redis *rd)
{
	redisAsyncContext *ac = rd->ac;

	rd->ac = NULL;
	rd->link = LINK_DOWN;
	ev_timer_stop(rd->loop, &rd->hello);
	if (!ev_is_active(&rd->retry)) {
		ev_timer_set(&rd->retry, rd->backoff, 0.);
		ev_timer_start(rd->loop, &rd->retry);
		rd->backoff = rd->backoff * 2 < BACKOFF_MAX ? rd->backoff * 2 :
		    BACKOFF_MAX;
	}
	if (ac != NULL)
		redisAsyncFree(ac);     /* deferred by hiredis in a callback */
}

static void
connect_cb(const redisAsyncContext *ac, int status)
{
	struct redis *rd = ac->data;

	if (status == REDIS_OK || rd == NULL || ac != rd->ac)
		return;
	/* hiredis frees ac after this */
	rd->c->st->server_errors++;
	cache_log(rd->c, CACHE_LOG_IO, 0, "session cache: %s: %s; serving "
	    "full handshakes", rd->where, ac->errstr);
	rd->ac = NULL;
	link_drop(rd);
}

static void
disconnect_cb(const redisAsyncContext *ac, int status)
{
	struct redis *rd = ac->data;

	if (rd == NULL || ac != rd->ac)
		return;         /* one we dropped ourselves */
	(void)status;
	rd->c->st->server_errors++;
	cache_log(rd->c, CACHE_LOG_IO, 0, "session cache: %s: connection "
	    "lost%s%s; serving full handshakes", rd->where,
	    ac->err ? ": " : "", ac->err ? ac->errstr : "");
	rd->ac = NULL;          /* hiredis frees it */
	link_drop(rd);
}

/* AUTH and SELECT: a refusal is logged and drops the link. */
static void
hello_reply_cb(redisAsyncContext *ac, void *r, void *what)
{
	struct redis *rd = ac->data;
	redisReply *rep = r;

	if (rep == NULL || rd == NULL || ac != rd->ac ||
	    rep->type == REDIS_REPLY_STATUS)
		return;
	rd->c->st->server_errors++;
	cache_log(rd->c, CACHE_LOG_IO, 0, "session cache: %s: %s refused: %s; "
	    "serving full handshakes", rd->where, (const char *)what,
	    rep->type == REDIS_REPLY_ERROR ? rep->str : "?");
	link_drop(rd);
}

static void
ping_reply_cb(redisAsyncContext *ac, void *r, void *arg)
{
	struct redis *rd = ac->data;
	redisReply *rep = r;

	(void)arg;
	if (rep == NULL || rd == NULL || ac != rd->ac)
		return;
	if (rep->type == REDIS_REPLY_ERROR) {
		hello_reply_cb(ac, r, "PING");
		return;
	}
	ev_timer_stop(rd->loop, &rd->hello);
	rd->link = LINK_READY;
	rd->backoff = BACKOFF_MIN;
}

/* No PING answer within the bound: a server that accepts and does not
 * answer. */
static void
hello_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct redis *rd = t->data;

	(void)loop;
	(void)revents;
	rd->c->st->server_errors++;
	cache_log(rd->c, CACHE_LOG_IO, 0, "session cache: %s: no answer; "
	    "serving full handshakes", rd->where);
	link_drop(rd);
}

static void
link_open(struct redis *rd)
{
	redisAsyncContext *ac;
	double bound = rd->timeout > 0.5 ? rd->timeout : 0.5;

	ev_timer_stop(rd->loop, &rd->retry);
	ac = rd->host != NULL ? redisAsyncConnect(rd->host, rd->port) :
	    redisAsyncConnectUnix(rd->path);
	if (ac == NULL || ac->err) {
		rd->c->st->server_errors++;
		cache_log(rd->c, CACHE_LOG_IO, 0, "session cache: %s: %s; "
		    "serving full handshakes", rd->where,
		    ac != NULL ? ac->errstr : "out of memory");
		if (ac != NULL)
			redisAsyncFree(ac);
		link_drop(rd);
		return;
	}
	ac->data = rd;
	if (redisLibevAttach(rd->loop, ac) != REDIS_OK) {
		redisAsyncFree(ac);
		link_drop(rd);
		return;
	}
	rd->ac = ac;
	rd->link = LINK_CONNECTING;
	redisAsyncSetConnectCallback(ac, connect_cb);
	redisAsyncSetDisconnectCallback(ac, disconnect_cb);
	/* pipelined: sent once connected, answered in order */
	if (rd->password != NULL)
		redisAsyncCommand(ac, hello_reply_cb, "AUTH", "AUTH %s",
		    rd->password);
	if (rd->db != 0)
		redisAsyncCommand(ac, hello_reply_cb, "SELECT", "SELECT %ld",
		    rd->db);
	redisAsyncCommand(ac, ping_reply_cb, NULL, "PING");
	/* the connect and hello together are bounded too */
	ev_timer_set(&rd->hello, bound, 0.);
	ev_timer_start(rd->loop, &rd->hello);
}

/* After fork: a synchronous context the master opened is its own. */
static int
redis_attach(struct cache *c)
{
	struct redis *rd = c->be_data;

	sync_drop(rd);
	return 0;
}

static int
redis_set_loop(struct cache *c, void *loop)
{
	struct redis *rd = c->be_data;

	rd->loop = loop;
	rd->backoff = BACKOFF_MIN;
	ev_timer_init(&rd->retry, retry_cb, 0., 0.);
	rd->retry.data = rd;
	ev_timer_init(&rd->hello, hello_timeout_cb, 0., 0.);
	rd->hello.data = rd;
	link_open(rd);
	return 0;
}

/* --------------------------------------------------- async requests */

static void
req_answer(struct rreq *rq, int r, unsigned char *v, size_t vl)
{
	struct cache_req *q = rq->q;

	ev_timer_stop(rq->rd->loop, &rq->tm);
	if (q == NULL) {
		free(v);
		return;
	}
	rq->q = NULL;
	cache_get_done(q, r, v, vl);
}

/* The fetch's answer (or none: the link went). */
static void
req_reply_cb(redisAsyncContext *ac, void *r, void *arg)
{
	struct rreq *rq = arg;
	unsigned char *v = NULL;
	size_t vl = 0;
	int res;

	(void)ac;
	res = got(rq->rd, r, &v, &vl);
	req_answer(rq, res, v, vl);
	free(rq);
}

/* No answer within the bound: a full handshake now, and the link is
 * taken for broken.  The request itself is freed by its callback, which
 * hiredis calls when the link goes (perhaps right here). */
static void
req_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct rreq *rq = t->data;
	struct redis *rd = rq->rd;

	(void)loop;
	(void)revents;
	rd->c->st->fetch_timeouts++;
	cache_log(rd->c, CACHE_LOG_IO, 0, "session cache: %s: no answer "
	    "within %g s; serving full handshakes", rd->where, rd->timeout);
	req_answer(rq, -1, NULL, 0);
	link_drop(rd);
}

static struct rreq *
req_new(struct redis *rd, struct cache_req *q)
{
	struct rreq *rq;

	if ((rq = calloc(1, sizeof *rq)) == NULL)
		return NULL;
	rq->rd = rd;
	rq->q = q;
	ev_timer_init(&rq->tm, req_timeout_cb, rd->timeout, 0.);
	rq->tm.data = rq;
	return rq;
}

static int
redis_get_start(struct cache *c, const unsigned char *k, size_t kl,
    struct cache_req *q)
{
	struct redis *rd = c->be_data;
	struct rreq *rq;
	char key[sizeof KEY_PREFIX + 2 * CACHE_MAX_ID];

	if (rd->loop == NULL || rd->link != LINK_READY ||
	    kl > CACHE_MAX_ID || (rq = req_new(rd, q)) == NULL)
		return -1;
	make_key(k, kl, key);
	if (redisAsyncCommand(rd->ac, req_reply_cb, rq, "GET %s", key) !=
	    REDIS_OK) {
		free(rq);
		return -1;
	}
	ev_timer_start(rd->loop, &rq->tm);
	return CACHE_PENDING;
}

/* put, del and add's SET: a failure is only counted (the record is
 * lost, or a dead one stays until its TTL). */
static void
write_reply_cb(redisAsyncContext *ac, void *r, void *arg)
{
	struct redis *rd = ac->data;
	redisReply *rep = r;

	(void)arg;
	if (rd == NULL || rep == NULL || rep->type != REDIS_REPLY_ERROR)
		return;
	rd->c->st->errors++;
	rd->c->st->server_errors++;
	cache_log(rd->c, CACHE_LOG_IO, 0, "session cache: %s: %s", rd->where,
	    rep->str);
}

/* Send a write now rather than at the loop's next turn: the handshake
 * that stored a session ends right after, and its client may come back
 * to another worker or host at once, whose GET must find the record.
 * Only on a READY link (connected: no connect is finished here).  A
 * failure here drops the link, answering pending fetches -1 (from a
 * backend call, never from inside the fetch's own start). */
static void
flush(struct redis *rd)
{
	if (rd->link != LINK_READY || rd->ac == NULL)
		return;
	redisAsyncHandleWrite(rd->ac);
	/* Writes have no bound of their own: a server that stopped reading
	 * while only stores come (no fetch to time out) would grow the
	 * output buffer without end.  Past OBUF_MAX it is taken as stalled. */
	if (rd->ac != NULL && rd->link == LINK_READY &&
	    sdslen(rd->ac->c.obuf) > OBUF_MAX) {
		rd->c->st->server_errors++;
		cache_log(rd->c, CACHE_LOG_IO, 0, "session cache: %s: not "
		    "reading; serving full handshakes", rd->where);
		link_drop(rd);
	}
}

static int
redis_put(struct cache *c, const unsigned char *k, size_t kl,
    const unsigned char *v, size_t vl, time_t expires)
{
	struct redis *rd = c->be_data;
	char key[sizeof KEY_PREFIX + 2 * CACHE_MAX_ID];
	redisReply *rep;
	int r;

	if (kl > CACHE_MAX_ID)
		return -1;
	make_key(k, kl, key);
	if (rd->loop != NULL) {
		if (rd->ac == NULL || rd->link == LINK_DOWN ||
		    redisAsyncCommand(rd->ac, write_reply_cb, NULL,
		    "SET %s %b PX %lld", key, v, vl, ttl_ms(expires)) !=
		    REDIS_OK)
			return -1;
		flush(rd);
		return 0;
	}
	if (sync_ready(rd) != 0 || (rep = sync_cmd(rd, "SET %s %b PX %lld",
	    key, v, vl, ttl_ms(expires))) == NULL)
		return -1;
	r = rep->type == REDIS_REPLY_STATUS ? 0 : -1;
	freeReplyObject(rep);
	return r;
}

static int
redis_get(struct cache *c, const unsigned char *k, size_t kl,
    unsigned char **v, size_t *vl)
{
	struct redis *rd = c->be_data;
	char key[sizeof KEY_PREFIX + 2 * CACHE_MAX_ID];
	redisReply *rep;
	int r;

	if (kl > CACHE_MAX_ID)
		return -1;
	make_key(k, kl, key);
	if (sync_ready(rd) != 0 || (rep = sync_cmd(rd, "GET %s", key)) ==
	    NULL)
		return -1;
	r = got(rd, rep, v, vl);
	freeReplyObject(rep);
	return r;
}

static int
redis_del(struct cache *c, const struct cache_key *keys, size_t n,
    size_t *removed)
{
	struct redis *rd = c->be_data;
	char key[sizeof KEY_PREFIX + 2 * CACHE_MAX_ID];
	redisReply *rep;
	size_t i;

	*removed = 0;
	for (i = 0; i < n; i++) {
		if (keys[i].kl > CACHE_MAX_ID)
			continue;
		make_key(keys[i].k, keys[i].kl, key);
		if (rd->loop != NULL) {
			/* counted as removed when sent */
			if (rd->ac == NULL || rd->link == LINK_DOWN ||
			    redisAsyncCommand(rd->ac, write_reply_cb, NULL,
			    "DEL %s", key) != REDIS_OK)
				return -1;
			flush(rd);
			(*removed)++;
			continue;
		}
		if (sync_ready(rd) != 0 || (rep = sync_cmd(rd, "DEL %s",
		    key)) == NULL)
			return -1;
		if (rep->type == REDIS_REPLY_INTEGER)
			*removed += (size_t)rep->integer;
		freeReplyObject(rep);
	}
	return 0;
}

static int
redis_add(struct cache *c, const unsigned char *k, size_t kl,
    const unsigned char *v, size_t vl, time_t expires, unsigned char **out,
    size_t *outl)
{
	struct redis *rd = c->be_data;
	char key[sizeof KEY_PREFIX + 2 * CACHE_MAX_ID];
	redisReply *rep;
	int r;

	if (kl > CACHE_MAX_ID)
		return -1;
	make_key(k, kl, key);
	if (sync_ready(rd) != 0 || (rep = sync_cmd(rd, "SET %s %b NX PX %lld",
	    key, v, vl, ttl_ms(expires))) == NULL)
		return -1;
	r = rep->type == REDIS_REPLY_ERROR ? -1 : 0;
	freeReplyObject(rep);
	if (r != 0 || (rep = sync_cmd(rd, "GET %s", key)) == NULL)
		return -1;
	r = got(rd, rep, out, outl);
	freeReplyObject(rep);
	return r;
}

static int
redis_add_start(struct cache *c, const unsigned char *k, size_t kl,
    const unsigned char *v, size_t vl, time_t expires, struct cache_req *q)
{
	struct redis *rd = c->be_data;
	char key[sizeof KEY_PREFIX + 2 * CACHE_MAX_ID];
	struct rreq *rq;

	if (rd->loop == NULL || rd->link != LINK_READY ||
	    kl > CACHE_MAX_ID || (rq = req_new(rd, q)) == NULL)
		return -1;
	make_key(k, kl, key);
	/* pipelined: the GET answers what the SET NX left there */
	if (redisAsyncCommand(rd->ac, write_reply_cb, NULL,
	    "SET %s %b NX PX %lld", key, v, vl, ttl_ms(expires)) != REDIS_OK ||
	    redisAsyncCommand(rd->ac, req_reply_cb, rq, "GET %s", key) !=
	    REDIS_OK) {
		free(rq);
		return -1;
	}
	ev_timer_start(rd->loop, &rq->tm);
	return CACHE_PENDING;
}

/* Every fetch still pending is answered -1 (redisAsyncFree calls the
 * callbacks) before anything is freed. */
static void
redis_close(struct cache *c)
{
	struct redis *rd = c->be_data;

	if (rd == NULL)
		return;
	if (rd->loop != NULL) {
		ev_timer_stop(rd->loop, &rd->retry);
		ev_timer_stop(rd->loop, &rd->hello);
		if (rd->ac != NULL) {
			redisAsyncContext *ac = rd->ac;
			rd->ac = NULL;
			redisAsyncFree(ac);
		}
	}
	sync_drop(rd);
	if (rd->password != NULL)
		OPENSSL_cleanse(rd->password, strlen(rd->password));
	free(rd->password);
	free(rd->host);
	free(rd->path);
	free(rd);
	c->be_data = NULL;
}

const struct cache_backend cache_backend_redis = {
	.name = "redis",
	.arg = "HOST:PORT",
	.keeps = CACHE_KEEPS_RECORDS,
	.check = redis_check,
	.open = redis_open,
	.attach = redis_attach,
	.put = redis_put,
	.get = redis_get,
	.get_start = redis_get_start,
	.set_loop = redis_set_loop,
	.add = redis_add,
	.add_start = redis_add_start,
	.del = redis_del,
	.close = redis_close,
};
