/*
 * config.c - what cachetd.conf means: parse.y reads the syntax into a tree
 * of statements, and this file loads it: the defaults, the walk over the
 * tree, block by block, through the table of the directives each block
 * takes (config_dirs.c, which converts, checks and stores each value),
 * the checks that need the whole file, and freeing.
 *
 * Each directive is a row {name, type, field, where-written field, check}:
 * the value is converted by type ("3" to a number, "true" to a boolean, a
 * relative path to one under the config file's folder), checked, and
 * stored.  Every problem is reported as "FILE:LINE: name: what is wrong",
 * the line being that of the value at fault, in whichever file (include
 * and all) it was written.  At the top level a directive given again
 * replaces the earlier value, so a later line or an included file can
 * override a default; inside a block a second one is an error, as is a
 * second block for the same location or a second session-cache block.
 * Checks that need the whole file (a location that needs a CA set after
 * it) run once every statement has been read.
 *
 * Adding a block kind (server "name" { ... }) is a row in blocks[]: the
 * contexts it may open in, its directive table, and an open function that
 * gets the enclosing block's struct and returns the one its own
 * directives fill (a location inside a server joins that server's list).
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cachetd.h"
#include "config_int.h"

#define DEFAULT_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
/* Key exchange: elliptic curves only.  OpenSSL's default list also holds
 * the finite-field groups up to ffdhe8192, which let any client make a
 * handshake cost the server ~170 ms of CPU (CVE-2002-20001, "D(HE)at"). */
#define DEFAULT_GROUPS "X25519:P-256:X448:P-384"
#define DEFAULT_SUITES \
	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:" \
	"TLS_CHACHA20_POLY1305_SHA256"
#define DEFAULT_LISTEN "127.0.0.1:8443"

void
config_err(char *err, size_t errlen, const struct conf_at *at,
    const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (at->line > 0)
		snprintf(err, errlen, "%s:%d: %s", at->file, at->line, msg);
	else
		snprintf(err, errlen, "%s: %s", at->file, msg);
}

/* The first error wins; later ones are usually consequences. */
int
fail(struct loader *ld, const struct conf_at *at, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	if (ld->failed)
		return -1;
	ld->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	config_err(ld->err, ld->errlen, at, "%s", msg);
	return -1;
}

/* "line 5", or "other.conf:5" when first was written in another file
 * than now: for "given twice" messages. */
static const char *
first_at(const struct conf_at *first, const struct conf_at *now, char *buf,
    size_t len)
{
	if (strcmp(first->file, now->file) == 0)
		snprintf(buf, len, "line %d", first->line);
	else
		snprintf(buf, len, "%s:%d", first->file, first->line);
	return buf;
}

void
free_strv(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Resolve p relative to the config file's folder. */
char *
config_path(const struct config *cf, const char *p)
{
	size_t n;
	char *out;

	if (p == NULL)
		return NULL;
	if (p[0] == '/' || cf->dir == NULL)
		return xstrdup(p);
	n = strlen(cf->dir) + 1 + strlen(p) + 1;
	out = xmalloc(n);
	snprintf(out, n, "%s/%s", cf->dir, p);
	return out;
}

/* "ADDR:PORT" or "[V6ADDR]:PORT"; "*:PORT" is every IPv4 address. */
int
parse_listen(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	char *end;
	long port;
	size_t hl;

	memset(ss, 0, sizeof *ss);
	if (text[0] == '[') {
		const char *rb = strchr(text, ']');
		if (rb == NULL || rb[1] != ':')
			return -1;
		hl = (size_t)(rb - text - 1);
		colon = rb + 1;
		if (hl >= sizeof host)
			return -1;
		memcpy(host, text + 1, hl);
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL)
			return -1;
		hl = (size_t)(colon - text);
		if (hl >= sizeof host)
			return -1;
		memcpy(host, text, hl);
	}
	host[hl] = '\0';
	/* digits only: strtol alone takes " 8", "+8" and "-0" */
	if (strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    strlen(colon + 1) > 5)
		return -1;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno || port < 0 ||
	    port > 65535)
		return -1;
	if (text[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -1;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		if (strcmp(host, "*") == 0)
			s4->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -1;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof *s4;
	}
	return 0;
}


