/*
 * cmd_bench.c - `cachet bench TARGET`: full against resumed handshakes per
 * second, against any TLS server.
 *
 * The parent reads the command line, forks --procs client processes
 * (bench_proc.c) per mode, shows progress on a terminal, and prints a
 * table, JSON or CSV (bench_report.c).  Resumed mode counts what
 * SSL_session_reused() says, so a server that silently does full
 * handshakes shows as a low reuse ratio, not as a fast server.  Ctrl-C
 * prints what was measured.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "common.h"

#define PROGRESS_MS  200        /* the parent's progress line */
#define MAX_CONC     10000
#define MAX_PROCS    64
#define MAX_SECONDS  1e6
#define MAX_KEEPALIVE 1000000

enum { GO_ON = -1 };            /* else: an exit code */


static void
on_int(int sig)
{
	(void)sig;
	bench_stop = 1;
}

/* --------------------------------------------------------- the parent */

/* Fork one process per result: 0, or -1 (said) with none left running. */
static int
spawn(struct bench *b, struct proc_result *rs, pid_t *kids)
{
	int p, q;

	for (p = 0; p < b->procs; p++) {
		if ((kids[p] = fork()) == 0) {
			bench_proc(b, &rs[p]);
			_exit(0);
		}
		if (kids[p] > 0)
			continue;
		fprintf(stderr, "cachet bench: fork: %s\n", strerror(errno));
		for (q = 0; q < p; q++)
			kill(kids[q], SIGTERM);
		for (q = 0; q < p; q++)
			waitpid(kids[q], NULL, 0);
		return -1;
	}
	return 0;
}

/* Wait for the processes, passing Ctrl-C on; progress on a terminal. */
static void
watch(const struct bench *b, const struct proc_result *rs, pid_t *kids,
    const char *name)
{
	struct timespec ts = { 0, PROGRESS_MS * 1000L * 1000L };
	double t0 = bench_now();
	int p, alive, tty = isatty(2);

	do {
		long done = 0;
		alive = 0;
		for (p = 0; p < b->procs; p++) {
			if (bench_stop && kids[p] > 0)
				kill(kids[p], SIGINT);
			if (kids[p] > 0 && waitpid(kids[p], NULL, WNOHANG) == 0)
				alive++;
			else
				kids[p] = 0;
			done += rs[p].done;
		}
		if (tty && alive)
			fprintf(stderr, "\r%-8s %5.1f s  %ld connections ", name,
			    bench_now() - t0, done);
		if (alive)
			nanosleep(&ts, NULL);
	} while (alive);
	if (tty)
		fprintf(stderr, "\r%60s\r", "");
}

/* Run one mode: map the results, fork, watch, sum.  -1 (said) if the
 * processes could not be started. */
static int
run_mode(struct bench *b, int resumed, const char *name, struct summary *sm)
{
	size_t size = (size_t)b->procs * sizeof(struct proc_result);
	struct proc_result *rs;
	pid_t *kids;
	int rc = -1;

	rs = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_ANONYMOUS, -1, 0);
	if (rs == MAP_FAILED) {
		fprintf(stderr, "cachet bench: cannot map %zu MiB of shared "
		    "memory for %d process(es): %s\n", size >> 20, b->procs,
		    strerror(errno));
		return -1;
	}
	kids = xcalloc((size_t)b->procs, sizeof *kids);
	b->resumed = resumed;
	if (spawn(b, rs, kids) == 0) {
		watch(b, rs, kids, name);
		bench_summarize(rs, b->procs, name, sm);
		rc = 0;
	}
	munmap(rs, size);
	free(kids);
	return rc;
}

/* ---------------------------------------------------- the command line */

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

/* What the command line asks beyond struct bench. */
struct bench_cli {
	const char *mode;
	int         json, csv;
	long        total;          /* -n, over all processes */
};

static int
int_opt(const char *opt, const char *arg, long min, long max, int *out)
{
	long v;

	if (opt_long("bench", opt, arg, min, max, &v) != 0)
		return EX_USAGE;
	*out = (int)v;
	return GO_ON;
}

static int
sec_opt(const char *opt, const char *arg, double min, double *out)
{
	return opt_double("bench", opt, arg, min, MAX_SECONDS, out) != 0 ?
	    EX_USAGE : GO_ON;
}

static int
long_opt(const char *opt, const char *arg, long *out)
{
	return opt_long("bench", opt, arg, 0, LONG_MAX, out) != 0 ?
	    EX_USAGE : GO_ON;
}

/* One option of bench's own: GO_ON, or the exit code. */
static int
bench_opt(struct bench *b, struct bench_cli *cli, int c, const char *arg)
{
	switch (c) {
	case OPT_FIRST_OWN: cli->mode = arg; return GO_ON;
	case 'c': return int_opt("-c/--concurrency", arg, 1, MAX_CONC, &b->conc);
	case 'p': return int_opt("-p/--procs", arg, 1, MAX_PROCS, &b->procs);
	case 'd': return sec_opt("-d/--duration", arg, 0.001, &b->duration);
	case 'n': return long_opt("-n/--count", arg, &cli->total);
	case OPT_FIRST_OWN + 1: return sec_opt("--warmup", arg, 0, &b->warmup);
	case OPT_FIRST_OWN + 2:
		return int_opt("--keepalive", arg, 1, MAX_KEEPALIVE,
		    &b->keepalive);
	case OPT_FIRST_OWN + 3: b->handshake_only = 1; return GO_ON;
	case OPT_FIRST_OWN + 4: cli->json = 1; return GO_ON;
	case OPT_FIRST_OWN + 5: cli->csv = 1; return GO_ON;
	case 'h': usage(stdout); return EX_OK;
	default: usage(stderr); return EX_USAGE;
	}
}

