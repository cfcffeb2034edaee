/*
 * fuzz_config.c - libFuzzer harness for config_load() (src/config.c, over
 * libConfuse).
 *
 * The input is a config file: it is written to a memfd and loaded through
 * /proc/self/fd/N, so no file is left behind and runs in parallel do not
 * meet.  A load must never crash or leak (what it returns is freed); a
 * refused file must say why, as "FILE: ..." (and, for nearly everything,
 * "FILE:LINE: ...") in err, NUL-terminated within errlen.
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
	} else if (strncmp(err, file, fl) != 0 || err[fl] != ':' ||
	    err[fl + 1] == '\0') {
		fprintf(stderr, "fuzz_config: error not \"FILE: ...\": '%s'\n",
		    err);
		abort();
	}
	return 0;
}
