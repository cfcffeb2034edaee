/*
 * cache_memcached.c - the memcached backend: sealed records on one or
 * more memcached servers, shared by every worker of every host of a farm
 * (store = "memcached:HOST:PORT,HOST:PORT,..."), through libmemcached.
 *
 * Invariants:
 * - The worker's event loop never waits for a server.  libmemcached is
 *   synchronous, so set_loop starts lookup threads in the worker, one per
 *   server (at most MC_LANES), each with its own memcached_st; the loop
 *   hands a job to the thread of its key's server (the ring with every
 *   server in it) through a queue (mutex and condition variable) and gets
 *   it back through another, woken by an ev_async.  So a stalled server
 *   holds only the lookups of its own keys.  A thread touches only its
 *   memcached_st, the queues and the job's own fields; OpenSSL, the
 *   generic layer (counters, log, cache_get_done) and everything else
 *   run on the loop's thread only.
 * - Every fetch is answered exactly once, by the fetch-timeout at the
 *   latest: the loop's deadline timer answers -1 itself (a full
 *   handshake), marks the job abandoned (the thread skips a fetch not yet
 *   begun) and drops the late answer.  close answers what is pending with
 *   -1 before it stops and joins the threads.
 * - put, del and add are fire and forget on a loop: the failure comes
 *   back with the job and is counted (errors) and logged there.
 * - Without a loop (tools, the master, a worker's synchronous fetch) the
 *   same calls run on a memcached_st of this process directly, bounded
 *   by the same timeouts.  A memcached_st is never shared by two
 *   processes (its sockets would be) nor two threads.
 * - Keys are "cachet:" and the session ID in lower-case hex: printable,
 *   no space, at most 7 + 2 * 121 bytes (memcached allows 250), so the
 *   text protocol and any other client can show them, and other users of
 *   the same servers cannot collide with us.  Longer keys are refused.
 * - memcached expires records itself (TTL = the record's expiry), so
 *   there is no scan: no purge, no listing, no clear.
 *
 * Servers: ketama consistent hashing, weighted (MD5, as libketama and
 * most other clients, so every host maps a key to the same server), the
 * binary protocol, TCP_NODELAY.  A server that fails (refuses, or times
 * out MC_TIMEOUTS times) is left alone for MC_RETRY seconds; after
 * MC_FAILURES such rounds it is ejected from the ring (its keys go to the
 * others) and tried again after MC_RETRY.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <libmemcached/memcached.h>

#include "cache_int.h"

#define MC_PREFIX      "cachet:"
#define MC_PREFIX_LEN  (sizeof MC_PREFIX - 1)
#define MC_KEY_MAX     121      /* ID bytes: 7 + 2 * 121 <= 250 */
#define MC_KEY_BUF     (MC_PREFIX_LEN + 2 * MC_KEY_MAX + 1)
#define MC_MAX_SERVERS 64
#define MC_QUEUE_MAX   4096     /* jobs waiting for a thread, at most */
#define MC_LANES       8        /* lookup threads per worker, at most */
#define MC_RETRY       2        /* s a failed server is left alone */
#define MC_FAILURES    2        /* failed rounds before it is ejected */
#define MC_TIMEOUTS    2        /* timeouts that make a failed round */
#define MC_MONTH       (30 * 24 * 3600)  /* memcached: longer is a date */

struct mc_server {
	char *host;             /* a name, an address, or a socket's path */
	int   port;             /* 0: a unix socket */
};

enum mc_op { MC_GET, MC_PUT, MC_DEL, MC_ADD };

/* One request to the lookup thread.  The thread reads and writes the
 * first group of fields; the loop only the second (and the first before
 * queueing and after the job came back). */
struct mc_job {
	struct mc_job     *next;          /* in a queue, under the mutex */
	enum mc_op         op;
	char               key[MC_KEY_BUF];
	size_t             kl;
	unsigned char     *v;             /* put, add: to store; then get,
	                                   * add: the answer (malloc'd) */
	size_t             vl;
	time_t             ttl;
	int                r;             /* what the sync call returned */
	memcached_return_t rc;
	char               where[80];     /* server of a failure */
	int                abandoned;     /* atomic: answered by the loop */

	struct cache_req  *req;           /* get, add: not answered yet */
	struct mc_job     *pprev, *pnext; /* in the pending list */
	ev_tstamp          deadline;
};

struct mc_state;

/* One lookup thread, for the keys of one server (by the ring with every
 * server in it): a server that stalls holds its own keys' lookups only. */
