/*
 * bench_report.c - what `cachet bench` prints: the processes' results
 * summed per mode (rates added, latencies pooled for the percentiles),
 * then a table, JSON or CSV.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "common.h"

static const char *const err_names[E_KINDS] = {
	"connect", "handshake", "io", "http", "timeout",
};

static int
cmp_f(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return x < y ? -1 : x > y;
}

/* p50 .. max of every latency the processes kept. */
static void
percentiles(const struct proc_result *rs, int procs, struct summary *sm)
{
	long n = 0, i = 0;
	float *all;
	int p;

	for (p = 0; p < procs; p++)
		n += rs[p].nlat;
	if (n == 0)
		return;
	all = xcalloc((size_t)n, sizeof *all);
	for (p = 0; p < procs; p++) {
		memcpy(all + i, rs[p].lat_ms, (size_t)rs[p].nlat * sizeof *all);
		i += rs[p].nlat;
	}
	qsort(all, (size_t)n, sizeof *all, cmp_f);
	sm->p50 = all[n / 2];
	sm->p90 = all[(n * 9) / 10];
	sm->p99 = all[(n * 99) / 100];
	sm->max = all[n - 1];
	free(all);
}

void
bench_summarize(const struct proc_result *rs, int procs, const char *mode,
    struct summary *sm)
{
	int p, k;

	memset(sm, 0, sizeof *sm);
	sm->mode = mode;
	for (p = 0; p < procs; p++) {
		sm->conns += rs[p].conns;
		sm->resumed += rs[p].resumed;
		for (k = 0; k < E_KINDS; k++)
			sm->errors[k] += rs[p].errors[k];
		if (rs[p].secs > sm->secs)
			sm->secs = rs[p].secs;
		if (rs[p].secs > 0)
			sm->rate += rs[p].conns / rs[p].secs;
		sm->cpu += rs[p].cpu;
	}
	percentiles(rs, procs, sm);
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

static double
resumed_pct(const struct summary *s)
{
	return s->conns ? 100.0 * s->resumed / s->conns : 0;
}

static const char *
tls_name(const struct bench *b)
{
	return b->co.version == TLS1_3_VERSION ? "1.3" :
	    b->co.version == TLS1_2_VERSION ? "1.2" : "any";
}

void
bench_print_table(const struct bench *b, const struct summary *sm, int n)
{
	int i, k;

	printf("target %s  TLS %s  concurrency %d  procs %d  keepalive %d\n",
	    b->target, tls_name(b), b->conc, b->procs, b->keepalive);
	printf("%-8s %9s %8s %8s %8s %8s %8s %8s %7s %7s\n", "mode", "conn/s",
	    "conns", "resumed%", "p50_ms", "p90_ms", "p99_ms", "max_ms",
	    "errors", "cpu_s");
	for (i = 0; i < n; i++)
		printf("%-8s %9.1f %8ld %8.1f %8.2f %8.2f %8.2f %8.2f %7ld "
		    "%7.2f\n", sm[i].mode, sm[i].rate, sm[i].conns,
		    resumed_pct(&sm[i]), sm[i].p50, sm[i].p90, sm[i].p99,
		    sm[i].max, err_total(&sm[i]), sm[i].cpu);
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

void
bench_print_json(const struct bench *b, const struct summary *sm, int n)
{
	int i, k;

	printf("{\"target\": \"%s\", \"tls\": \"%s\", \"concurrency\": %d, "
	    "\"procs\": %d, \"keepalive\": %d, \"results\": [", b->target,
	    tls_name(b), b->conc, b->procs, b->keepalive);
	for (i = 0; i < n; i++) {
		printf("%s{\"mode\": \"%s\", \"connections\": %ld, "
		    "\"seconds\": %.3f, \"conn_per_s\": %.1f, \"resumed\": %ld, "
		    "\"resumed_pct\": %.1f, \"latency_ms\": {\"p50\": %.3f, "
		    "\"p90\": %.3f, \"p99\": %.3f, \"max\": %.3f}, "
		    "\"errors\": {", i ? ", " : "", sm[i].mode, sm[i].conns,
		    sm[i].secs, sm[i].rate, sm[i].resumed, resumed_pct(&sm[i]),
		    sm[i].p50, sm[i].p90, sm[i].p99, sm[i].max);
		for (k = 0; k < E_KINDS; k++)
			printf("%s\"%s\": %ld", k ? ", " : "", err_names[k],
			    sm[i].errors[k]);
		printf("}, \"cpu_s\": %.3f}", sm[i].cpu);
	}
	printf("]}\n");
}

void
bench_print_csv(const struct summary *sm, int n)
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
		    resumed_pct(&sm[i]), sm[i].p50, sm[i].p90, sm[i].p99,
		    sm[i].max, sm[i].cpu);
		for (k = 0; k < E_KINDS; k++)
			printf(",%ld", sm[i].errors[k]);
		printf("\n");
	}
}
