/*
 * lex.c - the lexer of cachetd.conf: bytes to the tokens of parse.y's
 * grammar (WORD, STRING and the characters '{', '}', '=', ','), each with
 * the file, line and column it starts at.
 *
 * Line ends are plain white space; '#' outside quotes starts a comment that
 * runs to the end of its line.  In "..." the escapes are \" and \\ (any
 * other backslash is kept as written: DNs use them); in '...', \' and \\.
 * The lexer follows the grammar one token at a time (track()), so that a
 * token that cannot come next is reported here, saying what was expected,
 * rather than as yacc's bare "syntax error"; it also counts the braces
 * open, so that one never closed is reported where it was opened.  Values
 * are allocated in the parse's pool (palloc): nothing here is freed.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cachetd.h"
#include "lex.h"

static struct lexer *lx;        /* the file being read */

struct lexer *
lex_open(struct lexer *l, const char *name, const char *buf, size_t len)
{
	struct lexer *outer = lx;

	memset(l, 0, sizeof *l);
	l->name = name;
	l->buf = buf;
	l->len = len;
	l->line = l->col = 1;
	l->expect = X_STMT;
	lx = l;
	return outer;
}

void
lex_close(struct lexer *outer)
{
	lx = outer;
}

const char *
lex_name(void)
{
	return lx->name;
}

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

int
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
void
yyerror(const char *msg)
{
	char what[80];

	syntax_error(lx->tok_line, lx->tok_col, "%s at %s", msg,
	    describe(lx->tok, lx->tok_text, what, sizeof what));
}