struct mc_lane {
	struct mc_state  *m;
	pthread_t         th;
	int               started;
	memcached_st     *tmc;            /* the thread's own: all servers */
	pthread_mutex_t   mu;
	pthread_cond_t    cv;
	struct mc_job    *qhead, **qtail; /* to the thread */
	size_t            qlen;
	int               stop;
};

struct mc_state {
	struct mc_server *srv;
	size_t            nsrv;
	long              tmo;            /* ms */
	memcached_st     *sync;           /* this process's, no loop */
	pid_t             sync_pid;

	/* With a loop: the lookup threads and what the loop keeps. */
	struct cache     *c;
	struct ev_loop   *loop;
	int               running;
	pid_t             th_pid;
	memcached_st     *route;          /* hashing only, never I/O */
	struct mc_lane   *lanes;
	size_t            nlanes;
	pthread_mutex_t   dmu;
	struct mc_job    *dhead, **dtail; /* back to the loop, under dmu */
	ev_async          wake;
	ev_timer          timer;          /* the oldest pending deadline */
	struct mc_job    *phead, *ptail;  /* pending fetches, oldest first */
};

static inline struct mc_state *
M(struct cache *c)
{
	return c->be_data;
}

/* ------------------------------------------------------------- spec */

static void
free_servers(struct mc_server *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(s[i].host);
	free(s);
}

/* A port: 1..65535, digits only. */
static int
parse_port(const char *p, size_t n)
{
	long v = 0;
	size_t i;

	if (n == 0 || n > 5)
		return -1;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v >= 1 && v <= 65535 ? (int)v : -1;
}

/* One element of the list: "/path" (a unix socket), "HOST", "HOST:PORT",
 * "[IPV6]" or "[IPV6]:PORT".  0 and *out (host malloc'd when out is
 * not NULL), or -1 and why. */
static int
parse_one(const char *e, size_t n, struct mc_server *out, char *err,
    size_t errlen)
{
	const char *host = e, *colon = NULL;
	size_t hl = n, i;
	int port = MEMCACHED_DEFAULT_PORT;

	if (n == 0) {
		snprintf(err, errlen, "an empty server in the list");
		return -1;
	}
	if (e[0] == '/') {
		port = 0;
	} else if (e[0] == '[') {
		const char *close = memchr(e, ']', n);

		if (close == NULL || close == e + 1) {
			snprintf(err, errlen, "'%.*s': an IPv6 address is "
			    "written [ADDRESS]:PORT", (int)n, e);
			return -1;
		}
		host = e + 1;
		hl = (size_t)(close - host);
		if (close + 1 < e + n) {
			if (close[1] != ':') {
				snprintf(err, errlen, "'%.*s': ':' expected "
				    "after ']'", (int)n, e);
				return -1;
			}
			colon = close + 1;
		}
		for (i = 0; i < hl; i++)
			if (!(host[i] == ':' || host[i] == '.' ||
			    (host[i] >= '0' && host[i] <= '9') ||
			    (host[i] >= 'a' && host[i] <= 'f') ||
			    (host[i] >= 'A' && host[i] <= 'F'))) {
				snprintf(err, errlen, "'%.*s' is not an IPv6 "
				    "address", (int)hl, host);
				return -1;
			}
	} else {
		colon = memchr(e, ':', n);
		hl = colon != NULL ? (size_t)(colon - e) : n;
		if (colon != NULL && memchr(colon + 1, ':', n - hl - 1)) {
			snprintf(err, errlen, "'%.*s': an IPv6 address is "
			    "written [ADDRESS]:PORT", (int)n, e);
			return -1;
		}
		for (i = 0; i < hl; i++)
			if (!((host[i] >= 'a' && host[i] <= 'z') ||
			    (host[i] >= 'A' && host[i] <= 'Z') ||
			    (host[i] >= '0' && host[i] <= '9') ||
			    host[i] == '.' || host[i] == '-' ||
			    host[i] == '_')) {
				snprintf(err, errlen, "'%.*s' is not a host "
				    "name or address", (int)n, e);
				return -1;
			}
		if (hl == 0) {
			snprintf(err, errlen, "'%.*s': host missing", (int)n,
			    e);
			return -1;
		}
	}
	if (colon != NULL && (port = parse_port(colon + 1,
	    (size_t)(e + n - colon - 1))) < 0) {
		snprintf(err, errlen, "'%.*s': the port is not a number from "
		    "1 to 65535", (int)n, e);
		return -1;
	}
	if (port == 0 && hl >= 108) {
		snprintf(err, errlen, "'%.*s': a socket path is at most 107 "
		    "bytes", (int)n, e);
		return -1;
	}
	if (out != NULL) {
		if ((out->host = strndup(host, hl)) == NULL)
			abort();
		out->port = port;
	}
	return 0;
}

