/*
 * cachetd.h - the one header of the daemon: its types, and the prototypes
 * of every module grouped under the file that defines them.  Read it as
 * the table of contents of src/.
 *
 * Process shape: the master (master.c) reads the config (config.c), binds,
 * builds an SSL_CTX per server block (tls.c; SNI chooses among them) and
 * forks workers (worker.c).  Each worker runs
 * one libev loop, accepts, and hands each connection to the state machine
 * (conn.c, over the record in conn.h).  A connection parses requests
 * (http.c); serve.c routes each one on its canonical path and builds the
 * response, from files under the root (files.c); auth.c holds the client-
 * certificate policies and auth_conn.c asks a connection for one.
 */
#ifndef CACHETD_H
#define CACHETD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/ssl.h>

#include "cache.h"
#include "common/common.h"

#define CACHETD_NAME "cachet"

/* Request limits (bytes). */
#define HTTP_MAX_LINE    8192   /* request line: longer is 414 */
#define HTTP_MAX_HEADER  16384  /* request line + headers: more is 431 */
#define HTTP_MAX_BODY    65536  /* body we read and discard: more is 413 */
#define HTTP_MAX_FIELDS  64     /* header fields: more is 431 */

/* ----------------------------------------------------------------- parse.y */

/* Where something was written: a file of the config and a line (0: not
 * written, a default).  file points into the config's conf_files. */
struct conf_at {
	const char *file;
	int         line;
};

/* The statements of a config file, its includes expanded in place: the
 * syntax, read by parse.y.  config.c gives them a meaning. */
enum conf_kind {
	CN_VALUE,           /* name = value */
	CN_LIST,            /* name = {value, ...} */
	CN_BLOCK,           /* name [title] { statements } */
	CN_INCLUDE,         /* include "pattern" (never left in a tree) */
};
struct conf_value {
	const char         *text;       /* quotes removed, escapes resolved */
	int                 quoted;
	struct conf_at      at;
	int                 col;
	struct conf_value  *next;
};
struct conf_node {
	enum conf_kind      kind;
	const char         *name;
	struct conf_at      at;
	int                 col;
	struct conf_value  *vals;       /* the value(s), a block's title */
	size_t              nvals;
	struct conf_node   *body;       /* CN_BLOCK */
	struct conf_node   *next;
};
/* The names of the files read: kept with the config, for messages. */
struct conf_files {
	char              **name;
	size_t              n;
};
struct conf_tree;

/* Parse file and what it includes.  On error returns NULL and writes
 * "FILE:LINE:COL: problem" to err. */
struct conf_tree *conf_parse(const char *file, struct conf_files *,
                     char *err, size_t errlen);
const struct conf_node *conf_top(const struct conf_tree *);
void             conf_tree_free(struct conf_tree *);
void             conf_files_free(struct conf_files *);

/* ---------------------------------------------------------------- config.c */

struct listen_addr {
	char                    *text;      /* as written: "127.0.0.1:8443" */
	struct sockaddr_storage  ss;
	socklen_t                sslen;
	struct conf_at           at;
};

enum verify_mode { VERIFY_NONE = 0, VERIFY_OPTIONAL, VERIFY_REQUIRE };

/* A TLS 1.3 client that did not offer post-handshake authentication
 * cannot be asked for a certificate later (browsers never offer it). */
enum pha_policy {
	PHA_TLS12 = 0,      /* hold it to TLS 1.2: renegotiation can ask */
	PHA_REFUSE,         /* keep TLS 1.3; protected paths answer 403 */
};

/* Who may see a location: client-certificate policy (auth.c). */
struct access {
	enum verify_mode verify;
	char   *client_ca;          /* NULL: the server's */
	char  **allow_subject, **allow_issuer, **deny_subject;
	size_t  nallow_subject, nallow_issuer, ndeny_subject;
};

struct location {
	char   *prefix;
	struct conf_at at;
	int     status;             /* serve the status page here */
	char  **allow_addr;         /* status page: addresses allowed */
	size_t  nallow_addr;
	struct access acc;
	const struct auth_policy *policy; /* acc made real (auth_build) */
	char  **headers;            /* "Name: value" lines added */
	size_t  nheaders;
	char   *ret;                /* return: "301 URL", or NULL */
};