/* ------------------------------------------------------------ blocks */

enum { CTX_TOP = 1, CTX_CACHE = 2, CTX_LOCATION = 4 };

struct block {
	const char             *name;   /* NULL: the file itself */
	unsigned                ctx;    /* this block's context */
	unsigned                in;     /* contexts it may open in */
	int                     titled; /* location "/x" { } */
	int                     repeat; /* a directive may be given again */
	const struct directive *dirs;
	/* the struct the body fills (parent: the enclosing block's), or
	 * NULL with the error set */
	void                 *(*open)(struct loader *, void *parent,
	                          const struct conf_node *);
};

static void *
open_cache(struct loader *ld, void *parent, const struct conf_node *n)
{
	struct cache_conf *c = &((struct config *)parent)->cache;
	char buf[PATH_MAX + 16];

	if (c->at.line != 0) {
		fail(ld, &n->at, "session-cache: a second block (the first is "
		    "on %s)", first_at(&c->at, &n->at, buf, sizeof buf));
		return NULL;
	}
	c->at = n->at;
	return c;
}

static void *
open_location(struct loader *ld, void *parent, const struct conf_node *n)
{
	struct config *cf = parent;
	const char *prefix = n->vals->text;
	char canon[PATH_MAX + 2], rel[PATH_MAX], buf[PATH_MAX + 16];
	struct location *l;
	size_t i;
	int slash;

	if (prefix[0] != '/') {
		fail(ld, &n->at, "location \"%s\": prefix must start with /",
		    prefix);
		return NULL;
	}
	/* Requests are matched on their canonical path: a prefix in any
	 * other spelling would never match, and leave its folder
	 * unprotected. */
	canon[0] = '\0';
	if (path_canonical(prefix, canon, sizeof canon, rel, sizeof rel,
	    &slash) != 0 || strcmp(canon, prefix) != 0) {
		fail(ld, &n->at, "location \"%s\": not a canonical path "
		    "(requests are matched on the decoded, normalised path%s%s%s)",
		    prefix, canon[0] ? ": write \"" : "", canon,
		    canon[0] ? "\"" : "");
		return NULL;
	}
	for (i = 0; i < cf->nlocs; i++)
		if (strcmp(cf->locs[i].prefix, prefix) == 0) {
			fail(ld, &n->at, "location \"%s\": already defined on "
			    "%s", prefix, first_at(&cf->locs[i].at, &n->at,
			    buf, sizeof buf));
			return NULL;
		}
	l = xreallocarray(cf->locs, cf->nlocs + 1, sizeof *l);
	cf->locs = l;
	l = &cf->locs[cf->nlocs++];
	memset(l, 0, sizeof *l);
	l->prefix = xstrdup(prefix);
	l->at = n->at;
	l->acc.verify = VERIFY_NONE;
	return l;
}

static const struct block blocks[] = {
	{ NULL, CTX_TOP, 0, 0, 1, top_dirs, NULL },
	{ "session-cache", CTX_CACHE, CTX_TOP, 0, 0, cache_dirs, open_cache },
	{ "location", CTX_LOCATION, CTX_TOP, 1, 0, location_dirs,
	    open_location },
};
#define NBLOCKS (sizeof blocks / sizeof blocks[0])

static const struct directive *
find(const struct directive *dirs, const char *name)
{
	for (; dirs->name != NULL; dirs++)
		if (strcmp(dirs->name, name) == 0)
			return dirs;
	return NULL;
}

static const char *
block_name(const struct block *b)
{
	return b->name != NULL ? b->name : "the top level";
}