/* The comma-separated list; *out (when not NULL) malloc'd. */
static int
parse_servers(const char *arg, struct mc_server **out, size_t *nout,
    char *err, size_t errlen)
{
	struct mc_server *s = NULL;
	const char *p = arg, *comma;
	size_t n = 0, len;

	if (out != NULL &&
	    (s = calloc(MC_MAX_SERVERS, sizeof *s)) == NULL)
		abort();
	for (;;) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (n == MC_MAX_SERVERS) {
			snprintf(err, errlen, "more than %d servers",
			    MC_MAX_SERVERS);
			goto bad;
		}
		if (parse_one(p, len, s != NULL ? &s[n] : NULL, err,
		    errlen) != 0)
			goto bad;
		n++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	if (out != NULL) {
		*out = s;
		*nout = n;
	}
	return 0;
bad:
	if (s != NULL)
		free_servers(s, n);
	return -1;
}

static int
mc_check(const char *arg, char *err, size_t errlen)
{
	char why[200];

	if (parse_servers(arg, NULL, NULL, why, sizeof why) == 0)
		return 0;
	snprintf(err, errlen, "'memcached:%s': %s (\"memcached:HOST:PORT,"
	    "HOST:PORT,...\", or a socket's /path)", arg, why);
	return -1;
}

static int
mc_open(struct cache *c, char *err, size_t errlen)
{
	struct mc_state *m;

	if ((m = calloc(1, sizeof *m)) == NULL)
		abort();
	c->be_data = m;
	m->c = c;
	m->tmo = (long)((c->o.fetch_timeout > 0 ? c->o.fetch_timeout :
	    CACHE_FETCH_TIMEOUT) * 1000 + 0.5);
	if (m->tmo < 1)
		m->tmo = 1;
	return mc_check(c->arg, err, errlen) != 0 ? -1 :
	    parse_servers(c->arg, &m->srv, &m->nsrv, err, errlen);
}

/* ------------------------------------------------------ libmemcached */

/* A memcached_st for the servers, every wait bounded by tmo ms.  No
 * I/O: libmemcached connects on first use. */
static memcached_st *
mc_new(struct mc_state *m, long tmo)
{
	memcached_st *mc;
	memcached_return_t rc = MEMCACHED_SUCCESS;
	size_t i;

	if ((mc = memcached_create(NULL)) == NULL)
		return NULL;
#define SET(b, v) \
	if (rc == MEMCACHED_SUCCESS) \
		rc = memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_##b, \
		    (uint64_t)(v))
	SET(BINARY_PROTOCOL, 1);
	SET(NO_BLOCK, 1);               /* so that connects are bounded */
	SET(TCP_NODELAY, 1);
	SET(KETAMA_WEIGHTED, 1);
	SET(CONNECT_TIMEOUT, tmo);
	SET(POLL_TIMEOUT, tmo);
	SET(RCV_TIMEOUT, tmo * 1000);
	SET(SND_TIMEOUT, tmo * 1000);
	SET(RETRY_TIMEOUT, MC_RETRY);
	SET(DEAD_TIMEOUT, MC_RETRY);
	SET(SERVER_FAILURE_LIMIT, MC_FAILURES);
	SET(SERVER_TIMEOUT_LIMIT, MC_TIMEOUTS);
	SET(REMOVE_FAILED_SERVERS, 1);
#undef SET
	for (i = 0; i < m->nsrv && rc == MEMCACHED_SUCCESS; i++)
		rc = m->srv[i].port == 0 ?
		    memcached_server_add_unix_socket(mc, m->srv[i].host) :
		    memcached_server_add(mc, m->srv[i].host,
		    (in_port_t)m->srv[i].port);
	if (rc != MEMCACHED_SUCCESS) {
		memcached_free(mc);
		return NULL;
	}
	return mc;
}

/* The memcached_st of this process for synchronous calls; one made
 * before a fork belongs to the parent (its sockets too): left alone, not
 * freed, which would send the parent's servers a quit. */
static memcached_st *
mc_sync(struct mc_state *m)
{
	if (m->sync != NULL && m->sync_pid != getpid())
		m->sync = NULL;
	if (m->sync == NULL) {
		m->sync = mc_new(m, m->tmo);
		m->sync_pid = getpid();
	}
	return m->sync;
}

