/*
 * config.c - read cachetd.conf with libConfuse into a struct config.
 *
 * libConfuse does the lexing and the grammar; this file adds the meaning:
 * every value is checked here, and every problem is reported as
 * "FILE:LINE: what is wrong", the line being that of the directive.
 * Relative paths are taken relative to the folder of the config file.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <confuse.h>

#include "cachetd.h"

/* The first error wins; later ones are usually consequences. */
struct errbuf {
	char   *buf;
	size_t  len;
	int     set;
};
static struct errbuf *cur_err;
static const char *cur_file;

/* libConfuse keeps no line per option: validation callbacks, which run as
 * each value is parsed, note it here so later checks can name it. */
static struct {
	const char *name;
	int         line;
} lines[48];
static size_t nlines;

static void
note_line(cfg_t *cfg, cfg_opt_t *opt)
{
	size_t i;

	/* Called again for each further value of a list: keep the line of
	 * the first value; a directive given again starts afresh. */
	if (cfg_opt_size(opt) > 1)
		return;
	for (i = 0; i < nlines; i++)
		if (strcmp(lines[i].name, opt->name) == 0)
			break;
	if (i == nlines) {
		if (nlines == sizeof lines / sizeof lines[0])
			return;
		nlines++;
	}
	lines[i].name = opt->name;
	lines[i].line = cfg->line;
}

static int
v_note(cfg_t *cfg, cfg_opt_t *opt)
{
	note_line(cfg, opt);
	return 0;
}

static void
errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	char msg[512];

	if (cur_err == NULL || cur_err->set)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (cfg != NULL && cfg->line > 0)
		snprintf(cur_err->buf, cur_err->len, "%s:%d: %s",
		    cfg->filename ? cfg->filename : cur_file, cfg->line, msg);
	else
		snprintf(cur_err->buf, cur_err->len, "%s", msg);
	cur_err->set = 1;
}

static void
seterr(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (cur_err == NULL || cur_err->set)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(cur_err->buf, cur_err->len, "%s:%d: %s", file, line,
		    msg);
	else
		snprintf(cur_err->buf, cur_err->len, "%s: %s", file, msg);
	cur_err->set = 1;
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

/*
 * Validators run as each directive is parsed (cfg->line is its line), and
 * see every value given so far.  Each also notes the line.
 */
static int
v_listen(cfg_t *cfg, cfg_opt_t *opt)
{
	struct sockaddr_storage ss;
	socklen_t len;
	unsigned int i;

	note_line(cfg, opt);
	for (i = 0; i < cfg_opt_size(opt); i++) {
		const char *s = cfg_opt_getnstr(opt, i);
		if (parse_listen(s, &ss, &len) != 0) {
			cfg_error(cfg, "listen: '%s' is not ADDR:PORT or "
			    "[ADDR6]:PORT", s);
			return -1;
		}
	}
	return 0;
}

static int
v_positive(cfg_t *cfg, cfg_opt_t *opt)
{
	long v = cfg_opt_getnint(opt, 0);

	note_line(cfg, opt);
	if (v < 1) {
		cfg_error(cfg, "%s: must be at least 1, not %ld", opt->name, v);
		return -1;
	}
	return 0;
}

/* A reload runs two generations side by side, each in its own slots of
 * the shared statistics: one generation may use half of them. */
static int
v_workers(cfg_t *cfg, cfg_opt_t *opt)
{
	long v = cfg_opt_getnint(opt, 0);

	if (v_positive(cfg, opt) != 0)
		return -1;
	if (v > MAX_WORKERS / 2) {
		cfg_error(cfg, "workers: at most %d (a reload runs two "
		    "generations of workers side by side), not %ld",
		    MAX_WORKERS / 2, v);
		return -1;
	}
	return 0;
}

static int
v_timeout(cfg_t *cfg, cfg_opt_t *opt)
{
	double d = cfg_opt_getnfloat(opt, 0);

	note_line(cfg, opt);
	if (!(d > 0) || d > 86400) {
		cfg_error(cfg, "%s: must be seconds between 0 and 86400, not %g",
		    opt->name, d);
		return -1;
	}
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
v_protocol(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned int i;

	note_line(cfg, opt);
	for (i = 0; i < cfg_opt_size(opt); i++) {
		const char *s = cfg_opt_getnstr(opt, i);
		if (proto_version(s) != 0)
			continue;
		if (strcmp(s, "TLSv1") == 0 || strcmp(s, "TLSv1.1") == 0 ||
		    strcmp(s, "SSLv3") == 0)
			cfg_error(cfg, "protocols: %s is not supported "
			    "(TLSv1.2 is the minimum)", s);
		else
			cfg_error(cfg, "protocols: unknown protocol '%s' "
			    "(use TLSv1.2, TLSv1.3)", s);
		return -1;
	}
	return 0;
}

static int
v_store(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);

	note_line(cfg, opt);
	if (strcmp(s, "none") == 0 || strcmp(s, "internal") == 0)
		return 0;
	if (strncmp(s, "gdbm:", 5) == 0 && s[5] != '\0')
		return 0;
	cfg_error(cfg, "store: '%s' is not \"gdbm:PATH\", \"internal\" or "
	    "\"none\"", s);
	return -1;
}

static int
verify_mode_of(const char *s)
{
	if (strcmp(s, "none") == 0)
		return VERIFY_NONE;
	if (strcmp(s, "optional") == 0)
		return VERIFY_OPTIONAL;
	if (strcmp(s, "require") == 0)
		return VERIFY_REQUIRE;
	return -1;
}

static int
v_verify(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);

	note_line(cfg, opt);
	if (verify_mode_of(s) < 0) {
		cfg_error(cfg, "verify-client: '%s' is not none, optional or "
		    "require", s);
		return -1;
	}
	return 0;
}