/* Say where a name that does not belong here would. */
static int
misplaced(struct loader *ld, const struct block *in,
    const struct conf_node *n)
{
	char here[64], there[64];
	size_t i;

	for (i = 0; i < NBLOCKS; i++) {
		const struct block *b = &blocks[i];
		if (b == in || find(b->dirs, n->name) == NULL)
			continue;
		snprintf(here, sizeof here, in->name ? "in a %s block" :
		    "at %s", block_name(in));
		snprintf(there, sizeof there, b->name ? "in a %s block" :
		    "at %s", block_name(b));
		return fail(ld, &n->at, "%s: not allowed %s (it belongs %s)",
		    n->name, here, there);
	}
	return fail(ld, &n->at, "unknown directive '%s'", n->name);
}

static int walk(struct loader *, const struct block *, void *,
    const struct conf_node *);

static int
enter(struct loader *ld, const struct block *in, void *parent,
    const struct block *b, const struct conf_node *n)
{
	void *target;

	if (n->kind != CN_BLOCK)
		return fail(ld, &n->at, "%s: is a block: %s%s { ... }", b->name,
		    b->name, b->titled ? " \"...\"" : "");
	if (!(b->in & in->ctx))
		return fail(ld, &n->at, in->name ? "%s: a block not allowed in "
		    "a %s block" : "%s: a block not allowed at %s", b->name,
		    block_name(in));
	if (b->titled && n->nvals == 0)
		return fail(ld, &n->at, "%s: needs a name: %s \"...\" { ... }",
		    b->name, b->name);
	if (!b->titled && n->nvals != 0)
		return fail(ld, &n->at, "%s: takes no name: %s { ... }",
		    b->name, b->name);
	if ((target = b->open(ld, parent, n)) == NULL)
		return -1;
	return walk(ld, b, target, n->body);
}

/* The statements of one block, into target. */
static int
walk(struct loader *ld, const struct block *b, void *target,
    const struct conf_node *list)
{
	const struct conf_node *n, *seen[32];
	const struct directive *d;
	char buf[PATH_MAX + 16];
	size_t i;

	memset(seen, 0, sizeof seen);
	for (n = list; n != NULL; n = n->next) {
		if ((d = find(b->dirs, n->name)) != NULL) {
			if (n->kind == CN_BLOCK)
				return fail(ld, &n->at, "%s: not a block: "
				    "write %s = value", n->name, n->name);
			i = (size_t)(d - b->dirs);
			if (!b->repeat && i < 32 && seen[i] != NULL)
				return fail(ld, &n->at, "%s: given twice in "
				    "this %s block (first on %s)", n->name,
				    b->name, first_at(&seen[i]->at, &n->at,
				    buf, sizeof buf));
			if (i < 32)
				seen[i] = n;
			if (directive_set(ld, d, target, n) != 0)
				return -1;
			continue;
		}
		for (i = 0; i < NBLOCKS; i++)
			if (blocks[i].name != NULL &&
			    strcmp(blocks[i].name, n->name) == 0)
				break;
		if (i < NBLOCKS) {
			if (enter(ld, b, target, &blocks[i], n) != 0)
				return -1;
			continue;
		}
		return misplaced(ld, b, n);
	}
	return 0;
}

/* ------------------------------------------------------------ whole */

static void
defaults(struct config *cf)
{
	const struct conf_at none = { cf->file, 0 };

	cf->listen = xcalloc(1, sizeof *cf->listen);
	cf->listen[0].text = xstrdup(DEFAULT_LISTEN);
	cf->listen[0].at = none;
	parse_listen(DEFAULT_LISTEN, &cf->listen[0].ss, &cf->listen[0].sslen);
	cf->nlisten = 1;
	cf->index = xstrdup("index.html");
	cf->proto_min = TLS1_2_VERSION;
	cf->proto_max = TLS1_3_VERSION;
	cf->ciphers = xstrdup(DEFAULT_CIPHERS);
	cf->groups = xstrdup(DEFAULT_GROUPS);
	cf->default_type = xstrdup("application/octet-stream");
	cf->ciphersuites = xstrdup(DEFAULT_SUITES);
	cf->log_level = LOG_INFO_;
	cf->handshake_timeout = 10;
	cf->header_timeout = 15;
	cf->keepalive_timeout = 15;
	cf->send_timeout = 30;
	cf->worker_connections = 1024;
	cf->verify_depth = 5;
	cf->verify_client = VERIFY_NONE;
	cf->tls13_without_pha = PHA_TLS12;
	cf->cache.store = xstrdup(CACHE_SPEC_DEFAULT);
	cf->cache.timeout = 300;
	cf->ticket_key_period = 3600;
	cf->cache.max_entries = 100000;
	cf->cache.purge_interval = 60;
	cf->cache.at = cf->cache.store_at = cf->cache.seal_at = none;
	cf->certs_at = cf->keys_at = cf->root_at = cf->mime_at = none;
	cf->alog_at = cf->elog_at = cf->pid_at = cf->user_at = none;
	cf->ca_at = cf->crl_at = cf->verify_at = cf->acme_at = none;
	cf->ciphers_at = cf->suites_at = cf->groups_at = none;
	cf->tkfiles_at = cf->tkperiod_at = none;
}

