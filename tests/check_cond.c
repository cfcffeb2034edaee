/* check_cond.c - the RFC 9110 rules of cond.c: byte ranges in every form
 * (and the malformed, the huge, the overlapping and the many), entity-tag
 * comparison (weak and strong), Accept-Encoding q-values. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cachetd.h"
#include "check_run.h"

static enum range_result
rp(const char *h, off_t size, struct byte_range *r, int *n)
{
	return range_parse(h, size, r, RANGE_MAX, n);
}

START_TEST(ranges_ok)
{
	static const struct {
		const char *h;
		off_t size;
		int n;
		off_t f0, l0, f1, l1;
	} c[] = {
		{ "bytes=0-9", 100, 1, 0, 9, 0, 0 },
		{ "bytes=-10", 100, 1, 90, 99, 0, 0 },
		{ "bytes=90-", 100, 1, 90, 99, 0, 0 },
		{ "bytes=90-1000", 100, 1, 90, 99, 0, 0 },
		{ "bytes=-1000", 100, 1, 0, 99, 0, 0 },
		{ "BYTES=0-0", 100, 1, 0, 0, 0, 0 },
		{ " bytes=0-1, 5-6 ", 100, 2, 0, 1, 5, 6 },
		{ "bytes=50-59,0-9", 100, 2, 50, 59, 0, 9 },
		{ "bytes=0-9,200-300", 100, 1, 0, 9, 0, 0 },   /* one dropped */
		{ "bytes=0-9,,", 100, 1, 0, 9, 0, 0 },
	};
	struct byte_range r[RANGE_MAX];
	size_t i;
	int n;

	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		ck_assert_msg(rp(c[i].h, c[i].size, r, &n) == RANGE_OK, "%s",
		    c[i].h);
		ck_assert_int_eq(n, c[i].n);
		ck_assert_int_eq(r[0].first, c[i].f0);
		ck_assert_int_eq(r[0].last, c[i].l0);
		if (n > 1) {
			ck_assert_int_eq(r[1].first, c[i].f1);
			ck_assert_int_eq(r[1].last, c[i].l1);
		}
	}
}
END_TEST

START_TEST(ranges_other)
{
	static const struct {
		const char *h;
		off_t size;
		enum range_result want;
	} c[] = {
		{ "bytes=", 100, RANGE_NONE },
		{ "bytes=a-b", 100, RANGE_NONE },
		{ "bytes=9-0", 100, RANGE_NONE },
		{ "bytes=-", 100, RANGE_NONE },
		{ "bytes=1-2-3", 100, RANGE_NONE },
		{ "bytes=+1-2", 100, RANGE_NONE },
		{ "bytes=0x10-20", 100, RANGE_NONE },
		{ "items=0-9", 100, RANGE_NONE },
		{ "bytes=0-99999999999999999999999", 100, RANGE_NONE },
		{ "bytes=99999999999999999999-", 100, RANGE_NONE },
		{ "bytes=100-", 100, RANGE_UNSATISFIABLE },
		{ "bytes=100-200,300-400", 100, RANGE_UNSATISFIABLE },
		{ "bytes=-0", 100, RANGE_UNSATISFIABLE },
		{ "bytes=0-", 0, RANGE_UNSATISFIABLE },
		{ "bytes=0-50,40-60", 100, RANGE_WHOLE },       /* overlap */
		{ "bytes=0-0,0-0", 100, RANGE_WHOLE },
		{ "bytes=-50,60-65", 100, RANGE_WHOLE },
	};
	struct byte_range r[RANGE_MAX];
	size_t i;
	int n;

	for (i = 0; i < sizeof c / sizeof c[0]; i++)
		ck_assert_msg(rp(c[i].h, c[i].size, r, &n) == c[i].want,
		    "%s", c[i].h);
}
END_TEST

