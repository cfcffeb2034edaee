/*
 * files.c - from a request target to an open file beneath the root.
 *
 * Two steps, both refusing rather than guessing: path_normalize() decodes
 * percent escapes and resolves "." and ".." lexically (a ".." above the
 * root, a NUL or a bad escape is 400); path_open() opens the result
 * relative to a descriptor of the root with openat2(RESOLVE_BENEATH), so
 * the kernel refuses any symlink that leads outside the root (403).  The
 * workers open the root before they drop privileges, so the root's parent
 * folders need not be readable by the worker user.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cachetd.h"

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
path_normalize(const char *target, char *out, size_t outlen,
    int *trailing_slash)
{
	char dec[PATH_MAX];
	size_t n = 0, o = 0, i;
	const char *p;

	if (outlen == 0)
		return -500;
	if (target[0] != '/')
		return -400;
	/* Decode up to the query or fragment. */
	for (p = target; *p != '\0' && *p != '?' && *p != '#'; p++) {
		int c = (unsigned char)*p;
		if (c == '%') {
			int h = hexval(p[1]), l;
			if (h < 0 || (l = hexval(p[2])) < 0)
				return -400;
			c = h * 16 + l;
			p += 2;
			if (c == 0)
				return -400;
		}
		if (n + 1 >= sizeof dec)
			return -414;
		dec[n++] = (char)c;
	}
	dec[n] = '\0';
	*trailing_slash = n > 0 && dec[n - 1] == '/';

	/* Resolve segments: "" and "." vanish, ".." pops one. */
	for (i = 0; i < n;) {
		size_t s = i, len;
		while (i < n && dec[i] != '/')
			i++;
		len = i - s;
		if (i < n)
			i++;            /* skip the slash */
		if (len == 0 || (len == 1 && dec[s] == '.'))
			continue;
		if (len == 2 && dec[s] == '.' && dec[s + 1] == '.') {
			if (o == 0)
				return -400;    /* above the root */
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;            /* the slash before it */
			continue;
		}
		if (o + (o > 0) + len + 1 > outlen)
			return -414;
		if (o > 0)
			out[o++] = '/';
		memcpy(out + o, dec + s, len);
		o += len;
	}
	out[o] = '\0';
	return 0;
}

/* The one path every decision is made on: "/" + the normalised relative
 * path, with a final "/" when the target named a folder.  Locations, access
 * policy, the status page and redirects all look at this, never at the
 * target as sent, so no spelling of a path (escapes, "//", "./", "x/..",
 * "%2f") can reach a file under another path's rules. */
int
path_canonical(const char *target, char *path, size_t pathlen, char *rel,
    size_t rellen, int *trailing_slash)
{
	int rc = path_normalize(target, rel, rellen, trailing_slash);
	int n;

	if (rc < 0)
		return rc;
	n = snprintf(path, pathlen, "/%s%s", rel,
	    *trailing_slash && rel[0] != '\0' ? "/" : "");
	if (n < 0 || (size_t)n >= pathlen)
		return -414;
	return 0;
}

/* Characters a Location may carry as they are: in a path, the unreserved
 * ones and "/"; in a query, any visible ASCII. */
static int
path_plain(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~' || c == '/';
}

static int
query_plain(int c)
{
	return c > 0x20 && c < 0x7f;
}

/* Append n bytes of s to out (o used of outlen), percent-encoding those
 * that are not plain.  Returns the new length, or 0 when out is too
 * small. */
static size_t
escape(const char *s, size_t n, int (*plain)(int), char *out, size_t o,
    size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int keep = plain(c);
		if (o + (keep ? 1 : 3) >= outlen)
			return 0;
		if (keep) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return o;
}

/* Percent-encode a decoded path for a Location header: only unreserved
 * characters and "/" stay as they are, so the result is always an
 * absolute path on this server ("/" followed by no second "/", as the
 * normalised path has no empty segment).  Returns the length, or 0 when
 * out is too small. */
size_t
path_encode(const char *path, char *out, size_t outlen)
{
	size_t o;

	if (outlen == 0)
		return 0;
	out[0] = '\0';
	o = escape(path, strlen(path), path_plain, out, 0, outlen);
	if (o == 0)
		out[0] = '\0';
	return o;
}

/* What a Location built from a request holds: the canonical path escaped,
 * suffix (e.g. "/" for a folder), then the target's query up to any '#',
 * its invisible bytes escaped — never the target's path as sent.  Appended
 * at out + o; returns the new length, or 0 when it does not fit. */