struct cache_conf {
	char   *store;              /* spec, its file resolved (cache.h) */
	char   *store_path;         /* the file the store keeps, or NULL */
	long    timeout;            /* seconds */
	long    max_entries;
	long    purge_interval;     /* seconds */
	char   *seal_key_file;
	double  fetch_timeout;      /* seconds; 0: the library's default */
	char   *password_file;      /* the store's server's password */
	struct conf_at at, store_at, seal_at, password_at;
};

/* What one site served under its own names (server "name" { ... }):
 * its certificates, root, locations and client-certificate policy.  A
 * config without server blocks has one, made from the top level, with no
 * name: it answers whatever name a client asks for.  Top-level values of
 * these directives are the defaults every server block starts from. */
struct server_conf {
	char               *name;          /* lowercase; NULL: implicit */
	char              **aliases;       /* lowercase; "*.x" wildcards */
	size_t              naliases;
	int                 is_default;    /* default = true */
	char               *root;
	char               *index;
	char              **certs;
	char              **keys;
	size_t              ncerts;
	size_t              nkeys;         /* == ncerts once loaded */
	char               *client_ca;
	char               *client_crl;
	long                verify_depth;
	enum verify_mode    verify_client;  /* at the initial handshake */
	enum pha_policy     tls13_without_pha;
	struct location    *locs;
	size_t              nlocs;
	int                 own_locs;      /* has location blocks of its own */
	const struct auth_policy *policy;  /* server-wide (auth_build) */
	char              **headers;       /* "Name: value" lines added */
	size_t              nheaders;
	int                 gzip_static;   /* serve file.gz / file.br */
	char               *default_type;  /* Content-Type of the unknown */
	char               *error_pages;   /* folder of STATUS.html pages */
	struct conf_at      at, alias_at;  /* the block, its alias line */
	struct conf_at      certs_at, keys_at, root_at, ca_at, crl_at;
	struct conf_at      verify_at;
};

/* A client that names no configured server (unknown-sni). */
enum unknown_sni { SNI_DEFAULT = 0, SNI_REFUSE };

struct config {
	char               *file;          /* the config file, as given */
	char               *dir;           /* its folder: base of relative paths */
	struct listen_addr *listen;
	size_t              nlisten;
	struct listen_addr *http_listen;   /* plain HTTP: redirects, ACME */
	size_t              nhttp_listen;
	char               *acme_root;     /* http-01 challenge files */
	long                https_port;    /* redirect port; 0: listen's */
	long                workers;
	char               *user;
	char               *mime_types;
	int                 proto_min;     /* TLS1_2_VERSION ... */
	int                 proto_max;
	char               *ciphers;
	char               *ciphersuites;
	char               *groups;        /* key exchange groups */
	char               *access_log;    /* a file, or syslog[:FACILITY] */
	char               *error_log;
	char               *syslog_socket; /* NULL: /dev/log */
	int                 access_log_format; /* enum alog_format */
	long                access_log_buffer; /* bytes; 0: a write a line */
	char               *pid_file;
	double              handshake_timeout;
	double              header_timeout;
	double              keepalive_timeout;
	double              send_timeout;
	long                worker_connections;
	int                 session_tickets;
	char              **ticket_key_files; /* nginx format; first encrypts */
	size_t              nticket_key_files;
	long                ticket_key_period; /* seconds a made key encrypts */
	int                 log_level;     /* enum log_level */
	struct cache_conf   cache;
	int                 unknown_sni;   /* enum unknown_sni */
	struct server_conf **servers;      /* at least one */
	size_t              nservers;
	size_t              dflt;          /* index of the default server */
	/* where directives checked after parsing were written */
	struct conf_at      mime_at, alog_at;
	struct conf_at      elog_at, pid_at, user_at;
	struct conf_at      ciphers_at, suites_at, groups_at;
	struct conf_at      acme_at, sock_at, tkfiles_at, tkperiod_at;
	struct conf_files   files;         /* every file read, for conf_at */
};

/* Parse FILE.  On error returns NULL and writes "FILE:LINE: problem" to err. */
struct config   *config_load(const char *file, char *err, size_t errlen);
/* "FILE:LINE: " (or "FILE: " for a default) and the message, into err. */
void             config_err(char *err, size_t errlen, const struct conf_at *,
                     const char *fmt, ...)
                     __attribute__((format(printf, 4, 5)));
void             config_free(struct config *);
char            *config_path(const struct config *, const char *);
int              parse_listen(const char *, struct sockaddr_storage *,
                     socklen_t *);
