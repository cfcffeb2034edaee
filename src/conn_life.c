/*
 * conn_life.c - a connection's memory and its place in the worker: the
 * request buffers it takes while a request is under way and gives back
 * when idle, the idle queue (oldest first) the worker drains when it is
 * full, and freeing.  conn.c creates connections and drives them; nothing
 * here reads or writes a socket, except the close_notify of a drained one.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "conn.h"

int
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
void
conn_release_buffers(struct conn *c)
{
	free(c->in);
	c->in = c->out = NULL;
	c->outlen = c->outoff = 0;
	if (c->ssl != NULL)
		SSL_free_buffers(c->ssl);
}

/* The idle queue, oldest first: connections waiting for a request with
 * nothing buffered.  At worker-connections the oldest are closed to make
 * room for new clients (conn_drain_idle), as nginx reuses keep-alive
 * connections. */
void
conn_idle_enter(struct conn *c)
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

void
conn_idle_leave(struct conn *c)
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


void
conn_free(struct conn *c)
{
	struct worker *w = c->w;

	ev_io_stop(w->loop, &c->io);
	ev_timer_stop(w->loop, &c->tm);
	conn_idle_leave(c);
	serve_body_end(c);
	free(c->in);
	/* A connection that ends without close_notify (the client reset
	 * it, a timeout, our own error) keeps its session: OpenSSL would
	 * otherwise remove it from the cache at SSL_free, and with it what
	 * every worker remembers.  TLS 1.1 and later allow it (RFC 4346
	 * 7.2.1), and nginx does the same; a fatal alert still removes it
	 * (OpenSSL does that when the alert is sent or received). */
	if (c->ssl != NULL)
		SSL_set_shutdown(c->ssl, SSL_get_shutdown(c->ssl) |
		    SSL_SENT_SHUTDOWN);
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
	w->conn_closed(w);
}

void
conn_peer_text(const struct sockaddr_storage *ss, char *out, size_t len)
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
		int pending = 0;
		/* Bytes already on the socket are a request the loop has not
		 * read yet: that connection is busy, not idle (it leaves the
		 * queue; its readable event follows). */
		if (ioctl(c->fd, FIONREAD, &pending) == 0 && pending > 0) {
			conn_idle_leave(c);
			continue;
		}
		/* close_notify if it fits in the socket buffer now, so the
		 * session stays resumable; never wait for it */
		if (c->ssl != NULL)
			SSL_shutdown(c->ssl);
		conn_free(c);
		k++;
	}
	if (k > 0) {
		w->st->drained += k;
		if (log_ratelimit(&last, 60))
			log_warn("worker full (worker-connections %ld, or out "
			    "of descriptors): closing idle keep-alive "
			    "connections to make room",
			    w->srv->cf->worker_connections);
	}
	return k;
}

