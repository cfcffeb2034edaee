/* check_http.c - the request parser: valid requests and each malformed
 * kind with the status it must produce. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cachetd.h"
#include "check_run.h"

static int
parse(const char *text, struct http_request *r)
{
	static char buf[HTTP_MAX_HEADER * 2];
	size_t n = strlen(text);

	ck_assert_uint_lt(n, sizeof buf);
	memcpy(buf, text, n);
	memset(r, 0, sizeof *r);
	return http_parse(buf, n, r);
}

START_TEST(simple_get)
{
	struct http_request r;
	const char *t = "GET /a/b.html?x=1 HTTP/1.1\r\nHost: h\r\n"
	    "User-Agent: t/1\r\nReferer: r\r\n\r\nGET / HTTP/1.1\r\n";
	int n = parse(t, &r);

	ck_assert_int_eq(n, (int)(strstr(t, "\r\n\r\n") - t + 4));
	ck_assert_int_eq(r.method, M_GET);
	ck_assert_str_eq(r.target, "/a/b.html?x=1");
	ck_assert_str_eq(r.host, "h");
	ck_assert_str_eq(r.user_agent, "t/1");
	ck_assert_str_eq(r.referer, "r");
	ck_assert_int_eq(r.minor, 1);
	ck_assert_int_eq(r.keepalive, 1);
	ck_assert_str_eq(r.request_line, "GET /a/b.html?x=1 HTTP/1.1");
}
END_TEST

START_TEST(head_and_others)
{
	struct http_request r;

	ck_assert_int_gt(parse("HEAD / HTTP/1.0\r\n\r\n", &r), 0);
	ck_assert_int_eq(r.method, M_HEAD);
	ck_assert_int_eq(r.keepalive, 0);
	ck_assert_int_gt(parse("POST / HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: 3\r\n\r\n", &r), 0);
	ck_assert_int_eq(r.method, M_OTHER);
	ck_assert_int_eq(r.content_length, 3);
}
END_TEST

START_TEST(connection_header)
{
	struct http_request r;

	ck_assert_int_gt(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n"
	    "\r\n", &r), 0);
	ck_assert_int_eq(r.keepalive, 1);
	ck_assert_int_gt(parse("GET / HTTP/1.1\r\nHost: x\r\n"
	    "Connection: foo, close\r\n\r\n", &r), 0);
	ck_assert_int_eq(r.keepalive, 0);
	ck_assert_int_gt(parse("GET / HTTP/1.1\nHost: x\n\n", &r), 0);
	ck_assert_int_eq(r.keepalive, 1);
}
END_TEST

START_TEST(incomplete)
{
	struct http_request r;

	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: x\r\n", &r), 0);
	ck_assert_int_eq(parse("GET / HTT", &r), 0);
}
END_TEST

START_TEST(malformed)
{
	static const struct { const char *req; int status; } cases[] = {
		{ "garbage\r\n\r\n", -400 },
		{ "GET\r\n\r\n", -400 },
		{ "GET /\r\n\r\n", -400 },
		{ "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", -400 },
		{ "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", -400 },
		{ "GET / FTP/1.1\r\nHost: x\r\n\r\n", -400 },
		{ "GET / HTTP/2.0\r\nHost: x\r\n\r\n", -505 },
		{ "GET / HTTP/1.1\r\n\r\n", -400 },            /* no Host */
		{ "GET x HTTP/1.1\r\nHost: x\r\n\r\n", -400 },
		{ "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost : x\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n",
		    -400 },
		{ "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
		    "Content-Length: 2\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		    "\r\n", -501 },
		{ "GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: x\x7f\r\n\r\n", -400 },
	};
	struct http_request r;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ck_assert_msg(parse(cases[i].req, &r) == cases[i].status,
		    "case %zu (%s): want %d", i, cases[i].req, cases[i].status);
}
END_TEST

START_TEST(nul_in_header)
{
	char buf[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
	struct http_request r;

	ck_assert_int_eq(http_parse(buf, sizeof buf - 1, &r), -400);
}
END_TEST

START_TEST(limits)
{
	struct http_request r;
	char *big = malloc(HTTP_MAX_HEADER * 2);
	size_t n;
	int i;

	ck_assert_ptr_nonnull(big);
	/* A request line longer than the limit: 414, even incomplete. */
	strcpy(big, "GET /");
	memset(big + 5, 'a', HTTP_MAX_LINE);
	big[5 + HTTP_MAX_LINE] = '\0';
	ck_assert_int_eq(parse(big, &r), -414);
	strcat(big, " HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_int_eq(parse(big, &r), -414);

	/* Headers over the limit: 431. */
	strcpy(big, "GET / HTTP/1.1\r\nHost: x\r\n");
	n = strlen(big);
	while (n < HTTP_MAX_HEADER + 100) {
		strcat(big + n, "X-Filler: 0123456789012345678901234567890\r\n");
		n += strlen(big + n);
	}
	ck_assert_int_eq(parse(big, &r), -431);
	strcat(big, "\r\n");
	ck_assert_int_eq(parse(big, &r), -431);

	/* Too many fields, even if short: 431. */
	strcpy(big, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (i = 0; i < HTTP_MAX_FIELDS + 1; i++)
		strcat(big, "A: b\r\n");
	strcat(big, "\r\n");
	ck_assert_int_eq(parse(big, &r), -431);
	free(big);
}
END_TEST

START_TEST(dates)
{
	char buf[64];
	time_t t;

	http_date(buf, sizeof buf, 784111777);
	ck_assert_str_eq(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
	ck_assert_int_eq(http_parse_date(buf, &t), 0);
	ck_assert_int_eq(t, 784111777);
	ck_assert_int_eq(http_parse_date("yesterday", &t), -1);
	ck_assert_str_eq(http_reason(431), "Request Header Fields Too Large");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, simple_get);
	tcase_add_test(tc, head_and_others);
	tcase_add_test(tc, connection_header);
	tcase_add_test(tc, incomplete);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, nul_in_header);
	tcase_add_test(tc, limits);
	tcase_add_test(tc, dates);
	suite_add_tcase(s, tc);
	return check_run(s);
}
