/*
 * cache.h - the TLS session cache library (libcachetcache).
 *
 * A backend-neutral store of opaque records keyed by session ID, with
 * expiry, a size cap and counters, and the glue that plugs it into an
 * SSL_CTX.  Callers (cachetd, cachet) never see how records are stored,
 * nor which stores exist: they pass the spec the operator wrote and ask
 * this library about it.
 *
 *   cache_spec_check()    is this spec valid?  (config, with the reason)
 *   cache_spec_resolve()  a file named in a spec, relative to a folder
 *   cache_new(spec)       a handle, no I/O (`cachetd -t`)
 *   cache_prepare()       in the master, as root, before the workers:
 *                         create or check the store's files
 *   cache_open(spec)      both, for tools (opts.read_only: look, never
 *                         create or repair)
 *   cache_attach()        per process, after fork (opens the lock file)
 *   cache_keeps_records() cache_needs_purge()   what the store does
 *   cache_store/fetch/remove/purge/stats/close
 *   cache_ssl_setup()     SSL_CTX callbacks, cache mode, ticket policy
 *   cache_share()         a value a farm agrees on (ticket keys)
 *
 * Records are sealed (AES-256-GCM) by this layer before a backend sees
 * them; backends store and return bytes.  A backend is a table of
 * functions in its own files (cache_gdbm*.c) under the contract written
 * in cache_int.h; a Redis or memcached backend is one more table.
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
	uint64_t local_hits;    /* of hits: a session the worker remembered
	                         * (still in the store: cache_ssl.c) */
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
	uint64_t fetch_timeouts; /* a store on a server: no answer within
	                         * fetch-timeout (a full handshake) */
	uint64_t server_errors; /* ... unreachable, refused (AUTH) or an
	                         * error answer */
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
	double fetch_timeout;   /* a store on a server: seconds a fetch may
	                         * take (0: CACHE_FETCH_TIMEOUT) */
	const char *password;   /* ... its password, or NULL; read during
	                         * cache_new() only (the backend copies it) */
};
#define CACHE_FETCH_TIMEOUT 0.05

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
/* The store when a configuration names none: no session cache. */
#define CACHE_SPEC_DEFAULT "none"
/* Specs ("gdbm:PATH", "internal", "none", ...).  0 if spec names a store
 * this library has, else -1 and why in err (the forms it takes, or what
 * is wrong with the part after the colon). */
int           cache_spec_check(const char *spec, char *err, size_t errlen);
/* The file a spec names (a pointer into spec), or NULL: the store keeps
 * no file of its own. */
const char   *cache_spec_path(const char *spec);
/* spec, malloc'd, with a relative file path taken from folder dir. */
char         *cache_spec_resolve(const char *spec, const char *dir);
/* The spec of the default store kept in the file at path: 0, or -1
 * (spec too short). */
int           cache_spec_for_file(const char *path, char *spec, size_t len);

/* A handle on the store spec names; no file is touched (NULL and err:
 * the spec is not valid).  key may be NULL for tools that do not open
 * records. */
struct cache *cache_new(const char *spec, const struct cache_opts *,
                  const unsigned char key[CACHE_KEY_LEN], char *err,
                  size_t errlen);
/* In the master, as root, before the workers start: make the store
 * usable (create its files, mode 0600, owned by opts->uid; a symbolic
 * link, a file with other links or one owned by someone else than root,
 * opts->uid or us is refused: -1 and err).  0 with a message in err:
 * not usable yet (a missing folder), the workers retry and serve full
 * handshakes meanwhile.  Nothing with opts->read_only, or for a store
 * that keeps no files. */
int           cache_prepare(struct cache *, char *err, size_t errlen);
/* cache_new() then, unless opts->read_only, cache_prepare(): tools. */
struct cache *cache_open(const char *spec, const struct cache_opts *,
                  const unsigned char key[CACHE_KEY_LEN], char *err,
                  size_t errlen);
int           cache_attach(struct cache *);      /* after fork */
/* In a worker, after cache_attach: its libev loop (struct ev_loop *),
 * on which a store on a server (Redis, memcached) answers fetches
 * without blocking.  0, or -1 (the store is then treated as down). */
int           cache_set_loop(struct cache *, void *loop);
void          cache_close(struct cache *);
const char   *cache_kind(const struct cache *);  /* for display only */
/* 1 when records are kept by this library, shared by every process (the
 * get/new/remove callbacks are set); 0 for OpenSSL's own per-process
 * cache or none (and for c == NULL). */
int           cache_keeps_records(const struct cache *);
/* 1 when expired records must be swept by purges (the worker runs the
 * purge timer); 0 for a store that expires records itself, or keeps
 * none. */
int           cache_needs_purge(const struct cache *);
void          cache_set_stats(struct cache *, struct cache_stats *);
void          cache_set_log(struct cache *, cache_log_fn);
const struct cache_stats *cache_stats(const struct cache *);

/* Returns 0 stored, 1 not stored (full, nothing evictable), -1 error.
 * At max-entries older records are evicted to make room. */
int           cache_store(struct cache *, const unsigned char *id,
                  size_t idlen, const unsigned char *data, size_t len,
                  time_t created, time_t expires);
/* The same for a single-use record (a TLS 1.3 ticket): only those are
 * taken by cache_take. */
int           cache_store_once(struct cache *, const unsigned char *id,
                  size_t idlen, const unsigned char *data, size_t len,
                  time_t created, time_t expires);
/* Returns 1 and a malloc'd *data on a hit, 0 on a miss (including
 * expired, damaged, wrong key), -1 on a backend error.  A damaged store
 * is repaired (once, by the first process to see it) and this is a miss. */