/* In the master at start and reload: say at once which servers do not
 * answer (a warning: the workers serve full handshakes for their keys
 * and try again).  Each is asked its version, one at a time, bounded by
 * the timeout; the connections are closed before any worker starts. */
static int
mc_prepare(struct cache *c, char *err, size_t errlen)
{
	struct mc_state *m = M(c);
	struct mc_server one;
	struct mc_state probe;
	memcached_st *mc;
	size_t i, n = 0, bad = 0;

	if (errlen > 0)
		err[0] = '\0';
	for (i = 0; i < m->nsrv; i++) {
		memset(&probe, 0, sizeof probe);
		one = m->srv[i];
		probe.srv = &one;
		probe.nsrv = 1;
		if ((mc = mc_new(&probe, m->tmo)) == NULL)
			continue;
		if (memcached_version(mc) != MEMCACHED_SUCCESS) {
			if (bad++ == 0)
				n = (size_t)snprintf(err, errlen, "session "
				    "cache 'memcached:%s': not answering:",
				    c->arg);
			if (n < errlen)
				n += (size_t)snprintf(err + n, errlen - n,
				    one.port != 0 ? " %s:%d" : " %s", one.host,
				    one.port);
		}
		memcached_free(mc);
	}
	if (bad > 0 && n < errlen)
		snprintf(err + n, errlen - n, "; full handshakes for %s "
		    "sessions until %s", bad == m->nsrv ? "all" : "their",
		    bad == 1 ? "it answers" : "they answer");
	return 0;
}

/* "cachet:" and k in hex; 0, or -1: too long. */
static int
mc_key(const unsigned char *k, size_t kl, char *out, size_t *outl)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	if (kl == 0 || kl > MC_KEY_MAX)
		return -1;
	memcpy(out, MC_PREFIX, MC_PREFIX_LEN);
	for (i = 0; i < kl; i++) {
		out[MC_PREFIX_LEN + 2 * i] = hex[k[i] >> 4];
		out[MC_PREFIX_LEN + 2 * i + 1] = hex[k[i] & 15];
	}
	*outl = MC_PREFIX_LEN + 2 * kl;
	out[*outl] = '\0';
	return 0;
}

/* memcached's expiration for a record that expires at `expires`: seconds
 * from now (a date only past a month, as memcached reads it); 0 when the
 * record has expired already (not stored). */
static time_t
mc_ttl(time_t expires)
{
	time_t left = expires - time(NULL);

	if (left <= 0)
		return 0;
	return left <= MC_MONTH ? left : expires;
}

/* Which server a key's failure was on, for the log. */
static void
mc_where(memcached_st *mc, const char *key, size_t kl, char *out,
    size_t len)
{
	memcached_return_t rc;
	const memcached_instance_st *s;

	out[0] = '\0';
	if (mc == NULL)
		return;
	s = memcached_server_by_key(mc, key, kl, &rc);
	if (s != NULL)
		snprintf(out, len, " (%s:%u)", memcached_server_name(s),
		    (unsigned)memcached_server_port(s));
}

/* The calls themselves, for both paths: what get/put/del/add return. */
static int
do_get(memcached_st *mc, const char *key, size_t kl, unsigned char **v,
    size_t *vl, memcached_return_t *rc)
{
	char *val;
	size_t len = 0;
	uint32_t flags;

	*v = NULL;
	if (mc == NULL) {
		*rc = MEMCACHED_MEMORY_ALLOCATION_FAILURE;
		return -1;
	}
	val = memcached_get(mc, key, kl, &len, &flags, rc);
	if (val == NULL)
		return *rc == MEMCACHED_NOTFOUND ||
		    *rc == MEMCACHED_SUCCESS ? 0 : -1;
	/* Our own copy: the caller frees with free(), whatever allocator
	 * libmemcached was built with. */
	if ((*v = malloc(len > 0 ? len : 1)) == NULL)
		abort();
	memcpy(*v, val, len);
	*vl = len;
	free(val);
	return 1;
}

static int
do_put(memcached_st *mc, const char *key, size_t kl, const unsigned char *v,
    size_t vl, time_t ttl, memcached_return_t *rc)
{
	if (mc == NULL) {
		*rc = MEMCACHED_MEMORY_ALLOCATION_FAILURE;
		return -1;
	}
	*rc = memcached_set(mc, key, kl, (const char *)v, vl, ttl, 0);
	return *rc == MEMCACHED_SUCCESS ? 0 : -1;
}

