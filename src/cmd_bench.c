/*
 * cmd_bench.c - `cachet bench TARGET`: full against resumed handshakes per
 * second, against any TLS server.
 *
 * Each client process runs one poll() loop over --concurrency connection
 * slots; every slot connects, handshakes (offering its saved session in
 * resumed mode), sends --keepalive GETs and reads each response to its
 * end, closes with close_notify, and starts again.  Resumed mode first
 * gives every slot a session (TLS 1.3: from the new-session callback) and
 * then counts what SSL_session_reused() says, so a server that silently
 * does full handshakes shows as a low reuse ratio, not as a fast server.
 * The parent forks --procs such processes, shows progress on a terminal,
 * and prints a table (or JSON, or CSV).  Ctrl-C prints what was measured.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "cachet.h"

#define CONN_TIMEOUT 10.0       /* seconds one connection may take */
#define MAX_LAT      4000000    /* latencies kept per process */

enum { E_CONNECT, E_HANDSHAKE, E_IO, E_HTTP, E_TIMEOUT, E_KINDS };
static const char *const err_names[E_KINDS] = {
	"connect", "handshake", "io", "http", "timeout",
};

/* What one process reports, in shared memory. */
struct proc_result {
	volatile long done;             /* progress, read by the parent */
	long          conns;
	long          resumed;
	long          errors[E_KINDS];
	double        secs;
	double        cpu;
	long          nlat;
	float         lat_ms[MAX_LAT];
};

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
	size_t       reqoff;
};

struct bench {
	struct client_opts co;
	struct client_url u;
	struct addrinfo *ai;
	int          handshake_only, resumed, keepalive, conc;
	double       duration, warmup;
	long         count;         /* per process, 0: by duration */
	SSL_CTX     *ctx;
	char         req_ka[2600], req_close[2600];
};

static volatile sig_atomic_t stop;

static void
on_int(int sig)
{
	(void)sig;
	stop = 1;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct slot *s = SSL_get_app_data(ssl);

	if (s == NULL)
		return 0;
	SSL_SESSION_free(s->sess);
	s->sess = sess;
	return 1;
}

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
	s->t0 = now_s();
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
	s->req = s->reqs_left > 1 ? b->req_ka : b->req_close;
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
	if (strncmp(s->in, "HTTP/1.", 7) != 0 || atoi(s->in + 9) >= 400)
		return -1;
	cl = strcasestr(s->in, "\r\ncontent-length:");
	s->body_left = cl ? atol(cl + 17) : -1;
	if (s->body_left >= 0)
		s->body_left -= (long)(s->inlen - hl);
	s->head_done = 1;
	return 1;
}

/* Advance slot s; returns 1 when a connection ended well, 0 when it waits,
 * -1 - kind on an error.  *events gets what to poll for. */
