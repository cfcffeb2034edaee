/*
 * serve_file.c - a file as a response: validators (Last-Modified, a strong
 * ETag), conditional requests in RFC 9110 §13.2.2's order, byte ranges
 * (one range as 206 with Content-Range, several as multipart/byteranges,
 * 416 when none is satisfiable, If-Range), and precompressed siblings
 * (file.gz, file.br) for clients that accept them.  serve.c decides which
 * file; this file decides how it goes out, and serve_fill() feeds
 * conn.c's write step from it piece by piece.
 *
 * The variant sent (plain or precompressed) has its own validators, taken
 * from the file actually sent, so caches never mix the two; every answer
 * for a file that has siblings says Vary: Accept-Encoding.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "conn.h"

/* Precompressed siblings, best first. */
static const struct {
	const char *coding, *suffix;
} siblings[] = {
	{ "br", ".br" },
	{ "gzip", ".gz" },
};

/* With gzip-static on: the best sibling of rel that the client accepts
 * and that is at least as new as rel.  Returns its fd (and stat, coding)
 * or -1 when the plain file goes. */
static int
open_sibling(struct conn *c, const char *rel, const struct stat *plain,
    struct stat *st, const char **coding)
{
	char name[PATH_MAX + 8];
	size_t i;

	for (i = 0; i < sizeof siblings / sizeof siblings[0]; i++) {
		int fd;
		if (accept_encoding_q(c->req.accept_encoding,
		    siblings[i].coding) <= 0)
			continue;
		if (snprintf(name, sizeof name, "%s%s", rel,
		    siblings[i].suffix) >= (int)sizeof name)
			continue;
		fd = path_open(serve_site(c)->rootfd, name, st);
		if (fd < 0)
			continue;
		if (!S_ISREG(st->st_mode) || st->st_mtime < plain->st_mtime) {
			close(fd);
			continue;
		}
		*coding = siblings[i].coding;
		return fd;
	}
	return -1;
}

/* If-Range (RFC 9110 §13.1.5): the range applies only if the validator
 * matches the current file exactly: a strong ETag, or the Last-Modified
 * date itself. */
static int
if_range_holds(struct conn *c, const char *etag, const struct stat *st)
{
	const char *v = c->req.if_range;
	time_t t;

	if (v == NULL)
		return 1;
	if (v[0] == '"' || (v[0] == 'W' && v[1] == '/'))
		return etag_list_match(v, etag, 1) && v[0] == '"';
	return http_parse_date(v, &t) == 0 && t == st->st_mtime;
}

/* 304 (RFC 9110 §13.2.2): If-None-Match when present decides alone;
 * If-Modified-Since counts only without it. */
static int
not_modified(struct conn *c, const char *etag, const struct stat *st)
{
	time_t ims;

	if (c->req.if_none_match != NULL)
		return etag_list_match(c->req.if_none_match, etag, 0);
	return c->req.if_modified_since != NULL &&
	    http_parse_date(c->req.if_modified_since, &ims) == 0 &&
	    st->st_mtime <= ims;
}

/* The part header of range i of a multipart body. */
static int
part_head(const struct body *b, int i, char *out, size_t len)
{
	return snprintf(out, len, "\r\n--%s\r\nContent-Type: %s\r\n"
	    "Content-Range: bytes %lld-%lld/%lld\r\n\r\n", b->boundary,
	    b->ctype, (long long)b->ranges[i].first,
	    (long long)b->ranges[i].last, (long long)b->size);
}

static int
part_tail(const struct body *b, char *out, size_t len)
{
	return snprintf(out, len, "\r\n--%s--\r\n", b->boundary);
}

