/*
 * log.c - the error log and the access log.
 *
 * Both are plain file descriptors opened O_APPEND by the master and
 * inherited by the workers; each line goes out in one write(2), so lines
 * from several processes never interleave.  Error lines carry the time,
 * the level and the pid.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cachetd.h"

static int errfd = 2;
static enum log_level threshold = LOG_INFO_;

static const char *const level_name[] = {
	[LOG_ERR_] = "error",
	[LOG_WARN_] = "warn",
	[LOG_NOTICE_] = "notice",
	[LOG_INFO_] = "info",
	[LOG_DEBUG_] = "debug",
};

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
	errfd = fd;
}

int
log_fd(void)
{
	return errfd;
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	char line[1024];
	struct tm tm;
	time_t now = time(NULL);
	va_list ap;
	int n, m;

	if (lvl > threshold)
		return;
	gmtime_r(&now, &tm);
	n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02dZ [%s] "
	    "%ld: ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, level_name[lvl], (long)getpid());
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof line - 2)
		n = sizeof line - 2;
	line[n++] = '\n';
	(void)!write(errfd, line, (size_t)n);
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

/* One access-log line: Combined Log Format, then the TLS fields
 * (protocol, cipher, "client subject", verification, r(esumed) or .,
 * worker pid).  Returns its length (at most cap - 1). */
size_t
access_log_format(const struct access_entry *e, char *line, size_t cap)
{
	char rl[1100], ref[600], ua[600], tbuf[64], bytes[24], subj[1100];
	struct tm tm;
	time_t now = time(NULL);
	int n;

	gmtime_r(&now, &tm);
	strftime(tbuf, sizeof tbuf, "%d/%b/%Y:%H:%M:%S +0000", &tm);
	log_escape(rl, sizeof rl, e->request_line);
	log_escape(ref, sizeof ref, e->referer);
	log_escape(ua, sizeof ua, e->user_agent);
	log_escape(subj, sizeof subj, e->subject);
	if (e->bytes > 0)
		snprintf(bytes, sizeof bytes, "%lld", e->bytes);
	else
		strcpy(bytes, "-");
	n = snprintf(line, cap, "%s - - [%s] \"%s\" %d %s \"%s\" "
	    "\"%s\" %s %s \"%s\" %s %c %ld\n", e->peer, tbuf, rl, e->status,
	    bytes, ref, ua, e->protocol, e->cipher, subj,
	    e->verify ? e->verify : "-", e->reused ? 'r' : '.',
	    (long)getpid());
	if (n < 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

void
access_log_write(int fd, const char *line, size_t len)
{
	if (fd >= 0)
		(void)!write(fd, line, len);
}
