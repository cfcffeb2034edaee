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
 * A block kind is a row in blocks[]: the contexts it may open in, its
 * directive table, and an open function that gets the enclosing block's
 * struct and returns the one its own directives fill.
 *
 * Servers: the site directives (site_dirs: root, certificates, client
 * CA, headers, ...) at the top level are the defaults of every server
 * block, wherever in the file they are written; so server blocks are read
 * last, each starting from the top level's values (and its locations,
 * unless the block has locations of its own), then its own.  A file with
 * no server block has one implicit server, the top level, with no name.
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

enum { CTX_TOP = 1, CTX_CACHE = 2, CTX_LOCATION = 4, CTX_SERVER = 8 };

struct block {
	const char             *name;   /* NULL: the file itself */
	unsigned                ctx;    /* this block's context */
	unsigned                in;     /* contexts it may open in */
	int                     titled; /* location "/x" { } */
	int                     repeat; /* a directive may be given again */
	const struct directive *dirs;
	/* also taken here, into the server being filled (ld->sc) */
	const struct directive *site;
	/* the struct the body fills (parent: the enclosing block's), or
	 * NULL with the error set */
	void                 *(*open)(struct loader *, void *parent,
	                          const struct conf_node *);
	int                     later;  /* open() keeps it; walked later */
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

/* A location joins the server being filled: at the top level, the
 * defaults every server without locations of its own starts from. */
static void *
open_location(struct loader *ld, void *parent, const struct conf_node *n)
{
	struct server_conf *sc = ld->sc;
	const char *prefix = n->vals->text;
	char canon[PATH_MAX + 2], rel[PATH_MAX], buf[PATH_MAX + 16];
	struct location *l;
	size_t i;
	int slash;

	(void)parent;
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
	for (i = 0; i < sc->nlocs; i++)
		if (strcmp(sc->locs[i].prefix, prefix) == 0) {
			fail(ld, &n->at, "location \"%s\": already defined on "
			    "%s", prefix, first_at(&sc->locs[i].at, &n->at,
			    buf, sizeof buf));
			return NULL;
		}
	l = xreallocarray(sc->locs, sc->nlocs + 1, sizeof *l);
	sc->locs = l;
	l = &sc->locs[sc->nlocs++];
	memset(l, 0, sizeof *l);
	l->prefix = xstrdup(prefix);
	l->at = n->at;
	l->acc.verify = VERIFY_NONE;
	return l;
}

/* A server block is read once the whole top level is: its defaults are
 * the top level's values wherever they are written.  Here it is only
 * noted, in order. */
static void *
open_server(struct loader *ld, void *parent, const struct conf_node *n)
{
	(void)parent;
	if (!config_name_ok(n->vals->text) || strncmp(n->vals->text, "*.",
	    2) == 0) {
		fail(ld, &n->vals->at, "server \"%s\": not a host name (an "
		    "exact name; wildcards go in alias)", n->vals->text);
		return NULL;
	}
	ld->servers = xreallocarray(ld->servers, ld->nservers + 1,
	    sizeof *ld->servers);
	ld->servers[ld->nservers++] = n;
	return ld;
}

static const struct block blocks[] = {
	{ NULL, CTX_TOP, 0, 0, 1, top_dirs, site_dirs, NULL, 0 },
	{ "session-cache", CTX_CACHE, CTX_TOP, 0, 0, cache_dirs, NULL,
	    open_cache, 0 },
	{ "location", CTX_LOCATION, CTX_TOP | CTX_SERVER, 1, 0, location_dirs,
	    NULL, open_location, 0 },
	{ "server", CTX_SERVER, CTX_TOP, 1, 0, server_dirs, site_dirs,
	    open_server, 1 },
};
#define NBLOCKS (sizeof blocks / sizeof blocks[0])
#define B_SERVER (&blocks[3])

static const struct directive *
find(const struct directive *dirs, const char *name)
{
	if (dirs == NULL)
		return NULL;
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
		if (b == in || (find(b->dirs, n->name) == NULL &&
		    find(b->site, n->name) == NULL))
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
	if (b->later)
		return 0;
	return walk(ld, b, target, n->body);
}

#define MAX_SEEN 64     /* directives of a block's tables, for "twice" */

/* The statements of one block, into target (and site directives into
 * the server being filled). */
static int
walk(struct loader *ld, const struct block *b, void *target,
    const struct conf_node *list)
{
	const struct conf_node *n, *seen[2 * MAX_SEEN];
	const struct directive *d;
	char buf[PATH_MAX + 16];
	void *base;
	size_t i;

	memset(seen, 0, sizeof seen);
	for (n = list; n != NULL; n = n->next) {
		base = target;
		i = 0;
		if ((d = find(b->dirs, n->name)) != NULL)
			i = (size_t)(d - b->dirs);
		else if ((d = find(b->site, n->name)) != NULL) {
			i = MAX_SEEN + (size_t)(d - b->site);
			base = ld->sc;
		}
		if (d != NULL) {
			if (n->kind == CN_BLOCK)
				return fail(ld, &n->at, "%s: not a block: "
				    "write %s = value", n->name, n->name);
			if (!b->repeat && i < 2 * MAX_SEEN && seen[i] != NULL)
				return fail(ld, &n->at, "%s: given twice in "
				    "this %s block (first on %s)", n->name,
				    b->name, first_at(&seen[i]->at, &n->at,
				    buf, sizeof buf));
			if (i < 2 * MAX_SEEN)
				seen[i] = n;
			if (directive_set(ld, d, base, n) != 0)
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

/* ------------------------------------------------------------ servers */

static void server_defaults_at(struct server_conf *, const char *file);

static struct server_conf *
server_new(void)
{
	struct server_conf *sc = xcalloc(1, sizeof *sc);

	sc->index = xstrdup("index.html");
	sc->default_type = xstrdup("application/octet-stream");
	sc->verify_depth = 5;
	sc->verify_client = VERIFY_NONE;
	sc->tls13_without_pha = PHA_TLS12;
	return sc;
}

static void
server_conf_free(struct server_conf *sc)
{
	size_t i;

	if (sc == NULL)
		return;
	for (i = 0; i < sc->nlocs; i++) {
		free(sc->locs[i].prefix);
		free_strv(sc->locs[i].allow_addr, sc->locs[i].nallow_addr);
		free(sc->locs[i].acc.client_ca);
		free_strv(sc->locs[i].acc.allow_subject,
		    sc->locs[i].acc.nallow_subject);
		free_strv(sc->locs[i].acc.allow_issuer,
		    sc->locs[i].acc.nallow_issuer);
		free_strv(sc->locs[i].acc.deny_subject,
		    sc->locs[i].acc.ndeny_subject);
		free_strv(sc->locs[i].headers, sc->locs[i].nheaders);
		free(sc->locs[i].ret);
	}
	free(sc->locs);
	free(sc->name);
	free_strv(sc->aliases, sc->naliases);
	free_strv(sc->headers, sc->nheaders);
	free_strv(sc->certs, sc->ncerts);
	free_strv(sc->keys, sc->nkeys);
	free(sc->root);
	free(sc->index);
	free(sc->default_type);
	free(sc->error_pages);
	free(sc->client_ca);
	free(sc->client_crl);
	free(sc);
}

static void
lowercase(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

static int
has_location(const struct conf_node *list)
{
	for (; list != NULL; list = list->next)
		if (list->kind == CN_BLOCK && strcmp(list->name, "location") == 0)
			return 1;
	return 0;
}

/* Does a location block restrict who may see it? */
static int
restricts(const struct conf_node *loc)
{
	static const char *const names[] = { "verify-client", "allow-subject",
	    "allow-issuer", "deny-subject", "allow-address", NULL };
	const struct conf_node *d;
	size_t i;

	for (d = loc->body; d != NULL; d = d->next)
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(d->name, names[i]) == 0 && !(i == 0 &&
			    d->nvals > 0 && strcmp(d->vals->text, "none") == 0))
				return 1;
	return 0;
}

/* A server block with locations of its own inherits none of the top
 * level's: say so for each top-level location that restricts access and
 * that the block does not write again (an easy way to open a door). */
static void
warn_hidden(const struct conf_node *top, const struct conf_node *n)
{
	const struct conf_node *t, *o;

	for (t = top; t != NULL; t = t->next) {
		if (t->kind != CN_BLOCK || strcmp(t->name, "location") != 0 ||
		    t->nvals == 0 || !restricts(t))
			continue;
		for (o = n->body; o != NULL; o = o->next)
			if (o->kind == CN_BLOCK &&
			    strcmp(o->name, "location") == 0 && o->nvals > 0 &&
			    strcmp(o->vals->text, t->vals->text) == 0)
				break;
		if (o == NULL)
			log_warn("%s:%d: warning: server \"%s\" has locations "
			    "of its own, so the top-level location \"%s\" "
			    "(%s:%d), which restricts access, does not apply "
			    "to it", n->at.file, n->at.line, n->vals->text,
			    t->vals->text, t->at.file, t->at.line);
	}
}

/* One server block: the top level's site directives first (its
 * locations too, unless the block has its own: a list of locations is
 * inherited whole, as a header list is), then the block's own. */
static struct server_conf *
server_read(struct loader *ld, const struct conf_node *top,
    const struct conf_node *n)
{
	struct server_conf *sc = server_new();
	const struct conf_node *t;
	const struct directive *d;
	int own = has_location(n->body);
	size_t i;

	if (own)
		warn_hidden(top, n);
	server_defaults_at(sc, ld->cf->file);
	sc->name = xstrdup(n->vals->text);
	lowercase(sc->name);
	sc->at = n->at;
	sc->own_locs = own;
	ld->sc = sc;
	for (t = top; t != NULL && !ld->failed; t = t->next) {
		if ((d = find(site_dirs, t->name)) != NULL)
			directive_set(ld, d, sc, t);
		else if (!own && t->kind == CN_BLOCK &&
		    strcmp(t->name, "location") == 0)
			enter(ld, &blocks[0], sc, &blocks[2], t);
	}
	if (!ld->failed)
		walk(ld, B_SERVER, sc, n->body);
	ld->sc = NULL;
	if (ld->failed) {
		server_conf_free(sc);
		return NULL;
	}
	for (i = 0; i < sc->naliases; i++)
		lowercase(sc->aliases[i]);
	return sc;
}

static void
add_server(struct config *cf, struct server_conf *sc)
{
	cf->servers = xreallocarray(cf->servers, cf->nservers + 1,
	    sizeof *cf->servers);
	cf->servers[cf->nservers++] = sc;
}

/* The servers: those of the server blocks, or the top level's as the
 * one implicit server. */
static int
read_servers(struct loader *ld, struct server_conf *top,
    const struct conf_node *list)
{
	struct config *cf = ld->cf;
	struct server_conf *sc;
	size_t i;

	if (ld->nservers == 0) {
		add_server(cf, top);
		return 0;
	}
	server_conf_free(top);
	for (i = 0; i < ld->nservers; i++) {
		if ((sc = server_read(ld, list, ld->servers[i])) == NULL)
			return -1;
		add_server(cf, sc);
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
	cf->proto_min = TLS1_2_VERSION;
	cf->proto_max = TLS1_3_VERSION;
	cf->ciphers = xstrdup(DEFAULT_CIPHERS);
	cf->groups = xstrdup(DEFAULT_GROUPS);
	cf->ciphersuites = xstrdup(DEFAULT_SUITES);
	cf->log_level = LOG_INFO_;
	cf->handshake_timeout = 10;
	cf->header_timeout = 15;
	cf->keepalive_timeout = 15;
	cf->send_timeout = 30;
	cf->worker_connections = 1024;
	cf->unknown_sni = SNI_DEFAULT;
	cf->cache.store = xstrdup(CACHE_SPEC_DEFAULT);
	cf->cache.timeout = 300;
	cf->ticket_key_period = 3600;
	cf->cache.max_entries = 100000;
	cf->cache.purge_interval = 60;
	cf->cache.at = cf->cache.store_at = cf->cache.seal_at = none;
	cf->mime_at = none;
	cf->alog_at = cf->elog_at = cf->pid_at = cf->user_at = none;
	cf->acme_at = cf->sock_at = none;
	cf->ciphers_at = cf->suites_at = cf->groups_at = none;
	cf->tkfiles_at = cf->tkperiod_at = none;
}

static void
server_defaults_at(struct server_conf *sc, const char *file)
{
	const struct conf_at none = { file, 0 };

	sc->at = sc->alias_at = none;
	sc->certs_at = sc->keys_at = sc->root_at = none;
	sc->ca_at = sc->crl_at = sc->verify_at = none;
}

/* What one server needs, whatever the order it was written in.  A value
 * missing from a server block and from the top level is reported at the
 * block. */
static int
finish_server(struct loader *ld, struct server_conf *sc)
{
	const struct conf_at *here = &sc->at;
	char w[300] = "";
	size_t i;

	/* "server "a.test": " first, so that a value inherited from the
	 * top level says which server it fails for */
	if (sc->name != NULL)
		snprintf(w, sizeof w, "server \"%s\": ", sc->name);
	if (sc->root == NULL)
		return fail(ld, here, "%sroot: missing (the folder to serve)",
		    w);
	if (sc->ncerts == 0)
		return fail(ld, sc->certs_at.line ? &sc->certs_at : here,
		    "%scertificate: missing", w);
	if (sc->nkeys != sc->ncerts)
		return fail(ld, sc->keys_at.line ? &sc->keys_at : &sc->certs_at,
		    "%skey: %zu key(s) for %zu certificate(s); they are paired "
		    "by position", w, sc->nkeys, sc->ncerts);
	if (sc->verify_client != VERIFY_NONE && sc->client_ca == NULL)
		return fail(ld, sc->verify_at.line ? &sc->verify_at : here,
		    "%sverify-client needs client-ca", w);
	for (i = 0; i < sc->nlocs; i++) {
		const struct location *l = &sc->locs[i];
		int wants = l->acc.verify != VERIFY_NONE ||
		    l->acc.nallow_subject || l->acc.nallow_issuer;

		if (l->status && wants)
			return fail(ld, &l->at, "location \"%s\": a status page "
			    "is guarded by allow-address, not by client "
			    "certificates", l->prefix);
		if ((wants || l->acc.ndeny_subject) &&
		    l->acc.client_ca == NULL && sc->client_ca == NULL)
			return fail(ld, &l->at, "%slocation \"%s\" asks for a "
			    "client certificate but no client-ca is set", w,
			    l->prefix);
	}
	return 0;
}

/* Each name (and alias) names one server; at most one default. */
static int
finish_names(struct loader *ld)
{
	struct config *cf = ld->cf;
	const struct server_conf *a, *b;
	const char *na, *nb;
	char buf[PATH_MAX + 16];
	size_t i, j, k, l, dflt = 0;

	for (i = 0; i < cf->nservers; i++) {
		a = cf->servers[i];
		if (a->is_default && dflt++ > 0)
			return fail(ld, &a->at, "server \"%s\": a second default "
			    "server (the first is %s)", a->name,
			    cf->servers[cf->dflt]->name);
		if (a->is_default)
			cf->dflt = i;
		for (k = 0; k <= a->naliases; k++) {
			na = k == 0 ? a->name : a->aliases[k - 1];
			for (j = 0; j <= i; j++) {
				b = cf->servers[j];
				for (l = 0; l <= b->naliases; l++) {
					if (j == i && l >= k)
						break;
					nb = l == 0 ? b->name :
					    b->aliases[l - 1];
					if (strcmp(na, nb) != 0)
						continue;
					return fail(ld, k == 0 ? &a->at :
					    &a->alias_at, "server \"%s\": the "
					    "name '%s' is already server "
					    "\"%s\"'s (%s)", a->name, na,
					    b->name, first_at(l == 0 ? &b->at :
					    &b->alias_at, k == 0 ? &a->at :
					    &a->alias_at, buf, sizeof buf));
				}
			}
		}
	}
	return 0;
}

/* What needs the whole file: requirements and directives that depend
 * on one another, whatever their order. */
static int
finish(struct loader *ld)
{
	struct config *cf = ld->cf;
	const struct conf_at top = { cf->file, 0 };
	size_t i;

	if (cf->workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		cf->workers = n > 0 ? n : 1;
	}
	for (i = 0; i < cf->nservers; i++)
		if (finish_server(ld, cf->servers[i]) != 0)
			return -1;
	if (cf->servers[0]->name != NULL && finish_names(ld) != 0)
		return -1;
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
	if (cf->acme_root != NULL && cf->nhttp_listen == 0)
		return fail(ld, &cf->acme_at, "acme-root needs http-listen "
		    "(challenges are fetched over plain HTTP)");
	for (i = 0; i < cf->nservers; i++) {
		const struct server_conf *sc = cf->servers[i];
		int ca = sc->client_ca != NULL;
		size_t j;
		for (j = 0; j < sc->nlocs; j++)
			ca |= sc->locs[j].acc.client_ca != NULL;
		if (sc->client_crl != NULL && !ca)
			return fail(ld, &sc->crl_at, "client-crl needs client-ca "
			    "(the list is checked with the CA that signed it)");
	}
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
	return 0;
}

struct config *
config_load(const char *file, char *err, size_t errlen)
{
	struct loader ld;
	struct conf_tree *t;
	struct server_conf *top;
	struct config *cf;
	char *slash;
	int rc;

	memset(&ld, 0, sizeof ld);
	ld.err = err;
	ld.errlen = errlen;
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
	top = server_new();
	server_defaults_at(top, cf->file);
	ld.sc = top;
	rc = walk(&ld, &blocks[0], cf, conf_top(t));
	if (rc == 0)
		rc = read_servers(&ld, top, conf_top(t));
	else
		server_conf_free(top);
	if (rc == 0)
		rc = finish(&ld);
	free(ld.servers);
	conf_tree_free(t);
	if (rc == 0)
		return cf;
	config_free(cf);
	return NULL;
}

/* Longest matching prefix wins. */
const struct location *
config_location(const struct server_conf *sc, const char *path)
{
	const struct location *best = NULL;
	size_t i, bl = 0;

	for (i = 0; i < sc->nlocs; i++) {
		size_t l = strlen(sc->locs[i].prefix);
		if (strncmp(path, sc->locs[i].prefix, l) == 0 &&
		    (best == NULL || l > bl)) {
			best = &sc->locs[i];
			bl = l;
		}
	}
	return best;
}

int
config_host_key(const char *host, char *out, size_t outlen)
{
	size_t n, i;

	if (host == NULL || host[0] == '\0' || host[0] == '[')
		return -1;      /* no name, or an IPv6 literal */
	n = strcspn(host, ":");
	if (n > 0 && host[n - 1] == '.')
		n--;            /* "a.test." is "a.test" */
	if (n == 0 || n >= outlen)
		return -1;
	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)host[i]);
	out[n] = '\0';
	return 0;
}

/* 0: no match; else the strength of one: 2 exact, 1 a wildcard (with
 * *len the length of the wildcard's fixed part). */
static int
name_match(const char *pattern, const char *host, size_t *len)
{
	const char *dot;

	if (strcmp(pattern, host) == 0)
		return 2;
	if (strncmp(pattern, "*.", 2) != 0 || (dot = strchr(host, '.')) == NULL
	    || dot == host || strcmp(dot + 1, pattern + 2) != 0)
		return 0;
	*len = strlen(pattern);
	return 1;
}

int
config_names(const struct server_conf *sc, const char *host)
{
	size_t i, len;

	if (sc->name == NULL)
		return 1;
	if (name_match(sc->name, host, &len))
		return 1;
	for (i = 0; i < sc->naliases; i++)
		if (name_match(sc->aliases[i], host, &len))
			return 1;
	return 0;
}

const struct server_conf *
config_server(const struct config *cf, const char *host)
{
	const struct server_conf *best = NULL;
	size_t i, k, len = 0, bestlen = 0;
	int m;

	for (i = 0; i < cf->nservers; i++) {
		const struct server_conf *sc = cf->servers[i];
		if (sc->name == NULL)
			return sc;
		for (k = 0; k <= sc->naliases; k++) {
			m = name_match(k == 0 ? sc->name : sc->aliases[k - 1],
			    host, &len);
			if (m == 2)
				return sc;
			if (m == 1 && len > bestlen) {
				best = sc;
				bestlen = len;
			}
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
	for (i = 0; i < cf->nservers; i++)
		server_conf_free(cf->servers[i]);
	free(cf->servers);
	free_strv(cf->ticket_key_files, cf->nticket_key_files);
	free(cf->file);
	free(cf->dir);
	free(cf->user);
	free(cf->mime_types);
	free(cf->ciphers);
	free(cf->ciphersuites);
	free(cf->groups);
	free(cf->access_log);
	free(cf->error_log);
	free(cf->syslog_socket);
	free(cf->pid_file);
	free(cf->cache.store);
	free(cf->cache.store_path);
	free(cf->cache.seal_key_file);
	free(cf->cache.password_file);
	conf_files_free(&cf->files);
	free(cf);
}