/* Serve the file fd (rel under the root, stat st) for the request. */
void
serve_file(struct conn *c, int fd, const char *rel, const struct stat *st)
{
	const struct server_conf *cf = serve_site(c)->sc;
	char extra[1024], lm[64], etag[80], crange[96];
	const char *type = mime_lookup(serve_site(c)->mime, rel), *coding = NULL;
	struct byte_range r[RANGE_MAX];
	struct stat vst = *st;
	enum range_result rr = RANGE_NONE;
	struct body *b = &c->body;
	int n = 0, vfd;
	size_t el;

	if (cf->gzip_static &&
	    (vfd = open_sibling(c, rel, st, &vst, &coding)) >= 0) {
		close(fd);
		fd = vfd;
	}
	http_date(lm, sizeof lm, vst.st_mtime);
	etag_make(&vst, etag, sizeof etag);
	el = (size_t)snprintf(extra, sizeof extra, "Last-Modified: %s\r\n"
	    "ETag: %s\r\n%s%s%s%s", lm, etag,
	    cf->gzip_static ? "Vary: Accept-Encoding\r\n" : "",
	    coding ? "Content-Encoding: " : "", coding ? coding : "",
	    coding ? "\r\n" : "");

	if (not_modified(c, etag, &vst)) {
		close(fd);
		serve_start(c, 304, NULL, -1, extra);
		return;
	}
	if (c->req.method == M_GET && c->req.range != NULL &&
	    if_range_holds(c, etag, &vst))
		rr = range_parse(c->req.range, vst.st_size, r, RANGE_MAX, &n);
	snprintf(extra + el, sizeof extra - el, "Accept-Ranges: bytes\r\n");

	memset(b, 0, sizeof *b);
	b->fd = -1;
	b->size = vst.st_size;
	if (rr == RANGE_UNSATISFIABLE) {
		close(fd);
		snprintf(crange, sizeof crange, "Content-Range: bytes */%lld\r\n",
		    (long long)vst.st_size);
		serve_error(c, 416, crange, NULL);
		return;
	}
	if (rr == RANGE_OK && n == 1) {
		snprintf(crange, sizeof crange, "Content-Range: bytes "
		    "%lld-%lld/%lld\r\n", (long long)r[0].first,
		    (long long)r[0].last, (long long)vst.st_size);
		strncat(extra, crange, sizeof extra - strlen(extra) - 1);
		b->off = r[0].first;
		b->left = r[0].last - r[0].first + 1;
		serve_start(c, 206, type, (long long)b->left, extra);
	} else if (rr == RANGE_OK) {
		char ct[200], tmp[300];
		long long total = 0;
		int i;
		b->ranges = malloc((size_t)n * sizeof *b->ranges);
		if (b->ranges == NULL) {
			close(fd);
			serve_error(c, 503, NULL, NULL);
			return;
		}
		memcpy(b->ranges, r, (size_t)n * sizeof *r);
		b->nranges = n;
		{
			unsigned char rnd[8];
			if (RAND_bytes(rnd, sizeof rnd) != 1)
				memset(rnd, 0x5a, sizeof rnd);
			for (i = 0; i < 8; i++)
				snprintf(b->boundary + 2 * i, 3, "%02x", rnd[i]);
		}
		snprintf(b->ctype, sizeof b->ctype, "%s", type);
		for (i = 0; i < n; i++)
			total += part_head(b, i, tmp, sizeof tmp) +
			    (r[i].last - r[i].first + 1);
		total += part_tail(b, tmp, sizeof tmp);
		snprintf(ct, sizeof ct, "multipart/byteranges; boundary=%s",
		    b->boundary);
		serve_start(c, 206, ct, total, extra);
	} else {
		b->off = 0;
		b->left = vst.st_size;
		serve_start(c, 200, type, (long long)vst.st_size, extra);
	}
	if (c->req.method == M_HEAD) {
		close(fd);
		serve_body_end(c);
		return;
	}
	b->fd = fd;
}

/* Append as much of the body as fits in c->out. */
int
serve_fill(struct conn *c)
{
	struct body *b = &c->body;

	while (c->outlen < OUT_SIZE) {
		size_t room = OUT_SIZE - c->outlen;
		if (b->left > 0) {
			ssize_t n = pread(b->fd, c->out + c->outlen,
			    (off_t)room < b->left ? room : (size_t)b->left,
			    b->off);
			if (n <= 0)
				return -1;
			c->outlen += (size_t)n;
			b->off += n;
			b->left -= n;
			c->body_bytes += n;
			continue;
		}
		if (b->nranges > 1 && b->next < b->nranges) {
			char h[300];
			int hl = part_head(b, b->next, h, sizeof h);
			if ((size_t)hl > room)
				return 1;       /* next time, whole */
			memcpy(c->out + c->outlen, h, (size_t)hl);
			c->outlen += (size_t)hl;
			c->body_bytes += hl;
			b->off = b->ranges[b->next].first;
			b->left = b->ranges[b->next].last - b->off + 1;
			b->next++;
			continue;
		}
		if (b->nranges > 1 && !b->closed) {
			char t[64];
			int tl = part_tail(b, t, sizeof t);
			if ((size_t)tl > room)
				return 1;
			memcpy(c->out + c->outlen, t, (size_t)tl);
			c->outlen += (size_t)tl;
			c->body_bytes += tl;
			b->closed = 1;
			continue;
		}
		serve_body_end(c);      /* all of it is in the buffer */
		return 0;
	}
	return 1;
}

void
serve_body_end(struct conn *c)
{
	struct body *b = &c->body;

	if (b->fd >= 0)
		close(b->fd);
	free(b->ranges);
	memset(b, 0, sizeof *b);
	b->fd = -1;
}
