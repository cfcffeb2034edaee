/*
 * conn.c - one client connection: a small state machine driven by socket
 * readiness and one timer.
 *
 *   HANDSHAKE -> READ -> [BODY] -> WRITE -> READ (keep-alive) ...
 *                                        -> SHUTDOWN -> LINGER -> closed
 *
 * conn_run() advances the connection as far as it can without blocking.
 * Every SSL_* result goes through SSL_get_error(); WANT_READ/WANT_WRITE
 * only change which readiness the connection waits for, whatever the
 * state (a TLS write can need a read and the other way round).  READ always
 * asks SSL_read() before waiting, so bytes OpenSSL already decrypted
 * (SSL_pending) are used at once, and pipelined requests already in our
 * buffer are parsed without touching the socket.  Every state has a
 * deadline, so a silent client costs a slot, never the worker's time.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ev.h>
#include <openssl/err.h>

#include "cachetd.h"

enum cstate {
	CS_HANDSHAKE,
	CS_READ,        /* waiting for (the rest of) a request head */
	CS_BODY,        /* reading and discarding a request body */
	CS_AUTH,        /* asking for a client certificate mid-connection */
	CS_WRITE,       /* sending the response */
	CS_SHUTDOWN,    /* sending close_notify */
	CS_LINGER,      /* draining the socket before close */
};

#define IN_SIZE   (HTTP_MAX_HEADER + 4096)
#define OUT_SIZE  16384
#define LINGER_TIME 2.0
#define MAX_AUTH_ROUNDS 3       /* server-initiated handshakes per connection */
#define MAX_KEY_UPDATES 32      /* TLS 1.3 KeyUpdates accepted per connection */

enum auth_kind { AK_NONE = 0, AK_RENEG, AK_PHA };

struct conn {
	struct conn        *next, *prev;
	struct worker      *w;
	int                 fd;
	SSL                *ssl;
	ev_io               io;
	ev_timer            tm;
	enum cstate         state;
	int                 waiting;       /* EV_READ or EV_WRITE */
	char                peer[INET6_ADDRSTRLEN];

	struct conn        *idle_next, *idle_prev; /* w->idle queue */
	int                 idle;          /* on it */

	/* request: in and out are one block, allocated while a request is
	 * under way and freed while the connection waits idle */
	char               *in;
	size_t              inlen;
	size_t              headlen;       /* head of the current request */
	long long           body_left;
	struct http_request req;
	int                 have_req;
	unsigned            nreq;          /* requests answered */

	/* client certificate */
	enum auth_kind      auth;          /* a renegotiation / PHA running */
	int                 auth_sent;     /* HelloRequest/CertRequest out */
	int                 auth_done;     /* PHA: client Finished seen */
	int                 asked;         /* asked during this request */
	unsigned            auth_rounds;
	unsigned            key_updates;   /* KeyUpdate messages received */
	int                 close_after;   /* requests were dropped: close */
	const struct auth_policy *verified; /* policy the peer satisfied */
	char                subject[256];
	const char         *verify_res;    /* for the access log */

	/* response */
	char               *out;
	size_t              outlen, outoff;
	int                 filefd;
	off_t               file_left;
	int                 status;
	int                 keepalive;
	long long           body_bytes;
};

static void conn_run(struct conn *);
static void conn_free(struct conn *);

/* PHA has no "pending" flag: the client's Finished is the end of it.
 * KeyUpdates are counted here too: OpenSSL accepts any number, each
 * costing a key derivation, so conn_run() caps them per connection as
 * renegotiations are capped. */
static void
info_cb(const SSL *ssl, int where, int ret)
{
	struct conn *c = SSL_get_app_data(ssl);

	(void)ret;
	if (c == NULL || !(where & SSL_CB_LOOP))
		return;
	switch (SSL_get_state(ssl)) {
	case TLS_ST_SR_FINISHED:
		if (c->auth == AK_PHA)
			c->auth_done = 1;
		break;
	case TLS_ST_SR_KEY_UPDATE:
		c->key_updates++;
		break;
	default:
		break;
	}
}

const char *const hs_fail_name[HF_COUNT] = {
	[HF_TIMEOUT] = "timeout", [HF_CLOSED] = "closed",
	[HF_NOT_TLS] = "not TLS", [HF_PROTOCOL] = "protocol version",
	[HF_CIPHER] = "no common cipher", [HF_ALERT] = "client alert",
	[HF_OTHER] = "other",
};

