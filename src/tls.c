/*
 * tls.c - the server SSL_CTXs, built once by the master from the config and
 * inherited by every worker: one per server (server "name" { ... }, or the
 * one implicit server), alike in everything TLS-wide set here - protocol
 * range, cipher lists, renegotiation policy, buffer modes, the one shared
 * session cache - and each with its own certificates, client-certificate
 * settings (auth.c) and session ID context.
 *
 * A connection starts on the default server's SSL_CTX; the ClientHello
 * callback reads the server_name extension and moves it to its server's
 * (sni_select), before OpenSSL looks at the session the client offers.
 * OpenSSL resumes a session only under the session ID context it was made
 * under (ssl_get_prev_session, and the PSK extension in TLS 1.3), so a
 * session of one server never resumes on another, though they share one
 * cache: the lookup finds it and OpenSSL declines it (a full handshake).
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cachetd.h"

/* The session ID context: sessions made by another program never resume
 * here; with server blocks, "cachetd/1/" and a hash of the server's name,
 * so that those of one server never resume on another.  The implicit
 * server keeps the plain prefix (sessions survive an upgrade). */
#define SID_CTX_PREFIX "cachetd/1"

static int site_index = -1;     /* SSL_CTX ex_data: its struct site */
static int chosen_index = -1;   /* SSL ex_data: the site SNI chose */

const char *
tls_error_string(void)
{
	static char buf[256];
	unsigned long e = ERR_get_error(), last = e;

	/* The last error queued is usually the most specific one. */
	while (e != 0) {
		last = e;
		e = ERR_get_error();
	}
	if (last == 0)
		return "unknown error";
	ERR_error_string_n(last, buf, sizeof buf);
	return buf;
}

static int
load_pair(SSL_CTX *ctx, const struct server_conf *cf, size_t i, char *err,
    size_t errlen)
{
	struct stat st;

	if (access(cf->certs[i], R_OK) != 0) {
		config_err(err, errlen, &cf->certs_at, "certificate '%s': %s",
		    cf->certs[i], strerror(errno));
		return -1;
	}
	if (access(cf->keys[i], R_OK) != 0) {
		config_err(err, errlen, &cf->keys_at, "key '%s': %s",
		    cf->keys[i], strerror(errno));
		return -1;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cf->certs[i]) != 1) {
		config_err(err, errlen, &cf->certs_at, "certificate '%s': %s",
		    cf->certs[i], tls_error_string());
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cf->keys[i], SSL_FILETYPE_PEM)
	    != 1) {
		config_err(err, errlen, &cf->keys_at, "key '%s': %s",
		    cf->keys[i], tls_error_string());
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		config_err(err, errlen, &cf->keys_at, "key '%s' does not match "
		    "certificate '%s'", cf->keys[i], cf->certs[i]);
		return -1;
	}
	if (stat(cf->keys[i], &st) == 0 && (st.st_mode & 077) != 0)
		log_warn("key '%s' is readable by group or others (mode %03o); "
		    "chmod 600 it", cf->keys[i], st.st_mode & 0777);
	return 0;
}

/* The host name of the server_name extension (RFC 6066 3), lowercase,
 * into out; 0, or -1 when there is none (or it is malformed: taken as
 * none, so the default server answers, as nginx does). */
static int
sni_name(SSL *ssl, char *out, size_t outlen)
{
	const unsigned char *p;
	size_t len, n, i;

	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p,
	    &len) != 1 || len < 5)
		return -1;
	/* list length, then entries; host_name is type 0, the one kind */
	if ((size_t)(p[0] << 8 | p[1]) != len - 2 || p[2] !=
	    TLSEXT_NAMETYPE_host_name)
		return -1;
	n = (size_t)(p[3] << 8 | p[4]);
	if (n == 0 || n + 5 > len || n >= outlen)
		return -1;
	for (i = 0; i < n; i++) {
		if (p[5 + i] == '\0')
			return -1;
		out[i] = (char)tolower(p[5 + i]);
	}
	out[n] = '\0';
	if (n > 1 && out[n - 1] == '.')
		out[n - 1] = '\0';
	return 0;
}