static int
v_log_level(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);

	note_line(cfg, opt);
	if (log_level_of(s) < 0) {
		cfg_error(cfg, "log-level: '%s' is not error, warn, notice, "
		    "info or debug", s);
		return -1;
	}
	return 0;
}

static int
v_pha(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);

	note_line(cfg, opt);
	if (strcmp(s, "tls1.2") != 0 && strcmp(s, "refuse") != 0) {
		cfg_error(cfg, "tls13-without-pha: '%s' is not tls1.2 or "
		    "refuse", s);
		return -1;
	}
	return 0;
}

/* header = {"Name: value", ...}: a field name, a colon, a value without
 * control bytes; the framing fields are ours. */
static int
v_header(cfg_t *cfg, cfg_opt_t *opt)
{
	static const char *const ours[] = { "Content-Length", "Connection",
	    "Transfer-Encoding", "Content-Range", "Date", "Server",
	    "Content-Type", "Content-Encoding" };
	unsigned int i;
	size_t k;

	note_line(cfg, opt);
	for (i = 0; i < cfg_opt_size(opt); i++) {
		const char *h = cfg_opt_getnstr(opt, i), *p;
		const char *colon = strchr(h, ':');
		int bad = colon == NULL || colon == h;
		for (p = h; !bad && p < colon; p++)
			bad = !(isalnum((unsigned char)*p) ||
			    strchr("!#$%&'*+-.^_`|~", *p) != NULL);
		for (p = colon ? colon + 1 : h; !bad && *p; p++)
			bad = ((unsigned char)*p < 0x20 && *p != '\t') ||
			    *p == 0x7f;
		if (bad) {
			cfg_error(cfg, "header: '%s' is not \"Name: value\"", h);
			return -1;
		}
		for (k = 0; k < sizeof ours / sizeof ours[0]; k++)
			if (strlen(ours[k]) == (size_t)(colon - h) &&
			    strncasecmp(h, ours[k], (size_t)(colon - h)) == 0) {
				cfg_error(cfg, "header: %s is set by cachetd "
				    "itself", ours[k]);
				return -1;
			}
	}
	return 0;
}

