/*
 * http.c - HTTP/1.x request parsing and the status table.
 *
 * The parser is strict (RFC 9112): a request line of token, origin-form (or
 * absolute-form) target and HTTP/1.0 or HTTP/1.1; header fields of token,
 * colon, value without control characters; no obsolete line folding; one
 * Host; Content-Length digits only.  It works in place on the connection's
 * buffer and keeps pointers into it.  Limits give 414 (request line) and
 * 431 (head), so a client cannot make the worker buffer without bound.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cachetd.h"

static const struct {
	int         code;
	const char *reason;
} statuses[] = {
	{ 200, "OK" },
	{ 206, "Partial Content" },
	{ 301, "Moved Permanently" },
	{ 302, "Found" },
	{ 303, "See Other" },
	{ 304, "Not Modified" },
	{ 307, "Temporary Redirect" },
	{ 308, "Permanent Redirect" },
	{ 400, "Bad Request" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 408, "Request Timeout" },
	{ 413, "Content Too Large" },
	{ 414, "URI Too Long" },
	{ 416, "Range Not Satisfiable" },
	{ 421, "Misdirected Request" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 503, "Service Unavailable" },
	{ 505, "HTTP Version Not Supported" },
};

const char *
http_reason(int status)
{
	size_t i;

	for (i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
		if (statuses[i].code == status)
			return statuses[i].reason;
	return "Unknown";
}

/* RFC 9110 tchar */
static int
is_tchar(unsigned char c)
{
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Find the end of the line starting at p: returns the index of '\n' or -1. */
static ssize_t
line_end(const char *buf, size_t from, size_t len)
{
	const char *nl = memchr(buf + from, '\n', len - from);

	return nl != NULL ? nl - buf : -1;
}

/* Terminate the line [start, nl) in place, dropping a CR before the LF. */
static size_t
cut_line(char *buf, size_t start, size_t nl)
{
	size_t end = nl;

	if (end > start && buf[end - 1] == '\r')
		end--;
	buf[end] = '\0';
	return end - start;
}

static int
parse_request_line(char *line, size_t len, struct http_request *r)
{
	char *sp1, *sp2, *target;
	size_t i;

	snprintf(r->request_line, sizeof r->request_line, "%s", line);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c < 0x20 || c == 0x7f)
			return -400;
	}
	if ((sp1 = strchr(line, ' ')) == NULL || sp1 == line)
		return -400;
	*sp1 = '\0';
	target = sp1 + 1;
	if ((sp2 = strchr(target, ' ')) == NULL || sp2 == target)
		return -400;
	*sp2 = '\0';
	for (i = 0; line[i] != '\0'; i++)
		if (!is_tchar((unsigned char)line[i]))
			return -400;
	r->method_str = line;
	if (strcmp(line, "GET") == 0)
		r->method = M_GET;
	else if (strcmp(line, "HEAD") == 0)
		r->method = M_HEAD;
	else
		r->method = M_OTHER;

	/* Absolute-form: keep the path part. */
	if (strncasecmp(target, "https://", 8) == 0 ||
	    strncasecmp(target, "http://", 7) == 0) {
		char *p = strstr(target, "//") + 2, *a = p;
		p += strcspn(p, "/?");
		if (*p != '/')
			return -400;
		/* the authority stands for Host (RFC 7230 5.4) */
		if ((size_t)(p - a) >= sizeof r->authority)
			return -400;
		memcpy(r->authority, a, (size_t)(p - a));
		r->authority[p - a] = '\0';
		target = p;
	}
	if (target[0] != '/' && !(target[0] == '*' && target[1] == '\0'))
		return -400;
	r->target = target;

	if (strncmp(sp2 + 1, "HTTP/", 5) != 0)
		return -400;
	{
		const char *v = sp2 + 6;
		if (!isdigit((unsigned char)v[0]) || v[1] != '.' ||
		    !isdigit((unsigned char)v[2]) || v[3] != '\0')
			return -400;
		if (v[0] != '1')
			return -505;
		r->minor = v[2] - '0';
		if (r->minor > 1)
			r->minor = 1;
	}
	return 0;
}

static int
parse_connection(const char *v, struct http_request *r)
{
	const char *p = v;

	while (*p != '\0') {
		size_t n;
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		n = strcspn(p, " \t,");
		if (n == 5 && strncasecmp(p, "close", 5) == 0)
			r->keepalive = 0;
		else if (n == 10 && strncasecmp(p, "keep-alive", 10) == 0 &&
		    r->minor == 0)
			r->keepalive = 1;
		p += n;
	}
	return 0;
}

