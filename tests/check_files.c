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

/* ---- the decision on a path does not depend on how it is spelled ----
 * For each path of a table, many spellings (every character escaped in
 * either hex case, doubled slashes, "./" and "x/../" inserted, slashes as
 * %2f, and random mixtures of these) must reach the same location and the
 * same file as the canonical spelling. */

static struct location locs[] = {
	{ .prefix = "/secure/" }, { .prefix = "/admin/" },
	{ .prefix = "/status" }, { .prefix = "/secure/open/" },
};
static struct server_conf loc_cf = { .locs = locs,
	.nlocs = sizeof locs / sizeof locs[0] };

struct decision { const struct location *loc; char rel[PATH_MAX]; int rc; };

static void
decide(const char *target, struct decision *d)
{
	char path[PATH_MAX + 2];
	int slash;

	memset(d, 0, sizeof *d);
	d->rc = path_canonical(target, path, sizeof path, d->rel,
	    sizeof d->rel, &slash);
	if (d->rc == 0)
		d->loc = config_location(&loc_cf, path);
}

static unsigned long rng = 88172645463325252UL;
static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* One spelling of the decoded path (which starts with "/"): each character is kept,
 * escaped, or (for "/" but the first) doubled, turned into "/./", "/zz/../" or "%2f";
 * p is the chance in 100 that a character is changed. */
static void
respell(const char *path, char *out, size_t cap, unsigned p)
{
	size_t o = 0;
	const char *s;

	for (s = path; *s != '\0' && o + 16 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (s == path || rnd(100) >= p) {
			if (c == '%' || c == ' ')
				o += (size_t)snprintf(out + o, cap - o, "%%%02X",
				    c);
			else
				out[o++] = (char)c;
			continue;
		}
		switch (c == '/' ? rnd(5) : 0) {
		case 0:
			o += (size_t)snprintf(out + o, cap - o,
			    rnd(2) ? "%%%02X" : "%%%02x", c);
			break;
		case 1:
			o += (size_t)snprintf(out + o, cap - o, "//");
			break;
		case 2:
			o += (size_t)snprintf(out + o, cap - o, "/./");
			break;
		case 3:
			o += (size_t)snprintf(out + o, cap - o, "/zz/../");
			break;
		default:
			o += (size_t)snprintf(out + o, cap - o,
			    rnd(2) ? "%%2F" : "%%2f");
			break;
		}
	}
	out[o] = '\0';
}

START_TEST(decision_ignores_spelling)
{
	static const char *paths[] = {
		"/", "/secure/", "/secure/index.html", "/secure", "/secure/a/b",
		"/secure/open/", "/secure/open/x", "/securex", "/admin/",
		"/admin/users.txt", "/status", "/status/", "/public/",
		"/public/secure/", "/index.html", "/a b/c", "/s%ecure",
	};
	char sp[4 * PATH_MAX];
	struct decision want, got;
	size_t i, k, n = 0;

	for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		/* the canonical spelling, escaped where it must be */
		char canon[PATH_MAX];
		const char *pp = paths[i];
		size_t o = 0;
		for (; *pp && o + 4 < sizeof canon; pp++)
			o += (size_t)snprintf(canon + o, sizeof canon - o,
			    *pp == '%' || *pp == ' ' ? "%%%02X" : "%c",
			    (unsigned char)*pp);
		decide(canon, &want);
		ck_assert_int_eq(want.rc, 0);
		/* every single character escaped, in both cases */
		for (k = 1; canon[k] != '\0'; k++) {
			if (canon[k] == '%' || canon[k - 1] == '%' ||
			    (k > 1 && canon[k - 2] == '%'))
				continue;       /* inside an escape already */
			snprintf(sp, sizeof sp, "%.*s%%%02x%s", (int)k, canon,
			    (unsigned char)canon[k], canon + k + 1);
			decide(sp, &got);
			ck_assert_msg(got.rc == 0 && got.loc == want.loc &&
			    strcmp(got.rel, want.rel) == 0, "%s vs %s", sp,
			    canon);
			snprintf(sp, sizeof sp, "%.*s%%%02X%s", (int)k, canon,
			    (unsigned char)canon[k], canon + k + 1);
			decide(sp, &got);
			ck_assert_msg(got.loc == want.loc &&
			    strcmp(got.rel, want.rel) == 0, "%s", sp);
			n += 2;
		}
		/* random mixtures */
		for (k = 0; k < 3000; k++) {
			respell(paths[i], sp, sizeof sp, 1 + rnd(60));
			decide(sp, &got);
			ck_assert_msg(got.rc == 0 && got.loc == want.loc &&
			    strcmp(got.rel, want.rel) == 0,
			    "'%s' decides as '%s' (%s), '%s' as '%s' (%s)", sp,
			    got.rel, got.loc ? got.loc->prefix : "-", canon,
			    want.rel, want.loc ? want.loc->prefix : "-");
			n++;
		}
	}
	ck_assert_uint_gt(n, 40000);
}
END_TEST