static int
slot_step(struct bench *b, struct slot *s, short revents, short *events)
{
	int r, e;

	for (;;) {
		switch (s->st) {
		case S_CONNECT: {
			int soerr = 0;
			socklen_t l = sizeof soerr;
			if (!(revents & (POLLOUT | POLLERR | POLLHUP))) {
				*events = POLLOUT;
				return 0;
			}
			getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &l);
			if (soerr != 0)
				return -1 - E_CONNECT;
			s->ssl = client_ssl_new(b->ctx, s->fd, b->u.host, &b->co,
			    &s->cc);
			SSL_set_app_data(s->ssl, s);
			if (b->resumed && s->sess != NULL) {
				/* A TLS 1.3 client marks the session it used as
				 * spent: offer a copy, keep the original. */
				SSL_SESSION *d = SSL_SESSION_dup(s->sess);
				SSL_set_session(s->ssl, d ? d : s->sess);
				SSL_SESSION_free(d);
			}
			s->st = S_HS;
			break;
		}
		case S_HS:
			ERR_clear_error();
			r = SSL_connect(s->ssl);
			if (r == 1) {
				if (b->handshake_only)
					return 1;
				s->reqs_left = b->keepalive;
				next_request(b, s);
				break;
			}
			e = SSL_get_error(s->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				*events = e == SSL_ERROR_WANT_READ ? POLLIN :
				    POLLOUT;
				return 0;
			}
			return -1 - E_HANDSHAKE;
		case S_WRITE:
			r = SSL_write(s->ssl, s->req + s->reqoff,
			    (int)(strlen(s->req) - s->reqoff));
			if (r > 0) {
				s->reqoff += (size_t)r;
				if (s->reqoff == strlen(s->req))
					s->st = S_READ;
				break;
			}
			e = SSL_get_error(s->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				*events = e == SSL_ERROR_WANT_READ ? POLLIN :
				    POLLOUT;
				return 0;
			}
			return -1 - E_IO;
		case S_READ:
			r = SSL_read(s->ssl, s->in + s->inlen,
			    (int)(sizeof s->in - s->inlen));
			if (r > 0) {
				if (!s->head_done) {
					s->inlen += (size_t)r;
					if ((e = parse_head(s)) < 0)
						return -1 - E_HTTP;
					if (e == 0)
						break;
				} else if (s->body_left >= 0) {
					s->body_left -= r;
				}
				s->inlen = s->head_done ? 0 : s->inlen;
				if (s->head_done && s->body_left == 0) {
					if (--s->reqs_left > 0) {
						next_request(b, s);
						break;
					}
					return 1;
				}
				break;
			}
			e = SSL_get_error(s->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				*events = e == SSL_ERROR_WANT_READ ? POLLIN :
				    POLLOUT;
				return 0;
			}
			if (s->head_done && s->body_left < 0 &&
			    (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL
			    || e == SSL_ERROR_SSL))
				return 1;       /* body until close */
			return -1 - E_IO;
		default:
			return -1 - E_IO;
		}
		revents = 0;
	}
}

/* Preparing: a TLS 1.3 ticket comes after the handshake (and, with
 * --handshake-only, nothing else makes us read it).  Wait for it, bounded,
 * however busy the machine is. */