/* Sort a failed handshake into one of the status page's reasons. */
static enum hs_fail
hs_fail_reason(struct conn *c, int ret, const char **detail)
{
	unsigned long e = ERR_peek_last_error();
	int err = SSL_get_error(c->ssl, ret);

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

static void
hs_failed(struct conn *c, enum hs_fail why, const char *detail)
{
	c->w->st->hs_failed[why]++;
	log_debug("%s: handshake failed: %s%s%s", c->peer, hs_fail_name[why],
	    detail != NULL ? ": " : "", detail != NULL ? detail : "");
}

/* ------------------------------------------------------------ waiting */

static void
wait_for(struct conn *c, int events)
{
	if (c->waiting == events && ev_is_active(&c->io))
		return;
	ev_io_stop(c->w->loop, &c->io);
	ev_io_set(&c->io, c->fd, events);
	ev_io_start(c->w->loop, &c->io);
	c->waiting = events;
}

static void
set_deadline(struct conn *c, double secs)
{
	ev_timer_stop(c->w->loop, &c->tm);
	ev_timer_set(&c->tm, secs, 0.);
	ev_timer_start(c->w->loop, &c->tm);
}

/* Map an SSL result to a wait.  Returns 1 when the caller should return
 * to the loop, 0 for a clean close by the peer, -1 for an error. */
static int
ssl_wait(struct conn *c, int ret)
{
	switch (SSL_get_error(c->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		wait_for(c, EV_READ);
		return 1;
	case SSL_ERROR_WANT_WRITE:
		wait_for(c, EV_WRITE);
		return 1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		return -1;
	}
}

/* ------------------------------------------------- buffers, idle queue */

static int
conn_buffers(struct conn *c)
{
	if ((c->in = malloc(IN_SIZE + OUT_SIZE)) == NULL)
		return -1;
	c->out = c->in + IN_SIZE;
	return 0;
}

/* A connection between requests (or before its first) holds no request
 * buffer and none of OpenSSL's: an idle connection costs its struct and
 * the SSL object, as in nginx. */
static void
conn_release_buffers(struct conn *c)
{
	free(c->in);
	c->in = c->out = NULL;
	c->outlen = c->outoff = 0;
	SSL_free_buffers(c->ssl);
}

/* The idle queue, oldest first: connections waiting for a request with
 * nothing buffered.  At worker-connections the oldest are closed to make
 * room for new clients (conn_drain_idle), as nginx reuses keep-alive
 * connections. */
static void
idle_enter(struct conn *c)
{
	struct worker *w = c->w;

	if (c->idle)
		return;
	c->idle = 1;
	c->idle_next = NULL;
	c->idle_prev = w->idle_tail;
	if (w->idle_tail != NULL)
		w->idle_tail->idle_next = c;
	else
		w->idle_head = c;
	w->idle_tail = c;
}

static void
idle_leave(struct conn *c)
{
	struct worker *w = c->w;

	if (!c->idle)
		return;
	c->idle = 0;
	if (c->idle_prev != NULL)
		c->idle_prev->idle_next = c->idle_next;
	else
		w->idle_head = c->idle_next;
	if (c->idle_next != NULL)
		c->idle_next->idle_prev = c->idle_prev;
	else
		w->idle_tail = c->idle_prev;
	c->idle_next = c->idle_prev = NULL;
}

/* ------------------------------------------------------------ closing */

static void
close_hard(struct conn *c, const char *why)
{
	if (why != NULL)
		log_info("%s: closing: %s", c->peer, why);
	conn_free(c);
}

static void
begin_shutdown(struct conn *c)
{
	c->state = CS_SHUTDOWN;
	set_deadline(c, LINGER_TIME);
}

/* ----------------------------------------------------------- responses */

static const char *
date_now(void)
{
	static char buf[64];
	static time_t last;
	time_t now = time(NULL);

	if (now != last) {
		http_date(buf, sizeof buf, now);
		last = now;
	}
	return buf;
}

/* Copy s into the log line with quotes and control bytes escaped. */
static size_t
log_escape(char *out, size_t cap, const char *s)
{
	size_t o = 0;

	if (s == NULL || *s == '\0')
		s = "-";
	for (; *s != '\0' && o + 5 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
		else
			out[o++] = (char)ch;
	}
	out[o] = '\0';
	return o;
}

/* One word for the access log. */
static const char *const verify_token[] = {
	[AUTH_OK] = "ok", [AUTH_NO_CERT] = "-", [AUTH_UNTRUSTED] = "untrusted",
	[AUTH_REVOKED] = "revoked", [AUTH_EXPIRED] = "expired",
	[AUTH_NOT_LISTED] = "not-listed",
};

/* A certificate from the initial handshake (verify-client optional) that
 * no location checked: record it under the server's policy. */
static void
peer_identity(struct conn *c)
{
	const struct auth_policy *p = auth_policy_for(c->w->srv, NULL);

	if (c->verify_res != NULL || SSL_get0_peer_certificate(c->ssl) == NULL)
		return;
	if (c->w->srv->cf->client_ca != NULL)
		c->verify_res = verify_token[auth_check(p, c->ssl, c->subject,
		    sizeof c->subject)];
	else
		auth_dn(X509_get_subject_name(SSL_get0_peer_certificate(c->ssl)),
		    c->subject, sizeof c->subject);
}

static void
access_log(struct conn *c)
{
	char line[4096], rl[1100], ref[600], ua[600], tbuf[64], bytes[24];
	char subj[1100];
	struct tm tm;
	time_t now = time(NULL);
	int n;

	if (c->w->srv->access_fd < 0)
		return;
	gmtime_r(&now, &tm);
	strftime(tbuf, sizeof tbuf, "%d/%b/%Y:%H:%M:%S +0000", &tm);
	log_escape(rl, sizeof rl, c->have_req ? c->req.request_line : NULL);
	log_escape(ref, sizeof ref, c->have_req ? c->req.referer : NULL);
	log_escape(ua, sizeof ua, c->have_req ? c->req.user_agent : NULL);
	if (c->body_bytes > 0)
		snprintf(bytes, sizeof bytes, "%lld", c->body_bytes);
	else
		strcpy(bytes, "-");
	peer_identity(c);
	log_escape(subj, sizeof subj, c->subject);
	n = snprintf(line, sizeof line, "%s - - [%s] \"%s\" %d %s \"%s\" "
	    "\"%s\" %s %s \"%s\" %s %c %ld\n", c->peer, tbuf, rl, c->status,
	    bytes, ref, ua, SSL_get_version(c->ssl),
	    SSL_get_cipher_name(c->ssl), subj,
	    c->verify_res ? c->verify_res : "-",
	    SSL_session_reused(c->ssl) ? 'r' : '.', (long)getpid());
	if (n > 0)
		access_log_write(c->w->srv->access_fd, line,
		    (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* Put the status line and common headers into out.  extra is a block of
 * complete header lines (or NULL). */
static void
start_response(struct conn *c, int status, const char *type,
    long long length, const char *extra)
{
	int n;

	c->status = status;
	n = snprintf(c->out, OUT_SIZE,
	    "HTTP/1.1 %d %s\r\n"
	    "Server: %s\r\n"
	    "Date: %s\r\n"
	    "%s%s%s"
	    "Content-Length: %lld\r\n"
	    "%s"
	    "Connection: %s\r\n\r\n",
	    status, http_reason(status), CACHETD_NAME, date_now(),
	    type ? "Content-Type: " : "", type ? type : "", type ? "\r\n" : "",
	    length, extra ? extra : "", c->keepalive ? "keep-alive" : "close");
	c->outlen = n > 0 && (size_t)n < OUT_SIZE ? (size_t)n : 0;
	c->outoff = 0;
	c->state = CS_WRITE;
	set_deadline(c, c->w->srv->cf->send_timeout);
}

/* A short HTML error page.  Errors before a request was understood close
 * the connection: its framing cannot be trusted. */
static void
error_response(struct conn *c, int status, const char *extra_hdr,
    const char *detail)
{
	char body[512];
	int bl;

	if (!c->have_req || status == 400 || status == 408 || status >= 413)
		c->keepalive = 0;
	bl = snprintf(body, sizeof body, "<html><head><title>%d %s</title>"
	    "</head><body><h1>%d %s</h1>%s%s%s</body></html>\n", status,
	    http_reason(status), status, http_reason(status),
	    detail ? "<p>" : "", detail ? detail : "", detail ? "</p>" : "");
	start_response(c, status, "text/html; charset=utf-8", bl, extra_hdr);
	if (!(c->have_req && c->req.method == M_HEAD) &&
	    c->outlen + (size_t)bl <= OUT_SIZE) {
		memcpy(c->out + c->outlen, body, (size_t)bl);
		c->outlen += (size_t)bl;
		c->body_bytes = bl;
	}
}

static void
serve_file(struct conn *c, int fd, const char *name, const struct stat *st)
{
	char extra[128], lm[64];
	time_t ims;

	http_date(lm, sizeof lm, st->st_mtime);
	if (c->req.if_modified_since != NULL &&
	    http_parse_date(c->req.if_modified_since, &ims) == 0 &&
	    st->st_mtime <= ims) {
		close(fd);
		snprintf(extra, sizeof extra, "Last-Modified: %s\r\n", lm);
		c->status = 304;
		c->outlen = (size_t)snprintf(c->out, OUT_SIZE,
		    "HTTP/1.1 304 Not Modified\r\nServer: %s\r\nDate: %s\r\n"
		    "%sConnection: %s\r\n\r\n", CACHETD_NAME, date_now(), extra,
		    c->keepalive ? "keep-alive" : "close");
		c->outoff = 0;
		c->state = CS_WRITE;
		set_deadline(c, c->w->srv->cf->send_timeout);
		return;
	}
	snprintf(extra, sizeof extra, "Last-Modified: %s\r\n", lm);
	start_response(c, 200, mime_lookup(c->w->srv->mime, name),
	    (long long)st->st_size, extra);
	if (c->req.method == M_HEAD || st->st_size == 0) {
		close(fd);
		return;
	}
	c->filefd = fd;
	c->file_left = st->st_size;
}

static void
serve_status(struct conn *c, const struct location *loc)
{
	const char *q = strchr(c->req.target, '?');
	int json = q != NULL && strstr(q, "format=json") != NULL;
	char body[4096];
	size_t n;

	if (!status_allowed(loc, c->peer)) {
		error_response(c, 403, NULL, NULL);
		return;
	}
	n = status_render(c->w->srv, json, body, sizeof body);
	start_response(c, 200, json ? "application/json" :
	    "text/plain; charset=utf-8", (long long)n,
	    "Cache-Control: no-store\r\n");
	if (c->req.method != M_HEAD && c->outlen + n <= OUT_SIZE) {
		memcpy(c->out + c->outlen, body, n);
		c->outlen += n;
		c->body_bytes = (long long)n;
	}
}

static const char pha_missing[] =
    "This page needs a client certificate, and this TLS 1.3 connection "
    "cannot ask for one: the client did not offer post-handshake "
    "authentication. Use a client that supports TLS 1.3 post-handshake "
    "authentication (curl; openssl s_client -enable_pha; Python with "
    "post_handshake_auth = True) or connect with TLS 1.2.";

static void
auth_refused(struct conn *c, const char *path, const char *why,
    const char *detail)
{
	log_notice("%s: 403 for %s: %s%s%s%s", c->peer, path, why,
	    c->subject[0] ? " (" : "", c->subject, c->subject[0] ? ")" : "");
	error_response(c, 403, NULL, detail);
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
			ERR_clear_error();
			auth_refused(c, path, "client did not offer TLS 1.3 "
			    "post-handshake authentication", pha_missing);
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
	c->state = CS_AUTH;
	set_deadline(c, c->w->srv->cf->handshake_timeout);
	return 0;
}

/* May this connection see loc?  1: yes, serve.  0: an answer is on its
 * way (a certificate request was started, or 403). */
static int
authorized(struct conn *c, const struct location *loc, const char *path)
{
	const struct auth_policy *p = auth_policy_for(c->w->srv, loc);
	enum auth_result r;

	if (c->verified == p)
		return 1;       /* this connection passed it already */
	r = auth_check(p, c->ssl, c->subject, sizeof c->subject);
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
	auth_refused(c, path, auth_result_name(r), r == AUTH_NO_CERT ?
	    "This page needs a client certificate." : NULL);
	return 0;
}

/* Build the response for a complete, understood request.  Every decision
 * below is made on the canonical path (path_canonical), the same one the
 * file is opened by. */
static void
respond(struct conn *c)
{
	char rel[PATH_MAX], path[PATH_MAX + 2], idx[PATH_MAX + 256];
	const struct config *cf = c->w->srv->cf;
	const struct location *loc;
	struct stat st;
	int rc, slash, fd;

	if (!c->asked)
		c->w->st->requests++;
	if (c->req.method == M_OTHER) {
		error_response(c, 405, "Allow: GET, HEAD\r\n", NULL);
		return;
	}
	rc = path_canonical(c->req.target, path, sizeof path, rel, sizeof rel,
	    &slash);
	if (rc < 0) {
		error_response(c, -rc, NULL, NULL);
		return;
	}
	loc = config_location(cf, path);
	if (loc != NULL && loc->status) {
		serve_status(c, loc);
		return;
	}
	if (loc != NULL && auth_needs_cert(&loc->acc) &&
	    !authorized(c, loc, path))
		return;         /* asking, or answered 403 */
	fd = path_open(c->w->rootfd, rel, &st);
	if (fd < 0) {
		error_response(c, -fd, NULL, NULL);
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		if (!slash && rel[0] != '\0') {
			/* Built from the canonical path, never from the
			 * target: always a path on this server. */
			char enc[HTTP_MAX_LINE], hdr[2 * HTTP_MAX_LINE];
			const char *q = strchr(c->req.target, '?');
			int ql = q != NULL ? (int)strcspn(q, "#") : 0;
			if (path_encode(path, enc, sizeof enc) == 0 ||
			    strlen(enc) + (size_t)ql >= HTTP_MAX_LINE) {
				error_response(c, 414, NULL, NULL);
				return;
			}
			snprintf(hdr, sizeof hdr, "Location: %s/%.*s\r\n", enc,
			    ql, q != NULL ? q : "");
			error_response(c, 301, hdr, NULL);
			return;
		}
		snprintf(idx, sizeof idx, "%s%s%s", rel, rel[0] ? "/" : "",
		    cf->index);
		fd = path_open(c->w->rootfd, idx, &st);
		if (fd == -404) {
			error_response(c, 403, NULL, "No index and no listing.");
			return;
		}
		if (fd < 0) {
			error_response(c, -fd, NULL, NULL);
			return;
		}
		if (!S_ISREG(st.st_mode)) {
			close(fd);
			error_response(c, 403, NULL, NULL);
			return;
		}
		serve_file(c, fd, idx, &st);
		return;
	}
	serve_file(c, fd, rel, &st);
}

/* A request head was parsed: decide what comes next. */
static void
request_ready(struct conn *c)
{
	c->have_req = 1;
	c->asked = 0;
	c->keepalive = c->req.keepalive && !c->w->stopping && !c->close_after;
	if (c->req.content_length > HTTP_MAX_BODY) {
		c->w->st->requests++;
		error_response(c, 413, NULL, NULL);
		return;
	}
	if (c->req.content_length > 0) {
		c->body_left = c->req.content_length;
		c->state = CS_BODY;
		return;
	}
	respond(c);
}

/* The response went out: log it and go back to reading, or close. */
static void
response_done(struct conn *c)
{
	access_log(c);
	c->nreq++;
	if (c->filefd >= 0) {
		close(c->filefd);
		c->filefd = -1;
	}
	if (!c->keepalive || c->w->stopping) {
		begin_shutdown(c);
		return;
	}
	memmove(c->in, c->in + c->headlen, c->inlen - c->headlen);
	c->inlen -= c->headlen;
	c->headlen = 0;
	c->have_req = 0;
	c->body_bytes = 0;
	c->status = 0;
	c->state = CS_READ;
	set_deadline(c, c->inlen > 0 ? c->w->srv->cf->header_timeout :
	    c->w->srv->cf->keepalive_timeout);
}

/* ------------------------------------------------------------ the steps */

/* Each step returns 1 to continue with the new state, 0 to go back to the
 * event loop (a wait is set), -1 when the connection was freed. */

static int
step_handshake(struct conn *c)
{
	int r = SSL_do_handshake(c->ssl);

	if (r == 1) {
		if (SSL_session_reused(c->ssl))
			c->w->st->handshakes_resumed++;
		else
			c->w->st->handshakes_full++;
		c->state = CS_READ;
		set_deadline(c, c->w->srv->cf->header_timeout);
		return 1;
	}
	if (ssl_wait(c, r) == 1)
		return 0;
	{
		const char *detail;
		enum hs_fail why = hs_fail_reason(c, r, &detail);
		hs_failed(c, why, detail);
	}
	close_hard(c, NULL);            /* not TLS, or a failed handshake */
	return -1;
}

static int
step_read(struct conn *c)
{
	int r;

	if (c->inlen > 0) {
		memset(&c->req, 0, sizeof c->req);
		r = http_parse(c->in, c->inlen, &c->req);
		if (r > 0) {
			c->headlen = (size_t)r;
			request_ready(c);
			return 1;
		}
		if (r < 0) {
			c->headlen = c->inlen;
			c->w->st->requests++;
			error_response(c, -r, NULL, NULL);
			return 1;
		}
	}
	if (c->w->stopping && c->inlen == 0 && c->nreq > 0) {
		begin_shutdown(c);
		return 1;
	}
	if (c->in == NULL && conn_buffers(c) != 0) {
		close_hard(c, "out of memory for a request");
		return -1;
	}
	r = SSL_read(c->ssl, c->in + c->inlen, (int)(IN_SIZE - c->inlen));
	if (r > 0) {
		if (c->inlen == 0 && c->status == 0)
			set_deadline(c, c->w->srv->cf->header_timeout);
		c->inlen += (size_t)r;
		return 1;
	}
	switch (ssl_wait(c, r)) {
	case 1:
		return 0;
	case 0:
		begin_shutdown(c);      /* the client said close_notify */
		return 1;
	default:
		close_hard(c, NULL);
		return -1;
	}
}

static int
step_body(struct conn *c)
{
	size_t have = c->inlen - c->headlen, take;
	int r;

	take = (long long)have < c->body_left ? have : (size_t)c->body_left;
	memmove(c->in + c->headlen, c->in + c->headlen + take, have - take);
	c->inlen -= take;
	c->body_left -= (long long)take;
	if (c->body_left == 0) {
		respond(c);
		return 1;
	}
	r = SSL_read(c->ssl, c->in + c->inlen, (int)(IN_SIZE - c->inlen));
	if (r > 0) {
		c->inlen += (size_t)r;
		return 1;
	}
	if (ssl_wait(c, r) == 1)
		return 0;
	close_hard(c, NULL);
	return -1;
}

/* Drive a renegotiation / PHA to its end, then answer the request. */
static int
step_auth(struct conn *c)
{
	char scratch[4096];
	int r;

	if (!c->auth_sent) {
		r = SSL_do_handshake(c->ssl);
		if (r <= 0) {
			if (ssl_wait(c, r) == 1)
				return 0;
			close_hard(c, "certificate request failed");
			return -1;
		}
		c->auth_sent = 1;
	}
	for (;;) {
		int done = c->auth == AK_PHA ? c->auth_done :
		    !SSL_renegotiate_pending(c->ssl);
		if (done) {
			c->auth = AK_NONE;
			respond(c);     /* checks the policy again */
			return 1;
		}
		r = SSL_read(c->ssl, scratch, sizeof scratch);
		if (r > 0) {
			/* Application data inside the new handshake: sent
			 * before the client knew of it.  Not served here. */
			c->close_after = 1;
			c->keepalive = 0;
			continue;
		}
		switch (ssl_wait(c, r)) {
		case 1:
			/* The read may have finished the handshake. */
			if (c->auth == AK_PHA ? c->auth_done :
			    !SSL_renegotiate_pending(c->ssl))
				continue;
			return 0;
		default:
			close_hard(c, "client certificate request failed");
			return -1;
		}
	}
}

static int
step_write(struct conn *c)
{
	int r;

	if (c->outoff == c->outlen && c->file_left > 0) {
		size_t room = OUT_SIZE;
		ssize_t n = read(c->filefd, c->out,
		    (off_t)room < c->file_left ? room : (size_t)c->file_left);
		if (n <= 0) {
			/* The file shrank or failed under us: the length we
			 * announced cannot be kept, so the connection ends. */
			log_err("%s: read error while sending: %s", c->peer,
			    n < 0 ? strerror(errno) : "file shrank");
			close_hard(c, NULL);
			return -1;
		}
		c->outlen = (size_t)n;
		c->outoff = 0;
		c->file_left -= n;
		c->body_bytes += n;
	} else if (c->outoff == 0 && c->file_left > 0 &&
	    c->outlen < OUT_SIZE) {
		/* Headers and the first part of the file in one record. */
		size_t room = OUT_SIZE - c->outlen;
		ssize_t n = read(c->filefd, c->out + c->outlen,
		    (off_t)room < c->file_left ? room : (size_t)c->file_left);
		if (n > 0) {
			c->outlen += (size_t)n;
			c->file_left -= n;
			c->body_bytes += n;
		}
	}
	if (c->outoff == c->outlen) {
		response_done(c);
		return 1;
	}
	r = SSL_write(c->ssl, c->out + c->outoff, (int)(c->outlen - c->outoff));
	if (r > 0) {
		c->outoff += (size_t)r;
		set_deadline(c, c->w->srv->cf->send_timeout);
		return 1;
	}
	if (ssl_wait(c, r) == 1)
		return 0;
	close_hard(c, NULL);
	return -1;
}

static int
step_shutdown(struct conn *c)
{
	int r = SSL_shutdown(c->ssl);

	if (r >= 0) {
		/* close_notify is out; half-close and drain what the client
		 * still sends, so our last bytes are not lost to a reset. */
		shutdown(c->fd, SHUT_WR);
		c->state = CS_LINGER;
		wait_for(c, EV_READ);
		return 0;
	}
	if (ssl_wait(c, r) == 1)
		return 0;
	close_hard(c, NULL);
	return -1;
}

static int
step_linger(struct conn *c)
{
	char buf[4096];
	ssize_t n;

	do
		n = read(c->fd, buf, sizeof buf);
	while (n > 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		wait_for(c, EV_READ);
		return 0;
	}
	close_hard(c, NULL);
	return -1;
}

static void
conn_run(struct conn *c)
{
	int r;

	idle_leave(c);
	do {
		ERR_clear_error();
		switch (c->state) {
		case CS_HANDSHAKE:
			r = step_handshake(c);
			break;
		case CS_READ:
			r = step_read(c);
			break;
		case CS_BODY:
			r = step_body(c);
			break;
		case CS_AUTH:
			r = step_auth(c);
			break;
		case CS_WRITE:
			r = step_write(c);
			break;
		case CS_SHUTDOWN:
			r = step_shutdown(c);
			break;
		case CS_LINGER:
			r = step_linger(c);
			break;
		default:
			r = -1;
			break;
		}
		if (r >= 0 && c->key_updates > MAX_KEY_UPDATES) {
			static time_t last;
			c->w->st->key_update_abuse++;
			if (log_ratelimit(&last, 60))
				log_notice("%s: closing: more than %d TLS 1.3 "
				    "KeyUpdate messages", c->peer,
				    MAX_KEY_UPDATES);
			close_hard(c, NULL);
			return;
		}
	} while (r == 1);
	if (r < 0)
		return;         /* freed */
	if (c->state == CS_READ && c->inlen == 0) {
		conn_release_buffers(c);
		idle_enter(c);
	} else if (c->state == CS_LINGER && c->in != NULL) {
		conn_release_buffers(c);
	}
}

/* ------------------------------------------------------- libev callbacks */

static void
io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	conn_run(w->data);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = w->data;

	(void)loop;
	(void)revents;
	switch (c->state) {
	case CS_READ:
	case CS_BODY:
		if (c->inlen > 0 || c->state == CS_BODY) {
			c->headlen = c->inlen;
			c->have_req = 0;
			c->w->st->requests++;
			error_response(c, 408, NULL, NULL);
		} else {
			begin_shutdown(c);
		}
		conn_run(c);
		return;
	case CS_HANDSHAKE:
		hs_failed(c, HF_TIMEOUT, NULL);
		close_hard(c, NULL);
		return;
	case CS_AUTH:
		close_hard(c, "no answer to the client certificate request");
		return;
	case CS_WRITE:
		close_hard(c, "send timeout");
		return;
	default:
		close_hard(c, NULL);
		return;
	}
}

/* ----------------------------------------------------------- lifecycle */

static void
conn_free(struct conn *c)
{
	struct worker *w = c->w;

	ev_io_stop(w->loop, &c->io);
	ev_timer_stop(w->loop, &c->tm);
	idle_leave(c);
	if (c->filefd >= 0)
		close(c->filefd);
	free(c->in);
	SSL_free(c->ssl);
	close(c->fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c);
	w->nconns--;
	w->st->connections = w->nconns;
	worker_conn_closed(w);
}

static void
peer_text(const struct sockaddr_storage *ss, char *out, size_t len)
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, out, (socklen_t)len);
	} else if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, out, (socklen_t)len);
	} else {
		snprintf(out, len, "-");
	}
}