static int
v_dn(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned int i;

	for (i = 0; i < cfg_opt_size(opt); i++) {
		const char *s = cfg_opt_getnstr(opt, i);
		const char *star = strchr(s, '*');
		if (s[0] == '\0' || strchr(s, '=') == NULL ||
		    (star != NULL && star[1] != '\0')) {
			cfg_error(cfg, "%s: '%s' is not a DN in RFC 2253 form "
			    "(\"CN=alice,O=Example\"), with at most a trailing "
			    "*", opt->name, s);
			return -1;
		}
	}
	return 0;
}

static int
v_address(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned char buf[sizeof(struct in6_addr)];
	unsigned int i;

	for (i = 0; i < cfg_opt_size(opt); i++) {
		const char *a = cfg_opt_getnstr(opt, i);
		if (inet_pton(AF_INET, a, buf) != 1 &&
		    inet_pton(AF_INET6, a, buf) != 1) {
			cfg_error(cfg, "%s: '%s' is not an IP address",
			    opt->name, a);
			return -1;
		}
	}
	return 0;
}

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

static cfg_opt_t location_opts[] = {
	CFG_BOOL("status", cfg_false, CFGF_NONE),
	CFG_STR_LIST("allow-address", NULL, CFGF_NONE),
	CFG_STR("verify-client", "none", CFGF_NONE),
	CFG_STR("client-ca", NULL, CFGF_NONE),
	CFG_STR_LIST("allow-subject", NULL, CFGF_NONE),
	CFG_STR_LIST("allow-issuer", NULL, CFGF_NONE),
	CFG_STR_LIST("deny-subject", NULL, CFGF_NONE),
	CFG_STR_LIST("header", NULL, CFGF_NONE),
	CFG_END()
};

static cfg_opt_t cache_opts[] = {
	CFG_STR("store", "none", CFGF_NONE),
	CFG_INT("timeout", 300, CFGF_NONE),
	CFG_INT("max-entries", 100000, CFGF_NONE),
	CFG_INT("purge-interval", 60, CFGF_NONE),
	CFG_STR("seal-key-file", NULL, CFGF_NONE),
	CFG_END()
};

static cfg_opt_t top_opts[] = {
	CFG_STR_LIST("listen", "{\"127.0.0.1:8443\"}", CFGF_NONE),
	CFG_INT("workers", 0, CFGF_NONE),
	CFG_STR("user", NULL, CFGF_NONE),
	CFG_STR("root", NULL, CFGF_NODEFAULT),
	CFG_STR("index", "index.html", CFGF_NONE),
	CFG_STR("mime-types", NULL, CFGF_NONE),
	CFG_STR_LIST("certificate", NULL, CFGF_NODEFAULT),
	CFG_STR_LIST("key", NULL, CFGF_NODEFAULT),
	CFG_STR_LIST("protocols", "{\"TLSv1.2\", \"TLSv1.3\"}", CFGF_NONE),
	CFG_STR("ciphers", DEFAULT_CIPHERS, CFGF_NONE),
	CFG_STR("groups", DEFAULT_GROUPS, CFGF_NONE),
	CFG_STR_LIST("header", NULL, CFGF_NONE),
	CFG_BOOL("gzip-static", cfg_false, CFGF_NONE),
	CFG_STR("default-type", "application/octet-stream", CFGF_NONE),
	CFG_STR("ciphersuites", DEFAULT_SUITES, CFGF_NONE),
	CFG_STR("access-log", NULL, CFGF_NONE),
	CFG_STR("error-log", NULL, CFGF_NONE),
	CFG_STR("pid-file", NULL, CFGF_NONE),
	CFG_STR("log-level", "info", CFGF_NONE),
	CFG_FLOAT("handshake-timeout", 10, CFGF_NONE),
	CFG_FLOAT("header-timeout", 15, CFGF_NONE),
	CFG_FLOAT("keepalive-timeout", 15, CFGF_NONE),
	CFG_FLOAT("send-timeout", 30, CFGF_NONE),
	CFG_INT("worker-connections", 1024, CFGF_NONE),
	CFG_BOOL("session-tickets", cfg_false, CFGF_NONE),
	CFG_SEC("session-cache", cache_opts, CFGF_NONE),
	CFG_STR("client-ca", NULL, CFGF_NONE),
	CFG_STR("client-crl", NULL, CFGF_NONE),
	CFG_INT("verify-depth", 5, CFGF_NONE),
	CFG_STR("verify-client", "none", CFGF_NONE),
	CFG_STR("tls13-without-pha", "tls1.2", CFGF_NONE),
	CFG_SEC("location", location_opts, CFGF_MULTI | CFGF_TITLE |
	    CFGF_NO_TITLE_DUPES),
	CFG_END()
};

