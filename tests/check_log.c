/* check_log.c - the logs (src/log.c): JSON escaping of what a client
 * controls (every output a valid JSON string in valid UTF-8 that decodes
 * back to the input, over a corpus of hostile strings and many random
 * ones, cut or not), the JSON and combined access-log lines, the request
 * line split, log destinations, the buffered access log (nothing written
 * until full or flushed, never a line cut between two writes) and
 * syslog datagrams (priority, ident, pid) through a real socket. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "cachetd.h"
#include "check_run.h"

/* ----------------------------------------------- an independent decoder */

/* The code point of the UTF-8 sequence at s, computed (not by table):
 * its length in *len, or -1 for a byte that starts no valid sequence. */
static long
utf8_decode(const unsigned char *s, size_t avail, size_t *len)
{
	static const long min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t n, i;
	long cp;

	if (s[0] < 0x80) {
		*len = 1;
		return s[0];
	}
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07;
	else
		return -1;
	if (n > avail)
		return -1;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*len = n;
	return cp;
}

/* What the log should hold for input s: its code points, an invalid
 * byte standing for the code point of its value. */
static size_t
expected_cps(const unsigned char *s, size_t n, long *out)
{
	size_t i = 0, k = 0, len;

	while (i < n) {
		long cp = utf8_decode(s + i, n - i, &len);
		if (cp < 0) {
			out[k++] = s[i++];
			continue;
		}
		out[k++] = cp;
		i += len;
	}
	return k;
}

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

/* Parse one JSON string (RFC 8259) at *p: its code points into out (if
 * not NULL), *p past it.  -1 when it is not valid JSON in valid UTF-8:
 * no raw control bytes, only the escapes JSON has, no lone surrogate. */
static long
json_string(const char **p, long *out, size_t cap)
{
	const unsigned char *s = (const unsigned char *)*p;
	size_t k = 0, len;
	long cp;

	if (*s++ != '"')
		return -1;
	for (;;) {
		if (*s == '\0' || *s < 0x20)
			return -1;
		if (*s == '"')
			break;
		if (*s == '\\') {
			s++;
			switch (*s) {
			case '"': case '\\': case '/':
				cp = *s++;
				break;
			case 'b': cp = '\b'; s++; break;
			case 'f': cp = '\f'; s++; break;
			case 'n': cp = '\n'; s++; break;
			case 'r': cp = '\r'; s++; break;
			case 't': cp = '\t'; s++; break;
			case 'u': {
				int i, h;
				cp = 0;
				for (i = 1; i <= 4; i++) {
					if ((h = hexval(s[i])) < 0)
						return -1;
					cp = cp << 4 | h;
				}
				s += 5;
				if (cp >= 0xd800 && cp <= 0xdfff)
					return -1;      /* we never need pairs */
				break;
			}
			default:
				return -1;
			}
		} else {
			if ((cp = utf8_decode(s, strlen((const char *)s),
			    &len)) < 0)
				return -1;
			s += len;
		}
		if (out != NULL) {
			if (k >= cap)
				return -1;
			out[k] = cp;
		}
		k++;
	}
	*p = (const char *)s + 1;
	return (long)k;
}

/* ------------------------------------------------------------ escaping */

static const char *const hostile[] = {
	"", "plain", "\"", "\\", "\"\\\"", "\\u0000", "a\"b\\c",
	"\x01\x02\x1f\x7f", "\t\n\r\b\f", "\xff", "\xfe\xff", "\x80",
	"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
	"\xf8\x88\x80\x80\x80", "\xc3", "\xe2\x82", "caf\xc3\xa9",
	"\xe2\x80\xa8\xe2\x80\xa9", "\xf0\x9f\x98\x80", "%00%22%5c",
	"</script><script>alert(1)</script>", "\xef\xbb\xbf", "\xc3\x28",
	"\"}],\"status\":200,{\"", "\x1b[31mred\x1b[0m",
};

