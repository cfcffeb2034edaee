/*
 * cache.h - the TLS session cache library (libcachetcache).
 *
 * A backend-neutral store of opaque records keyed by session ID, with
 * expiry, a size cap and counters, and the glue that plugs it into an
 * SSL_CTX.  Callers (cachetd, cachet) never see how records are stored:
 *
 *   cache_open(spec)      "gdbm:PATH" | "internal" | "none"  (in the master)
 *                         (opts.read_only: look, never create or repair)
 *   cache_attach()        per process, after fork (opens the lock file)
 *   cache_store/fetch/remove/purge/stats/close
 *   cache_ssl_setup()     SSL_CTX callbacks, cache mode, ticket policy
 *
 * Records are sealed (AES-256-GCM) by this layer before a backend sees
 * them; backends store and return bytes.  A backend is a table of
 * functions in its own file (cache_gdbm.c); a memcached backend would be
 * one more table.
 */
#ifndef CACHET_CACHE_H
#define CACHET_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <openssl/ssl.h>

#define CACHE_KEY_LEN      32          /* AES-256 */
#define CACHE_MAX_RECORD   (64 * 1024) /* sessions with long chains fit */
#define CACHE_MAX_ID       SSL_MAX_SSL_SESSION_ID_LENGTH

/* Counters of one process; the daemon keeps them in shared memory. */
struct cache_stats {
	uint64_t hits;
	uint64_t misses;
	uint64_t stores;
	uint64_t store_failures;
	uint64_t removes;
	uint64_t expired;
	uint64_t full;          /* not stored: cache at max-entries and
	                         * nothing could be evicted */
	uint64_t errors;        /* backend errors (I/O, damage, locking) */
	uint64_t repairs;       /* damaged store recovered or recreated */
	uint64_t evictions;     /* live records removed to make room */
};

struct cache_opts {
	long  timeout;          /* seconds a session lives */
	long  max_entries;
	long  purge_interval;   /* seconds between purges */
	uid_t uid;              /* owner of the files (-1: leave) */
	gid_t gid;
	int   block_size;       /* gdbm tuning, for benchmarks: 0 = default */
	int   use_mmap;         /* gdbm: 1 = mmap (default: GDBM_NOMMAP) */
	int   cache_size;       /* gdbm bucket cache: 0 = default */
	int   read_only;        /* tools that look: never create, chmod,
	                         * repair or write anything */
};

/* Summary of a store, for `cachet cache stats` and purges. */
struct cache_info {
	size_t  count;
	size_t  expired;
	off_t   file_size;
	time_t  oldest;         /* created, 0 if empty */
	time_t  newest;
	/* Shared totals kept beside the store (0 when it keeps none). */
	uint64_t repairs;
	uint64_t evictions;
};

/* One record as listed (no secret in it). */
struct cache_entry {
	unsigned char id[CACHE_MAX_ID];
	size_t        idlen;
	time_t        created;
	time_t        expires;
	size_t        size;     /* bytes stored */
};

struct cache;

/* Logging hook: called at most once a minute per kind of problem
 * (unreachable, damaged, repaired, full). */
typedef void (*cache_log_fn)(int err, const char *msg);

/* ---------------------------------------------------------- cache.c */
/* Parse spec and prepare the store (create its file, mode 0600, owned by
 * opts->uid; a symbolic link, a file with other links or one owned by
 * someone else than root, opts->uid or us is refused: NULL and err).
 * With opts->read_only nothing is created or changed.  key may be NULL
 * for tools that do not open records. */
struct cache *cache_open(const char *spec, const struct cache_opts *,
                  const unsigned char key[CACHE_KEY_LEN], char *err,
                  size_t errlen);
int           cache_attach(struct cache *);      /* after fork */
void          cache_close(struct cache *);
const char   *cache_kind(const struct cache *);  /* "gdbm", ... */
void          cache_set_stats(struct cache *, struct cache_stats *);
void          cache_set_log(struct cache *, cache_log_fn);
const struct cache_stats *cache_stats(const struct cache *);

/* Returns 0 stored, 1 not stored (full, nothing evictable), -1 error.
 * At max-entries older records are evicted to make room. */
int           cache_store(struct cache *, const unsigned char *id,
                  size_t idlen, const unsigned char *data, size_t len,
                  time_t created, time_t expires);
/* Returns 1 and a malloc'd *data on a hit, 0 on a miss (including
 * expired, damaged, wrong key), -1 on a backend error.  A damaged store
 * is repaired (once, by the first process to see it) and this is a miss. */
int           cache_fetch(struct cache *, const unsigned char *id,
                  size_t idlen, unsigned char **data, size_t *len);
int           cache_remove(struct cache *, const unsigned char *id,
                  size_t idlen);
/* Purge expired records, in slices: returns 1 while there is more to do,
 * 0 when done, -1 on error.  Each call holds the lock only briefly. */
int           cache_purge_step(struct cache *, time_t now);
/* Whether this process should start a purge now (interval elapsed or the
 * cap reached); claims the purge so no other process starts one. */
int           cache_purge_due(struct cache *, time_t now);
/* The same, but only for the interval (not for the cap). */
int           cache_purge_due_interval(struct cache *, time_t now);
int           cache_purge_all(struct cache *, time_t now, size_t *removed);
/* -1 when the store cannot be read whole (damaged): the reason goes to
 * the log hook. */
int           cache_info(struct cache *, time_t now, struct cache_info *);
int           cache_list(struct cache *, int (*fn)(const struct cache_entry *,
                  void *), void *arg);
int           cache_clear(struct cache *);

/* Read a seal key file: exactly 32 bytes, not readable by group/others. */
int           cache_read_key(const char *path, unsigned char key[CACHE_KEY_LEN],
                  char *err, size_t errlen);

/* ------------------------------------------------------ cache_ssl.c */
/* Set the session cache mode, callbacks and ticket policy of ctx. */
int           cache_ssl_setup(SSL_CTX *, struct cache *, long timeout,
                  int tickets);

#endif
