/*
 * cmd_get.c - `cachet get URL`: the article's wclient2 as a tool.  One GET
 * (or HEAD) over TLS, the server verified by CA and name; -r N hangs up
 * cleanly and reconnects N times offering the saved session, one line per
 * connection saying whether it was resumed; sessions can be saved to and
 * loaded from a file keyed by host:port (session_file.c).  It answers a
 * TLS 1.2 renegotiation and offers TLS 1.3 post-handshake authentication,
 * so it can fetch pages that need a client certificate.
 *
 * The socket is blocking with a receive/send timeout; an SSL_* call that
 * wants to be called again waits (bounded) for the readiness it asked for.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "cachet.h"
#include "common.h"

#define IO_WAIT       30        /* seconds any step may wait */
#define MAX_RECONNECT 100000

struct get {
	struct client_opts co;
	struct client_url  u;
	const char  *out, *sess_in, *sess_out;
	int          head, include, fail;
	long         reconnect;
	char         key[300];  /* host:port: session file key, messages */
	char         req[4600];
	int          reqlen;
	SSL_CTX     *ctx;
	FILE        *of;
	SSL_SESSION *offer;     /* from --sess-in */
};

struct buf {
	char  *p;
	size_t n, cap;
};

static SSL_SESSION *latest;     /* the last session the server gave us */

static int
new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	(void)ssl;
	SSL_SESSION_free(latest);
	latest = sess;          /* we keep the reference: return 1 */
	return 1;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: cachet get [OPTIONS] https://HOST[:PORT][/PATH]\n"
	    "  -I, --head           HEAD instead of GET\n"
	    "  -i, --include        print the response headers too\n"
	    "  -o, --output FILE    write the body to FILE\n"
	    "  -f, --fail           exit 6 on an HTTP status >= 400\n"
	    "  -r, --reconnect N    then reconnect N times offering the session\n"
	    "  --sess-out FILE      save the session to FILE (keyed host:port)\n"
	    "  --sess-in FILE       offer the session saved in FILE\n"
	    "%s", client_opts_help);
}

