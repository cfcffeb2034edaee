/*
 * floor.c - the least an HTTPS server can do per connection: a benchmark
 * baseline for cachetd (bench/floor.sh), not a server to run.
 *
 *   floor -c CERT -k KEY -p PORT [-w WORKERS] [-l ACCESSLOG] [-M]
 *
 * Each of WORKERS processes (default 1) listens on its own SO_REUSEPORT
 * socket on 127.0.0.1:PORT and runs one epoll loop.  Per connection:
 * accept4, TLS handshake (1.2 or 1.3, OpenSSL's internal session cache,
 * stateful resumption only: session IDs in 1.2, one stateful ticket in
 * 1.3), read until the end of one request head, one fixed response of
 * 100 bytes in one SSL_write, close_notify, close.  With -l, one access
 * log line per request goes to the file with write(2).
 *
 * No HTTP parsing, no file, no shared cache, no timers: what remains is
 * the cost of TLS and TCP for this OpenSSL and this kernel.  As cachetd
 * does, the response and close_notify are sent "more follows" (MSG_MORE)
 * and leave with close()'s FIN in one segment; -M sends them as plain
 * writes (two segments, then the FIN).
 *
 * The internal session cache is per process: resumption across workers
 * misses, so the floor is measured with one worker.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAX_WORKERS 64
#define MAX_EVENTS  64
#define REQ_MAX     4096

static const char response[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/html\r\n"
    "Content-Length: 100\r\n"
    "Connection: close\r\n"
    "\r\n"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n";

enum state { HANDSHAKE, REQUEST, RESPOND };

struct conn {
	int                 fd;
	int                 want_write;  /* waiting for EPOLLOUT, not EPOLLIN */
	int                 more;        /* writes are sent MSG_MORE */
	enum state          st;
	SSL                *ssl;
	struct sockaddr_in  peer;
	size_t              got;
	char                req[REQ_MAX];
};

static SSL_CTX *ctx;
static BIO_METHOD *more_method;
static int logfd = -1;
static pid_t kids[MAX_WORKERS];
static int nkids;

static void
die(const char *what)
{
	fprintf(stderr, "floor: %s: %s\n", what, errno ? strerror(errno) :
	    "TLS error");
	ERR_print_errors_fp(stderr);
	exit(1);
}

/*
 * The write half of a connection's BIO pair: send(2), "more follows"
 * once the response is on its way, so that the response, close_notify
 * and the FIN of close() share one segment.  Reads stay on OpenSSL's
 * socket BIO.
 */
static int
more_write(BIO *b, const char *buf, int len)
{
	struct conn *c = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	n = send(c->fd, buf, (size_t)len,
	    MSG_NOSIGNAL | (c->more ? MSG_MORE : 0));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		BIO_set_retry_write(b);
	return (int)n;
}

static long
more_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b, (void)num, (void)ptr;
	return cmd == BIO_CTRL_FLUSH;
}

static void
tls_setup(const char *cert, const char *key, int plain)
{
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL)
		die("SSL_CTX_new");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		die(cert);
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		die(key);
	/* Stateful resumption as cachetd and nginx (tickets off) do it:
	 * session IDs in TLS 1.2, one stateful ticket per handshake in 1.3,
	 * both kept in OpenSSL's cache of this process. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_num_tickets(ctx, 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"floor", 5);
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_clear_mode(ctx, SSL_MODE_AUTO_RETRY);
	if (plain)
		return;
	more_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
	    "floor-more");
	if (more_method == NULL ||
	    !BIO_meth_set_write(more_method, more_write) ||
	    !BIO_meth_set_ctrl(more_method, more_ctrl))
		die("BIO_meth_new");
}

static int
listener(int port)
{
	struct sockaddr_in sin;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
		die("setsockopt");
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0)
		die("bind");
	if (listen(fd, 511) != 0)
		die("listen");
	return fd;
}

static void
drop(struct conn *c)
{
	SSL_free(c->ssl);               /* NULL-safe */
	close(c->fd);                   /* also leaves the epoll set */
	free(c);
	ERR_clear_error();
}

/* One combined-format line, the date formatted once a second. */
static void
log_request(struct conn *c)
{
	static time_t last;
	static char date[40];
	char line[REQ_MAX + 256], addr[INET_ADDRSTRLEN];
	const char *eol, *ua, *uae;
	time_t now = time(NULL);
	int n, rl, ual = 1;

	if (now != last) {
		struct tm tm;

		strftime(date, sizeof date, "%d/%b/%Y:%H:%M:%S %z",
		    localtime_r(&now, &tm));
		last = now;
	}
	inet_ntop(AF_INET, &c->peer.sin_addr, addr, sizeof addr);
	eol = memchr(c->req, '\r', c->got);
	rl = (int)(eol - c->req);
	ua = strstr(c->req, "\r\nUser-Agent: ");
	if (ua != NULL && (uae = strstr(ua + 14, "\r\n")) != NULL) {
		ua += 14;
		ual = (int)(uae - ua);
	} else
		ua = "-";
	n = snprintf(line, sizeof line, "%s - - [%s] \"%.*s\" 200 100 \"-\" "
	    "\"%.*s\"\n", addr, date, rl, c->req, ual, ua);
	if (n > (int)sizeof line)
		n = sizeof line;
	(void)!write(logfd, line, (size_t)n);
}

