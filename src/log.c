/*
 * log.c - the error log and the access log.
 *
 * A log goes to a file (or standard error) or to syslog.  A file is opened
 * O_APPEND by the master and inherited by the workers; each write(2)
 * carries whole lines, so lines from several processes never interleave.
 * Error lines carry the time, the level and the pid.
 *
 * Syslog is a datagram socket (/dev/log, or syslog-socket) that the
 * master connects before the workers drop privileges, as openlog() does
 * with LOG_NDELAY.  We speak the protocol ourselves rather than through
 * syslog(3): glibc's syslog() blocks the caller when the receiver is slow
 * (a worker serving thousands of connections must not wait for a log
 * daemon) and only knows /dev/log.  A message the receiver cannot take
 * now is dropped; a receiver that went away is looked for again at most
 * once a second.
 *
 * The access log of a worker may be buffered (access-log-buffer): lines
 * gather in memory and go out in one write when the buffer is full, a
 * second after the first of them (the worker's timer, through the wake
 * callback), when the worker stops and when it flushes before exiting.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cachetd.h"

#define SYSLOG_IDENT "cachetd"

/* Where lines go: a file or standard error (facility -1), or a syslog
 * socket, kept with its path to be connected again. */
struct sink {
	int     fd;
	int     facility;
	char    path[sizeof ((struct sockaddr_un *)0)->sun_path];
	time_t  retry;          /* last reconnection tried */
};

static struct sink errlog = { 2, -1, "", 0 };
static pid_t alog_pid;           /* this process's, once known */
static enum log_level threshold = LOG_INFO_;

static const char *const level_name[] = {
	[LOG_ERR_] = "error",
	[LOG_WARN_] = "warn",
	[LOG_NOTICE_] = "notice",
	[LOG_INFO_] = "info",
	[LOG_DEBUG_] = "debug",
};
static const int level_priority[] = {
	[LOG_ERR_] = LOG_ERR,
	[LOG_WARN_] = LOG_WARNING,
	[LOG_NOTICE_] = LOG_NOTICE,
	[LOG_INFO_] = LOG_INFO,
	[LOG_DEBUG_] = LOG_DEBUG,
};

/* ------------------------------------------------------------ syslog */

/* getpid(2) is a system call (glibc no longer caches it): a worker's
 * lines take the pid it noted at access_log_init(). */
static long
line_pid(void)
{
	return (long)(alog_pid != 0 ? alog_pid : getpid());
}

