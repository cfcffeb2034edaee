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
				struct pollfd pf = { 1, POLLOUT, 0 };
				poll(&pf, 1, 1000);
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

/* Non-blocking handshake under poll, bounded. */
static int
handshake(SSL *ssl, int fd, const char *what)
{
	time_t deadline = time(NULL) + HS_WAIT;

	for (;;) {
		int r = SSL_connect(ssl), e;
		struct pollfd pf = { fd, 0, 0 };

		if (r == 1)
			return 0;
		e = SSL_get_error(ssl, r);
		if (e == SSL_ERROR_WANT_READ)
			pf.events = POLLIN;
		else if (e == SSL_ERROR_WANT_WRITE)
			pf.events = POLLOUT;
		else
			return client_handshake_error(ssl, what, r);
		if (poll(&pf, 1, (int)ms_left(deadline)) <= 0) {
			fprintf(stderr, "cachet shell: %s: handshake timed out\n",
			    what);
			return EX_HANDSHAKE;
		}
	}
}

int
cmd_shell(int argc, char **argv)
{
	static const struct option own[] = {
		{ "crlf", no_argument, NULL, OPT_FIRST_OWN },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct option *opts = client_merge_opts(own);
	struct client_opts co;
	struct client_conn cc;
	char host[256], port[16], err[512], what[300];
	char tx[TX_SIZE], raw[TX_SIZE / 2], rx[16384];
	size_t txlen = 0, txoff = 0;
	int crlf = 0, c, fd, rc;
	int stdin_eof = 0, read_wants_write = 0, write_wants_read = 0;
	int shut_state = 0;     /* 0 no, 1 to send, 2 sent */
	time_t deadline = 0;
	SSL_CTX *ctx;
	SSL *ssl;

	memset(&co, 0, sizeof co);
	optind = 1;
	while ((c = getopt_long(argc, argv, "kvh", opts, NULL)) != -1) {
		if (client_opt(&co, c, optarg))
			continue;
		switch (c) {
		case OPT_FIRST_OWN: crlf = 1; break;
		case 'h': usage(stdout); free(opts); return EX_OK;
		default: usage(stderr); free(opts); return EX_USAGE;
		}
	}
	free(opts);
	if (optind != argc - 1 || client_split_hostport(argv[optind], host,
	    sizeof host, port, sizeof port, "443") != 0) {
		usage(stderr);
		return EX_USAGE;
	}
	snprintf(what, sizeof what, "%s:%s", host, port);
	signal(SIGPIPE, SIG_IGN);
	if ((ctx = client_ctx_new(&co, err, sizeof err)) == NULL) {
		fprintf(stderr, "cachet shell: %s\n", err);
		return EX_USAGE;
	}
	if ((fd = client_connect(host, port, err, sizeof err)) < 0) {
		fprintf(stderr, "cachet shell: %s\n", err);
		SSL_CTX_free(ctx);
		return EX_CONNECT;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	ssl = client_ssl_new(ctx, fd, host, &co, &cc);
	if ((rc = handshake(ssl, fd, what)) != 0)
		goto done;
	cc.handshaken = 1;
	if (co.verbose)
		client_summary(ssl, &cc);

	for (;;) {
		struct pollfd pf[2];
		int sock_r, sock_w, n;

		pf[0].fd = !stdin_eof && txlen == 0 ? 0 : -1;
		pf[0].events = POLLIN;
		pf[1].fd = fd;
		pf[1].events = POLLIN;
		if ((txlen > 0 && !write_wants_read) || read_wants_write ||
		    shut_state == 1)
			pf[1].events |= POLLOUT;
		pf[0].revents = pf[1].revents = 0;
		n = poll(pf, 2, shut_state == 2 ? (int)ms_left(deadline) : -1);
		if (n < 0 && errno != EINTR) {
			rc = EX_IO;
			break;
		}
		if (shut_state == 2 && n == 0) {
			if (co.verbose)
				fprintf(stderr, "* the server did not close in "
				    "%d s: leaving\n", SHUT_WAIT);
			rc = EX_OK;
			break;
		}
		sock_r = (pf[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
		sock_w = (pf[1].revents & POLLOUT) != 0;

		/* server -> stdout, draining what OpenSSL holds */
		if ((sock_r && !read_wants_write) || (read_wants_write &&
		    sock_w)) {
			int end = 0;
			read_wants_write = 0;
			do {
				int r = SSL_read(ssl, rx, sizeof rx);
				if (r > 0) {
					if (out_all(rx, (size_t)r) != 0) {
						rc = EX_IO;
						end = 2;
					}
					continue;
				}
				switch (SSL_get_error(ssl, r)) {
				case SSL_ERROR_WANT_READ:
					break;
				case SSL_ERROR_WANT_WRITE:
					read_wants_write = 1;
					break;
				case SSL_ERROR_ZERO_RETURN:
					if (shut_state < 2)
						SSL_shutdown(ssl);
					end = 1;
					break;
				case SSL_ERROR_SYSCALL:
				case SSL_ERROR_SSL:
					if (ERR_peek_error() == 0 ||
					    ERR_GET_REASON(ERR_peek_last_error())
					    == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
						ERR_clear_error();
						fprintf(stderr, "cachet shell: "
						    "%s: premature close (no "
						    "close_notify)\n", what);
						end = 1;
						break;
					}
					/* FALLTHROUGH */
				default:
					fprintf(stderr, "cachet shell: %s: %s\n",
					    what, ERR_reason_error_string(
					    ERR_peek_last_error()) ?
					    ERR_reason_error_string(
					    ERR_peek_last_error()) : "read error");
					rc = EX_IO;
					end = 2;
					break;
				}
				break;
			} while (!end);
			/* the do-loop above leaves on WANT_*; anything still
			 * decrypted is read before polling again */
			while (!end && SSL_pending(ssl) > 0) {
				int r = SSL_read(ssl, rx, sizeof rx);
				if (r <= 0)
					break;
				if (out_all(rx, (size_t)r) != 0) {
					rc = EX_IO;
					end = 2;
				}
			}
			if (end == 1) {
				rc = EX_OK;
				break;
			}
			if (end == 2)
				break;
		}

		/* stdin buffer -> server */
		if (txlen > txoff && ((sock_w && !write_wants_read) ||
		    (write_wants_read && sock_r))) {
			int r = SSL_write(ssl, tx + txoff, (int)(txlen - txoff));
			write_wants_read = 0;
			if (r > 0) {
				txoff += (size_t)r;
				if (txoff == txlen)
					txlen = txoff = 0;
			} else {
				switch (SSL_get_error(ssl, r)) {
				case SSL_ERROR_WANT_WRITE:
					break;
				case SSL_ERROR_WANT_READ:
					write_wants_read = 1;
					break;
				default:
					fprintf(stderr, "cachet shell: %s: write "
					    "failed\n", what);
					rc = EX_IO;
					goto done;
				}
			}
		}

		/* stdin -> buffer (only when the last one is gone) */
		if (pf[0].fd >= 0 && (pf[0].revents & (POLLIN | POLLHUP |
		    POLLERR))) {
			ssize_t r = read(0, raw, sizeof raw);
			if (r <= 0) {
				if (r == 0 || (errno != EINTR && errno != EAGAIN))
					stdin_eof = 1;
			} else {
				ssize_t i;
				for (i = 0; i < r; i++) {
					if (crlf && raw[i] == '\n')
						tx[txlen++] = '\r';
					tx[txlen++] = raw[i];
				}
			}
		}
		if (stdin_eof && txlen == 0 && shut_state == 0)
			shut_state = 1;
		if (shut_state == 1) {
			int r = SSL_shutdown(ssl);
			if (r >= 0 || (SSL_get_error(ssl, r) != SSL_ERROR_WANT_WRITE
			    && SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ)) {
				shut_state = 2;
				deadline = time(NULL) + SHUT_WAIT;
				ERR_clear_error();
			}
		}
	}
done:
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	return rc;
}
