/*
 * serve.c - from a complete request to its response: routing (the
 * canonical path, its location, the status page, the access policy) and
 * the responses themselves (files, redirects, error pages).  conn.c calls
 * serve_request() once the head (and any body) is read, and sends what
 * is left in c->out and c->filefd.
 *
 * Every decision is made on the canonical path from path_canonical(), the
 * same path the file is opened by: no spelling of a path reaches a file
 * under another path's rules.  And every one is the connection's server's
 * (the one SNI chose): a request whose Host names another server is 421,
 * so a certificate one server's policy accepts never reaches another's
 * locations, whatever Host says.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"

/* The host a request names: its absolute-form authority, else Host. */
static const char *
request_host(const struct conn *c)
{
	return c->req.authority[0] != '\0' ? c->req.authority : c->req.host;
}

const struct site *
serve_site(struct conn *c)
{
	if (c->ssl != NULL)
		return tls_site(c->w->srv, c->ssl);
	return server_site(c->w->srv, c->have_req ? request_host(c) : NULL);
}

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

/* The configured header lines, appended at out + n.  Returns the new
 * length (or OUT_SIZE when full). */
static int
add_headers(struct conn *c, int n)
{
	const struct server_conf *sc = serve_site(c)->sc;
	char *const *lists[2];
	size_t counts[2], i, k;

	if (c->ssl == NULL)
		return n;       /* plain HTTP: the site's headers (HSTS) are
		                 * for its https answers (RFC 6797 7.2) */
	lists[0] = sc->headers;
	counts[0] = sc->nheaders;
	lists[1] = c->loc != NULL ? c->loc->headers : NULL;
	counts[1] = c->loc != NULL ? c->loc->nheaders : 0;
	for (k = 0; k < 2; k++)
		for (i = 0; i < counts[k] && n > 0 && n < OUT_SIZE; i++)
			n += snprintf(c->out + n, OUT_SIZE - (size_t)n,
			    "%s\r\n", lists[k][i]);
	return n;
}

/* Put the status line and common headers into out.  extra is a block of
 * complete header lines (or NULL); length < 0: no Content-Length (304).
 * The configured headers (server, then the route's location) follow. */
void
serve_start(struct conn *c, int status, const char *type,
    long long length, const char *extra)
{
	char cl[48] = "";
	int n;

	c->status = status;
	if (length >= 0)
		snprintf(cl, sizeof cl, "Content-Length: %lld\r\n", length);
	n = snprintf(c->out, OUT_SIZE,
	    "HTTP/1.1 %d %s\r\n"
	    "Server: %s\r\n"
	    "Date: %s\r\n"
	    "%s%s%s"
	    "%s"
	    "%s",
	    status, http_reason(status), CACHETD_NAME, date_now(),
	    type ? "Content-Type: " : "", type ? type : "", type ? "\r\n" : "",
	    cl, extra ? extra : "");
	n = add_headers(c, n);
	if (n > 0 && (size_t)n < OUT_SIZE)
		n += snprintf(c->out + n, OUT_SIZE - (size_t)n,
		    "Connection: %s\r\n\r\n", c->keepalive ? "keep-alive" :
		    "close");
	c->outlen = n > 0 && (size_t)n < OUT_SIZE ? (size_t)n : 0;
	c->outoff = 0;
	c->state = CS_WRITE;
	conn_deadline(c, c->w->srv->cf->send_timeout);
}

/* The site's own page for status, from error-pages: STATUS.html in that
 * folder, sent as it is with the status (no ranges, no validators).
 * Returns -1 when there is none, and the built-in page goes. */
static int
error_page(struct conn *c, int status, const char *extra_hdr)
{
	const struct site *site = serve_site(c);
	char rel[PATH_MAX];
	struct stat st;
	int fd;

	if (snprintf(rel, sizeof rel, "%s/%d.html",
	    site->sc->error_pages + 1, status) >= (int)sizeof rel)
		return -1;
	if ((fd = path_open(site->rootfd, rel, &st)) < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -1;
	}
	serve_start(c, status, "text/html; charset=utf-8",
	    (long long)st.st_size, extra_hdr);
	if ((c->have_req && c->req.method == M_HEAD) || st.st_size == 0) {
		close(fd);
		return 0;
	}
	memset(&c->body, 0, sizeof c->body);
	c->body.fd = fd;
	c->body.left = st.st_size;
	c->body.size = st.st_size;
	return 0;
}

/* A short HTML error page.  Errors before a request was understood close
 * the connection: its framing cannot be trusted. */
