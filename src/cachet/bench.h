/*
 * bench.h - what cmd_bench.c (the measuring) and bench_report.c (the
 * summary and its table / JSON / CSV) share.
 */
#ifndef CACHET_BENCH_H
#define CACHET_BENCH_H

#include <netdb.h>
#include <signal.h>

#include "cachet.h"

#define MAX_LAT      4000000    /* latencies kept per process */

enum { E_CONNECT, E_HANDSHAKE, E_IO, E_HTTP, E_TIMEOUT, E_KINDS };

/* What one process reports, in memory shared with the parent. */
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

struct bench {
	struct client_opts co;
	struct client_url u;
	const char  *target;        /* as given */
	struct addrinfo *ai;
	int          handshake_only, resumed, keepalive, conc, procs;
	double       duration, warmup;
	long         count;         /* per process, 0: by duration */
	SSL_CTX     *ctx;
	char         req_ka[2600], req_close[2600];
	size_t       req_ka_len, req_close_len;
};

/* One mode's results, summed over the processes. */
struct summary {
	const char *mode;
	long   conns, resumed, errors[E_KINDS];
	double secs, rate, cpu, p50, p90, p99, max;
};

/* bench_proc.c: one client process; Ctrl-C sets bench_stop. */
extern volatile sig_atomic_t bench_stop;
double bench_now(void);         /* monotonic seconds */
int    bench_new_session_cb(SSL *, SSL_SESSION *);
void   bench_proc(struct bench *, struct proc_result *);

/* bench_report.c */
void bench_summarize(const struct proc_result *, int procs, const char *mode,
         struct summary *);
void bench_print_table(const struct bench *, const struct summary *, int n);
void bench_print_json(const struct bench *, const struct summary *, int n);
void bench_print_csv(const struct summary *, int n);

#endif
