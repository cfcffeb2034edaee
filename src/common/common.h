/*
 * common.h - what cachetd and the cachet tool both need, and nothing else:
 * the out-of-memory policy (x*alloc: never NULL, "out of memory" and exit
 * 1 instead), strict number parsing for command-line options, and the
 * one-line form of a certificate name.  No daemon or tool state here: a
 * unit test links this library alone.
 */
#ifndef CACHET_COMMON_H
#define CACHET_COMMON_H

#include <stddef.h>

#include <openssl/types.h>

/* xalloc.c: allocate or exit(1) with "PROGRAM: out of memory". */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t nmemb, size_t size);   /* overflow: exit */
char *xstrdup(const char *s);                              /* NULL -> NULL */

/* parse.c: the whole string is a number in [min, max], or -1 and *out is
 * untouched.  Refused: empty strings, leading blanks, trailing junk,
 * overflow; for doubles also NaN, infinities and hex floats. */
int parse_long(const char *s, long min, long max, long *out);
int parse_double(const char *s, double min, double max, double *out);

/* dn.c: an X509 name as RFC 2253 text ("CN=alice,O=cachet demo"); ""
 * when it cannot be printed; cut to len - 1 bytes. */
void dn_string(const X509_NAME *name, char *out, size_t len);

#endif
