/*
 * config.c - what cachetd.conf means: parse.y reads the syntax into a tree
 * of statements, and this file walks it, block by block, through a table
 * of the directives each block takes, into a struct config.
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

/* One load: the config being filled and the first error. */
struct loader {
	struct config *cf;
	char          *err;
	size_t         errlen;
	int            failed;
};

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

static int
fail(struct loader *ld, const struct conf_at *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The first error wins; later ones are usually consequences. */
static int
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

static void
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

/* ------------------------------------------------------- directives */

/* A value, converted: what a check sees. */
union dval {
	long        i;
	double      d;
	int         b;
	const char *s;
};

struct directive;
/* Checks one value, converted; 0, or -1 with the error set. */
typedef int check_fn(struct loader *, const struct directive *,
    const struct conf_value *, const union dval *);


enum dtype {
	D_STR,          /* char * */
	D_PATH,         /* char *, relative to the config file's folder */
	D_INT,          /* long */
	D_FLOAT,        /* double */
	D_BOOL,         /* int */
	D_ENUM,         /* int, one of names */
	D_STRV,         /* char ** and a size_t count; one value or a list */
	D_PATHV,        /* D_STRV of paths */
	D_LISTEN,       /* struct listen_addr * and a size_t count */
	D_PROTOCOLS,    /* proto_min, proto_max (of struct config) */
};

struct enum_name {
	const char *name;
	int         value;
};

struct directive {
	const char             *name;   /* first: checks read it from d */
	enum dtype              type;
	size_t                  off;    /* the field, in the block's struct */
	size_t                  off_n;  /* D_STRV, D_PATHV, D_LISTEN: count */
	size_t                  off_at; /* where it was written, or NO_AT */
	check_fn               *check;  /* each value, converted */
	const struct enum_name *names;  /* D_ENUM */
};

/* ------------------------------------------------------------ checks */

static int
check_positive(struct loader *ld, const struct directive *d,
    const struct conf_value *v, const union dval *x)
{
	if (x->i < 1)
		return fail(ld, &v->at, "%s: must be at least 1, not %ld",
		    d->name, x->i);
	return 0;
}

/* A reload runs two generations side by side, each in its own slots of
 * the shared statistics: one generation may use half of them. */
static int
check_workers(struct loader *ld, const struct directive *d,
    const struct conf_value *v, const union dval *x)
{
	if (check_positive(ld, d, v, x) != 0)
		return -1;
	if (x->i > MAX_WORKERS / 2)
		return fail(ld, &v->at, "workers: at most %d (a reload runs "
		    "two generations of workers side by side), not %ld",
		    MAX_WORKERS / 2, x->i);
	return 0;
}

static int
check_timeout(struct loader *ld, const struct directive *d,
    const struct conf_value *v, const union dval *x)
{
	if (!(x->d > 0) || x->d > 86400)
		return fail(ld, &v->at, "%s: must be seconds between 0 and "
		    "86400, not %g", d->name, x->d);
	return 0;
}

static int
check_listen(struct loader *ld, const struct directive *d,
    const struct conf_value *v, const union dval *x)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (parse_listen(x->s, &ss, &len) != 0)
		return fail(ld, &v->at, "%s: '%s' is not ADDR:PORT or "
		    "[ADDR6]:PORT (port 0 to 65535)", d->name, x->s);
	return 0;
}

static int
check_port(struct loader *ld, const struct directive *d,
    const struct conf_value *v, const union dval *x)
{
	if (x->i < 1 || x->i > 65535)
		return fail(ld, &v->at, "%s: must be a port from 1 to 65535, "
		    "not %ld", d->name, x->i);
	return 0;
}

static int
proto_version(const char *s)
{
	if (strcmp(s, "TLSv1.2") == 0)
		return TLS1_2_VERSION;
	if (strcmp(s, "TLSv1.3") == 0)
		return TLS1_3_VERSION;
	return 0;
}

static int
check_protocol(struct loader *ld, const struct directive *d,
    const struct conf_value *v, const union dval *x)
{
	(void)d;
	if (proto_version(x->s) != 0)
		return 0;
	if (strcmp(x->s, "TLSv1") == 0 || strcmp(x->s, "TLSv1.1") == 0 ||
	    strcmp(x->s, "SSLv3") == 0)
		return fail(ld, &v->at, "protocols: %s is not supported "
		    "(TLSv1.2 is the minimum)", x->s);
	return fail(ld, &v->at, "protocols: unknown protocol '%s' (use "
	    "TLSv1.2, TLSv1.3)", x->s);
}

