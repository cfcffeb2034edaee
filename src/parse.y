/*
 * parse.y - the syntax of cachetd.conf: a hand-written lexer and a small
 * yacc grammar that turn a file, and the files it includes, into a tree of
 * statements (struct conf_node).  What the statements mean is config.c's
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

#define CONF_MAX_INCLUDE 8      /* include depth */
#define CONF_MAX_FILES   256    /* files per config, includes and all */
#define CONF_MAX_NEST    16     /* braces open at once */
#define CONF_MAX_SIZE    (1 << 20)

struct pool_item {
	struct pool_item *next;
	max_align_t       data[];
};

struct conf_tree {
	struct conf_node *top;
	struct pool_item *pool;
};

/* What the lexer expects next, for messages ("expected ',' or '}'"): the
 * grammar below, seen one token at a time. */
enum expect { X_STMT, X_NAME, X_EQ, X_LIST_FIRST, X_LIST_NEXT, X_LIST_MORE,
    X_TITLE };

/* The file being read. */
struct lexer {
	const char *name;
	const char *buf;
	size_t      len, pos;
	int         line, col;          /* of buf[pos] */
	int         tok, tok_line, tok_col;
	const char *tok_text;           /* a value's text, for messages */
	const char *name_text;          /* the statement's NAME */
	int         title_line, title_col, title_tok;
	const char *title_text;         /* the value after NAME */
	enum expect expect;
	int         depth;              /* braces open */
	int         open_line[CONF_MAX_NEST], open_col[CONF_MAX_NEST];
	int         open_list[CONF_MAX_NEST];
};

static struct lexer      *lx;
static struct conf_tree  *tree;
static struct conf_files *files;
static struct conf_node  *parsed;
static char              *perr;
static size_t             perrlen;
static int                failed;

static int  yylex(void);
static void yyerror(const char *);
static void *palloc(size_t);
static struct conf_node *node(enum conf_kind, struct conf_value *);
static void syntax_error(int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
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

static void *
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
static void
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
	snprintf(perr, perrlen, "%s:%d:%d: %s", lx->name, line, col, msg);
}

/* ------------------------------------------------------------- lexer */

static int
peekc(void)
{
	return lx->pos < lx->len ? (unsigned char)lx->buf[lx->pos] : EOF;
}

static int
getc_(void)
{
	int c = peekc();

	if (c == EOF)
		return EOF;
	lx->pos++;
	if (c == '\n') {
		lx->line++;
		lx->col = 1;
	} else {
		lx->col++;
	}
	return c;
}

static int
is_word_char(int c)
{
	/* Anything printable but space and the characters with a meaning;
	 * bytes of UTF-8 sequences included. */
	return c != EOF && (c > ' ' && c != 0x7f) && strchr("{}=,\"'#", c) ==
	    NULL;
}

static struct conf_value *
value_new(const char *text, size_t len, int quoted)
{
	struct conf_value *v = palloc(sizeof *v);
	char *t = palloc(len + 1);

	memcpy(t, text, len);
	t[len] = '\0';
	v->text = t;
	v->quoted = quoted;
	v->at.file = lx->name;
	v->at.line = lx->tok_line;
	v->col = lx->tok_col;
	return v;
}

/* A quoted string: in "...", \" and \\ are escapes and any other
 * backslash is kept as written (DNs use them); in '...', \' and \\. */
static int
lex_string(int q)
{
	size_t start = lx->pos, end, i, n = 0;
	char *out;
	int c;

	for (;;) {
		c = getc_();
		if (c == EOF || c == '\n') {
			syntax_error(lx->tok_line, lx->tok_col, "string not "
			    "closed before the end of the %s",
			    c == EOF ? "file" : "line");
			return LEXERR;
		}
		if ((c < ' ' && c != '\t') || c == 0x7f) {
			syntax_error(lx->line, lx->col - 1, "unexpected byte "
			    "0x%02x in a string", (unsigned)c);
			return LEXERR;
		}
		if (c == q)
			break;
		if (c == '\\' && (peekc() == q || peekc() == '\\'))
			getc_();
	}
	end = lx->pos - 1;
	out = palloc(end - start + 1);
	for (i = start; i < end; i++) {
		if (lx->buf[i] == '\\' && i + 1 < end &&
		    (lx->buf[i + 1] == q || lx->buf[i + 1] == '\\'))
			i++;
		out[n++] = lx->buf[i];
	}
	yylval.v = value_new(out, n, 1);
	return STRING;
}