/* What needs the whole file: requirements and directives that depend
 * on one another, whatever their order. */
static int
finish(struct loader *ld)
{
	struct config *cf = ld->cf;
	const struct conf_at top = { cf->file, 0 };
	int any_ca = cf->client_ca != NULL;
	size_t i;

	if (cf->workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		cf->workers = n > 0 ? n : 1;
	}
	if (cf->root == NULL)
		return fail(ld, &top, "root: missing (the folder to serve)");
	if (cf->ncerts == 0)
		return fail(ld, cf->certs_at.line ? &cf->certs_at : &top,
		    "certificate: missing");
	if (cf->nkeys != cf->ncerts)
		return fail(ld, cf->keys_at.line ? &cf->keys_at : &cf->certs_at,
		    "key: %zu key(s) for %zu certificate(s); they are paired "
		    "by position", cf->nkeys, cf->ncerts);
	{
		/* the store's file, relative to the config's folder */
		char *resolved = cache_spec_resolve(cf->cache.store, cf->dir);
		if (resolved != NULL) {
			free(cf->cache.store);
			cf->cache.store = resolved;
		}
		if (cache_spec_path(cf->cache.store) != NULL)
			cf->cache.store_path =
			    xstrdup(cache_spec_path(cf->cache.store));
	}
	if (cf->verify_client != VERIFY_NONE && cf->client_ca == NULL)
		return fail(ld, &cf->verify_at, "verify-client needs "
		    "client-ca");

	for (i = 0; i < cf->nlocs; i++) {
		const struct location *l = &cf->locs[i];
		int wants = l->acc.verify != VERIFY_NONE ||
		    l->acc.nallow_subject || l->acc.nallow_issuer;

		if (l->acc.client_ca != NULL)
			any_ca = 1;
		if (l->status && wants)
			return fail(ld, &l->at, "location \"%s\": a status page "
			    "is guarded by allow-address, not by client "
			    "certificates", l->prefix);
		if ((wants || l->acc.ndeny_subject) &&
		    l->acc.client_ca == NULL && cf->client_ca == NULL)
			return fail(ld, &l->at, "location \"%s\" asks for a "
			    "client certificate but no client-ca is set",
			    l->prefix);
	}
	if (cf->acme_root != NULL && cf->nhttp_listen == 0)
		return fail(ld, &cf->acme_at, "acme-root needs http-listen "
		    "(challenges are fetched over plain HTTP)");
	if (cf->nticket_key_files > 0 && !cf->session_tickets)
		return fail(ld, &cf->tkfiles_at, "ticket-key-files needs "
		    "session-tickets = true");
	if (cf->tkperiod_at.line > 0 && !cf->session_tickets)
		return fail(ld, &cf->tkperiod_at, "ticket-key-period needs "
		    "session-tickets = true");
	if (cf->tkperiod_at.line > 0 && cf->nticket_key_files > 0)
		return fail(ld, &cf->tkperiod_at, "ticket-key-period: keys "
		    "from ticket-key-files are rotated by replacing the "
		    "files (and a reload), not by period");
	if (cf->session_tickets && TICKET_SLOTS(cf) > TICKET_RING)
		return fail(ld, cf->tkperiod_at.line ? &cf->tkperiod_at : &top,
		    "ticket-key-period: %ld s would keep %ld keys to open "
		    "tickets for the session timeout (%ld s); at most %d: "
		    "use a period of at least %ld s", cf->ticket_key_period,
		    TICKET_SLOTS(cf), cf->cache.timeout, TICKET_RING,
		    cf->cache.timeout / (TICKET_RING - 2) + 1);
	if (cf->client_crl != NULL && !any_ca)
		return fail(ld, &cf->crl_at, "client-crl needs client-ca (the "
		    "list is checked with the CA that signed it)");
	return 0;
}

