/*
 * serve_http.c - the answer on a plain-HTTP (http-listen) connection.
 *
 * Such a connection is read by conn.c like a TLS one, minus TLS: the same
 * parser, the same limits, the same header-timeout.  It gets exactly one
 * answer and is closed (no keep-alive: its clients are a browser about to
 * follow the redirect to https and an ACME validator, one request each):
 *
 *   /.well-known/acme-challenge/TOKEN, with acme-root set: GET or HEAD
 *       serves acme-root/TOKEN as text/plain.  TOKEN is matched on the
 *       target as sent: base64url characters only (RFC 8555 8.3), so no
 *       "..", "/", "%2f" or other spelling reaches a file; anything else
 *       under the folder is 404, never a redirect, never another file.
 *   anything else: 301 (GET, HEAD) or 308 (other methods, which keep their
 *       method and body) to https://HOST[:https-port]PATH[?QUERY].  HOST
 *       is the Host header, checked strictly (a DNS name or an IP literal,
 *       its port dropped); without a usable Host the answer is 400, never a
 *       URL made of junk.  PATH is the canonical path re-encoded (never the
 *       target as sent: "//evil.example/x" becomes "/evil.example/x", so
 *       the Location cannot name another host).  With server blocks, a
 *       Host that names no server (or none at all) is redirected to the
 *       default server's name instead.
 *
 * Nothing else is served in the clear.
 */
#include "config.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"

#define ACME_PREFIX   "/.well-known/acme-challenge/"
#define HOST_MAX      253       /* a DNS name's text, without the port */

/* Host header -> the host part alone in out (port dropped).  A DNS name
 * (labels of letters, digits and '-', 1 to 63 long, dots between, an
 * optional final dot), an IPv4 address (which is such a name) or an IPv6
 * literal in brackets; then an optional ":PORT".  Returns 0, or -1 for
 * anything else (userinfo, spaces, a path, percent signs, ...). */
static int
host_check(const char *h, char *out, size_t outlen)
{
	size_t n, i, label = 0;
	const char *p;

	if (h == NULL || *h == '\0')
		return -1;
	if (h[0] == '[') {
		char a[INET6_ADDRSTRLEN];
		unsigned char bin[16];
		const char *close = strchr(h, ']');
		if (close == NULL || (size_t)(close - h - 1) >= sizeof a)
			return -1;
		n = (size_t)(close - h - 1);
		memcpy(a, h + 1, n);
		a[n] = '\0';
		if (inet_pton(AF_INET6, a, bin) != 1)
			return -1;      /* no zone ids, no IPvFuture */
		n += 2;                 /* with the brackets */
	} else {
		for (n = 0; h[n] != '\0' && h[n] != ':'; n++) {
			char c = h[n];
			if (c == '.') {
				if (label == 0)
					return -1;      /* empty label */
				label = 0;
				continue;
			}
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-'))
				return -1;
			if (++label > 63)
				return -1;
		}
		if (n == 0 || n > HOST_MAX)
			return -1;
	}
	p = h + n;
	if (*p == ':') {                /* a port: 1 to 5 digits, dropped */
		for (i = 1; p[i] >= '0' && p[i] <= '9'; i++)
			;
		if (i == 1 || i > 6 || p[i] != '\0')
			return -1;
	} else if (*p != '\0') {
		return -1;
	}
	if (n >= outlen)
		return -1;
	memcpy(out, h, n);
	out[n] = '\0';
	return 0;
}