const struct location *config_location(const struct server_conf *,
                     const char *path);
/* Does host (lowercase, no port, no final dot) name sc?  The implicit
 * server has every name. */
int              config_names(const struct server_conf *, const char *host);
/* The server a name belongs to: an exact name first, then the longest
 * wildcard; NULL when none. */
const struct server_conf *config_server(const struct config *,
                     const char *host);
/* host as a name to look up: lowercase, port and final dot dropped; 0, or
 * -1 when it is no host name. */
int              config_host_key(const char *host, char *out, size_t outlen);

/* ------------------------------------------------------------------ log.c */

enum log_level { LOG_ERR_ = 0, LOG_WARN_, LOG_NOTICE_, LOG_INFO_, LOG_DEBUG_ };

void             log_set_fd(int);
/* Lines above this level are dropped (log-level; default info). */
void             log_set_level(enum log_level);
int              log_level_of(const char *name);
int              log_fd(void);
void             log_msg(enum log_level, const char *, ...)
                     __attribute__((format(printf, 2, 3)));
#define log_err(...)    log_msg(LOG_ERR_, __VA_ARGS__)
#define log_warn(...)   log_msg(LOG_WARN_, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE_, __VA_ARGS__)
#define log_info(...)   log_msg(LOG_INFO_, __VA_ARGS__)
#define log_debug(...)  log_msg(LOG_DEBUG_, __VA_ARGS__)
/* Log at most once per interval for the same *last stamp. */
int              log_ratelimit(time_t *last, time_t interval);
int              log_open_file(const char *path, uid_t, gid_t);
/* A log destination (error-log, access-log) is a file, or "syslog" or
 * "syslog:FACILITY": 1 (and *facility, LOG_DAEMON by default), 0 for a
 * file, -1 for an unknown facility. */
int              log_dest_syslog(const char *dest, int *facility);
#define LOG_SYSLOG_SOCKET "/dev/log"
/* access-log = off: no access log at all (as nginx's access_log off). */
#define LOG_DEST_OFF "off"
int              log_dest_off(const char *dest);
/* 0 when path is a socket (the receiver need not be there yet). */
int              log_syslog_check(const char *path);
/* The file (created, for appending, owned by uid) or a datagram socket
 * connected to sock (NULL: /dev/log) for syslog: fd, or -1 and errno. */
int              log_open_dest(const char *dest, const char *sock, uid_t,
                     gid_t);
/* Why log_open_dest() failed (errno), as "access-log 'FILE': reason" or
 * about syslog-socket, at the line that named it, into err. */
void             log_dest_error(const struct config *, const char *dest,
                     const struct conf_at *, const char *what, char *err,
                     size_t errlen);
/* The error log's descriptor, from log_open_dest(dest, sock). */
void             log_set_dest(int fd, const char *dest, const char *sock);
int              log_to_syslog(void);

/* ------------------------------------------------------------------ mime.c */

struct mime;
struct mime     *mime_load(const char *path, char *err, size_t errlen);
const char      *mime_lookup(const struct mime *, const char *filename);
void             mime_set_default(struct mime *, const char *type);
void             mime_free(struct mime *);

/* ------------------------------------------------------------------ http.c */

enum http_method { M_OTHER = 0, M_GET, M_HEAD };

struct http_request {
	enum http_method  method;
	const char       *method_str;
	const char       *target;        /* as sent */
	char              request_line[1024]; /* for the access log */
	int               minor;         /* HTTP/1.minor */
	const char       *host;
	char              authority[256]; /* absolute-form target's, or "" */
	const char       *user_agent;
	const char       *referer;
	const char       *if_modified_since;
	const char       *if_none_match;
	const char       *if_range;
	const char       *range;
	const char       *accept_encoding;
	int               keepalive;     /* after defaults and Connection: */
	long long         content_length;
};

/* Parse the request head at buf (modified in place).  Returns the number of
 * bytes of the head (> 0), 0 when more input is needed, or -STATUS. */
int              http_parse(char *buf, size_t len, struct http_request *);
const char      *http_reason(int status);
size_t           http_date(char *out, size_t len, time_t);
int              http_parse_date(const char *, time_t *);

/* ----------------------------------------------------------------- files.c */

/* Decode and normalise a request target into a relative path under the
 * root ("" for the root itself).  Returns 0 or -STATUS. */
int              path_normalize(const char *target, char *out, size_t outlen,
                     int *trailing_slash);