int           cache_fetch(struct cache *, const unsigned char *id,
                  size_t idlen, unsigned char **data, size_t *len);
/* A fetch that never blocks (network stores, issue 14): returns what
 * cache_fetch would (1 with *data, 0, -1) when the answer is at hand, or
 * CACHE_PENDING: cb(arg, r, data, len) is called later, once, from the
 * worker's event loop, with the same meaning (data malloc'd when r == 1;
 * a slow or dead server gives -1 after a bounded wait).  arg must stay
 * valid until then.  For stores on this host it is cache_fetch. */
#define CACHE_PENDING 2
typedef void (*cache_fetch_cb)(void *arg, int r, unsigned char *data,
                  size_t len);
int           cache_fetch_start(struct cache *, const unsigned char *id,
                  size_t idlen, unsigned char **data, size_t *len,
                  cache_fetch_cb cb, void *arg);
int           cache_remove(struct cache *, const unsigned char *id,
                  size_t idlen);
/* cache_fetch, and the record removed in the same step, if it is a
 * single-use record (cache_store_once: a TLS 1.3 ticket; any other is a
 * miss, and stays): where the store can, no other process can fetch it
 * in between, at the cost of one lock round instead of two. */
int           cache_take(struct cache *, const unsigned char *id,
                  size_t idlen, unsigned char **data, size_t *len);

/* ---------------------------------------------------- cache_purge.c */
/* Purge expired records, in slices: returns 1 while there is more to do,
 * 0 when done, -1 on error.  Each call holds the lock only briefly. */
int           cache_purge_step(struct cache *, time_t now);
/* Whether this process should start a purge now (interval elapsed or the
 * cap reached); claims the purge so no other process starts one. */
int           cache_purge_due(struct cache *, time_t now);
/* The same, but only for the interval (not for the cap). */
int           cache_purge_due_interval(struct cache *, time_t now);
int           cache_purge_all(struct cache *, time_t now, size_t *removed);
/* (All four do nothing and return 0 for a store that needs no purge.) */
/* -1 when the store cannot be read whole (damaged: the reason goes to
 * the log hook) or cannot be listed at all (one that expires records
 * itself, on a server). */
int           cache_info(struct cache *, time_t now, struct cache_info *);
int           cache_list(struct cache *, int (*fn)(const struct cache_entry *,
                  void *), void *arg);
int           cache_clear(struct cache *);

/* ---------------------------------------------------- cache_share.c */
/* Values every host of a farm must agree on (session-ticket keys, one
 * per time slot), kept in a store on a server: the first host to offer
 * a value under a name wins, and every host uses what the store holds.
 * Sealed like sessions (name as additional data), so every host needs
 * the same seal key; nothing else can read or forge one.  name is short
 * text (at most CACHE_MAX_ID bytes), ttl in seconds.
 *
 * cache_shares()      1 when the store is on a server that can share
 *                     (the backend has add_start); 0 for GDBM, internal,
 *                     none: keys then stay in memory on this host
 * cache_share()       offer v, answer what the store holds: 1 and *out
 *                     (malloc'd), 0 (unusable: absent, or sealed under
 *                     another key), -1 (store unreachable); blocks: tools
 *                     and tests
 * cache_share_start() the same without blocking (a worker, after
 *                     cache_set_loop): the answer at once, or
 *                     CACHE_PENDING and cb(arg, r, out, outl) once later,
 *                     from the worker's loop */
int           cache_shares(const struct cache *);
int           cache_share(struct cache *, const char *name,
                  const unsigned char *v, size_t vl, long ttl,
                  unsigned char **out, size_t *outl);
int           cache_share_start(struct cache *, const char *name,
                  const unsigned char *v, size_t vl, long ttl,
                  unsigned char **out, size_t *outl, cache_fetch_cb cb,
                  void *arg);

/* ----------------------------------------------------- cache_seal.c */
/* Read a seal key file: exactly 32 bytes, not readable by group/others. */
int           cache_read_key(const char *path, unsigned char key[CACHE_KEY_LEN],
                  char *err, size_t errlen);
/* Read a password file (a store's server): its first line, without the
 * newline, into out (NUL-terminated); not readable by group/others, as
 * the seal key.  0, or -1 and why in err. */
int           cache_read_password(const char *path, char *out, size_t len,
                  char *err, size_t errlen);

/* ------------------------------------------------------ cache_ssl.c */
/* Set the session cache mode, callbacks and ticket policy of ctx. */
int           cache_ssl_setup(SSL_CTX *, struct cache *, long timeout,
                  int tickets);
/* 1 when ctx's store answers fetches later (a server: Redis): the
 * ClientHello callback must then prefetch the offered session with
 * cache_ssl_prefetch(), since the get-session callback never waits. */
int           cache_ssl_async(SSL_CTX *ctx);
/* From the ClientHello callback: fetch the session offered under id
 * (the TLS 1.2 session ID, or the TLS 1.3 stateful ticket) for the
 * get-session callback.  Returns 1 when the handshake can go on (the
 * record, or its absence, is at hand) or 0 while the fetch is under way:
 * the callback then returns SSL_CLIENT_HELLO_RETRY, and wake(ssl) is
 * called once, from the worker's loop, when the answer is in, unless
 * ssl was freed first.  Safe to call again after the retry (the same
 * id: 1 at once). */
typedef void (*cache_ssl_wake_fn)(SSL *);
int           cache_ssl_prefetch(SSL *ssl, const unsigned char *id,
                  size_t idlen, cache_ssl_wake_fn wake);
/* The handshake is over: free what was prefetched for it (an idle
 * connection keeps no record). */
void          cache_ssl_prefetch_end(SSL *ssl);

#endif
