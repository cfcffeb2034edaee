/*
 * fuzz_http.c - libFuzzer harness for http_parse() (src/http.c).
 *
 * The input is what a client sent: it is copied into a buffer of exactly
 * its size (the worker's buffer is not NUL-terminated either, so a read
 * past the bytes received is an ASan report here) and parsed in place, as
 * conn.c's step_read does.  Properties: the result is a head length within
 * the input, 0 (need more) or -STATUS with a status the server knows; on
 * success the pointers it set lie inside the buffer and are terminated
 * inside it, and the target starts with "/" or is "*".
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cachetd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define IN_SIZE (HTTP_MAX_HEADER + 4096)   /* as conn.c */

static void
inside(const char *buf, size_t len, const char *p)
{
	if (p == NULL)
		return;
	if (p < buf || p >= buf + len || memchr(p, '\0', (size_t)(buf + len -
	    p)) == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request r;
	char *buf;
	int rc;

	if (size == 0 || size > IN_SIZE)
		return 0;
	if ((buf = malloc(size)) == NULL)
		abort();
	memcpy(buf, data, size);
	memset(&r, 0, sizeof r);
	rc = http_parse(buf, size, &r);
	if (rc > 0) {
		if ((size_t)rc > size)
			abort();
		inside(buf, size, r.method_str);
		inside(buf, size, r.target);
		inside(buf, size, r.host);
		inside(buf, size, r.user_agent);
		inside(buf, size, r.referer);
		inside(buf, size, r.if_modified_since);
		if (r.target == NULL || r.method_str == NULL ||
		    (r.target[0] != '/' && strcmp(r.target, "*") != 0))
			abort();
		if (memchr(r.request_line, '\0', sizeof r.request_line) == NULL)
			abort();
		if (r.content_length < 0 || r.minor < 0 || r.minor > 1)
			abort();
	} else if (rc < 0 && strcmp(http_reason(-rc), "Unknown") == 0) {
		abort();
	}
	free(buf);
	return 0;
}
