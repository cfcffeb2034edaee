/*
 * parse.y - the syntax of cachetd.conf: a small yacc grammar that, over
 * the hand-written lexer of lex.c, turns a file, and the files it
 * includes, into a tree of statements (struct conf_node).  What the statements mean is config.c's
 * business: this file knows no directive.
 *
 *   file      := statement*
 *   statement := NAME '=' value                        root = "site"
 *              | NAME '=' '{' [value {',' value}] '}'  listen = {"a", "b"}
 *              | NAME [value] '{' statement* '}'       location "/x" { }
 *              | 'include' value                       include "sites/*.conf"
 *   value     := "double quoted" | 'single quoted' | bare-word
 *
 * Line ends are plain white space; '#' outside quotes starts a comment that
 * runs to the end of its line.  Every token carries its file, line and
 * column, so each message names them exactly.  The first error ends the
 * parse: what follows a syntax error is usually its echo.
 *
 * An include is expanded once the file that holds it has been parsed (a
 * yacc parser is not re-entrant): the pattern is a glob taken relative to
 * that file's folder, its matches are read in byte order, each must be a
 * whole file on its own (no block opens in one file and closes in
 * another), and includes nest at most CONF_MAX_INCLUDE deep.
 *
 * Everything a parse allocates lives in one pool, freed in one go: a parse
 * that fails half-way, in whatever state of the grammar, leaks nothing.
 */
%{
#include "config.h"

#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cachetd.h"
#include "lex.h"

#define CONF_MAX_INCLUDE 8      /* include depth */
#define CONF_MAX_FILES   256    /* files per config, includes and all */
#define CONF_MAX_SIZE    (1 << 20)

struct pool_item {
	struct pool_item *next;
	max_align_t       data[];
};

struct conf_tree {
	struct conf_node *top;
	struct pool_item *pool;
};

static struct conf_tree  *tree;
static struct conf_files *files;
static struct conf_node  *parsed;
static char              *perr;
static size_t             perrlen;
static int                failed;

static struct conf_node *node(enum conf_kind, struct conf_value *);
%}

%union {
	struct conf_value *v;
	struct conf_node  *n;
	struct { struct conf_value *head, *tail; size_t n; } vl;
	struct { struct conf_node *head, *tail; } nl;
}

%token <v> WORD STRING
%token LEXERR
%type <v> value
%type <vl> values
%type <nl> stmts
%type <n> stmt

%%

file	: stmts				{ parsed = $1.head; }
	;

stmts	: /* empty */			{ $$.head = $$.tail = NULL; }
	| stmts stmt			{
			$$ = $1;
			if ($$.tail != NULL)
				$$.tail->next = $2;
			else
				$$.head = $2;
			$$.tail = $2;
		}
	;

stmt	: WORD '=' value		{
			$$ = node(CN_VALUE, $1);
			$$->vals = $3;
			$$->nvals = 1;
		}
	| WORD '=' '{' values '}'	{
			$$ = node(CN_LIST, $1);
			$$->vals = $4.head;
			$$->nvals = $4.n;
		}
	| WORD '=' '{' '}'		{ $$ = node(CN_LIST, $1); }
	| WORD '{' stmts '}'		{
			$$ = node(CN_BLOCK, $1);
			$$->body = $3.head;
		}
	| WORD value '{' stmts '}'	{
			$$ = node(CN_BLOCK, $1);
			$$->vals = $2;
			$$->nvals = 1;
			$$->body = $4.head;
		}
	| WORD value			{
			/* Only "include" takes a value without '='. */
			if (strcmp($1->text, "include") != 0) {
				syntax_error($2->at.line, $2->col, "unexpected "
				    "'%s' after '%s' (expected '=' or '{')",
				    $2->text, $1->text);
				YYABORT;
			}
			$$ = node(CN_INCLUDE, $1);
			$$->vals = $2;
			$$->nvals = 1;
		}
	;

values	: value				{ $$.head = $$.tail = $1; $$.n = 1; }
	| values ',' value		{
			$$ = $1;
			$$.tail->next = $3;
			$$.tail = $3;
			$$.n++;
		}
	;

value	: WORD
	| STRING
	;

%%

void *
palloc(size_t n)
{
	struct pool_item *p = xcalloc(1, sizeof *p + n);

	p->next = tree->pool;
	tree->pool = p;
	return p->data;
}