/* Move ssl to the SSL_CTX of the server its ClientHello names.  Safe to
 * run again on the same SSL (a ClientHello callback that returned RETRY,
 * the second ClientHello after a HelloRetryRequest, a renegotiation):
 * once chosen, the server stays, and a ClientHello that names another is
 * refused.  0, or -1 with *alert set. */
static int
sni_select(SSL *ssl, const struct server *srv, int *alert)
{
	const struct site *cur = SSL_get_ex_data(ssl, chosen_index), *want;
	const struct server_conf *sc = NULL;
	char name[256];
	int named = sni_name(ssl, name, sizeof name) == 0;
	SSL_CTX *ctx;
	size_t i;

	if (named)
		sc = config_server(srv->cf, name);
	if (cur != NULL && (!named || (sc != NULL && sc == cur->sc)))
		return 0;
	if (named && sc == NULL && srv->cf->unknown_sni == SNI_REFUSE) {
		*alert = SSL_AD_UNRECOGNIZED_NAME;
		return -1;
	}
	want = &srv->sites[srv->cf->dflt];
	for (i = 0; sc != NULL && i < srv->nsites; i++)
		if (srv->sites[i].sc == sc)
			want = &srv->sites[i];
	if (cur != NULL) {
		if (cur == want)
			return 0;
		*alert = SSL_AD_HANDSHAKE_FAILURE;     /* another server */
		return -1;
	}
	SSL_set_ex_data(ssl, chosen_index, (void *)want);
	ctx = want->ssl;
	if (SSL_get_SSL_CTX(ssl) == ctx)
		return 0;
	/* SSL_set_SSL_CTX takes the certificates (and the verify store, which
	 * lives with them) and the session ID context; the verify mode and
	 * depth were copied into the SSL when it was made, from the default
	 * server's SSL_CTX: set them from the new one. */
	if (SSL_set_SSL_CTX(ssl, ctx) != ctx) {
		*alert = SSL_AD_INTERNAL_ERROR;
		return -1;
	}
	SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx),
	    SSL_CTX_get_verify_callback(ctx));
	SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(ctx));
	return 0;
}

const struct site *
tls_site(const struct server *srv, SSL *ssl)
{
	const struct site *s = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl),
	    site_index);

	return s != NULL ? s : &srv->sites[srv->cf->dflt];
}

/* Does the ClientHello offer TLS 1.2?  With no supported_versions
 * extension the client is a TLS 1.2 (or older) one. */
static int
offers_tls12(SSL *ssl)
{
	const unsigned char *p;
	size_t len, i;

	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_supported_versions, &p,
	    &len) != 1)
		return 1;
	if (len < 1 || (size_t)p[0] + 1 > len)
		return 0;
	for (i = 1; i + 1 < (size_t)p[0] + 1; i += 2)
		if (p[i] == 0x03 && p[i + 1] == 0x03)
			return 1;
	return 0;
}

/* Will this ClientHello end in TLS 1.3?  The client offers it and this
 * connection allows it. */
static int
will_be_tls13(SSL *ssl)
{
	const unsigned char *p;
	size_t len, i;
	int max = SSL_get_max_proto_version(ssl);

	if ((max != 0 && max < TLS1_3_VERSION) ||
	    SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_supported_versions, &p,
	    &len) != 1 || len < 1 || (size_t)p[0] + 1 > len)
		return 0;
	for (i = 1; i + 1 < (size_t)p[0] + 1; i += 2)
		if (p[i] == 0x03 && p[i + 1] == 0x04)
			return 1;
	return 0;
}

/* The first identity of a pre_shared_key extension: u16 length of the
 * identities, then u16 length, identity, u32 obfuscated age. */
static int
psk_identity(SSL *ssl, const unsigned char **id, size_t *idlen)
{
	const unsigned char *p;
	size_t len, all, n;

	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_psk, &p, &len) != 1 ||
	    len < 4)
		return 0;
	all = (size_t)p[0] << 8 | p[1];
	n = (size_t)p[2] << 8 | p[3];
	if (all + 2 > len || n + 6 > all || n == 0)
		return 0;
	*id = p + 4;
	*idlen = n;
	return 1;
}

