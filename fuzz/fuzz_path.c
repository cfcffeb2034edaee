/*
 * fuzz_path.c - libFuzzer harness for the path normaliser and the location
 * decision (path_canonical, path_encode in src/files.c; config_location in
 * src/config.c): issue 9's protected-path bypass as a property.
 *
 * Input: a request target, then (after a NUL byte, optional) bytes that
 * choose how to re-spell it.  For a target that normalises:
 *   - the canonical path starts with "/", has no empty, "." or ".."
 *     segment (so no "//", "/./", "/../", no final "/." or "/.."), and is
 *     "/" + rel, plus "/" for a folder target;
 *   - any other spelling of it (each character kept or %XX in either case;
 *     each "/" but the first kept, doubled, "/./", "/zz/../" or %2f)
 *     normalises to the same canonical path (which shows the trailing
 *     slash of a folder target), hence the same location and rel;
 *   - path_encode() of it (what a Location header carries) normalises back
 *     to it.
 * A violation aborts, so libFuzzer keeps the input.
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cachetd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct location locs[] = {
	{ .prefix = "/secure/" }, { .prefix = "/admin/" },
	{ .prefix = "/status" }, { .prefix = "/secure/open/" },
};
static const struct server_conf cf = { .locs = locs,
	.nlocs = sizeof locs / sizeof locs[0] };

struct decision {
	int                    rc;
	int                    slash;
	const struct location *loc;
	char                   path[PATH_MAX + 2];
	char                   rel[PATH_MAX];
};

static void
decide(const char *target, struct decision *d)
{
	d->loc = NULL;
	d->rc = path_canonical(target, d->path, sizeof d->path, d->rel,
	    sizeof d->rel, &d->slash);
	if (d->rc == 0)
		d->loc = config_location(&cf, d->path);
}

static void
fail(const char *what, const char *target, const struct decision *want,
    const char *other, const struct decision *got)
{
	fprintf(stderr, "fuzz_path: %s\n  target '%s' -> rc %d path '%s' "
	    "rel '%s' loc %s\n", what, target, want->rc, want->path, want->rel,
	    want->loc ? want->loc->prefix : "-");
	if (other != NULL)
		fprintf(stderr, "  other '%s' -> rc %d path '%s' rel '%s' "
		    "loc %s\n", other, got->rc, got->path, got->rel,
		    got->loc ? got->loc->prefix : "-");
	abort();
}

/* The canonical path's shape. */
static void
check_shape(const char *target, const struct decision *d)
{
	const char *p = d->path, *s;
	char want[PATH_MAX + 2];

	if (p[0] != '/')
		fail("path does not start with /", target, d, NULL, NULL);
	for (s = p + 1; *s != '\0';) {
		size_t n = strcspn(s, "/");
		if ((n == 0 && s[0] == '/') || (n == 1 && s[0] == '.') ||
		    (n == 2 && s[0] == '.' && s[1] == '.'))
			fail("empty, . or .. segment", target, d, NULL, NULL);
		s += n;
		if (*s == '/')
			s++;
	}
	snprintf(want, sizeof want, "/%s%s", d->rel,
	    d->slash && d->rel[0] != '\0' ? "/" : "");
	if (strcmp(want, d->path) != 0)
		fail("path is not / + rel (+ /)", target, d, NULL, NULL);
}

/* Re-spell the decoded path p; *dlen gets the decoded length. */
static void
respell(const char *p, const uint8_t *ch, size_t nch, char *out, size_t cap,
    size_t *dlen)
{
	size_t o = 0, i;

	*dlen = 0;
	for (i = 0; p[i] != '\0' && o + 16 < cap; i++) {
		unsigned char c = (unsigned char)p[i];
		unsigned k = nch ? ch[i % nch] : (unsigned)(i * 5 + 3);
		int must = c == '%' || c == '?' || c == '#';

		if (i == 0) {
			out[o++] = (char)c;
			(*dlen)++;
			continue;
		}
		k %= c == '/' ? 7 : 3;
		if (k == 0 && must)
			k = 1;
		switch (k) {
		case 0:
			out[o++] = (char)c;
			(*dlen)++;
			break;
		case 1:
		case 2:
			o += (size_t)snprintf(out + o, cap - o,
			    k == 1 ? "%%%02X" : "%%%02x", c);
			(*dlen)++;
			break;
		case 3:
			o += (size_t)snprintf(out + o, cap - o, "//");
			*dlen += 2;
			break;
		case 4:
			o += (size_t)snprintf(out + o, cap - o, "/./");
			*dlen += 3;
			break;
		case 5:
			o += (size_t)snprintf(out + o, cap - o, "/zz/../");
			*dlen += 7;
			break;
		default:
			o += (size_t)snprintf(out + o, cap - o,
			    i % 2 ? "%%2f" : "%%2F");
			(*dlen)++;
			break;
		}
	}
	out[o] = '\0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct decision want, got;
	static char target[PATH_MAX * 2], sp[16 * PATH_MAX],
	    enc[3 * PATH_MAX + 8];
	const uint8_t *nul = memchr(data, 0, size);
	size_t tl = nul ? (size_t)(nul - data) : size, dlen;

	if (tl >= sizeof target)
		return 0;
	memcpy(target, data, tl);
	target[tl] = '\0';
	decide(target, &want);
	if (want.rc != 0) {
		if (want.rc != -400 && want.rc != -414)
			fail("unexpected status", target, &want, NULL, NULL);
		return 0;
	}
	check_shape(target, &want);

	respell(want.path, nul ? nul + 1 : NULL, nul ? size - tl - 1 : 0, sp,
	    sizeof sp, &dlen);
	decide(sp, &got);
	if (!(got.rc == -414 && dlen >= PATH_MAX - 1) &&
	    (got.rc != 0 || strcmp(got.path, want.path) != 0 ||
	    got.loc != want.loc || strcmp(got.rel, want.rel) != 0))
		fail("another spelling decides otherwise", target, &want, sp,
		    &got);

	if (path_encode(want.path, enc, sizeof enc) == 0)
		fail("path_encode: no room", target, &want, NULL, NULL);
	decide(enc, &got);
	if (got.rc != 0 || strcmp(got.path, want.path) != 0)
		fail("path_encode does not normalise back", target, &want, enc,
		    &got);
	if (enc[0] != '/' || enc[1] == '/')
		fail("Location would leave the server", target, &want, enc,
		    &got);
	return 0;
}