static struct conf_node *
node(enum conf_kind kind, struct conf_value *name)
{
	struct conf_node *n = palloc(sizeof *n);

	n->kind = kind;
	n->name = name->text;
	n->at = name->at;
	n->col = name->col;
	return n;
}

/* The first error is kept; later ones are its echo. */
void
syntax_error(int line, int col, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (failed)
		return;
	failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(perr, perrlen, "%s:%d:%d: %s", lex_name(), line, col,
	    msg);
}

/* ------------------------------------------------------------- files */

static const char *
keep_name(const char *name)
{
	char **v;

	v = xreallocarray(files->name, files->n + 1, sizeof *v);
	v[files->n] = xstrdup(name);
	files->name = v;
	return v[files->n++];
}

/* Read all of path (at most CONF_MAX_SIZE bytes) into the pool; NULL
 * with errno set when it cannot be. */
static char *
slurp(const char *path, int must_be_regular, size_t *len)
{
	char *buf = NULL, *out;
	size_t n = 0, cap = 0, got;
	struct stat st;
	FILE *f;
	int e;

	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	if (fstat(fileno(f), &st) != 0) {
		e = errno;
		goto fail;
	}
	if (must_be_regular && !S_ISREG(st.st_mode)) {
		e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto fail;
	}
	do {
		if (n == cap) {
			cap = cap ? 2 * cap : 8192;
			buf = xrealloc(buf, cap);
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (n > CONF_MAX_SIZE) {
			e = EFBIG;
			goto fail;
		}
	} while (got > 0);
	if (ferror(f)) {
		e = EIO;
		goto fail;
	}
	fclose(f);
	out = palloc(n + 1);
	if (n > 0)
		memcpy(out, buf, n);
	free(buf);
	*len = n;
	return out;
fail:
	fclose(f);
	free(buf);
	errno = e;
	return NULL;
}

static struct conf_node *parse_file(const char *path, int depth,
    const struct conf_node *from);

/* Glob characters in a folder name are taken literally. */
static char *
glob_escape(const char *s, size_t n)
{
	char *out = palloc(2 * n + 1), *o = out;
	size_t i;

	for (i = 0; i < n; i++) {
		if (strchr("*?[]\\", s[i]) != NULL)
			*o++ = '\\';
		*o++ = s[i];
	}
	*o = '\0';
	return out;
}

static int glob_errno;
static char glob_path[512];

static int
glob_err(const char *path, int e)
{
	glob_errno = e;
	snprintf(glob_path, sizeof glob_path, "%s", path);
	return 1;
}

static void
include_error(const struct conf_node *inc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
include_error(const struct conf_node *inc, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (failed)
		return;
	failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(perr, perrlen, "%s:%d: include '%s': %s", inc->at.file,
	    inc->at.line, inc->vals->text, msg);
}

/* The statements of the files an include names, in order, as one list
 * (*tail its last); an empty match is no error when the pattern holds a
 * wildcard, as in a folder of sites not yet written. */
static struct conf_node *
expand(const struct conf_node *inc, int depth, struct conf_node **tail)
{
	const char *pat = inc->vals->text, *slash;
	struct conf_node *head = NULL, *got, *t;
	char *full;
	glob_t g;
	size_t i;
	int rc;

	*tail = NULL;
	if (pat[0] == '\0') {
		include_error(inc, "empty pattern");
		return NULL;
	}
	if (depth >= CONF_MAX_INCLUDE) {
		include_error(inc, "includes nested more than %d deep (does a "
		    "file include itself?)", CONF_MAX_INCLUDE);
		return NULL;
	}
	slash = strrchr(inc->at.file, '/');
	if (pat[0] == '/' || slash == NULL) {
		full = palloc(strlen(pat) + 1);
		strcpy(full, pat);
	} else {
		char *dir = glob_escape(inc->at.file,
		    (size_t)(slash - inc->at.file) + 1);
		full = palloc(strlen(dir) + strlen(pat) + 1);
		strcpy(full, dir);
		strcat(full, pat);
	}
	if (strpbrk(pat, "*?[") == NULL) {
		/* one file, named: it must be there */
		char *plain = palloc(strlen(full) + 1), *o = plain;
		const char *p;
		for (p = full; *p != '\0'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			*o++ = *p;
		}
		*o = '\0';
		got = parse_file(plain, depth + 1, inc);
		return failed ? NULL : got;
	}
	glob_errno = 0;
	rc = glob(full, GLOB_ERR, glob_err, &g);
	if (rc == GLOB_NOMATCH)
		return NULL;
	if (rc != 0) {
		include_error(inc, "%s: %s", glob_errno ? glob_path : full,
		    glob_errno ? strerror(glob_errno) : "cannot be read");
		if (rc != GLOB_NOSPACE)
			globfree(&g);
		return NULL;
	}
	for (i = 0; i < g.gl_pathc && !failed; i++) {
		got = parse_file(g.gl_pathv[i], depth + 1, inc);
		if (failed)
			break;
		if (got == NULL)
			continue;
		for (t = got; t->next != NULL; t = t->next)
			;
		if (*tail != NULL)
			(*tail)->next = got;
		else
			head = got;
		*tail = t;
	}
	globfree(&g);
	return failed ? NULL : head;
}

/* Replace each include in list (and in its blocks) by what it names. */
static struct conf_node *
expand_all(struct conf_node *list, int depth)
{
	struct conf_node **pp = &list, *n, *got, *tail;

	while ((n = *pp) != NULL && !failed) {
		if (n->kind == CN_BLOCK) {
			n->body = expand_all(n->body, depth);
			pp = &n->next;
			continue;
		}
		if (n->kind != CN_INCLUDE) {
			pp = &n->next;
			continue;
		}
		got = expand(n, depth, &tail);
		if (failed)
			break;
		if (got == NULL) {
			*pp = n->next;
			continue;
		}
		if (tail == NULL)
			for (tail = got; tail->next != NULL; tail = tail->next)
				;
		tail->next = n->next;
		*pp = got;
		pp = &tail->next;
	}
	return list;
}

/* Parse one file and expand its includes; returns its statements (NULL
 * for an empty file: check failed). */
static struct conf_node *
parse_file(const char *path, int depth, const struct conf_node *from)
{
	struct lexer l, *outer;
	struct conf_node *list;
	const char *buf;
	size_t len;
	int rc;

	if (from != NULL && files->n >= CONF_MAX_FILES) {
		include_error(from, "more than %d files in one configuration",
		    CONF_MAX_FILES);
		return NULL;
	}
	if ((buf = slurp(path, from != NULL, &len)) == NULL) {
		if (from != NULL)
			include_error(from, "%s%s%s", strcmp(path,
			    from->vals->text) != 0 ? path : "",
			    strcmp(path, from->vals->text) != 0 ? ": " : "",
			    strerror(errno));
		else {
			failed = 1;
			snprintf(perr, perrlen, "%s: cannot read: %s", path,
			    strerror(errno));
		}
		return NULL;
	}
	outer = lex_open(&l, keep_name(path), buf, len);
	parsed = NULL;
	rc = yyparse();
	lex_close(outer);
	if (rc != 0 || failed) {
		if (!failed) {
			failed = 1;
			snprintf(perr, perrlen, "%s: cannot be parsed", path);
		}
		return NULL;
	}
	list = expand_all(parsed, depth);
	return failed ? NULL : list;
}

struct conf_tree *
conf_parse(const char *file, struct conf_files *names, char *err,
    size_t errlen)
{
	struct conf_tree *t = xcalloc(1, sizeof *t);

	tree = t;
	files = names;
	perr = err;
	perrlen = errlen;
	failed = 0;
	err[0] = '\0';
	t->top = parse_file(file, 0, NULL);
	tree = NULL;
	files = NULL;
	lex_close(NULL);
	if (failed) {
		conf_tree_free(t);
		return NULL;
	}
	return t;
}

const struct conf_node *
conf_top(const struct conf_tree *t)
{
	return t->top;
}

void
conf_tree_free(struct conf_tree *t)
{
	struct pool_item *p, *next;

	if (t == NULL)
		return;
	for (p = t->pool; p != NULL; p = next) {
		next = p->next;
		free(p);
	}
	free(t);
}

void
conf_files_free(struct conf_files *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->name[i]);
	free(f->name);
	f->name = NULL;
	f->n = 0;
}
