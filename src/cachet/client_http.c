/*
 * client_http.c - the HTTP side the sub-commands share: where to connect
 * (HOST:PORT and https:// URLs, IPv6 literals in brackets) and the one
 * request they send, with a Host header a server will match against its
 * names.  Plain C, no TLS: the unit tests link it alone.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cachet.h"
#include "common.h"

#define DEFAULT_PORT "443"

/* host into host[hl]; NUL-terminated; -1 if empty or too long. */
static int
copy_host(const char *s, size_t n, char *host, size_t hl)
{
	if (n == 0 || n >= hl)
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	return 0;
}

/* "host", "host:port", "[v6]" or "[v6]:port".  An IPv6 literal must be in
 * brackets (in "::1:443" the port is a guess); the port is 1-65535. */
int
client_split_hostport(const char *s, char *host, size_t hl, char *port,
    size_t pl, const char *defport)
{
	const char *colon, *rb;
	long p;

	if (s[0] == '[') {
		if ((rb = strchr(s, ']')) == NULL ||
		    copy_host(s + 1, (size_t)(rb - s - 1), host, hl) != 0)
			return -1;
		if (rb[1] != '\0' && rb[1] != ':')
			return -1;
		colon = rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = strchr(s, ':');
		if (copy_host(s, colon ? (size_t)(colon - s) : strlen(s), host,
		    hl) != 0 || (colon && strchr(colon + 1, ':') != NULL))
			return -1;
	}
	if ((size_t)snprintf(port, pl, "%s", colon ? colon + 1 : defport) >= pl
	    || strspn(port, "0123456789") != strlen(port) ||
	    parse_long(port, 1, 65535, &p) != 0)
		return -1;
	return 0;
}

/* https://HOST[:PORT][/PATH]; the path may not hold spaces or line ends. */
int
client_parse_url(const char *s, struct client_url *u)
{
	const char *auth, *slash;
	char hp[300];
	size_t n;

	if (strncmp(s, "https://", 8) != 0)
		return -1;
	auth = s + 8;
	slash = strchr(auth, '/');
	n = slash ? (size_t)(slash - auth) : strlen(auth);
	if (n == 0 || n >= sizeof hp)
		return -1;
	memcpy(hp, auth, n);
	hp[n] = '\0';
	if (client_split_hostport(hp, u->host, sizeof u->host, u->port,
	    sizeof u->port, DEFAULT_PORT) != 0)
		return -1;
	if ((size_t)snprintf(u->path, sizeof u->path, "%s", slash ? slash :
	    "/") >= sizeof u->path || strpbrk(u->path, " \r\n") != NULL)
		return -1;
	return 0;
}

/* The Host header's value (RFC 9110 7.2): an IPv6 literal in brackets,
 * the port unless it is https's own.  -1 if it does not fit. */
int
client_host_header(const char *host, const char *port, char *out,
    size_t len)
{
	int v6 = strchr(host, ':') != NULL;
	int dflt = strcmp(port, DEFAULT_PORT) == 0;
	int n;

	n = snprintf(out, len, "%s%s%s%s%s", v6 ? "[" : "", host, v6 ? "]" : "",
	    dflt ? "" : ":", dflt ? "" : port);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* The request every sub-command sends: its length, -1 if it does not fit.
 * keep_alive 0 asks the server to close after answering. */
int
client_request(char *out, size_t len, const char *method,
    const struct client_url *u, int keep_alive)
{
	char host[300];
	int n;

	if (client_host_header(u->host, u->port, host, sizeof host) != 0)
		return -1;
	n = snprintf(out, len, "%s %s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: cachet/%s\r\nAccept: */*\r\n%s\r\n", method, u->path,
	    host, PACKAGE_VERSION, keep_alive ? "" : "Connection: close\r\n");
	return n < 0 || (size_t)n >= len ? -1 : n;
}