/* The options, with their defaults: GO_ON, or the exit code. */
static int
bench_args(struct bench *b, struct bench_cli *cli, int argc, char **argv)
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
	int c, rc = GO_ON;

	b->conc = 8;
	b->procs = 1;
	b->duration = 8;
	b->warmup = 1;
	b->keepalive = 1;
	cli->mode = "both";
	optind = 1;
	while (rc == GO_ON && (c = getopt_long(argc, argv, "c:p:d:n:kvh", opts,
	    NULL)) != -1)
		if (!client_opt(&b->co, c, optarg))
			rc = bench_opt(b, cli, c, optarg);
	free(opts);
	if (rc != GO_ON)
		return rc;
	if (strcmp(cli->mode, "full") && strcmp(cli->mode, "resumed") &&
	    strcmp(cli->mode, "both")) {
		fprintf(stderr, "cachet bench: --mode: '%s' is not full, "
		    "resumed or both\n", cli->mode);
		return EX_USAGE;
	}
	if (optind != argc - 1) {
		usage(stderr);
		return EX_USAGE;
	}
	b->target = argv[optind];
	if (cli->total > 0)
		b->count = (cli->total + b->procs - 1) / b->procs;
	return GO_ON;
}

/* Where to connect and what to send: GO_ON, or the exit code. */
static int
bench_target(struct bench *b)
{
	struct addrinfo hints;
	int rc;

	if (strncmp(b->target, "https://", 8) == 0) {
		if (client_parse_url(b->target, &b->u) != 0) {
			fprintf(stderr, "cachet bench: bad target '%s'\n",
			    b->target);
			return EX_USAGE;
		}
	} else if (b->handshake_only && client_split_hostport(b->target,
	    b->u.host, sizeof b->u.host, b->u.port, sizeof b->u.port,
	    "443") == 0) {
		strcpy(b->u.path, "/");
	} else {
		fprintf(stderr, "cachet bench: target must be https://HOST[:PORT]"
		    "/PATH, or HOST:PORT with --handshake-only\n");
		return EX_USAGE;
	}
	rc = client_request(b->req_ka, sizeof b->req_ka, "GET", &b->u, 1);
	b->req_ka_len = rc > 0 ? (size_t)rc : 0;
	rc = client_request(b->req_close, sizeof b->req_close, "GET", &b->u, 0);
	b->req_close_len = rc > 0 ? (size_t)rc : 0;
	if (b->req_ka_len == 0 || b->req_close_len == 0) {
		fprintf(stderr, "cachet bench: the URL is too long\n");
		return EX_USAGE;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(b->u.host, b->u.port, &hints, &b->ai)) != 0) {
		fprintf(stderr, "cachet bench: %s: %s\n", b->u.host,
		    gai_strerror(rc));
		b->ai = NULL;
		return EX_CONNECT;
	}
	return GO_ON;
}

/* The TLS context and the signals: GO_ON, or the exit code. */
static int
bench_setup(struct bench *b)
{
	struct sigaction sa;
	char err[512];

	if ((b->ctx = client_ctx_new(&b->co, err, sizeof err)) == NULL) {
		fprintf(stderr, "cachet bench: %s\n", err);
		return EX_USAGE;
	}
	SSL_CTX_set_session_cache_mode(b->ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(b->ctx, bench_new_session_cb);
	SSL_CTX_set_info_callback(b->ctx, NULL);
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_int;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return GO_ON;
}

/* The modes asked, then the report: the exit code. */
static int
bench_run(struct bench *b, const struct bench_cli *cli)
{
	struct summary sm[2];
	int n = 0, i;

	if (strcmp(cli->mode, "resumed") != 0 && !bench_stop &&
	    run_mode(b, 0, "full", &sm[n++]) != 0)
		return EX_OTHER;
	if (strcmp(cli->mode, "full") != 0 && !bench_stop &&
	    run_mode(b, 1, "resumed", &sm[n++]) != 0)
		return EX_OTHER;
	if (cli->json)
		bench_print_json(b, sm, n);
	else if (cli->csv)
		bench_print_csv(sm, n);
	else
		bench_print_table(b, sm, n);
	for (i = 0; i < n; i++)
		if (sm[i].conns > 0)
			return EX_OK;
	return EX_CONNECT;      /* nothing got through */
}

int
cmd_bench(int argc, char **argv)
{
	struct bench b;
	struct bench_cli cli;
	int rc;

	memset(&b, 0, sizeof b);
	memset(&cli, 0, sizeof cli);
	if ((rc = bench_args(&b, &cli, argc, argv)) == GO_ON &&
	    (rc = bench_target(&b)) == GO_ON &&
	    (rc = bench_setup(&b)) == GO_ON)
		rc = bench_run(&b, &cli);
	SSL_CTX_free(b.ctx);
	if (b.ai != NULL)
		freeaddrinfo(b.ai);
	return rc;
}
