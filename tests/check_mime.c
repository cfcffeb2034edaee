/* check_mime.c - mime.types loading and lookup. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cachetd.h"
#include "check_run.h"

static const char *
write_tmp(const char *text)
{
	static char path[] = "/tmp/check_mime.XXXXXX";
	int fd;

	strcpy(path, "/tmp/check_mime.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

START_TEST(lookup)
{
	char err[256];
	const char *p = write_tmp("# comment\ntext/html html htm\n\n"
	    "image/png png # trailing\ntext/x-other html\ntext/css\tcss\n");
	struct mime *m = mime_load(p, err, sizeof err);

	unlink(p);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(mime_lookup(m, "index.html"), "text/html");
	ck_assert_str_eq(mime_lookup(m, "A/B.HTM"), "text/html");
	ck_assert_str_eq(mime_lookup(m, "x.png"), "image/png");
	ck_assert_str_eq(mime_lookup(m, "x.css"), "text/css");
	ck_assert_str_eq(mime_lookup(m, "x.unknown"), "application/octet-stream");
	ck_assert_str_eq(mime_lookup(m, "noext"), "application/octet-stream");
	ck_assert_str_eq(mime_lookup(m, "dir.html/noext"),
	    "application/octet-stream");
	ck_assert_str_eq(mime_lookup(m, "trailingdot."),
	    "application/octet-stream");
	mime_free(m);
}
END_TEST

START_TEST(bad_file)
{
	char err[256];
	const char *p = write_tmp("text/html html\nnotatype foo\n");
	struct mime *m = mime_load(p, err, sizeof err);

	unlink(p);
	ck_assert_ptr_null(m);
	ck_assert_ptr_nonnull(strstr(err, ":2: 'notatype' is not a media type"));
	ck_assert_ptr_null(mime_load("/nonexistent/mime.types", err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "cannot read"));
}
END_TEST

START_TEST(bundled)
{
	char err[256], path[1024];
	struct mime *m;

	snprintf(path, sizeof path, "%s/conf/mime.types",
	    getenv("top_srcdir") ? getenv("top_srcdir") : "..");
	m = mime_load(path, err, sizeof err);
	ck_assert_msg(m != NULL, "%s", err);
	ck_assert_str_eq(mime_lookup(m, "a.svg"), "image/svg+xml");
	ck_assert_str_eq(mime_lookup(m, "a.js"), "application/javascript");
	mime_free(m);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("mime");
	TCase *tc = tcase_create("mime");

	tcase_add_test(tc, lookup);
	tcase_add_test(tc, bad_file);
	tcase_add_test(tc, bundled);
	suite_add_tcase(s, tc);
	return check_run(s);
}
