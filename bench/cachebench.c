/*
 * cachebench.c - micro-benchmark of the session cache library: fetches
 * and stores per second and their latency percentiles, at a given number
 * of records, with one or more processes, for each GDBM variant asked for.
 *
 *   cachebench [-n RECORDS] [-p PROCS] [-d SECONDS] [-s BYTES]
 *              [-b BLOCKSIZE] [-m] [-c CACHESIZE] [-P] PATH
 *
 * Records are real sealed records of -s bytes (default 200, about a TLS
 * 1.3 session), filled through the library itself.  Each process then
 * fetches random existing keys for -d seconds, and stores new keys for -d
 * seconds.  Output: one line per operation, times in microseconds.
 * With -P, half the records are filled already expired and a purge is
 * timed instead: slices, the longest slice (the longest time the lock is
 * held in one go) and the whole purge.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"

#define MAX_SAMPLES 2000000

struct result {
	long   ops;
	double secs;
	double lat[MAX_SAMPLES / 8];    /* a sample of latencies */
	long   nlat;
	long   fails;
};

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
make_id(unsigned char *id, long i, int proc)
{
	memset(id, 0, 32);
	snprintf((char *)id, 32, "bench-%d-%ld", proc, i);
}

static void
run(struct cache *c, int op, long nrec, double secs, size_t size, int proc,
    struct result *r)
{
	unsigned char id[32], *data = malloc(size), *out;
	double end, t0, t1;
	size_t len;
	long i = 0;

	memset(data, 'x', size);
	memset(r, 0, sizeof *r);
	srand((unsigned)(getpid() * 7919));
	t0 = now_us();
	end = t0 + secs * 1e6;
	while ((t1 = now_us()) < end) {
		int ok;
		if (op == 0) {
			make_id(id, rand() % nrec, 0);
			ok = cache_fetch(c, id, 32, &out, &len) == 1;
			if (ok)
				free(out);
		} else {
			make_id(id, nrec + i, 100 + proc);
			ok = cache_store(c, id, 32, data, size, time(NULL),
			    time(NULL) + 3600) == 0;
		}
		if (!ok)
			r->fails++;
		if (r->nlat < (long)(sizeof r->lat / sizeof r->lat[0]))
			r->lat[r->nlat++] = now_us() - t1;
		i++;
	}
	r->ops = i;
	r->secs = (now_us() - t0) / 1e6;
	free(data);
}

int
main(int argc, char **argv)
{
	struct cache_opts o;
	struct result *res;
	unsigned char key[CACHE_KEY_LEN], id[32], *data;
	char spec[4200], err[256];
	long nrec = 1000, i;
	int procs = 1, ch, op, p, purge = 0;
	double secs = 3;
	size_t size = 200;
	struct cache *c;

	memset(&o, 0, sizeof o);
	o.timeout = 3600;
	o.max_entries = 100000000;
	o.purge_interval = 3600;
	o.uid = (uid_t)-1;
	o.gid = (gid_t)-1;
	while ((ch = getopt(argc, argv, "n:p:d:s:b:mc:P")) != -1) {
		switch (ch) {
		case 'P': purge = 1; break;
		case 'n': nrec = atol(optarg); break;
		case 'p': procs = atoi(optarg); break;
		case 'd': secs = atof(optarg); break;
		case 's': size = (size_t)atol(optarg); break;
		case 'b': o.block_size = atoi(optarg); break;
		case 'm': o.use_mmap = 1; break;
		case 'c': o.cache_size = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: cachebench [-n records] [-p procs] "
			    "[-d secs] [-s bytes] [-b blocksize] [-m] "
			    "[-c cachesize] PATH\n");
			return 2;
		}
	}
	if (optind != argc - 1 || nrec < 1 || procs < 1 || procs > 16) {
		fprintf(stderr, "cachebench: bad arguments\n");
		return 2;
	}
	memset(key, 7, sizeof key);
	snprintf(spec, sizeof spec, "gdbm:%s", argv[optind]);
	unlink(argv[optind]);
	if ((c = cache_open(spec, &o, key, err, sizeof err)) == NULL) {
		fprintf(stderr, "cachebench: %s\n", err);
		return 1;
	}
	cache_attach(c);
	data = malloc(size);
	memset(data, 'x', size);
	{
		double t0 = now_us();
		for (i = 0; i < nrec; i++) {
			make_id(id, i, 0);
			if (cache_store(c, id, 32, data, size, time(NULL),
			    time(NULL) + (purge && i % 2 ? -1 : 3600)) != 0) {
				fprintf(stderr, "cachebench: fill failed at %ld\n",
				    i);
				return 1;
			}
		}
		fprintf(stderr, "filled %ld records in %.1f s\n", nrec,
		    (now_us() - t0) / 1e6);
	}
	if (purge) {
		double t0 = now_us(), t1, longest = 0;
		long steps = 0;
		int r;
		do {
			t1 = now_us();
			r = cache_purge_step(c, time(NULL));
			t1 = now_us() - t1;
			if (t1 > longest)
				longest = t1;
			steps++;
		} while (r == 1);
		printf("purge %ld records (%ld expired): %ld slices, longest "
		    "%.1f ms, whole purge %.1f ms, removed %llu\n", nrec,
		    nrec / 2, steps, longest / 1e3, (now_us() - t0) / 1e3,
		    (unsigned long long)cache_stats(c)->expired);
		cache_close(c);
		return 0;
	}
	cache_close(c);

	res = mmap(NULL, sizeof *res * (size_t)procs, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	printf("%-6s %9s %5s %10s %8s %8s %8s %8s %6s\n", "op", "records",
	    "procs", "ops/s", "p50_us", "p90_us", "p99_us", "max_us", "fails");
	for (op = 0; op < 2; op++) {
		double all[MAX_SAMPLES / 8];
		long n = 0, ops = 0, fails = 0;
		double rate = 0;

		for (p = 0; p < procs; p++) {
			if (fork() == 0) {
				struct cache *pc = cache_open(spec, &o, key, err,
				    sizeof err);
				cache_attach(pc);
				run(pc, op, nrec, secs, size, p, &res[p]);
				cache_close(pc);
				_exit(0);
			}
		}
		for (p = 0; p < procs; p++)
			wait(NULL);
		for (p = 0; p < procs; p++) {
			long k;
			ops += res[p].ops;
			fails += res[p].fails;
			rate += res[p].ops / res[p].secs;
			for (k = 0; k < res[p].nlat && n < (long)(sizeof all /
			    sizeof all[0]); k++)
				all[n++] = res[p].lat[k];
		}
		qsort(all, (size_t)n, sizeof all[0], cmp_d);
		printf("%-6s %9ld %5d %10.0f %8.1f %8.1f %8.1f %8.0f %6ld\n",
		    op == 0 ? "fetch" : "store", nrec, procs, rate,
		    all[n / 2], all[n * 9 / 10], all[n * 99 / 100], all[n - 1],
		    fails);
		fflush(stdout);
	}
	free(data);
	return 0;
}
