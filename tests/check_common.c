/*
 * check_common.c - src/common/ (strict numbers, the out-of-memory policy,
 * certificate names) and the tool's request building (client_http.c):
 * the Host header a server sees, IPv6 brackets and ports included.
 */
#include "config.h"

#include <check.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "cachet.h"
#include "check_run.h"
#include "common.h"

START_TEST(longs)
{
	long v = 42;

	ck_assert_int_eq(parse_long("5", 1, 10, &v), 0);
	ck_assert_int_eq(v, 5);
	ck_assert_int_eq(parse_long("-3", -5, 5, &v), 0);
	ck_assert_int_eq(v, -3);
	v = 42;
	/* each refused, and v left alone */
	ck_assert_int_eq(parse_long("5x", 0, 10, &v), -1);
	ck_assert_int_eq(parse_long("", 0, 10, &v), -1);
	ck_assert_int_eq(parse_long(" 5", 0, 10, &v), -1);
	ck_assert_int_eq(parse_long("5 ", 0, 10, &v), -1);
	ck_assert_int_eq(parse_long("0x5", 0, 10, &v), -1);
	ck_assert_int_eq(parse_long("1.5", 0, 10, &v), -1);
	ck_assert_int_eq(parse_long("11", 0, 10, &v), -1);
	ck_assert_int_eq(parse_long("-1", 0, 10, &v), -1);
	ck_assert_int_eq(parse_long("99999999999999999999", 0, LONG_MAX, &v),
	    -1);
	ck_assert_int_eq(parse_long(NULL, 0, 10, &v), -1);
	ck_assert_int_eq(v, 42);
}
END_TEST

START_TEST(doubles)
{
	double d = 42;

	ck_assert_int_eq(parse_double("5", 0, 10, &d), 0);
	ck_assert(d == 5);
	ck_assert_int_eq(parse_double("0.25", 0, 10, &d), 0);
	ck_assert(d == 0.25);
	ck_assert_int_eq(parse_double("1e1", 0, 10, &d), 0);
	ck_assert(d == 10);
	d = 42;
	ck_assert_int_eq(parse_double("5x", 0, 10, &d), -1);
	ck_assert_int_eq(parse_double("", 0, 10, &d), -1);
	ck_assert_int_eq(parse_double(" 5", 0, 10, &d), -1);
	ck_assert_int_eq(parse_double("nan", 0, 10, &d), -1);
	ck_assert_int_eq(parse_double("NAN", -1e300, 1e300, &d), -1);
	ck_assert_int_eq(parse_double("inf", 0, 1e308, &d), -1);
	ck_assert_int_eq(parse_double("-Infinity", -1e308, 0, &d), -1);
	ck_assert_int_eq(parse_double("0x1p3", 0, 10, &d), -1);
	ck_assert_int_eq(parse_double("1e999", 0, 1e308, &d), -1);
	ck_assert_int_eq(parse_double("0", 0.001, 10, &d), -1);
	ck_assert_int_eq(parse_double("10.5", 0, 10, &d), -1);
	ck_assert(d == 42);
}
END_TEST

START_TEST(alloc)
{
	char *s = xstrdup("abc");
	int *z = xcalloc(4, sizeof *z);

	ck_assert_str_eq(s, "abc");
	ck_assert_ptr_null(xstrdup(NULL));
	ck_assert_int_eq(z[0] | z[1] | z[2] | z[3], 0);
	z = xreallocarray(z, 1000, sizeof *z);
	z[999] = 1;
	free(z);
	free(s);
}
END_TEST

/* AddressSanitizer reports a huge malloc itself instead of returning
 * NULL: that case is for the plain build. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* No NULL ever comes back: the program says so and exits 1. */
START_TEST(alloc_fails)
{
	volatile size_t huge = SIZE_MAX - 4096;

	free(xmalloc(huge));
}
END_TEST

START_TEST(alloc_overflows)
{
	volatile size_t n = SIZE_MAX / 2;

	free(xreallocarray(NULL, n, 4));
}
END_TEST

START_TEST(dn)
{
	X509_NAME *n = X509_NAME_new();
	char out[64];

	ck_assert_ptr_nonnull(n);
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
	    (const unsigned char *)"cachet demo", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"alice", -1, -1, 0);
	dn_string(n, out, sizeof out);
	ck_assert_str_eq(out, "CN=alice,O=cachet demo");
	dn_string(n, out, 6);
	ck_assert_str_eq(out, "CN=al");
	X509_NAME_free(n);
}
END_TEST

