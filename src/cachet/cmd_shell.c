/*
 * cmd_shell.c - `cachet shell HOST:PORT`: the article's sclient.  Standard
 * input goes to the server and the server's data to standard output, both
 * at once, with poll() on stdin and a non-blocking socket.
 *
 * The bookkeeping is the article's: an SSL_read that returned WANT_WRITE
 * is retried when the socket is writable (read_wants_write), an SSL_write
 * that returned WANT_READ when it is readable (write_wants_read) - which is
 * what a renegotiation in either direction needs.  Data OpenSSL has
 * already decrypted (SSL_pending) is drained before polling again, since
 * the socket says nothing about it.  A partly written buffer stays as it
 * is until OpenSSL has taken all of it.
 *
 * End of input sends close_notify and waits (at most SHUT_WAIT seconds)
 * for the server to close; the server's close ends the program, status 0.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "cachet.h"

#define TX_SIZE   32768
#define SHUT_WAIT 5             /* seconds to wait for the server's close */
#define HS_WAIT   30            /* seconds for the handshake */

/* What one pass of the loop decided. */
enum { GO_ON = -1 };            /* else: the exit code */

struct shell {
	SSL        *ssl;
	int         fd;
	const char *what;       /* host:port, for messages */
	int         crlf, verbose;
	char        tx[TX_SIZE];    /* stdin, CRLF-expanded, to the server */
	size_t      txlen, txoff;
	int         stdin_eof;
	int         read_wants_write, write_wants_read;
	enum { SHUT_NO, SHUT_SEND, SHUT_SENT } shut;
	time_t      deadline;   /* for the server's close, once SHUT_SENT */
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: cachet shell [OPTIONS] HOST[:PORT]\n"
	    "  --crlf               send newlines from stdin as CRLF\n"
	    "%s", client_opts_help);
}

static int
out_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(1, p, n);
		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				client_wait(1, POLLOUT, 1000);
				continue;
			}
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static long
ms_left(time_t deadline)
{
	long ms = (long)(deadline - time(NULL)) * 1000;

	return ms > 0 ? ms : 0;
}

/* SSL_read returned r <= 0: GO_ON, or how the session ended. */
static int
read_ended(struct shell *sh, int r)
{
	short ev = 0;

	switch (client_io(sh->ssl, r, &ev)) {
	case CIO_WANT:
		sh->read_wants_write = ev == POLLOUT;
		return GO_ON;
	case CIO_CLOSED:
		if (sh->shut != SHUT_SENT)
			SSL_shutdown(sh->ssl);
		return EX_OK;
	case CIO_PREMATURE:
		fprintf(stderr, "cachet shell: %s: premature close (no "
		    "close_notify)\n", sh->what);
		return EX_OK;
	default:
		fprintf(stderr, "cachet shell: %s: %s\n", sh->what,
		    client_ssl_err());
		return EX_IO;
	}
}

/* Server -> stdout, until OpenSSL wants the socket again: SSL_read hands
 * out what it already decrypted (SSL_pending) before it asks the socket,
 * so nothing is left behind that poll() would not announce. */
static int
from_server(struct shell *sh)
{
	char rx[16384];
	int r;

	sh->read_wants_write = 0;
	while ((r = SSL_read(sh->ssl, rx, sizeof rx)) > 0)
		if (out_all(rx, (size_t)r) != 0)
			return EX_IO;
	return read_ended(sh, r);
}

/* The buffered input -> server, as much as OpenSSL takes. */
static int
to_server(struct shell *sh)
{
	short ev = 0;
	int r = SSL_write(sh->ssl, sh->tx + sh->txoff,
	    (int)(sh->txlen - sh->txoff));

	sh->write_wants_read = 0;
	if (r > 0) {
		sh->txoff += (size_t)r;
		if (sh->txoff == sh->txlen)
			sh->txlen = sh->txoff = 0;
		return GO_ON;
	}
	if (client_io(sh->ssl, r, &ev) == CIO_WANT) {
		sh->write_wants_read = ev == POLLIN;
		return GO_ON;
	}
	fprintf(stderr, "cachet shell: %s: write failed\n", sh->what);
	return EX_IO;
}

/* stdin -> buffer (only called when the buffer is empty). */
static void
from_stdin(struct shell *sh)
{
	char raw[TX_SIZE / 2];
	ssize_t r = read(0, raw, sizeof raw), i;

	if (r <= 0) {
		if (r == 0 || (errno != EINTR && errno != EAGAIN))
			sh->stdin_eof = 1;
		return;
	}
	for (i = 0; i < r; i++) {
		if (sh->crlf && raw[i] == '\n')
			sh->tx[sh->txlen++] = '\r';
		sh->tx[sh->txlen++] = raw[i];
	}
}

