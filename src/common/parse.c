/*
 * parse.c - strict numbers for command-line options.  atoi("5x") is 5 and
 * atof("") is 0: a typo silently becomes a different run.  Here the whole
 * string must be the number, in range, or the caller reports the option.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* Something strto* would accept after skipping blanks, and nothing else. */
static int
starts_well(const char *s)
{
	return s != NULL && s[0] != '\0' && !isspace((unsigned char)s[0]);
}

int
parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!starts_well(s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	/* strtod takes "nan", "inf" and "0x1p3": none is a duration. */
	if (!starts_well(s) || strpbrk(s, "xXnNiI") != NULL)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v) || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}
