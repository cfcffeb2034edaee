/*
 * tls.c - the server SSL_CTX, built once by the master from the config and
 * inherited by every worker.  Everything TLS-wide is set here, in one place:
 * protocol range, cipher lists, certificate/key pairs, renegotiation policy,
 * buffer modes and the session cache hooks.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>

#include "cachetd.h"

/* Fixed context: sessions made by another program never resume here. */
static const unsigned char sid_ctx[] = "cachetd/1";

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
load_pair(SSL_CTX *ctx, const struct config *cf, size_t i, char *err,
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

/* Before OpenSSL picks the version: a client that will need a certificate
 * later but cannot be asked for one under TLS 1.3 (no post_handshake_auth
 * extension: every browser) is held to TLS 1.2, where a renegotiation can
 * ask.  The limit is set on this connection only, so OpenSSL does not
 * write the TLS 1.3 downgrade sentinel (RFC 8446 4.1.3), which browsers
 * would take for an attack. */
static int
client_hello_cb(SSL *ssl, int *alert, void *arg)
{
	const unsigned char *ext;
	size_t len;

	(void)alert;
	(void)arg;
	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_post_handshake_auth,
	    &ext, &len) == 1 || !offers_tls12(ssl))
		return SSL_CLIENT_HELLO_SUCCESS;
	SSL_set_max_proto_version(ssl, TLS1_2_VERSION);
	return SSL_CLIENT_HELLO_SUCCESS;
}

/* Does any location ask for a client certificate after the handshake? */
static int
asks_later(const struct config *cf)
{
	size_t i;

	if (cf->verify_client != VERIFY_NONE)
		return 0;       /* asked at the handshake already */
	for (i = 0; i < cf->nlocs; i++)
		if (auth_needs_cert(&cf->locs[i].acc))
			return 1;
	return 0;
}

SSL_CTX *
tls_ctx_new(const struct config *cf, struct cache *cache,
    struct tickets *tickets, char *err, size_t errlen)
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
	for (i = 0; i < cf->ncerts; i++)
		if (load_pair(ctx, cf, i, err, errlen) != 0)
			goto fail;

	/* DHE suites, when a cipher list names them, need parameters: the
	 * RFC 7919 groups sized to the certificate's key. */
	SSL_CTX_set_dh_auto(ctx, 1);
	if (asks_later(cf) && cf->tls13_without_pha == PHA_TLS12 &&
	    cf->proto_min <= TLS1_2_VERSION && cf->proto_max >= TLS1_3_VERSION)
		SSL_CTX_set_client_hello_cb(ctx, client_hello_cb, NULL);
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
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