static int
check_store(struct loader *ld, const struct directive *d,
    const struct conf_value *v, const union dval *x)
{
	char why[256];

	(void)d;
	if (cache_spec_check(x->s, why, sizeof why) == 0)
		return 0;
	return fail(ld, &v->at, "store: %s", why);
}

static int
check_index(struct loader *ld, const struct directive *d,
    const struct conf_value *v, const union dval *x)
{
	(void)d;
	if (strchr(x->s, '/') != NULL || x->s[0] == '\0' ||
	    strcmp(x->s, "..") == 0 || strcmp(x->s, ".") == 0)
		return fail(ld, &v->at, "index: '%s' must be a plain file "
		    "name", x->s);
	return 0;
}

static int
check_dn(struct loader *ld, const struct directive *d,
    const struct conf_value *v, const union dval *x)
{
	const char *star = strchr(x->s, '*');

	if (x->s[0] == '\0' || strchr(x->s, '=') == NULL ||
	    (star != NULL && star[1] != '\0'))
		return fail(ld, &v->at, "%s: '%s' is not a DN in RFC 2253 "
		    "form (\"CN=alice,O=Example\"), with at most a trailing *",
		    d->name, x->s);
	return 0;
}

static int
check_address(struct loader *ld, const struct directive *d,
    const struct conf_value *v, const union dval *x)
{
	unsigned char buf[sizeof(struct in6_addr)];

	if (inet_pton(AF_INET, x->s, buf) != 1 &&
	    inet_pton(AF_INET6, x->s, buf) != 1)
		return fail(ld, &v->at, "%s: '%s' is not an IP address",
		    d->name, x->s);
	return 0;
}

#define NO_AT ((size_t)-1)
#define CF(f)  offsetof(struct config, f)
#define CC(f)  offsetof(struct cache_conf, f)
#define LOC(f) offsetof(struct location, f)

/* header = {"Name: value", ...}: a field name, a colon, a value without
 * control bytes; the framing fields are ours. */
