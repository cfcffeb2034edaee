/*
 * cmd_get.c - `cachet get URL`: the article's wclient2 as a tool.  One GET
 * (or HEAD) over TLS, the server verified by CA and name; -r N hangs up
 * cleanly and reconnects N times offering the saved session, one line per
 * connection saying whether it was resumed; sessions can be saved to and
 * loaded from a file keyed by host:port.  It answers a TLS 1.2
 * renegotiation and offers TLS 1.3 post-handshake authentication, so it
 * can fetch pages that need a client certificate.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "cachet.h"

#define SESS_BEGIN "-----BEGIN SSL SESSION PARAMETERS-----"
#define SESS_END   "-----END SSL SESSION PARAMETERS-----"

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

/* ------------------------------------------------------- session files */

struct sess_entry {
	char *key;
	char *pem;
};

static size_t
sess_file_read(const char *path, struct sess_entry **out)
{
	FILE *f = fopen(path, "re");
	struct sess_entry *v = NULL;
	char line[4096], *key = NULL;
	size_t n = 0, cap = 0, pl = 0;
	char *pem = NULL;
	int inblock = 0;

	*out = NULL;
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL) {
		if (!inblock && strncmp(line, SESS_BEGIN, strlen(SESS_BEGIN)) == 0
		    && key != NULL) {
			inblock = 1;
			pl = 0;
		} else if (!inblock) {
			if (line[0] == '#' || line[0] == '\n')
				continue;
			line[strcspn(line, "\r\n")] = '\0';
			free(key);
			key = strdup(line);
			continue;
		}
		pem = realloc(pem, pl + strlen(line) + 1);
		memcpy(pem + pl, line, strlen(line) + 1);
		pl += strlen(line);
		if (strncmp(line, SESS_END, strlen(SESS_END)) == 0) {
			if (n == cap) {
				cap = cap ? cap * 2 : 8;
				v = realloc(v, cap * sizeof *v);
			}
			v[n].key = key;
			v[n].pem = pem;
			n++;
			key = NULL;
			pem = NULL;
			inblock = 0;
		}
	}
	free(key);
	free(pem);
	fclose(f);
	*out = v;
	return n;
}

static void
sess_entries_free(struct sess_entry *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].pem);
	}
	free(v);
}

static SSL_SESSION *
sess_decode(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	SSL_SESSION *s = b ? PEM_read_bio_SSL_SESSION(b, NULL, NULL, NULL) :
	    NULL;

	BIO_free(b);
	ERR_clear_error();
	return s;
}

/* The usable session saved for key, or NULL (damaged, expired: dropped). */
static SSL_SESSION *
sess_load(const char *path, const char *key, int verbose)
{
	struct sess_entry *v;
	size_t n = sess_file_read(path, &v), i;
	SSL_SESSION *s = NULL;

	for (i = 0; i < n && s == NULL; i++) {
		if (strcmp(v[i].key, key) != 0)
			continue;
		s = sess_decode(v[i].pem);
		if (s != NULL && (SSL_SESSION_get_time(s) +
		    SSL_SESSION_get_timeout(s) <= time(NULL) ||
		    !SSL_SESSION_is_resumable(s))) {
			SSL_SESSION_free(s);
			s = NULL;
		}
		if (s == NULL && verbose)
			fprintf(stderr, "* saved session for %s unusable: "
			    "ignored\n", key);
	}
	sess_entries_free(v, n);
	return s;
}