static const char *
describe(int tok, const char *text, char *buf, size_t len)
{
	switch (tok) {
	case 0:
		return "end of file";
	case WORD:
		snprintf(buf, len, "'%.60s'", text);
		return buf;
	case STRING:
		snprintf(buf, len, "\"%.60s\"", text);
		return buf;
	default:
		snprintf(buf, len, "'%c'", tok);
		return buf;
	}
}

/* Follow the grammar one token at a time, so that an error can say what
 * was expected.  Returns 0 when tok cannot come here. */
static int
track(int tok)
{
	int value = tok == WORD || tok == STRING;

	switch (lx->expect) {
	case X_STMT:                    /* a statement, or the end of a block */
		if (tok == WORD)
			lx->expect = X_NAME;
		return tok == WORD || tok == '}' || tok == 0;
	case X_NAME:                    /* NAME */
		if (tok == '=')
			lx->expect = X_EQ;
		else if (value)
			lx->expect = X_TITLE;
		else if (tok == '{')
			lx->expect = X_STMT;
		return tok == '=' || value || tok == '{';
	case X_EQ:                      /* NAME = */
		lx->expect = tok == '{' ? X_LIST_FIRST : X_STMT;
		return value || tok == '{';
	case X_LIST_FIRST:              /* NAME = { */
		lx->expect = tok == '}' ? X_STMT : X_LIST_NEXT;
		return value || tok == '}';
	case X_LIST_MORE:               /* NAME = { value, */
		lx->expect = X_LIST_NEXT;
		return value;
	case X_LIST_NEXT:               /* NAME = { value */
		lx->expect = tok == ',' ? X_LIST_MORE : X_STMT;
		return tok == ',' || tok == '}';
	case X_TITLE:                   /* NAME value: a block, or include */
		if (tok == WORD)
			lx->expect = X_NAME;
		else
			lx->expect = X_STMT;
		return tok == '{' || tok == WORD || tok == '}' || tok == 0;
	}
	return 0;
}

static const char *
expected(enum expect e)
{
	switch (e) {
	case X_STMT:
		return lx->depth > 0 ? "a directive or '}'" : "a directive";
	case X_NAME:
		return "'=' or '{'";
	case X_EQ:
		return "a value or '{' after '='";
	case X_LIST_FIRST:
		return "a value or '}'";
	case X_LIST_MORE:
		return "a value after ','";
	case X_LIST_NEXT:
		return "',' or '}'";
	case X_TITLE:
		return "'{'";
	}
	return "something else";
}

