/*
 * client_tls.c - what every cachet sub-command that talks TLS shares: the
 * common options, the client SSL_CTX built from them, connecting, the
 * server name check, the handshake summary of -v, and what an SSL_* call
 * that did not complete means (client_io): which readiness to wait for,
 * the server's close_notify, or a premature close.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cachet.h"
#include "common.h"

const struct option client_long_opts[] = {
	{ "cacert", required_argument, NULL, OPT_CACERT },
	{ "insecure", no_argument, NULL, 'k' },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "ciphers", required_argument, NULL, OPT_CIPHERS },
	{ "ciphersuites", required_argument, NULL, OPT_SUITES },
	{ "tls1.2", no_argument, NULL, OPT_TLS12 },
	{ "tls1.3", no_argument, NULL, OPT_TLS13 },
	{ "servername", required_argument, NULL, OPT_SERVERNAME },
	{ "verbose", no_argument, NULL, 'v' },
};
const size_t client_nlong_opts =
    sizeof client_long_opts / sizeof client_long_opts[0];

const char client_opts_help[] =
    "  --cacert FILE        trust these CAs (default: the system store)\n"
    "  -k, --insecure       do not verify the server certificate\n"
    "  --cert FILE --key FILE  client certificate and key\n"
    "  --ciphers LIST       TLS 1.2 cipher list\n"
    "  --ciphersuites LIST  TLS 1.3 cipher suites\n"
    "  --tls1.2, --tls1.3   use only this TLS version\n"
    "  --servername NAME    SNI and the name checked in the certificate\n"
    "  -v, --verbose        handshake summary on stderr\n";

/* Returns 1 if c was one of the common options, 0 if not, -1 on error. */
int
client_opt(struct client_opts *o, int c, const char *arg)
{
	switch (c) {
	case OPT_CACERT: o->cacert = arg; return 1;
	case 'k': o->insecure = 1; return 1;
	case OPT_CERT: o->cert = arg; return 1;
	case OPT_KEY: o->key = arg; return 1;
	case OPT_CIPHERS: o->ciphers = arg; return 1;
	case OPT_SUITES: o->ciphersuites = arg; return 1;
	case OPT_TLS12: o->version = TLS1_2_VERSION; return 1;
	case OPT_TLS13: o->version = TLS1_3_VERSION; return 1;
	case OPT_SERVERNAME: o->servername = arg; return 1;
	case 'v': o->verbose = 1; return 1;
	default: return 0;
	}
}

const char *
client_ssl_err(void)
{
	static char buf[256];
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		return "unknown error";
	ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	return buf;
}

/* What the server asked after the handshake, for -v. */
static void
info_cb(const SSL *ssl, int where, int ret)
{
	struct client_conn *cc = SSL_get_app_data(ssl);

	(void)ret;
	if (cc == NULL || !cc->handshaken)
		return;
	if ((where & SSL_CB_HANDSHAKE_START) &&
	    SSL_version(ssl) < TLS1_3_VERSION)
		cc->renegotiated = 1;
	if ((where & SSL_CB_LOOP) && SSL_get_state(ssl) == TLS_ST_CR_CERT_REQ)
		cc->pha = SSL_version(ssl) >= TLS1_3_VERSION;
}

SSL_CTX *
client_ctx_new(const struct client_opts *o, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		snprintf(err, errlen, "SSL_CTX_new: %s", client_ssl_err());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, o->version ? o->version :
	    TLS1_2_VERSION);
	if (o->version)
		SSL_CTX_set_max_proto_version(ctx, o->version);
	if (o->ciphers != NULL && SSL_CTX_set_cipher_list(ctx, o->ciphers) != 1) {
		snprintf(err, errlen, "--ciphers '%s': no usable cipher",
		    o->ciphers);
		goto fail;
	}
	if (o->ciphersuites != NULL &&
	    SSL_CTX_set_ciphersuites(ctx, o->ciphersuites) != 1) {
		snprintf(err, errlen, "--ciphersuites '%s': no usable suite",
		    o->ciphersuites);
		goto fail;
	}
	if (o->cacert != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, o->cacert, NULL) != 1) {
			snprintf(err, errlen, "--cacert '%s': %s", o->cacert,
			    client_ssl_err());
			goto fail;
		}
	} else {
		SSL_CTX_set_default_verify_paths(ctx);
	}
	SSL_CTX_set_verify(ctx, o->insecure ? SSL_VERIFY_NONE :
	    SSL_VERIFY_PEER, NULL);
	if ((o->cert == NULL) != (o->key == NULL)) {
		snprintf(err, errlen, "--cert and --key go together");
		goto fail;
	}
	if (o->cert != NULL &&
	    (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)) {
		snprintf(err, errlen, "--cert '%s' --key '%s': %s", o->cert,
		    o->key, client_ssl_err());
		goto fail;
	}
	/* Answer a server that asks for a certificate after the handshake. */
	SSL_CTX_set_post_handshake_auth(ctx, 1);
	SSL_CTX_clear_mode(ctx, SSL_MODE_AUTO_RETRY);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_info_callback(ctx, info_cb);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int
client_connect(const char *host, const char *port, char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, rc, one = 1, e = 0;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "connect to %s port %s: %s", host, port,
		    strerror(e ? e : ECONNREFUSED));
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static int
is_ip(const char *h)
{
	unsigned char b[16];

	return inet_pton(AF_INET, h, b) == 1 || inet_pton(AF_INET6, h, b) == 1;
}

