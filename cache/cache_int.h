/*
 * cache_int.h - the backend contract: what the generic layer (cache.c)
 * and a backend (cache_gdbm*.c today; Redis and memcached next, issue 14)
 * promise each other.  Nothing outside cache/ includes this, except unit
 * tests that plug in a backend of their own.
 *
 * NAMES.  A store is named by a spec, "NAME" or "NAME:ARG" (be->name;
 * be->arg says what ARG is, for messages: "PATH", "HOST:PORT").  The
 * generic layer finds the backend, checks the spec (be->check for ARG's
 * syntax, never any I/O) and keeps ARG in c->arg.  Callers ask the
 * library, never the spec's text: cache_spec_check(), cache_spec_path(),
 * cache_keeps_records(), cache_needs_purge().
 *
 * WHO DOES WHAT.  The generic layer seals and opens records (a backend
 * only ever sees sealed bytes: no secret), drops what is expired,
 * damaged or sealed under another key or ID (a miss), counts (struct
 * cache_stats, per process), logs through the hook (cache_log: at most
 * once a minute per kind), and runs purges in slices over the backend's
 * scan, keeping the list of keys to delete.  A backend stores bytes under
 * keys and owns everything about where: files, sockets, locks, cursors
 * and whatever it shares between processes or hosts (counts, purge
 * claims), in c->be_data.
 *
 * LOCKS.  The generic layer takes no lock.  Each backend call is whole:
 * it takes what it needs (GDBM: flock() shared to read, exclusive to
 * write) and releases it before returning, so no lock is ever held
 * between two calls, nor by a process that died (flock() goes with the
 * process).  In particular nothing is held between purge slices: scan
 * continues from a cursor in the backend's own state and copes with
 * records stored or removed meanwhile by other processes (a record
 * visited twice or one added and not visited is fine; the pass is
 * bounded).  A call may wait for another process's single operation,
 * never longer.
 *
 * PROCESSES.  cache_new()/open run in the master; prepare runs there as
 * root, before the workers start (files created, owned by opts.uid);
 * attach runs in each process after fork (whatever must not be shared
 * with the parent: GDBM's lock descriptor).  A struct cache is used by
 * one thread of one process at a time.
 *
 * THE TABLE.  Required of a backend that keeps records (keeps ==
 * CACHE_KEEPS_RECORDS): put, get, del.  Everything else is optional
 * (NULL):
 *   check        ARG's syntax; none: any non-empty ARG (or none at all
 *                when be->arg is NULL)
 *   open         state from c->arg, no I/O (so `cachetd -t` touches
 *                nothing); -1 with err
 *   prepare      in the master as root: create or check what the store
 *                needs, owned by opts.uid; 0 with a warning in err is
 *                "not usable yet, the workers retry"; -1 refuses (a
 *                planted link); nothing with opts.read_only
 *   attach       per process, after fork
 *   scan         only for a store that does not expire records itself:
 *                visit up to max records, from the first (restart) or
 *                after the last one visited; 1 more, 0 done, -1 error
 *                (then, and at 0, the cursor is dropped).  No scan: no
 *                purge ever runs (cache_needs_purge() is 0, the worker
 *                sets no timer), cache_info()/cache_list() fail.  A store
 *                with a TTL (memcached, Redis) has none: put gets the
 *                record's expiry to set it.
 *   purge_claim  with scan: claim the next purge for this process, 1
 *                when purge-interval seconds passed since the last one
 *                (anywhere), or, if or_full, the store is at max-entries
 *                and a second passed; 0 not now, -1 error
 *   clear        remove every record; none: cache_clear() fails
 *   totals       numbers kept beside the records for cache_info (size,
 *                repairs, evictions)
 *   get_start    a fetch that does not block (below)
 *   take         get and delete in one step a record flagged single-use
 *                (cache_rec_once: a TLS 1.3 ticket), results as get; any
 *                other record is a miss and stays; moves no stamp (a
 *                ticket is never remembered); none: get, then del
 *   set_loop     the worker's libev loop (struct ev_loop *), given once
 *                per worker after attach, before any get_start/add_start;
 *                a backend that talks to a server watches its sockets and
 *                timers there (hiredis' libev adapter; a lookup thread's
 *                ev_async).  Never called in tools: there the synchronous
 *                get/put/del/add are used.  0, or -1 when it cannot run
 *                (then the worker treats the store as unreachable).
 *   add          store v under k only if no record is there (Redis SET
 *                NX, memcached add, GDBM_INSERT), then answer what the
 *                store holds under k: 1 with *out (malloc'd: ours, or the
 *                one another process or host put first), 0 absent after
 *                all (expired meanwhile), -1 error.  For values a farm
 *                must agree on (ticket keys per time slot, issue 14).
 *   add_start    add without blocking: CACHE_PENDING, then
 *                cache_get_done(req, r, out, outl) once, as get_start.
 *   close        free c->be_data
 *
 * RESULTS.  put: 0 stored, 1 not stored (full, nothing evictable), -1
 * error.  get: 1 found (*v malloc'd, the caller frees), 0 absent, -1
 * error.  del: 0 (with *removed, absent keys are no error), -1 error.
 * Damage the backend can repair it repairs and reports as a miss; it
 * logs through cache_log() and counts repairs and evictions in c->st.
 *
 * NEVER BLOCK THE LOOP.  A backend that talks to a server must not make
 * the worker's event loop wait (issue 14).  It provides get_start, which
 * sends the request and returns CACHE_PENDING; when the answer comes (a
 * callback on the worker's own loop, e.g. hiredis' libev adapter, or a
 * lookup thread that wakes the loop) it calls cache_get_done(req, r, v,
 * vl) exactly once with what get would have returned, and a bounded
 * time after the request at the latest (a slow or dead server: r = -1,
 * which is a full handshake).  The generic layer opens the record and
 * calls the cache_fetch_start() caller's callback.  put and del of such
 * a backend send and return 0 at once; a failure learnt later is logged
 * and counted (c->st->errors).  close answers every fetch still pending
 * (r = -1) before it frees anything; the caller of cache_fetch_start()
 * keeps its arg valid until its callback ran.  The synchronous get of
 * such a backend is for tools only.
 */