void
serve_error(struct conn *c, int status, const char *extra_hdr,
    const char *detail)
{
	char body[2048];
	int bl;

	/* The framing of what follows cannot be trusted after these. */
	if (!c->have_req || status == 400 || status == 408 ||
	    status == 413 || status == 414 || status == 431 || status >= 500)
		c->keepalive = 0;
	/* plain HTTP (http-listen) sends nothing of the site in the clear */
	if (status >= 400 && c->ssl != NULL &&
	    serve_site(c)->sc->error_pages != NULL &&
	    error_page(c, status, extra_hdr) == 0)
		return;
	bl = snprintf(body, sizeof body, "<html><head><title>%d %s</title>"
	    "</head><body><h1>%d %s</h1>%s%s%s</body></html>\n", status,
	    http_reason(status), status, http_reason(status),
	    detail ? "<p>" : "", detail ? detail : "", detail ? "</p>" : "");
	if (bl < 0)
		bl = 0;
	if ((size_t)bl >= sizeof body)
		bl = (int)sizeof body - 1;      /* never past the page */
	serve_start(c, status, "text/html; charset=utf-8", bl, extra_hdr);
	if (!(c->have_req && c->req.method == M_HEAD) &&
	    c->outlen + (size_t)bl <= OUT_SIZE) {
		memcpy(c->out + c->outlen, body, (size_t)bl);
		c->outlen += (size_t)bl;
		c->body_bytes = bl;
	}
}

static void
serve_status(struct conn *c, const struct location *loc)
{
	const char *q = strchr(c->req.target, '?');
	int json = q != NULL && strstr(q, "format=json") != NULL;
	char body[4096];
	size_t n;

	if (!status_allowed(loc, c->peer)) {
		serve_error(c, 403, NULL, NULL);
		return;
	}
	n = status_render(c->w->srv, json, body, sizeof body);
	serve_start(c, 200, json ? "application/json" :
	    "text/plain; charset=utf-8", (long long)n,
	    "Cache-Control: no-store\r\n");
	if (c->req.method != M_HEAD && c->outlen + n <= OUT_SIZE) {
		memcpy(c->out + c->outlen, body, n);
		c->outlen += n;
		c->body_bytes = (long long)n;
	}
}

/* The access-log line of the response just sent. */
void
serve_log(struct conn *c)
{
	struct access_entry e;

	if (c->ssl == NULL)
		c->w->st->http_requests++;      /* every answer on http-listen */
	if (c->w->srv->access_fd < 0)
		return;
	if (c->ssl != NULL)
		auth_identity(c);
	memset(&e, 0, sizeof e);
	e.peer = c->peer;
	if (c->have_req || c->bad_req) {
		e.request_line = c->req.request_line;
		e.referer = c->req.referer;
		e.user_agent = c->req.user_agent;
	}
	if (c->ssl == NULL) {           /* http-listen */
		e.protocol = "http";
		e.cipher = "-";
	} else {
		e.protocol = SSL_get_version(c->ssl);
		e.cipher = SSL_get_cipher_name(c->ssl);
		e.reused = SSL_session_reused(c->ssl);
		e.server_name = SSL_get_servername(c->ssl,
		    TLSEXT_NAMETYPE_host_name);
	}
	e.subject = c->subject;
	e.verify = c->verify_res;
	e.server = serve_site(c)->sc->name;
	e.status = c->status;
	e.bytes = c->body_bytes;
	e.request_time = c->req_start > 0 ?
	    ev_time() - c->req_start : -1;
	if (e.request_time < 0 && c->req_start > 0)
		e.request_time = 0;     /* the clock stepped back */
	access_log(&e);
}

/* A request head was parsed: decide what comes next. */
void
serve_head(struct conn *c)
{
	c->have_req = 1;
	c->asked = 0;
	c->keepalive = c->req.keepalive && !c->w->stopping && !c->close_after;
	if (c->req.content_length > HTTP_MAX_BODY) {
		c->w->st->requests++;
		serve_error(c, 413, NULL, NULL);
		return;
	}
	if (c->req.content_length > 0) {
		c->body_left = c->req.content_length;
		c->state = CS_BODY;     /* serve_request() once it is read */
		return;
	}
	serve_request(c);
}

/* return = "CODE URL": the redirect, with $request_uri standing for the
 * request's canonical path (escaped) and query: never the target as sent,
 * so "//evil.example" cannot turn into another host. */