/* Options and the URL into g: -1 to go on, else the exit code. */
static int
get_args(struct get *g, int argc, char **argv)
{
	static const struct option own[] = {
		{ "head", no_argument, NULL, 'I' },
		{ "include", no_argument, NULL, 'i' },
		{ "output", required_argument, NULL, 'o' },
		{ "fail", no_argument, NULL, 'f' },
		{ "reconnect", required_argument, NULL, 'r' },
		{ "sess-out", required_argument, NULL, OPT_FIRST_OWN },
		{ "sess-in", required_argument, NULL, OPT_FIRST_OWN + 1 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct option *opts = client_merge_opts(own);
	int c, rc = -1;

	optind = 1;
	while (rc < 0 && (c = getopt_long(argc, argv, "Iio:fr:kvh", opts,
	    NULL)) != -1) {
		if (client_opt(&g->co, c, optarg))
			continue;
		switch (c) {
		case 'I': g->head = 1; break;
		case 'i': g->include = 1; break;
		case 'o': g->out = optarg; break;
		case 'f': g->fail = 1; break;
		case 'r':
			if (opt_long("get", "-r/--reconnect", optarg, 0,
			    MAX_RECONNECT, &g->reconnect) != 0)
				rc = EX_USAGE;
			break;
		case OPT_FIRST_OWN: g->sess_out = optarg; break;
		case OPT_FIRST_OWN + 1: g->sess_in = optarg; break;
		case 'h': usage(stdout); rc = EX_OK; break;
		default: usage(stderr); rc = EX_USAGE; break;
		}
	}
	free(opts);
	if (rc >= 0)
		return rc;
	if (optind != argc - 1 || client_parse_url(argv[optind], &g->u) != 0) {
		if (optind == argc - 1)
			fprintf(stderr, "cachet get: '%s' is not an https:// "
			    "URL\n", argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}
	return -1;
}

/* The context, the request, the saved session, the output: -1 or exit. */
static int
get_setup(struct get *g)
{
	char err[512];

	if ((g->ctx = client_ctx_new(&g->co, err, sizeof err)) == NULL) {
		fprintf(stderr, "cachet get: %s\n", err);
		return EX_USAGE;
	}
	SSL_CTX_set_session_cache_mode(g->ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(g->ctx, new_session_cb);
	snprintf(g->key, sizeof g->key, "%s:%s", g->u.host, g->u.port);
	g->reqlen = client_request(g->req, sizeof g->req, g->head ? "HEAD" :
	    "GET", &g->u, 0);
	if (g->reqlen < 0) {
		fprintf(stderr, "cachet get: the URL is too long\n");
		return EX_USAGE;
	}
	if (g->sess_in != NULL)
		g->offer = sess_load(g->sess_in, g->key, g->co.verbose);
	g->of = stdout;
	if (g->out != NULL && (g->of = fopen(g->out, "we")) == NULL) {
		fprintf(stderr, "cachet get: %s: %s\n", g->out, strerror(errno));
		return EX_IO;
	}
	return -1;
}

static void
buf_add(struct buf *b, const char *d, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
	b->p[b->n] = '\0';
}

/* After SSL_read/SSL_write returned r <= 0: CIO_WANT when it may be
 * called again, else what ended it (a timeout is CIO_ERROR). */
static enum client_io
again(SSL *ssl, int fd, int r)
{
	short ev = 0;
	enum client_io io = client_io(ssl, r, &ev);

	/* A handshake record (renegotiation, ticket, PHA) may have been
	 * handled with no data: wait for what OpenSSL asked, bounded. */
	if (io == CIO_WANT && !SSL_has_pending(ssl) &&
	    client_wait(fd, ev, IO_WAIT * 1000) != 1)
		return CIO_ERROR;
	return io;
}

static int
write_all(SSL *ssl, int fd, const char *d, size_t n)
{
	while (n > 0) {
		int r = SSL_write(ssl, d, (int)n);
		if (r > 0) {
			d += r;
			n -= (size_t)r;
		} else if (again(ssl, fd, r) != CIO_WANT) {
			ERR_clear_error();
			return -1;
		}
	}
	return 0;
}

/* Read to the end: CIO_CLOSED (close_notify seen), CIO_PREMATURE (the
 * server just closed) or CIO_ERROR (error or timeout). */
static enum client_io
read_all(SSL *ssl, int fd, struct buf *b)
{
	char chunk[16384];
	enum client_io io;
	int r;

	for (;;) {
		if ((r = SSL_read(ssl, chunk, sizeof chunk)) > 0)
			buf_add(b, chunk, (size_t)r);
		else if ((io = again(ssl, fd, r)) != CIO_WANT) {
			ERR_clear_error();
			return io;
		}
	}
}

/* Send the request and read the response into b: EX_OK or the exit code
 * (said); *closed tells whether the server sent close_notify. */
static int
exchange(const struct get *g, SSL *ssl, int fd, struct buf *b, int *closed)
{
	enum client_io io;

	*closed = 0;
	if (write_all(ssl, fd, g->req, (size_t)g->reqlen) != 0) {
		fprintf(stderr, "cachet get: %s: sending the request failed\n",
		    g->key);
		return EX_IO;
	}
	io = read_all(ssl, fd, b);
	*closed = io == CIO_CLOSED;
	if (io == CIO_PREMATURE) {
		fprintf(stderr, "cachet get: %s: premature close (no "
		    "close_notify): the response may be incomplete\n", g->key);
		return EX_PREMATURE;
	}
	if (io != CIO_CLOSED) {
		fprintf(stderr, "cachet get: %s: reading the response failed\n",
		    g->key);
		return EX_IO;
	}
	return EX_OK;
}

/* Connection k's response: the first is written out; status checks. */
static int
response(const struct get *g, int k, const struct buf *b, int rc)
{
	char *end = b->p ? strstr(b->p, "\r\n\r\n") : NULL;
	long status = 0;

	if (b->p != NULL && strncmp(b->p, "HTTP/1.", 7) == 0 && b->n >= 12)
		status = strtol(b->p + 9, NULL, 10);
	if (k == 0 && b->p != NULL) {
		size_t hl = end ? (size_t)(end - b->p) + 4 : b->n;
		if (g->include)
			fwrite(b->p, 1, hl, g->of);
		if (!g->head && hl < b->n)
			fwrite(b->p + hl, 1, b->n - hl, g->of);
	}
	if (rc == EX_OK && status == 0) {
		fprintf(stderr, "cachet get: %s: no HTTP response\n", g->key);
		return EX_IO;
	}
	if (rc == EX_OK && g->fail && status >= 400) {
		fprintf(stderr, "cachet get: %s%s: HTTP %ld\n", g->key,
		    g->u.path, status);
		return EX_HTTP;
	}
	return rc;
}

/* Connection k (0 first): connect, offer a session, fetch. */
static int
fetch_once(struct get *g, int k)
{
	struct timeval tv = { IO_WAIT, 0 };
	struct client_conn cc;
	struct buf b = { NULL, 0, 0 };
	char err[512];
	int fd, rc, closed = 0;
	SSL *ssl;

	if ((fd = client_connect(g->u.host, g->u.port, err, sizeof err)) < 0) {
		fprintf(stderr, "cachet get: %s\n", err);
		return EX_CONNECT;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if ((ssl = client_ssl_new(g->ctx, fd, g->u.host, &g->co, &cc)) == NULL) {
		close(fd);
		fprintf(stderr, "cachet get: SSL_new: %s\n", client_ssl_err());
		return EX_OTHER;
	}
	if (k > 0 && latest != NULL)
		SSL_set_session(ssl, latest);
	else if (g->offer != NULL)
		SSL_set_session(ssl, g->offer);
	if ((rc = client_handshake(ssl, fd, g->key, IO_WAIT)) == 0) {
		cc.handshaken = 1;
		if (g->reconnect > 0 || g->sess_in != NULL || g->sess_out != NULL)
			fprintf(stderr, "connection %d: %s %s %s\n", k + 1,
			    SSL_get_version(ssl), SSL_get_cipher_name(ssl),
			    SSL_session_reused(ssl) ? "resumed" : "full");
		rc = exchange(g, ssl, fd, &b, &closed);
		if (g->co.verbose)
			client_summary(ssl, &cc);
		if (closed)
			SSL_shutdown(ssl);      /* answer the close_notify */
		rc = response(g, k, &b, rc);
	}
	SSL_free(ssl);
	close(fd);
	free(b.p);
	return rc;
}

/* Save the session, flush the output, free: the final exit code. */
static int
get_finish(struct get *g, int rc)
{
	if (g->sess_out != NULL && latest != NULL)
		sess_save(g->sess_out, g->key, latest);
	if (g->of != NULL && g->of != stdout && fclose(g->of) != 0 &&
	    rc == EX_OK)
		rc = EX_IO;
	else if (g->of == stdout && fflush(stdout) != 0 && rc == EX_OK)
		rc = EX_IO;
	SSL_SESSION_free(g->offer);
	SSL_SESSION_free(latest);
	latest = NULL;
	SSL_CTX_free(g->ctx);
	return rc;
}

int
cmd_get(int argc, char **argv)
{
	struct get g;
	int k, rc;

	memset(&g, 0, sizeof g);
	if ((rc = get_args(&g, argc, argv)) >= 0)
		return rc;
	if ((rc = get_setup(&g)) >= 0)
		return get_finish(&g, rc);
	rc = EX_OK;
	for (k = 0; k <= g.reconnect && rc == EX_OK; k++)
		rc = fetch_once(&g, k);
	return get_finish(&g, rc);
}
