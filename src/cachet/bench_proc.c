/*
 * bench_proc.c - one `cachet bench` client process: a poll() loop over
 * --concurrency connection slots.  Every slot connects, handshakes
 * (offering its saved session in resumed mode), sends --keepalive GETs
 * and reads each response to its end, closes with close_notify, and
 * starts again.  Resumed mode first gives every slot a session (TLS 1.3:
 * from the new-session callback) in a PREPARE phase; the MEASURE phase
 * then counts what SSL_session_reused() says.  Results go to the
 * proc_result the parent shares with this process.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "bench.h"
#include "common.h"

#define CONN_TIMEOUT 10.0       /* seconds one connection may take */
#define TICKET_WAIT  1.0        /* seconds to wait for a TLS 1.3 ticket */
#define POLL_MS      100        /* so timeouts and Ctrl-C are seen */

enum { STEP_NEXT = 2 };         /* slot steps: state changed, step again */

enum sstate { S_IDLE, S_CONNECT, S_HS, S_WRITE, S_READ };

struct slot {
	enum sstate  st;
	int          fd;
	SSL         *ssl;
	SSL_SESSION *sess;
	struct client_conn cc;      /* client_ssl_new wants one; unused */
	double       t0;
	int          reqs_left;
	char         in[16384];
	size_t       inlen;
	long         body_left;     /* -1: until close */
	int          head_done;
	const char  *req;
	size_t       reqlen, reqoff;
};

enum phase { PREPARE, MEASURE };

/* One process's loop over its slots, in one phase. */
struct run {
	struct bench       *b;
	struct proc_result *res;
	struct slot        *slots;
	struct pollfd      *pf;
	enum phase          phase;
	double              measure_from, end;
	long                limit;  /* -n: connections to go; -1: draining */
};

volatile sig_atomic_t bench_stop;

double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
bench_new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct slot *s = SSL_get_app_data(ssl);

	if (s == NULL)
		return 0;
	SSL_SESSION_free(s->sess);
	s->sess = sess;
	return 1;
}

/* ------------------------------------------------------------ one slot */