/* 1 removed, 0 absent, -1 error. */
static int
do_del(memcached_st *mc, const char *key, size_t kl, memcached_return_t *rc)
{
	if (mc == NULL) {
		*rc = MEMCACHED_MEMORY_ALLOCATION_FAILURE;
		return -1;
	}
	*rc = memcached_delete(mc, key, kl, 0);
	if (*rc == MEMCACHED_SUCCESS)
		return 1;
	return *rc == MEMCACHED_NOTFOUND ? 0 : -1;
}

/* Store if absent, then whatever is there: as get. */
static int
do_add(memcached_st *mc, const char *key, size_t kl, const unsigned char *v,
    size_t vl, time_t ttl, unsigned char **out, size_t *outl,
    memcached_return_t *rc)
{
	*out = NULL;
	if (mc == NULL) {
		*rc = MEMCACHED_MEMORY_ALLOCATION_FAILURE;
		return -1;
	}
	*rc = memcached_add(mc, key, kl, (const char *)v, vl, ttl, 0);
	if (*rc != MEMCACHED_SUCCESS && *rc != MEMCACHED_NOTSTORED &&
	    *rc != MEMCACHED_DATA_EXISTS)
		return -1;
	return do_get(mc, key, kl, out, outl, rc);
}

/* A failure libmemcached reported: counted and logged. */
static void
log_failure(struct cache *c, const char *what, memcached_return_t rc,
    const char *where)
{
	c->st->server_errors++;
	cache_log(c, CACHE_LOG_IO, 0, "session cache 'memcached:%s': %s: %s%s",
	    c->arg, what, memcached_strerror(NULL, rc), where);
}

/* ------------------------------------------------- the lookup thread */

static void
run_job(memcached_st *mc, struct mc_job *j)
{
	j->where[0] = '\0';
	switch (j->op) {
	case MC_GET:
		j->r = do_get(mc, j->key, j->kl, &j->v, &j->vl, &j->rc);
		break;
	case MC_PUT:
		j->r = do_put(mc, j->key, j->kl, j->v, j->vl, j->ttl, &j->rc);
		free(j->v);
		j->v = NULL;
		break;
	case MC_DEL:
		j->r = do_del(mc, j->key, j->kl, &j->rc);
		break;
	case MC_ADD: {
		unsigned char *in = j->v;

		j->r = do_add(mc, j->key, j->kl, in, j->vl, j->ttl, &j->v,
		    &j->vl, &j->rc);
		free(in);
		break;
	}
	}
	if (j->r < 0)
		mc_where(mc, j->key, j->kl, j->where, sizeof j->where);
}