/* Accept up to a batch of connections from lfd.  At worker-connections the
 * oldest idle connections make room; when none is idle the worker stops
 * accepting (worker_pause_accept), so that workers with room take the
 * clients, and refuses what is still queued a moment later. */
void
conn_accept(struct worker *w, int lfd)
{
	long limit = w->srv->cf->worker_connections;
	int i;

	for (i = 0; i < 32 && !w->stopping; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		struct conn *c;
		int fd, one = 1;

		if ((long)w->nconns >= limit && conn_drain_idle(w, 1) == 0) {
			worker_pause_accept(w, 1);
			return;
		}
		fd = accept4(lfd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			static time_t last;
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR || errno == ECONNABORTED)
				return;
			if (log_ratelimit(&last, 60))
				log_err("accept: %s", strerror(errno));
			if (errno == EMFILE || errno == ENFILE) {
				/* Closing idle connections frees descriptors;
				 * with none, wait for some to close. */
				if (conn_drain_idle(w, 8) == 0)
					worker_pause_accept(w, 1);
			}
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if ((c = calloc(1, sizeof *c)) == NULL ||
		    (c->ssl = SSL_new(w->srv->ssl)) == NULL) {
			log_err("out of memory for a connection");
			free(c);
			close(fd);
			return;
		}
		c->w = w;
		c->fd = fd;
		c->filefd = -1;
		peer_text(&ss, c->peer, sizeof c->peer);
		SSL_set_fd(c->ssl, fd);
		SSL_set_accept_state(c->ssl);
		SSL_set_app_data(c->ssl, c);
		SSL_set_info_callback(c->ssl, info_cb);
		c->next = w->conns;
		if (w->conns != NULL)
			w->conns->prev = c;
		w->conns = c;
		w->nconns++;
		w->st->connections = w->nconns;
		ev_io_init(&c->io, io_cb, fd, EV_READ);
		c->io.data = c;
		c->waiting = EV_READ;
		ev_io_start(w->loop, &c->io);
		ev_timer_init(&c->tm, timer_cb, w->srv->cf->handshake_timeout,
		    0.);
		c->tm.data = c;
		ev_timer_start(w->loop, &c->tm);
		c->state = CS_HANDSHAKE;
	}
}

