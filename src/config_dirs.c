/*
 * config_dirs.c - the directives of cachetd.conf: for each block (the top
 * level, session-cache, location) a table of the directives it takes, the
 * names an enumerated value may have, the check each value must pass, and
 * directive_set(), which converts a statement's value(s) by type ("3" to a
 * number, "true" to a boolean, a relative path to one under the config
 * file's folder), checks them and stores them in the block's struct.
 *
 * Invariants: nothing is stored until every value of the statement has
 * been converted and checked, so a failed statement stores no value; a
 * value given again replaces the earlier one and frees it; every message
 * is "name: what is wrong", at the line of the value at fault.  Adding a
 * directive is a row here and a field in cachetd.h; what a directive's
 * value means beside the others (one needing another) is config.c's
 * finish().
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cachetd.h"
#include "config_int.h"

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

/* ticket-key-period: a second at least, a day at most (keys made in
 * memory should not live long: forward secrecy). */
static int
check_key_period(struct loader *ld, const struct directive *d,
    const struct conf_value *v, const union dval *x)
{
	if (x->i < 1 || x->i > 86400)
		return fail(ld, &v->at, "%s: must be seconds between 1 and "
		    "86400, not %ld", d->name, x->i);
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

/* access-log-buffer: none, or room for the longest line (a line is never
 * split between two writes); at most 16 MiB a worker. */
static int
check_buffer(struct loader *ld, const struct directive *d,
    const struct conf_value *v, const union dval *x)
{
	(void)d;
	if (x->i != 0 && (x->i < ACCESS_BUFFER_MIN || x->i > 16L << 20))
		return fail(ld, &v->at, "access-log-buffer: 0 (off) or from "
		    "%dk to 16m, not %s", ACCESS_BUFFER_MIN / 1024, v->text);
	return 0;
}

#define CF(f)  offsetof(struct config, f)
#define CC(f)  offsetof(struct cache_conf, f)
#define LOC(f) offsetof(struct location, f)
#define SC(f)  offsetof(struct server_conf, f)

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

/* A server's name as a client sends it in SNI and Host: DNS labels of
 * letters, digits and '-', or "*." and such labels (a wildcard stands for
 * exactly one leftmost label, as in certificates).  No IP addresses: a
 * client never sends one in SNI (RFC 6066 3). */
int
config_name_ok(const char *name)
{
	const char *p = name;
	size_t label = 0, labels = 0;

	if (strncmp(p, "*.", 2) == 0)
		p += 2;
	if (strlen(p) > 253 || *p == '\0')
		return 0;
	for (; ; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || p[-1] == '-')
				return 0;
			labels++;
			label = 0;
			if (*p == '\0')
				break;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-')
			return 0;
		if (label == 0 && *p == '-')
			return 0;
		if (++label > 63)
			return 0;
	}
	/* "*.org" would take a whole top-level domain */
	return name[0] != '*' || labels >= 2;
}