static char *
xstrdup(const char *s)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		abort();
	return d;
}

/* Resolve p relative to the config file's folder. */
char *
config_path(const struct config *cf, const char *p)
{
	char *out;

	if (p == NULL)
		return NULL;
	if (p[0] == '/' || cf->dir == NULL)
		return xstrdup(p);
	if (asprintf(&out, "%s/%s", cf->dir, p) < 0)
		abort();
	return out;
}

static int
opt_line(cfg_t *cfg, const char *name)
{
	size_t i;

	(void)cfg;
	for (i = 0; i < nlines; i++)
		if (strcmp(lines[i].name, name) == 0)
			return lines[i].line;
	return 0;
}

/* libConfuse gives a section the line where it ends; find where the
 * block "location PREFIX" starts, for messages. */
static int
location_line(const char *file, const char *prefix, int fallback)
{
	char line[2048], quoted[1100];
	FILE *f = fopen(file, "re");
	int n = 0;

	if (f == NULL)
		return fallback;
	snprintf(quoted, sizeof quoted, "\"%s\"", prefix);
	while (fgets(line, sizeof line, f) != NULL) {
		n++;
		if (strstr(line, "location") != NULL &&
		    strstr(line, quoted) != NULL) {
			fclose(f);
			return n;
		}
	}
	fclose(f);
	return fallback;
}

static char **
strlist(cfg_t *s, const char *name, size_t *n)
{
	char **v;
	size_t i;

	*n = cfg_size(s, name);
	v = calloc(*n + 1, sizeof *v);
	for (i = 0; i < *n; i++)
		v[i] = xstrdup(cfg_getnstr(s, name, i));
	return v;
}