static int
check_header(struct loader *ld, const struct directive *d,
    const struct conf_value *v, const union dval *x)
{
	static const char *const ours[] = { "Content-Length", "Connection",
	    "Transfer-Encoding", "Content-Range", "Date", "Server",
	    "Content-Type", "Content-Encoding" };
	const char *h = x->s, *p, *colon = strchr(h, ':');
	int bad = colon == NULL || colon == h;
	size_t k;

	(void)d;
	for (p = h; !bad && p < colon; p++)
		bad = !(isalnum((unsigned char)*p) ||
		    strchr("!#$%&'*+-.^_`|~", *p) != NULL);
	for (p = colon ? colon + 1 : h; !bad && *p; p++)
		bad = ((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f;
	if (bad)
		return fail(ld, &v->at, "header: '%s' is not \"Name: value\"",
		    h);
	for (k = 0; k < sizeof ours / sizeof ours[0]; k++)
		if (strlen(ours[k]) == (size_t)(colon - h) &&
		    strncasecmp(h, ours[k], (size_t)(colon - h)) == 0)
			return fail(ld, &v->at, "header: %s is set by cachetd "
			    "itself", ours[k]);
	return 0;
}

/* error-pages = "/errors": a folder of the site, written as the
 * canonical path it is served under. */
static int
check_error_pages(struct loader *ld, const struct directive *d,
    const struct conf_value *v, const union dval *x)
{
	char canon[PATH_MAX + 2], rel[PATH_MAX];
	int slash;

	(void)d;
	if (path_canonical(x->s, canon, sizeof canon, rel, sizeof rel,
	    &slash) != 0 || rel[0] == '\0' || strcmp(canon, x->s) != 0)
		return fail(ld, &v->at, "error-pages: '%s' is not a folder's "
		    "canonical path under the root (e.g. \"/errors\")", x->s);
	return 0;
}

/* return = "301 https://example.org$request_uri": a redirect status and
 * an absolute URL or path, without spaces or control bytes. */
static int
check_return(struct loader *ld, const struct directive *d,
    const struct conf_value *v, const union dval *x)
{
	const char *s = x->s, *u, *p;
	long code = strtol(s, (char **)&u, 10);

	(void)d;
	if (u == s || *u != ' ' || (code != 301 && code != 302 &&
	    code != 303 && code != 307 && code != 308))
		return fail(ld, &v->at, "return: '%s' does not start with "
		    "301, 302, 303, 307 or 308 and a space", s);
	for (u++; *u == ' '; u++)
		;
	if (*u == '\0')
		return fail(ld, &v->at, "return: no URL after %ld", code);
	for (p = u; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return fail(ld, &v->at, "return: the URL has a space "
			    "or a control byte");
	if (!(u[0] == '/' && u[1] != '/') && strncmp(u, "https://", 8) != 0 &&
	    strncmp(u, "http://", 7) != 0 && strncmp(u, "$request_uri", 12))
		return fail(ld, &v->at, "return: '%s' is neither an absolute "
		    "http(s) URL nor a path", u);
	return 0;
}

static const struct enum_name verify_names[] = {
	{ "none", VERIFY_NONE }, { "optional", VERIFY_OPTIONAL },
	{ "require", VERIFY_REQUIRE }, { NULL, 0 }
};
static const struct enum_name level_names[] = {
	{ "error", LOG_ERR_ }, { "warn", LOG_WARN_ }, { "notice", LOG_NOTICE_ },
	{ "info", LOG_INFO_ }, { "debug", LOG_DEBUG_ }, { NULL, 0 }
};
static const struct enum_name pha_names[] = {
	{ "tls1.2", PHA_TLS12 }, { "refuse", PHA_REFUSE }, { NULL, 0 }
};

/* The top level: the server. */
static const struct directive top_dirs[] = {
	{ "listen", D_LISTEN, CF(listen), CF(nlisten), NO_AT, check_listen,
	    NULL },
	{ "http-listen", D_LISTEN, CF(http_listen), CF(nhttp_listen), NO_AT,
	  check_listen, NULL },
	{ "acme-root", D_PATH, CF(acme_root), 0, CF(acme_at), NULL, NULL },
	{ "https-port", D_INT, CF(https_port), 0, NO_AT, check_port, NULL },
	{ "workers", D_INT, CF(workers), 0, NO_AT, check_workers, NULL },
	{ "user", D_STR, CF(user), 0, CF(user_at), NULL, NULL },
	{ "root", D_PATH, CF(root), 0, CF(root_at), NULL, NULL },
	{ "index", D_STR, CF(index), 0, NO_AT, check_index, NULL },
	{ "mime-types", D_PATH, CF(mime_types), 0, CF(mime_at), NULL, NULL },
	{ "certificate", D_PATHV, CF(certs), CF(ncerts), CF(certs_at), NULL,
	    NULL },
	{ "key", D_PATHV, CF(keys), CF(nkeys), CF(keys_at), NULL, NULL },
	{ "protocols", D_PROTOCOLS, 0, 0, NO_AT, check_protocol, NULL },
	{ "ciphers", D_STR, CF(ciphers), 0, CF(ciphers_at), NULL, NULL },
	{ "groups", D_STR, CF(groups), 0, CF(groups_at), NULL, NULL },
	{ "header", D_STRV, CF(headers), CF(nheaders), NO_AT, check_header,
	    NULL },
	{ "gzip-static", D_BOOL, CF(gzip_static), 0, NO_AT, NULL, NULL },
	{ "default-type", D_STR, CF(default_type), 0, NO_AT, NULL, NULL },
	{ "error-pages", D_STR, CF(error_pages), 0, NO_AT, check_error_pages,
	    NULL },
	{ "ciphersuites", D_STR, CF(ciphersuites), 0, CF(suites_at), NULL,
	    NULL },
	{ "access-log", D_PATH, CF(access_log), 0, CF(alog_at), NULL, NULL },
	{ "error-log", D_PATH, CF(error_log), 0, CF(elog_at), NULL, NULL },
	{ "pid-file", D_PATH, CF(pid_file), 0, CF(pid_at), NULL, NULL },
	{ "log-level", D_ENUM, CF(log_level), 0, NO_AT, NULL, level_names },
	{ "handshake-timeout", D_FLOAT, CF(handshake_timeout), 0, NO_AT,
	    check_timeout, NULL },
	{ "header-timeout", D_FLOAT, CF(header_timeout), 0, NO_AT,
	    check_timeout, NULL },
	{ "keepalive-timeout", D_FLOAT, CF(keepalive_timeout), 0, NO_AT,
	    check_timeout, NULL },
	{ "send-timeout", D_FLOAT, CF(send_timeout), 0, NO_AT, check_timeout,
	    NULL },
	{ "worker-connections", D_INT, CF(worker_connections), 0, NO_AT,
	    check_positive, NULL },
	{ "session-tickets", D_BOOL, CF(session_tickets), 0, NO_AT, NULL,
	    NULL },
	{ "client-ca", D_PATH, CF(client_ca), 0, CF(ca_at), NULL, NULL },
	{ "client-crl", D_PATH, CF(client_crl), 0, CF(crl_at), NULL, NULL },
	{ "verify-depth", D_INT, CF(verify_depth), 0, NO_AT, check_positive,
	    NULL },
	{ "verify-client", D_ENUM, CF(verify_client), 0, CF(verify_at), NULL,
	    verify_names },
	{ "tls13-without-pha", D_ENUM, CF(tls13_without_pha), 0, NO_AT, NULL,
	    pha_names },
	{ NULL, 0, 0, 0, 0, NULL, NULL }
};

static const struct directive cache_dirs[] = {
	{ "store", D_STR, CC(store), 0, CC(store_at), check_store, NULL },
	{ "timeout", D_INT, CC(timeout), 0, NO_AT, check_positive, NULL },
	{ "max-entries", D_INT, CC(max_entries), 0, NO_AT, check_positive,
	    NULL },
	{ "purge-interval", D_INT, CC(purge_interval), 0, NO_AT,
	    check_positive, NULL },
	{ "seal-key-file", D_PATH, CC(seal_key_file), 0, CC(seal_at), NULL,
	    NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL }
};

static const struct directive location_dirs[] = {
	{ "status", D_BOOL, LOC(status), 0, NO_AT, NULL, NULL },
	{ "allow-address", D_STRV, LOC(allow_addr), LOC(nallow_addr), NO_AT,
	    check_address, NULL },
	{ "verify-client", D_ENUM, LOC(acc.verify), 0, NO_AT, NULL,
	    verify_names },
	{ "client-ca", D_PATH, LOC(acc.client_ca), 0, NO_AT, NULL, NULL },
	{ "allow-subject", D_STRV, LOC(acc.allow_subject),
	    LOC(acc.nallow_subject), NO_AT, check_dn, NULL },
	{ "allow-issuer", D_STRV, LOC(acc.allow_issuer),
	    LOC(acc.nallow_issuer), NO_AT, check_dn, NULL },
	{ "deny-subject", D_STRV, LOC(acc.deny_subject),
	    LOC(acc.ndeny_subject), NO_AT, check_dn, NULL },
	{ "header", D_STRV, LOC(headers), LOC(nheaders), NO_AT, check_header,
	    NULL },
	{ "return", D_STR, LOC(ret), 0, NO_AT, check_return, NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL }
};

#define FIELD(base, off, type) ((type *)(void *)((char *)(base) + (off)))

/* ------------------------------------------------------------ values */

static int
to_long(struct loader *ld, const char *name, const struct conf_value *v,
    long *out)
{
	char *end;

	errno = 0;
	*out = strtol(v->text, &end, 10);
	if (v->text[0] == '\0' || isspace((unsigned char)v->text[0]) ||
	    *end != '\0')
		return fail(ld, &v->at, "%s: '%s' is not a whole number",
		    name, v->text);
	if (errno == ERANGE)
		return fail(ld, &v->at, "%s: '%s' is too large", name,
		    v->text);
	return 0;
}

static int
to_double(struct loader *ld, const char *name, const struct conf_value *v,
    double *out)
{
	char *end;

	errno = 0;
	*out = strtod(v->text, &end);
	if (v->text[0] == '\0' || isspace((unsigned char)v->text[0]) ||
	    *end != '\0' || !isfinite(*out))
		return fail(ld, &v->at, "%s: '%s' is not a number", name,
		    v->text);
	return 0;
}

static int
to_bool(struct loader *ld, const char *name, const struct conf_value *v,
    int *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	size_t i;

	for (i = 0; i < 3; i++) {
		if (strcasecmp(v->text, yes[i]) == 0)
			return *out = 1, 0;
		if (strcasecmp(v->text, no[i]) == 0)
			return *out = 0, 0;
	}
	return fail(ld, &v->at, "%s: '%s' is not true or false", name,
	    v->text);
}

static int
to_enum(struct loader *ld, const struct directive *d,
    const struct conf_value *v, int *out)
{
	char list[256];
	size_t i, n, len = 0;

	for (n = 0; d->names[n].name != NULL; n++)
		if (strcmp(v->text, d->names[n].name) == 0) {
			*out = d->names[n].value;
			return 0;
		}
	list[0] = '\0';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(list + len, sizeof list - len, "%s%s",
		    i == 0 ? "" : i + 1 == n ? " or " : ", ", d->names[i].name);
	return fail(ld, &v->at, "%s: '%s' is not %s", d->name, v->text, list);
}

/* Convert one value to what d stores, and check it. */
static int
convert(struct loader *ld, const struct directive *d,
    const struct conf_value *v, union dval *x)
{
	int rc = 0;

	memset(x, 0, sizeof *x);
	switch (d->type) {
	case D_INT:
		rc = to_long(ld, d->name, v, &x->i);
		break;
	case D_FLOAT:
		rc = to_double(ld, d->name, v, &x->d);
		break;
	case D_BOOL:
		rc = to_bool(ld, d->name, v, &x->b);
		break;
	case D_ENUM:
		rc = to_enum(ld, d, v, &x->b);
		break;
	case D_PATH:
	case D_PATHV:
		if (v->text[0] == '\0')
			return fail(ld, &v->at, "%s: an empty path", d->name);
		x->s = v->text;
		break;
	default:
		x->s = v->text;
		break;
	}
	if (rc == 0 && d->check != NULL)
		rc = d->check(ld, d, v, x);
	return rc;
}

/* Store a statement's value(s) in the block's struct at base. */
static int
set(struct loader *ld, const struct directive *d, void *base,
    const struct conf_node *n)
{
	struct config *cf = ld->cf;
	const struct conf_value *v;
	union dval x;
	size_t i;

	if (n->kind == CN_LIST && d->type != D_STRV && d->type != D_PATHV &&
	    d->type != D_LISTEN && d->type != D_PROTOCOLS)
		return fail(ld, &n->at, "%s: takes one value, not a list",
		    d->name);
	for (v = n->vals; v != NULL; v = v->next)
		if (convert(ld, d, v, &x) != 0)
			return -1;
	if (d->off_at != NO_AT)
		*FIELD(base, d->off_at, struct conf_at) = n->at;

	switch (d->type) {
	case D_STR:
	case D_PATH: {
		char **p = FIELD(base, d->off, char *);
		free(*p);
		*p = d->type == D_PATH ? config_path(cf, n->vals->text) :
		    xstrdup(n->vals->text);
		return 0;
	}
	case D_INT:             /* x: the one value, converted */
		*FIELD(base, d->off, long) = x.i;
		return 0;
	case D_FLOAT:
		*FIELD(base, d->off, double) = x.d;
		return 0;
	case D_BOOL:
	case D_ENUM:
		*FIELD(base, d->off, int) = x.b;
		return 0;
	case D_STRV:
	case D_PATHV: {
		char ***p = FIELD(base, d->off, char **);
		size_t *np = FIELD(base, d->off_n, size_t);
		free_strv(*p, *np);
		*p = xcalloc(n->nvals + 1, sizeof **p);
		*np = n->nvals;
		for (i = 0, v = n->vals; v != NULL; v = v->next, i++)
			(*p)[i] = d->type == D_PATHV ? config_path(cf, v->text) :
			    xstrdup(v->text);
		return 0;
	}
	case D_LISTEN: {
		struct listen_addr **p = FIELD(base, d->off,
		    struct listen_addr *);
		size_t *np = FIELD(base, d->off_n, size_t);
		if (n->nvals == 0)
			return fail(ld, &n->at, "%s: at least one address "
			    "needed", d->name);
		for (i = 0; i < *np; i++)
			free((*p)[i].text);
		free(*p);
		*p = xcalloc(n->nvals, sizeof **p);
		*np = n->nvals;
		for (i = 0, v = n->vals; v != NULL; v = v->next, i++) {
			(*p)[i].text = xstrdup(v->text);
			(*p)[i].at = v->at;
			parse_listen(v->text, &(*p)[i].ss, &(*p)[i].sslen);
		}
		return 0;
	}
	case D_PROTOCOLS:
		if (n->nvals == 0)
			return fail(ld, &n->at, "protocols: at least one "
			    "protocol needed");
		cf->proto_min = cf->proto_max = 0;
		for (v = n->vals; v != NULL; v = v->next) {
			int p = proto_version(v->text);
			if (cf->proto_min == 0 || p < cf->proto_min)
				cf->proto_min = p;
			if (p > cf->proto_max)
				cf->proto_max = p;
		}
		return 0;
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
			if (set(ld, d, target, n) != 0)
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
	cf->cache.max_entries = 100000;
	cf->cache.purge_interval = 60;
	cf->cache.at = cf->cache.store_at = cf->cache.seal_at = none;
	cf->certs_at = cf->keys_at = cf->root_at = cf->mime_at = none;
	cf->alog_at = cf->elog_at = cf->pid_at = cf->user_at = none;
	cf->ca_at = cf->crl_at = cf->verify_at = cf->acme_at = none;
	cf->ciphers_at = cf->suites_at = cf->groups_at = none;
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
