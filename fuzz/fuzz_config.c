/*
 * fuzz_config.c - libFuzzer harness for config_load() (src/config.c, over
 * libConfuse).
 *
 * The input is a config file: it is written to a memfd and loaded through
 * /proc/self/fd/N, so no file is left behind and runs in parallel do not
 * meet.  A load must never crash or leak (what it returns is freed); a
 * refused file must say why, as "FILE: ..." (and, for nearly everything,
 * "FILE:LINE: ...") in err, NUL-terminated within errlen, FILE being the
 * loaded file or one it included.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cachetd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd = -1;
static char file[64];

/* Does err start with "F: " for the loaded file or for a file it
 * included?  Relative includes resolve beside the loaded file, in
 * /proc/self/fd/, so an "include 2" reads this process's descriptor 2 and
 * an error in it rightly names "/proc/self/fd/2". */
static int
names_file(const char *err, const char *f, size_t fl)
{
	static const char fds[] = "/proc/self/fd/";
	const char *p;

	if (strncmp(err, f, fl) == 0)
		p = err + fl;
	else if (strncmp(err, fds, sizeof fds - 1) == 0) {
		p = err + sizeof fds - 1;
		if (*p < '0' || *p > '9')
			return 0;
		while (*p >= '0' && *p <= '9')
			p++;
	} else
		return 0;
	return p[0] == ':' && p[1] != '\0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cf;
	char err[512];
	size_t fl;

	if (size > 64 * 1024)
		return 0;
	if (fd < 0) {
		if ((fd = memfd_create("fuzz_config", 0)) < 0) {
			perror("memfd_create");
			abort();
		}
		snprintf(file, sizeof file, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0 ||
	    pwrite(fd, data, size, 0) != (ssize_t)size) {
		perror("fuzz_config: write");
		abort();
	}
	memset(err, 'x', sizeof err);
	cf = config_load(file, err, sizeof err);
	if (memchr(err, '\0', sizeof err) == NULL)
		abort();                        /* err not terminated */
	fl = strlen(file);
	if (cf != NULL) {
		if (err[0] != '\0')
			abort();                /* loaded, yet an error */
		config_free(cf);
	} else if (!names_file(err, file, fl)) {
		fprintf(stderr, "fuzz_config: error not \"FILE: ...\": '%s'\n",
		    err);
		abort();
	}
	return 0;
}