static void
redirect(struct conn *c, const char *path)
{
	const struct config *cf = c->w->srv->cf;
	char host[HOST_MAX + 8], loc[HTTP_MAX_LINE + 512], hdr[sizeof loc + 16];
	char port[16] = "", key[HOST_MAX + 8];
	size_t o;
	int n, p = c->w->srv->https_port;
	int ok = host_check(c->req.host, host, sizeof host) == 0;

	/* With server blocks, a Host no server has (or none) is sent to the
	 * default server's name, as nginx's default server does: never to a
	 * name no certificate here covers. */
	if (cf->servers[0]->name != NULL && (!ok || config_host_key(host, key,
	    sizeof key) != 0 || config_server(cf, key) == NULL)) {
		snprintf(host, sizeof host, "%s", cf->servers[cf->dflt]->name);
		ok = 1;
	}
	if (!ok) {
		serve_error(c, 400, NULL, "A Host header naming this server "
		    "is needed for the redirect to https.");
		return;
	}
	if (p != 443 && p > 0)
		snprintf(port, sizeof port, ":%d", p);
	n = snprintf(loc, sizeof loc, "https://%s%s", host, port);
	if (n < 0 || (size_t)n >= sizeof loc)
		goto too_long;
	/* the canonical path always starts with one '/' and has no empty
	 * segment: never "//", never another authority */
	o = path_location(path, "", c->req.target, loc, (size_t)n,
	    sizeof loc);
	if (o == 0 || o >= HTTP_MAX_LINE)
		goto too_long;
	snprintf(hdr, sizeof hdr, "Location: %s\r\n", loc);
	c->w->st->http_redirects++;
	serve_error(c, c->req.method == M_OTHER ? 308 : 301, hdr, NULL);
	return;
too_long:
	serve_error(c, 414, NULL, NULL);
}

/* Is s one or more base64url characters, and nothing else? */
static int
is_token(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
}

static void
acme(struct conn *c)
{
	const char *t = c->req.target + sizeof ACME_PREFIX - 1;
	char token[256];
	size_t n = strcspn(t, "?#");
	struct stat st;
	int fd;

	/* the target as sent, before any decoding */
	if (strncmp(c->req.target, ACME_PREFIX, sizeof ACME_PREFIX - 1) != 0 ||
	    n >= sizeof token || !is_token(t, n)) {
		serve_error(c, 404, NULL, NULL);
		return;
	}
	if (c->req.method == M_OTHER) {
		serve_error(c, 405, "Allow: GET, HEAD\r\n", NULL);
		return;
	}
	memcpy(token, t, n);
	token[n] = '\0';
	fd = path_open(c->w->acmefd, token, &st);   /* no symlink escape */
	if (fd >= 0 && !S_ISREG(st.st_mode)) {
		close(fd);
		fd = -404;
	}
	if (fd < 0) {
		serve_error(c, -fd, NULL, NULL);
		return;
	}
	c->w->st->http_acme++;
	serve_start(c, 200, "text/plain", (long long)st.st_size,
	    "Cache-Control: no-store\r\n");
	if (c->req.method == M_HEAD) {
		close(fd);
		return;
	}
	c->body.fd = fd;                /* conn.c sends it (serve_fill) */
	c->body.off = 0;
	c->body.left = st.st_size;
	c->body.size = st.st_size;
}

/* A request head was parsed on a plain connection: its one answer. */
void
serve_http(struct conn *c)
{
	char rel[PATH_MAX], path[PATH_MAX + 2];
	int rc, slash;

	c->have_req = 1;
	c->keepalive = 0;
	c->w->st->requests++;
	rc = path_canonical(c->req.target, path, sizeof path, rel, sizeof rel,
	    &slash);
	if (rc < 0) {
		serve_error(c, -rc, NULL, NULL);
		return;
	}
	/* The challenge folder, as sent or once resolved, is served
	 * (strictly) or 404: with acme-root set it never redirects. */
	if (c->w->acmefd >= 0 && (strncmp(c->req.target, ACME_PREFIX,
	    sizeof ACME_PREFIX - 1) == 0 || strncmp(path, ACME_PREFIX,
	    sizeof ACME_PREFIX - 1) == 0 ||
	    strcmp(path, "/.well-known/acme-challenge") == 0)) {
		acme(c);
		return;
	}
	redirect(c, path);
}
