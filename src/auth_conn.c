/*
 * auth_conn.c - asking a connection for a client certificate when a
 * request needs one: TLS 1.2 renegotiation or TLS 1.3 post-handshake
 * authentication, started here and driven to its end by conn.c's CS_AUTH
 * state; then the policy check again (auth.c) and the 403 that says why.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "conn.h"

#define MAX_AUTH_ROUNDS 3       /* server-initiated handshakes per connection */

/* One word for the access log. */
static const char *const verify_token[] = {
	[AUTH_OK] = "ok", [AUTH_NO_CERT] = "-", [AUTH_UNTRUSTED] = "untrusted",
	[AUTH_REVOKED] = "revoked", [AUTH_EXPIRED] = "expired",
	[AUTH_NOT_LISTED] = "not-listed",
};

/* Did this connection's own full handshake verify the peer's chain,
 * with no error, against p's store?  Only the server's policy has the
 * handshake's store (auth_build gives it to the SSL_CTX), and only until
 * a location's certificate request puts its own (auth_rounds).  A resumed
 * session's result is its first handshake's: verified again. */
static int
handshake_verified(struct conn *c, const struct auth_policy *p)
{
	return p == serve_site(c)->sc->policy && c->auth_rounds == 0 &&
	    !SSL_session_reused(c->ssl) &&
	    SSL_get_verify_result(c->ssl) == X509_V_OK;
}

/* A certificate from the initial handshake (verify-client optional) that
 * no location checked: record it under the server's policy. */
void
auth_identity(struct conn *c)
{
	const struct server_conf *sc = serve_site(c)->sc;
	const struct auth_policy *p = sc->policy;

	if (c->verify_res != NULL || SSL_get0_peer_certificate(c->ssl) == NULL)
		return;
	if (sc->client_ca != NULL)
		c->verify_res = verify_token[auth_check(p, c->ssl,
		    handshake_verified(c, p), c->subject, sizeof c->subject)];
	else
		dn_string(X509_get_subject_name(SSL_get0_peer_certificate(c->ssl)),
		    c->subject, sizeof c->subject);
}

/* What the 403 page says, per reason (no client-supplied text in it). */
static const char *const refusal_text[] = {
	[AUTH_OK] = NULL,
	[AUTH_NO_CERT] = "This page needs a client certificate, and none was "
	    "given.",
	[AUTH_UNTRUSTED] = "The client certificate given was not issued by an "
	    "authority this site trusts.",
	[AUTH_REVOKED] = "The client certificate given has been revoked.",
	[AUTH_EXPIRED] = "The client certificate given has expired or is not "
	    "valid yet.",
	[AUTH_NOT_LISTED] = "The client certificate given is valid, but it is "
	    "not on the list of those allowed to see this page.",
};

static const char pha_missing[] =
    "This page needs a client certificate, and this connection cannot ask "
    "your browser or program for one: it uses TLS 1.3 without "
    "post-handshake authentication, which no browser offers. The site's "
    "administrator can let such clients in through TLS 1.2 (directive "
    "tls13-without-pha = tls1.2). Programs such as curl, openssl s_client "
    "-enable_pha or Python with post_handshake_auth = True are asked for a "
    "certificate over TLS 1.3 as they are.";

static void
auth_refused(struct conn *c, const char *path, const char *why,
    const char *detail)
{
	log_notice("%s: 403 for %s: %s%s%s%s", c->peer, path, why,
	    c->subject[0] ? " (" : "", c->subject, c->subject[0] ? ")" : "");
	serve_error(c, 403, NULL, detail);
}

/* Start a renegotiation (TLS 1.2) or post-handshake authentication (TLS
 * 1.3) under policy p.  Returns 0 when started, -1 when it cannot be. */