/* escape s; check the output parses and decodes to expected_cps(s) (or,
 * cut, to a prefix of it that ends at a character). */
static void
check_escape(const char *s, size_t cap)
{
	char out[4096];
	long want[1024], got[1024];
	size_t n = strlen(s), nw, o;
	const char *p = out;
	long ng;

	ck_assert(cap <= sizeof out);
	o = json_escape(out, cap, s);
	ck_assert_uint_lt(o, cap);
	ck_assert_uint_eq(strlen(out), o);
	ng = json_string(&p, got, sizeof got / sizeof got[0]);
	ck_assert_msg(ng >= 0, "not a JSON string: %s", out);
	ck_assert_msg(*p == '\0', "bytes after the string: %s", out);
	nw = expected_cps((const unsigned char *)s, n, want);
	ck_assert_int_le(ng, (long)nw);
	ck_assert_msg(memcmp(got, want, (size_t)ng * sizeof *got) == 0,
	    "decodes to something else: %s", out);
	if (cap >= 6 * n + 3)
		ck_assert_int_eq(ng, (long)nw);     /* room: nothing cut */
}

START_TEST(escape_hostile)
{
	size_t i, cap;

	for (i = 0; i < sizeof hostile / sizeof hostile[0]; i++)
		for (cap = 3; cap < 64; cap++)
			check_escape(hostile[i], cap);
	for (i = 0; i < sizeof hostile / sizeof hostile[0]; i++)
		check_escape(hostile[i], 4096);
}
END_TEST

START_TEST(escape_forms)
{
	char out[64];

	json_escape(out, sizeof out, "a\"b\\c\n\x01\x7f");
	ck_assert_str_eq(out, "\"a\\\"b\\\\c\\n\\u0001\\u007f\"");
	json_escape(out, sizeof out, "caf\xc3\xa9 \xff");
	ck_assert_str_eq(out, "\"caf\xc3\xa9 \\u00ff\"");
	json_escape(out, sizeof out, "\xe2\x80\xa8");
	ck_assert_str_eq(out, "\"\\u2028\"");
	/* a sequence is kept whole or left out, never cut */
	ck_assert_uint_eq(json_escape(out, 6, "ab\xf0\x9f\x98\x80"), 4);
	ck_assert_str_eq(out, "\"ab\"");
	ck_assert_uint_eq(json_escape(out, 3, "x"), 2);
	ck_assert_str_eq(out, "\"\"");
}
END_TEST

/* Random strings over an alphabet that hits every branch: ASCII, the
 * escaped bytes, lead and continuation bytes in any order, valid
 * sequences.  xorshift: the same corpus every run. */
START_TEST(escape_random)
{
	static const char *const pieces[] = { "a", "Z", "\"", "\\", "\x01",
	    "\x1f", "\x7f", "\x80", "\xbf", "\xc2", "\xdf", "\xe0", "\xed",
	    "\xef", "\xf0", "\xf4", "\xf5", "\xff", "\xc3\xa9",
	    "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xe2\x80\xa8", "\n", "%" };
	uint32_t x = 2463534242u;
	char s[200];
	int round;

	for (round = 0; round < 20000; round++) {
		size_t n = 0, k, want;
		x ^= x << 13; x ^= x >> 17; x ^= x << 5;
		want = x % 40;
		s[0] = '\0';
		for (k = 0; k < want; k++) {
			const char *p;
			x ^= x << 13; x ^= x >> 17; x ^= x << 5;
			p = pieces[x % (sizeof pieces / sizeof pieces[0])];
			if (n + strlen(p) >= sizeof s)
				break;
			strcpy(s + n, p);
			n += strlen(p);
		}
		x ^= x << 13; x ^= x >> 17; x ^= x << 5;
		check_escape(s, round % 2 ? 4096 : 3 + x % 60);
	}
}
END_TEST

/* ----------------------------------------------------------- the lines */