static int
check_name(struct loader *ld, const struct directive *d,
    const struct conf_value *v, const union dval *x)
{
	if (!config_name_ok(x->s))
		return fail(ld, &v->at, "%s: '%s' is not a host name (DNS "
		    "labels, or *.name for one leftmost label)", d->name, x->s);
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
static const struct enum_name sni_names[] = {
	{ "default", SNI_DEFAULT }, { "refuse", SNI_REFUSE }, { NULL, 0 }
};
static const struct enum_name alog_formats[] = {
	{ "combined", ALOG_COMBINED }, { "json", ALOG_JSON }, { NULL, 0 }
};
static const struct enum_name pha_names[] = {
	{ "tls1.2", PHA_TLS12 }, { "refuse", PHA_REFUSE }, { NULL, 0 }
};

/* The top level: the daemon (and, in site_dirs, every server's defaults). */
const struct directive top_dirs[] = {
	{ "listen", D_LISTEN, CF(listen), CF(nlisten), NO_AT, check_listen,
	    NULL },
	{ "http-listen", D_LISTEN, CF(http_listen), CF(nhttp_listen), NO_AT,
	  check_listen, NULL },
	{ "acme-root", D_PATH, CF(acme_root), 0, CF(acme_at), NULL, NULL },
	{ "https-port", D_INT, CF(https_port), 0, NO_AT, check_port, NULL },
	{ "workers", D_INT, CF(workers), 0, NO_AT, check_workers, NULL },
	{ "user", D_STR, CF(user), 0, CF(user_at), NULL, NULL },
	{ "mime-types", D_PATH, CF(mime_types), 0, CF(mime_at), NULL, NULL },
	{ "protocols", D_PROTOCOLS, 0, 0, NO_AT, check_protocol, NULL },
	{ "ciphers", D_STR, CF(ciphers), 0, CF(ciphers_at), NULL, NULL },
	{ "groups", D_STR, CF(groups), 0, CF(groups_at), NULL, NULL },
	{ "ciphersuites", D_STR, CF(ciphersuites), 0, CF(suites_at), NULL,
	    NULL },
	{ "access-log", D_LOG, CF(access_log), 0, CF(alog_at), NULL, NULL },
	{ "access-log-format", D_ENUM, CF(access_log_format), 0, NO_AT, NULL,
	    alog_formats },
	{ "access-log-buffer", D_SIZE, CF(access_log_buffer), 0, NO_AT,
	    check_buffer, NULL },
	{ "error-log", D_LOG, CF(error_log), 0, CF(elog_at), NULL, NULL },
	{ "syslog-socket", D_PATH, CF(syslog_socket), 0, CF(sock_at), NULL,
	    NULL },
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
	{ "ticket-key-files", D_PATHV, CF(ticket_key_files),
	    CF(nticket_key_files), CF(tkfiles_at), NULL, NULL },
	{ "ticket-key-period", D_INT, CF(ticket_key_period), 0,
	    CF(tkperiod_at), check_key_period, NULL },
	{ "unknown-sni", D_ENUM, CF(unknown_sni), 0, NO_AT, NULL,
	    sni_names },
	{ NULL, 0, 0, 0, 0, NULL, NULL }
};

/* What a server block takes, and the top level as the default of every
 * server: the site itself. */
const struct directive site_dirs[] = {
	{ "root", D_PATH, SC(root), 0, SC(root_at), NULL, NULL },
	{ "index", D_STR, SC(index), 0, NO_AT, check_index, NULL },
	{ "certificate", D_PATHV, SC(certs), SC(ncerts), SC(certs_at), NULL,
	    NULL },
	{ "key", D_PATHV, SC(keys), SC(nkeys), SC(keys_at), NULL, NULL },
	{ "header", D_STRV, SC(headers), SC(nheaders), NO_AT, check_header,
	    NULL },
	{ "gzip-static", D_BOOL, SC(gzip_static), 0, NO_AT, NULL, NULL },
	{ "default-type", D_STR, SC(default_type), 0, NO_AT, NULL, NULL },
	{ "error-pages", D_STR, SC(error_pages), 0, NO_AT, check_error_pages,
	    NULL },
	{ "client-ca", D_PATH, SC(client_ca), 0, SC(ca_at), NULL, NULL },
	{ "client-crl", D_PATH, SC(client_crl), 0, SC(crl_at), NULL, NULL },
	{ "verify-depth", D_INT, SC(verify_depth), 0, NO_AT, check_positive,
	    NULL },
	{ "verify-client", D_ENUM, SC(verify_client), 0, SC(verify_at), NULL,
	    verify_names },
	{ "tls13-without-pha", D_ENUM, SC(tls13_without_pha), 0, NO_AT, NULL,
	    pha_names },
	{ NULL, 0, 0, 0, 0, NULL, NULL }
};

/* What only a server block takes: its other names, and whether it is the
 * default. */
const struct directive server_dirs[] = {
	{ "alias", D_STRV, SC(aliases), SC(naliases), SC(alias_at),
	    check_name, NULL },
	{ "default", D_BOOL, SC(is_default), 0, NO_AT, NULL, NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL }
};

const struct directive cache_dirs[] = {
	{ "store", D_STR, CC(store), 0, CC(store_at), check_store, NULL },
	{ "timeout", D_INT, CC(timeout), 0, NO_AT, check_positive, NULL },
	{ "max-entries", D_INT, CC(max_entries), 0, NO_AT, check_positive,
	    NULL },
	{ "purge-interval", D_INT, CC(purge_interval), 0, NO_AT,
	    check_positive, NULL },
	{ "seal-key-file", D_PATH, CC(seal_key_file), 0, CC(seal_at), NULL,
	    NULL },
	{ "fetch-timeout", D_FLOAT, CC(fetch_timeout), 0, NO_AT,
	    check_timeout, NULL },
	{ "password-file", D_PATH, CC(password_file), 0, CC(password_at),
	    NULL, NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL }
};

const struct directive location_dirs[] = {
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

/* A size in bytes: digits, then k or m (1024, 1024 * 1024) if wanted. */
static int
to_size(struct loader *ld, const char *name, const struct conf_value *v,
    long *out)
{
	char *end;
	long unit = 1;

	errno = 0;
	*out = strtol(v->text, &end, 10);
	if (*end == 'k' || *end == 'K')
		unit = 1024, end++;
	else if (*end == 'm' || *end == 'M')
		unit = 1024 * 1024, end++;
	if (!isdigit((unsigned char)v->text[0]) || *end != '\0')
		return fail(ld, &v->at, "%s: '%s' is not a size (bytes, or "
		    "with k or m)", name, v->text);
	if (errno == ERANGE || *out > LONG_MAX / unit)
		return fail(ld, &v->at, "%s: '%s' is too large", name,
		    v->text);
	*out *= unit;
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
	case D_SIZE:
		rc = to_size(ld, d->name, v, &x->i);
		break;
	case D_LOG: {
		int facility;
		if (log_dest_syslog(v->text, &facility) < 0)
			return fail(ld, &v->at, "%s: '%s': unknown syslog "
			    "facility (daemon, user, local0 to local7)",
			    d->name, v->text);
	}
		/* FALLTHROUGH */
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
int
directive_set(struct loader *ld, const struct directive *d, void *base,
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
	case D_LOG: {
		char **p = FIELD(base, d->off, char *);
		int facility;
		free(*p);
		*p = log_dest_syslog(n->vals->text, &facility) == 1 ||
		    (d->off == CF(access_log) &&
		    log_dest_off(n->vals->text)) ?
		    xstrdup(n->vals->text) : config_path(cf, n->vals->text);
		if (d->off == CF(error_log) && log_dest_off(n->vals->text))
			log_warn("%s:%d: warning: error-log = off is a file "
			    "named off (%s): errors are always logged; "
			    "access-log = off turns the access log off",
			    n->at.file, n->at.line, *p);
		return 0;
	}
	case D_INT:             /* x: the one value, converted */
	case D_SIZE:
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