/* Input over and sent: close_notify once, then wait for the server. */
static void
shutdown_step(struct shell *sh)
{
	int r;

	if (sh->stdin_eof && sh->txlen == 0 && sh->shut == SHUT_NO)
		sh->shut = SHUT_SEND;
	if (sh->shut != SHUT_SEND)
		return;
	r = SSL_shutdown(sh->ssl);
	if (r >= 0 || (SSL_get_error(sh->ssl, r) != SSL_ERROR_WANT_WRITE &&
	    SSL_get_error(sh->ssl, r) != SSL_ERROR_WANT_READ)) {
		sh->shut = SHUT_SENT;
		sh->deadline = time(NULL) + SHUT_WAIT;
		ERR_clear_error();
	}
}

/* One poll() and what it allows: GO_ON or the exit code. */
static int
shell_step(struct shell *sh)
{
	struct pollfd pf[2] = { { -1, POLLIN, 0 }, { sh->fd, POLLIN, 0 } };
	int n, rd, wr, rc;

	pf[0].fd = !sh->stdin_eof && sh->txlen == 0 ? 0 : -1;
	if ((sh->txlen > 0 && !sh->write_wants_read) || sh->read_wants_write ||
	    sh->shut == SHUT_SEND)
		pf[1].events |= POLLOUT;
	n = poll(pf, 2, sh->shut == SHUT_SENT ? (int)ms_left(sh->deadline) : -1);
	if (n < 0)
		return errno == EINTR ? GO_ON : EX_IO;
	if (n == 0 && sh->shut == SHUT_SENT) {
		if (sh->verbose)
			fprintf(stderr, "* the server did not close in %d s: "
			    "leaving\n", SHUT_WAIT);
		return EX_OK;
	}
	rd = (pf[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
	wr = (pf[1].revents & POLLOUT) != 0;
	if ((rd && !sh->read_wants_write) || (sh->read_wants_write && wr))
		if ((rc = from_server(sh)) != GO_ON)
			return rc;
	if (sh->txlen > sh->txoff && ((wr && !sh->write_wants_read) ||
	    (sh->write_wants_read && rd)))
		if ((rc = to_server(sh)) != GO_ON)
			return rc;
	if (pf[0].fd >= 0 && (pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
		from_stdin(sh);
	shutdown_step(sh);
	return GO_ON;
}

/* Options and HOST:PORT: GO_ON, or the exit code. */
static int
shell_args(int argc, char **argv, struct client_opts *co, int *crlf,
    char *host, size_t hl, char *port, size_t pl)
{
	static const struct option own[] = {
		{ "crlf", no_argument, NULL, OPT_FIRST_OWN },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct option *opts = client_merge_opts(own);
	int c, rc = GO_ON;

	optind = 1;
	while (rc == GO_ON && (c = getopt_long(argc, argv, "kvh", opts,
	    NULL)) != -1) {
		if (client_opt(co, c, optarg))
			continue;
		switch (c) {
		case OPT_FIRST_OWN: *crlf = 1; break;
		case 'h': usage(stdout); rc = EX_OK; break;
		default: usage(stderr); rc = EX_USAGE; break;
		}
	}
	free(opts);
	if (rc == GO_ON && (optind != argc - 1 || client_split_hostport(
	    argv[optind], host, hl, port, pl, "443") != 0)) {
		usage(stderr);
		rc = EX_USAGE;
	}
	return rc;
}

int
cmd_shell(int argc, char **argv)
{
	static struct shell sh;         /* 32 kB buffer: not on the stack */
	struct client_opts co;
	struct client_conn cc;
	char host[256], port[16], err[512], what[300];
	SSL_CTX *ctx;
	int rc;

	memset(&co, 0, sizeof co);
	memset(&sh, 0, sizeof sh);
	if ((rc = shell_args(argc, argv, &co, &sh.crlf, host, sizeof host,
	    port, sizeof port)) != GO_ON)
		return rc;
	snprintf(what, sizeof what, "%s:%s", host, port);
	sh.what = what;
	sh.verbose = co.verbose;
	signal(SIGPIPE, SIG_IGN);
	if ((ctx = client_ctx_new(&co, err, sizeof err)) == NULL) {
		fprintf(stderr, "cachet shell: %s\n", err);
		return EX_USAGE;
	}
	if ((sh.fd = client_connect(host, port, err, sizeof err)) < 0) {
		fprintf(stderr, "cachet shell: %s\n", err);
		SSL_CTX_free(ctx);
		return EX_CONNECT;
	}
	fcntl(sh.fd, F_SETFL, fcntl(sh.fd, F_GETFL) | O_NONBLOCK);
	if ((sh.ssl = client_ssl_new(ctx, sh.fd, host, &co, &cc)) == NULL)
		rc = EX_OTHER;
	else if ((rc = client_handshake(sh.ssl, sh.fd, what, HS_WAIT)) == 0) {
		cc.handshaken = 1;
		if (co.verbose)
			client_summary(sh.ssl, &cc);
		while ((rc = shell_step(&sh)) == GO_ON)
			;
	}
	SSL_free(sh.ssl);
	close(sh.fd);
	SSL_CTX_free(ctx);
	return rc;
}