/* An SSL call returned r <= 0: 0 to wait for the socket, -1 to drop. */
static int
wait_or_fail(struct conn *c, int r)
{
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		c->want_write = 0;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		c->want_write = 1;
		return 0;
	default:
		return -1;
	}
}

/* Move the connection on as far as the socket allows: 0 wait, -1 done. */
static int
step(struct conn *c)
{
	int r;

	switch (c->st) {
	case HANDSHAKE:
		if ((r = SSL_do_handshake(c->ssl)) <= 0)
			return wait_or_fail(c, r);
		c->st = REQUEST;
		/* FALLTHROUGH */
	case REQUEST:
		do {
			if (c->got == sizeof c->req - 1)
				return -1;      /* head too long */
			r = SSL_read(c->ssl, c->req + c->got,
			    (int)(sizeof c->req - 1 - c->got));
			if (r <= 0)
				return wait_or_fail(c, r);
			c->got += (size_t)r;
			c->req[c->got] = '\0';
		} while (strstr(c->req, "\r\n\r\n") == NULL);
		if (logfd >= 0)
			log_request(c);
		c->st = RESPOND;
		c->more = 1;
		/* FALLTHROUGH */
	case RESPOND:
		if ((r = SSL_write(c->ssl, response, sizeof response - 1)) <= 0)
			return wait_or_fail(c, r);
		/* close_notify, without waiting for the client's; a failure
		 * only means the session leaves the cache. */
		SSL_shutdown(c->ssl);
		return -1;
	}
	return -1;
}

static void
accept_one(int lfd, int ep)
{
	struct epoll_event ev;
	struct conn *c;
	socklen_t sl;
	BIO *wbio;
	int fd, one = 1;

	if ((c = malloc(sizeof *c)) == NULL)
		return;
	sl = sizeof c->peer;
	fd = accept4(lfd, (struct sockaddr *)&c->peer, &sl,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		free(c);
		return;
	}
	c->fd = fd;
	c->want_write = c->more = 0;
	c->st = HANDSHAKE;
	c->got = 0;
	c->ssl = NULL;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if ((c->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(c->ssl, fd) != 1)
		goto fail;
	if (more_method != NULL) {
		if ((wbio = BIO_new(more_method)) == NULL)
			goto fail;
		BIO_set_data(wbio, c);
		BIO_set_init(wbio, 1);
		SSL_set0_wbio(c->ssl, wbio);
	}
	SSL_set_accept_state(c->ssl);
	/* Edge-triggered, both directions, once: no epoll_ctl afterwards. */
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		goto fail;
	return;
fail:
	drop(c);
}

static void
worker(int lfd)
{
	struct epoll_event ev, evs[MAX_EVENTS];
	int ep, i, n;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1");
	ev.events = EPOLLIN;            /* level: one accept per event */
	ev.data.ptr = NULL;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0)
		die("epoll_ctl");
	for (;;) {
		n = epoll_wait(ep, evs, MAX_EVENTS, -1);
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			uint32_t e = evs[i].events;

			if (c == NULL) {
				accept_one(lfd, ep);
				continue;
			}
			/* Writable alone wakes only a connection that waits
			 * to write: the first EPOLLOUT after accept does not
			 * cost a read that finds nothing. */
			if (!(e & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) &&
			    !c->want_write)
				continue;
			if (step(c) < 0)
				drop(c);
		}
	}
}

static void
on_term(int sig)
{
	int i;

	for (i = 0; i < nkids; i++)
		kill(kids[i], sig);
}

static void
usage(void)
{
	fprintf(stderr, "usage: floor -c cert -k key -p port [-w workers] "
	    "[-l accesslog] [-M]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *cert = NULL, *key = NULL, *logpath = NULL;
	int ch, port = 0, nworkers = 1, plain = 0, i, fds[MAX_WORKERS];
	struct sigaction sa;

	while ((ch = getopt(argc, argv, "c:k:l:Mp:w:")) != -1) {
		switch (ch) {
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'l': logpath = optarg; break;
		case 'M': plain = 1; break;
		case 'p': port = atoi(optarg); break;
		case 'w': nworkers = atoi(optarg); break;
		default: usage();
		}
	}
	if (cert == NULL || key == NULL || port <= 0 || port > 65535 ||
	    nworkers < 1 || nworkers > MAX_WORKERS || optind != argc)
		usage();
	signal(SIGPIPE, SIG_IGN);
	tls_setup(cert, key, plain);
	if (logpath != NULL && (logfd = open(logpath,
	    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
		die(logpath);
	/* Every socket is bound before any worker runs: a port in use is
	 * an error at start. */
	for (i = 0; i < nworkers; i++)
		fds[i] = listener(port);

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (i = 0; i < nworkers; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			int j;

			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			for (j = 0; j < nworkers; j++)
				if (j != i)
					close(fds[j]);
			worker(fds[i]);
		}
		kids[nkids++] = pid;
	}
	for (i = 0; i < nworkers; i++)
		close(fds[i]);
	/* Until every worker is gone (SIGTERM is passed on to them). */
	while (wait(NULL) > 0 || errno == EINTR)
		;
	SSL_CTX_free(ctx);
	BIO_meth_free(more_method);
	return 0;
}