static int
sess_save(const char *path, const char *key, SSL_SESSION *s)
{
	struct sess_entry *v;
	size_t n = sess_file_read(path, &v), i;
	char tmp[4200];
	FILE *f;
	BIO *b;
	int fd, ok = 1;

	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0
	    || (f = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "cachet: %s: %s\n", tmp, strerror(errno));
		sess_entries_free(v, n);
		return -1;
	}
	fprintf(f, "# cachet TLS sessions, keyed by host:port\n");
	for (i = 0; i < n; i++) {
		SSL_SESSION *o;
		if (strcmp(v[i].key, key) == 0 || (o = sess_decode(v[i].pem))
		    == NULL)
			continue;       /* replaced, or unusable: dropped */
		if (SSL_SESSION_get_time(o) + SSL_SESSION_get_timeout(o) >
		    time(NULL))
			fprintf(f, "%s\n%s", v[i].key, v[i].pem);
		SSL_SESSION_free(o);
	}
	fprintf(f, "%s\n", key);
	fflush(f);
	b = BIO_new_fp(f, BIO_NOCLOSE);
	if (b == NULL || PEM_write_bio_SSL_SESSION(b, s) != 1)
		ok = 0;
	BIO_free(b);
	if (fclose(f) != 0)
		ok = 0;
	sess_entries_free(v, n);
	if (!ok || rename(tmp, path) != 0) {
		fprintf(stderr, "cachet: cannot save sessions to %s\n", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* --------------------------------------------------------------- fetch */

struct buf {
	char  *p;
	size_t n, cap;
};

static void
buf_add(struct buf *b, const char *d, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		if ((b->p = realloc(b->p, b->cap)) == NULL)
			abort();
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static int
write_all(SSL *ssl, const char *d, size_t n)
{
	while (n > 0) {
		int r = SSL_write(ssl, d, (int)n);
		if (r > 0) {
			d += r;
			n -= (size_t)r;
			continue;
		}
		switch (SSL_get_error(ssl, r)) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			continue;       /* blocking socket: just again */
		default:
			return -1;
		}
	}
	return 0;
}

/* Read to the end.  0: close_notify seen; EX_PREMATURE: the server just
 * closed; EX_IO: error or timeout. */
static int
read_all(SSL *ssl, struct buf *b)
{
	char chunk[16384];

	for (;;) {
		int r = SSL_read(ssl, chunk, sizeof chunk);
		if (r > 0) {
			buf_add(b, chunk, (size_t)r);
			continue;
		}
		switch (SSL_get_error(ssl, r)) {
		case SSL_ERROR_ZERO_RETURN:
			return 0;
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			/* A handshake record (renegotiation, ticket, PHA)
			 * was handled and no data came with it: read on. */
			continue;
		case SSL_ERROR_SYSCALL:
			if (ERR_peek_error() == 0 && (r == 0 || errno == 0 ||
			    errno == ECONNRESET))
				return EX_PREMATURE;
			/* FALLTHROUGH */
		case SSL_ERROR_SSL:
			/* OpenSSL 3 reports a bare TCP close as an error. */
			if (ERR_GET_REASON(ERR_peek_last_error()) ==
			    SSL_R_UNEXPECTED_EOF_WHILE_READING) {
				ERR_clear_error();
				return EX_PREMATURE;
			}
			/* FALLTHROUGH */
		default:
			ERR_clear_error();
			return EX_IO;
		}
	}
}

int
cmd_get(int argc, char **argv)
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
	struct client_opts co;
	struct client_url u;
	const char *out = NULL, *sess_in = NULL, *sess_out = NULL;
	int head = 0, include = 0, fail = 0, reconnect = 0, c, k, rc = EX_OK;
	char err[512], key[300], req[4600];
	SSL_CTX *ctx;
	FILE *of = stdout;
	SSL_SESSION *offer = NULL;

	memset(&co, 0, sizeof co);
	optind = 1;
	while ((c = getopt_long(argc, argv, "Iio:fr:kvh", opts, NULL)) != -1) {
		if (client_opt(&co, c, optarg))
			continue;
		switch (c) {
		case 'I': head = 1; break;
		case 'i': include = 1; break;
		case 'o': out = optarg; break;
		case 'f': fail = 1; break;
		case 'r':
			reconnect = atoi(optarg);
			if (reconnect < 0 || reconnect > 100000 ||
			    strspn(optarg, "0123456789") != strlen(optarg)) {
				fprintf(stderr, "cachet get: -r needs a count\n");
				free(opts);
				return EX_USAGE;
			}
			break;
		case OPT_FIRST_OWN: sess_out = optarg; break;
		case OPT_FIRST_OWN + 1: sess_in = optarg; break;
		case 'h': usage(stdout); free(opts); return EX_OK;
		default: usage(stderr); free(opts); return EX_USAGE;
		}
	}
	free(opts);
	if (optind != argc - 1 || client_parse_url(argv[optind], &u) != 0) {
		if (optind == argc - 1)
			fprintf(stderr, "cachet get: '%s' is not an https:// "
			    "URL\n", argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}
	if ((ctx = client_ctx_new(&co, err, sizeof err)) == NULL) {
		fprintf(stderr, "cachet get: %s\n", err);
		return EX_USAGE;
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
	snprintf(key, sizeof key, "%s:%s", u.host, u.port);
	if (sess_in != NULL)
		offer = sess_load(sess_in, key, co.verbose);
	if (out != NULL && (of = fopen(out, "we")) == NULL) {
		fprintf(stderr, "cachet get: %s: %s\n", out, strerror(errno));
		SSL_CTX_free(ctx);
		return EX_IO;
	}
	{
		int v6 = strchr(u.host, ':') != NULL;
		char hosthdr[300];
		snprintf(hosthdr, sizeof hosthdr, "%s%s%s%s%s", v6 ? "[" : "",
		    u.host, v6 ? "]" : "", strcmp(u.port, "443") ? ":" : "",
		    strcmp(u.port, "443") ? u.port : "");
		snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: %s\r\n"
		    "User-Agent: cachet/%s\r\nAccept: */*\r\n"
		    "Connection: close\r\n\r\n", head ? "HEAD" : "GET", u.path,
		    hosthdr, PACKAGE_VERSION);
	}

	for (k = 0; k <= reconnect && rc == EX_OK; k++) {
		struct client_conn cc;
		struct timeval tv = { 30, 0 };
		struct buf b = { NULL, 0, 0 };
		SSL *ssl;
		int fd, r, status = 0;
		char *end;

		if ((fd = client_connect(u.host, u.port, err, sizeof err)) < 0) {
			fprintf(stderr, "cachet get: %s\n", err);
			rc = EX_CONNECT;
			break;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		ssl = client_ssl_new(ctx, fd, u.host, &co, &cc);
		if (k > 0 && latest != NULL)
			SSL_set_session(ssl, latest);
		else if (offer != NULL)
			SSL_set_session(ssl, offer);
		ERR_clear_error();
		if ((r = SSL_connect(ssl)) != 1) {
			rc = client_handshake_error(ssl, key, r);
			SSL_free(ssl);
			close(fd);
			break;
		}
		cc.handshaken = 1;
		if (reconnect > 0 || sess_in != NULL || sess_out != NULL)
			fprintf(stderr, "connection %d: %s %s %s\n", k + 1,
			    SSL_get_version(ssl), SSL_get_cipher_name(ssl),
			    SSL_session_reused(ssl) ? "resumed" : "full");
		if (write_all(ssl, req, strlen(req)) != 0) {
			fprintf(stderr, "cachet get: %s: sending the request "
			    "failed\n", key);
			rc = EX_IO;
		} else {
			r = read_all(ssl, &b);
			if (r == EX_PREMATURE) {
				fprintf(stderr, "cachet get: %s: premature close "
				    "(no close_notify): the response may be "
				    "incomplete\n", key);
				rc = EX_PREMATURE;
			} else if (r == EX_IO) {
				fprintf(stderr, "cachet get: %s: reading the "
				    "response failed\n", key);
				rc = EX_IO;
			}
		}
		if (co.verbose)
			client_summary(ssl, &cc);
		if (r == 0)
			SSL_shutdown(ssl);      /* answer the close_notify */
		SSL_free(ssl);
		close(fd);

		end = b.p ? strstr(b.p, "\r\n\r\n") : NULL;
		if (b.p != NULL && strncmp(b.p, "HTTP/1.", 7) == 0)
			status = atoi(b.p + 9);
		if (k == 0 && b.p != NULL) {
			size_t hl = end ? (size_t)(end - b.p) + 4 : b.n;
			if (include)
				fwrite(b.p, 1, hl, of);
			if (!head && hl < b.n)
				fwrite(b.p + hl, 1, b.n - hl, of);
		}
		if (rc == EX_OK && status == 0) {
			fprintf(stderr, "cachet get: %s: no HTTP response\n",
			    key);
			rc = EX_IO;
		}
		if (rc == EX_OK && fail && status >= 400) {
			fprintf(stderr, "cachet get: %s%s: HTTP %d\n", key,
			    u.path, status);
			rc = EX_HTTP;
		}
		free(b.p);
	}
	if (sess_out != NULL && latest != NULL)
		sess_save(sess_out, key, latest);
	if (of != stdout && fclose(of) != 0 && rc == EX_OK)
		rc = EX_IO;
	else if (of == stdout && fflush(stdout) != 0 && rc == EX_OK)
		rc = EX_IO;
	SSL_SESSION_free(offer);
	SSL_SESSION_free(latest);
	latest = NULL;
	SSL_CTX_free(ctx);
	return rc;
}
