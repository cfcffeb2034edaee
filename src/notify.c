/*
 * notify.c - tell systemd how the daemon is doing (Type=notify).
 *
 * The sd_notify protocol without libsystemd: one datagram to the AF_UNIX
 * socket named by $NOTIFY_SOCKET, a path or, with a leading '@', an
 * abstract name.  Without $NOTIFY_SOCKET (not started by systemd) nothing
 * is sent.  The master calls it; systemd's NotifyAccess=main accepts only
 * the main process.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cachetd.h"

/* Send STATE ("READY=1", lines separated by '\n'); 0 when sent or when
 * there is no $NOTIFY_SOCKET, -1 with errno set when sending failed. */
int
notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	size_t n;
	ssize_t r;
	int fd, e;

	if (path == NULL || path[0] == '\0')
		return 0;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof sa.sun_path) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';          /* abstract: no file */
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	r = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
	e = errno;
	close(fd);
	errno = e;
	return r < 0 ? -1 : 0;
}

/* RELOADING=1 with the CLOCK_MONOTONIC time in microseconds, as systemd
 * (253 and later) wants it to tell this reload from an earlier one. */
int
notify_reloading(void)
{
	struct timespec ts;
	char buf[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(buf, sizeof buf, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
	return notify(buf);
}