static void *
lookup_thread(void *arg)
{
	struct mc_lane *l = arg;
	struct mc_state *m = l->m;
	struct mc_job *j;

	pthread_mutex_lock(&l->mu);
	for (;;) {
		while (l->qhead == NULL && !l->stop)
			pthread_cond_wait(&l->cv, &l->mu);
		if (l->stop)
			break;
		j = l->qhead;
		if ((l->qhead = j->next) == NULL)
			l->qtail = &l->qhead;
		l->qlen--;
		pthread_mutex_unlock(&l->mu);

		/* A fetch the loop has answered already (its deadline
		 * passed while it waited here) is not worth a round trip. */
		if (j->op == MC_GET &&
		    __atomic_load_n(&j->abandoned, __ATOMIC_ACQUIRE)) {
			j->r = -1;
			j->rc = MEMCACHED_TIMEOUT;
		} else
			run_job(l->tmc, j);

		pthread_mutex_lock(&m->dmu);
		j->next = NULL;
		*m->dtail = j;
		m->dtail = &j->next;
		pthread_mutex_unlock(&m->dmu);
		ev_async_send(m->loop, &m->wake);
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* --------------------------------------------- the loop's side of it */

static void
pending_unlink(struct mc_state *m, struct mc_job *j)
{
	if (j->pprev != NULL)
		j->pprev->pnext = j->pnext;
	else
		m->phead = j->pnext;
	if (j->pnext != NULL)
		j->pnext->pprev = j->pprev;
	else
		m->ptail = j->pprev;
	j->pprev = j->pnext = NULL;
}

/* The deadline timer on the oldest pending fetch (deadlines come in
 * order: one timeout for all).  One that fires early finds nothing due
 * and is set again. */
static void
arm(struct mc_state *m)
{
	ev_tstamp left;

	if (m->phead == NULL || ev_is_active(&m->timer))
		return;
	left = m->phead->deadline - ev_now(m->loop);
	ev_timer_set(&m->timer, left > 0 ? left : 0., 0.);
	ev_timer_start(m->loop, &m->timer);
}

/* Answer one pending fetch (once: the job forgets its request). */
static void
answer(struct mc_state *m, struct mc_job *j, int r, unsigned char *v,
    size_t vl)
{
	struct cache_req *req = j->req;

	pending_unlink(m, j);
	j->req = NULL;
	cache_get_done(req, r, v, vl);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mc_state *m = w->data;
	struct mc_job *j;
	ev_tstamp now = ev_now(loop);

	(void)revents;
	while ((j = m->phead) != NULL && j->deadline <= now + 1e-4) {
		__atomic_store_n(&j->abandoned, 1, __ATOMIC_RELEASE);
		m->c->st->fetch_timeouts++;
		cache_log(m->c, CACHE_LOG_IO, 0, "session cache 'memcached:%s':"
		    " no answer within %ld ms: full handshake", m->c->arg,
		    m->tmo);
		answer(m, j, -1, NULL, 0);
	}
	arm(m);
}

/* A job back from the thread: answer its fetch if still pending, count
 * and log a failure, free it. */
static void
job_done(struct mc_state *m, struct mc_job *j)
{
	struct cache *c = m->c;

	switch (j->op) {
	case MC_GET:
	case MC_ADD:
		if (j->req != NULL) {
			if (j->r < 0)
				log_failure(c, j->op == MC_GET ? "fetch" :
				    "add", j->rc, j->where);
			answer(m, j, j->r, j->v, j->vl);
			j->v = NULL;    /* the generic layer's now */
		}
		break;
	case MC_PUT:
		if (j->r < 0) {
			c->st->errors++;
			log_failure(c, "store", j->rc, j->where);
		}
		break;
	case MC_DEL:
		if (j->r < 0) {
			c->st->errors++;
			log_failure(c, "remove", j->rc, j->where);
		} else
			c->st->removes += (uint64_t)j->r;
		break;
	}
	free(j->v);
	free(j);
}

static void
wake_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct mc_state *m = w->data;
	struct mc_job *list, *j;

	(void)loop;
	(void)revents;
	pthread_mutex_lock(&m->dmu);
	list = m->dhead;
	m->dhead = NULL;
	m->dtail = &m->dhead;
	pthread_mutex_unlock(&m->dmu);
	while ((j = list) != NULL) {
		list = j->next;
		job_done(m, j);
	}
	arm(m);
}

/* A job for the thread; the value copied.  NULL: the key is too long. */
static struct mc_job *
job_new(enum mc_op op, const unsigned char *k, size_t kl,
    const unsigned char *v, size_t vl, time_t ttl)
{
	struct mc_job *j;

	if ((j = calloc(1, sizeof *j)) == NULL)
		abort();
	if (mc_key(k, kl, j->key, &j->kl) != 0) {
		free(j);
		return NULL;
	}
	j->op = op;
	j->ttl = ttl;
	if (v != NULL) {
		if ((j->v = malloc(vl)) == NULL)
			abort();
		memcpy(j->v, v, vl);
		j->vl = vl;
	}
	return j;
}

/* Queue j for the thread of its key's server: 0, or -1 (that queue is
 * full: the server is far behind; j freed). */
static int
submit(struct mc_state *m, struct mc_job *j)
{
	struct mc_lane *l = &m->lanes[memcached_generate_hash(m->route,
	    j->key, j->kl) % m->nlanes];

	pthread_mutex_lock(&l->mu);
	if (l->qlen >= MC_QUEUE_MAX) {
		pthread_mutex_unlock(&l->mu);
		free(j->v);
		free(j);
		return -1;
	}
	j->next = NULL;
	*l->qtail = j;
	l->qtail = &j->next;
	l->qlen++;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	return 0;
}

/* A fetch (or add) for the thread, answered by the deadline at the
 * latest. */
static int
start(struct cache *c, struct mc_job *j, struct cache_req *req)
{
	struct mc_state *m = M(c);

	j->req = req;
	j->deadline = ev_now(m->loop) + (ev_tstamp)m->tmo / 1000.;
	if (submit(m, j) != 0) {
		cache_log(c, CACHE_LOG_IO, 0, "session cache 'memcached:%s': "
		    "%d requests waiting: full handshakes", c->arg,
		    MC_QUEUE_MAX);
		return -1;
	}
	/* Pending from now on: only this thread reads the list. */
	j->pprev = m->ptail;
	j->pnext = NULL;
	if (m->ptail != NULL)
		m->ptail->pnext = j;
	else
		m->phead = j;
	m->ptail = j;
	arm(m);
	return CACHE_PENDING;
}

static void stop_threads(struct mc_state *);

static int
mc_set_loop(struct cache *c, void *loop)
{
	struct mc_state *m = M(c);
	struct mc_lane *l;
	sigset_t all, old;
	size_t i;
	int e = 0;

	if (m->running)
		return 0;
	/* The ring as it is with every server up (no ejection: no I/O, no
	 * state): which thread a key goes to. */
	if ((m->route = mc_new(m, m->tmo)) == NULL ||
	    memcached_behavior_set(m->route,
	    MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS, 0) != MEMCACHED_SUCCESS) {
		memcached_free(m->route);
		m->route = NULL;
		return -1;
	}
	m->loop = loop;
	m->nlanes = m->nsrv < MC_LANES ? m->nsrv : MC_LANES;
	if ((m->lanes = calloc(m->nlanes, sizeof *m->lanes)) == NULL)
		abort();
	pthread_mutex_init(&m->dmu, NULL);
	m->dtail = &m->dhead;
	ev_async_init(&m->wake, wake_cb);
	m->wake.data = m;
	ev_async_start(m->loop, &m->wake);
	ev_unref(m->loop);      /* a worker's loop may end without it */
	ev_init(&m->timer, timer_cb);
	m->timer.data = m;
	m->th_pid = getpid();
	m->running = 1;
	/* Signals are the loop's: the threads take none. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < m->nlanes && e == 0; i++) {
		l = &m->lanes[i];
		l->m = m;
		l->qtail = &l->qhead;
		pthread_mutex_init(&l->mu, NULL);
		pthread_cond_init(&l->cv, NULL);
		/* A thread's waits end a little after the loop's deadline:
		 * the deadline is what a fetch promises (the loop answers
		 * it), these only free the thread for its next job. */
		if ((l->tmc = mc_new(m, 2 * m->tmo)) == NULL)
			e = ENOMEM;
		else if ((e = pthread_create(&l->th, NULL, lookup_thread,
		    l)) == 0)
			l->started = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		cache_log(c, CACHE_LOG_IO, e, "session cache 'memcached:%s': "
		    "lookup thread: %s", c->arg, strerror(e));
		stop_threads(m);
		return -1;
	}
	return 0;
}

