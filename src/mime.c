/*
 * mime.c - file name extension to Content-Type, from a mime.types file in
 * the usual format ("type/subtype ext1 ext2 ...", '#' comments).  Loaded
 * once by the master; looked up with a binary search per response.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cachetd.h"

#define MIME_DEFAULT "application/octet-stream"

struct mime_ent {
	char *ext;
	char *type;
};

struct mime {
	struct mime_ent *v;
	size_t           n;
	char            *dflt;      /* default-type, or NULL */
};

/* Without a mime-types file: the types a small site serves, as nginx and
 * Apache know them out of the box. */
static const char *const builtin[][2] = {
	{ "html", "text/html; charset=utf-8" },
	{ "htm", "text/html; charset=utf-8" },
	{ "css", "text/css; charset=utf-8" },
	{ "js", "text/javascript; charset=utf-8" },
	{ "mjs", "text/javascript; charset=utf-8" },
	{ "json", "application/json" },
	{ "txt", "text/plain; charset=utf-8" },
	{ "md", "text/markdown; charset=utf-8" },
	{ "csv", "text/csv; charset=utf-8" },
	{ "xml", "application/xml" },
	{ "svg", "image/svg+xml" },
	{ "png", "image/png" },
	{ "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" },
	{ "gif", "image/gif" },
	{ "webp", "image/webp" },
	{ "avif", "image/avif" },
	{ "ico", "image/vnd.microsoft.icon" },
	{ "woff", "font/woff" },
	{ "woff2", "font/woff2" },
	{ "ttf", "font/ttf" },
	{ "otf", "font/otf" },
	{ "pdf", "application/pdf" },
	{ "zip", "application/zip" },
	{ "gz", "application/gzip" },
	{ "tar", "application/x-tar" },
	{ "wasm", "application/wasm" },
	{ "mp4", "video/mp4" },
	{ "webm", "video/webm" },
	{ "mp3", "audio/mpeg" },
	{ "ogg", "audio/ogg" },
	{ "wav", "audio/wav" },
	{ "webmanifest", "application/manifest+json" },
	{ "atom", "application/atom+xml" },
	{ "rss", "application/rss+xml" },
};

static int
ent_cmp(const void *a, const void *b)
{
	return strcasecmp(((const struct mime_ent *)a)->ext,
	    ((const struct mime_ent *)b)->ext);
}

static void
add(struct mime *m, size_t *cap, const char *ext, const char *type)
{
	if (m->n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		m->v = xreallocarray(m->v, *cap, sizeof *m->v);
	}
	m->v[m->n].ext = xstrdup(ext);
	m->v[m->n].type = xstrdup(type);
	m->n++;
}

struct mime *
mime_load(const char *path, char *err, size_t errlen)
{
	struct mime *m = xcalloc(1, sizeof *m);
	char line[1024];
	size_t cap = 0, i, j;
	int lineno = 0;
	FILE *f;

	if (path == NULL) {
		for (i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
			add(m, &cap, builtin[i][0], builtin[i][1]);
		qsort(m->v, m->n, sizeof *m->v, ent_cmp);
		return m;
	}
	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: cannot read: %s", path,
		    strerror(errno));
		free(m);
		return NULL;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		char *save, *type, *ext, *hash;

		lineno++;
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		if ((type = strtok_r(line, " \t\r\n", &save)) == NULL)
			continue;
		if (strchr(type, '/') == NULL || type[0] == '/') {
			snprintf(err, errlen, "%s:%d: '%s' is not a media type",
			    path, lineno, type);
			goto fail;
		}
		while ((ext = strtok_r(NULL, " \t\r\n;", &save)) != NULL)
			add(m, &cap, ext, type);
	}
	fclose(f);
	qsort(m->v, m->n, sizeof *m->v, ent_cmp);
	/* Keep the first type given for an extension. */
	for (i = j = 0; i < m->n; i++) {
		if (j > 0 && strcasecmp(m->v[j - 1].ext, m->v[i].ext) == 0) {
			free(m->v[i].ext);
			free(m->v[i].type);
			continue;
		}
		m->v[j++] = m->v[i];
	}
	m->n = j;
	return m;
fail:
	fclose(f);
	mime_free(m);
	return NULL;
}

const char *
mime_lookup(const struct mime *m, const char *filename)
{
	const char *dot = strrchr(filename, '.');
	const char *slash = strrchr(filename, '/');
	struct mime_ent key, *hit;

	const char *dflt = m != NULL && m->dflt != NULL ? m->dflt :
	    MIME_DEFAULT;

	if (m == NULL || dot == NULL || dot[1] == '\0' ||
	    (slash != NULL && dot < slash))
		return dflt;
	key.ext = (char *)(dot + 1);
	hit = bsearch(&key, m->v, m->n, sizeof *m->v, ent_cmp);
	return hit != NULL ? hit->type : dflt;
}

void
mime_free(struct mime *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++) {
		free(m->v[i].ext);
		free(m->v[i].type);
	}
	free(m->v);
	free(m->dflt);
	free(m);
}

void
mime_set_default(struct mime *m, const char *type)
{
	free(m->dflt);
	m->dflt = xstrdup(type);
}
