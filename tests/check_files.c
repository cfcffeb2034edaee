/* check_files.c - path normalisation and opening beneath the root,
 * including every traversal trick we know of. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cachetd.h"
#include "check_run.h"

static int
norm(const char *t, char *out, int *slash)
{
	return path_normalize(t, out, PATH_MAX, slash);
}

START_TEST(normalize_ok)
{
	static const struct { const char *in, *out; int slash; } c[] = {
		{ "/", "", 1 },
		{ "/index.html", "index.html", 0 },
		{ "/a/b/", "a/b", 1 },
		{ "//a///b", "a/b", 0 },
		{ "/a/./b", "a/b", 0 },
		{ "/a/../b", "b", 0 },
		{ "/a/b/..", "a", 0 },
		{ "/%61%62c", "abc", 0 },
		{ "/a%20b?q=/../../x", "a b", 0 },
		{ "/x#frag", "x", 0 },
		{ "/a%2fb", "a/b", 0 },
	};
	char out[PATH_MAX];
	size_t i;
	int slash;

	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		ck_assert_msg(norm(c[i].in, out, &slash) == 0, "%s", c[i].in);
		ck_assert_str_eq(out, c[i].out);
		ck_assert_int_eq(slash, c[i].slash);
	}
}
END_TEST

START_TEST(normalize_refused)
{
	static const char *bad[] = {
		"/..", "/../etc/passwd", "/a/../../etc/passwd",
		"/%2e%2e/etc/passwd", "/%2E%2E/%2E%2E/etc/passwd",
		"/a/%2e%2e/%2e%2e/x", "/..%2fetc%2fpasswd", "/x%00y", "/%",
		"/%4", "/%zz", "relative",
	};
	char out[PATH_MAX];
	size_t i;
	int slash;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(norm(bad[i], out, &slash) == -400, "%s", bad[i]);
}
END_TEST

static char tmpl[] = "/tmp/check_files.XXXXXX";

static void
mk(const char *rel, const char *content)
{
	char p[PATH_MAX];
	FILE *f;

	snprintf(p, sizeof p, "%s/%s", tmpl, rel);
	ck_assert_ptr_nonnull(f = fopen(p, "w"));
	fputs(content, f);
	fclose(f);
}

START_TEST(open_beneath)
{
	char p[PATH_MAX], q[PATH_MAX];
	struct stat st;
	int root, fd;

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	snprintf(p, sizeof p, "%s/www", tmpl);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	mk("secret", "outside");
	mk("www/in.txt", "inside");
	snprintf(p, sizeof p, "%s/www/sub", tmpl);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	/* symlinks: one that stays inside, two that leave */
	snprintf(p, sizeof p, "%s/www/ok", tmpl);
	ck_assert_int_eq(symlink("in.txt", p), 0);
	snprintf(p, sizeof p, "%s/www/up", tmpl);
	ck_assert_int_eq(symlink("../secret", p), 0);
	snprintf(p, sizeof p, "%s/www/abs", tmpl);
	ck_assert_int_eq(symlink("/etc/passwd", p), 0);
	snprintf(p, sizeof p, "%s/www/sub/dirlink", tmpl);
	ck_assert_int_eq(symlink("/etc", p), 0);
	snprintf(p, sizeof p, "%s/www/fifo", tmpl);
	ck_assert_int_eq(mkfifo(p, 0644), 0);

	snprintf(q, sizeof q, "%s/www", tmpl);
	root = open(q, O_PATH | O_DIRECTORY);
	ck_assert_int_ge(root, 0);

	fd = path_open(root, "in.txt", &st);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(st.st_size, 6);
	ck_assert(S_ISREG(st.st_mode));
	close(fd);
	fd = path_open(root, "ok", &st);
	ck_assert_int_ge(fd, 0);
	close(fd);
	fd = path_open(root, "", &st);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(path_open(root, "missing", &st), -404);
	ck_assert_int_eq(path_open(root, "in.txt/x", &st), -404);
	ck_assert_int_eq(path_open(root, "up", &st), -403);
	ck_assert_int_eq(path_open(root, "abs", &st), -403);
	ck_assert_int_eq(path_open(root, "sub/dirlink/passwd", &st), -403);
	ck_assert_int_eq(path_open(root, "fifo", &st), -403);
	close(root);
	snprintf(p, sizeof p, "rm -rf '%s'", tmpl);
	ck_assert_int_eq(system(p), 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("files");
	TCase *tc = tcase_create("paths");

	tcase_add_test(tc, normalize_ok);
	tcase_add_test(tc, normalize_refused);
	tcase_add_test(tc, open_beneath);
	suite_add_tcase(s, tc);
	return check_run(s);
}
