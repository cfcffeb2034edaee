/*
 * cache_int.h - what the generic layer (cache.c) and the backends share.
 * Nothing outside cache/ includes this.
 */
#ifndef CACHET_CACHE_INT_H
#define CACHET_CACHE_INT_H

#include <openssl/evp.h>

#include "cache.h"

/* Mark callback of a scan: return 1 to delete the record. */
typedef int (*cache_mark_fn)(const unsigned char *k, size_t kl,
    const unsigned char *v, size_t vl, void *arg);

/* A key kept between purge slices. */
struct cache_key {
	unsigned char *k;
	size_t         kl;
};

/* Log through the hook, at most once a minute per kind of problem: a
 * file that cannot be used does not hide a repair, nor a repair the
 * cache getting full. */
enum cache_log_kind {
	CACHE_LOG_IO,           /* file or folder unreachable, locking */
	CACHE_LOG_DAMAGE,       /* damage seen (read-only: not repaired) */
	CACHE_LOG_REPAIR,       /* recovered or recreated */
	CACHE_LOG_FULL,         /* max-entries reached: evicting */
	CACHE_LOG_KINDS
};
struct cache_backend {
	const char *name;
	int         stores;     /* 0: "internal" and "none" keep nothing */
	/* In the master: create/check the store, files owned by uid. */
	int  (*prepare)(struct cache *, char *err, size_t errlen);
	/* In each process after fork. */
	int  (*attach)(struct cache *);
	/* 0 stored, 1 not stored (full), -1 error. */
	int  (*put)(struct cache *, const unsigned char *k, size_t kl,
	         const unsigned char *v, size_t vl);
	/* 1 found (*v malloc'd), 0 absent, -1 error. */
	int  (*get)(struct cache *, const unsigned char *k, size_t kl,
	         unsigned char **v, size_t *vl);
	/* 1 removed, 0 absent, -1 error. */
	int  (*del)(struct cache *, const struct cache_key *, size_t n,
	         size_t *removed);
	/* Visit up to max records after *cursor (NULL: from the start);
	 * marked keys are appended to the purge list.  1: more, 0: end. */
	int  (*scan)(struct cache *, size_t max, cache_mark_fn, void *arg);
	int  (*clear)(struct cache *);
	/* Shared totals (repairs, evictions) for cache_info; may be NULL. */
	void (*totals)(struct cache *, struct cache_info *);
	/* Claim the next purge for this process: 1 when `interval` seconds
	 * passed since the last one (or the store is at max_entries and a
	 * second passed), 0 otherwise, -1 on error. */
	int  (*purge_claim)(struct cache *, time_t now, long interval,
	         long max_entries);
	void (*close)(struct cache *);
};

struct cache {
	const struct cache_backend *be;
	struct cache_opts     o;
	char                 *path;         /* backend argument */
	unsigned char         key[CACHE_KEY_LEN];
	int                   have_key;
	EVP_CIPHER           *aead;
	EVP_CIPHER_CTX       *cctx;
	struct cache_stats    own;
	struct cache_stats   *st;
	cache_log_fn          log;
	time_t                last_log[CACHE_LOG_KINDS];
	void                 *be_data;      /* the backend's own state */

	/* purge in slices */
	int                   pg_phase;     /* 0 idle, 1 scanning, 2 deleting */
	unsigned char        *pg_cursor;
	size_t                pg_cursor_len;
	int                   pg_restarts;
	struct cache_key     *pg_dead;
	size_t                pg_ndead, pg_cap, pg_done;
	size_t                pg_kept;
	time_t                pg_now;
};

void cache_log(struct cache *, enum cache_log_kind, int err,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Created and expiry times from a record's header: 0 if well formed. */
int  cache_rec_times(const unsigned char *v, size_t vl, time_t *created,
    time_t *expires);
int  cache_keep_dead(struct cache *, const unsigned char *k, size_t kl);

extern const struct cache_backend cache_backend_gdbm;

#endif