/* conn.c's, set by the worker: the unit tests link no conn.c */
static cache_ssl_wake_fn session_wake;

void
tls_set_session_wake(cache_ssl_wake_fn wake)
{
	session_wake = wake;
}

/* With a store on a server (Redis), the session the client offers is
 * fetched before OpenSSL looks for it, and the handshake waits for it as
 * for a socket: SSL_CLIENT_HELLO_RETRY, SSL_ERROR_WANT_CLIENT_HELLO_CB,
 * and conn.c runs the handshake again when the record is in.  The lookup
 * OpenSSL 3.0 then makes (ssl/ssl_sess.c, extensions_srvr.c): TLS 1.3
 * with stateful tickets (SSL_OP_NO_TICKET) asks the get-session callback
 * for the pre_shared_key identity, which is the session ID (32 bytes);
 * TLS 1.2 asks for the legacy session ID, unless tickets are on and a
 * non-empty session_ticket extension is there (a stateless resumption:
 * no lookup).  Called again after the retry, it answers at once. */
static int
session_prefetch(SSL *ssl)
{
	const unsigned char *id, *tick;
	size_t idlen, ticklen;

	if (session_wake == NULL || !cache_ssl_async(SSL_get_SSL_CTX(ssl)) ||
	    SSL_renegotiate_pending(ssl))
		return SSL_CLIENT_HELLO_SUCCESS;
	if (will_be_tls13(ssl)) {
		if (!psk_identity(ssl, &id, &idlen))
			return SSL_CLIENT_HELLO_SUCCESS;
	} else {
		if (!(SSL_get_options(ssl) & SSL_OP_NO_TICKET) &&
		    SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_session_ticket,
		    &tick, &ticklen) == 1 && ticklen > 0)
			return SSL_CLIENT_HELLO_SUCCESS;
		if ((idlen = SSL_client_hello_get0_session_id(ssl, &id)) == 0)
			return SSL_CLIENT_HELLO_SUCCESS;
	}
	return cache_ssl_prefetch(ssl, id, idlen, session_wake) ?
	    SSL_CLIENT_HELLO_SUCCESS : SSL_CLIENT_HELLO_RETRY;
}

/* Before OpenSSL picks the version or looks at the session offered: the
 * server the client names (sni_select).  Then, on a server where a
 * client will need a certificate later, a client that cannot be asked
 * for one under TLS 1.3 (no post_handshake_auth extension: every browser)
 * is held to TLS 1.2, where a renegotiation can ask.  The limit is set on
 * this connection only, so OpenSSL does not write the TLS 1.3 downgrade
 * sentinel (RFC 8446 4.1.3), which browsers would take for an attack.
 * Then, for a store on a server, the session offered is prefetched. */
static int
client_hello_cb(SSL *ssl, int *alert, void *arg)
{
	const struct server *srv = arg;
	const unsigned char *ext;
	size_t len;

	if (sni_select(ssl, srv, alert) != 0)
		return SSL_CLIENT_HELLO_ERROR;
	if (tls_site(srv, ssl)->hold_tls12 &&
	    SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_post_handshake_auth,
	    &ext, &len) != 1 && offers_tls12(ssl))
		SSL_set_max_proto_version(ssl, TLS1_2_VERSION);
	return session_prefetch(ssl);
}

/* Does any location ask for a client certificate after the handshake? */
static int
asks_later(const struct server_conf *sc)
{
	size_t i;

	if (sc->verify_client != VERIFY_NONE)
		return 0;       /* asked at the handshake already */
	for (i = 0; i < sc->nlocs; i++)
		if (auth_needs_cert(&sc->locs[i].acc))
			return 1;
	return 0;
}

