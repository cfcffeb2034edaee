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
 *
 * What a request means is not decided here: serve.c routes it and fills
 * the response, auth_conn.c runs the CS_AUTH state.  Between requests a
 * connection holds no buffer and sits on the worker's idle queue, oldest
 * first, from which conn_drain_idle() (conn_life.c) takes when the worker
 * is full.
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
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ev.h>
#include <openssl/err.h>

#include "conn.h"

#define LINGER_TIME 2.0         /* seconds to drain the socket after close_notify */
#define MAX_KEY_UPDATES 32      /* TLS 1.3 KeyUpdates accepted per connection */

static void conn_run(struct conn *);

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

static void
hs_failed(struct conn *c, enum hs_fail why, const char *detail)
{
	c->w->st->hs_failed[why]++;
	log_debug("%s: handshake failed: %s%s%s", c->peer, hs_fail_name[why],
	    detail != NULL ? ": " : "", detail != NULL ? detail : "");
}

/* ---------------------------------------------------- the write side */

/*
 * OpenSSL writes to the socket through this BIO, which is a socket BIO
 * but for one thing: while c->more is set, a write tells the kernel that
 * more follows (MSG_MORE), so the last part of it that does not fill a
 * segment waits for the next write.  step_write() sets it while more of
 * the body follows (each record's tail rides with the next record) and
 * for the last response of a connection that closes, so the response and
 * close_notify (and, closing at once, the FIN) leave in one segment: one
 * less packet to send, and one less for the client to receive and
 * acknowledge (nginx sends them apart).  The next write without the flag,
 * shutdown() or close() sends what waits.  Reads go through the plain
 * socket BIO that SSL_set_fd() made.
 */
static BIO_METHOD *wbio_meth;

static int
wbio_write(BIO *b, const char *buf, int len)
{
	struct conn *c = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	n = send(c->fd, buf, (size_t)len,
	    MSG_NOSIGNAL | (c->more ? MSG_MORE : 0));
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		BIO_set_retry_write(b);
	return -1;
}

static long
wbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct conn *c = BIO_get_data(b);

	(void)num;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_C_GET_FD:
		if (ptr != NULL)
			*(int *)ptr = c->fd;
		return c->fd;
	default:
		return 0;
	}
}

/* The BIO for c's writes, or NULL (out of memory). */
static BIO *
wbio_new(struct conn *c)
{
	BIO *b;

	if (wbio_meth == NULL) {
		int idx = BIO_get_new_index();

		wbio_meth = idx < 0 ? NULL : BIO_meth_new(idx |
		    BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
		    "cachetd socket write");
		if (wbio_meth == NULL ||
		    !BIO_meth_set_write(wbio_meth, wbio_write) ||
		    !BIO_meth_set_ctrl(wbio_meth, wbio_ctrl)) {
			BIO_meth_free(wbio_meth);
			wbio_meth = NULL;
			return NULL;
		}
	}
	if ((b = BIO_new(wbio_meth)) == NULL)
		return NULL;
	BIO_set_data(b, c);
	BIO_set_init(b, 1);
	return b;
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

void
conn_deadline(struct conn *c, double secs)
{
	ev_timer_stop(c->w->loop, &c->tm);
	ev_timer_set(&c->tm, secs, 0.);
	ev_timer_start(c->w->loop, &c->tm);
}

/* Map an SSL result to a wait.  Returns 1 when the caller should return
 * to the loop, 0 for a clean close by the peer, -1 for an error. */
int
conn_ssl_wait(struct conn *c, int ret)
{
	switch (SSL_get_error(c->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		wait_for(c, EV_READ);
		return 1;
	case SSL_ERROR_WANT_WRITE:
		wait_for(c, EV_WRITE);
		return 1;
	case SSL_ERROR_WANT_CLIENT_HELLO_CB:
		/* a session is being fetched (tls.c): the socket waits, the
		 * handshake's deadline runs on, and conn_session_fetched()
		 * brings the connection back */
		ev_io_stop(c->w->loop, &c->io);
		c->waiting = 0;
		return 1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		return -1;
	}
}

/* The fetch a handshake waits for is answered (from the store's callback,
 * on the worker's loop).  The connection runs at the loop's next turn,
 * not inside the store's callback; a connection freed before then is
 * never touched, since conn_free() stops its watcher, which drops the
 * pending event.  A connection freed before the answer came is never
 * woken: its prefetch went with its SSL (cache_ssl.c). */
void
conn_session_fetched(SSL *ssl)
{
	struct conn *c = SSL_get_app_data(ssl);

	if (c != NULL)
		ev_feed_event(c->w->loop, &c->io, EV_CUSTOM);
}

/* ------------------------------------------------------------ closing */

void
conn_close(struct conn *c, const char *why)
{
	if (why != NULL)
		log_info("%s: closing: %s", c->peer, why);
	/* A request that was read leaves its access-log line whatever
	 * happens: a certificate exchange the client gave up (Chromium
	 * drops the connection to show its picker, then comes back) is 499,
	 * as nginx logs a request its client dropped; a response cut short
	 * keeps its status and the bytes sent so far. */
	if (c->have_req && c->state == CS_AUTH) {
		if (c->status == 0)
			c->status = 499;
		serve_log(c);
	} else if (c->have_req && c->state == CS_WRITE) {
		serve_log(c);
	}
	conn_free(c);
}

static void
begin_shutdown(struct conn *c)
{
	conn_deadline(c, LINGER_TIME);
	if (c->ssl == NULL) {           /* plain HTTP: no close_notify */
		shutdown(c->fd, SHUT_WR);
		c->state = CS_LINGER;
		wait_for(c, EV_READ);
		return;
	}
	c->state = CS_SHUTDOWN;
}

/* A plain socket's read() or write() result n as a wait, as
 * conn_ssl_wait() for TLS. */
static int
plain_wait(struct conn *c, ssize_t n, int events)
{
	if (n == 0 && events == EV_READ)
		return 0;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR)) {
		wait_for(c, events);
		return 1;
	}
	return -1;
}