static int
parse_field(char *line, struct http_request *r, int *seen_cl)
{
	char *colon, *v, *end;
	size_t i;

	if (line[0] == ' ' || line[0] == '\t')
		return -400;            /* obsolete line folding */
	if ((colon = strchr(line, ':')) == NULL || colon == line)
		return -400;
	for (i = 0; line + i < colon; i++)
		if (!is_tchar((unsigned char)line[i]))
			return -400;    /* includes space before colon */
	*colon = '\0';
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	for (i = 0; v[i] != '\0'; i++) {
		unsigned char c = (unsigned char)v[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return -400;
	}

	if (strcasecmp(line, "Host") == 0) {
		if (r->host != NULL)
			return -400;
		r->host = v;
	} else if (strcasecmp(line, "Connection") == 0) {
		parse_connection(v, r);
	} else if (strcasecmp(line, "Content-Length") == 0) {
		long long n = 0;
		if (v[0] == '\0')
			return -400;
		for (i = 0; v[i] != '\0'; i++) {
			if (!isdigit((unsigned char)v[i]))
				return -400;
			if (n > (1LL << 50))
				return -413;
			n = n * 10 + (v[i] - '0');
		}
		if (*seen_cl && n != r->content_length)
			return -400;
		*seen_cl = 1;
		r->content_length = n;
	} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
		return -501;            /* no request bodies of that kind */
	} else if (strcasecmp(line, "User-Agent") == 0) {
		r->user_agent = v;
	} else if (strcasecmp(line, "Referer") == 0) {
		r->referer = v;
	} else if (strcasecmp(line, "If-Modified-Since") == 0) {
		r->if_modified_since = v;
	} else if (strcasecmp(line, "If-None-Match") == 0) {
		r->if_none_match = v;
	} else if (strcasecmp(line, "If-Range") == 0) {
		r->if_range = v;
	} else if (strcasecmp(line, "Range") == 0) {
		if (r->range != NULL)
			r->range = "";  /* two Range fields: ignore both */
		else
			r->range = v;
	} else if (strcasecmp(line, "Accept-Encoding") == 0) {
		r->accept_encoding = v;
	}
	return 0;
}

int
http_parse(char *buf, size_t len, struct http_request *r)
{
	size_t start = 0, pos;
	ssize_t nl;
	int nfields = 0, seen_cl = 0, rc;

	/* Tolerate empty lines before the request line (RFC 9112 2.2). */
	while (start < len && (buf[start] == '\r' || buf[start] == '\n'))
		start++;
	if (start > 8)
		return -400;

	nl = line_end(buf, start, len);
	if (nl < 0)
		return len - start > HTTP_MAX_LINE ? -414 : 0;
	if ((size_t)nl - start > HTTP_MAX_LINE)
		return -414;

	/* Is the whole head here? */
	pos = (size_t)nl + 1;
	for (;;) {
		ssize_t e = line_end(buf, pos, len);
		if (e < 0) {
			if (len >= HTTP_MAX_HEADER)
				return -431;
			return 0;
		}
		if ((size_t)e > HTTP_MAX_HEADER)
			return -431;
		if ((size_t)e == pos || ((size_t)e == pos + 1 && buf[pos] == '\r'))
			break;
		pos = (size_t)e + 1;
	}

	memset(r, 0, sizeof *r);
	rc = parse_request_line(buf + start, cut_line(buf, start, (size_t)nl),
	    r);
	if (rc < 0)
		return rc;
	r->keepalive = r->minor >= 1;

	pos = (size_t)nl + 1;
	for (;;) {
		size_t ll;
		nl = line_end(buf, pos, len);
		ll = cut_line(buf, pos, (size_t)nl);
		if (ll == 0)
			break;
		if (memchr(buf + pos, '\0', ll) != NULL)
			return -400;
		if (++nfields > HTTP_MAX_FIELDS)
			return -431;
		if ((rc = parse_field(buf + pos, r, &seen_cl)) < 0)
			return rc;
		pos = (size_t)nl + 1;
	}
	if (r->minor == 1 && r->host == NULL)
		return -400;
	/* Reparse Connection for HTTP/1.0 once minor is known: done above,
	 * since the request line is parsed first. */
	return (int)(nl + 1);
}

size_t
http_date(char *out, size_t len, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	return strftime(out, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

int
http_parse_date(const char *s, time_t *t)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof tm);
	end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	*t = timegm(&tm);
	return 0;
}