/* A JSON object of scalar values on one line, ending in a newline. */
static int
json_line_ok(const char *line)
{
	const char *p = line;

	if (*p++ != '{')
		return 0;
	for (;;) {
		if (json_string(&p, NULL, 0) < 0 || *p++ != ':')
			return 0;
		if (*p == '"') {
			if (json_string(&p, NULL, 0) < 0)
				return 0;
		} else if (strncmp(p, "null", 4) == 0 ||
		    strncmp(p, "true", 4) == 0) {
			p += 4;
		} else if (strncmp(p, "false", 5) == 0) {
			p += 5;
		} else {
			char *end;
			strtod(p, &end);
			if (end == p)
				return 0;
			p = end;
		}
		if (*p == '}')
			break;
		if (*p++ != ',')
			return 0;
	}
	return strcmp(p, "}\n") == 0;
}

/* The value of "key" in a line json_line_ok accepted, as written. */
static void
json_field(const char *line, const char *key, char *out, size_t cap)
{
	char pat[64];
	const char *p, *q;

	snprintf(pat, sizeof pat, "\"%s\":", key);
	p = strstr(line, pat);
	ck_assert_msg(p != NULL, "%s missing: %s", key, line);
	p += strlen(pat);
	q = p;
	if (*q == '"')
		ck_assert(json_string(&q, NULL, 0) >= 0);
	else
		q += strcspn(q, ",}");
	snprintf(out, cap, "%.*s", (int)(q - p), p);
}

static struct access_entry
sample(void)
{
	struct access_entry e;

	memset(&e, 0, sizeof e);
	e.peer = "2001:db8::1";
	e.request_line = "GET /a?b=c HTTP/1.1";
	e.referer = "https://example.org/";
	e.user_agent = "curl/7.88.1";
	e.protocol = "TLSv1.3";
	e.cipher = "TLS_AES_128_GCM_SHA256";
	e.subject = "CN=alice,O=cachet demo";
	e.verify = "ok";
	e.server_name = "example.org";
	e.status = 200;
	e.bytes = 1234;
	e.reused = 1;
	e.request_time = 0.0125;
	e.when.tv_sec = 1795752000;     /* 2026-11-27T04:00:00Z */
	e.when.tv_nsec = 42000000;
	return e;
}

START_TEST(json_line_fields)
{
	struct access_entry e = sample();
	char line[ACCESS_LINE_MAX], v[256];
	size_t n = access_log_format(&e, ALOG_JSON, line, sizeof line);

	ck_assert_uint_gt(n, 0);
	ck_assert_uint_eq(strlen(line), n);
	ck_assert_msg(json_line_ok(line), "not one JSON object: %s", line);
	json_field(line, "time", v, sizeof v);
	ck_assert_str_eq(v, "\"2026-11-27T04:00:00.042Z\"");
	json_field(line, "client", v, sizeof v);
	ck_assert_str_eq(v, "\"2001:db8::1\"");
	json_field(line, "method", v, sizeof v);
	ck_assert_str_eq(v, "\"GET\"");
	json_field(line, "target", v, sizeof v);
	ck_assert_str_eq(v, "\"/a?b=c\"");
	json_field(line, "protocol", v, sizeof v);
	ck_assert_str_eq(v, "\"HTTP/1.1\"");
	json_field(line, "status", v, sizeof v);
	ck_assert_str_eq(v, "200");
	json_field(line, "bytes", v, sizeof v);
	ck_assert_str_eq(v, "1234");
	json_field(line, "request_time", v, sizeof v);
	ck_assert_str_eq(v, "0.013");
	json_field(line, "tls", v, sizeof v);
	ck_assert_str_eq(v, "\"TLSv1.3\"");
	json_field(line, "resumed", v, sizeof v);
	ck_assert_str_eq(v, "true");
	json_field(line, "client_subject", v, sizeof v);
	ck_assert_str_eq(v, "\"CN=alice,O=cachet demo\"");
	json_field(line, "server_name", v, sizeof v);
	ck_assert_str_eq(v, "\"example.org\"");
	json_field(line, "referer", v, sizeof v);
	ck_assert_str_eq(v, "\"https://example.org/\"");

	/* plain HTTP, nothing known: nulls, not "-" */
	memset(&e, 0, sizeof e);
	e.peer = "127.0.0.1";
	e.protocol = "http";
	e.cipher = "-";
	e.status = 408;
	e.request_time = -1;
	ck_assert_uint_gt(access_log_format(&e, ALOG_JSON, line, sizeof line),
	    0);
	ck_assert_msg(json_line_ok(line), "%s", line);
	json_field(line, "method", v, sizeof v);
	ck_assert_str_eq(v, "null");
	json_field(line, "tls", v, sizeof v);
	ck_assert_str_eq(v, "null");
	json_field(line, "request_time", v, sizeof v);
	ck_assert_str_eq(v, "null");
	json_field(line, "resumed", v, sizeof v);
	ck_assert_str_eq(v, "false");
	json_field(line, "bytes", v, sizeof v);
	ck_assert_str_eq(v, "0");
}
END_TEST