/* ------------------------------------------------------ request cycle */

/* The response went out: log it and go back to reading, or close. */
static void
response_done(struct conn *c)
{
	serve_log(c);
	c->nreq++;
	serve_body_end(c);
	if (!c->keepalive || c->w->stopping) {
		/* A client that asked to close sends nothing more (RFC 9112
		 * 9.6): with nothing of it left unread, the connection
		 * closes as soon as close_notify is out.  Only after the
		 * connection's one response, of one record, all of it on its
		 * way at once: a byte the client sends before the last of a
		 * bigger one, or of an earlier response still queued, has
		 * left (a TLS 1.3 close_notify, a KeyUpdate) would reach a
		 * closed socket, whose reset throws away what is still
		 * queued.  Otherwise (a bigger response, the server chose
		 * to close, a body or a pipelined request unread) it drains
		 * what still comes first, so our last bytes are not lost to
		 * a reset.  step_shutdown() looks for unread bytes again. */
		c->quiet = c->have_req && !c->bad_req && !c->req.keepalive &&
		    c->req.content_length <= 0 && c->inlen == c->headlen &&
		    c->resp_writes == 1 && c->nreq == 1 && c->ssl != NULL &&
		    SSL_pending(c->ssl) == 0;
		c->resp_writes = 0;
		begin_shutdown(c);
		return;
	}
	c->resp_writes = 0;
	memmove(c->in, c->in + c->headlen, c->inlen - c->headlen);
	c->inlen -= c->headlen;
	c->headlen = 0;
	c->have_req = 0;
	c->body_bytes = 0;
	c->status = 0;
	c->req_start = c->inlen > 0 ? ev_now(c->w->loop) : 0; /* pipelined */
	c->bad_req = 0;
	c->state = CS_READ;
	conn_deadline(c, c->inlen > 0 ? c->w->srv->cf->header_timeout :
	    c->w->srv->cf->keepalive_timeout);
}

/* ------------------------------------------------------------ the steps */

/* Each step returns 1 to continue with the new state, 0 to go back to the
 * event loop (a wait is set), -1 when the connection was freed. */

/* Plain HTTP sent to this TLS port (a newcomer typing http://host:8443):
 * say so in plain HTTP, as nginx does, rather than close in silence.  One
 * non-blocking write of a short answer; whatever does not fit is lost. */