START_TEST(redirect_stays_here)
{
	static const struct { const char *target, *loc; } c[] = {
		{ "//evil.example/x/..%2f..%2fsub", "/sub" },
		{ "/a b/c", "/a%20b/c" },
		{ "/%2f%2fevil.example", "/evil.example" },
		{ "/\\evil", "/%5Cevil" },
		{ "/x/../:@!", "/%3A%40%21" },
	};
	char path[PATH_MAX + 2], rel[PATH_MAX], enc[3 * PATH_MAX];
	size_t i;
	int slash;

	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		ck_assert_int_eq(path_canonical(c[i].target, path, sizeof path,
		    rel, sizeof rel, &slash), 0);
		ck_assert_uint_gt(path_encode(path, enc, sizeof enc), 0);
		ck_assert_str_eq(enc, c[i].loc);
	}
	ck_assert_uint_eq(path_encode("/abc", enc, 4), 0);
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

/* The same rules with openat2 and with the fallback walk. */
static void
open_beneath_checks(int walk)
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
	/* links that stay inside through "..", a chain, a loop, one that
	 * climbs out through "..", one inside a linked folder */
	snprintf(p, sizeof p, "%s/www/sub/back", tmpl);
	ck_assert_int_eq(symlink("../in.txt", p), 0);
	snprintf(p, sizeof p, "%s/www/chain", tmpl);
	ck_assert_int_eq(symlink("sub/back", p), 0);
	snprintf(p, sizeof p, "%s/www/loop1", tmpl);
	ck_assert_int_eq(symlink("loop2", p), 0);
	snprintf(p, sizeof p, "%s/www/loop2", tmpl);
	ck_assert_int_eq(symlink("loop1", p), 0);
	snprintf(p, sizeof p, "%s/www/sub/climb", tmpl);
	ck_assert_int_eq(symlink("../../secret", p), 0);
	snprintf(p, sizeof p, "%s/www/subl", tmpl);
	ck_assert_int_eq(symlink("sub", p), 0);

	snprintf(q, sizeof q, "%s/www", tmpl);
	root = open(q, O_PATH | O_DIRECTORY);
	ck_assert_int_ge(root, 0);
	path_open_force_walk(walk);

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
	fd = path_open(root, "sub/back", &st);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(st.st_size, 6);
	close(fd);
	fd = path_open(root, "chain", &st);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(st.st_size, 6);
	close(fd);
	fd = path_open(root, "subl/back", &st);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(path_open(root, "loop1", &st), -403);
	ck_assert_int_eq(path_open(root, "sub/climb", &st), -403);
	ck_assert_int_eq(path_open(root, "subl/climb", &st), -403);
	ck_assert_int_eq(path_open(root, "sub/dirlink", &st), -403);
	path_open_force_walk(0);
	close(root);
	snprintf(p, sizeof p, "rm -rf '%s'", tmpl);
	ck_assert_int_eq(system(p), 0);
	strcpy(tmpl, "/tmp/check_files.XXXXXX");
}

START_TEST(open_beneath)
{
	open_beneath_checks(0);
}
END_TEST

START_TEST(open_beneath_walk)
{
	open_beneath_checks(1);
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
	tcase_add_test(tc, open_beneath_walk);
	tcase_add_test(tc, decision_ignores_spelling);
	tcase_add_test(tc, redirect_stays_here);
	suite_add_tcase(s, tc);
	return check_run(s);
}