/* path_normalize, then "/" + rel (+ "/" for a folder target) in path: the
 * canonical path on which every routing and access decision is made. */
int              path_canonical(const char *target, char *path,
                     size_t pathlen, char *rel, size_t rellen,
                     int *trailing_slash);
/* Percent-encode a decoded path for a Location header. */
size_t           path_encode(const char *path, char *out, size_t outlen);
/* path escaped, suffix, then the target's query escaped, at out + o: the
 * Location of a redirect built from a request.  0 when it does not fit. */
size_t           path_location(const char *path, const char *suffix,
                     const char *target, char *out, size_t o, size_t outlen);
/* Open rel beneath the root descriptor; symlinks may not leave it.  Returns
 * an fd (and its stat in *st) or -STATUS (403, 404, 500, 503). */
int              path_open(int rootfd, const char *rel, struct stat *st);
/* Tests: use the fallback walk as on a kernel without openat2. */
void             path_open_force_walk(int on);

/* ------------------------------------------------------------------ cond.c */

#define RANGE_MAX 16            /* ranges in one request; more: whole file */

struct byte_range { off_t first, last; };       /* inclusive */
enum range_result { RANGE_NONE, RANGE_WHOLE, RANGE_UNSATISFIABLE, RANGE_OK };

size_t           etag_make(const struct stat *, char *out, size_t len);
int              etag_list_match(const char *list, const char *etag,
                     int strong);
enum range_result range_parse(const char *header, off_t size,
                     struct byte_range *out, int max, int *n);
int              accept_encoding_q(const char *header, const char *coding);

/* ------------------------------------------------------------------ auth.c */

enum auth_result {
	AUTH_OK = 0, AUTH_NO_CERT, AUTH_UNTRUSTED, AUTH_REVOKED, AUTH_EXPIRED,
	AUTH_NOT_LISTED,
};
struct auth_policy;
struct server;

/* The policies of a server and of each of its locations, made real (CA
 * store, CA names); sets sc->policy and every sc->locs[i].policy. */
struct auth_policy *auth_build(struct server_conf *, SSL_CTX *, char *err,
                     size_t errlen);
void             auth_free(struct auth_policy *, size_t nlocs);
const struct access *auth_access(const struct auth_policy *);
int              auth_needs_cert(const struct access *);
/* The peer's certificate under a policy; chain_verified: its chain was
 * verified, with no error, against the policy's own store by this
 * connection's handshake, so only the lists are checked. */
enum auth_result auth_check(const struct auth_policy *, SSL *,
                     int chain_verified, char *subject, size_t sublen);
enum auth_result auth_lists(const struct access *, const char *subject,
                     const char *issuer);
int              auth_dn_match(const char *pattern, const char *dn);
const char      *auth_result_name(enum auth_result);
void             auth_prepare(const struct auth_policy *, SSL *);

/* ------------------------------------------------------------------- tls.c */

/* Why a handshake failed, for the status page (tls.c classifies). */
enum hs_fail {
	HF_TIMEOUT = 0,     /* handshake-timeout passed */
	HF_CLOSED,          /* the client closed or reset mid-handshake */
	HF_NOT_TLS,         /* plain HTTP or other bytes that are not TLS */
	HF_PROTOCOL,        /* no common protocol version */
	HF_CIPHER,          /* no common cipher, group or signature */
	HF_ALERT,           /* the client sent an alert (e.g. unknown CA) */
	HF_OTHER,
	HF_COUNT
};
extern const char *const hs_fail_name[HF_COUNT];

struct site;
/* The SSL_CTX of one server: the config's TLS settings, the server's
 * certificates and its own session ID context. */
struct tickets;
SSL_CTX         *tls_ctx_new(const struct config *, const struct server_conf *,
                     struct cache *, struct tickets *, char *err,
                     size_t errlen);
/* Every server's SSL_CTX built: let the ClientHello choose among them. */
int              tls_sni_setup(struct server *);
/* The site whose SSL_CTX ssl uses (the default one until SNI chose). */
const struct site *tls_site(const struct server *, SSL *);
/* -t: warn for each name of sc that its certificates do not cover. */
void             tls_check_names(const struct server_conf *);
const char      *tls_error_string(void);
/* Why a handshake failed (an SSL_do_handshake result), and OpenSSL's
 * reason string for the debug log. */
