/* check_auth.c - DN matching, access lists and location lookup. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cachetd.h"
#include "check_run.h"

START_TEST(dn_match)
{
	const char *alice = "CN=alice,O=cachet demo";

	ck_assert_int_eq(auth_dn_match("CN=alice,O=cachet demo", alice), 1);
	ck_assert_int_eq(auth_dn_match("CN=alice,O=cachet", alice), 0);
	ck_assert_int_eq(auth_dn_match("CN=alice,O=cachet demo,C=FR", alice), 0);
	ck_assert_int_eq(auth_dn_match("cn=alice,o=cachet demo", alice), 0);
	ck_assert_int_eq(auth_dn_match("CN=alice,*", alice), 1);
	ck_assert_int_eq(auth_dn_match("CN=ali*", alice), 1);
	ck_assert_int_eq(auth_dn_match("CN=alice2,*", alice), 0);
	ck_assert_int_eq(auth_dn_match("*", alice), 1);
	ck_assert_int_eq(auth_dn_match("CN=bob,*", alice), 0);
	ck_assert_int_eq(auth_dn_match("", alice), 0);
}
END_TEST

START_TEST(lists)
{
	char *allow[] = { "CN=alice,O=cachet demo", "CN=carol,*" };
	char *issuers[] = { "CN=cachet demo CA,*" };
	char *deny[] = { "CN=carol,O=evil" };
	struct access a = { .verify = VERIFY_REQUIRE };

	/* no lists: any trusted certificate */
	ck_assert_int_eq(auth_lists(&a, "CN=bob", "CN=x"), AUTH_OK);
	a.allow_subject = allow;
	a.nallow_subject = 2;
	ck_assert_int_eq(auth_lists(&a, "CN=alice,O=cachet demo", "CN=x"),
	    AUTH_OK);
	ck_assert_int_eq(auth_lists(&a, "CN=bob,O=cachet demo", "CN=x"),
	    AUTH_NOT_LISTED);
	ck_assert_int_eq(auth_lists(&a, "CN=carol,O=anything", "CN=x"),
	    AUTH_OK);
	a.deny_subject = deny;
	a.ndeny_subject = 1;
	ck_assert_int_eq(auth_lists(&a, "CN=carol,O=evil", "CN=x"),
	    AUTH_NOT_LISTED);
	a.allow_issuer = issuers;
	a.nallow_issuer = 1;
	ck_assert_int_eq(auth_lists(&a, "CN=alice,O=cachet demo",
	    "CN=cachet demo CA,O=cachet demo"), AUTH_OK);
	ck_assert_int_eq(auth_lists(&a, "CN=alice,O=cachet demo",
	    "CN=other CA"), AUTH_NOT_LISTED);
	ck_assert_int_eq(auth_needs_cert(&a), 1);
	memset(&a, 0, sizeof a);
	ck_assert_int_eq(auth_needs_cert(&a), 0);
	a.ndeny_subject = 1;
	ck_assert_int_eq(auth_needs_cert(&a), 1);
	ck_assert_str_eq(auth_result_name(AUTH_NOT_LISTED), "not on the list");
}
END_TEST

START_TEST(locations)
{
	char dir[] = "/tmp/check_auth.XXXXXX", path[1100], err[512];
	struct config *cf;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/c.conf", dir);
	f = fopen(path, "w");
	fputs("root = \"www\"\ncertificate = \"s.crt\"\nkey = \"s.key\"\n"
	    "client-ca = \"ca.crt\"\nclient-crl = \"crl.pem\"\n"
	    "verify-depth = 2\nverify-client = optional\n"
	    "location \"/\" { }\n"
	    "location \"/secure/\" {\n verify-client = require\n"
	    " allow-subject = {\"CN=alice,O=cachet demo\", \"CN=x*\"}\n"
	    " allow-issuer = {\"CN=cachet demo CA,*\"}\n"
	    " deny-subject = {\"CN=xavier,*\"}\n client-ca = \"other.crt\"\n}\n"
	    "location \"/secure/admin/\" { allow-subject = {\"CN=bob,*\"} }\n"
	    "location \"/securely\" { verify-client = optional }\n", f);
	fclose(f);
	cf = config_load(path, err, sizeof err);
	ck_assert_msg(cf != NULL, "%s", err);
	ck_assert_int_eq(cf->servers[0]->verify_client, VERIFY_OPTIONAL);
	ck_assert_int_eq(cf->servers[0]->verify_depth, 2);
	ck_assert_ptr_nonnull(strstr(cf->servers[0]->client_crl, "/crl.pem"));
	ck_assert_str_eq(config_location(cf->servers[0], "/secure/x")->prefix, "/secure/");
	ck_assert_str_eq(config_location(cf->servers[0], "/secure/admin/y")->prefix,
	    "/secure/admin/");
	ck_assert_str_eq(config_location(cf->servers[0], "/securely")->prefix, "/securely");
	ck_assert_str_eq(config_location(cf->servers[0], "/secure")->prefix, "/");
	ck_assert_str_eq(config_location(cf->servers[0], "/other")->prefix, "/");
	ck_assert_int_eq(config_location(cf->servers[0], "/secure/")->acc.verify,
	    VERIFY_REQUIRE);
	ck_assert_uint_eq(config_location(cf->servers[0], "/secure/")->acc.nallow_subject,
	    2);
	ck_assert_uint_eq(config_location(cf->servers[0], "/secure/")->acc.nallow_issuer, 1);
	ck_assert_uint_eq(config_location(cf->servers[0], "/secure/")->acc.ndeny_subject, 1);
	ck_assert_ptr_nonnull(strstr(config_location(cf->servers[0],
	    "/secure/")->acc.client_ca, "/other.crt"));
	config_free(cf);

	/* errors name their line */
	f = fopen(path, "w");
	fputs("root = \"www\"\ncertificate = \"s.crt\"\nkey = \"s.key\"\n"
	    "location \"/s/\" {\n verify-client = always\n}\n", f);
	fclose(f);
	ck_assert_ptr_null(config_load(path, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, ":5: verify-client: 'always'"));
	f = fopen(path, "w");
	fputs("root = \"www\"\ncertificate = \"s.crt\"\nkey = \"s.key\"\n"
	    "client-ca = \"ca.crt\"\n"
	    "location \"/s/\" {\n allow-subject = {\"alice\"}\n}\n", f);
	fclose(f);
	ck_assert_ptr_null(config_load(path, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, ":6: allow-subject: 'alice' is not"));
	f = fopen(path, "w");
	fputs("root = \"www\"\ncertificate = \"s.crt\"\nkey = \"s.key\"\n"
	    "location \"/s/\" {\n verify-client = require\n}\n", f);
	fclose(f);
	ck_assert_ptr_null(config_load(path, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, ":4: location \"/s/\" asks for a "
	    "client certificate but no client-ca"));
	unlink(path);
	rmdir(dir);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth");

	tcase_add_test(tc, dn_match);
	tcase_add_test(tc, lists);
	tcase_add_test(tc, locations);
	suite_add_tcase(s, tc);
	return check_run(s);
}
