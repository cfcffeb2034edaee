/*
 * lex.h - between parse.y (the grammar, includes, the parse's memory and
 * errors) and lex.c (the lexer).  Private to those two files.
 *
 * One lexer reads one file at a time: parse.y opens a struct lexer over a
 * file's bytes with lex_open() before yyparse() and puts the outer one
 * back with lex_close() after, so an include is read with a lexer of its
 * own.  Every token the lexer hands yyparse() carries its file, line and
 * column; the lexer reports the first error it meets through
 * syntax_error() and returns LEXERR, which ends the parse.
 */
#ifndef CACHET_LEX_H
#define CACHET_LEX_H

#include <stddef.h>

#include "cachetd.h"
#include "parse.h"              /* the tokens and yylval, from parse.y */

#define CONF_MAX_NEST    16     /* braces open at once */

/* What the lexer expects next, for messages ("expected ',' or '}'"):
 * parse.y's grammar, seen one token at a time. */
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

/* lex.c */
struct lexer *lex_open(struct lexer *, const char *name, const char *buf,
                 size_t len);  /* returns the lexer it replaces */
void         lex_close(struct lexer *outer);
const char  *lex_name(void);    /* the file being read */
int          yylex(void);
void         yyerror(const char *);

/* parse.y */
void        *palloc(size_t);    /* freed with the tree */
void         syntax_error(int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