START_TEST(ranges_many)
{
	char h[200000];
	struct byte_range r[RANGE_MAX];
	size_t o;
	int i, n;

	/* exactly the cap: served; one more: the whole file */
	o = (size_t)snprintf(h, sizeof h, "bytes=");
	for (i = 0; i < RANGE_MAX; i++)
		o += (size_t)snprintf(h + o, sizeof h - o, "%s%d-%d",
		    i ? "," : "", i * 10, i * 10 + 1);
	ck_assert_int_eq(rp(h, 100000, r, &n), RANGE_OK);
	ck_assert_int_eq(n, RANGE_MAX);
	snprintf(h + o, sizeof h - o, ",5000-5001");
	ck_assert_int_eq(rp(h, 100000, r, &n), RANGE_WHOLE);
	/* 10 000 ranges */
	o = (size_t)snprintf(h, sizeof h, "bytes=");
	for (i = 0; i < 10000 && o + 20 < sizeof h; i++)
		o += (size_t)snprintf(h + o, sizeof h - o, "%s%d-%d",
		    i ? "," : "", i * 2, i * 2);
	ck_assert_int_eq(rp(h, 100000, r, &n), RANGE_WHOLE);
}
END_TEST

START_TEST(etags)
{
	struct stat st;
	char a[80], b[80];

	memset(&st, 0, sizeof st);
	st.st_ino = 42;
	st.st_size = 1000;
	st.st_mtim.tv_sec = 1700000000;
	ck_assert_uint_gt(etag_make(&st, a, sizeof a), 2);
	ck_assert(a[0] == '"' && a[strlen(a) - 1] == '"');
	st.st_mtim.tv_nsec = 1;         /* any change makes another tag */
	etag_make(&st, b, sizeof b);
	ck_assert_str_ne(a, b);
	ck_assert_uint_eq(etag_make(&st, b, 4), 0);

	ck_assert(etag_list_match("\"x\"", "\"x\"", 1));
	ck_assert(etag_list_match("\"y\", \"x\"", "\"x\"", 0));
	ck_assert(etag_list_match("W/\"x\"", "\"x\"", 0));      /* weak ok */
	ck_assert(!etag_list_match("W/\"x\"", "\"x\"", 1));     /* strong */
	ck_assert(etag_list_match("*", "\"x\"", 0));
	ck_assert(etag_list_match(" * ", "\"x\"", 1));
	ck_assert(!etag_list_match("\"xx\"", "\"x\"", 0));
	ck_assert(!etag_list_match("x", "\"x\"", 0));           /* unquoted */
	ck_assert(!etag_list_match("\"y\" \"x\"", "\"x\"", 0)); /* no comma */
	ck_assert(!etag_list_match("\"x", "\"x\"", 0));
	ck_assert(!etag_list_match("", "\"x\"", 0));
	ck_assert(!etag_list_match("*, \"x\"", "\"x\"", 0));
}
END_TEST

START_TEST(accept_encoding)
{
	ck_assert_int_eq(accept_encoding_q(NULL, "gzip"), 0);
	ck_assert_int_eq(accept_encoding_q("gzip", "gzip"), 1000);
	ck_assert_int_eq(accept_encoding_q("GZIP;q=0.5", "gzip"), 500);
	ck_assert_int_eq(accept_encoding_q("deflate, gzip;q=0", "gzip"), 0);
	ck_assert_int_eq(accept_encoding_q("br;q=1.0, gzip; q=0.8", "gzip"),
	    800);
	ck_assert_int_eq(accept_encoding_q("*", "br"), 1000);
	ck_assert_int_eq(accept_encoding_q("*;q=0, gzip", "br"), 0);
	ck_assert_int_eq(accept_encoding_q("*;q=0.3, gzip", "gzip"), 1000);
	ck_assert_int_eq(accept_encoding_q("identity", "gzip"), 0);
	ck_assert_int_eq(accept_encoding_q("identity;q=0", "gzip"), 0);
	ck_assert_int_eq(accept_encoding_q("gzipx, xgzip", "gzip"), 0);
	ck_assert_int_eq(accept_encoding_q("gzip;q=2", "gzip"), 0);
	ck_assert_int_eq(accept_encoding_q("gzip;q=abc", "gzip"), 0);
	ck_assert_int_eq(accept_encoding_q("gzip;level=9;q=0.1", "gzip"), 100);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("cond");
	TCase *tc = tcase_create("rules");

	tcase_add_test(tc, ranges_ok);
	tcase_add_test(tc, ranges_other);
	tcase_add_test(tc, ranges_many);
	tcase_add_test(tc, etags);
	tcase_add_test(tc, accept_encoding);
	suite_add_tcase(s, tc);
	return check_run(s);
}