enum hs_fail     tls_fail_reason(SSL *, int ret, const char **detail);
/* Who is woken when a session prefetched for a suspended handshake is in
 * (a store on a server): conn_session_fetched, set by the worker. */
void             tls_set_session_wake(cache_ssl_wake_fn);

/* --------------------------------------------------------------- tickets.c */

/* Session-ticket keys (session-tickets = true): from ticket-key-files, or
 * made in memory and rotated every ticket-key-period, identical in every
 * worker (memory shared with the master) and, with a store on a server,
 * on every host (cache_share).  See tickets.c. */
struct tickets;
struct ticket_ring;
struct worker_stats;
struct ev_loop;

/* Keys kept for rotation: enough slots to open a ticket for the whole
 * session timeout, plus the current slot and the next one. */
#define TICKET_RING 1024
#define TICKET_SLOTS(cf) (((cf)->cache.timeout + (cf)->ticket_key_period - \
	1) / (cf)->ticket_key_period + 2)

/* master, once at start: the slots' keys, in memory shared with every
 * worker of every generation (kept across reloads) */
struct ticket_ring *tickets_ring_new(void);
/* server.c, per generation: read and check ticket-key-files (errors as
 * FILE:LINE); NULL with err.  ring may be NULL (cachetd -t). */
struct tickets  *tickets_new(const struct config *, struct ticket_ring *,
                     struct cache *, char *err, size_t errlen);
void             tickets_free(struct tickets *);
/* tls.c, for every SSL_CTX: the key callback (nothing if t is NULL) */
int              tickets_setup(SSL_CTX *, struct tickets *);
/* worker.c: counters, and the timer that makes (or fetches from the
 * store, when share is 1) the next slot's key ahead of time */
void             tickets_worker(struct tickets *, struct ev_loop *,
                     struct worker_stats *, int share);
void             tickets_stop(struct tickets *, struct ev_loop *);
/* status.c: keys in memory now (files, or the ring's live slots: what a
 * memory dump would reveal; bounded by TICKET_SLOTS) */
size_t           tickets_held(struct tickets *);

/* ---------------------------------------------------------------- stats.c */


/* Per-worker counters in memory shared with the master. */
struct worker_stats {
	pid_t              pid;
	uint64_t           connections;      /* open now */
	uint64_t           handshakes_full;
	uint64_t           handshakes_resumed;
	uint64_t           requests;
	uint64_t           http_requests;    /* on http-listen (plain) */
	uint64_t           http_redirects;   /* of those, sent to https */
	uint64_t           http_acme;        /* of those, challenges served */
	uint64_t           renegotiations;
	uint64_t           pha;
	uint64_t           hs_failed[HF_COUNT];
	uint64_t           key_update_abuse; /* closed: too many KeyUpdates */
	uint64_t           drained;          /* idle closed to make room */
	uint64_t           refused;          /* closed unserved: full */
	uint64_t           tickets_renewed;  /* opened with an older key */
	uint64_t           tickets_unknown;  /* key unknown or forgotten */
	uint64_t           ticket_keys_local; /* made here: store unreachable */
	struct cache_stats cache;
};

/* --------------------------------------------------------- master/worker */

/* A server of the config, made real for one generation. */
struct site {
	const struct server_conf *sc;
	SSL_CTX         *ssl;
	struct auth_policy *auth;      /* owns sc->policy, sc->locs[i].policy */
	struct mime     *mime;         /* with sc's default-type */
	int              rootfd;       /* a worker's, opened before it drops
	                                * privileges; -1 in the master */
	int              hold_tls12;   /* no-PHA clients kept to TLS 1.2 */
};

struct server {
	struct config   *cf;
	SSL_CTX         *ssl;          /* the default site's: SSL_new */
	struct site     *sites;        /* cf->servers[i] as sites[i] */
	size_t           nsites;
	struct cache    *cache;
	struct tickets  *tickets;      /* session-tickets = true, or NULL */
	int             *lfds;         /* per address (cf->listen, then
	                                * cf->http_listen), nsock sockets:
	                                * lfds[address * nsock + k] */
	size_t           nlfds;        /* addresses: nlisten + nhttp_listen */
	size_t           nsock;        /* SO_REUSEPORT sockets per address;
	                                * worker i of a generation of n
	                                * accepts on those with k % n == i */
	int              https_port;   /* where plain HTTP redirects to */
	int              access_fd;
	uid_t            uid;          /* worker identity (if dropping) */
	gid_t            gid;
	int              drop;         /* started as root: drop in workers */
	time_t           started;
	pid_t            master;       /* workers exit when it is gone */
	struct worker_stats *stats;    /* MAX_WORKERS slots, shared memory */
	int              nworkers_now; /* workers of this generation */
};