static int
start_auth(struct conn *c, const struct auth_policy *p, const char *path)
{
	int tls13 = SSL_version(c->ssl) >= TLS1_3_VERSION;

	if (c->auth_rounds >= MAX_AUTH_ROUNDS) {
		auth_refused(c, path, "too many certificate requests on this "
		    "connection", NULL);
		return -1;
	}
	/* RFC 5746 binds the new handshake to this connection; requests
	 * the client sent before it are not answered under the new
	 * identity (CVE-2009-3555): drop them and close after this one. */
	if (c->inlen > c->headlen) {
		c->inlen = c->headlen;
		c->close_after = 1;
		c->keepalive = 0;
	}
	auth_prepare(p, c->ssl);
	if (tls13) {
		if (SSL_verify_client_post_handshake(c->ssl) != 1) {
			const struct config *cf = c->w->srv->cf;
			ERR_clear_error();
			auth_refused(c, path, cf->proto_min > TLS1_2_VERSION ?
			    "client did not offer TLS 1.3 post-handshake "
			    "authentication (protocols allows TLS 1.3 only, "
			    "so browsers cannot be asked)" :
			    serve_site(c)->sc->tls13_without_pha ==
			    PHA_REFUSE ? "client did "
			    "not offer TLS 1.3 post-handshake authentication "
			    "(tls13-without-pha = refuse; tls1.2 would let "
			    "browsers in through renegotiation)" : "client did "
			    "not offer TLS 1.3 post-handshake authentication, "
			    "nor TLS 1.2", pha_missing);
			return -1;
		}
		c->auth = AK_PHA;
		c->w->st->pha++;
	} else {
		if (!SSL_get_secure_renegotiation_support(c->ssl)) {
			auth_refused(c, path, "client lacks secure "
			    "renegotiation (RFC 5746)", NULL);
			return -1;
		}
		/* A full handshake that asks for a certificate, not a
		 * resumption of the current session; the session ID
		 * context stays, so the new session (with the certificate)
		 * resumes later without asking again. */
		SSL_set_options(c->ssl,
		    SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
		if (SSL_renegotiate(c->ssl) != 1) {
			ERR_clear_error();
			auth_refused(c, path, "renegotiation refused by OpenSSL",
			    NULL);
			return -1;
		}
		c->auth = AK_RENEG;
		c->w->st->renegotiations++;
	}
	log_notice("%s: %s for %s", c->peer, c->auth == AK_PHA ?
	    "post-handshake authentication" : "renegotiation", path);
	c->auth_rounds++;
	c->asked = 1;
	c->auth_sent = 0;
	c->auth_done = 0;
	c->auth_discarded = 0;
	c->state = CS_AUTH;
	conn_deadline(c, c->w->srv->cf->handshake_timeout);
	return 0;
}

/* verify-client = require at the server: the handshake refused clients
 * without a good certificate, but a resumed session brings the one it
 * was made with, unchecked by OpenSSL (perhaps revoked since, or expired,
 * or none at all when the session was made before a reload that asked
 * for one; TLS 1.3 tickets chain without end).  So it is checked again
 * under the server's current policy, once per connection, before any
 * location.  1: go on; 0: refused (403). */
int
auth_server(struct conn *c, const char *raw)
{
	const struct server_conf *sc = serve_site(c)->sc;
	char path[HTTP_MAX_LINE];
	enum auth_result r;

	if (sc->verify_client != VERIFY_REQUIRE || c->server_ok == sc->policy)
		return 1;
	r = auth_check(sc->policy, c->ssl, handshake_verified(c, sc->policy),
	    c->subject, sizeof c->subject);
	c->verify_res = verify_token[r];
	if (r == AUTH_OK) {
		c->server_ok = sc->policy;
		return 1;
	}
	if (path_encode(raw, path, sizeof path) == 0)
		snprintf(path, sizeof path, "(a long path)");
	auth_refused(c, path, auth_result_name(r), refusal_text[r]);
	return 0;
}

/* May this connection see loc?  1: yes, serve.  0: an answer is on its
 * way (a certificate request was started, or 403). */
int
auth_request(struct conn *c, const struct location *loc, const char *raw)
{
	char path[HTTP_MAX_LINE];       /* for the log: no control bytes */
	const struct auth_policy *p = loc->policy;
	enum auth_result r;

	if (c->verified == p)
		return 1;       /* this connection passed it already */
	if (path_encode(raw, path, sizeof path) == 0)
		snprintf(path, sizeof path, "(a long path)");
	r = auth_check(p, c->ssl, handshake_verified(c, p), c->subject,
	    sizeof c->subject);
	c->verify_res = verify_token[r];
	if (r == AUTH_OK) {
		c->verified = p;
		return 1;
	}
	/* Ask (again) once per request: no certificate yet, or one that
	 * does not satisfy this location. */
	if (!c->asked) {
		if (start_auth(c, p, path) == 0)
			return 0;
		return 0;       /* refused inside */
	}
	if (r == AUTH_NO_CERT && loc->acc.verify == VERIFY_OPTIONAL &&
	    loc->acc.nallow_subject == 0 && loc->acc.nallow_issuer == 0 &&
	    loc->acc.ndeny_subject == 0) {
		c->verified = p;        /* asked; none given; that is fine */
		return 1;
	}
	auth_refused(c, path, auth_result_name(r), refusal_text[r]);
	return 0;
}

/* conn.c's CS_AUTH step: drive the renegotiation / PHA to its end, then
 * answer the request (its policy is checked again).  Returns as a step
 * does: 1 go on, 0 wait, -1 freed. */
int
auth_step(struct conn *c)
{
	char scratch[4096];
	int r;

	if (!c->auth_sent) {
		r = SSL_do_handshake(c->ssl);
		if (r <= 0) {
			if (conn_ssl_wait(c, r) == 1)
				return 0;
			conn_close(c, "certificate request failed");
			return -1;
		}
		c->auth_sent = 1;
	}
	for (;;) {
		int done = c->auth == AK_PHA ? c->auth_done :
		    !SSL_renegotiate_pending(c->ssl);
		if (done) {
			c->auth = AK_NONE;
			serve_request(c);     /* checks the policy again */
			return 1;
		}
		r = SSL_read(c->ssl, scratch, sizeof scratch);
		if (r > 0) {
			/* Application data inside the new handshake: sent
			 * before the client knew of it.  Not served here,
			 * and bounded, so a flood cannot hold the worker. */
			c->close_after = 1;
			c->keepalive = 0;
			c->auth_discarded += (size_t)r;
			if (c->auth_discarded > HTTP_MAX_BODY) {
				conn_close(c, "too much data during a client "
				    "certificate request");
				return -1;
			}
			continue;
		}
		switch (conn_ssl_wait(c, r)) {
		case 1:
			/* The read may have finished the handshake. */
			if (c->auth == AK_PHA ? c->auth_done :
			    !SSL_renegotiate_pending(c->ssl))
				continue;
			return 0;
		default:
			conn_close(c, "client certificate request failed");
			return -1;
		}
	}
}