size_t
path_location(const char *path, const char *suffix, const char *target,
    char *out, size_t o, size_t outlen)
{
	const char *q = strchr(target, '?');

	if ((o = escape(path, strlen(path), path_plain, out, o, outlen)) == 0 ||
	    (o = escape(suffix, strlen(suffix), path_plain, out, o,
	    outlen)) == 0)
		return 0;
	if (q != NULL && (o = escape(q, strcspn(q, "#"), query_plain, out, o,
	    outlen)) == 0)
		return 0;
	return o;
}

static int
errno_status(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		return -404;
	case EXDEV:
	case ELOOP:
	case EACCES:
	case EPERM:
		return -403;
	case EMFILE:
	case ENFILE:
	case ENOMEM:
		return -503;
	case ENAMETOOLONG:
		return -414;
	default:
		return -500;
	}
}

/* Without openat2 (kernels before 5.6, valgrind): the same rules by hand.
 * Walk one segment at a time with O_NOFOLLOW; a symlink is read, its
 * target put in its place and the path normalised again, so a link
 * inside the root is followed and one that leaves it (absolute, or ".."
 * above the root) is refused with EXDEV, as RESOLVE_BENEATH does. */
#define MAX_LINKS 40            /* as the kernel's own limit */

static int path_force_walk;     /* tests: as if openat2 were missing */

void
path_open_force_walk(int on)
{
	path_force_walk = on;
}

/* Replace the segment at seg (within path) by the link target, keep what
 * follows, and resolve "." and ".." lexically: everything before seg is a
 * real folder, so a lexical ".." is the physical parent. */
static int
splice_link(char *path, size_t seg, size_t seglen, const char *target)
{
	char joined[PATH_MAX], out[PATH_MAX], *save, *p;
	size_t o = 0;
	int n;

	if (target[0] == '/') {
		errno = EXDEV;
		return -1;
	}
	n = snprintf(joined, sizeof joined, "%.*s%s%s", (int)seg, path,
	    target, path + seg + seglen);
	if (n < 0 || (size_t)n >= sizeof joined) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = strtok_r(joined, "/", &save); p != NULL;
	    p = strtok_r(NULL, "/", &save)) {
		if (strcmp(p, ".") == 0)
			continue;
		if (strcmp(p, "..") == 0) {
			if (o == 0) {
				errno = EXDEV;  /* above the root */
				return -1;
			}
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			continue;
		}
		n = snprintf(out + o, sizeof out - o, "%s%s", o ? "/" : "", p);
		if (n < 0 || (size_t)n >= sizeof out - o) {
			errno = ENAMETOOLONG;
			return -1;
		}
		o += (size_t)n;
	}
	out[o] = '\0';
	memcpy(path, out, o + 1);
	return 0;
}

static int
open_walk(int rootfd, const char *rel)
{
	char path[PATH_MAX], target[PATH_MAX];
	int links = 0;

	if (strlen(rel) >= sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(path, rel);
restart:
	{
		size_t at = 0;
		int fd = dup(rootfd);
		if (fd < 0)
			return -1;
		while (path[at] != '\0') {
			size_t len = strcspn(path + at, "/");
			char seg[NAME_MAX + 1];
			int nfd, e;
			ssize_t tl;
			if (len > NAME_MAX) {
				close(fd);
				errno = ENAMETOOLONG;
				return -1;
			}
			memcpy(seg, path + at, len);
			seg[len] = '\0';
			nfd = openat(fd, seg, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
			    O_NONBLOCK);
			if (nfd >= 0) {
				close(fd);
				fd = nfd;
				at += len + (path[at + len] == '/');
				continue;
			}
			e = errno;
			tl = e == ELOOP ? readlinkat(fd, seg, target,
			    sizeof target - 1) : -1;
			close(fd);
			if (tl < 0) {
				errno = e;
				return -1;
			}
			target[tl] = '\0';
			if (++links > MAX_LINKS) {
				errno = ELOOP;
				return -1;
			}
			if (splice_link(path, at, len, target) != 0)
				return -1;
			goto restart;
		}
		return fd;
	}
}

int
path_open(int rootfd, const char *rel, struct stat *st)
{
	struct open_how how;
	long fd;

	memset(&how, 0, sizeof how);
	how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	if (path_force_walk) {
		fd = -1;
		errno = ENOSYS;
	} else {
		fd = syscall(SYS_openat2, rootfd, rel[0] ? rel : ".", &how,
		    sizeof how);
	}
	if (fd < 0 && errno == ENOSYS)
		fd = open_walk(rootfd, rel);
	if (fd < 0)
		return errno_status(errno);
	if (fstat((int)fd, st) != 0) {
		int e = errno;
		close((int)fd);
		return errno_status(e);
	}
	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode)) {
		close((int)fd);
		return -403;    /* no FIFOs, sockets or devices */
	}
	return (int)fd;
}