/* Answer what is pending, stop and join the threads, free every job. */
static void
stop_threads(struct mc_state *m)
{
	struct mc_job *j, *next;
	struct mc_lane *l;
	size_t i;

	while (m->phead != NULL)
		answer(m, m->phead, -1, NULL, 0);
	m->running = 0;
	if (m->th_pid != getpid())
		return;         /* a copy after fork: no thread here */
	for (i = 0; i < m->nlanes; i++) {
		l = &m->lanes[i];
		if (l->started) {
			pthread_mutex_lock(&l->mu);
			l->stop = 1;
			pthread_cond_signal(&l->cv);
			pthread_mutex_unlock(&l->mu);
			pthread_join(l->th, NULL);
		}
		for (j = l->qhead; j != NULL; j = next) {
			next = j->next;
			free(j->v);
			free(j);
		}
		if (l->qtail != NULL) {         /* initialised */
			pthread_cond_destroy(&l->cv);
			pthread_mutex_destroy(&l->mu);
		}
		if (l->tmc != NULL)
			memcached_free(l->tmc);
	}
	for (j = m->dhead; j != NULL; j = next) {
		next = j->next;
		free(j->v);
		free(j);
	}
	free(m->lanes);
	m->lanes = NULL;
	m->nlanes = 0;
	ev_timer_stop(m->loop, &m->timer);
	ev_ref(m->loop);
	ev_async_stop(m->loop, &m->wake);
	pthread_mutex_destroy(&m->dmu);
	memcached_free(m->route);
	m->route = NULL;
}

/* ----------------------------------------------------- the contract */

static int
mc_get_start(struct cache *c, const unsigned char *k, size_t kl,
    struct cache_req *req)
{
	struct mc_job *j;

	if (!M(c)->running || (j = job_new(MC_GET, k, kl, NULL, 0, 0)) == NULL)
		return -1;
	return start(c, j, req);
}

static int
mc_add_start(struct cache *c, const unsigned char *k, size_t kl,
    const unsigned char *v, size_t vl, time_t expires, struct cache_req *req)
{
	struct mc_job *j;
	time_t ttl = mc_ttl(expires);

	if (!M(c)->running || ttl == 0 ||
	    (j = job_new(MC_ADD, k, kl, v, vl, ttl)) == NULL)
		return -1;
	return start(c, j, req);
}