static void
slot_close(struct slot *s)
{
	if (s->ssl != NULL) {
		SSL_set_app_data(s->ssl, s);
		SSL_shutdown(s->ssl);   /* close_notify, not waiting */
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->st = S_IDLE;
}

static int
slot_start(struct bench *b, struct slot *s)
{
	int one = 1;

	s->fd = socket(b->ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -1;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	s->t0 = bench_now();
	s->st = S_CONNECT;
	if (connect(s->fd, b->ai->ai_addr, b->ai->ai_addrlen) != 0 &&
	    errno != EINPROGRESS) {
		close(s->fd);
		s->fd = -1;
		s->st = S_IDLE;
		return -1;
	}
	return 0;
}

static void
next_request(struct bench *b, struct slot *s)
{
	int last = s->reqs_left <= 1;

	s->req = last ? b->req_close : b->req_ka;
	s->reqlen = last ? b->req_close_len : b->req_ka_len;
	s->reqoff = 0;
	s->inlen = 0;
	s->head_done = 0;
	s->body_left = -1;
	s->st = S_WRITE;
}

/* Parse a response head in s->in: 1 done, 0 more, -1 bad. */
static int
parse_head(struct slot *s)
{
	char *end = memmem(s->in, s->inlen, "\r\n\r\n", 4), *cl;
	size_t hl;

	if (end == NULL)
		return s->inlen == sizeof s->in ? -1 : 0;
	*end = '\0';
	hl = (size_t)(end - s->in) + 4;
	if (strncmp(s->in, "HTTP/1.", 7) != 0 || hl < 13 ||
	    strtol(s->in + 9, NULL, 10) >= 400)
		return -1;
	cl = strcasestr(s->in, "\r\ncontent-length:");
	s->body_left = cl ? strtol(cl + 17, NULL, 10) : -1;
	if (s->body_left >= 0)
		s->body_left -= (long)(s->inlen - hl);
	s->head_done = 1;
	return 1;
}

/* An SSL_* call returned r <= 0: wait (0, *events set) or fail as kind. */
static int
want_or(struct slot *s, int r, short *events, int kind)
{
	return client_io(s->ssl, r, events) == CIO_WANT ? 0 : -1 - kind;
}

static int
step_connect(struct bench *b, struct slot *s, short revents, short *events)
{
	int soerr = 0;
	socklen_t l = sizeof soerr;

	if (!(revents & (POLLOUT | POLLERR | POLLHUP))) {
		*events = POLLOUT;
		return 0;
	}
	getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &l);
	if (soerr != 0)
		return -1 - E_CONNECT;
	s->ssl = client_ssl_new(b->ctx, s->fd, b->u.host, &b->co, &s->cc);
	if (s->ssl == NULL)
		return -1 - E_HANDSHAKE;
	SSL_set_app_data(s->ssl, s);
	if (b->resumed && s->sess != NULL) {
		/* A TLS 1.3 client marks the session it used as spent: offer
		 * a copy, keep the original. */
		SSL_SESSION *d = SSL_SESSION_dup(s->sess);
		SSL_set_session(s->ssl, d ? d : s->sess);
		SSL_SESSION_free(d);
	}
	s->st = S_HS;
	return STEP_NEXT;
}

static int
step_handshake(struct bench *b, struct slot *s, short *events)
{
	int r;

	ERR_clear_error();
	if ((r = SSL_connect(s->ssl)) != 1)
		return want_or(s, r, events, E_HANDSHAKE);
	if (b->handshake_only)
		return 1;
	s->reqs_left = b->keepalive;
	next_request(b, s);
	return STEP_NEXT;
}

static int
step_write(struct slot *s, short *events)
{
	int r = SSL_write(s->ssl, s->req + s->reqoff,
	    (int)(s->reqlen - s->reqoff));

	if (r <= 0)
		return want_or(s, r, events, E_IO);
	s->reqoff += (size_t)r;
	if (s->reqoff == s->reqlen)
		s->st = S_READ;
	return STEP_NEXT;
}

/* r bytes of the response arrived in s->in + s->inlen. */
static int
got_response(struct bench *b, struct slot *s, int r)
{
	int e;

	if (!s->head_done) {
		s->inlen += (size_t)r;
		if ((e = parse_head(s)) <= 0)
			return e < 0 ? -1 - E_HTTP : STEP_NEXT;
	} else if (s->body_left >= 0) {
		s->body_left -= r;
	}
	s->inlen = 0;           /* the body is counted, not kept */
	if (s->body_left != 0)
		return STEP_NEXT;
	if (--s->reqs_left > 0) {
		next_request(b, s);
		return STEP_NEXT;
	}
	return 1;
}

static int
step_read(struct bench *b, struct slot *s, short *events)
{
	int r = SSL_read(s->ssl, s->in + s->inlen,
	    (int)(sizeof s->in - s->inlen));
	enum client_io io;

	if (r > 0)
		return got_response(b, s, r);
	if ((io = client_io(s->ssl, r, events)) == CIO_WANT)
		return 0;
	if (s->head_done && s->body_left < 0 && (io == CIO_CLOSED ||
	    io == CIO_PREMATURE))
		return 1;               /* body until close */
	ERR_clear_error();
	return -1 - E_IO;
}

/* Advance slot s; returns 1 when a connection ended well, 0 when it waits
 * (*events: what for), -1 - kind on an error. */
static int
slot_step(struct bench *b, struct slot *s, short revents, short *events)
{
	int r;

	for (;;) {
		switch (s->st) {
		case S_CONNECT: r = step_connect(b, s, revents, events); break;
		case S_HS: r = step_handshake(b, s, events); break;
		case S_WRITE: r = step_write(s, events); break;
		case S_READ: r = step_read(b, s, events); break;
		default: return -1 - E_IO;
		}
		if (r != STEP_NEXT)
			return r;
		revents = 0;
	}
}

/* A TLS 1.3 ticket comes after the handshake (and, with --handshake-only,
 * nothing else makes us read it).  Wait for it, bounded, however busy the
 * machine is. */
static void
await_ticket(struct slot *s)
{
	double until = bench_now() + TICKET_WAIT;
	char tmp[512];

	while (s->sess == NULL && bench_now() < until) {
		int r = SSL_read(s->ssl, tmp, sizeof tmp), e;
		if (r > 0)
			continue;
		e = SSL_get_error(s->ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			break;
		if (s->sess == NULL)
			client_wait(s->fd, POLLIN, POLL_MS);
	}
	ERR_clear_error();
}

/* ------------------------------------------------- one process's loop */

static void
run_begin(struct run *r, enum phase ph)
{
	double start = bench_now();
	int i;

	r->phase = ph;
	r->measure_from = start + (ph == MEASURE ? r->b->warmup : 0);
	r->end = ph == PREPARE ? start + CONN_TIMEOUT :
	    r->measure_from + r->b->duration;
	for (i = 0; i < r->b->conc; i++) {
		r->pf[i].fd = -1;
		if (slot_start(r->b, &r->slots[i]) == 0) {
			r->pf[i].fd = r->slots[i].fd;
			r->pf[i].events = POLLOUT;
		} else if (ph == MEASURE) {
			r->res->errors[E_CONNECT]++;
		}
	}
}

/* Whether the phase is over, before the next poll. */
static int
run_over(const struct run *r)
{
	int i, busy = 0;

	if (bench_stop)
		return 1;
	if (r->phase == MEASURE && r->b->count == 0 && bench_now() >= r->end)
		return 1;
	for (i = 0; i < r->b->conc; i++)
		busy += r->slots[i].st != S_IDLE;
	/* by duration, an idle moment is not the end: slots restart */
	return busy == 0 && (r->phase == PREPARE || r->b->count > 0);
}

/* Count a finished connection (res 1) or a failed one (-1 - kind). */
static void
record(struct run *r, const struct slot *s, int res, double t)
{
	struct proc_result *pr = r->res;

	if (r->phase == PREPARE) {
		if (res != 1)
			pr->errors[-1 - res]++;
		return;
	}
	if (s->t0 < r->measure_from || (r->b->count > 0 &&
	    pr->done >= r->b->count))
		return;         /* warming up, or past -n */
	pr->done++;
	if (res != 1) {
		pr->errors[-1 - res]++;
		return;
	}
	pr->conns++;
	if (SSL_session_reused(s->ssl))
		pr->resumed++;
	if (pr->nlat < MAX_LAT)
		pr->lat_ms[pr->nlat++] = (float)((t - s->t0) * 1e3);
}

/* The session the slot offers next time. */
static void
keep_ticket(struct run *r, struct slot *s, int res)
{
	const struct bench *b = r->b;

	if (res != 1)
		return;
	/* A TLS 1.3 ticket is single-use on servers that follow RFC 8446
	 * 8.1 (cachetd does): with --handshake-only nothing reads the new
	 * one, so take it here, after the timing. */
	if (r->phase == MEASURE && b->handshake_only && b->resumed &&
	    SSL_version(s->ssl) == TLS1_3_VERSION) {
		SSL_SESSION_free(s->sess);
		s->sess = NULL;
	}
	if (s->sess == NULL && (r->phase == PREPARE || (b->handshake_only &&
	    b->resumed)))
		await_ticket(s);
}

/* A slot is free again while measuring: start its next connection. */
static void
slot_again(struct run *r, int i, double t)
{
	struct slot *s = &r->slots[i];
	const struct bench *b = r->b;

	if (b->count > 0 && s->t0 >= r->measure_from && --r->limit <= 0) {
		r->limit = -1;          /* draining */
		return;
	}
	if (bench_stop || (b->count == 0 && t >= r->end))
		return;
	if (slot_start(r->b, s) == 0) {
		r->pf[i].fd = s->fd;
		r->pf[i].events = POLLOUT;
		return;
	}
	r->res->errors[E_CONNECT]++;
	r->res->done++;
	if (b->count > 0 && --r->limit <= 0)
		r->limit = -1;
}

static void
slot_finished(struct run *r, int i, int res, double t)
{
	struct slot *s = &r->slots[i];

	record(r, s, res, t);
	keep_ticket(r, s, res);
	slot_close(s);
	r->pf[i].fd = -1;
	if (r->phase == MEASURE)        /* preparing: one per slot */
		slot_again(r, i, t);
}

/* One poll() and every slot it woke or timed out: -1 if poll failed. */
static int
run_round(struct run *r)
{
	double t;
	int i, res;

	if (poll(r->pf, (nfds_t)r->b->conc, POLL_MS) < 0 && errno != EINTR)
		return -1;
	t = bench_now();
	for (i = 0; i < r->b->conc; i++) {
		struct slot *s = &r->slots[i];
		short ev = 0;

		if (s->st == S_IDLE || (r->pf[i].revents == 0 &&
		    t - s->t0 < CONN_TIMEOUT))
			continue;
		res = t - s->t0 >= CONN_TIMEOUT ? -1 - E_TIMEOUT :
		    slot_step(r->b, s, r->pf[i].revents, &ev);
		r->pf[i].revents = 0;
		if (res == 0) {
			r->pf[i].fd = s->fd;
			r->pf[i].events = ev;
		} else {
			slot_finished(r, i, res, t);
		}
	}
	return 0;
}

static void
run_phase(struct run *r, enum phase ph)
{
	int i;

	run_begin(r, ph);
	while (!run_over(r) && run_round(r) == 0)
		;
	for (i = 0; i < r->b->conc; i++)
		slot_close(&r->slots[i]);
}

static double
cpu_since(const struct rusage *ru0)
{
	struct rusage ru1;

	getrusage(RUSAGE_SELF, &ru1);
	return (ru1.ru_utime.tv_sec - ru0->ru_utime.tv_sec) +
	    (ru1.ru_utime.tv_usec - ru0->ru_utime.tv_usec) / 1e6 +
	    (ru1.ru_stime.tv_sec - ru0->ru_stime.tv_sec) +
	    (ru1.ru_stime.tv_usec - ru0->ru_stime.tv_usec) / 1e6;
}

/* One process: prepare sessions if resumed, then measure. */
void
bench_proc(struct bench *b, struct proc_result *res)
{
	struct run r;
	struct rusage ru0;
	int i;

	getrusage(RUSAGE_SELF, &ru0);
	memset(&r, 0, sizeof r);
	r.b = b;
	r.res = res;
	r.slots = xcalloc((size_t)b->conc, sizeof *r.slots);
	r.pf = xcalloc((size_t)b->conc, sizeof *r.pf);
	r.limit = b->count;
	for (i = 0; i < b->conc; i++)
		r.slots[i].fd = -1;
	if (b->resumed)
		run_phase(&r, PREPARE);
	if (!bench_stop)
		run_phase(&r, MEASURE);
	res->secs = bench_now() - r.measure_from;
	if (res->secs < 0)
		res->secs = 0;
	for (i = 0; i < b->conc; i++)
		SSL_SESSION_free(r.slots[i].sess);
	res->cpu = cpu_since(&ru0);
	free(r.slots);
	free(r.pf);
}