/* Close up to n of the oldest idle connections (waiting for a request,
 * nothing buffered) to make room.  Their clients see a closed keep-alive
 * connection, which HTTP allows and every client retries.  Returns how
 * many were closed. */
size_t
conn_drain_idle(struct worker *w, size_t n)
{
	size_t k = 0;
	static time_t last;

	while (k < n && w->idle_head != NULL) {
		struct conn *c = w->idle_head;
		/* close_notify if it fits in the socket buffer now, so the
		 * session stays resumable; never wait for it */
		SSL_shutdown(c->ssl);
		conn_free(c);
		k++;
	}
	if (k > 0) {
		w->st->drained += k;
		if (log_ratelimit(&last, 60))
			log_warn("worker-connections (%ld) reached: closing idle "
			    "keep-alive connections to make room",
			    w->srv->cf->worker_connections);
	}
	return k;
}

/* Accept and close what is queued on lfd (up to max): the worker is full
 * and nothing is idle, so a client learns it at once instead of waiting
 * in the backlog.  Returns how many were refused. */
size_t
conn_refuse(struct worker *w, int lfd, size_t max)
{
	size_t k = 0;

	while (k < max) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			break;
		close(fd);
		k++;
	}
	w->st->refused += k;
	return k;
}

/* Graceful stop: connections idle between requests close now; the others
 * (a new connection included: its client is about to send a request)
 * finish their current or first request and then close. */
void
conn_shutdown_idle(struct worker *w)
{
	struct conn *c, *next;

	for (c = w->conns; c != NULL; c = next) {
		next = c->next;
		if (c->state == CS_READ && c->inlen == 0 && c->nreq > 0) {
			begin_shutdown(c);
			conn_run(c);
		}
	}
}
