/*
 * cachet.h - the cachet tool: one file per sub-command (cmd_*.c),
 * dispatched from cachet.c, sharing client_tls.c for everything TLS.
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

/* client_tls.c */
extern const struct option client_long_opts[];
extern const size_t client_nlong_opts;
extern const char client_opts_help[];
int      client_opt(struct client_opts *, int c, const char *arg);
SSL_CTX *client_ctx_new(const struct client_opts *, char *err, size_t errlen);
int      client_split_hostport(const char *, char *host, size_t hl,
             char *port, size_t pl, const char *defport);
int      client_parse_url(const char *, struct client_url *);
int      client_connect(const char *host, const char *port, char *err,
             size_t errlen);
SSL     *client_ssl_new(SSL_CTX *, int fd, const char *host,
             const struct client_opts *, struct client_conn *);
int      client_handshake_error(SSL *, const char *what, int ret);
void     client_summary(SSL *, const struct client_conn *);
/* Build a getopt_long table: the common options, then own (NULL-ended). */
struct option *client_merge_opts(const struct option *own);

/* cmd_*.c */
int cmd_cache(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_shell(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