/* Every string field hostile at once, and as long as a client can make
 * it: the line is still one JSON object, within ACCESS_LINE_MAX. */
START_TEST(json_line_hostile)
{
	static char big[HTTP_MAX_HEADER], rl[1024];
	struct access_entry e = sample();
	char line[ACCESS_LINE_MAX];
	size_t i, j;

	for (i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
		snprintf(rl, sizeof rl, "G\"T /%s HTTP/1.1", hostile[i]);
		e.request_line = rl;
		e.user_agent = e.referer = e.subject = e.server_name =
		    hostile[i];
		ck_assert_uint_gt(access_log_format(&e, ALOG_JSON, line,
		    sizeof line), 0);
		ck_assert_msg(json_line_ok(line), "%s", line);
	}
	/* the longest: every byte escaped six times over */
	for (j = 0; j < sizeof big - 1; j++)
		big[j] = j % 2 ? '\x01' : '\xff';
	big[j] = '\0';
	memset(rl, '\xff', sizeof rl - 1);
	memcpy(rl, "GET /", 5);
	e.request_line = rl;
	e.user_agent = e.referer = e.subject = e.server_name = big;
	ck_assert_uint_gt(access_log_format(&e, ALOG_JSON, line, sizeof line),
	    0);
	ck_assert_msg(json_line_ok(line), "%.200s", line);
	/* too small a buffer: no line rather than a broken one */
	ck_assert_uint_eq(access_log_format(&e, ALOG_JSON, line, 100), 0);
}
END_TEST

START_TEST(combined_line)
{
	struct access_entry e = sample();
	char line[ACCESS_LINE_MAX], want[512];

	e.peer = "127.0.0.1";
	e.user_agent = "a \"quoted\" \\ \xff agent";
	ck_assert_uint_gt(access_log_format(&e, ALOG_COMBINED, line,
	    sizeof line), 0);
	snprintf(want, sizeof want, "127.0.0.1 - - [27/Nov/2026:04:00:00 "
	    "+0000] \"GET /a?b=c HTTP/1.1\" 200 1234 \"https://example.org/\" "
	    "\"a \\x22quoted\\x22 \\x5c \\xff agent\" TLSv1.3 "
	    "TLS_AES_128_GCM_SHA256 \"CN=alice,O=cachet demo\" ok r %ld\n",
	    (long)getpid());
	ck_assert_str_eq(line, want);
}
END_TEST