static int
load_locations(struct config *cf, cfg_t *cfg)
{
	size_t i, j, n = cfg_size(cfg, "location");

	cf->locs = calloc(n ? n : 1, sizeof *cf->locs);
	cf->nlocs = n;
	for (i = 0; i < n; i++) {
		cfg_t *s = cfg_getnsec(cfg, "location", i);
		struct location *l = &cf->locs[i];

		l->prefix = xstrdup(cfg_title(s));
		l->line = location_line(cf->file, l->prefix, s->line);
		if (l->prefix[0] != '/') {
			seterr(cf->file, l->line, "location \"%s\": prefix must "
			    "start with /", l->prefix);
			return -1;
		}
		{
			/* Requests are matched on their canonical path: a
			 * prefix in any other spelling would never match, and
			 * leave its folder unprotected. */
			char canon[PATH_MAX + 2], rel[PATH_MAX];
			int slash;
			canon[0] = '\0';
			if (path_canonical(l->prefix, canon, sizeof canon, rel,
			    sizeof rel, &slash) != 0 ||
			    strcmp(canon, l->prefix) != 0) {
				seterr(cf->file, l->line, "location \"%s\": not "
				    "a canonical path (requests are matched on "
				    "the decoded, normalised path%s%s%s)",
				    l->prefix, canon[0] ? ": write \"" : "",
				    canon, canon[0] ? "\"" : "");
				return -1;
			}
		}
		l->status = cfg_getbool(s, "status");
		l->nallow_addr = cfg_size(s, "allow-address");
		l->allow_addr = calloc(l->nallow_addr + 1, sizeof(char *));
		for (j = 0; j < l->nallow_addr; j++)
			l->allow_addr[j] = xstrdup(cfg_getnstr(s,
			    "allow-address", j));
		l->acc.verify = verify_mode_of(cfg_getstr(s, "verify-client"));
		l->acc.client_ca = config_path(cf, cfg_getstr(s, "client-ca"));
		l->acc.allow_subject = strlist(s, "allow-subject",
		    &l->acc.nallow_subject);
		l->acc.allow_issuer = strlist(s, "allow-issuer",
		    &l->acc.nallow_issuer);
		l->acc.deny_subject = strlist(s, "deny-subject",
		    &l->acc.ndeny_subject);
		l->headers = strlist(s, "header", &l->nheaders);
		if (l->status && (l->acc.verify != VERIFY_NONE ||
		    l->acc.nallow_subject || l->acc.nallow_issuer)) {
			seterr(cf->file, l->line, "location \"%s\": a status "
			    "page is guarded by allow-address, not by client "
			    "certificates", l->prefix);
			return -1;
		}
		if ((l->acc.verify != VERIFY_NONE || l->acc.nallow_subject ||
		    l->acc.nallow_issuer || l->acc.ndeny_subject) &&
		    l->acc.client_ca == NULL && cf->client_ca == NULL) {
			seterr(cf->file, l->line, "location \"%s\" asks for a "
			    "client certificate but no client-ca is set",
			    l->prefix);
			return -1;
		}
	}
	return 0;
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

static int
load(struct config *cf, cfg_t *cfg)
{
	size_t i, nk;
	int line;
	cfg_t *cs;

	cf->nlisten = cfg_size(cfg, "listen");
	line = opt_line(cfg, "listen");
	if (cf->nlisten == 0) {
		seterr(cf->file, line, "listen: at least one address needed");
		return -1;
	}
	cf->listen = calloc(cf->nlisten, sizeof *cf->listen);
	for (i = 0; i < cf->nlisten; i++) {
		struct listen_addr *la = &cf->listen[i];
		la->text = xstrdup(cfg_getnstr(cfg, "listen", i));
		la->line = line;
		parse_listen(la->text, &la->ss, &la->sslen); /* validated */
	}

	cf->workers = cfg_getint(cfg, "workers");
	if (cf->workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		cf->workers = n > 0 ? n : 1;
	}
	cf->user = xstrdup(cfg_getstr(cfg, "user"));

	if (cfg_size(cfg, "root") == 0) {
		seterr(cf->file, 0, "root: missing (the folder to serve)");
		return -1;
	}
	cf->root = config_path(cf, cfg_getstr(cfg, "root"));
	cf->root_line = opt_line(cfg, "root");
	cf->mime_line = opt_line(cfg, "mime-types");
	cf->alog_line = opt_line(cfg, "access-log");
	cf->elog_line = opt_line(cfg, "error-log");
	cf->pid_line = opt_line(cfg, "pid-file");
	cf->user_line = opt_line(cfg, "user");
	cf->store_line = opt_line(cfg, "store");
	cf->seal_line = opt_line(cfg, "seal-key-file");
	cf->index = xstrdup(cfg_getstr(cfg, "index"));
	if (strchr(cf->index, '/') != NULL || cf->index[0] == '\0' ||
	    strcmp(cf->index, "..") == 0 || strcmp(cf->index, ".") == 0) {
		seterr(cf->file, opt_line(cfg, "index"),
		    "index: '%s' must be a plain file name", cf->index);
		return -1;
	}
	cf->mime_types = config_path(cf, cfg_getstr(cfg, "mime-types"));

	cf->ncerts = cfg_size(cfg, "certificate");
	nk = cfg_size(cfg, "key");
	cf->cert_line = opt_line(cfg, "certificate");
	if (cf->ncerts == 0) {
		seterr(cf->file, 0, "certificate: missing");
		return -1;
	}
	if (nk != cf->ncerts) {
		seterr(cf->file, opt_line(cfg, "key") ? opt_line(cfg, "key") :
		    cf->cert_line, "key: %zu key(s) for %zu certificate(s); "
		    "they are paired by position", nk, cf->ncerts);
		return -1;
	}
	cf->certs = calloc(cf->ncerts, sizeof(char *));
	cf->keys = calloc(cf->ncerts, sizeof(char *));
	for (i = 0; i < cf->ncerts; i++) {
		cf->certs[i] = config_path(cf, cfg_getnstr(cfg, "certificate", i));
		cf->keys[i] = config_path(cf, cfg_getnstr(cfg, "key", i));
	}

	cf->proto_min = cf->proto_max = 0;
	for (i = 0; i < cfg_size(cfg, "protocols"); i++) {
		int v = proto_version(cfg_getnstr(cfg, "protocols", i));
		if (cf->proto_min == 0 || v < cf->proto_min)
			cf->proto_min = v;
		if (v > cf->proto_max)
			cf->proto_max = v;
	}
	if (cf->proto_min == 0) {
		seterr(cf->file, opt_line(cfg, "protocols"),
		    "protocols: at least one protocol needed");
		return -1;
	}
	cf->ciphers = xstrdup(cfg_getstr(cfg, "ciphers"));
	cf->ciphersuites = xstrdup(cfg_getstr(cfg, "ciphersuites"));
	cf->groups = xstrdup(cfg_getstr(cfg, "groups"));
	cf->headers = strlist(cfg, "header", &cf->nheaders);
	cf->gzip_static = cfg_getbool(cfg, "gzip-static");
	cf->default_type = xstrdup(cfg_getstr(cfg, "default-type"));
	cf->access_log = config_path(cf, cfg_getstr(cfg, "access-log"));
	cf->error_log = config_path(cf, cfg_getstr(cfg, "error-log"));
	cf->pid_file = config_path(cf, cfg_getstr(cfg, "pid-file"));
	cf->handshake_timeout = cfg_getfloat(cfg, "handshake-timeout");
	cf->header_timeout = cfg_getfloat(cfg, "header-timeout");
	cf->keepalive_timeout = cfg_getfloat(cfg, "keepalive-timeout");
	cf->send_timeout = cfg_getfloat(cfg, "send-timeout");
	cf->worker_connections = cfg_getint(cfg, "worker-connections");
	cf->session_tickets = cfg_getbool(cfg, "session-tickets");
	cf->log_level = log_level_of(cfg_getstr(cfg, "log-level"));

	cs = cfg_getsec(cfg, "session-cache");
	cf->cache.store = xstrdup(cfg_getstr(cs, "store"));
	if (strncmp(cf->cache.store, "gdbm:", 5) == 0)
		cf->cache.store_path = config_path(cf, cf->cache.store + 5);
	cf->cache.timeout = cfg_getint(cs, "timeout");
	cf->cache.max_entries = cfg_getint(cs, "max-entries");
	cf->cache.purge_interval = cfg_getint(cs, "purge-interval");
	cf->cache.seal_key_file = config_path(cf,
	    cfg_getstr(cs, "seal-key-file"));

	cf->client_ca = config_path(cf, cfg_getstr(cfg, "client-ca"));
	cf->client_crl = config_path(cf, cfg_getstr(cfg, "client-crl"));
	cf->ca_line = opt_line(cfg, "client-ca");
	cf->crl_line = opt_line(cfg, "client-crl");
	cf->verify_depth = cfg_getint(cfg, "verify-depth");
	cf->verify_client = verify_mode_of(cfg_getstr(cfg, "verify-client"));
	cf->tls13_without_pha = strcmp(cfg_getstr(cfg, "tls13-without-pha"),
	    "refuse") == 0 ? PHA_REFUSE : PHA_TLS12;
	if (cf->verify_client != VERIFY_NONE && cf->client_ca == NULL) {
		seterr(cf->file, opt_line(cfg, "verify-client"), "verify-client "
		    "needs client-ca");
		return -1;
	}
	return load_locations(cf, cfg);
}

struct config *
config_load(const char *file, char *err, size_t errlen)
{
	struct errbuf eb = { err, errlen, 0 };
	struct config *cf;
	cfg_t *cfg;
	char *slash;
	int rc;

	err[0] = '\0';
	cur_err = &eb;
	cur_file = file;
	if ((cf = calloc(1, sizeof *cf)) == NULL)
		abort();
	cf->file = xstrdup(file);
	cf->dir = xstrdup(file);
	slash = strrchr(cf->dir, '/');
	if (slash == NULL)
		strcpy(cf->dir, ".");
	else if (slash == cf->dir)
		slash[1] = '\0';
	else
		*slash = '\0';

	cfg = cfg_init(top_opts, CFGF_NONE);
	cfg_set_error_function(cfg, errfunc);
	cfg_set_validate_func(cfg, "listen", v_listen);
	cfg_set_validate_func(cfg, "workers", v_workers);
	cfg_set_validate_func(cfg, "worker-connections", v_positive);
	cfg_set_validate_func(cfg, "protocols", v_protocol);
	cfg_set_validate_func(cfg, "handshake-timeout", v_timeout);
	cfg_set_validate_func(cfg, "header-timeout", v_timeout);
	cfg_set_validate_func(cfg, "keepalive-timeout", v_timeout);
	cfg_set_validate_func(cfg, "send-timeout", v_timeout);
	cfg_set_validate_func(cfg, "session-cache|store", v_store);
	cfg_set_validate_func(cfg, "session-cache|timeout", v_positive);
	cfg_set_validate_func(cfg, "session-cache|max-entries", v_positive);
	cfg_set_validate_func(cfg, "session-cache|purge-interval",
	    v_positive);
	cfg_set_validate_func(cfg, "location|allow-address", v_address);
	cfg_set_validate_func(cfg, "verify-client", v_verify);
	cfg_set_validate_func(cfg, "log-level", v_log_level);
	cfg_set_validate_func(cfg, "tls13-without-pha", v_pha);
	cfg_set_validate_func(cfg, "header", v_header);
	cfg_set_validate_func(cfg, "location|header", v_header);
	cfg_set_validate_func(cfg, "location|verify-client", v_verify);
	cfg_set_validate_func(cfg, "location|allow-subject", v_dn);
	cfg_set_validate_func(cfg, "location|allow-issuer", v_dn);
	cfg_set_validate_func(cfg, "location|deny-subject", v_dn);
	cfg_set_validate_func(cfg, "verify-depth", v_positive);
	{
		static const char *const noted[] = { "user", "root", "index",
		    "mime-types", "certificate", "key", "access-log",
		    "error-log", "pid-file", "ciphers", "ciphersuites",
		    "session-cache|seal-key-file", "client-ca", "client-crl" };
		size_t i;
		for (i = 0; i < sizeof noted / sizeof noted[0]; i++)
			cfg_set_validate_func(cfg, noted[i], v_note);
	}
	nlines = 0;

	rc = cfg_parse(cfg, file);
	if (rc == CFG_FILE_ERROR) {
		if (!eb.set)
			snprintf(err, errlen, "%s: cannot read: %s", file,
			    strerror(errno));
	} else if (rc == CFG_PARSE_ERROR) {
		if (!eb.set)
			snprintf(err, errlen, "%s: parse error", file);
	} else if (load(cf, cfg) == 0) {
		cfg_free(cfg);
		cur_err = NULL;
		return cf;
	}
	cfg_free(cfg);
	cur_err = NULL;
	config_free(cf);
	return NULL;
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

void
config_free(struct config *cf)
{
	size_t i;

	if (cf == NULL)
		return;
	for (i = 0; i < cf->nlisten; i++)
		free(cf->listen[i].text);
	free(cf->listen);
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
	}
	free(cf->locs);
	free_strv(cf->headers, cf->nheaders);
	free_strv(cf->certs, cf->ncerts);
	free_strv(cf->keys, cf->ncerts);
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
	free(cf->access_log);
	free(cf->error_log);
	free(cf->pid_file);
	free(cf->cache.store);
	free(cf->cache.store_path);
	free(cf->cache.seal_key_file);
	free(cf->client_ca);
	free(cf->client_crl);
	free(cf);
}