#ifndef CACHET_CACHE_INT_H
#define CACHET_CACHE_INT_H

#include <openssl/evp.h>

#include "cache.h"

/* What a scan shows of each record (the key and the sealed bytes). */
typedef void (*cache_visit_fn)(const unsigned char *k, size_t kl,
    const unsigned char *v, size_t vl, void *arg);

/* A key, for deletions in batches. */
struct cache_key {
	unsigned char *k;
	size_t         kl;
	int            stale;   /* expired, unreadable or a spent ticket:
	                         * nothing anyone may remember (a removal
	                         * of it moves no stamp) */
};

/* A request under way (cache_fetch_start, cache_share_start); the
 * generic layer's.  A backend only passes it back to cache_get_done(). */
struct cache_req {
	struct cache  *c;
	cache_fetch_cb cb;
	void          *arg;
	int            share;       /* cache_share_start: a shared value */
	size_t         idlen;
	unsigned char  id[CACHE_MAX_ID];
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

enum cache_keeps {
	CACHE_KEEPS_NOTHING,    /* "none": no resumption by session ID */
	CACHE_KEEPS_IN_PROCESS, /* OpenSSL's own cache, per worker */
	CACHE_KEEPS_RECORDS,    /* records through this table, shared */
};

struct cache_backend {
	const char      *name;
	const char      *arg;        /* what ARG is, or NULL: no ARG */
	int              arg_is_path; /* ARG names a file: relative to the
	                               * config's folder, made by prepare */
	enum cache_keeps keeps;
	int  (*check)(const char *arg, char *err, size_t errlen);
	int  (*open)(struct cache *, char *err, size_t errlen);
	int  (*prepare)(struct cache *, char *err, size_t errlen);
	int  (*attach)(struct cache *);
	int  (*put)(struct cache *, const unsigned char *k, size_t kl,
	         const unsigned char *v, size_t vl, time_t expires);
	int  (*get)(struct cache *, const unsigned char *k, size_t kl,
	         unsigned char **v, size_t *vl);
	int  (*get_start)(struct cache *, const unsigned char *k, size_t kl,
	         struct cache_req *);
	int  (*take)(struct cache *, const unsigned char *k, size_t kl,
	         unsigned char **v, size_t *vl);
	int  (*set_loop)(struct cache *, void *loop);
	int  (*add)(struct cache *, const unsigned char *k, size_t kl,
	         const unsigned char *v, size_t vl, time_t expires,
	         unsigned char **out, size_t *outl);
	int  (*add_start)(struct cache *, const unsigned char *k, size_t kl,
	         const unsigned char *v, size_t vl, time_t expires,
	         struct cache_req *);
	int  (*del)(struct cache *, const struct cache_key *, size_t n,
	         size_t *removed);
	int  (*scan)(struct cache *, int restart, size_t max, cache_visit_fn,
	         void *arg);
	int  (*purge_claim)(struct cache *, time_t now, int or_full);
	int  (*clear)(struct cache *);
	void (*totals)(struct cache *, struct cache_info *);
	/* What this process remembers of key k stays valid while its
	 * stamp does not change (no record of k gone or changed since);
	 * -1: no stamp now.  NULL: nothing may be remembered. */
	int  (*stamp)(struct cache *, const unsigned char *k, size_t kl,
	         uint64_t st[2]);
	void (*close)(struct cache *);
};

struct cache_hot;

struct cache {
	const struct cache_backend *be;
	struct cache_opts     o;
	char                 *arg;          /* the spec's ARG, or NULL */
	unsigned char         key[CACHE_KEY_LEN];
	int                   have_key;
	EVP_CIPHER           *aead;
	EVP_CIPHER_CTX       *cctx;          /* seals, keyed once */
	EVP_CIPHER_CTX       *dctx;          /* opens, keyed once */
	struct cache_stats    own;
	struct cache_stats   *st;
	cache_log_fn          log;
	time_t                last_log[CACHE_LOG_KINDS];
	void                 *be_data;      /* the backend's own state */
	struct cache_hot     *hot;          /* decoded sessions remembered
	                                     * (cache_ssl.c), or NULL */