static int
mc_put(struct cache *c, const unsigned char *k, size_t kl,
    const unsigned char *v, size_t vl, time_t expires)
{
	struct mc_state *m = M(c);
	struct mc_job *j;
	char key[MC_KEY_BUF], where[80];
	size_t keyl;
	time_t ttl = mc_ttl(expires);
	memcached_return_t rc;
	memcached_st *mc;

	if (c->o.read_only)
		return -1;
	if (ttl == 0)
		return 0;       /* expired already: nothing to keep */
	if (m->running) {
		if ((j = job_new(MC_PUT, k, kl, v, vl, ttl)) == NULL)
			return -1;
		return submit(m, j);
	}
	if (mc_key(k, kl, key, &keyl) != 0)
		return -1;
	mc = mc_sync(m);
	if (do_put(mc, key, keyl, v, vl, ttl, &rc) == 0)
		return 0;
	mc_where(mc, key, keyl, where, sizeof where);
	log_failure(c, "store", rc, where);
	return -1;
}

static int
mc_get(struct cache *c, const unsigned char *k, size_t kl, unsigned char **v,
    size_t *vl)
{
	struct mc_state *m = M(c);
	char key[MC_KEY_BUF], where[80];
	size_t keyl;
	memcached_return_t rc;
	memcached_st *mc;
	int r;

	if (mc_key(k, kl, key, &keyl) != 0)
		return 0;       /* never stored */
	mc = mc_sync(m);
	if ((r = do_get(mc, key, keyl, v, vl, &rc)) < 0) {
		mc_where(mc, key, keyl, where, sizeof where);
		log_failure(c, "fetch", rc, where);
	}
	return r;
}

static int
mc_add(struct cache *c, const unsigned char *k, size_t kl,
    const unsigned char *v, size_t vl, time_t expires, unsigned char **out,
    size_t *outl)
{
	struct mc_state *m = M(c);
	char key[MC_KEY_BUF], where[80];
	size_t keyl;
	time_t ttl = mc_ttl(expires);
	memcached_return_t rc;
	memcached_st *mc;
	int r;

	if (c->o.read_only || ttl == 0 || mc_key(k, kl, key, &keyl) != 0)
		return -1;
	mc = mc_sync(m);
	if ((r = do_add(mc, key, keyl, v, vl, ttl, out, outl, &rc)) < 0) {
		mc_where(mc, key, keyl, where, sizeof where);
		log_failure(c, "add", rc, where);
	}
	return r;
}

static int
mc_del(struct cache *c, const struct cache_key *keys, size_t n,
    size_t *removed)
{
	struct mc_state *m = M(c);
	struct mc_job *j;
	char key[MC_KEY_BUF], where[80];
	size_t i, keyl;
	memcached_return_t rc;
	memcached_st *mc;
	int r, ret = 0;

	*removed = 0;
	if (c->o.read_only)
		return -1;
	for (i = 0; i < n; i++) {
		if (m->running) {
			/* counted when the answer comes (job_done) */
			if ((j = job_new(MC_DEL, keys[i].k, keys[i].kl, NULL,
			    0, 0)) != NULL && submit(m, j) != 0)
				ret = -1;
			continue;
		}
		if (mc_key(keys[i].k, keys[i].kl, key, &keyl) != 0)
			continue;       /* never stored */
		mc = mc_sync(m);
		if ((r = do_del(mc, key, keyl, &rc)) < 0) {
			mc_where(mc, key, keyl, where, sizeof where);
			log_failure(c, "remove", rc, where);
			ret = -1;
		} else
			*removed += (size_t)r;
	}
	return ret;
}

static void
mc_close(struct cache *c)
{
	struct mc_state *m = M(c);

	if (m == NULL)
		return;
	if (m->running)
		stop_threads(m);
	if (m->sync != NULL && m->sync_pid == getpid())
		memcached_free(m->sync);
	if (m->srv != NULL)
		free_servers(m->srv, m->nsrv);
	free(m);
	c->be_data = NULL;
}

const struct cache_backend cache_backend_memcached = {
	.name = "memcached",
	.arg = "HOST:PORT,...",
	.keeps = CACHE_KEEPS_RECORDS,
	.check = mc_check,
	.open = mc_open,
	.prepare = mc_prepare,
	.put = mc_put,
	.get = mc_get,
	.get_start = mc_get_start,
	.set_loop = mc_set_loop,
	.add = mc_add,
	.add_start = mc_add_start,
	.del = mc_del,
	.close = mc_close,
};