static void
plain_http_answer(struct conn *c)
{
	static const char body[] =
	    "<html><head><title>400 Bad Request</title></head><body>"
	    "<h1>400 Bad Request</h1><p>This port speaks HTTPS: a plain HTTP "
	    "request was sent to it. Use an https:// address.</p></body>"
	    "</html>\n";
	char msg[512];
	int n = snprintf(msg, sizeof msg, "HTTP/1.1 400 Bad Request\r\n"
	    "Server: %s\r\nContent-Type: text/html; charset=utf-8\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	    CACHETD_NAME, sizeof body - 1, body);

	if (n > 0 && (size_t)n < sizeof msg)
		(void)!write(c->fd, msg, (size_t)n);
}

static int
step_handshake(struct conn *c)
{
	int r = SSL_do_handshake(c->ssl);

	if (r == 1) {
		cache_ssl_prefetch_end(c->ssl);
		if (SSL_session_reused(c->ssl))
			c->w->st->handshakes_resumed++;
		else
			c->w->st->handshakes_full++;
		c->state = CS_READ;
		conn_deadline(c, c->w->srv->cf->header_timeout);
		return 1;
	}
	if (conn_ssl_wait(c, r) == 1)
		return 0;
	{
		const char *detail;
		enum hs_fail why = tls_fail_reason(c->ssl, r, &detail);
		hs_failed(c, why, detail);
		if (why == HF_NOT_TLS &&
		    ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_HTTP_REQUEST) {
			/* answer, then drain what the client sent, so the
			 * answer is not lost to a reset */
			plain_http_answer(c);
			shutdown(c->fd, SHUT_WR);
			c->state = CS_LINGER;
			conn_deadline(c, LINGER_TIME);
			wait_for(c, EV_READ);
			return 0;
		}
	}
	conn_close(c, NULL);            /* not TLS, or a failed handshake */
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
			if (c->ssl != NULL)
				serve_head(c);
			else
				serve_http(c);  /* one answer, then close */
			return 1;
		}
		if (r < 0) {
			c->headlen = c->inlen;
			c->bad_req = 1;
			c->w->st->requests++;
			serve_error(c, -r, NULL, NULL);
			return 1;
		}
	}
	if (c->w->stopping && c->inlen == 0 && c->nreq > 0) {
		begin_shutdown(c);
		return 1;
	}
	if (c->in == NULL && conn_buffers(c) != 0) {
		conn_close(c, "out of memory for a request");
		return -1;
	}
	if (c->ssl == NULL) {
		ssize_t n = read(c->fd, c->in + c->inlen, IN_SIZE - c->inlen);
		if (n > 0) {
			if (c->inlen == 0)      /* request_time counts from here */
				c->req_start = ev_now(c->w->loop);
			c->inlen += (size_t)n;
			return 1;
		}
		r = plain_wait(c, n, EV_READ);
	} else if ((r = SSL_read(c->ssl, c->in + c->inlen,
	    (int)(IN_SIZE - c->inlen))) > 0) {
		if (c->inlen == 0)
			c->req_start = ev_now(c->w->loop);
		if (c->inlen == 0 && c->status == 0)
			conn_deadline(c, c->w->srv->cf->header_timeout);
		c->inlen += (size_t)r;
		return 1;
	} else {
		r = conn_ssl_wait(c, r);
	}
	switch (r) {
	case 1:
		return 0;
	case 0:
		begin_shutdown(c);      /* close_notify, or a plain EOF */
		return 1;
	default:
		conn_close(c, NULL);
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
		serve_request(c);
		return 1;
	}
	r = SSL_read(c->ssl, c->in + c->inlen, (int)(IN_SIZE - c->inlen));
	if (r > 0) {
		c->inlen += (size_t)r;
		return 1;
	}
	if (conn_ssl_wait(c, r) == 1)
		return 0;
	conn_close(c, NULL);
	return -1;
}