SSL *
client_ssl_new(SSL_CTX *ctx, int fd, const char *host,
    const struct client_opts *o, struct client_conn *cc)
{
	const char *name = o->servername ? o->servername : host;
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL)
		return NULL;
	SSL_set_fd(ssl, fd);
	memset(cc, 0, sizeof *cc);
	SSL_set_app_data(ssl, cc);
	if (!is_ip(name))
		SSL_set_tlsext_host_name(ssl, name);
	if (!o->insecure) {
		if (is_ip(name))
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name);
		else
			SSL_set1_host(ssl, name);
	}
	return ssl;
}

/* Exit code and message for a failed handshake. */
int
client_handshake_error(SSL *ssl, const char *what, int ret)
{
	long vr = SSL_get_verify_result(ssl);
	int e = SSL_get_error(ssl, ret);

	if (vr != X509_V_OK) {
		fprintf(stderr, "cachet: %s: server certificate: %s\n", what,
		    X509_verify_cert_error_string(vr));
		ERR_clear_error();
		return EX_CERT;
	}
	if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
		fprintf(stderr, "cachet: %s: handshake: connection closed by "
		    "the server\n", what);
	else
		fprintf(stderr, "cachet: %s: handshake failed: %s\n", what,
		    client_ssl_err());
	return EX_HANDSHAKE;
}

void
client_summary(SSL *ssl, const struct client_conn *cc)
{
	X509 *peer = SSL_get0_peer_certificate(ssl);
	char subj[512] = "-", iss[512] = "-";
	long vr = SSL_get_verify_result(ssl);

	if (peer != NULL) {
		dn_string(X509_get_subject_name(peer), subj, sizeof subj);
		dn_string(X509_get_issuer_name(peer), iss, sizeof iss);
	}
	fprintf(stderr, "* protocol: %s\n* cipher: %s\n* session: %s\n"
	    "* server certificate: %s\n* issuer: %s\n* verify: %s\n",
	    SSL_get_version(ssl), SSL_get_cipher_name(ssl),
	    SSL_session_reused(ssl) ? "resumed" : "full handshake", subj, iss,
	    vr == X509_V_OK ? "ok" : X509_verify_cert_error_string(vr));
	if (cc->renegotiated)
		fprintf(stderr, "* the server renegotiated (TLS 1.2)\n");
	if (cc->pha)
		fprintf(stderr, "* the server asked for a client certificate "
		    "after the handshake (TLS 1.3 post-handshake auth)\n");
}

/* SSL_connect to the end, within secs, on a blocking or non-blocking
 * socket: 0, or the exit code after saying what failed. */
int
client_handshake(SSL *ssl, int fd, const char *what, int secs)
{
	time_t deadline = time(NULL) + secs;
	short ev = 0;
	int r;

	ERR_clear_error();
	while ((r = SSL_connect(ssl)) != 1) {
		long ms = (long)(deadline - time(NULL)) * 1000;
		if (SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ &&
		    SSL_get_error(ssl, r) != SSL_ERROR_WANT_WRITE)
			return client_handshake_error(ssl, what, r);
		(void)client_io(ssl, r, &ev);
		if (ms <= 0 || client_wait(fd, ev, (int)ms) != 1) {
			fprintf(stderr, "cachet: %s: handshake timed out\n",
			    what);
			return EX_HANDSHAKE;
		}
	}
	return 0;
}

struct option *
client_merge_opts(const struct option *own)
{
	size_t n = 0, i;
	struct option *v;

	while (own[n].name != NULL)
		n++;
	v = xcalloc(client_nlong_opts + n + 1, sizeof *v);
	for (i = 0; i < client_nlong_opts; i++)
		v[i] = client_long_opts[i];
	for (i = 0; i < n; i++)
		v[client_nlong_opts + i] = own[i];
	return v;
}

/*
 * One place decides what an SSL_* result <= 0 means.  WANT_READ and
 * WANT_WRITE only say which readiness to wait for (during a renegotiation
 * a read may need the socket writable).  A close without close_notify is
 * "premature": OpenSSL 3 reports it as SSL_R_UNEXPECTED_EOF_WHILE_READING,
 * older paths as SSL_ERROR_SYSCALL with an empty error queue.
 */
enum client_io
client_io(SSL *ssl, int ret, short *events)
{
	int sys = errno;        /* before anything else can change it */
	int e = SSL_get_error(ssl, ret);

	switch (e) {
	case SSL_ERROR_WANT_READ:
		*events = POLLIN;
		return CIO_WANT;
	case SSL_ERROR_WANT_WRITE:
		*events = POLLOUT;
		return CIO_WANT;
	case SSL_ERROR_ZERO_RETURN:
		return CIO_CLOSED;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0 && (ret == 0 || sys == 0 ||
		    sys == ECONNRESET || sys == EPIPE))
			return CIO_PREMATURE;
		return CIO_ERROR;
	case SSL_ERROR_SSL:
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			ERR_clear_error();
			return CIO_PREMATURE;
		}
		return CIO_ERROR;
	default:
		return CIO_ERROR;
	}
}

int
client_wait(int fd, short events, int ms)
{
	struct pollfd pf = { fd, events, 0 };
	int n;

	while ((n = poll(&pf, 1, ms)) < 0 && errno == EINTR)
		;
	return n < 0 ? -1 : n > 0;
}
