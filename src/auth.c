/*
 * auth.c - client-certificate policy: who may see a location.
 *
 * The master builds, for each server (server "name" { ... }, or the one
 * implicit server), one policy per location and one for the server's
 * initial handshake: a trust store from client-ca (with client-crl when
 * set) and the access lists.  At a request, auth_check() decides from the
 * certificate the connection holds - whether it came with this handshake,
 * with a resumed session, or from a renegotiation / post-handshake
 * authentication just done - checking trust, revocation, validity and the
 * lists afresh.  A resumed session is never trusted because of where it
 * came from: its certificate is checked like a new one.
 *
 * The handshake itself accepts any certificate (the verify callback
 * records, the policy decides), so that a failure is a 403 with a reason
 * and a log line, not a bare alert.  Only verify-client = require at the
 * server level refuses at the handshake; a resumed session skips that
 * check, so the server's policy is checked again at the connection's
 * first request (auth_server).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "cachetd.h"

struct auth_policy {
	const struct access *acc;
	X509_STORE          *store;
	STACK_OF(X509_NAME) *ca_names;  /* sent in the CertificateRequest */
};

static const char *const result_names[] = {
	[AUTH_OK] = "ok",
	[AUTH_NO_CERT] = "no certificate",
	[AUTH_UNTRUSTED] = "untrusted",
	[AUTH_REVOKED] = "revoked",
	[AUTH_EXPIRED] = "expired",
	[AUTH_NOT_LISTED] = "not on the list",
};

const char *
auth_result_name(enum auth_result r)
{
	return result_names[r];
}

/* Exact match, or a prefix match when the pattern ends in '*'. */
int
auth_dn_match(const char *pattern, const char *dn)
{
	size_t pl = strlen(pattern);

	if (pl > 0 && pattern[pl - 1] == '*')
		return strncmp(pattern, dn, pl - 1) == 0;
	return strcmp(pattern, dn) == 0;
}

static int
any_match(char *const *pats, size_t n, const char *dn)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (auth_dn_match(pats[i], dn))
			return 1;
	return 0;
}

int
auth_needs_cert(const struct access *a)
{
	return a->verify != VERIFY_NONE || a->nallow_subject > 0 ||
	    a->nallow_issuer > 0 || a->ndeny_subject > 0;
}

enum auth_result
auth_lists(const struct access *a, const char *subject, const char *issuer)
{
	if (any_match(a->deny_subject, a->ndeny_subject, subject))
		return AUTH_NOT_LISTED;
	if (a->nallow_subject > 0 &&
	    !any_match(a->allow_subject, a->nallow_subject, subject))
		return AUTH_NOT_LISTED;
	if (a->nallow_issuer > 0 &&
	    !any_match(a->allow_issuer, a->nallow_issuer, issuer))
		return AUTH_NOT_LISTED;
	return AUTH_OK;
}