START_TEST(request_split)
{
	char m[16], t[32], p[16];

	access_request_split("GET /x?y HTTP/1.0", m, sizeof m, t, sizeof t,
	    p, sizeof p);
	ck_assert_str_eq(m, "GET");
	ck_assert_str_eq(t, "/x?y");
	ck_assert_str_eq(p, "HTTP/1.0");
	/* a line cut short (longer than the copy kept): no version */
	access_request_split("GET /very/long", m, sizeof m, t, sizeof t, p,
	    sizeof p);
	ck_assert_str_eq(t, "/very/long");
	ck_assert_str_eq(p, "");
	access_request_split("", m, sizeof m, t, sizeof t, p, sizeof p);
	ck_assert_str_eq(m, "");
	ck_assert_str_eq(t, "");
	/* pieces longer than their buffers are cut, not overrun */
	access_request_split("VERYLONGMETHODNAME /0123456789012345678901234567"
	    "890123456789 HTTP/1.1", m, sizeof m, t, sizeof t, p, sizeof p);
	ck_assert_uint_eq(strlen(m), sizeof m - 1);
	ck_assert_uint_eq(strlen(t), sizeof t - 1);
	ck_assert_str_eq(p, "HTTP/1.1");
}
END_TEST

START_TEST(destinations)
{
	int f = -5;

	ck_assert_int_eq(log_dest_syslog("/var/log/a.log", &f), 0);
	ck_assert_int_eq(log_dest_syslog("syslog.log", &f), 0);
	ck_assert_int_eq(log_dest_syslog("syslog", &f), 1);
	ck_assert_int_eq(f, LOG_DAEMON);
	ck_assert_int_eq(log_dest_syslog("syslog:local7", &f), 1);
	ck_assert_int_eq(f, LOG_LOCAL7);
	ck_assert_int_eq(log_dest_syslog("syslog:user", &f), 1);
	ck_assert_int_eq(f, LOG_USER);
	ck_assert_int_eq(log_dest_syslog("syslog:kern", &f), -1);
	ck_assert_int_eq(log_dest_syslog("syslog:", &f), -1);
	ck_assert_int_eq(log_syslog_check("/nonexistent/log"), -1);
	ck_assert_int_eq(log_syslog_check("/etc/passwd"), -1);
}
END_TEST

/* ------------------------------------------------------------ buffering */

static int wakes;
static void
count_wake(void)
{
	wakes++;
}

static char dir[256];

