/* topology/lexer.h - tokens of the topology format and the lexer that makes them. */
#ifndef VD_TOPOLOGY_LEXER_H
#define VD_TOPOLOGY_LEXER_H

#include <stdbool.h>
#include <stddef.h>

#include <virtdsp/error.h>
#include <virtdsp/topology.h>

#include "arena.h"

enum vd_token_type {
	VD_TOK_EOF,
	VD_TOK_NEWLINE,
	VD_TOK_WORD,
	VD_TOK_NUMBER,
	VD_TOK_STRING,
	VD_TOK_LBRACE,
	VD_TOK_RBRACE,
	VD_TOK_LBRACKET,
	VD_TOK_RBRACKET,
	VD_TOK_EQUALS,
	VD_TOK_COLON,
	VD_TOK_COMMA,
	VD_TOK_SEMICOLON,
	VD_TOK_ARROW,
};

struct vd_token {
	enum vd_token_type type;
	struct vd_location loc;
	/* WORD: the word; STRING: the contents, unescaped; NUMBER: as written, unit included. */
	const char *text;
	double num;		/* NUMBER: the value before unit scaling */
	const char *unit;	/* NUMBER: the suffix as written, "" if none */
	bool bad;		/* a lexical error was reported in it; its value means nothing */
};

/* Stop reporting (and parsing) after this many errors in one load. */
#define VD_TOPOLOGY_MAX_ERRORS 100

struct vd_lexer {
	const char *p, *end;
	const char *line_start;
	unsigned line;
	const char *file;
	struct vd_arena *arena;
	struct vd_diag *diag;
	unsigned errors;	/* counted here for the lexer and the parser on top of it */
	bool stopped;		/* too many errors: only EOF from now on */
	bool oom;
};

void vd_lexer_init(struct vd_lexer *lx, const char *text, size_t len, const char *file,
		   struct vd_arena *arena, struct vd_diag *diag);
/** The next token; EOF forever at the end (or after too many errors, or out of memory). */
void vd_lexer_next(struct vd_lexer *lx, struct vd_token *tok);
/** Report an error at @loc through the lexer's diag, counting it. */
void vd_lexer_error(struct vd_lexer *lx, const struct vd_location *loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/** A unit a number may carry (dB, Hz, kHz, s, ms, us; docs/topology.md's case rules). */
bool vd_lexer_known_unit(const char *word);

/** "'word'", "the number 3dB", "a new line", ... for "found ..." messages. */
const char *vd_token_describe(const struct vd_token *tok, char *buf, size_t size);
/** The spelling of punctuation tokens ("{", "->") and names of the others ("a word"). */
const char *vd_token_type_name(enum vd_token_type type);

#endif
