/*
 * fuzz_seal.c - libFuzzer harness for the sealed-record decoder of the
 * session cache (cache/cache.c: header check, expiry, AES-256-GCM open),
 * through the public API: what an attacker who can write the cache file
 * controls is the stored bytes, so the harness writes them with GDBM
 * directly, bypassing the seal, and cache_fetch()es them.
 *
 * Input: one byte (the session ID length, 1..32), the ID, then the stored
 * record.  Properties: the fetch is a miss (0) or, for a record that
 * really was sealed under this key and ID, a hit (1) whose length is the
 * record's less header and tag; never an error (-1, the store works) and
 * never a crash.  The key is fixed, so a seed made with it opens: see
 * fuzz/README.
 */
#include "config.h"

#include <fcntl.h>
#include <gdbm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REC_OVERHEAD (36 + 16)  /* header + tag (cache.c) */

static const unsigned char key[CACHE_KEY_LEN] =
    "cachet fuzz_seal fixed seal key!";
static struct cache *cache;
static char dir[64], db[96], lockpath[112];

static void
cleanup(void)
{
	cache_close(cache);
	unlink(db);
	unlink(lockpath);
	rmdir(dir);
}

static void
init(void)
{
	struct cache_opts o = { .timeout = 300, .max_entries = 100000,
	    .purge_interval = 60, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	char spec[128], err[256];

	snprintf(dir, sizeof dir, "%s/fuzz_seal.XXXXXX",
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("fuzz_seal: mkdtemp");
		abort();
	}
	snprintf(db, sizeof db, "%s/sessions.db", dir);
	snprintf(lockpath, sizeof lockpath, "%s.lock", db);
	snprintf(spec, sizeof spec, "gdbm:%s", db);
	err[0] = '\0';
	if ((cache = cache_open(spec, &o, key, err, sizeof err)) == NULL ||
	    err[0] != '\0' || cache_attach(cache) != 0) {
		fprintf(stderr, "fuzz_seal: cache_open: %s\n", err);
		abort();
	}
	atexit(cleanup);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	datum k, v;
	GDBM_FILE g;
	unsigned char *out = NULL;
	size_t idlen, len = 0;
	int r;

	if (cache == NULL)
		init();
	if (size < 1)
		return 0;
	idlen = data[0] % CACHE_MAX_ID + 1;
	if (size < 1 + idlen || size - 1 - idlen > CACHE_MAX_RECORD)
		return 0;
	k.dptr = (char *)data + 1;
	k.dsize = (int)idlen;
	v.dptr = (char *)data + 1 + idlen;
	v.dsize = (int)(size - 1 - idlen);

	g = gdbm_open(db, 0, GDBM_WRCREAT | GDBM_NOLOCK | GDBM_NOMMAP, 0600,
	    NULL);
	if (g == NULL || gdbm_store(g, k, v, GDBM_REPLACE) != 0) {
		fprintf(stderr, "fuzz_seal: gdbm: %s\n",
		    gdbm_strerror(gdbm_errno));
		abort();
	}
	gdbm_close(g);

	r = cache_fetch(cache, data + 1, idlen, &out, &len);
	if (r == 1) {
		if (out == NULL || (size_t)v.dsize < REC_OVERHEAD ||
		    len != (size_t)v.dsize - REC_OVERHEAD)
			abort();
		free(out);
		cache_remove(cache, data + 1, idlen);
	} else if (r != 0) {
		fprintf(stderr, "fuzz_seal: cache_fetch returned %d\n", r);
		abort();
	}
	return 0;
}