static void
serve_return(struct conn *c, const char *ret, const char *path)
{
	char url[HTTP_MAX_LINE], hdr[HTTP_MAX_LINE + 16];
	const char *u, *v;
	int code = (int)strtol(ret, (char **)&u, 10);
	size_t o = 0;

	while (*u == ' ')
		u++;
	for (v = u; *v != '\0'; ) {
		if (strncmp(v, "$request_uri", 12) == 0) {
			o = path_location(path, "", c->req.target, url, o,
			    sizeof url);
			v += 12;
		} else if (o + 1 < sizeof url) {
			url[o++] = *v++;
			url[o] = '\0';
		} else {
			o = 0;
		}
		if (o == 0) {
			serve_error(c, 414, NULL, NULL);
			return;
		}
	}
	url[o] = '\0';
	snprintf(hdr, sizeof hdr, "Location: %s\r\n", url);
	serve_error(c, code, hdr, NULL);
}

/* The decisions one canonical path brings: its location's status page,
 * or its access policy.  1: go on and serve the file; 0: answered (the
 * status page, a 403) or a certificate request is under way. */
static int
route(struct conn *c, const char *path)
{
	const struct location *loc = config_location(serve_site(c)->sc, path);

	c->loc = loc;
	if (!auth_server(c, path))
		return 0;
	if (loc == NULL)
		return 1;
	if (loc->ret != NULL) {
		serve_return(c, loc->ret, path);
		return 0;
	}
	if (loc->status) {
		serve_status(c, loc);
		return 0;
	}
	if (auth_needs_cert(&loc->acc) && !auth_request(c, loc, path))
		return 0;
	return 1;
}

/* Does the request name another server than the connection's?  Host
 * (or the authority) is looked up as SNI is: a name no server has is the
 * default server's.  No Host (HTTP/1.0) is the connection's server. */
static int
misdirected(struct conn *c, const struct site *site)
{
	const char *host = request_host(c);

	if (site->sc->name == NULL || host == NULL)
		return 0;       /* one implicit server: every name is its */
	return server_site(c->w->srv, host) != site;
}

/* Build the response for a complete, understood request.  Every decision
 * below is made on the canonical path (path_canonical), the same one the
 * file is opened by. */
void
serve_request(struct conn *c)
{
	char rel[PATH_MAX], path[PATH_MAX + 2], idx[PATH_MAX + 256];
	char ipath[sizeof idx + 1];
	const struct site *site = serve_site(c);
	struct stat st;
	int rc, slash, fd;

	if (!c->asked)
		c->w->st->requests++;
	c->loc = NULL;
	if (misdirected(c, site)) {
		serve_error(c, 421, NULL, "This connection is for another "
		    "server name than the request's Host.");
		return;
	}
	if (c->req.method == M_OTHER) {
		serve_error(c, 405, "Allow: GET, HEAD\r\n", NULL);
		return;
	}
	rc = path_canonical(c->req.target, path, sizeof path, rel, sizeof rel,
	    &slash);
	if (rc < 0) {
		serve_error(c, -rc, NULL, NULL);
		return;
	}
	if (!route(c, path))
		return;
	fd = path_open(site->rootfd, rel, &st);
	if (fd < 0) {
		serve_error(c, -fd, NULL, NULL);
		return;
	}
	if (S_ISREG(st.st_mode) && slash) {
		close(fd);      /* "file.txt/" names no file */
		serve_error(c, 404, NULL, NULL);
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		if (!slash && rel[0] != '\0') {
			/* Built from the canonical path, never from the
			 * target: always a path on this server. */
			char hdr[HTTP_MAX_LINE + 16];
			size_t n = (size_t)snprintf(hdr, sizeof hdr,
			    "Location: ");
			if ((n = path_location(path, "/", c->req.target, hdr,
			    n, HTTP_MAX_LINE)) == 0) {
				serve_error(c, 414, NULL, NULL);
				return;
			}
			snprintf(hdr + n, sizeof hdr - n, "\r\n");
			serve_error(c, 301, hdr, NULL);
			return;
		}
		snprintf(idx, sizeof idx, "%s%s%s", rel, rel[0] ? "/" : "",
		    site->sc->index);
		/* The index is a file of its own: its path is routed again,
		 * as nginx's internal redirect and Apache's subrequest do,
		 * so a location on ".../index.html" holds for ".../". */
		snprintf(ipath, sizeof ipath, "/%s", idx);
		if (!route(c, ipath))
			return;
		fd = path_open(site->rootfd, idx, &st);
		if (fd == -404) {
			serve_error(c, 403, NULL, "No index and no listing.");
			return;
		}
		if (fd < 0) {
			serve_error(c, -fd, NULL, NULL);
			return;
		}
		if (!S_ISREG(st.st_mode)) {
			close(fd);
			serve_error(c, 403, NULL, NULL);
			return;
		}
		serve_file(c, fd, idx, &st);
		return;
	}
	serve_file(c, fd, rel, &st);
}