static int
step_write(struct conn *c)
{
	int r;

	/* Refill when all was sent, or top up the first record (head and
	 * the start of the body together) while nothing is out yet. */
	if (c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	if (c->outoff == 0 && c->outlen < OUT_SIZE &&
	    (c->body.fd >= 0 || c->body.nranges > 1) &&
	    serve_fill(c) < 0) {
		/* The file shrank or failed under us: the length we
		 * announced cannot be kept, so the connection ends. */
		log_err("%s: read error while sending", c->peer);
		conn_close(c, NULL);
		return -1;
	}
	if (c->outoff == c->outlen) {
		response_done(c);
		return 1;
	}
	if (c->ssl == NULL) {
		ssize_t n = write(c->fd, c->out + c->outoff,
		    c->outlen - c->outoff);
		if (n <= 0) {
			if (plain_wait(c, n, EV_WRITE) == 1)
				return 0;
			conn_close(c, NULL);
			return -1;
		}
		r = (int)n;
	} else {
		/* More of the body follows (read into the buffer next), or
		 * the connection closes after this response and close_notify
		 * does: the record's last partial segment waits for it (see
		 * wbio_write).  Exact: a flag left on with nothing after it
		 * would hold the tail for a retransmission timeout. */
		c->more = !c->keepalive || c->w->stopping ||
		    (c->body.fd >= 0 && c->body.left > 0) ||
		    (c->body.nranges > 1 && !c->body.closed);
		r = SSL_write(c->ssl, c->out + c->outoff,
		    (int)(c->outlen - c->outoff));
		c->more = 0;
	}
	if (r > 0) {
		c->outoff += (size_t)r;
		c->resp_writes++;
		conn_deadline(c, c->w->srv->cf->send_timeout);
		return 1;
	}
	if (conn_ssl_wait(c, r) == 1)
		return 0;
	conn_close(c, NULL);
	return -1;
}

/* Bytes the client sent that nobody read: in OpenSSL's buffers, or in
 * the socket's (a close() with those sends a reset). */
static int
unread(struct conn *c)
{
	int n = 0;

	return SSL_has_pending(c->ssl) || ioctl(c->fd, FIONREAD, &n) != 0 ||
	    n > 0;
}

static int
step_shutdown(struct conn *c)
{
	int r;

	if (c->quiet && unread(c))
		c->quiet = 0;   /* sent while the response went out: drain */
	/* Closing at once: close_notify waits for the FIN of close(), and
	 * the two go out in the segment that carries the response's end. */
	c->more = c->quiet;
	r = SSL_shutdown(c->ssl);
	c->more = 0;

	if (r >= 0) {
		/* close_notify is out; half-close and drain what the client
		 * still sends, so our last bytes are not lost to a reset.
		 * Not when the client sent its close_notify already (r == 1),
		 * said it sends nothing more (c->quiet) or is gone
		 * (ENOTCONN): close now. */
		if (r == 1 || c->quiet || (shutdown(c->fd, SHUT_WR) != 0 &&
		    errno == ENOTCONN)) {
			conn_close(c, NULL);
			return -1;
		}
		c->state = CS_LINGER;
		wait_for(c, EV_READ);
		return 0;
	}
	if (conn_ssl_wait(c, r) == 1)
		return 0;
	conn_close(c, NULL);
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
	conn_close(c, NULL);
	return -1;
}

static void
conn_run(struct conn *c)
{
	int r;

	conn_idle_leave(c);
	do {
		/* SSL_get_error() reads the queue: empty it of what came
		 * before (looking is cheaper than clearing 16 slots) */
		if (ERR_peek_error() != 0)
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
			r = auth_step(c);
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
			conn_close(c, NULL);
			return;
		}
	} while (r == 1);
	if (r < 0)
		return;         /* freed */
	if (c->state == CS_READ && c->inlen == 0) {
		conn_release_buffers(c);
		conn_idle_enter(c);
	} else if (c->state == CS_HANDSHAKE &&
	    BIO_number_read(SSL_get_rbio(c->ssl)) == 0) {
		conn_idle_enter(c);  /* connected, not a byte sent yet */
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
			serve_error(c, 408, NULL, NULL);
		} else {
			begin_shutdown(c);
		}
		conn_run(c);
		return;
	case CS_HANDSHAKE:
		hs_failed(c, HF_TIMEOUT, NULL);
		conn_close(c, NULL);
		return;
	case CS_AUTH:
		c->status = 408;
		conn_close(c, "no answer to the client certificate request");
		return;
	case CS_WRITE:
		conn_close(c, "send timeout");
		return;
	default:
		conn_close(c, NULL);
		return;
	}
}

/* ----------------------------------------------------------- lifecycle */

/* A new connection on fd, accepted by the worker: set up its TLS state
 * and wait for the ClientHello, or (plain, from an http-listen socket)
 * wait for a request head, answered by serve_http.c.  Returns 0, or -1
 * (fd closed) when out of memory. */
int
conn_new(struct worker *w, int fd, const struct sockaddr_storage *ss,
    int plain)
{
	struct conn *c;

	/* TCP_NODELAY: inherited from the listening socket (server.c) */
	if ((c = calloc(1, sizeof *c)) == NULL ||
	    (!plain && (c->ssl = SSL_new(w->srv->ssl)) == NULL)) {
		log_err("out of memory for a connection");
		free(c);
		close(fd);
		return -1;
	}
	c->w = w;
	c->fd = fd;
	c->body.fd = -1;
	conn_peer_text(ss, c->peer, sizeof c->peer);
	if (!plain) {
		BIO *wb;

		if (!SSL_set_fd(c->ssl, fd) || (wb = wbio_new(c)) == NULL) {
			log_err("out of memory for a connection");
			SSL_free(c->ssl);
			free(c);
			close(fd);
			return -1;
		}
		SSL_set0_wbio(c->ssl, wb);
		SSL_set_accept_state(c->ssl);
		SSL_set_app_data(c->ssl, c);
		SSL_set_info_callback(c->ssl, info_cb);
	}
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
	ev_timer_init(&c->tm, timer_cb, plain ? w->srv->cf->header_timeout :
	    w->srv->cf->handshake_timeout, 0.);
	c->tm.data = c;
	ev_timer_start(w->loop, &c->tm);
	c->state = plain ? CS_READ : CS_HANDSHAKE;
	conn_idle_enter(c);          /* until its first byte, it holds a slot only */
	return 0;
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
