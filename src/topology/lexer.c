/* topology/lexer.c - turns topology text into tokens, reporting lexical errors with locations. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lexer.h"
#include "priv.h"

void vd_lexer_init(struct vd_lexer *lx, const char *text, size_t len, const char *file,
		   struct vd_arena *arena, struct vd_diag *diag)
{
	memset(lx, 0, sizeof(*lx));
	lx->p = text;
	lx->end = text + len;
	lx->line_start = text;
	lx->line = 1;
	lx->file = file;
	lx->arena = arena;
	lx->diag = diag;
}

void vd_lexer_error(struct vd_lexer *lx, const struct vd_location *loc, const char *fmt, ...)
{
	struct vd_error e;
	va_list ap;

	if (lx->stopped || lx->oom)
		return;
	vd_error_clear(&e);
	va_start(ap, fmt);
	vd_error_vset(&e, -EINVAL, loc, fmt, ap);
	va_end(ap);
	if (lx->errors + 1 == VD_TOPOLOGY_MAX_ERRORS) {
		vd_topology_mark_last(&e);
		lx->stopped = true;
	}
	lx->errors++;
	vd_topology_report(lx->diag, &e);
}

static struct vd_location here(const struct vd_lexer *lx, const char *p)
{
	return (struct vd_location){
		.file = lx->file,
		.line = lx->line,
		.column = (unsigned)(p - lx->line_start) + 1,
	};
}

static bool is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_word_char(int c)
{
	return is_alpha(c) || is_digit(c);
}

static int hex_value(int c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A printable rendering of byte @c for messages. */
static const char *show_char(int c, char buf[8])
{
	if (c >= 0x20 && c < 0x7f)
		snprintf(buf, 8, "'%c'", c);
	else
		snprintf(buf, 8, "0x%02X", c & 0xff);
	return buf;
}

/* Could byte @c begin a token (or whitespace/comment)? Runs of other bytes are one error. */
static bool starts_token(int c)
{
	return is_word_char(c) || strchr(" \t\r\n#\"{}[]=:,;-+", c) != NULL;
}

static char *copy(struct vd_lexer *lx, const char *s, size_t len)
{
	char *r = vd_arena_strndup(lx->arena, s, len);

	if (!r)
		lx->oom = true;
	return r;
}

static void lex_word(struct vd_lexer *lx, struct vd_token *tok)
{
	const char *s = lx->p;

	for (;;) {
		while (lx->p < lx->end && is_word_char(*lx->p))
			lx->p++;
		/* '.' and '-' join two runs (band1.freq, low-shelf) but a->b stays three tokens. */
		if (lx->p + 1 < lx->end && (*lx->p == '.' || *lx->p == '-') && is_word_char(lx->p[1]))
			lx->p++;
		else
			break;
	}
	tok->type = VD_TOK_WORD;
	tok->text = copy(lx, s, (size_t)(lx->p - s));
}

static bool known_unit(const char *u, size_t len);

bool vd_lexer_known_unit(const char *word)
{
	return word && known_unit(word, strlen(word));
}

static bool known_unit(const char *u, size_t len)
{
	static const char *const exact[] = { "s", "ms", "us" };
	static const char *const any_case[] = { "dB", "Hz", "kHz" };

	for (size_t i = 0; i < 3; i++) {
		if (strlen(exact[i]) == len && memcmp(u, exact[i], len) == 0)
			return true;
		if (strlen(any_case[i]) == len && strncasecmp(u, any_case[i], len) == 0)
			return true;
	}
	return false;
}

/*
 * Numbers are converted by hand rather than with strtod() so that a
 * process locale with a decimal comma cannot change what a file means.
 * Up to 19 significant digits are kept, which is far beyond what any
 * audio setting needs.
 */
