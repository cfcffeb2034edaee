/*
 * session_file.c - the file behind `cachet get --sess-in / --sess-out`:
 * sessions for several servers in one file, each a "host:port" line and
 * then a PEM "SSL SESSION PARAMETERS" block; lines starting with '#' are
 * comments.  The file is untrusted input (it may be damaged, stale, or
 * hold another server's session): anything that does not decode, has
 * expired or cannot resume is ignored, never an error.  Saving rewrites
 * the file through a private (0600) temporary file and rename(), keeping
 * the other servers' usable entries.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "cachet.h"
#include "common.h"

#define SESS_BEGIN "-----BEGIN SSL SESSION PARAMETERS-----"
#define SESS_END   "-----END SSL SESSION PARAMETERS-----"

struct parser {
	struct sess_entry *v;
	size_t n, cap;
	char  *key;             /* the last key line seen */
	char  *pem;             /* the block being read, NUL-terminated */
	size_t pl;
	int    inblock;
};

static char *
dup_n(const char *s, size_t n)
{
	char *d = xmalloc(n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static int
starts(const char *line, size_t n, const char *mark)
{
	return n >= strlen(mark) && memcmp(line, mark, strlen(mark)) == 0;
}

/* A block ended: it becomes an entry under the key before it. */
static void
push_entry(struct parser *p)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 8;
		p->v = xreallocarray(p->v, p->cap, sizeof *p->v);
	}
	p->v[p->n].key = p->key;
	p->v[p->n].pem = p->pem;
	p->n++;
	p->key = p->pem = NULL;
	p->inblock = 0;
}

/* One line, with its '\n' if it has one. */
static void
parse_line(struct parser *p, const char *line, size_t n)
{
	if (!p->inblock) {
		if (!starts(line, n, SESS_BEGIN) || p->key == NULL) {
			if (line[0] == '#' || line[0] == '\n')
				return;
			while (n > 0 && (line[n - 1] == '\n' ||
			    line[n - 1] == '\r'))
				n--;
			free(p->key);
			p->key = dup_n(line, n);
			return;
		}
		p->inblock = 1;
		p->pl = 0;
	}
	p->pem = xrealloc(p->pem, p->pl + n + 1);
	memcpy(p->pem + p->pl, line, n);
	p->pl += n;
	p->pem[p->pl] = '\0';
	if (starts(line, n, SESS_END))
		push_entry(p);
}

size_t
sess_parse(const char *buf, size_t len, struct sess_entry **out)
{
	struct parser p;
	const char *line = buf, *end = buf + len, *nl;

	memset(&p, 0, sizeof p);
	while (line < end) {
		nl = memchr(line, '\n', (size_t)(end - line));
		parse_line(&p, line, nl ? (size_t)(nl - line) + 1 :
		    (size_t)(end - line));
		line = nl ? nl + 1 : end;
	}
	free(p.key);
	free(p.pem);
	*out = p.v;
	return p.n;
}

void
sess_entries_free(struct sess_entry *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].pem);
	}
	free(v);
}

/* The entries of the file at path; none if it cannot be read. */
static size_t
sess_file_read(const char *path, struct sess_entry **out)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0, got, n;

	*out = NULL;
	if (f == NULL)
		return 0;
	do {
		if (cap - len < 4096)
			buf = xrealloc(buf, cap = cap ? cap * 2 : 8192);
		got = fread(buf + len, 1, cap - len, f);
		len += got;
	} while (got > 0);
	n = ferror(f) ? 0 : sess_parse(buf, len, out);
	fclose(f);
	free(buf);
	return n;
}

static SSL_SESSION *
sess_decode(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	SSL_SESSION *s = b ? PEM_read_bio_SSL_SESSION(b, NULL, NULL, NULL) :
	    NULL;

	BIO_free(b);
	ERR_clear_error();
	return s;
}

static int
sess_live(SSL_SESSION *s)
{
	return SSL_SESSION_get_time(s) + SSL_SESSION_get_timeout(s) >
	    time(NULL);
}

SSL_SESSION *
sess_load(const char *path, const char *key, int verbose)
{
	struct sess_entry *v;
	size_t n = sess_file_read(path, &v), i;
	SSL_SESSION *s = NULL;

	for (i = 0; i < n && s == NULL; i++) {
		if (strcmp(v[i].key, key) != 0)
			continue;
		s = sess_decode(v[i].pem);
		if (s != NULL && (!sess_live(s) ||
		    !SSL_SESSION_is_resumable(s))) {
			SSL_SESSION_free(s);
			s = NULL;
		}
		if (s == NULL && verbose)
			fprintf(stderr, "* saved session for %s unusable: "
			    "ignored\n", key);
	}
	sess_entries_free(v, n);
	return s;
}

/* The other servers' live entries, then key's new one. */
static int
sess_write(FILE *f, const struct sess_entry *v, size_t n, const char *key,
    SSL_SESSION *s)
{
	size_t i;
	BIO *b;
	int ok;

	fprintf(f, "# cachet TLS sessions, keyed by host:port\n");
	for (i = 0; i < n; i++) {
		SSL_SESSION *o;
		if (strcmp(v[i].key, key) == 0 || (o = sess_decode(v[i].pem))
		    == NULL)
			continue;       /* replaced, or unusable: dropped */
		if (sess_live(o))
			fprintf(f, "%s\n%s", v[i].key, v[i].pem);
		SSL_SESSION_free(o);
	}
	fprintf(f, "%s\n", key);
	fflush(f);
	b = BIO_new_fp(f, BIO_NOCLOSE);
	ok = b != NULL && PEM_write_bio_SSL_SESSION(b, s) == 1;
	BIO_free(b);
	return ok ? 0 : -1;
}

int
sess_save(const char *path, const char *key, SSL_SESSION *s)
{
	struct sess_entry *v;
	size_t n = sess_file_read(path, &v);
	size_t tl = strlen(path) + 32;
	char *tmp = xmalloc(tl);
	FILE *f = NULL;
	int fd, ok;

	snprintf(tmp, tl, "%s.tmp.%ld", path, (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0
	    || (f = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "cachet: %s: %s\n", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		sess_entries_free(v, n);
		free(tmp);
		return -1;
	}
	ok = sess_write(f, v, n, key, s) == 0;
	ok = fclose(f) == 0 && ok;
	sess_entries_free(v, n);
	if (!ok || rename(tmp, path) != 0) {
		fprintf(stderr, "cachet: cannot save sessions to %s\n", path);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}