/* server.c: built by the master, at start and on each reload */
struct server_env {
	const unsigned char *seal_key;  /* the master's, or seal-key-file's */
	struct worker_stats *stats;     /* MAX_WORKERS slots, shared */
	struct ticket_ring *ticket_ring; /* shared; NULL under -t */
};
/* The site a request's Host (or a plain connection's) names: its server
 * when host is one of its names, the default site otherwise. */
const struct site *server_site(const struct server *, const char *host);
struct server   *server_build(struct config *, struct server *old,
                     int bind_now, const struct server_env *, char *err,
                     size_t errlen);
void             server_free(struct server *, int close_listeners);

#define MAX_WORKERS 256
#define WORKER_STOP_BOUND 10.0  /* seconds a stopping worker may take */

/* notify.c: systemd's sd_notify protocol, sent by the master */
int              notify(const char *state);
int              notify_reloading(void);

/* worker.c */
/* slot: its statistics; index: its place in its generation (which
 * listening sockets it accepts on) */
void             worker_run(struct server *, int slot, int index)
                     __attribute__((noreturn));

/* conn.c: connections, as the worker sees them */
struct worker;
struct conn;
/* plain: from an http-listen socket (no TLS; serve_http.c answers) */
int              conn_new(struct worker *, int fd,
                     const struct sockaddr_storage *, int plain);
void             conn_shutdown_idle(struct worker *);
size_t           conn_drain_idle(struct worker *, size_t n);
/* The session a suspended handshake waited for is in: run it again. */
void             conn_session_fetched(SSL *);

/* Worker state shared by worker.c and conn.c; conn.c calls back through
 * conn_closed and knows nothing else of worker.c. */
struct worker {
	struct server      *srv;
	struct ev_loop     *loop;
	int                 acmefd;      /* acme-root, or -1 */
	int                 slot;
	int                 stopping;
	int                 paused;      /* not accepting: full */
	size_t              nconns;
	struct conn        *conns;       /* doubly linked */
	struct conn        *idle_head, *idle_tail; /* idle, oldest first */
	struct worker_stats *st;       /* this worker's slot, shared */
	void              (*conn_closed)(struct worker *);
};

/* status.c */
int              status_allowed(const struct location *, const char *peer);
size_t           status_render(const struct server *, int json, char *out,
                     size_t cap);

/* access log (log.c) */
enum alog_format { ALOG_COMBINED = 0, ALOG_JSON };
#define ACCESS_LINE_MAX 16384   /* a line of either format fits */
#define ACCESS_BUFFER_MIN ACCESS_LINE_MAX
#define ACCESS_FLUSH_TIME 1.0   /* seconds a buffered line may wait */
struct access_entry {
	const char *peer, *request_line, *referer, *user_agent;
	const char *protocol, *cipher, *subject, *verify;
	const char *server;     /* the server block's name, or NULL */
	const char *server_name;       /* SNI, or NULL */
	int         status;
	long long   bytes;
	int         reused;
	double      request_time;      /* seconds; < 0: unknown */
	struct timespec when;          /* 0: now */
};
/* The line of e, newline included; 0 when it does not fit cap. */
size_t           access_log_format(const struct access_entry *,
                     enum alog_format, char *line, size_t cap);
/* s as a JSON string, quotes included, cut at a character's end to fit
 * cap (with its NUL); returns the length. */
size_t           json_escape(char *out, size_t cap, const char *s);
/* "METHOD TARGET HTTP/1.1" in three pieces ("" for what is missing). */
void             access_request_split(const char *line, char *method,
                     size_t mlen, char *target, size_t tlen, char *proto,
                     size_t plen);
/* A worker's access log, set up in the worker (its lines carry the pid
 * of the process that called this): the server's descriptor, the
 * access-log value (NULL: a file) and socket, the format, the buffer size
 * (0: none); wake is called when the buffer takes its first line (the
 * worker flushes a moment later). */
void             access_log_init(int fd, const char *dest, const char *sock,
                     enum alog_format, size_t buffer, void (*wake)(void));
void             access_log(const struct access_entry *);
void             access_log_flush(void);

#endif
