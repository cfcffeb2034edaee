/*
 * config_int.h - what config.c (the load: the walk over the parsed tree,
 * defaults, whole-file checks) and config_dirs.c (the directive tables,
 * their checks and the value setter) share.  Private to those two files:
 * nothing else in src/ includes it; the rest of the daemon sees the config
 * only through cachetd.h.
 *
 * A directive is a row {name, type, field, count field, where-written
 * field, check, enum names}; the offsets are into the struct of the block
 * the directive belongs to (struct config, struct cache_conf, struct
 * location, or struct server_conf for site_dirs and server_dirs).  A check
 * or setter that fails reports through fail(), which keeps only the first
 * error of a load.
 */
#ifndef CACHET_CONFIG_INT_H
#define CACHET_CONFIG_INT_H

#include <stddef.h>

#include "cachetd.h"

/* One load: the config being filled and the first error. */
struct loader {
	struct config *cf;
	struct server_conf *sc;         /* the server being filled */
	const struct conf_node **servers; /* server blocks, read last */
	size_t         nservers;
	char          *err;
	size_t         errlen;
	int            failed;
};

/* Set the load's error as "FILE:LINE: ..." (the first error wins; later
 * ones are usually consequences); returns -1. */
int  fail(struct loader *ld, const struct conf_at *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void free_strv(char **v, size_t n);

/* A value, converted: what a check sees. */
union dval {
	long        i;
	double      d;
	int         b;
	const char *s;
};

struct directive;
/* Checks one value, converted; 0, or -1 with the error set. */
typedef int check_fn(struct loader *, const struct directive *,
    const struct conf_value *, const union dval *);

enum dtype {
	D_STR,          /* char * */
	D_PATH,         /* char *, relative to the config file's folder */
	D_INT,          /* long */
	D_FLOAT,        /* double */
	D_BOOL,         /* int */
	D_ENUM,         /* int, one of names */
	D_STRV,         /* char ** and a size_t count; one value or a list */
	D_PATHV,        /* D_STRV of paths */
	D_LISTEN,       /* struct listen_addr * and a size_t count */
	D_PROTOCOLS,    /* proto_min, proto_max (of struct config) */
	D_LOG,          /* char *: "syslog[:FACILITY]" as written, or a path */
	D_SIZE,         /* long, bytes: 65536, 64k, 1m */
};

struct enum_name {
	const char *name;
	int         value;
};

struct directive {
	const char             *name;   /* first: checks read it from d */
	enum dtype              type;
	size_t                  off;    /* the field, in the block's struct */
	size_t                  off_n;  /* D_STRV, D_PATHV, D_LISTEN: count */
	size_t                  off_at; /* where it was written, or NO_AT */
	check_fn               *check;  /* each value, converted */
	const struct enum_name *names;  /* D_ENUM */
};

/* off_at of a directive whose place is not kept. */
#define NO_AT ((size_t)-1)

/* config_dirs.c: what each block takes, ended by a row of NULL name. */
extern const struct directive top_dirs[];
extern const struct directive site_dirs[];     /* top level and server */
extern const struct directive server_dirs[];   /* server blocks only */
extern const struct directive cache_dirs[];
extern const struct directive location_dirs[];

/* Is name a server name (DNS labels, or "*." and labels)? */
int  config_name_ok(const char *name);

/* Convert and check the value(s) of statement n, and store them in the
 * block's struct at base; 0, or -1 with the error set. */
int  directive_set(struct loader *, const struct directive *, void *base,
    const struct conf_node *n);

#endif