static const struct {
	const char *name;
	int         facility;
} facilities[] = {
	{ "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

int
log_dest_off(const char *dest)
{
	return dest != NULL && strcmp(dest, LOG_DEST_OFF) == 0;
}

int
log_dest_syslog(const char *dest, int *facility)
{
	size_t i;

	if (strncmp(dest, "syslog", 6) != 0 ||
	    (dest[6] != '\0' && dest[6] != ':'))
		return 0;
	if (dest[6] == '\0') {
		*facility = LOG_DAEMON;
		return 1;
	}
	for (i = 0; i < sizeof facilities / sizeof facilities[0]; i++)
		if (strcmp(dest + 7, facilities[i].name) == 0) {
			*facility = facilities[i].facility;
			return 1;
		}
	return -1;
}

static int
syslog_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int
log_syslog_check(const char *path)
{
	struct stat st;

	if (strlen(path) >= sizeof ((struct sockaddr_un *)0)->sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (stat(path, &st) != 0)
		return -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = ENOTSOCK;
		return -1;
	}
	return 0;
}

/* The socket at path, connected if its receiver is there: one that is
 * not (yet) is connected when the first line is sent.  -1 (errno) when
 * path is not a socket. */
static int
syslog_open(const char *path)
{
	int fd;

	if (log_syslog_check(path) != 0)
		return -1;
	if ((fd = syslog_connect(path)) >= 0)
		return fd;
	return socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
}

/* Connect s again, keeping its descriptor number (the server holds it).
 * At most once a second: a receiver that is gone costs one connect(2) a
 * second, not one per line. */
static int
syslog_reconnect(struct sink *s)
{
	time_t now = time(NULL);
	int fd;

	if (s->retry == now)
		return -1;
	s->retry = now;
	if ((fd = syslog_connect(s->path)) < 0)
		return -1;
	if (dup3(fd, s->fd, O_CLOEXEC) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* "<PRI>Mmm dd hh:mm:ss cachetd[PID]: " (RFC 3164, as syslog(3) writes
 * to /dev/log) at out; returns its length. */
static size_t
syslog_header(char *out, size_t cap, int pri)
{
	static const char mon[][4] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t now = time(NULL);
	struct tm tm;
	int n;

	localtime_r(&now, &tm);
	n = snprintf(out, cap, "<%d>%s %2d %02d:%02d:%02d %s[%ld]: ", pri,
	    mon[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    SYSLOG_IDENT, line_pid());
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* One message: never blocks; what the receiver cannot take is lost. */
static void
syslog_send(struct sink *s, const char *msg, size_t len)
{
	if (send(s->fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
		return;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ||
	    errno == EINTR || errno == EMSGSIZE)
		return;         /* full or too long: dropped */
	/* ECONNREFUSED, ENOTCONN...: the receiver went away, or restarted
	 * on a new socket at the same path */
	if (syslog_reconnect(s) == 0)
		(void)send(s->fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL);
}

int
log_open_dest(const char *dest, const char *sock, uid_t uid, gid_t gid)
{
	int facility;

	if (log_dest_syslog(dest, &facility) != 0)
		return syslog_open(sock != NULL ? sock : LOG_SYSLOG_SOCKET);
	return log_open_file(dest, uid, gid);
}

/* Why log_open_dest() failed (errno), as "access-log 'FILE': reason" or
 * "syslog-socket '/dev/log': reason" at the line that named it. */
void
log_dest_error(const struct config *cf, const char *dest,
    const struct conf_at *at, const char *what, char *err, size_t errlen)
{
	int facility;

	if (log_dest_syslog(dest, &facility) == 1) {
		const char *sock = cf->syslog_socket != NULL ?
		    cf->syslog_socket : LOG_SYSLOG_SOCKET;
		config_err(err, errlen, cf->sock_at.line ? &cf->sock_at : at,
		    "%s = \"%s\": syslog-socket '%s': %s", what, dest, sock,
		    strerror(errno));
	} else {
		config_err(err, errlen, at, "%s '%s': %s", what, dest,
		    strerror(errno));
	}
}

/* ------------------------------------------------------------ error log */

void
log_set_level(enum log_level lvl)
{
	threshold = lvl;
}

int
log_level_of(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof level_name / sizeof level_name[0]; i++)
		if (strcmp(name, level_name[i]) == 0)
			return (int)i;
	return -1;
}

void
log_set_fd(int fd)
{
	errlog.fd = fd;
	errlog.facility = -1;
}

void
log_set_dest(int fd, const char *dest, const char *sock)
{
	int facility;

	log_set_fd(fd);
	if (log_dest_syslog(dest, &facility) == 1) {
		errlog.facility = facility;
		snprintf(errlog.path, sizeof errlog.path, "%s",
		    sock != NULL ? sock : LOG_SYSLOG_SOCKET);
		errlog.retry = 0;
	}
}

int
log_fd(void)
{
	return errlog.fd;
}

int
log_to_syslog(void)
{
	return errlog.facility >= 0;
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	char line[1024];
	struct tm tm;
	time_t now;
	va_list ap;
	int n, m;

	if (lvl > threshold)
		return;
	if (errlog.facility >= 0) {
		n = (int)syslog_header(line, sizeof line,
		    errlog.facility | level_priority[lvl]);
	} else {
		now = time(NULL);
		gmtime_r(&now, &tm);
		n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:"
		    "%02dZ [%s] %ld: ", tm.tm_year + 1900, tm.tm_mon + 1,
		    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		    level_name[lvl], (long)getpid());
	}
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof line - 2)
		n = sizeof line - 2;
	if (errlog.facility >= 0) {
		syslog_send(&errlog, line, (size_t)n);
		return;
	}
	line[n++] = '\n';
	(void)!write(errlog.fd, line, (size_t)n);
}

int
log_ratelimit(time_t *last, time_t interval)
{
	time_t now = time(NULL);

	if (*last != 0 && now - *last < interval)
		return 0;
	*last = now;
	return 1;
}

/* Open (create) a log file for appending, owned by the worker user so that
 * nothing a worker writes needs root. */
int
log_open_file(const char *path, uid_t uid, gid_t gid)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		return -1;
	if (uid != (uid_t)-1)
		(void)!fchown(fd, uid, gid);
	return fd;
}

/* ------------------------------------------------------ combined format */

/* Copy s into the log line with quotes and control bytes escaped. */
static size_t
log_escape(char *out, size_t cap, const char *s)
{
	size_t o = 0;

	if (s == NULL || *s == '\0')
		s = "-";
	for (; *s != '\0' && o + 5 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
		else
			out[o++] = (char)ch;
	}
	out[o] = '\0';
	return o;
}

struct lw {
	char   *p;
	size_t  n, cap;
	int     full;
};

static void
lw_fmt(struct lw *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
lw_fmt(struct lw *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (w->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(w->p + w->n, w->cap - w->n, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= w->cap - w->n)
		w->full = 1;
	else
		w->n += (size_t)n;
}

static void
lw_raw(struct lw *w, const char *s, size_t len)
{
	if (w->full || len >= w->cap - w->n) {
		w->full = 1;
		return;
	}
	memcpy(w->p + w->n, s, len);
	w->n += len;
	w->p[w->n] = '\0';
}

static time_t
entry_time(const struct access_entry *e, long *msec)
{
	struct timespec ts;

	if (e->when.tv_sec != 0)
		ts = e->when;
	else
		clock_gettime(CLOCK_REALTIME, &ts);
	*msec = ts.tv_nsec / 1000000;
	return ts.tv_sec;
}

/* Decimal digits of v, appended. */
static void
lw_num(struct lw *w, long long v)
{
	char d[24];
	size_t i = sizeof d;
	unsigned long long u = v < 0 ? -(unsigned long long)v : (unsigned long long)v;

	do
		d[--i] = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		d[--i] = '-';
	lw_raw(w, d + i, sizeof d - i);
}

static void
lw_cstr(struct lw *w, const char *s)
{
	if (s == NULL)
		s = "-";
	lw_raw(w, s, strlen(s));
}

/* Combined Log Format, then the TLS fields (protocol, cipher, "client
 * subject", verification, r(esumed) or ., worker pid).  Built by appends
 * with the date made once a second: printf was the costliest part of a
 * line. */
static size_t
format_combined(const struct access_entry *e, char *line, size_t cap)
{
	static char tbuf[40];
	static time_t tlast = -1;
	char esc[1100];
	struct lw w = { line, 0, cap, 0 };
	struct tm tm;
	long ms;
	time_t now = entry_time(e, &ms);

	if (now != tlast) {
		gmtime_r(&now, &tm);
		strftime(tbuf, sizeof tbuf, "%d/%b/%Y:%H:%M:%S +0000", &tm);
		tlast = now;
	}
	lw_cstr(&w, e->peer);
	lw_cstr(&w, " - - [");
	lw_cstr(&w, tbuf);
	lw_cstr(&w, "] \"");
	lw_raw(&w, esc, log_escape(esc, sizeof esc, e->request_line));
	lw_cstr(&w, "\" ");
	lw_num(&w, e->status);
	lw_cstr(&w, " ");
	if (e->bytes > 0)
		lw_num(&w, e->bytes);
	else
		lw_cstr(&w, "-");
	lw_cstr(&w, " \"");
	lw_raw(&w, esc, log_escape(esc, 600, e->referer));
	lw_cstr(&w, "\" \"");
	lw_raw(&w, esc, log_escape(esc, 600, e->user_agent));
	lw_cstr(&w, "\" ");
	lw_cstr(&w, e->protocol);
	lw_cstr(&w, " ");
	lw_cstr(&w, e->cipher);
	lw_cstr(&w, " \"");
	lw_raw(&w, esc, log_escape(esc, sizeof esc, e->subject));
	lw_cstr(&w, "\" ");
	lw_cstr(&w, e->verify ? e->verify : "-");
	lw_cstr(&w, e->reused ? " r " : " . ");
	lw_num(&w, line_pid());
	lw_cstr(&w, "\n");
	return w.full ? 0 : w.n;
}

/* ---------------------------------------------------------- JSON format */

/* The length of the valid UTF-8 sequence at s (1 to 4), or 0 when the
 * byte at s does not start one (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
static size_t
utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

size_t
json_escape(char *out, size_t cap, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t o = 0, n;
	char esc[8];

	if (cap < 3)
		return cap > 0 ? (out[0] = '\0', 0) : 0;
	out[o++] = '"';
	while (*s != '\0') {
		const char *put = esc;
		size_t len;

		/* a run of bytes that stand for themselves, at once */
		for (n = 0; s[n] >= 0x20 && s[n] < 0x7f && s[n] != '"' &&
		    s[n] != '\\'; n++)
			;
		if (n > 0) {
			if (o + n + 2 > cap)
				n = cap - 2 - o;
			memcpy(out + o, s, n);
			o += n;
			s += n;
			if (o + 2 >= cap)
				break;
			continue;
		}
		n = 1;
		if (*s == '"' || *s == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*s;
			len = 2;
		} else if (*s < 0x20 || *s == 0x7f) {
			const char *short_form = *s == '\n' ? "\\n" :
			    *s == '\r' ? "\\r" : *s == '\t' ? "\\t" :
			    *s == '\b' ? "\\b" : *s == '\f' ? "\\f" : NULL;
			if (short_form != NULL)
				put = short_form, len = 2;
			else
				len = (size_t)snprintf(esc, sizeof esc,
				    "\\u%04x", *s);
		} else if (*s < 0x80) {
			put = (const char *)s;
			len = 1;
		} else if ((n = utf8_len(s)) == 0) {
			/* not UTF-8: the byte as the code point of its
			 * value, so the line stays valid JSON */
			n = 1;
			len = (size_t)snprintf(esc, sizeof esc, "\\u%04x", *s);
		} else if (n == 3 && s[0] == 0xe2 && s[1] == 0x80 &&
		    (s[2] == 0xa8 || s[2] == 0xa9)) {
			/* U+2028, U+2029: valid JSON, but not JavaScript */
			len = (size_t)snprintf(esc, sizeof esc, "\\u%04x",
			    s[2] == 0xa8 ? 0x2028 : 0x2029);
		} else {
			put = (const char *)s;
			len = n;
		}
		if (o + len + 2 > cap)
			break;          /* cut, at a character's end */
		memcpy(out + o, put, len);
		o += len;
		s += n;
	}
	out[o++] = '"';
	out[o] = '\0';
	return o;
}

/* A line being written: what does not fit marks it full. */

/* ,"key":"value" (escaped, at most max bytes of output), or null.  The
 * key by memcpy: a JSON line costs three times a combined one when every
 * piece goes through printf. */
static void
lw_str(struct lw *w, const char *key, const char *s, size_t max)
{
	lw_raw(w, ",\"", 2);
	lw_raw(w, key, strlen(key));
	lw_raw(w, "\":", 2);
	if (w->full)
		return;
	if (s == NULL) {
		lw_raw(w, "null", 4);
		return;
	}
	if (max > w->cap - w->n)
		max = w->cap - w->n;
	if (max < 3) {
		w->full = 1;
		return;
	}
	w->n += json_escape(w->p + w->n, max, s);
}

/* n bytes of s as a string in out, cut to fit cap. */
static void
copy_cut(char *out, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

void
access_request_split(const char *line, char *method, size_t mlen,
    char *target, size_t tlen, char *proto, size_t plen)
{
	const char *sp1 = strchr(line, ' '), *sp2;

	method[0] = target[0] = proto[0] = '\0';
	if (sp1 == NULL)
		return;
	sp2 = strrchr(line, ' ');
	copy_cut(method, mlen, line, (size_t)(sp1 - line));
	if (sp2 == sp1 || strncmp(sp2 + 1, "HTTP/", 5) != 0)
		sp2 = line + strlen(line);      /* cut short: no version */
	else
		copy_cut(proto, plen, sp2 + 1, strlen(sp2 + 1));
	copy_cut(target, tlen, sp1 + 1, (size_t)(sp2 - (sp1 + 1)));
}

/* One JSON object: every string a client controls escaped, so each line
 * parses whatever was sent. */
static size_t
format_json(const struct access_entry *e, char *line, size_t cap)
{
	char method[64], target[1100], proto[32], tbuf[80];
	struct lw w = { line, 0, cap, 0 };
	struct tm tm;
	long ms;
	time_t now = entry_time(e, &ms);
	int tls = e->protocol != NULL && strcmp(e->protocol, "http") != 0;

	gmtime_r(&now, &tm);
	snprintf(tbuf, sizeof tbuf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ms);
	access_request_split(e->request_line != NULL ? e->request_line : "",
	    method, sizeof method, target, sizeof target, proto, sizeof proto);
	lw_fmt(&w, "{\"time\":\"%s\"", tbuf);
	lw_str(&w, "client", e->peer, 64);
	lw_str(&w, "method", method[0] ? method : NULL, 128);
	lw_str(&w, "target", target[0] ? target : NULL, 4096);
	lw_str(&w, "protocol", proto[0] ? proto : NULL, 64);
	lw_fmt(&w, ",\"status\":%d,\"bytes\":%lld", e->status,
	    e->bytes > 0 ? e->bytes : 0);
	lw_str(&w, "referer", e->referer, 2048);
	lw_str(&w, "user_agent", e->user_agent, 2048);
	if (e->request_time >= 0) {
		/* milliseconds in integers: %f is the slowest of printf */
		long long rt = (long long)(e->request_time * 1000 + 0.5);
		lw_fmt(&w, ",\"request_time\":%lld.%03lld", rt / 1000,
		    rt % 1000);
	} else
		lw_fmt(&w, ",\"request_time\":null");
	lw_str(&w, "tls", tls ? e->protocol : NULL, 32);
	lw_str(&w, "cipher", tls ? e->cipher : NULL, 128);
	lw_fmt(&w, ",\"resumed\":%s", e->reused ? "true" : "false");
	lw_str(&w, "client_subject", e->subject != NULL && e->subject[0] ?
	    e->subject : NULL, 1024);
	lw_str(&w, "verify", e->verify, 64);
	lw_str(&w, "server_name", e->server_name, 512);
	lw_str(&w, "server", e->server, 512);
	lw_fmt(&w, ",\"pid\":%ld}\n", line_pid());
	return w.full ? 0 : w.n;
}

size_t
access_log_format(const struct access_entry *e, enum alog_format fmt,
    char *line, size_t cap)
{
	if (cap == 0)
		return 0;
	line[0] = '\0';
	return fmt == ALOG_JSON ? format_json(e, line, cap) :
	    format_combined(e, line, cap);
}

/* -------------------------------------------------- the worker's access log */

static struct {
	struct sink         s;
	enum alog_format    format;
	char               *buf;
	size_t              len, cap;       /* cap 0: a write per line */
	void              (*wake)(void);
} alog = { { -1, -1, "", 0 }, ALOG_COMBINED, NULL, 0, 0, NULL };

void
access_log_init(int fd, const char *dest, const char *sock,
    enum alog_format format, size_t buffer, void (*wake)(void))
{
	struct stat st;
	int facility = -1;

	free(alog.buf);
	memset(&alog, 0, sizeof alog);
	alog_pid = getpid();
	alog.s.fd = fd;
	alog.s.facility = -1;
	alog.format = format;
	if (dest != NULL && log_dest_syslog(dest, &facility) == 1) {
		alog.s.facility = facility;
		snprintf(alog.s.path, sizeof alog.s.path, "%s",
		    sock != NULL ? sock : LOG_SYSLOG_SOCKET);
		return;         /* a datagram a line */
	}
	/* Only a regular file takes a buffer: a pipe or a socket (standard
	 * error under systemd) keeps lines whole only up to PIPE_BUF. */
	if (buffer > 0 && fd >= 0 && fstat(fd, &st) == 0 &&
	    S_ISREG(st.st_mode)) {
		alog.buf = xmalloc(buffer);
		alog.cap = buffer;
		alog.wake = wake;
	}
}

/* All of buf, or what the system takes: a line is only ever cut by an
 * error (a full disk). */
static void
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

void
access_log_flush(void)
{
	if (alog.len == 0)
		return;
	write_all(alog.s.fd, alog.buf, alog.len);
	alog.len = 0;
}

void
access_log(const struct access_entry *e)
{
	char line[ACCESS_LINE_MAX];
	size_t n;

	if (alog.s.fd < 0)
		return;
	if ((n = access_log_format(e, alog.format, line, sizeof line)) == 0)
		return;
	if (alog.s.facility >= 0) {
		char msg[ACCESS_LINE_MAX + 128];
		size_t h = syslog_header(msg, sizeof msg,
		    alog.s.facility | LOG_INFO);
		memcpy(msg + h, line, n - 1);   /* without the newline */
		syslog_send(&alog.s, msg, h + n - 1);
		return;
	}
	if (alog.cap == 0) {
		write_all(alog.s.fd, line, n);
		return;
	}
	if (alog.len + n > alog.cap)
		access_log_flush();
	if (n > alog.cap) {
		write_all(alog.s.fd, line, n);
		return;
	}
	if (alog.len == 0 && alog.wake != NULL)
		alog.wake();
	memcpy(alog.buf + alog.len, line, n);
	alog.len += n;
}