static const char *
host_header(const char *host, const char *port)
{
	static char out[300];

	if (client_host_header(host, port, out, sizeof out) != 0)
		return "(too long)";
	return out;
}

START_TEST(host_headers)
{
	char tiny[8];

	ck_assert_str_eq(host_header("example.com", "443"), "example.com");
	ck_assert_str_eq(host_header("example.com", "8443"),
	    "example.com:8443");
	ck_assert_str_eq(host_header("127.0.0.1", "8443"), "127.0.0.1:8443");
	ck_assert_str_eq(host_header("::1", "443"), "[::1]");
	ck_assert_str_eq(host_header("::1", "8443"), "[::1]:8443");
	ck_assert_str_eq(host_header("fe80::1", "80"), "[fe80::1]:80");
	ck_assert_int_eq(client_host_header("example.com", "8443", tiny,
	    sizeof tiny), -1);
}
END_TEST

START_TEST(urls)
{
	struct client_url u;

	ck_assert_int_eq(client_parse_url("https://[::1]:8443/a/b?c", &u), 0);
	ck_assert_str_eq(u.host, "::1");
	ck_assert_str_eq(u.port, "8443");
	ck_assert_str_eq(u.path, "/a/b?c");
	ck_assert_int_eq(client_parse_url("https://[::1]", &u), 0);
	ck_assert_str_eq(u.port, "443");
	ck_assert_str_eq(u.path, "/");
	ck_assert_int_eq(client_parse_url("https://localhost:1/", &u), 0);
	ck_assert_int_eq(client_parse_url("https://localhost:65535/", &u), 0);
	/* refused */
	ck_assert_int_eq(client_parse_url("http://localhost/", &u), -1);
	ck_assert_int_eq(client_parse_url("https://", &u), -1);
	ck_assert_int_eq(client_parse_url("https://::1:443/", &u), -1);
	ck_assert_int_eq(client_parse_url("https://[::1/", &u), -1);
	ck_assert_int_eq(client_parse_url("https://[::1]x/", &u), -1);
	ck_assert_int_eq(client_parse_url("https://h:/", &u), -1);
	ck_assert_int_eq(client_parse_url("https://h:0/", &u), -1);
	ck_assert_int_eq(client_parse_url("https://h:65536/", &u), -1);
	ck_assert_int_eq(client_parse_url("https://h:44x/", &u), -1);
	ck_assert_int_eq(client_parse_url("https://h:-1/", &u), -1);
	ck_assert_int_eq(client_parse_url("https://h/a b", &u), -1);
	ck_assert_int_eq(client_parse_url("https://h/a\r\nX: y", &u), -1);
}
END_TEST

START_TEST(requests)
{
	struct client_url u;
	char req[512], tiny[40];
	int n;

	ck_assert_int_eq(client_parse_url("https://[::1]:8443/x", &u), 0);
	n = client_request(req, sizeof req, "GET", &u, 1);
	ck_assert_int_eq(n, (int)strlen(req));
	ck_assert_msg(strncmp(req, "GET /x HTTP/1.1\r\nHost: [::1]:8443\r\n",
	    34) == 0, "got: %s", req);
	ck_assert_ptr_null(strstr(req, "Connection:"));
	ck_assert_str_eq(req + n - 4, "\r\n\r\n");
	ck_assert(strstr(req, "\r\n\r\n") == req + n - 4);

	ck_assert_int_eq(client_parse_url("https://example.com/", &u), 0);
	n = client_request(req, sizeof req, "HEAD", &u, 0);
	ck_assert_msg(strncmp(req, "HEAD / HTTP/1.1\r\nHost: example.com\r\n",
	    36) == 0, "got: %s", req);
	ck_assert_ptr_nonnull(strstr(req, "\r\nConnection: close\r\n\r\n"));
	ck_assert_int_eq(client_request(tiny, sizeof tiny, "GET", &u, 0), -1);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("common");
	TCase *t = tcase_create("parse");

	tcase_add_test(t, longs);
	tcase_add_test(t, doubles);
	suite_add_tcase(s, t);
	t = tcase_create("alloc");
	tcase_add_test(t, alloc);
#ifndef UNDER_ASAN
	tcase_add_exit_test(t, alloc_fails, 1);
#endif
	tcase_add_exit_test(t, alloc_overflows, 1);
	tcase_add_test(t, dn);
	suite_add_tcase(s, t);
	t = tcase_create("client_http");
	tcase_add_test(t, host_headers);
	tcase_add_test(t, urls);
	tcase_add_test(t, requests);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	return check_run(suite());
}
