/* check_config.c - every directive of cachetd.conf is read, defaults are
 * right, and each error names the file, the line and the problem.
 *
 * The grammar (src/parse.y): every syntactic form, comments anywhere (in
 * lists too), truncated and unbalanced files, includes; a table of broken
 * files, each with the exact message expected; and every prefix and many
 * random mutations of a full file, which must load or be refused with
 * "FILE:..." and never crash (run it under valgrind for leaks). */
#include "config.h"

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cachetd.h"
#include "check_run.h"

static char dir[] = "/tmp/check_config.XXXXXX";
static char path[1100];

static struct config *
load(const char *text, char *err, size_t errlen)
{
	FILE *f;

	snprintf(path, sizeof path, "%s/c.conf", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	return config_load(path, err, errlen);
}

static void
setup(void)
{
	strcpy(dir, "/tmp/check_config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void
teardown(void)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write text to dir/name (folders made as needed). */
static void
put(const char *name, const char *text)
{
	char p[1200], *slash;
	FILE *f;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	for (slash = strchr(p + strlen(dir) + 1, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(p, 0755);
		*slash = '/';
	}
	ck_assert_ptr_nonnull(f = fopen(p, "w"));
	fputs(text, f);
	fclose(f);
}

#define MIN "root = \"www\"\ncertificate = \"s.crt\"\nkey = \"s.key\"\n"

START_TEST(every_directive)
{
	char err[512], want[1200];
	struct config *cf = load(
	    "listen = {\"127.0.0.1:8443\", \"[::1]:9443\", \"*:80\"}\n"
	    "workers = 3\n"
	    "user = \"nobody\"\n"
	    "root = \"site\"\n"
	    "index = \"home.html\"\n"
	    "mime-types = \"/etc/mime.types\"\n"
	    "certificate = {\"a.crt\", \"b.crt\"}\n"
	    "key = {\"a.key\", \"b.key\"}\n"
	    "protocols = {\"TLSv1.3\"}\n"
	    "ciphers = \"ECDHE-RSA-AES128-GCM-SHA256\"\n"
	    "ciphersuites = \"TLS_AES_256_GCM_SHA384\"\n"
	    "access-log = \"logs/access.log\"\n"
	    "error-log = \"/var/log/e.log\"\n"
	    "pid-file = \"c.pid\"\n"
	    "handshake-timeout = 2.5\n"
	    "header-timeout = 3\n"
	    "keepalive-timeout = 4\n"
	    "send-timeout = 5\n"
	    "worker-connections = 77\n"
	    "session-tickets = true\n"
	    "ticket-key-period = 600\n"
	    "session-cache {\n store = \"gdbm:cache/s.db\"\n timeout = 60\n"
	    " max-entries = 10\n purge-interval = 7\n"
	    " seal-key-file = \"seal.key\"\n}\n"
	    "location \"/status\" {\n status = true\n"
	    " allow-address = {\"127.0.0.1\", \"::1\"}\n}\n"
	    "location \"/\" { }\n", err, sizeof err);

	ck_assert_msg(cf != NULL, "%s", err);
	ck_assert_uint_eq(cf->nlisten, 3);
	ck_assert_str_eq(cf->listen[1].text, "[::1]:9443");
	ck_assert_int_eq(cf->listen[1].ss.ss_family, AF_INET6);
	ck_assert_int_eq(cf->workers, 3);
	ck_assert_str_eq(cf->user, "nobody");
	snprintf(want, sizeof want, "%s/site", dir);
	ck_assert_str_eq(cf->servers[0]->root, want);
	ck_assert_str_eq(cf->servers[0]->index, "home.html");
	ck_assert_str_eq(cf->mime_types, "/etc/mime.types");
	ck_assert_uint_eq(cf->servers[0]->ncerts, 2);
	snprintf(want, sizeof want, "%s/b.key", dir);
	ck_assert_str_eq(cf->servers[0]->keys[1], want);
	ck_assert_int_eq(cf->proto_min, TLS1_3_VERSION);
	ck_assert_int_eq(cf->proto_max, TLS1_3_VERSION);
	ck_assert_str_eq(cf->ciphers, "ECDHE-RSA-AES128-GCM-SHA256");
	ck_assert_str_eq(cf->ciphersuites, "TLS_AES_256_GCM_SHA384");
	snprintf(want, sizeof want, "%s/logs/access.log", dir);
	ck_assert_str_eq(cf->access_log, want);
	ck_assert_str_eq(cf->error_log, "/var/log/e.log");
	ck_assert_double_eq(cf->handshake_timeout, 2.5);
	ck_assert_double_eq(cf->header_timeout, 3);
	ck_assert_double_eq(cf->keepalive_timeout, 4);
	ck_assert_double_eq(cf->send_timeout, 5);
	ck_assert_int_eq(cf->worker_connections, 77);
	ck_assert_int_eq(cf->session_tickets, 1);
	ck_assert_int_eq(cf->ticket_key_period, 600);
	ck_assert_uint_eq(cf->nticket_key_files, 0);
	snprintf(want, sizeof want, "%s/cache/s.db", dir);
	ck_assert_str_eq(cf->cache.store_path, want);
	ck_assert_int_eq(cf->cache.timeout, 60);
	ck_assert_int_eq(cf->cache.max_entries, 10);
	ck_assert_int_eq(cf->cache.purge_interval, 7);
	ck_assert_uint_eq(cf->servers[0]->nlocs, 2);
	ck_assert_int_eq(config_location(cf->servers[0], "/status")->status, 1);
	ck_assert_str_eq(config_location(cf->servers[0], "/statusx")->prefix, "/status");
	ck_assert_str_eq(config_location(cf->servers[0], "/other")->prefix, "/");
	ck_assert_uint_eq(config_location(cf->servers[0], "/status")->nallow_addr, 2);
	config_free(cf);
}
END_TEST

START_TEST(defaults)
{
	char err[512];
	struct config *cf = load(MIN, err, sizeof err);

	ck_assert_msg(cf != NULL, "%s", err);
	ck_assert_uint_eq(cf->nlisten, 1);
	ck_assert_int_ge(cf->workers, 1);
	ck_assert_str_eq(cf->servers[0]->index, "index.html");
	ck_assert_int_eq(cf->proto_min, TLS1_2_VERSION);
	ck_assert_int_eq(cf->proto_max, TLS1_3_VERSION);
	ck_assert_uint_eq(cf->servers[0]->ncerts, 1);
	ck_assert_ptr_null(cf->access_log);
	ck_assert_int_eq(cf->session_tickets, 0);
	ck_assert_int_eq(cf->ticket_key_period, 3600);
	ck_assert_uint_eq(cf->nticket_key_files, 0);
	ck_assert_int_eq(cf->cache.timeout, 300);
	ck_assert_int_eq(cf->cache.max_entries, 100000);
	ck_assert_int_eq(cf->cache.purge_interval, 60);
	config_free(cf);
}
END_TEST

/* ticket-key-files: paths from the config's folder, the line kept for
 * the messages of cachetd -t (a file that cannot be used) */
START_TEST(ticket_key_files)
{
	char err[512], want[1200];
	struct config *cf = load(MIN "session-tickets = true\n"
	    "ticket-key-files = {\"keys/cur.key\", \"/etc/prev.key\"}\n",
	    err, sizeof err);

	ck_assert_msg(cf != NULL, "%s", err);
	ck_assert_uint_eq(cf->nticket_key_files, 2);
	snprintf(want, sizeof want, "%s/keys/cur.key", dir);
	ck_assert_str_eq(cf->ticket_key_files[0], want);
	ck_assert_str_eq(cf->ticket_key_files[1], "/etc/prev.key");
	ck_assert_int_eq(cf->tkfiles_at.line, 5);
	ck_assert_int_eq(cf->ticket_key_period, 3600);
	config_free(cf);
}
END_TEST

START_TEST(errors_name_the_line)
{
	static const struct { const char *text, *want; } cases[] = {
		{ MIN "\nlisten = {\"nonsense\"}\n", ":5: listen: 'nonsense'" },
		{ MIN "listen = {\"1.2.3.4:99999\"}\n", ":4: listen:" },
		{ MIN "\n\nworkers = 0\n", ":6: workers: must be at least 1" },
		{ MIN "protocols = {\"TLSv1.1\"}\n",
		    ":4: protocols: TLSv1.1 is not supported" },
		{ MIN "protocols = {\"SSLv9\"}\n", ":4: protocols: unknown" },
		{ MIN "send-timeout = -1\n", ":4: send-timeout: must be" },
		{ MIN "bogus = 1\n", ":4:" },
		{ MIN "workers = \"many\"\n", ":4:" },
		{ MIN "root = }\n", ":4:" },
		{ "certificate = \"s.crt\"\nkey = \"s.key\"\n", "root: missing" },
		{ "root = \"x\"\n", "certificate: missing" },
		{ "root = \"x\"\ncertificate = {\"a\", \"b\"}\nkey = \"k\"\n",
		    ":3: key: 1 key(s) for 2 certificate(s)" },
		{ MIN "index = \"../x\"\n", ":4: index:" },
		{ MIN "session-cache {\n store = \"redis:x\"\n}\n", ":5: store:" },
		{ MIN "session-cache {\n timeout = 0\n}\n", ":5: timeout:" },
		{ MIN "location \"x\" { }\n", ":4: location \"x\": prefix" },
		{ MIN "location \"/s\" {\n allow-address = {\"bad\"}\n}\n",
		    ":5: allow-address: 'bad'" },
		{ MIN "location \"/s\" { }\nlocation \"/s\" { }\n", ":5:" },
	};
	char err[512];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct config *cf = load(cases[i].text, err, sizeof err);
		ck_assert_msg(cf == NULL, "case %zu loaded", i);
		ck_assert_msg(strncmp(err, path, strlen(path)) == 0,
		    "case %zu: no file name: %s", i, err);
		ck_assert_msg(strstr(err, cases[i].want) != NULL,
		    "case %zu: want '%s' in '%s'", i, cases[i].want, err);
	}
	ck_assert_ptr_null(config_load("/nonexistent/c.conf", err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/c.conf"));
}
END_TEST

START_TEST(listen_forms)
{
	struct sockaddr_storage ss;
	socklen_t len;

	ck_assert_int_eq(parse_listen("127.0.0.1:0", &ss, &len), 0);
	ck_assert_int_eq(parse_listen("[::]:443", &ss, &len), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET6);
	ck_assert_int_eq(parse_listen("::1:443", &ss, &len), -1);
	ck_assert_int_eq(parse_listen("[::1]443", &ss, &len), -1);
	ck_assert_int_eq(parse_listen("localhost:443", &ss, &len), -1);
	ck_assert_int_eq(parse_listen("1.2.3.4:", &ss, &len), -1);
	ck_assert_int_eq(parse_listen("1.2.3.4:-1", &ss, &len), -1);
}
END_TEST


START_TEST(syntax_forms)
{
	char err[512];
	struct config *cf = load(
	    "# a comment first\r\n"
	    "root = site   # after a value\r\n"
	    "certificate = { # after a brace\n"
	    "  \"a.crt\",      # after an element\n"
	    "  # on its own line, inside the list\n"
	    "  'b.crt'\n"
	    "  # before the closing brace\n"
	    "}\n"
	    "key = {\"a.key\", b.key}  workers = 2   # two on one line\n"
	    "ciphers = \"A\\\"B\\\\C\\,D\"\n"
	    "ciphersuites = 'it\\'s'\n"
	    "user = \"caf\xc3\xa9\"\n"
	    "location /plain { }\n"
	    "location \"/one-line/\" { status = true allow-address = \"::1\" }\n"
	    "location \"/empty/\" {\n"
	    "  allow-address = {}\n"
	    "}\n"
	    "session-cache{timeout=7}\n"
	    "session-tickets = YES\n"
	    "#  a last comment without a newline", err, sizeof err);

	ck_assert_msg(cf != NULL, "%s", err);
	ck_assert_uint_eq(cf->servers[0]->ncerts, 2);
	ck_assert_uint_eq(cf->servers[0]->nkeys, 2);
	ck_assert_ptr_nonnull(strstr(cf->servers[0]->certs[1], "/b.crt"));
	ck_assert_ptr_nonnull(strstr(cf->servers[0]->keys[1], "/b.key"));
	ck_assert_int_eq(cf->workers, 2);
	/* \" and \\ are escapes; any other backslash stays (DNs use it) */
	ck_assert_str_eq(cf->ciphers, "A\"B\\C\\,D");
	ck_assert_str_eq(cf->ciphersuites, "it's");
	ck_assert_str_eq(cf->user, "caf\xc3\xa9");
	ck_assert_uint_eq(cf->servers[0]->nlocs, 3);
	ck_assert_str_eq(cf->servers[0]->locs[0].prefix, "/plain");
	ck_assert_int_eq(cf->servers[0]->locs[1].status, 1);
	ck_assert_uint_eq(cf->servers[0]->locs[1].nallow_addr, 1);
	ck_assert_uint_eq(cf->servers[0]->locs[2].nallow_addr, 0);
	ck_assert_int_eq(cf->cache.timeout, 7);
	ck_assert_int_eq(cf->session_tickets, 1);
	/* where things were written, for the messages -t gives later */
	ck_assert_int_eq(cf->servers[0]->root_at.line, 2);
	ck_assert_int_eq(cf->servers[0]->certs_at.line, 3);
	ck_assert_int_eq(cf->servers[0]->keys_at.line, 9);
	ck_assert_int_eq(cf->servers[0]->locs[2].at.line, 15);
	ck_assert_str_eq(cf->servers[0]->root_at.file, path);
	config_free(cf);
}
END_TEST

/* At the top level a directive given again replaces the earlier value
 * (a later line, or an included file, overrides a default). */
START_TEST(top_level_override)
{
	char err[512];
	struct config *cf = load(MIN "workers = 2\nlisten = {\"1.2.3.4:1\"}\n"
	    "\nworkers = 3\nlisten = \"[::1]:2\"\ncertificate = {\"x\", \"y\"}\n"
	    "key = {\"x.key\", \"y.key\"}\n", err, sizeof err);

	ck_assert_msg(cf != NULL, "%s", err);
	ck_assert_int_eq(cf->workers, 3);
	ck_assert_uint_eq(cf->nlisten, 1);
	ck_assert_str_eq(cf->listen[0].text, "[::1]:2");
	ck_assert_int_eq(cf->listen[0].at.line, 8);
	ck_assert_uint_eq(cf->servers[0]->ncerts, 2);
	ck_assert_int_eq(cf->servers[0]->certs_at.line, 9);
	config_free(cf);
}
END_TEST

/* Each broken file and the exact message after "PATH". */
static const struct { const char *text, *want; } broken[] = {
	/* lines are counted right after comments, in lists too */
	{ "# one\n# two\n#three\n" MIN "workers = 0\n",
	    ":7: workers: must be at least 1, not 0" },
	{ MIN "listen = {\n  # first\n  \"127.0.0.1:1\",  # x\n  # y\n"
	    "  \"bad\"\n}\n", ":8: listen: 'bad' is not ADDR:PORT or "
	    "[ADDR6]:PORT (port 0 to 65535)" },
	{ MIN "listen = {\"1.2.3.4:99999\"}\n", ":4: listen: '1.2.3.4:99999' "
	    "is not ADDR:PORT or [ADDR6]:PORT (port 0 to 65535)" },
	{ MIN "listen = {\"1.2.3.4: 80\"}\n", ":4: listen: '1.2.3.4: 80' is "
	    "not ADDR:PORT or [ADDR6]:PORT (port 0 to 65535)" },
	{ MIN "listen = {}\n", ":4: listen: at least one address needed" },
	/* truncated and unbalanced */
	{ MIN "location \"/x\" {\n  status = true\n",
	    ":4:15: the block opened here is not closed (the file ends at "
	    "line 5)" },
	{ MIN "location \"/x\" {", ":4:15: the block opened here is not "
	    "closed (the file ends at line 4)" },
	{ MIN "session-cache {\n location \"/x\" {\n }\n",
	    ":4:15: the block opened here is not closed (the file ends at "
	    "line 6)" },
	{ MIN "listen = {\"1.2.3.4:1\",\n # more to come\n",
	    ":4:10: the list opened here is not closed (the file ends at "
	    "line 5)" },
	{ MIN "root = \"site\n\"", ":4:8: string not closed before the end "
	    "of the line" },
	{ MIN "root = 'site", ":4:8: string not closed before the end of "
	    "the file" },
	{ MIN "root =\n", ":4:7: unexpected end of file (expected a value or "
	    "'{' after '=')" },
	{ MIN "root", ":4:5: unexpected end of file after 'root' (expected "
	    "'=' or '{')" },
	{ MIN "}\n", ":4:1: '}' without a '{' to close" },
	{ MIN "location \"/x\" { }\n}\n", ":5:1: '}' without a '{' to "
	    "close" },
	{ MIN "root = }\n", ":4:8: unexpected '}' (expected a value or '{' "
	    "after '=')" },
	{ MIN "root = \"a\" \"b\"\n", ":4:12: unexpected \"b\" (expected a "
	    "directive)" },
	{ MIN "this is not a directive\n", ":4:6: unexpected 'is' after "
	    "'this' (expected '=' or '{')" },
	{ MIN "listen = {\"a:1\" \"b:2\"}\n", ":4:17: unexpected \"b:2\" "
	    "(expected ',' or '}')" },
	{ MIN "listen = {\"a:1\", }\n", ":4:18: unexpected '}' (expected a "
	    "value after ',')" },
	{ MIN "\"root\" = \"x\"\n", ":4:1: unexpected \"root\" (expected a "
	    "directive)" },
	{ MIN "a = b = c\n", ":4:7: unexpected '=' (expected a directive)" },
	{ MIN "root = x ;\nworkers = 1\n", ":5:1: unexpected 'workers' after "
	    "';' (expected '=' or '{')" },
	{ MIN "workers = 3;\n", ":4: workers: '3;' is not a whole number" },
	{ MIN "root = \"a\x01\"\n", ":4:10: unexpected byte 0x01 in a "
	    "string" },
	{ MIN "root = a\x01\n", ":4:9: unexpected byte 0x01" },
	{ MIN "root = @\x7f\n", ":4:9: unexpected byte 0x7f" },
	/* meaning */
	{ MIN "bogus = 1\n", ":4: unknown directive 'bogus'" },
	{ MIN "bogus { }\n", ":4: unknown directive 'bogus'" },
	{ MIN "store = \"none\"\n", ":4: store: not allowed at the top "
	    "level (it belongs in a session-cache block)" },
	{ MIN "location \"/x\" {\n  root = \"y\"\n}\n", ":5: root: not "
	    "allowed in a location block (it belongs at the top level)" },
	{ MIN "session-cache {\n  status = true\n}\n", ":5: status: not "
	    "allowed in a session-cache block (it belongs in a location "
	    "block)" },
	{ MIN "location \"/x\" {\n  location \"/y\" { }\n}\n",
	    ":5: location: a block not allowed in a location block" },
	{ MIN "session-cache {\n timeout = 1\n # again\n timeout = 2\n}\n",
	    ":7: timeout: given twice in this session-cache block (first "
	    "on line 5)" },
	{ MIN "session-cache { }\nsession-cache { }\n", ":5: session-cache: "
	    "a second block (the first is on line 4)" },
	{ MIN "location \"/s\" { }\n# the same\nlocation \"/s\" { }\n",
	    ":6: location \"/s\": already defined on line 4" },
	{ MIN "location { }\n", ":4: location: needs a name: location \"...\" "
	    "{ ... }" },
	{ MIN "session-cache \"x\" { }\n", ":4: session-cache: takes no name: "
	    "session-cache { ... }" },
	{ MIN "session-cache = 1\n", ":4: session-cache: is a block: "
	    "session-cache { ... }" },
	{ MIN "workers { }\n", ":4: workers: not a block: write workers = "
	    "value" },
	{ MIN "workers = {1, 2}\n", ":4: workers: takes one value, not a "
	    "list" },
	{ MIN "workers = \"many\"\n", ":4: workers: 'many' is not a whole "
	    "number" },
	{ MIN "workers = 99999999999999999999\n", ":4: workers: "
	    "'99999999999999999999' is too large" },
	{ MIN "workers = 129\n", ":4: workers: at most 128 (a reload runs two "
	    "generations of workers side by side), not 129" },
	{ MIN "send-timeout = -1\n", ":4: send-timeout: must be seconds "
	    "between 0 and 86400, not -1" },
	{ MIN "send-timeout = nan\n", ":4: send-timeout: 'nan' is not a "
	    "number" },
	{ MIN "session-tickets = maybe\n", ":4: session-tickets: 'maybe' is "
	    "not true or false" },
	{ MIN "ticket-key-period = 60\n", ":4: ticket-key-period needs "
	    "session-tickets = true" },
	{ MIN "session-tickets = true\nticket-key-period = 86401\n",
	    ":5: ticket-key-period: must be seconds between 1 and 86400, not "
	    "86401" },
	{ MIN "session-tickets = true\nticket-key-period = 1h\n",
	    ":5: ticket-key-period: '1h' is not a whole number" },
	{ MIN "session-tickets = true\nticket-key-files = {\"a.key\"}\n"
	    "ticket-key-period = 60\n", ":6: ticket-key-period: keys from "
	    "ticket-key-files are rotated by replacing the files (and a "
	    "reload), not by period" },
	{ MIN "ticket-key-files = {\"a.key\"}\n", ":4: ticket-key-files "
	    "needs session-tickets = true" },
	{ MIN "session-tickets = true\nticket-key-files = {\"\"}\n",
	    ":5: ticket-key-files: an empty path" },
	{ MIN "session-tickets = true\nticket-key-period = 2\n"
	    "session-cache {\n timeout = 3000\n}\n", ":5: ticket-key-period: "
	    "2 s would keep 1502 keys to open tickets for the session timeout "
	    "(3000 s); at most 1024: use a period of at least 3 s" },
	{ MIN "verify-client = sometimes\n", ":4: verify-client: 'sometimes' "
	    "is not none, optional or require" },
	{ MIN "log-level = chatty\n", ":4: log-level: 'chatty' is not error, "
	    "warn, notice, info or debug" },
	{ MIN "tls13-without-pha = never\n", ":4: tls13-without-pha: 'never' "
	    "is not tls1.2 or refuse" },
	{ MIN "protocols = {\"TLSv1.1\"}\n", ":4: protocols: TLSv1.1 is not "
	    "supported (TLSv1.2 is the minimum)" },
	{ MIN "protocols = {\"TLSv1.2\",\n\"SSLv9\"}\n", ":5: protocols: "
	    "unknown protocol 'SSLv9' (use TLSv1.2, TLSv1.3)" },
	{ MIN "protocols = {}\n", ":4: protocols: at least one protocol "
	    "needed" },
	{ MIN "index = \"../x\"\n", ":4: index: '../x' must be a plain file "
	    "name" },
	{ MIN "mime-types = \"\"\n", ":4: mime-types: an empty path" },
	{ MIN "session-cache {\n store = \"nonesuch:x\"\n}\n", ":5: store: "
	    "'nonesuch:x' is not \"gdbm:PATH\", \"redis:HOST:PORT\", "
	    "\"internal\" or \"none\"" },
	{ MIN "session-cache {\n store = \"redis:x\"\n}\n", ":5: store: "
	    "redis: 'x' is not HOST:PORT or unix:PATH (\"redis:127.0.0.1:6379\")" },
	{ MIN "session-cache {\n fetch-timeout = -1\n}\n", ":5: "
	    "fetch-timeout: must be seconds between 0 and 86400, not -1" },
	{ MIN "session-cache {\n timeout = 0\n}\n", ":5: timeout: must be at "
	    "least 1, not 0" },
	{ MIN "header = {\"X-A: 1\", \"Server: me\"}\n", ":4: header: Server "
	    "is set by cachetd itself" },
	{ MIN "header = \"no colon\"\n", ":4: header: 'no colon' is not "
	    "\"Name: value\"" },
	{ MIN "location \"x\" { }\n", ":4: location \"x\": prefix must start "
	    "with /" },
	{ MIN "location \"/a/../b\" { }\n", ":4: location \"/a/../b\": not a "
	    "canonical path (requests are matched on the decoded, normalised "
	    "path: write \"/b\")" },
	{ MIN "location \"/s\" {\n allow-address = {\"::1\",\n \"bad\"}\n}\n",
	    ":6: allow-address: 'bad' is not an IP address" },
	{ MIN "location \"/s\" {\n allow-subject = \"alice\"\n}\n",
	    ":5: allow-subject: 'alice' is not a DN in RFC 2253 form "
	    "(\"CN=alice,O=Example\"), with at most a trailing *" },
	/* what needs the whole file */
	{ "certificate = \"s.crt\"\nkey = \"s.key\"\n",
	    ": root: missing (the folder to serve)" },
	{ "root = \"x\"\n", ": certificate: missing" },
	{ "root = \"x\"\ncertificate = {}\n", ":2: certificate: missing" },
	{ "root = \"x\"\ncertificate = {\"a\", \"b\"}\n# c\nkey = \"k\"\n",
	    ":4: key: 1 key(s) for 2 certificate(s); they are paired by "
	    "position" },
	{ MIN "# c\nclient-crl = \"crl.pem\"\n", ":5: client-crl needs "
	    "client-ca (the list is checked with the CA that signed it)" },
	{ MIN "verify-client = require\n", ":4: verify-client needs "
	    "client-ca" },
	{ MIN "location \"/s\" {\n verify-client = optional\n}\n",
	    ":4: location \"/s\" asks for a client certificate but no "
	    "client-ca is set" },
	{ MIN "client-ca = \"ca\"\nlocation \"/s\" {\n status = true\n"
	    " verify-client = require\n}\n", ":5: location \"/s\": a status "
	    "page is guarded by allow-address, not by client certificates" },
	/* includes: the including file's line */
	{ MIN "include \"nothere.conf\"\n", ":4: include 'nothere.conf': "
	    "@DIR@/nothere.conf: No such file or directory" },
	{ MIN "include \"nothere/*.conf\"\n", ":4: include 'nothere/*.conf': "
	    "@DIR@/nothere: No such file or directory" },
	{ MIN "include \"\"\n", ":4: include '': empty pattern" },
	{ MIN "include \".\"\n", ":4: include '.': @DIR@/.: Is a "
	    "directory" },
	{ MIN "# me again\ninclude \"c.conf\"\n", ":5: include 'c.conf': "
	    "includes nested more than 8 deep (does a file include itself?)" },
	{ MIN "include \"a\" \"b\"\n", ":4:13: unexpected \"b\" (expected a "
	    "directive)" },
	/* server blocks */
	{ MIN "server \"a.test\" {\n}\nserver \"A.Test\" {\n}\n",
	    ":6: server \"a.test\": the name 'a.test' is already server "
	    "\"a.test\"'s (line 4)" },
	{ MIN "server \"a.test\" {\n alias = {\"x.test\", \"*.a.test\"}\n}\n"
	    "server \"b.test\" {\n  # c\n  alias = \"*.A.test\"\n}\n",
	    ":9: server \"b.test\": the name '*.a.test' is already server "
	    "\"a.test\"'s (line 5)" },
	{ MIN "server \"a.test\" {\n alias = {\"b.test\", \"b.test\"}\n}\n",
	    ":5: server \"a.test\": the name 'b.test' is already server "
	    "\"a.test\"'s (line 5)" },
	{ "root = \"www\"\nserver \"a.test\" {\n}\n",
	    ":2: server \"a.test\": certificate: missing" },
	{ "certificate = \"s.crt\"\nkey = \"s.key\"\nserver \"a.test\" {\n}\n",
	    ":3: server \"a.test\": root: missing (the folder to serve)" },
	{ MIN "server \"a.test\" {\n key = {\"a\", \"b\"}\n}\n",
	    ":5: server \"a.test\": key: 2 key(s) for 1 certificate(s); they "
	    "are paired by position" },
	{ MIN "server \"a.test\" {\n default = true\n}\nserver \"b.test\" {\n"
	    " default = yes\n}\n", ":7: server \"b.test\": a second default "
	    "server (the first is a.test)" },
	{ MIN "server \"*.a.test\" {\n}\n", ":4: server \"*.a.test\": not a "
	    "host name (an exact name; wildcards go in alias)" },
	{ MIN "server \"a..test\" {\n}\n", ":4: server \"a..test\": not a "
	    "host name (an exact name; wildcards go in alias)" },
	{ MIN "server \"a.test\" {\n alias = \"*.org\"\n}\n", ":5: alias: "
	    "'*.org' is not a host name (DNS labels, or *.name for one "
	    "leftmost label)" },
	{ MIN "server \"a.test\" {\n alias = \"x.*.test\"\n}\n", ":5: alias: "
	    "'x.*.test' is not a host name (DNS labels, or *.name for one "
	    "leftmost label)" },
	{ MIN "server {\n}\n", ":4: server: needs a name: server \"...\" { ... "
	    "}" },
	{ MIN "server \"a.test\" {\n server \"b.test\" {\n }\n}\n", ":5: "
	    "server: a block not allowed in a server block" },
	{ MIN "server \"a.test\" {\n workers = 2\n}\n", ":5: workers: not "
	    "allowed in a server block (it belongs at the top level)" },
	{ MIN "server \"a.test\" {\n root = \"x\"\n root = \"y\"\n}\n", ":6: "
	    "root: given twice in this server block (first on line 5)" },
	{ MIN "default = true\n", ":4: default: not allowed at the top level "
	    "(it belongs in a server block)" },
	{ MIN "location \"/s/\" {\n allow-subject = \"CN=x\"\n}\n"
	    "server \"a.test\" {\n}\n", ":4: server \"a.test\": location \"/s/\" "
	    "asks for a client certificate but no client-ca is set" },
	{ MIN "server \"a.test\" {\n verify-client = require\n}\n",
	    ":5: server \"a.test\": verify-client needs client-ca" },
	{ MIN "server \"a.test\" {\n client-crl = \"crl.pem\"\n}\n",
	    ":5: client-crl needs client-ca (the list is checked with the CA "
	    "that signed it)" },
	{ MIN "unknown-sni = sometimes\n", ":4: unknown-sni: 'sometimes' is "
	    "not default or refuse" },
};

/* want, with @PATH@ and @DIR@ spelt out */
static void
expand_want(const char *want, char *out, size_t len)
{
	size_t n = 0;

	while (*want != '\0' && n + 1 < len) {
		if (strncmp(want, "@PATH@", 6) == 0 ||
		    strncmp(want, "@DIR@", 5) == 0) {
			int p = want[1] == 'P';
			n += (size_t)snprintf(out + n, len - n, "%s", p ? path :
			    dir);
			want += p ? 6 : 5;
		} else {
			out[n++] = *want++;
		}
	}
	out[n < len ? n : len - 1] = '\0';
}

START_TEST(broken_files)
{
	char err[512], want[1200], full[2400];
	size_t i;

	for (i = 0; i < sizeof broken / sizeof broken[0]; i++) {
		struct config *cf = load(broken[i].text, err, sizeof err);
		ck_assert_msg(cf == NULL, "case %zu loaded", i);
		expand_want(broken[i].want, want, sizeof want);
		snprintf(full, sizeof full, "%s%s", path, want);
		ck_assert_msg(strcmp(err, full) == 0, "case %zu:\n got '%s'\n "
		    "want '%s'", i, err, full);
	}
}
END_TEST

/* Server blocks: top-level site directives are every server's defaults,
 * wherever written; a block's own values win; lists and locations are
 * inherited whole; names are found exact first, then by wildcard. */
START_TEST(servers)
{
	char err[512];
	struct config *cf = load(
	    "certificate = \"top.crt\"\nkey = \"top.key\"\n"
	    "header = {\"X-Top: 1\"}\n"
	    "location \"/top/\" {\n status = true\n}\n"
	    "server \"A.test\" {\n alias = {\"WWW.a.test\", \"*.a.test\"}\n"
	    " root = \"a\"\n index = \"a.html\"\n"
	    " header = {\"X-A: 1\", \"X-A: 2\"}\n}\n"
	    "server \"b.test\" {\n default = true\n certificate = \"b.crt\"\n"
	    " key = \"b.key\"\n gzip-static = true\n"
	    " location \"/b/\" {\n status = true\n }\n}\n"
	    "server \"c.b.test\" {\n}\n"
	    "root = \"top\"\nverify-depth = 3\n", err, sizeof err);
	const struct server_conf *a, *b, *c;

	ck_assert_msg(cf != NULL, "%s", err);
	ck_assert_uint_eq(cf->nservers, 3);
	a = cf->servers[0];
	b = cf->servers[1];
	c = cf->servers[2];
	ck_assert_uint_eq(cf->dflt, 1);
	ck_assert_str_eq(a->name, "a.test");
	ck_assert_uint_eq(a->naliases, 2);
	ck_assert_str_eq(a->aliases[0], "www.a.test");
	ck_assert_int_eq(a->at.line, 7);
	/* inherited, even from after the blocks */
	ck_assert_ptr_nonnull(strstr(a->certs[0], "/top.crt"));
	ck_assert_ptr_nonnull(strstr(c->root, "/top"));
	ck_assert_int_eq(a->verify_depth, 3);
	ck_assert_int_eq(b->verify_depth, 3);
	/* own values */
	ck_assert_ptr_nonnull(strstr(a->root, "/a"));
	ck_assert_str_eq(a->index, "a.html");
	ck_assert_str_eq(c->index, "index.html");
	ck_assert_uint_eq(b->ncerts, 1);
	ck_assert_ptr_nonnull(strstr(b->certs[0], "/b.crt"));
	ck_assert_int_eq(b->gzip_static, 1);
	ck_assert_int_eq(a->gzip_static, 0);
	/* lists and locations whole */
	ck_assert_uint_eq(a->nheaders, 2);
	ck_assert_uint_eq(b->nheaders, 1);
	ck_assert_str_eq(b->headers[0], "X-Top: 1");
	ck_assert_uint_eq(a->nlocs, 1);
	ck_assert_str_eq(a->locs[0].prefix, "/top/");
	ck_assert_uint_eq(b->nlocs, 1);
	ck_assert_str_eq(b->locs[0].prefix, "/b/");
	ck_assert_ptr_null(config_location(b, "/top/x"));
	/* lookups */
	ck_assert_ptr_eq(config_server(cf, "a.test"), a);
	ck_assert_ptr_eq(config_server(cf, "www.a.test"), a);
	ck_assert_ptr_eq(config_server(cf, "x.a.test"), a);
	ck_assert_ptr_null(config_server(cf, "y.x.a.test"));
	ck_assert_ptr_eq(config_server(cf, "c.b.test"), c);
	ck_assert_ptr_null(config_server(cf, "d.b.test"));
	ck_assert_ptr_null(config_server(cf, "a.test.evil"));
	ck_assert_int_eq(config_names(a, "x.a.test"), 1);
	ck_assert_int_eq(config_names(b, "a.test"), 0);
	config_free(cf);

	/* no server block: one implicit server that has every name */
	cf = load(MIN "index = \"i.html\"\n", err, sizeof err);
	ck_assert_msg(cf != NULL, "%s", err);
	ck_assert_uint_eq(cf->nservers, 1);
	ck_assert_ptr_null(cf->servers[0]->name);
	ck_assert_str_eq(cf->servers[0]->index, "i.html");
	ck_assert_ptr_eq(config_server(cf, "anything.example"),
	    cf->servers[0]);
	ck_assert_int_eq(config_names(cf->servers[0], "x"), 1);
	config_free(cf);
}
END_TEST

/* A folder of sites, one server block per file; a duplicate name names
 * the file of the second. */
START_TEST(server_includes)
{
	char err[512], want[1400];
	struct config *cf;

	put("sites/a.conf", "server \"a.test\" {\n root = \"a\"\n}\n");
	put("sites/b.conf", "# b\nserver \"b.test\" {\n include \"b-tls.inc\"\n}\n");
	put("sites/b-tls.inc", "certificate = \"b.crt\"\nkey = \"b.key\"\n");
	cf = load(MIN "include \"sites/*.conf\"\n", err, sizeof err);
	ck_assert_msg(cf != NULL, "%s", err);
	ck_assert_uint_eq(cf->nservers, 2);
	ck_assert_str_eq(cf->servers[1]->name, "b.test");
	ck_assert_ptr_nonnull(strstr(cf->servers[1]->certs[0], "/b.crt"));
	ck_assert_ptr_nonnull(strstr(cf->servers[0]->certs[0], "/s.crt"));
	snprintf(want, sizeof want, "%s/sites/b.conf", dir);
	ck_assert_str_eq(cf->servers[1]->at.file, want);
	ck_assert_int_eq(cf->servers[1]->at.line, 2);
	config_free(cf);

	put("sites/c.conf", "\nserver \"B.TEST\" {\n}\n");
	ck_assert_ptr_null(load(MIN "include \"sites/*.conf\"\n", err,
	    sizeof err));
	snprintf(want, sizeof want, "%s/sites/c.conf:2: server \"b.test\": "
	    "the name 'b.test' is already server \"b.test\"'s (%s/sites/b.conf"
	    ":2)", dir, dir);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(host_keys)
{
	char k[64];

	ck_assert_int_eq(config_host_key("A.Test:8443", k, sizeof k), 0);
	ck_assert_str_eq(k, "a.test");
	ck_assert_int_eq(config_host_key("a.test.", k, sizeof k), 0);
	ck_assert_str_eq(k, "a.test");
	ck_assert_int_eq(config_host_key("[::1]:443", k, sizeof k), -1);
	ck_assert_int_eq(config_host_key("", k, sizeof k), -1);
	ck_assert_int_eq(config_host_key(NULL, k, sizeof k), -1);
	ck_assert_int_eq(config_host_key(":80", k, sizeof k), -1);
}
END_TEST

START_TEST(includes)
{
	char err[512], want[1200];
	struct config *cf;

	/* sorted, relative to the including file's folder, nested, and
	 * allowed inside a block; a later file overrides an earlier one */
	put("sites/b.conf", "index = \"b.html\"\nworkers = 5\n");
	put("sites/a.conf", "index = \"a.html\"\ninclude \"../more/m.conf\"\n");
	put("more/m.conf", "# nested\nworkers = 4\nuser = \"m\"\n");
	put("acl.conf", "allow-subject = {\"CN=alice,*\"}\n");
	put("empty/.keep", "");
	cf = load(MIN "client-ca = \"ca.crt\"\n"
	    "include \"sites/*.conf\"\n"
	    "include \"empty/*.conf\"   # matches nothing: fine\n"
	    "location \"/secure/\" {\n  include \"acl.conf\"\n}\n",
	    err, sizeof err);
	ck_assert_msg(cf != NULL, "%s", err);
	ck_assert_str_eq(cf->servers[0]->index, "b.html");
	ck_assert_int_eq(cf->workers, 5);
	ck_assert_str_eq(cf->user, "m");
	snprintf(want, sizeof want, "%s/sites/../more/m.conf", dir);
	ck_assert_str_eq(cf->user_at.file, want);
	ck_assert_int_eq(cf->user_at.line, 3);
	ck_assert_uint_eq(cf->servers[0]->nlocs, 1);
	ck_assert_uint_eq(cf->servers[0]->locs[0].acc.nallow_subject, 1);
	config_free(cf);

	/* an error in an included file names that file and its line */
	put("sites/b.conf", "index = \"b.html\"\n# c\n\nbogus = 1\n");
	ck_assert_ptr_null(load(MIN "include \"sites/*.conf\"\n", err,
	    sizeof err));
	snprintf(want, sizeof want, "%s/sites/b.conf:4: unknown directive "
	    "'bogus'", dir);
	ck_assert_str_eq(err, want);

	/* an included file must be whole: no block across files */
	put("sites/b.conf", "location \"/x\" {\n");
	ck_assert_ptr_null(load(MIN "include \"sites/b.conf\"\n", err,
	    sizeof err));
	snprintf(want, sizeof want, "%s/sites/b.conf:1:15: the block opened "
	    "here is not closed (the file ends at line 1)", dir);
	ck_assert_str_eq(err, want);

	/* an included directive lands in the block that includes it */
	put("sites/b.conf", "root = \"x\"\n");
	ck_assert_ptr_null(load(MIN "location \"/x\" {\ninclude "
	    "\"sites/b.conf\"\n}\n", err, sizeof err));
	snprintf(want, sizeof want, "%s/sites/b.conf:1: root: not allowed in "
	    "a location block (it belongs at the top level)", dir);
	ck_assert_str_eq(err, want);
}
END_TEST

/* NUL bytes, in a string and out of one (fputs cannot write them). */
START_TEST(nul_bytes)
{
	static const char in[] = "root = \"a\0b\"\n", out[] = "\nroot\0 = 1";
	char err[512], want[1200];
	FILE *f;

	snprintf(path, sizeof path, "%s/c.conf", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fwrite(in, 1, sizeof in - 1, f);
	fclose(f);
	ck_assert_ptr_null(config_load(path, err, sizeof err));
	snprintf(want, sizeof want, "%s:1:10: unexpected byte 0x00 in a "
	    "string", path);
	ck_assert_str_eq(err, want);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fwrite(out, 1, sizeof out - 1, f);
	fclose(f);
	ck_assert_ptr_null(config_load(path, err, sizeof err));
	snprintf(want, sizeof want, "%s:2:5: unexpected byte 0x00", path);
	ck_assert_str_eq(err, want);
}
END_TEST

/* Every prefix of a full file loads or is refused with "PATH:..."; none
 * that stops inside a block or a list loads. */
START_TEST(every_prefix)
{
	static const char full[] =
	    "# every form\nlisten = {\"127.0.0.1:1\", # c\n \"[::1]:2\"}\n"
	    "root = 'site'\ncertificate = \"a\"\nkey = a.key\n"
	    "session-cache {\n store = \"gdbm:s.db\"\n timeout = 10\n}\n"
	    "client-ca = \"ca\"\n"
	    "location \"/s/\" {\n verify-client = require\n"
	    " allow-subject = {\"CN=a\\,b\", \"CN=c,*\"}\n}\n";
	char text[sizeof full], err[512];
	size_t n, loaded = 0;

	for (n = 0; n < sizeof full; n++) {
		struct config *cf;
		memcpy(text, full, n);
		text[n] = '\0';
		memset(err, 'x', sizeof err);
		cf = load(text, err, sizeof err);
		ck_assert_ptr_nonnull(memchr(err, '\0', sizeof err));
		if (cf != NULL) {
			loaded++;
			ck_assert_str_eq(err, "");
			config_free(cf);
			continue;
		}
		ck_assert_msg(strncmp(err, path, strlen(path)) == 0 &&
		    err[strlen(path)] == ':', "prefix %zu: '%s'", n, err);
	}
	/* the whole file, and a few cuts at the end of a statement */
	ck_assert_uint_ge(loaded, 2);
	n = (size_t)(strstr(full, "location") - full) + 17;
	memcpy(text, full, n);
	text[n] = '\0';
	ck_assert_ptr_null(load(text, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, ": the block opened here is not "
	    "closed"));
}
END_TEST

/* Random changes to a good file: never a crash, always "PATH:..." */
START_TEST(mutations)
{
	static const char good[] =
	    "listen = {\"127.0.0.1:1\"}\nroot = \"site\"\ncertificate = \"a\"\n"
	    "key = \"k\" # c\nsession-cache { store = \"none\" }\n"
	    "location \"/s/\" { allow-address = {\"::1\"} status = true }\n";
	static const char alphabet[] = "{}=,\"'#\\\n \x01\xff" "ab/*";
	char text[sizeof good], err[512];
	unsigned int seed = 12345;
	int i, k;

	for (i = 0; i < 3000; i++) {
		struct config *cf;
		memcpy(text, good, sizeof good);
		for (k = 0; k < 1 + i % 4; k++) {
			size_t at = (size_t)rand_r(&seed) % (sizeof good - 1);
			text[at] = alphabet[(size_t)rand_r(&seed) %
			    (sizeof alphabet - 1)];
		}
		cf = load(text, err, sizeof err);
		if (cf != NULL) {
			config_free(cf);
			continue;
		}
		ck_assert_msg(strncmp(err, path, strlen(path)) == 0 &&
		    err[strlen(path)] == ':', "mutation %d: '%s'", i, err);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, every_directive);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, ticket_key_files);
	tcase_add_test(tc, errors_name_the_line);
	tcase_add_test(tc, listen_forms);
	tcase_add_test(tc, syntax_forms);
	tcase_add_test(tc, top_level_override);
	tcase_add_test(tc, broken_files);
	tcase_add_test(tc, includes);
	tcase_add_test(tc, servers);
	tcase_add_test(tc, host_keys);
	tcase_add_test(tc, server_includes);
	tcase_add_test(tc, nul_bytes);
	tcase_add_test(tc, every_prefix);
	tcase_add_test(tc, mutations);
	suite_add_tcase(s, tc);
	return check_run(s);
}