static int
lex(void)
{
	int c;

	for (;;) {
		c = peekc();
		if (c == '#') {
			while (peekc() != EOF && peekc() != '\n')
				getc_();
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
		    c == '\f' || c == '\v') {
			getc_();
			continue;
		}
		break;
	}
	lx->tok_line = lx->line;
	lx->tok_col = lx->col;
	lx->tok_text = NULL;
	if (c == EOF) {
		/* the end of the last line, not the empty one after it */
		if (lx->col == 1 && lx->line > 1) {
			size_t i = lx->len - 1;
			while (i > 0 && lx->buf[i - 1] != '\n')
				i--;
			lx->tok_line = lx->line - 1;
			lx->tok_col = (int)(lx->len - i);
		}
		return 0;
	}
	switch (c) {
	case '{':
		getc_();
		if (lx->depth == CONF_MAX_NEST) {
			syntax_error(lx->tok_line, lx->tok_col, "blocks nested "
			    "more than %d deep", CONF_MAX_NEST);
			return LEXERR;
		}
		lx->open_line[lx->depth] = lx->tok_line;
		lx->open_col[lx->depth] = lx->tok_col;
		lx->open_list[lx->depth] = lx->expect == X_EQ;
		lx->depth++;
		return c;
	case '}':                       /* depth: in yylex, once checked */
	case '=':
	case ',':
		getc_();
		return c;
	case '"':
	case '\'':
		getc_();
		return lex_string(c);
	}
	if (is_word_char(c)) {
		size_t start = lx->pos;
		while (is_word_char(peekc()))
			getc_();
		yylval.v = value_new(lx->buf + start, lx->pos - start, 0);
		return WORD;
	}
	if (c >= ' ' && c < 0x7f)
		syntax_error(lx->tok_line, lx->tok_col, "unexpected "
		    "character '%c'", c);
	else
		syntax_error(lx->tok_line, lx->tok_col, "unexpected byte "
		    "0x%02x", (unsigned)c);
	return LEXERR;
}

static int
yylex(void)
{
	enum expect before = lx->expect;
	int tok = lex();
	char what[80];

	if (tok == LEXERR)
		return tok;
	if (tok == WORD || tok == STRING)
		lx->tok_text = yylval.v->text;
	if (tok == 0 && lx->depth > 0) {
		int d = lx->depth - 1;
		syntax_error(lx->open_line[d], lx->open_col[d], "%s opened "
		    "here is not closed (the file ends at line %d)",
		    lx->open_list[d] ? "the list" : "the block", lx->tok_line);
		return LEXERR;
	}
	if (!track(tok)) {
		/* NAME value, then neither '{' nor a next statement: the value
		 * was the mistake (a NAME without '='), unless NAME is include */
		if (before == X_TITLE && strcmp(lx->name_text, "include") != 0)
			syntax_error(lx->title_line, lx->title_col, "unexpected "
			    "%s after '%s' (expected '=' or '{')",
			    describe(lx->title_tok, lx->title_text, what,
			    sizeof what), lx->name_text);
		else if (before == X_TITLE)
			syntax_error(lx->tok_line, lx->tok_col, "unexpected %s "
			    "(expected %s)", describe(tok, lx->tok_text, what,
			    sizeof what), expected(X_STMT));
		else if (before == X_NAME)
			syntax_error(lx->tok_line, lx->tok_col, "unexpected %s "
			    "after '%s' (expected %s)", describe(tok,
			    lx->tok_text, what, sizeof what), lx->name_text,
			    expected(before));
		else
			syntax_error(lx->tok_line, lx->tok_col, "unexpected %s "
			    "(expected %s)", describe(tok, lx->tok_text, what,
			    sizeof what), expected(before));
		return LEXERR;
	}
	if (tok == '}') {
		if (lx->depth == 0) {
			syntax_error(lx->tok_line, lx->tok_col, "'}' without a "
			    "'{' to close");
			return LEXERR;
		}
		lx->depth--;
	}
	if (tok == WORD && lx->expect == X_NAME)
		lx->name_text = lx->tok_text;
	if (lx->expect == X_TITLE) {
		lx->title_line = lx->tok_line;
		lx->title_col = lx->tok_col;
		lx->title_tok = tok;
		lx->title_text = lx->tok_text;
	}
	lx->tok = tok;
	return tok;
}

/* Reached only for errors track() did not foresee, and for "memory
 * exhausted". */
static void
yyerror(const char *msg)
{
	char what[80];

	syntax_error(lx->tok_line, lx->tok_col, "%s at %s", msg,
	    describe(lx->tok, lx->tok_text, what, sizeof what));
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
	struct lexer l, *outer = lx;
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
	memset(&l, 0, sizeof l);
	l.name = keep_name(path);
	l.buf = buf;
	l.len = len;
	l.line = l.col = 1;
	l.expect = X_STMT;
	lx = &l;
	parsed = NULL;
	rc = yyparse();
	lx = outer;
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
	lx = NULL;
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