int
tls_sni_setup(struct server *srv)
{
	const struct config *cf = srv->cf;
	size_t i;

	if (site_index < 0 && (site_index = SSL_CTX_get_ex_new_index(0, NULL,
	    NULL, NULL, NULL)) < 0)
		return -1;
	if (chosen_index < 0 && (chosen_index = SSL_get_ex_new_index(0, NULL,
	    NULL, NULL, NULL)) < 0)
		return -1;
	for (i = 0; i < srv->nsites; i++) {
		struct site *s = &srv->sites[i];
		s->hold_tls12 = asks_later(s->sc) &&
		    s->sc->tls13_without_pha == PHA_TLS12 &&
		    cf->proto_min <= TLS1_2_VERSION &&
		    cf->proto_max >= TLS1_3_VERSION;
		SSL_CTX_set_ex_data(s->ssl, site_index, s);
		/* on every server's: a renegotiation's ClientHello comes to
		 * the SSL_CTX the connection has moved to */
		SSL_CTX_set_client_hello_cb(s->ssl, client_hello_cb, srv);
	}
	return 0;
}

/* SID_CTX_PREFIX, then "/" and 16 hex digits of SHA-256(name). */
static int
set_sid_ctx(SSL_CTX *ctx, const struct server_conf *sc)
{
	unsigned char md[EVP_MAX_MD_SIZE], id[SSL_MAX_SID_CTX_LENGTH];
	unsigned int mdlen = 0, i;
	size_t n = sizeof SID_CTX_PREFIX - 1;

	memcpy(id, SID_CTX_PREFIX, n);
	if (sc->name != NULL) {
		if (EVP_Digest(sc->name, strlen(sc->name), md, &mdlen,
		    EVP_sha256(), NULL) != 1 || mdlen < 8)
			return -1;
		id[n++] = '/';
		for (i = 0; i < 8; i++) {
			id[n++] = "0123456789abcdef"[md[i] >> 4];
			id[n++] = "0123456789abcdef"[md[i] & 15];
		}
	}
	return SSL_CTX_set_session_id_context(ctx, id, (unsigned)n) == 1 ?
	    0 : -1;
}

/* -t: does each certificate of sc cover each of its names?  A warning,
 * not an error: a name may be served before its certificate is issued
 * (the ACME challenge comes first). */
void
tls_check_names(const struct server_conf *sc)
{
	char probe[300];
	const char *name;
	size_t i, k;
	X509 *x;
	FILE *f;

	if (sc->name == NULL)
		return;
	for (i = 0; i < sc->ncerts; i++) {
		if ((f = fopen(sc->certs[i], "re")) == NULL)
			continue;       /* said by tls_ctx_new */
		x = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
		if (x == NULL) {
			ERR_clear_error();
			continue;
		}
		for (k = 0; k <= sc->naliases; k++) {
			name = k == 0 ? sc->name : sc->aliases[k - 1];
			/* a wildcard name: is some name under it covered? */
			snprintf(probe, sizeof probe, "%s%s", name[0] == '*' ?
			    "cachet-probe" : "", name[0] == '*' ? name + 1 :
			    name);
			if (X509_check_host(x, probe, 0, 0, NULL) == 1)
				continue;
			log_warn("%s:%d: warning: server \"%s\": certificate "
			    "'%s' does not cover the name '%s'",
			    (k == 0 ? &sc->at : &sc->alias_at)->file,
			    (k == 0 ? &sc->at : &sc->alias_at)->line,
			    sc->name, sc->certs[i], name);
		}
		X509_free(x);
	}
}