static void lex_number(struct vd_lexer *lx, struct vd_token *tok)
{
	const char *s = lx->p;
	struct vd_location loc = tok->loc;
	uint64_t mant = 0;
	long exp10 = 0;
	bool neg = false;
	double v;

	if (*lx->p == '-' || *lx->p == '+')
		neg = *lx->p++ == '-';
	while (lx->p < lx->end && is_digit(*lx->p)) {
		if (mant < UINT64_C(1000000000000000000))
			mant = mant * 10 + (uint64_t)(*lx->p - '0');
		else
			exp10++;
		lx->p++;
	}
	if (lx->p + 1 < lx->end && *lx->p == '.' && is_digit(lx->p[1])) {
		lx->p++;
		while (lx->p < lx->end && is_digit(*lx->p)) {
			if (mant < UINT64_C(1000000000000000000)) {
				mant = mant * 10 + (uint64_t)(*lx->p - '0');
				exp10--;
			}
			lx->p++;
		}
	}
	if (lx->p < lx->end && (*lx->p == 'e' || *lx->p == 'E')) {
		const char *q = lx->p + 1;
		bool eneg = false;
		long e = 0;

		if (q < lx->end && (*q == '+' || *q == '-'))
			eneg = *q++ == '-';
		if (q < lx->end && is_digit(*q)) {
			while (q < lx->end && is_digit(*q)) {
				if (e < 100000)
					e = e * 10 + (*q - '0');
				q++;
			}
			exp10 += eneg ? -e : e;
			lx->p = q;
		}
	}
	v = (double)mant;
	if (mant != 0 && exp10 > 0)
		v *= pow(10.0, (double)exp10);
	else if (mant != 0 && exp10 < 0)
		v /= pow(10.0, (double)-exp10);
	tok->num = neg ? -v : v;

	const char *u = lx->p;
	while (lx->p < lx->end && is_word_char(*lx->p))
		lx->p++;
	tok->type = VD_TOK_NUMBER;
	tok->text = copy(lx, s, (size_t)(lx->p - s));
	tok->unit = copy(lx, u, (size_t)(lx->p - u));
	if (!tok->text || !tok->unit)
		return;
	if (u != lx->p && !known_unit(u, (size_t)(lx->p - u))) {
		struct vd_location uloc = loc;

		uloc.column += (unsigned)(u - s);
		vd_lexer_error(lx, &uloc, "unknown unit '%s' (dB, Hz, kHz, s, ms, us)", tok->unit);
		tok->bad = true;
	}
	if (!isfinite(tok->num)) {
		vd_lexer_error(lx, &loc, "number %s is out of range", tok->text);
		tok->num = 0;
		tok->bad = true;
	}
}

static void lex_string(struct vd_lexer *lx, struct vd_token *tok)
{
	const char *s = ++lx->p;
	unsigned errors = lx->errors;
	char *out, *o;

	/* The contents can only shrink when unescaped. */
	while (lx->p < lx->end && *lx->p != '"' && *lx->p != '\n')
		lx->p += (*lx->p == '\\' && lx->p + 1 < lx->end && lx->p[1] != '\n') ? 2 : 1;
	out = o = vd_arena_alloc(lx->arena, (size_t)(lx->p - s) + 1);
	tok->type = VD_TOK_STRING;
	tok->text = out;
	if (!out) {
		lx->oom = true;
		return;
	}
	for (const char *q = s; q < lx->p; q++) {
		struct vd_location loc = here(lx, q);

		if (*q == '\0') {
			vd_lexer_error(lx, &loc, "NUL byte in a string");
			continue;
		}
		if (*q != '\\') {
			*o++ = *q;
			continue;
		}
		if (++q >= lx->p)
			break;	/* a '\\' at the end of the line: reported as unterminated below */
		switch (*q) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case 'n': *o++ = '\n'; break;
		case 't': *o++ = '\t'; break;
		case 'r': *o++ = '\r'; break;
		case 'x': {
			int hi = q + 1 < lx->p ? hex_value(q[1]) : -1;
			int lo = q + 2 < lx->p ? hex_value(q[2]) : -1;

			if (hi < 0 || lo < 0) {
				vd_lexer_error(lx, &loc, "'\\x' needs two hex digits");
				break;
			}
			q += 2;
			if (hi == 0 && lo == 0)
				vd_lexer_error(lx, &loc, "'\\x00' (NUL) is not allowed in a string");
			else
				*o++ = (char)(hi << 4 | lo);
			break;
		}
		default: {
			char cb[8];

			vd_lexer_error(lx, &loc, "unknown escape '\\' followed by %s in a string",
				       show_char((unsigned char)*q, cb));
			break;
		}
		}
	}
	*o = '\0';
	if (lx->p < lx->end && *lx->p == '"')
		lx->p++;
	else
		vd_lexer_error(lx, &tok->loc, "unterminated string (strings end on the same line)");
	tok->bad = lx->errors != errors;
}