static void
await_ticket(struct slot *s)
{
	double until = now_s() + 1.0;
	char tmp[512];

	while (s->sess == NULL && now_s() < until) {
		struct pollfd p = { s->fd, POLLIN, 0 };
		int r = SSL_read(s->ssl, tmp, sizeof tmp), e;
		if (r > 0)
			continue;
		e = SSL_get_error(s->ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			break;
		if (s->sess == NULL)
			poll(&p, 1, 100);
	}
}

/*
 * One process: prepare sessions if resumed, then measure.  In the prepare
 * phase every slot makes one connection and keeps the session it got.
 */
static void
run_proc(struct bench *b, struct proc_result *res)
{
	struct slot *slots = calloc((size_t)b->conc, sizeof *slots);
	struct pollfd *pf = calloc((size_t)b->conc, sizeof *pf);
	double start, measure_from, end;
	int i, phase = b->resumed ? 0 : 1;
	struct rusage ru0, ru1;
	long limit = b->count;

	getrusage(RUSAGE_SELF, &ru0);
	for (i = 0; i < b->conc; i++)
		slots[i].fd = -1;
again:
	start = now_s();
	measure_from = start + (phase == 1 ? b->warmup : 0);
	end = phase == 0 ? start + CONN_TIMEOUT : measure_from + b->duration;
	for (i = 0; i < b->conc; i++) {
		pf[i].fd = -1;
		if (slot_start(b, &slots[i]) == 0) {
			pf[i].fd = slots[i].fd;
			pf[i].events = POLLOUT;
		} else if (phase == 1) {
			res->errors[E_CONNECT]++;
		}
	}
	while (!stop) {
		double t = now_s();
		int active = 0;

		if (phase == 1 && limit == 0 && t >= end)
			break;
		for (i = 0; i < b->conc; i++)
			if (slots[i].st != S_IDLE)
				active++;
		if (active == 0 && (phase == 0 || limit > 0 ||
		    (b->count > 0 && limit <= 0)))
			break;
		if (poll(pf, (nfds_t)b->conc, 100) < 0 && errno != EINTR)
			break;
		t = now_s();
		for (i = 0; i < b->conc; i++) {
			struct slot *s = &slots[i];
			short ev = 0;
			int r;

			if (s->st == S_IDLE)
				continue;
			if (pf[i].revents == 0 && t - s->t0 < CONN_TIMEOUT)
				continue;
			r = t - s->t0 >= CONN_TIMEOUT ? -1 - E_TIMEOUT :
			    slot_step(b, s, pf[i].revents, &ev);
			pf[i].revents = 0;
			if (r == 0) {
				pf[i].fd = s->fd;
				pf[i].events = ev;
				continue;
			}
			if (phase == 1 && s->t0 >= measure_from &&
			    (b->count == 0 || res->done < b->count)) {
				if (r == 1) {
					res->conns++;
					res->done++;
					if (SSL_session_reused(s->ssl))
						res->resumed++;
					if (res->nlat < MAX_LAT)
						res->lat_ms[res->nlat++] =
						    (float)((t - s->t0) * 1e3);
				} else {
					res->errors[-1 - r]++;
					res->done++;
				}
			} else if (phase == 0 && r != 1) {
				res->errors[-1 - r]++;
			}
			/* A TLS 1.3 ticket is single-use on servers that
			 * follow RFC 8446 8.1 (cachetd does): with
			 * --handshake-only nothing reads the new one, so take
			 * it here, after the timing. */
			if (r == 1 && phase == 1 && b->handshake_only &&
			    b->resumed && SSL_version(s->ssl) == TLS1_3_VERSION) {
				SSL_SESSION_free(s->sess);
				s->sess = NULL;
			}
			if (r == 1 && s->sess == NULL && (phase == 0 ||
			    (b->handshake_only && b->resumed)))
				await_ticket(s);
			slot_close(s);
			pf[i].fd = -1;
			if (phase == 0)
				continue;       /* one connection per slot */
			if (b->count > 0 && s->t0 >= measure_from &&
			    --limit <= 0) {
				limit = -1;     /* draining */
				continue;
			}
			if (!stop && (b->count > 0 || t < end) &&
			    slot_start(b, s) == 0) {
				pf[i].fd = s->fd;
				pf[i].events = POLLOUT;
			} else if (!stop && (b->count > 0 || t < end)) {
				res->errors[E_CONNECT]++;
				res->done++;
				if (b->count > 0 && --limit <= 0)
					limit = -1;
			}
		}
		if (phase == 1 && b->count > 0 && limit < 0) {
			int busy = 0;
			for (i = 0; i < b->conc; i++)
				busy += slots[i].st != S_IDLE;
			if (!busy)
				break;
		}
	}
	if (phase == 0 && !stop) {
		for (i = 0; i < b->conc; i++)
			slot_close(&slots[i]);
		phase = 1;
		goto again;
	}
	res->secs = now_s() - measure_from;
	if (res->secs < 0)
		res->secs = 0;
	for (i = 0; i < b->conc; i++) {
		slot_close(&slots[i]);
		SSL_SESSION_free(slots[i].sess);
	}
	getrusage(RUSAGE_SELF, &ru1);
	res->cpu = (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
	    (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
	    (ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
	    (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
	free(slots);
	free(pf);
}

/* ------------------------------------------------------------ summary */

struct summary {
	const char *mode;
	long   conns, resumed, errors[E_KINDS];
	double secs, rate, cpu, p50, p90, p99, max;
};

static int
cmp_f(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return x < y ? -1 : x > y;
}

static void
summarize(struct proc_result **rs, int procs, const char *mode,
    struct summary *sm)
{
	long n = 0, i, k;
	float *all;
	int p;

	memset(sm, 0, sizeof *sm);
	sm->mode = mode;
	for (p = 0; p < procs; p++)
		n += rs[p]->nlat;
	all = malloc((size_t)(n ? n : 1) * sizeof *all);
	for (p = 0, i = 0; p < procs; p++) {
		sm->conns += rs[p]->conns;
		sm->resumed += rs[p]->resumed;
		for (k = 0; k < E_KINDS; k++)
			sm->errors[k] += rs[p]->errors[k];
		if (rs[p]->secs > sm->secs)
			sm->secs = rs[p]->secs;
		if (rs[p]->secs > 0)
			sm->rate += rs[p]->conns / rs[p]->secs;
		sm->cpu += rs[p]->cpu;
		memcpy(all + i, rs[p]->lat_ms, (size_t)rs[p]->nlat * sizeof *all);
		i += rs[p]->nlat;
	}
	if (n > 0) {
		qsort(all, (size_t)n, sizeof *all, cmp_f);
		sm->p50 = all[n / 2];
		sm->p90 = all[(n * 9) / 10];
		sm->p99 = all[(n * 99) / 100];
		sm->max = all[n - 1];
	}
	free(all);
}

static long
err_total(const struct summary *s)
{
	long t = 0;
	int k;

	for (k = 0; k < E_KINDS; k++)
		t += s->errors[k];
	return t;
}

static void
print_table(const struct bench *b, const char *target, int procs,
    struct summary *sm, int n)
{
	int i, k;

	printf("target %s  TLS %s  concurrency %d  procs %d  keepalive %d\n",
	    target, b->co.version == TLS1_3_VERSION ? "1.3" :
	    b->co.version == TLS1_2_VERSION ? "1.2" : "any", b->conc, procs,
	    b->keepalive);
	printf("%-8s %9s %8s %8s %8s %8s %8s %8s %7s %7s\n", "mode", "conn/s",
	    "conns", "resumed%", "p50_ms", "p90_ms", "p99_ms", "max_ms",
	    "errors", "cpu_s");
	for (i = 0; i < n; i++)
		printf("%-8s %9.1f %8ld %8.1f %8.2f %8.2f %8.2f %8.2f %7ld "
		    "%7.2f\n", sm[i].mode, sm[i].rate, sm[i].conns,
		    sm[i].conns ? 100.0 * sm[i].resumed / sm[i].conns : 0,
		    sm[i].p50, sm[i].p90, sm[i].p99, sm[i].max,
		    err_total(&sm[i]), sm[i].cpu);
	for (i = 0; i < n; i++) {
		if (err_total(&sm[i]) == 0)
			continue;
		printf("errors (%s):", sm[i].mode);
		for (k = 0; k < E_KINDS; k++)
			printf(" %s %ld", err_names[k], sm[i].errors[k]);
		printf("\n");
	}
	if (n == 2 && sm[0].rate > 0)
		printf("resumed / full: %.2fx\n", sm[1].rate / sm[0].rate);
}

static void
print_json(const struct bench *b, const char *target, int procs,
    struct summary *sm, int n)
{
	int i, k;

	printf("{\"target\": \"%s\", \"tls\": \"%s\", \"concurrency\": %d, "
	    "\"procs\": %d, \"keepalive\": %d, \"results\": [", target,
	    b->co.version == TLS1_3_VERSION ? "1.3" :
	    b->co.version == TLS1_2_VERSION ? "1.2" : "any", b->conc, procs,
	    b->keepalive);
	for (i = 0; i < n; i++) {
		printf("%s{\"mode\": \"%s\", \"connections\": %ld, "
		    "\"seconds\": %.3f, \"conn_per_s\": %.1f, \"resumed\": %ld, "
		    "\"resumed_pct\": %.1f, \"latency_ms\": {\"p50\": %.3f, "
		    "\"p90\": %.3f, \"p99\": %.3f, \"max\": %.3f}, "
		    "\"errors\": {", i ? ", " : "", sm[i].mode, sm[i].conns,
		    sm[i].secs, sm[i].rate, sm[i].resumed, sm[i].conns ?
		    100.0 * sm[i].resumed / sm[i].conns : 0, sm[i].p50,
		    sm[i].p90, sm[i].p99, sm[i].max);
		for (k = 0; k < E_KINDS; k++)
			printf("%s\"%s\": %ld", k ? ", " : "", err_names[k],
			    sm[i].errors[k]);
		printf("}, \"cpu_s\": %.3f}", sm[i].cpu);
	}
	printf("]}\n");
}

static void
print_csv(struct summary *sm, int n)
{
	int i, k;

	printf("mode,conn_per_s,connections,resumed,resumed_pct,p50_ms,p90_ms,"
	    "p99_ms,max_ms,cpu_s");
	for (k = 0; k < E_KINDS; k++)
		printf(",err_%s", err_names[k]);
	printf("\n");
	for (i = 0; i < n; i++) {
		printf("%s,%.1f,%ld,%ld,%.1f,%.3f,%.3f,%.3f,%.3f,%.3f",
		    sm[i].mode, sm[i].rate, sm[i].conns, sm[i].resumed,
		    sm[i].conns ? 100.0 * sm[i].resumed / sm[i].conns : 0,
		    sm[i].p50, sm[i].p90, sm[i].p99, sm[i].max, sm[i].cpu);
		for (k = 0; k < E_KINDS; k++)
			printf(",%ld", sm[i].errors[k]);
		printf("\n");
	}
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: cachet bench [OPTIONS] https://HOST[:PORT][/PATH]\n"
	    "       cachet bench --handshake-only [OPTIONS] HOST:PORT\n"
	    "  --mode full|resumed|both  what to measure (default both)\n"
	    "  -c, --concurrency C  connections in flight per process (8)\n"
	    "  -p, --procs P        client processes (1)\n"
	    "  -d, --duration S     seconds to measure per mode (8)\n"
	    "  -n, --count N        connections per mode instead of a duration\n"
	    "  --warmup S           seconds not counted first (1)\n"
	    "  --keepalive K        requests per connection (1)\n"
	    "  --handshake-only     no HTTP: handshake, close_notify, again\n"
	    "  --json, --csv        machine-readable output\n"
	    "%s", client_opts_help);
}

/* Run one mode: fork the processes, show progress, gather. */
static int
run_mode(struct bench *b, int procs, int resumed, const char *name,
    struct summary *sm)
{
	struct proc_result **rs = calloc((size_t)procs, sizeof *rs);
	double t0 = now_s();
	pid_t *kids = calloc((size_t)procs, sizeof *kids);
	int p, alive, tty = isatty(2);

	b->resumed = resumed;
	for (p = 0; p < procs; p++) {
		rs[p] = mmap(NULL, sizeof **rs, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (rs[p] == MAP_FAILED)
			return -1;
		memset(rs[p], 0, offsetof(struct proc_result, lat_ms));
		if ((kids[p] = fork()) == 0) {
			run_proc(b, rs[p]);
			_exit(0);
		}
	}
	do {
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		long done = 0;
		alive = 0;
		for (p = 0; p < procs; p++) {
			if (stop && kids[p] > 0)
				kill(kids[p], SIGINT);  /* pass Ctrl-C on */
			if (kids[p] > 0 && waitpid(kids[p], NULL, WNOHANG) == 0)
				alive++;
			else
				kids[p] = 0;
			done += rs[p]->done;
		}
		if (tty && alive)
			fprintf(stderr, "\r%-8s %5.1f s  %ld connections ", name,
			    now_s() - t0, done);
		if (alive)
			nanosleep(&ts, NULL);
	} while (alive);
	if (tty)
		fprintf(stderr, "\r%60s\r", "");
	summarize(rs, procs, name, sm);
	for (p = 0; p < procs; p++)
		munmap(rs[p], sizeof **rs);
	free(rs);
	free(kids);
	return 0;
}

int
cmd_bench(int argc, char **argv)
{
	static const struct option own[] = {
		{ "mode", required_argument, NULL, OPT_FIRST_OWN },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "procs", required_argument, NULL, 'p' },
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, OPT_FIRST_OWN + 1 },
		{ "keepalive", required_argument, NULL, OPT_FIRST_OWN + 2 },
		{ "handshake-only", no_argument, NULL, OPT_FIRST_OWN + 3 },
		{ "json", no_argument, NULL, OPT_FIRST_OWN + 4 },
		{ "csv", no_argument, NULL, OPT_FIRST_OWN + 5 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct option *opts = client_merge_opts(own);
	struct bench b;
	struct summary sm[2];
	struct addrinfo hints;
	const char *mode = "both", *target;
	int procs = 1, json = 0, csv = 0, c, n = 0, rc;
	long total = 0;
	char err[512];
	struct sigaction sa;

	memset(&b, 0, sizeof b);
	b.conc = 8;
	b.duration = 8;
	b.warmup = 1;
	b.keepalive = 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:p:d:n:kvh", opts, NULL)) != -1) {
		if (client_opt(&b.co, c, optarg))
			continue;
		switch (c) {
		case OPT_FIRST_OWN: mode = optarg; break;
		case 'c': b.conc = atoi(optarg); break;
		case 'p': procs = atoi(optarg); break;
		case 'd': b.duration = atof(optarg); break;
		case 'n': total = atol(optarg); break;
		case OPT_FIRST_OWN + 1: b.warmup = atof(optarg); break;
		case OPT_FIRST_OWN + 2: b.keepalive = atoi(optarg); break;
		case OPT_FIRST_OWN + 3: b.handshake_only = 1; break;
		case OPT_FIRST_OWN + 4: json = 1; break;
		case OPT_FIRST_OWN + 5: csv = 1; break;
		case 'h': usage(stdout); free(opts); return EX_OK;
		default: usage(stderr); free(opts); return EX_USAGE;
		}
	}
	free(opts);
	if (optind != argc - 1 || b.conc < 1 || b.conc > 10000 || procs < 1 ||
	    procs > 64 || !(b.duration > 0) || b.warmup < 0 ||
	    b.keepalive < 1 || total < 0 || (strcmp(mode, "full") &&
	    strcmp(mode, "resumed") && strcmp(mode, "both"))) {
		usage(stderr);
		return EX_USAGE;
	}
	target = argv[optind];
	if (strncmp(target, "https://", 8) == 0) {
		if (client_parse_url(target, &b.u) != 0) {
			fprintf(stderr, "cachet bench: bad target '%s'\n", target);
			return EX_USAGE;
		}
	} else if (b.handshake_only && client_split_hostport(target, b.u.host,
	    sizeof b.u.host, b.u.port, sizeof b.u.port, "443") == 0) {
		strcpy(b.u.path, "/");
	} else {
		fprintf(stderr, "cachet bench: target must be https://HOST[:PORT]"
		    "/PATH, or HOST:PORT with --handshake-only\n");
		return EX_USAGE;
	}
	if (total > 0)
		b.count = (total + procs - 1) / procs;
	snprintf(b.req_ka, sizeof b.req_ka, "GET %s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: cachet-bench\r\n\r\n", b.u.path, b.u.host);
	snprintf(b.req_close, sizeof b.req_close, "GET %s HTTP/1.1\r\nHost: %s"
	    "\r\nUser-Agent: cachet-bench\r\nConnection: close\r\n\r\n", b.u.path,
	    b.u.host);
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(b.u.host, b.u.port, &hints, &b.ai)) != 0) {
		fprintf(stderr, "cachet bench: %s: %s\n", b.u.host,
		    gai_strerror(rc));
		return EX_CONNECT;
	}
	if ((b.ctx = client_ctx_new(&b.co, err, sizeof err)) == NULL) {
		fprintf(stderr, "cachet bench: %s\n", err);
		freeaddrinfo(b.ai);
		return EX_USAGE;
	}
	SSL_CTX_set_session_cache_mode(b.ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(b.ctx, new_session_cb);
	SSL_CTX_set_info_callback(b.ctx, NULL);
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_int;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (strcmp(mode, "resumed") != 0 && !stop)
		run_mode(&b, procs, 0, "full", &sm[n++]);
	if (strcmp(mode, "full") != 0 && !stop)
		run_mode(&b, procs, 1, "resumed", &sm[n++]);
	if (json)
		print_json(&b, target, procs, sm, n);
	else if (csv)
		print_csv(sm, n);
	else
		print_table(&b, target, procs, sm, n);
	SSL_CTX_free(b.ctx);
	freeaddrinfo(b.ai);
	for (c = 0; c < n; c++)
		if (sm[c].conns > 0)
			return EX_OK;
	return EX_CONNECT;      /* nothing got through */
}