enum auth_result
auth_check(const struct auth_policy *p, SSL *ssl, int chain_verified,
    char *subject, size_t sublen)
{
	X509 *leaf = SSL_get0_peer_certificate(ssl);
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	X509_STORE_CTX *x;
	char issuer[512];
	int ok, err;

	subject[0] = '\0';
	if (leaf == NULL)
		return AUTH_NO_CERT;
	dn_string(X509_get_subject_name(leaf), subject, sublen);
	dn_string(X509_get_issuer_name(leaf), issuer, sizeof issuer);
	if (chain_verified)
		return auth_lists(p->acc, subject, issuer);
	if ((x = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(x, p->store, leaf, chain) != 1) {
		X509_STORE_CTX_free(x);
		return AUTH_UNTRUSTED;
	}
	X509_STORE_CTX_set_purpose(x, X509_PURPOSE_SSL_CLIENT);
	ok = X509_verify_cert(x);
	err = X509_STORE_CTX_get_error(x);
	X509_STORE_CTX_free(x);
	ERR_clear_error();
	if (ok != 1) {
		switch (err) {
		case X509_V_ERR_CERT_REVOKED:
			return AUTH_REVOKED;
		case X509_V_ERR_CERT_HAS_EXPIRED:
		case X509_V_ERR_CERT_NOT_YET_VALID:
			return AUTH_EXPIRED;
		default:
			return AUTH_UNTRUSTED;
		}
	}
	return auth_lists(p->acc, subject, issuer);
}

/* ------------------------------------------------------- building */

/* The trust store of one policy: its CA, the server's CRL.  Errors name
 * the directive at fault (ca_at for the CA, the CRL's own line). */
static X509_STORE *
make_store(const char *ca, const struct conf_at *ca_at,
    const struct server_conf *sc, char *err, size_t errlen)
{
	X509_STORE *st;
	X509_VERIFY_PARAM *vp;
	const char *crl = sc->client_crl;

	/* A file that is not there is said so, not as OpenSSL's "system
	 * lib" error. */
	if (access(ca, R_OK) != 0) {
		config_err(err, errlen, ca_at, "client-ca '%s': %s", ca,
		    strerror(errno));
		return NULL;
	}
	if (crl != NULL && access(crl, R_OK) != 0) {
		config_err(err, errlen, &sc->crl_at, "client-crl '%s': %s", crl,
		    strerror(errno));
		return NULL;
	}
	if ((st = X509_STORE_new()) == NULL) {
		config_err(err, errlen, ca_at, "client-ca '%s': out of memory",
		    ca);
		return NULL;
	}
	if (X509_STORE_load_file(st, ca) != 1) {
		config_err(err, errlen, ca_at, "client-ca '%s': %s", ca,
		    tls_error_string());
		X509_STORE_free(st);
		return NULL;
	}
	if (crl != NULL) {
		X509_LOOKUP *lu = X509_STORE_add_lookup(st, X509_LOOKUP_file());
		if (lu == NULL || X509_load_crl_file(lu, crl, X509_FILETYPE_PEM)
		    <= 0) {
			config_err(err, errlen, &sc->crl_at, "client-crl '%s': "
			    "%s", crl, tls_error_string());
			X509_STORE_free(st);
			return NULL;
		}
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	}
	vp = X509_STORE_get0_param(st);
	X509_VERIFY_PARAM_set_depth(vp, (int)sc->verify_depth);
	return st;
}

static int
policy_init(struct auth_policy *p, const struct access *acc, const char *ca,
    const struct conf_at *ca_at, const struct server_conf *sc, char *err,
    size_t errlen)
{
	p->acc = acc;
	if (ca == NULL)
		return 0;
	if ((p->store = make_store(ca, ca_at, sc, err, errlen)) == NULL)
		return -1;
	p->ca_names = SSL_load_client_CA_file(ca);
	ERR_clear_error();
	return 0;
}

static int
verify_accept(int preverify_ok, X509_STORE_CTX *x)
{
	(void)preverify_ok;
	(void)x;
	return 1;       /* the policy decides, at the request */
}

/* OpenSSL's own verdict.  A callback of its own, not NULL: the SNI
 * callback copies the chosen server's callback to the connection with
 * SSL_set_verify(), which keeps the previous one when given NULL, so a
 * connection begun on an optional default server would keep accepting
 * every certificate at a require server's handshake. */
static int
verify_strict(int preverify_ok, X509_STORE_CTX *x)
{
	(void)x;
	return preverify_ok;
}

/* The server's own policy is index 0, then one per location. */
struct auth_policy *
auth_build(struct server_conf *sc, SSL_CTX *ctx, char *err, size_t errlen)
{
	static const struct access server_access = { .verify = VERIFY_NONE };
	struct auth_policy *v = xcalloc(sc->nlocs + 1, sizeof *v);
	struct access *sa = xcalloc(1, sizeof *sa);
	size_t i;

	*sa = server_access;
	sa->verify = sc->verify_client;
	if (policy_init(&v[0], sa, sc->client_ca, &sc->ca_at, sc, err,
	    errlen) != 0)
		goto fail;
	for (i = 0; i < sc->nlocs; i++) {
		const struct location *l = &sc->locs[i];
		if (!auth_needs_cert(&l->acc)) {
			v[i + 1].acc = &l->acc;
			continue;
		}
		if (policy_init(&v[i + 1], &l->acc, l->acc.client_ca ?
		    l->acc.client_ca : sc->client_ca, l->acc.client_ca ?
		    &l->at : &sc->ca_at, sc, err, errlen) != 0)
			goto fail;
	}

	/* The initial handshake. */
	if (v[0].store != NULL) {
		SSL_CTX_set1_verify_cert_store(ctx, v[0].store);
		if (v[0].ca_names != NULL)
			SSL_CTX_set_client_CA_list(ctx,
			    SSL_dup_CA_list(v[0].ca_names));
		SSL_CTX_set_verify_depth(ctx, (int)sc->verify_depth);
	}
	switch (sc->verify_client) {
	case VERIFY_REQUIRE:
		/* Refused at the handshake: no certificate, or a bad one. */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
		    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_strict);
		break;
	case VERIFY_OPTIONAL:
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_accept);
		break;
	default:
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		break;
	}
	sc->policy = &v[0];
	for (i = 0; i < sc->nlocs; i++)
		sc->locs[i].policy = &v[i + 1];
	return v;
fail:
	auth_free(v, sc->nlocs);
	return NULL;
}

void
auth_free(struct auth_policy *v, size_t nlocs)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i <= nlocs; i++) {
		X509_STORE_free(v[i].store);
		sk_X509_NAME_pop_free(v[i].ca_names, X509_NAME_free);
	}
	free((void *)v[0].acc);
	free(v);
}

const struct access *
auth_access(const struct auth_policy *p)
{
	return p->acc;
}

/* Ready ssl to ask for a certificate under policy p: verify mode, the CA
 * names to offer, and the store the handshake verifies against. */
void
auth_prepare(const struct auth_policy *p, SSL *ssl)
{
	SSL_set_verify(ssl, SSL_VERIFY_PEER, verify_accept);
	if (p->ca_names != NULL)
		SSL_set_client_CA_list(ssl, SSL_dup_CA_list(p->ca_names));
	if (p->store != NULL)
		SSL_set1_verify_cert_store(ssl, p->store);
}
