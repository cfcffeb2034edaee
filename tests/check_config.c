/* check_config.c - every directive of cachetd.conf is read, defaults are
 * right, and each error names the file, the line and the problem. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void
teardown(void)
{
	unlink(path);
	rmdir(dir);
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
	ck_assert_str_eq(cf->root, want);
	ck_assert_str_eq(cf->index, "home.html");
	ck_assert_str_eq(cf->mime_types, "/etc/mime.types");
	ck_assert_uint_eq(cf->ncerts, 2);
	snprintf(want, sizeof want, "%s/b.key", dir);
	ck_assert_str_eq(cf->keys[1], want);
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
	snprintf(want, sizeof want, "%s/cache/s.db", dir);
	ck_assert_str_eq(cf->cache.store_path, want);
	ck_assert_int_eq(cf->cache.timeout, 60);
	ck_assert_int_eq(cf->cache.max_entries, 10);
	ck_assert_int_eq(cf->cache.purge_interval, 7);
	ck_assert_uint_eq(cf->nlocs, 2);
	ck_assert_int_eq(config_location(cf, "/status")->status, 1);
	ck_assert_str_eq(config_location(cf, "/statusx")->prefix, "/status");
	ck_assert_str_eq(config_location(cf, "/other")->prefix, "/");
	ck_assert_uint_eq(config_location(cf, "/status")->nallow_addr, 2);
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
	ck_assert_str_eq(cf->index, "index.html");
	ck_assert_int_eq(cf->proto_min, TLS1_2_VERSION);
	ck_assert_int_eq(cf->proto_max, TLS1_3_VERSION);
	ck_assert_uint_eq(cf->ncerts, 1);
	ck_assert_ptr_null(cf->access_log);
	ck_assert_int_eq(cf->session_tickets, 0);
	ck_assert_int_eq(cf->cache.timeout, 300);
	ck_assert_int_eq(cf->cache.max_entries, 100000);
	ck_assert_int_eq(cf->cache.purge_interval, 60);
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

int
main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, every_directive);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, errors_name_the_line);
	tcase_add_test(tc, listen_forms);
	suite_add_tcase(s, tc);
	return check_run(s);
}
