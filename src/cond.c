/*
 * cond.c - the rules of conditional and partial requests (RFC 9110 §8.8,
 * §12.5.3, §13, §14), as pure functions over header values: entity tags,
 * If-None-Match lists, byte ranges, and Accept-Encoding q-values.  serve.c
 * applies them to a file; nothing here touches a connection or a file.
 *
 * Every parser refuses rather than guesses: a malformed Range is ignored
 * (the whole file is sent, as RFC 9110 §14.2 allows), numbers that do not
 * fit an off_t are malformed, and the count of ranges is capped.
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cachetd.h"

/* A strong tag from what changes when the file does: inode, size and
 * modification time in nanoseconds.  Two files never share all three. */
size_t
etag_make(const struct stat *st, char *out, size_t len)
{
	int n = snprintf(out, len, "\"%llx-%llx-%llx\"",
	    (unsigned long long)st->st_ino, (unsigned long long)st->st_size,
	    (unsigned long long)st->st_mtim.tv_sec * 1000000000ULL +
	    (unsigned long long)st->st_mtim.tv_nsec);

	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

/* One entity-tag at *p (W/"..." or "..."); on success *p moves past it
 * and tag/taglen give the opaque part with its quotes. */
static int
next_tag(const char **p, int *weak, const char **tag, size_t *taglen)
{
	const char *s = *p, *e;

	*weak = 0;
	if (s[0] == 'W' && s[1] == '/') {
		*weak = 1;
		s += 2;
	}
	if (*s != '"')
		return -1;
	for (e = s + 1; *e != '"'; e++)
		if (*e == '\0' || (unsigned char)*e < 0x21 ||
		    (unsigned char)*e == 0x7f)
			return -1;
	*tag = s;
	*taglen = (size_t)(e - s) + 1;
	*p = e + 1;
	return 0;
}

/* Does the list (If-None-Match or If-Match form) match our strong etag?
 * "*" matches any current file.  strong: the strong comparison (If-Range,
 * If-Match); else the weak one (If-None-Match), where W/ is ignored.
 * A malformed list matches nothing. */
int
etag_list_match(const char *list, const char *etag, int strong)
{
	const char *p = list;
	size_t el = strlen(etag);

	while (*p == ' ' || *p == '\t')
		p++;
	if (p[0] == '*') {
		for (p++; *p == ' ' || *p == '\t'; p++)
			;
		return *p == '\0';
	}
	for (;;) {
		const char *tag;
		size_t tl;
		int weak;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			return 0;
		if (next_tag(&p, &weak, &tag, &tl) != 0)
			return 0;
		if ((!strong || !weak) && tl == el && memcmp(tag, etag, tl) == 0)
			return 1;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != ',' && *p != '\0')
			return 0;
	}
}

/* A decimal off_t, no sign, no overflow.  Returns the end or NULL. */
static const char *
parse_off(const char *s, off_t *v)
{
	uint64_t n = 0;

	if (!isdigit((unsigned char)*s))
		return NULL;
	for (; isdigit((unsigned char)*s); s++) {
		if (n > ((uint64_t)INT64_MAX - 9) / 10)
			return NULL;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*v = (off_t)n;
	return s;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct byte_range *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

/* Parse a Range header against a file of size bytes.  Ranges come out
 * resolved (first..last inclusive, within the file), in the order sent.
 * RANGE_NONE: malformed or not bytes: ignore it, send the whole file;
 * RANGE_WHOLE: too many ranges, or ranges that overlap (range
 * amplification, as Apache's MaxRanges and OpenBSD httpd refuse it): send
 * the whole file once; RANGE_UNSATISFIABLE: 416; RANGE_OK: *n ranges. */
enum range_result
range_parse(const char *h, off_t size, struct byte_range *out, int max,
    int *n)
{
	const char *p = h;
	struct byte_range sorted[RANGE_MAX];
	int count = 0, seen = 0, i;

	*n = 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "bytes=", 6) != 0)
		return RANGE_NONE;
	p += 6;
	for (;;) {
		off_t a = -1, b = -1;
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		if (*p == '-') {                /* suffix: the last b bytes */
			if ((p = parse_off(p + 1, &b)) == NULL)
				return RANGE_NONE;
		} else {
			if ((p = parse_off(p, &a)) == NULL || *p++ != '-')
				return RANGE_NONE;
			if (isdigit((unsigned char)*p)) {
				if ((p = parse_off(p, &b)) == NULL || b < a)
					return RANGE_NONE;
			}
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != ',' && *p != '\0')
			return RANGE_NONE;
		if (++seen > max)
			return RANGE_WHOLE;
		/* resolve against the file; unsatisfiable ones drop out */
		if (a < 0) {
			if (b == 0 || size == 0)
				continue;
			out[count].first = b >= size ? 0 : size - b;
			out[count].last = size - 1;
		} else {
			if (a >= size)
				continue;
			out[count].first = a;
			out[count].last = b < 0 || b >= size ? size - 1 : b;
		}
		count++;
	}
	if (seen == 0)
		return RANGE_NONE;      /* "bytes=" alone */
	if (count == 0)
		return RANGE_UNSATISFIABLE;
	memcpy(sorted, out, (size_t)count * sizeof *out);
	qsort(sorted, (size_t)count, sizeof *sorted, range_cmp);
	for (i = 1; i < count; i++)
		if (sorted[i].first <= sorted[i - 1].last)
			return RANGE_WHOLE;
	*n = count;
	return RANGE_OK;
}

/* The q-value Accept-Encoding gives coding (e.g. "gzip"), in thousandths:
 * 0 when it is absent or refused, "*" standing in for codings not named. */
int
accept_encoding_q(const char *h, const char *coding)
{
	const char *p = h;
	int star = -1;

	if (h == NULL)
		return 0;
	while (*p != '\0') {
		const char *name, *e;
		size_t nl;
		int q = 1000;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		name = p;
		while (*p != '\0' && *p != ',' && *p != ';' && *p != ' ' &&
		    *p != '\t')
			p++;
		nl = (size_t)(p - name);
		while (*p == ' ' || *p == '\t')
			p++;
		while (*p == ';') {             /* parameters: only q counts */
			for (p++; *p == ' ' || *p == '\t'; p++)
				;
			if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
				double d = strtod(p + 2, (char **)&e);
				if (e == p + 2 || d < 0 || d > 1)
					q = 0;
				else
					q = (int)(d * 1000 + 0.5);
				p = e;
			}
			while (*p != '\0' && *p != ',' && *p != ';')
				p++;
		}
		if (nl == 1 && name[0] == '*')
			star = q;
		else if (nl == strlen(coding) &&
		    strncasecmp(name, coding, nl) == 0)
			return q;
		while (*p != '\0' && *p != ',')
			p++;
	}
	return star > 0 ? star : 0;
}