static void
mkdir_tmp(void)
{
	const char *t = getenv("TMPDIR");

	snprintf(dir, sizeof dir, "%s/check_log.XXXXXX", t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static off_t
size_of(int fd)
{
	struct stat st;

	ck_assert_int_eq(fstat(fd, &st), 0);
	return st.st_size;
}

/* Lines gather until the buffer is full; each write carries whole lines
 * only; the file ends at a line's end after every call; flush writes the
 * rest.  The first buffered line wakes the worker (its timer), once. */
START_TEST(buffered)
{
	struct access_entry e = sample();
	char path[300], line[ACCESS_LINE_MAX], *all;
	size_t len = access_log_format(&e, ALOG_COMBINED, line, sizeof line);
	int fd, rd, i, n = 200;
	off_t last = 0;
	FILE *f;

	mkdir_tmp();
	snprintf(path, sizeof path, "%s/access.log", dir);
	fd = log_open_file(path, (uid_t)-1, (gid_t)-1);
	ck_assert_int_ge(fd, 0);
	rd = open(path, O_RDONLY);
	ck_assert_int_ge(rd, 0);
	wakes = 0;
	access_log_init(fd, path, NULL, ALOG_COMBINED, ACCESS_BUFFER_MIN,
	    count_wake);
	access_log(&e);
	ck_assert_int_eq(wakes, 1);
	ck_assert_int_eq(size_of(fd), 0);       /* held */
	for (i = 1; i < n; i++) {
		off_t now;
		access_log(&e);
		now = size_of(fd);
		if (now != last) {
			all = xmalloc((size_t)now);
			ck_assert_int_eq(pread(rd, all, 1, now - 1), 1);
			ck_assert_int_eq(all[0], '\n');
			ck_assert_int_le(now - last, ACCESS_BUFFER_MIN);
			free(all);
			last = now;
		}
	}
	ck_assert_int_gt(last, 0);              /* written when full */
	ck_assert_int_lt(last, (off_t)(n * len));
	access_log_flush();
	ck_assert_int_eq(size_of(fd), (off_t)(n * len));
	/* a wake for each time the buffer took a first line */
	ck_assert_int_gt(wakes, 1);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	for (i = 0; fgets(line, sizeof line, f) != NULL; i++)
		ck_assert_uint_eq(strlen(line), len);
	ck_assert_int_eq(i, n);
	fclose(f);
	access_log_init(-1, NULL, NULL, ALOG_COMBINED, 0, NULL);
	close(fd);
	close(rd);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* Unbuffered, or not a regular file: a write a line. */
START_TEST(unbuffered)
{
	struct access_entry e = sample();
	int p[2];
	char buf[ACCESS_LINE_MAX];
	ssize_t n;

	ck_assert_int_eq(pipe(p), 0);
	wakes = 0;
	access_log_init(p[1], NULL, NULL, ALOG_JSON, 65536, count_wake);
	access_log(&e);
	ck_assert_int_eq(wakes, 0);
	n = read(p[0], buf, sizeof buf - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_msg(json_line_ok(buf), "%s", buf);
	access_log_init(-1, NULL, NULL, ALOG_COMBINED, 0, NULL);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* --------------------------------------------------------------- syslog */

START_TEST(syslog_datagrams)
{
	struct access_entry e = sample();
	struct sockaddr_un sun;
	char path[300], msg[ACCESS_LINE_MAX + 256], want[64];
	int rx, fd;
	ssize_t n;

	mkdir_tmp();
	snprintf(path, sizeof path, "%s/log.sock", dir);
	rx = socket(AF_UNIX, SOCK_DGRAM, 0);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	ck_assert_int_eq(bind(rx, (struct sockaddr *)&sun, sizeof sun), 0);
	ck_assert_int_eq(log_syslog_check(path), 0);

	/* the access log: local0.info, the JSON line without its newline */
	fd = log_open_dest("syslog:local0", path, (uid_t)-1, (gid_t)-1);
	ck_assert_int_ge(fd, 0);
	access_log_init(fd, "syslog:local0", path, ALOG_JSON, 65536, NULL);
	access_log(&e);
	n = recv(rx, msg, sizeof msg - 1, MSG_DONTWAIT);
	ck_assert_int_gt(n, 0);
	msg[n] = '\0';
	snprintf(want, sizeof want, " cachetd[%ld]: {", (long)getpid());
	ck_assert_msg(strncmp(msg, "<134>", 5) == 0, "%s", msg);
	ck_assert_msg(strstr(msg, want) != NULL, "%s", msg);
	ck_assert_msg(strchr(msg, '\n') == NULL, "a newline in %s", msg);
	ck_assert_int_eq(msg[n - 1], '}');

	/* the error log: daemon, the level as the severity */
	log_set_dest(log_open_dest("syslog", path, (uid_t)-1, (gid_t)-1),
	    "syslog", path);
	ck_assert(log_to_syslog());
	log_set_level(LOG_DEBUG_);
	log_err("boom %d", 1);
	log_warn("w");
	log_debug("d");
	n = recv(rx, msg, sizeof msg - 1, MSG_DONTWAIT);
	ck_assert_int_gt(n, 0);
	msg[n] = '\0';
	ck_assert_msg(strncmp(msg, "<27>", 4) == 0, "%s", msg);
	ck_assert_msg(strstr(msg, ": boom 1") != NULL, "%s", msg);
	n = recv(rx, msg, sizeof msg - 1, MSG_DONTWAIT);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(strncmp(msg, "<28>", 4), 0);
	n = recv(rx, msg, sizeof msg - 1, MSG_DONTWAIT);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(strncmp(msg, "<31>", 4), 0);

	/* the receiver gone: lines are dropped, nothing blocks or fails */
	close(rx);
	unlink(path);
	log_err("lost");
	access_log(&e);
	log_set_fd(2);
	access_log_init(-1, NULL, NULL, ALOG_COMBINED, 0, NULL);
	close(fd);
	rmdir(dir);
}
END_TEST

/* ------------------------------------------------------------- config */

static struct config *
load_conf(const char *text, char *err, size_t errlen)
{
	char path[300];
	struct config *cf;
	FILE *f;

	snprintf(path, sizeof path, "%s/c.conf", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "root = \"/\"\ncertificate = \"a.crt\"\nkey = \"a.key\"\n%s",
	    text);
	fclose(f);
	cf = config_load(path, err, errlen);
	unlink(path);
	return cf;
}

/* syslog[:facility] is kept as written, a file is taken from the
 * config's folder; sizes take k and m; the defaults. */
START_TEST(config_values)
{
	char err[512], want[320];
	struct config *cf;

	mkdir_tmp();
	cf = load_conf("access-log = \"syslog:local3\"\n"
	    "error-log = \"logs/e.log\"\nsyslog-socket = \"log.sock\"\n"
	    "access-log-format = json\naccess-log-buffer = 64k\n", err,
	    sizeof err);
	ck_assert_msg(cf != NULL, "%s", err);
	ck_assert_str_eq(cf->access_log, "syslog:local3");
	snprintf(want, sizeof want, "%s/logs/e.log", dir);
	ck_assert_str_eq(cf->error_log, want);
	snprintf(want, sizeof want, "%s/log.sock", dir);
	ck_assert_str_eq(cf->syslog_socket, want);
	ck_assert_int_eq(cf->access_log_format, ALOG_JSON);
	ck_assert_int_eq(cf->access_log_buffer, 65536);
	config_free(cf);

	cf = load_conf("error-log = \"syslog\"\naccess-log = \"syslog.log\"\n"
	    "access-log-buffer = 1m\n", err, sizeof err);
	ck_assert_msg(cf != NULL, "%s", err);
	ck_assert_str_eq(cf->error_log, "syslog");
	snprintf(want, sizeof want, "%s/syslog.log", dir);
	ck_assert_str_eq(cf->access_log, want);
	ck_assert_int_eq(cf->access_log_buffer, 1 << 20);
	ck_assert_ptr_null(cf->syslog_socket);
	ck_assert_int_eq(cf->access_log_format, ALOG_COMBINED);
	config_free(cf);

	cf = load_conf("", err, sizeof err);
	ck_assert_msg(cf != NULL, "%s", err);
	ck_assert_int_eq(cf->access_log_buffer, 0);
	config_free(cf);

	ck_assert_ptr_null(load_conf("access-log-buffer = 17m\n", err,
	    sizeof err));
	ck_assert_msg(strstr(err, "c.conf:4: access-log-buffer: 0 (off) or "
	    "from 16k to 16m, not 17m") != NULL, "%s", err);
	ck_assert_ptr_null(load_conf("access-log-buffer = 99999999999999m\n",
	    err, sizeof err));
	ck_assert_msg(strstr(err, "too large") != NULL, "%s", err);
	ck_assert_ptr_null(load_conf("access-log-buffer = -1\n", err,
	    sizeof err));
	ck_assert_msg(strstr(err, "not a size") != NULL, "%s", err);
	ck_assert_ptr_null(load_conf("error-log = \"syslog:\"\n", err,
	    sizeof err));
	ck_assert_msg(strstr(err, "unknown syslog facility") != NULL, "%s",
	    err);
	rmdir(dir);
}
END_TEST

static Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");

	tcase_add_test(tc, escape_hostile);
	tcase_add_test(tc, escape_forms);
	tcase_add_test(tc, escape_random);
	tcase_add_test(tc, json_line_fields);
	tcase_add_test(tc, json_line_hostile);
	tcase_add_test(tc, combined_line);
	tcase_add_test(tc, request_split);
	tcase_add_test(tc, destinations);
	tcase_add_test(tc, buffered);
	tcase_add_test(tc, unbuffered);
	tcase_add_test(tc, syslog_datagrams);
	tcase_add_test(tc, config_values);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(log_suite());
}