void vd_lexer_next(struct vd_lexer *lx, struct vd_token *tok)
{
	static const struct { char c; enum vd_token_type type; } punct[] = {
		{ '{', VD_TOK_LBRACE }, { '}', VD_TOK_RBRACE },
		{ '[', VD_TOK_LBRACKET }, { ']', VD_TOK_RBRACKET },
		{ '=', VD_TOK_EQUALS }, { ':', VD_TOK_COLON },
		{ ',', VD_TOK_COMMA }, { ';', VD_TOK_SEMICOLON },
	};

	memset(tok, 0, sizeof(*tok));
	tok->unit = "";
	for (;;) {
		tok->loc = here(lx, lx->p);
		if (lx->stopped || lx->oom || lx->p >= lx->end) {
			tok->type = VD_TOK_EOF;
			return;
		}
		int c = (unsigned char)*lx->p;

		if (c == ' ' || c == '\t' || c == '\r') {
			lx->p++;
			continue;
		}
		if (c == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
			continue;
		}
		if (c == '\n') {
			tok->type = VD_TOK_NEWLINE;
			lx->p++;
			lx->line++;
			lx->line_start = lx->p;
			return;
		}
		if (is_alpha(c)) {
			lex_word(lx, tok);
			break;
		}
		if (c == '"') {
			lex_string(lx, tok);
			break;
		}
		if (c == '-' && lx->p + 1 < lx->end && lx->p[1] == '>') {
			tok->type = VD_TOK_ARROW;
			lx->p += 2;
			return;
		}
		if (is_digit(c) || ((c == '-' || c == '+') && lx->p + 1 < lx->end && is_digit(lx->p[1]))) {
			lex_number(lx, tok);
			break;
		}
		for (size_t i = 0; i < sizeof(punct) / sizeof(punct[0]); i++) {
			if (c == punct[i].c) {
				tok->type = punct[i].type;
				lx->p++;
				return;
			}
		}

		char cb[8];
		if (c >= 0x80)
			vd_lexer_error(lx, &tok->loc, "unexpected byte %s (non-ASCII text belongs in strings and comments)",
				       show_char(c, cb));
		else
			vd_lexer_error(lx, &tok->loc, "unexpected character %s", show_char(c, cb));
		lx->p++;
		while (lx->p < lx->end && !starts_token((unsigned char)*lx->p))
			lx->p++;
	}
	if (lx->oom)
		tok->type = VD_TOK_EOF;
}

const char *vd_token_type_name(enum vd_token_type type)
{
	switch (type) {
	case VD_TOK_EOF: return "the end of the file";
	case VD_TOK_NEWLINE: return "a new line";
	case VD_TOK_WORD: return "a word";
	case VD_TOK_NUMBER: return "a number";
	case VD_TOK_STRING: return "a string";
	case VD_TOK_LBRACE: return "'{'";
	case VD_TOK_RBRACE: return "'}'";
	case VD_TOK_LBRACKET: return "'['";
	case VD_TOK_RBRACKET: return "']'";
	case VD_TOK_EQUALS: return "'='";
	case VD_TOK_COLON: return "':'";
	case VD_TOK_COMMA: return "','";
	case VD_TOK_SEMICOLON: return "';'";
	case VD_TOK_ARROW: return "'->'";
	}
	return "a token";
}

const char *vd_token_describe(const struct vd_token *tok, char *buf, size_t size)
{
	switch (tok->type) {
	case VD_TOK_WORD:
		snprintf(buf, size, "'%s'", tok->text);
		break;
	case VD_TOK_NUMBER:
		snprintf(buf, size, "the number %s", tok->text);
		break;
	case VD_TOK_STRING:
		snprintf(buf, size, "the string \"%s\"", tok->text);
		break;
	default:
		snprintf(buf, size, "%s", vd_token_type_name(tok->type));
		break;
	}
	return buf;
}