struct config *
config_load(const char *file, char *err, size_t errlen)
{
	struct loader ld = { NULL, err, errlen, 0 };
	struct conf_tree *t;
	struct config *cf;
	char *slash;

	err[0] = '\0';
	cf = xcalloc(1, sizeof *cf);
	ld.cf = cf;
	cf->file = xstrdup(file);
	cf->dir = xstrdup(file);
	slash = strrchr(cf->dir, '/');
	if (slash == NULL)
		strcpy(cf->dir, ".");
	else if (slash == cf->dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	defaults(cf);

	if ((t = conf_parse(file, &cf->files, err, errlen)) == NULL) {
		config_free(cf);
		return NULL;
	}
	if (walk(&ld, &blocks[0], cf, conf_top(t)) == 0 && finish(&ld) == 0) {
		conf_tree_free(t);
		return cf;
	}
	conf_tree_free(t);
	config_free(cf);
	return NULL;
}

/* Longest matching prefix wins. */
const struct location *
config_location(const struct config *cf, const char *path)
{
	const struct location *best = NULL;
	size_t i, bl = 0;

	for (i = 0; i < cf->nlocs; i++) {
		size_t l = strlen(cf->locs[i].prefix);
		if (strncmp(path, cf->locs[i].prefix, l) == 0 &&
		    (best == NULL || l > bl)) {
			best = &cf->locs[i];
			bl = l;
		}
	}
	return best;
}

void
config_free(struct config *cf)
{
	size_t i;

	if (cf == NULL)
		return;
	for (i = 0; i < cf->nlisten; i++)
		free(cf->listen[i].text);
	free(cf->listen);
	for (i = 0; i < cf->nhttp_listen; i++)
		free(cf->http_listen[i].text);
	free(cf->http_listen);
	free(cf->acme_root);
	for (i = 0; i < cf->nlocs; i++) {
		free(cf->locs[i].prefix);
		free_strv(cf->locs[i].allow_addr, cf->locs[i].nallow_addr);
		free(cf->locs[i].acc.client_ca);
		free_strv(cf->locs[i].acc.allow_subject,
		    cf->locs[i].acc.nallow_subject);
		free_strv(cf->locs[i].acc.allow_issuer,
		    cf->locs[i].acc.nallow_issuer);
		free_strv(cf->locs[i].acc.deny_subject,
		    cf->locs[i].acc.ndeny_subject);
		free_strv(cf->locs[i].headers, cf->locs[i].nheaders);
		free(cf->locs[i].ret);
	}
	free(cf->locs);
	free_strv(cf->headers, cf->nheaders);
	free_strv(cf->certs, cf->ncerts);
	free_strv(cf->keys, cf->nkeys);
	free_strv(cf->ticket_key_files, cf->nticket_key_files);
	free(cf->file);
	free(cf->dir);
	free(cf->user);
	free(cf->root);
	free(cf->index);
	free(cf->mime_types);
	free(cf->ciphers);
	free(cf->ciphersuites);
	free(cf->groups);
	free(cf->default_type);
	free(cf->error_pages);
	free(cf->access_log);
	free(cf->error_log);
	free(cf->pid_file);
	free(cf->cache.store);
	free(cf->cache.store_path);
	free(cf->cache.seal_key_file);
	free(cf->client_ca);
	free(cf->client_crl);
	conf_files_free(&cf->files);
	free(cf);
}
