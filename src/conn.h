/*
 * conn.h - the connection record, shared by the files that act on one
 * connection: conn.c (the state machine: TLS, reading, writing,
 * deadlines), conn_life.c (its buffers, the idle queue, freeing),
 * serve.c (routing a request and building its response), serve_file.c
 * (a file as the response), serve_http.c (the plain-HTTP listener's one
 * answer) and auth_conn.c (asking for a client certificate in the middle
 * of a connection).  Nothing else sees a struct conn.
 */
#ifndef CONN_H
#define CONN_H

#include <netinet/in.h>

#include <ev.h>

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

enum auth_kind { AK_NONE = 0, AK_RENEG, AK_PHA };

struct conn {
	struct conn        *next, *prev;
	struct worker      *w;
	int                 fd;
	SSL                *ssl;           /* NULL: plain HTTP (http-listen) */
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
	ev_tstamp           req_start;     /* its first bytes came (0: none) */
	int                 bad_req;       /* a head refused: req has what
	                                    * was parsed of it, for the log */
	unsigned            nreq;          /* requests answered */

	/* client certificate */
	enum auth_kind      auth;          /* a renegotiation / PHA running */
	int                 auth_sent;     /* HelloRequest/CertRequest out */
	int                 auth_done;     /* PHA: client Finished seen */
	int                 asked;         /* asked during this request */
	unsigned            auth_rounds;
	unsigned            key_updates;   /* KeyUpdate messages received */
	int                 close_after;   /* requests were dropped: close */
	size_t              auth_discarded; /* bytes dropped during CS_AUTH */
	const struct auth_policy *verified; /* policy the peer satisfied */
	const struct auth_policy *server_ok; /* verify-client = require:
	                                   * the server's, checked */
	char                subject[256];
	const char         *verify_res;    /* for the access log */

	/* response */
	char               *out;
	size_t              outlen, outoff;
	struct body {       /* what follows the head (serve_file.c fills) */
		int         fd;             /* the file, or -1 */
		off_t       off, left;      /* the current piece of it */
		off_t       size;           /* the whole file */
		struct byte_range *ranges;  /* multipart: the parts */
		int         nranges, next;
		int         closed;         /* multipart: last boundary out */
		char        boundary[24];
		char        ctype[128];
	}                   body;
	const struct location *loc;    /* the route taken (headers) */
	int                 status;
	int                 keepalive;
	int                 more;          /* more follows this write
	                                    * (MSG_MORE; conn.c wbio) */
	int                 quiet;         /* the client sends no more:
	                                    * close once close_notify is out */
	unsigned            resp_writes;   /* SSL_writes of this response */
	long long           body_bytes;
};

/* conn.c */
void             conn_deadline(struct conn *, double secs);
/* conn_life.c */
int              conn_buffers(struct conn *);           /* 0 or -1 */
void             conn_release_buffers(struct conn *);
void             conn_idle_enter(struct conn *);
void             conn_idle_leave(struct conn *);
void             conn_free(struct conn *);
void             conn_peer_text(const struct sockaddr_storage *, char *out,
                     size_t len);
/* An SSL result as a wait: 1 waiting (return to the loop), 0 the peer
 * closed cleanly, -1 an error. */
int              conn_ssl_wait(struct conn *, int ret);
void             conn_close(struct conn *, const char *why); /* frees */

/* serve.c: the response to a complete request, or an error page.  Both
 * leave the connection in CS_WRITE (or CS_AUTH, when a certificate is
 * asked for first). */
void             serve_head(struct conn *);     /* a head was parsed */
void             serve_start(struct conn *, int status, const char *type,
                     long long length, const char *extra);
/* serve_file.c: the file fd (rel, st) as the answer to the request. */
void             serve_file(struct conn *, int fd, const char *rel,
                     const struct stat *);
void             serve_request(struct conn *);  /* head and body read */
void             serve_log(struct conn *);      /* the response went out */
/* Append body bytes to c->out (from c->outlen).  Returns 1 when some were
 * added, 0 when the body is complete, -1 on a read error. */
int              serve_fill(struct conn *);
void             serve_body_end(struct conn *); /* close, free */
void             serve_error(struct conn *, int status, const char *extra_hdr,
                     const char *detail);
/* The site answering c: the one SNI chose (TLS), the Host's (plain). */
const struct site *serve_site(struct conn *);

/* serve_http.c: the one answer on a plain-HTTP connection (c->ssl is
 * NULL): a redirect to https, an ACME challenge file, or an error. */
void             serve_http(struct conn *);

/* auth.c: may this connection see loc (canonical path given for the
 * log)?  1: yes.  0: an answer is on its way (a certificate request was
 * started and the connection is in CS_AUTH, or a 403). */
int              auth_server(struct conn *, const char *path);
int              auth_request(struct conn *, const struct location *,
                     const char *path);
/* Fill subject and verify_res for the access log from a certificate no
 * location checked. */
void             auth_identity(struct conn *);
int              auth_step(struct conn *);      /* the CS_AUTH state */

#endif
