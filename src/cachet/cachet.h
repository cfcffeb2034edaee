/*
 * cachet.h - the cachet tool: one file per sub-command (cmd_*.c),
 * dispatched from cachet.c, sharing client_tls.c for everything TLS and
 * client_http.c for addresses and requests.  It does not link the daemon:
 * what both programs need is in src/common/ (common.h).
 */
#ifndef CACHET_TOOL_H
#define CACHET_TOOL_H

#include <getopt.h>
#include <stdio.h>

#include <openssl/ssl.h>

/* Exit codes (documented in cachet(1)). */
#define EX_OK         0
#define EX_OTHER      1
#define EX_USAGE      2
#define EX_CONNECT    3   /* name lookup or TCP connection failed */
#define EX_HANDSHAKE  4   /* TLS handshake failed */
#define EX_CERT       5   /* server certificate or name not verified */
#define EX_HTTP       6   /* HTTP status >= 400 with --fail */
#define EX_PREMATURE  7   /* server closed without close_notify */
#define EX_IO         8   /* reading or writing failed mid-way */

/* Long-only options shared by every TLS sub-command. */
enum {
	OPT_CACERT = 256, OPT_CERT, OPT_KEY, OPT_CIPHERS, OPT_SUITES,
	OPT_TLS12, OPT_TLS13, OPT_SERVERNAME, OPT_FIRST_OWN = 300,
};

struct client_opts {
	const char *cacert;
	int         insecure;
	const char *cert, *key;
	const char *ciphers, *ciphersuites;
	int         version;        /* 0, TLS1_2_VERSION or TLS1_3_VERSION */
	const char *servername;
	int         verbose;
};

/* Per connection: what the server did after the handshake. */
struct client_conn {
	int handshaken;
	int renegotiated;
	int pha;
};

struct client_url {
	char host[256], port[16], path[2048];
};

/* cachet.c: strict numeric options.  On a bad value they print
 * "cachet CMD: OPTION: 'VALUE' is not ..." and return -1: exit EX_USAGE. */
int opt_long(const char *cmd, const char *opt, const char *arg, long min,
        long max, long *out);
int opt_double(const char *cmd, const char *opt, const char *arg,
        double min, double max, double *out);

/* client_http.c: where to connect and what to send (no TLS) */
int      client_split_hostport(const char *, char *host, size_t hl,
             char *port, size_t pl, const char *defport);
int      client_parse_url(const char *, struct client_url *);
int      client_host_header(const char *host, const char *port, char *out,
             size_t len);
int      client_request(char *out, size_t len, const char *method,
             const struct client_url *, int keep_alive);

/* client_tls.c */
extern const struct option client_long_opts[];
extern const size_t client_nlong_opts;
extern const char client_opts_help[];
int      client_opt(struct client_opts *, int c, const char *arg);
SSL_CTX *client_ctx_new(const struct client_opts *, char *err, size_t errlen);
int      client_connect(const char *host, const char *port, char *err,
             size_t errlen);
SSL     *client_ssl_new(SSL_CTX *, int fd, const char *host,
             const struct client_opts *, struct client_conn *);
int      client_handshake(SSL *, int fd, const char *what, int secs);
int      client_handshake_error(SSL *, const char *what, int ret);
void     client_summary(SSL *, const struct client_conn *);
/* Build a getopt_long table: the common options, then own (NULL-ended). */
struct option *client_merge_opts(const struct option *own);

/* What an SSL_connect/read/write/shutdown that returned ret <= 0 means. */
enum client_io {
	CIO_WANT,       /* wait for *events (POLLIN or POLLOUT), then again */
	CIO_CLOSED,     /* the server sent close_notify */
	CIO_PREMATURE,  /* the server closed without close_notify */
	CIO_ERROR,      /* anything else: client_ssl_err() says what */
};
enum client_io client_io(SSL *, int ret, short *events);
const char    *client_ssl_err(void);
/* poll() one descriptor: 1 ready, 0 timed out, -1 error. */
int            client_wait(int fd, short events, int ms);

/* session_file.c: cachet get's --sess-in / --sess-out file, "host:port"
 * lines each followed by a PEM session.  sess_parse reads a file's bytes
 * (no I/O: the fuzz harness's entry); sess_load returns the usable
 * session saved for key or NULL; sess_save replaces key's entry, keeping
 * the others that are still usable, through a private temporary file. */
struct sess_entry {
	char *key;
	char *pem;
};
size_t       sess_parse(const char *buf, size_t len, struct sess_entry **out);
void         sess_entries_free(struct sess_entry *, size_t n);
SSL_SESSION *sess_load(const char *path, const char *key, int verbose);
int          sess_save(const char *path, const char *key, SSL_SESSION *);

/* cmd_*.c */
int cmd_cache(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_shell(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