SSL_CTX *
tls_ctx_new(const struct config *cf, const struct server_conf *sc,
    struct cache *cache, struct tickets *tickets, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	size_t i;

	if (ctx == NULL) {
		snprintf(err, errlen, "SSL_CTX_new: %s", tls_error_string());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, cf->proto_min);
	SSL_CTX_set_max_proto_version(ctx, cf->proto_max);
	/* OpenSSL 3 refuses client-initiated renegotiation unless
	 * SSL_OP_ALLOW_CLIENT_RENEGOTIATION is set: make sure it is not. */
	SSL_CTX_clear_options(ctx, SSL_OP_ALLOW_CLIENT_RENEGOTIATION |
	    SSL_OP_LEGACY_SERVER_CONNECT);
	/* A client that closes without close_notify (browsers do, between
	 * keep-alive requests) is a clean close in HTTP, whose requests are
	 * framed: taken as fatal, OpenSSL would drop the session from the
	 * cache when the SSL is freed, and the client's next visit would pay
	 * a full handshake.  nginx sets the same option. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	/* WANT_READ after a non-application record must come back to the
	 * state machine rather than block inside SSL_read. */
	SSL_CTX_clear_mode(ctx, SSL_MODE_AUTO_RETRY);

	if (SSL_CTX_set_cipher_list(ctx, cf->ciphers) != 1) {
		config_err(err, errlen, &cf->ciphers_at, "ciphers: no usable "
		    "cipher in '%s'", cf->ciphers);
		goto fail;
	}
	if (SSL_CTX_set_ciphersuites(ctx, cf->ciphersuites) != 1) {
		config_err(err, errlen, &cf->suites_at, "ciphersuites: no "
		    "usable suite in '%s'", cf->ciphersuites);
		goto fail;
	}
	if (SSL_CTX_set1_groups_list(ctx, cf->groups) != 1) {
		config_err(err, errlen, &cf->groups_at, "groups: no usable "
		    "group in '%s'", cf->groups);
		goto fail;
	}
	for (i = 0; i < sc->ncerts; i++)
		if (load_pair(ctx, sc, i, err, errlen) != 0)
			goto fail;

	/* DHE suites, when a cipher list names them, need parameters: the
	 * RFC 7919 groups sized to the certificate's key. */
	SSL_CTX_set_dh_auto(ctx, 1);
	if (set_sid_ctx(ctx, sc) != 0) {
		snprintf(err, errlen, "session ID context: %s",
		    tls_error_string());
		goto fail;
	}
	if (cache_ssl_setup(ctx, cache, cf->cache.timeout,
	    cf->session_tickets) != 0) {
		snprintf(err, errlen, "session cache set-up: %s",
		    tls_error_string());
		goto fail;
	}
	if (tickets_setup(ctx, tickets) != 0) {
		snprintf(err, errlen, "session tickets set-up: %s",
		    tls_error_string());
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

const char *const hs_fail_name[HF_COUNT] = {
	[HF_TIMEOUT] = "timeout", [HF_CLOSED] = "closed",
	[HF_NOT_TLS] = "not TLS", [HF_PROTOCOL] = "protocol version",
	[HF_CIPHER] = "no common cipher", [HF_ALERT] = "client alert",
	[HF_OTHER] = "other",
};

/* Sort a failed handshake into one of the status page's reasons. */
enum hs_fail
tls_fail_reason(SSL *ssl, int ret, const char **detail)
{
	unsigned long e = ERR_peek_last_error();
	int err = SSL_get_error(ssl, ret);

	*detail = e != 0 ? ERR_reason_error_string(e) : NULL;
	if (e == 0)
		return err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN ?
		    HF_CLOSED : HF_OTHER;
	if (ERR_GET_LIB(e) != ERR_LIB_SSL)
		return HF_OTHER;
	switch (ERR_GET_REASON(e)) {
	case SSL_R_UNEXPECTED_EOF_WHILE_READING:
		return HF_CLOSED;
	case SSL_R_HTTP_REQUEST:
	case SSL_R_HTTPS_PROXY_REQUEST:
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_UNKNOWN_PROTOCOL:
	case SSL_R_PACKET_LENGTH_TOO_LONG:
	case SSL_R_RECORD_LENGTH_MISMATCH:
		return HF_NOT_TLS;
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_VERSION_TOO_LOW:
	case SSL_R_VERSION_TOO_HIGH:
		return HF_PROTOCOL;
	case SSL_R_NO_SHARED_CIPHER:
	case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
	case SSL_R_NO_SHARED_GROUPS:
	case SSL_R_NO_SUITABLE_KEY_SHARE:
		return HF_CIPHER;
	default:
		return ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET ? HF_ALERT :
		    HF_OTHER;
	}
}