	/* a purge in slices: scan (marking), then delete the marked keys */
	int                   pg_phase;     /* 0 idle, 1 scanning, 2 deleting */
	struct cache_key     *pg_dead;
	size_t                pg_ndead, pg_cap, pg_done;
	time_t                pg_now;
};

void cache_log(struct cache *, enum cache_log_kind, int err,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* cache_seal.c: a sealed record is CACHE_REC_HDR + len + CACHE_REC_TAG
 * bytes; its header holds the created and expiry times. */
#define CACHE_REC_HDR 36
#define CACHE_REC_TAG 16
int  cache_rec_times(const unsigned char *v, size_t vl, time_t *created,
    time_t *expires);             /* 0 if well formed */
int  cache_aead_ready(struct cache *);
#define CACHE_REC_ONCE 0x01     /* flags: single-use (a TLS 1.3 ticket) */
int  cache_rec_once(const unsigned char *v, size_t vl);  /* 1: flagged */
int  cache_seal(struct cache *, const unsigned char *id, size_t idlen,
    const unsigned char *data, size_t len, time_t created, time_t expires,
    unsigned flags, unsigned char *out);
int  cache_unseal(struct cache *, const unsigned char *id, size_t idlen,
    const unsigned char *v, size_t vl, unsigned char *out);

/* Names of shared values (cache_share.c) begin with this; session IDs
 * that do are no sessions (a client picks the ID it offers: it must not
 * reach, nor make the session layer delete, a farm's ticket key). */
#define CACHE_SHARE_PREFIX "ticket-key:"
int  cache_is_share_name(const unsigned char *id, size_t idlen);

/* cache_ssl.c: free what it remembered (cache_close). */
void cache_ssl_hot_free(struct cache *);
/* cache.c: remove a record nobody may remember (expired, unreadable, a
 * spent ticket): no stamp moves.  0, or -1 on a backend error. */
int cache_discard(struct cache *, const unsigned char *id, size_t idlen);
/* cache.c: the backend's stamp of key id (-1: none, nothing may be
 * remembered). */
int cache_stamp(struct cache *, const unsigned char *id, size_t idlen,
    uint64_t st[2]);

/* cache.c */
/* A backend's answer to get_start: once, from the worker's loop; v is
 * malloc'd (given to the generic layer) when r == 1. */
void cache_get_done(struct cache_req *, int r, unsigned char *v, size_t vl);
/* cache_new() with the backend given: for tests that plug in their own. */
struct cache *cache_new_with(const struct cache_backend *, const char *arg,
    const struct cache_opts *, const unsigned char key[CACHE_KEY_LEN],
    char *err, size_t errlen);

/* cache_share.c: what the backend answered to add (r, and v of vl
 * bytes, which this takes), opened: 1 and *out, 0 (absent, expired or
 * not sealed under our key), -1. */
int cache_share_open(struct cache *, const unsigned char *k, size_t kl,
    int r, unsigned char *v, size_t vl, unsigned char **out, size_t *outl);

extern const struct cache_backend cache_backend_gdbm;
extern const struct cache_backend cache_backend_memcached;
extern const struct cache_backend cache_backend_redis;

#endif
