/* tests/unit/test_lexer.c - the topology lexer: tokens, numbers and units, strings, locations, lexical errors. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "topology/lexer.h"

#define MAX_TOKENS 64
#define MAX_ERRORS 128

struct lexed {
	struct vd_arena arena;
	struct vd_diag diag;
	struct vd_token tok[MAX_TOKENS];
	size_t n;
	char errors[MAX_ERRORS][VD_ERROR_MSG_MAX + 64];
	size_t n_errors;
};

static void collect(void *data, const struct vd_error *e)
{
	struct lexed *L = data;

	if (L->n_errors < MAX_ERRORS)
		vd_error_format(e, L->errors[L->n_errors++], sizeof(L->errors[0]));
}

/* Lex @len bytes of @text until EOF (included in the tokens). */
static struct lexed *lex_n(const char *text, size_t len)
{
	static struct lexed L;
	struct vd_lexer lx;

	vd_arena_free(&L.arena);
	memset(&L, 0, sizeof(L));
	L.diag.report = collect;
	L.diag.data = &L;
	vd_lexer_init(&lx, text, len, "t.topo", &L.arena, &L.diag);
	do {
		assert_true(L.n < MAX_TOKENS);
		vd_lexer_next(&lx, &L.tok[L.n]);
	} while (L.tok[L.n++].type != VD_TOK_EOF);
	assert_int_equal(lx.errors, L.n_errors);
	assert_int_equal(L.diag.count, L.n_errors);
	return &L;
}

static struct lexed *lex(const char *text)
{
	return lex_n(text, strlen(text));
}

static void assert_token(const struct vd_token *t, enum vd_token_type type, const char *text,
			 unsigned line, unsigned column)
{
	assert_int_equal(t->type, type);
	if (text)
		assert_string_equal(t->text, text);
	assert_string_equal(t->loc.file, "t.topo");
	assert_int_equal(t->loc.line, line);
	assert_int_equal(t->loc.column, column);
}

static void test_punctuation_and_words(void **state)
{
	struct lexed *L = lex("pipeline main {\n\tnode mix mixer { gain.1 = -6dB; x = [a, b] }\n\tlink a->b:in0\n}");
	const struct { enum vd_token_type type; const char *text; unsigned line, col; } want[] = {
		{ VD_TOK_WORD, "pipeline", 1, 1 }, { VD_TOK_WORD, "main", 1, 10 },
		{ VD_TOK_LBRACE, NULL, 1, 15 }, { VD_TOK_NEWLINE, NULL, 1, 16 },
		{ VD_TOK_WORD, "node", 2, 2 }, { VD_TOK_WORD, "mix", 2, 7 },
		{ VD_TOK_WORD, "mixer", 2, 11 }, { VD_TOK_LBRACE, NULL, 2, 17 },
		{ VD_TOK_WORD, "gain.1", 2, 19 }, { VD_TOK_EQUALS, NULL, 2, 26 },
		{ VD_TOK_NUMBER, "-6dB", 2, 28 }, { VD_TOK_SEMICOLON, NULL, 2, 32 },
		{ VD_TOK_WORD, "x", 2, 34 }, { VD_TOK_EQUALS, NULL, 2, 36 },
		{ VD_TOK_LBRACKET, NULL, 2, 38 }, { VD_TOK_WORD, "a", 2, 39 },
		{ VD_TOK_COMMA, NULL, 2, 40 }, { VD_TOK_WORD, "b", 2, 42 },
		{ VD_TOK_RBRACKET, NULL, 2, 43 }, { VD_TOK_RBRACE, NULL, 2, 45 },
		{ VD_TOK_NEWLINE, NULL, 2, 46 },
		{ VD_TOK_WORD, "link", 3, 2 }, { VD_TOK_WORD, "a", 3, 7 },
		{ VD_TOK_ARROW, NULL, 3, 8 }, { VD_TOK_WORD, "b", 3, 10 },
		{ VD_TOK_COLON, NULL, 3, 11 }, { VD_TOK_WORD, "in0", 3, 12 },
		{ VD_TOK_NEWLINE, NULL, 3, 15 }, { VD_TOK_RBRACE, NULL, 4, 1 },
		{ VD_TOK_EOF, NULL, 4, 2 },
	};

	(void)state;
	assert_int_equal(L->n_errors, 0);
	assert_int_equal(L->n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < L->n; i++)
		assert_token(&L->tok[i], want[i].type, want[i].text, want[i].line, want[i].col);
}

static void test_word_joins(void **state)
{
	/* '.' and '-' join runs of word characters, but never start or end a word. */
	struct lexed *L = lex("low-shelf band1.freq s24_3 _x a-b-c x->y");

	(void)state;
	assert_int_equal(L->n_errors, 0);
	assert_token(&L->tok[0], VD_TOK_WORD, "low-shelf", 1, 1);
	assert_token(&L->tok[1], VD_TOK_WORD, "band1.freq", 1, 11);
	assert_token(&L->tok[2], VD_TOK_WORD, "s24_3", 1, 22);
	assert_token(&L->tok[3], VD_TOK_WORD, "_x", 1, 28);
	assert_token(&L->tok[4], VD_TOK_WORD, "a-b-c", 1, 31);
	assert_token(&L->tok[5], VD_TOK_WORD, "x", 1, 37);
	assert_token(&L->tok[6], VD_TOK_ARROW, NULL, 1, 38);
	assert_token(&L->tok[7], VD_TOK_WORD, "y", 1, 40);
	assert_int_equal(L->tok[8].type, VD_TOK_EOF);
}

static void test_numbers_and_units(void **state)
{
	const struct { const char *text; double num; const char *unit; } cases[] = {
		{ "48000", 48000, "" },
		{ "-6dB", -6, "dB" },
		{ "+3dB", 3, "dB" },
		{ "0.7", 0.7, "" },
		{ "1e3", 1000, "" },
		{ "2.5e-3s", 0.0025, "s" },
		{ "1E+2Hz", 100, "Hz" },
		{ "44.1kHz", 44.1, "kHz" },
		{ "10ms", 10, "ms" },
		{ "500us", 500, "us" },
		{ "3db", 3, "db" },
		{ "48KHZ", 48, "KHZ" },
		{ "0", 0, "" },
		{ "-0.25", -0.25, "" },
		{ "12345678901234567890123", 12345678901234567890123.0, "" },
		{ "0.000000000000000000001", 1e-21, "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lexed *L = lex(cases[i].text);

		assert_int_equal(L->n_errors, 0);
		assert_int_equal(L->n, 2);
		assert_token(&L->tok[0], VD_TOK_NUMBER, cases[i].text, 1, 1);
		/* Within one part in 1e15: digits are accumulated exactly and scaled once. */
		assert_true(fabs(L->tok[0].num - cases[i].num) <= 1e-15 * fabs(cases[i].num));
		assert_string_equal(L->tok[0].unit, cases[i].unit);
		assert_false(L->tok[0].bad);
	}
}

static void test_number_boundaries(void **state)
{
	struct lexed *L;

	(void)state;
	/* A '.' without a digit after it ends the number; 'e' without digits is a (bad) unit. */
	L = lex("1.x");
	assert_token(&L->tok[0], VD_TOK_NUMBER, "1", 1, 1);
	assert_token(&L->tok[1], VD_TOK_WORD, "x", 1, 3);
	assert_int_equal(L->n_errors, 1);
	assert_string_equal(L->errors[0], "t.topo:1:2: unexpected character '.'");

	L = lex("5e");
	assert_token(&L->tok[0], VD_TOK_NUMBER, "5e", 1, 1);
	assert_true(L->tok[0].bad);
	assert_int_equal(L->n_errors, 1);
	assert_string_equal(L->errors[0], "t.topo:1:2: unknown unit 'e' (dB, Hz, kHz, s, ms, us)");

	/* A sign only starts a number when a digit follows. */
	L = lex("- 3");
	assert_int_equal(L->n_errors, 1);
	assert_string_equal(L->errors[0], "t.topo:1:1: unexpected character '-'");
	assert_token(&L->tok[0], VD_TOK_NUMBER, "3", 1, 3);
}

static void test_bad_numbers(void **state)
{
	struct lexed *L = lex("period = 10sec\ngain = 1e999\nx = 3x5 y = 0x10\n");

	(void)state;
	assert_int_equal(L->n_errors, 4);
	assert_string_equal(L->errors[0], "t.topo:1:12: unknown unit 'sec' (dB, Hz, kHz, s, ms, us)");
	assert_string_equal(L->errors[1], "t.topo:2:8: number 1e999 is out of range");
	assert_string_equal(L->errors[2], "t.topo:3:6: unknown unit 'x5' (dB, Hz, kHz, s, ms, us)");
	assert_string_equal(L->errors[3], "t.topo:3:14: unknown unit 'x10' (dB, Hz, kHz, s, ms, us)");
	/* The token survives, marked bad, so parsing goes on. */
	assert_token(&L->tok[2], VD_TOK_NUMBER, "10sec", 1, 10);
	assert_true(L->tok[2].bad);
	assert_string_equal(L->tok[2].unit, "sec");
}

static void test_strings(void **state)
{
	struct lexed *L = lex("\"plain\" \"q\\\"b\\\\s\\n\\t\\r\" \"\\x41\\x7e\" \"\" \"caf\xc3\xa9 # not a comment\"");

	(void)state;
	assert_int_equal(L->n_errors, 0);
	assert_token(&L->tok[0], VD_TOK_STRING, "plain", 1, 1);
	assert_token(&L->tok[1], VD_TOK_STRING, "q\"b\\s\n\t\r", 1, 9);
	assert_token(&L->tok[2], VD_TOK_STRING, "A~", 1, 25);
	assert_token(&L->tok[3], VD_TOK_STRING, "", 1, 36);
	assert_token(&L->tok[4], VD_TOK_STRING, "caf\xc3\xa9 # not a comment", 1, 39);
	assert_int_equal(L->tok[5].type, VD_TOK_EOF);
}

static void test_bad_strings(void **state)
{
	static const char text[] = "\"a\\qb\" \"\\x4\" \"\\x00\" \"n\0l\"\n\"open\nx \"tail\\";
	struct lexed *L = lex_n(text, sizeof(text) - 1);

	(void)state;
	assert_int_equal(L->n_errors, 6);
	assert_string_equal(L->errors[0], "t.topo:1:3: unknown escape '\\' followed by 'q' in a string");
	assert_string_equal(L->errors[1], "t.topo:1:9: '\\x' needs two hex digits");
	assert_string_equal(L->errors[2], "t.topo:1:15: '\\x00' (NUL) is not allowed in a string");
	assert_string_equal(L->errors[3], "t.topo:1:23: NUL byte in a string");
	assert_string_equal(L->errors[4], "t.topo:2:1: unterminated string (strings end on the same line)");
	assert_string_equal(L->errors[5], "t.topo:3:3: unterminated string (strings end on the same line)");
	/* Bad escapes are dropped, the rest is kept; an unterminated string ends with its line. */
	assert_token(&L->tok[0], VD_TOK_STRING, "ab", 1, 1);
	assert_true(L->tok[0].bad);
	assert_token(&L->tok[3], VD_TOK_STRING, "nl", 1, 21);
	assert_token(&L->tok[5], VD_TOK_STRING, "open", 2, 1);
	assert_int_equal(L->tok[6].type, VD_TOK_NEWLINE);
	assert_token(&L->tok[7], VD_TOK_WORD, "x", 3, 1);
	assert_token(&L->tok[8], VD_TOK_STRING, "tail", 3, 3);
	assert_int_equal(L->tok[9].type, VD_TOK_EOF);
}

static void test_comments_and_whitespace(void **state)
{
	struct lexed *L = lex("# heading\r\n\ta = 1 # trailing { not a token\r\n\n  b");

	(void)state;
	assert_int_equal(L->n_errors, 0);
	assert_int_equal(L->tok[0].type, VD_TOK_NEWLINE);
	assert_token(&L->tok[1], VD_TOK_WORD, "a", 2, 2);
	assert_token(&L->tok[2], VD_TOK_EQUALS, NULL, 2, 4);
	assert_token(&L->tok[3], VD_TOK_NUMBER, "1", 2, 6);
	assert_token(&L->tok[4], VD_TOK_NEWLINE, NULL, 2, 33);
	assert_token(&L->tok[5], VD_TOK_NEWLINE, NULL, 3, 1);
	assert_token(&L->tok[6], VD_TOK_WORD, "b", 4, 3);
	assert_token(&L->tok[7], VD_TOK_EOF, NULL, 4, 4);
}

static void test_unexpected_characters(void **state)
{
	/* A run of bytes that cannot start a token is one error. */
	struct lexed *L = lex("a @@@ b\n\xc3\xa9t\x01 $");

	(void)state;
	assert_int_equal(L->n_errors, 4);
	assert_string_equal(L->errors[0], "t.topo:1:3: unexpected character '@'");
	assert_string_equal(L->errors[1],
			    "t.topo:2:1: unexpected byte 0xC3 (non-ASCII text belongs in strings and comments)");
	assert_string_equal(L->errors[2], "t.topo:2:4: unexpected character 0x01");
	assert_string_equal(L->errors[3], "t.topo:2:6: unexpected character '$'");
	assert_token(&L->tok[0], VD_TOK_WORD, "a", 1, 1);
	assert_token(&L->tok[1], VD_TOK_WORD, "b", 1, 7);
	assert_token(&L->tok[3], VD_TOK_WORD, "t", 2, 3);
	assert_int_equal(L->tok[4].type, VD_TOK_EOF);
}

static void test_error_limit(void **state)
{
	char text[512];
	struct lexed *L;

	(void)state;
	/* 150 bad characters separated by spaces: only the first 100 are reported, then EOF. */
	for (int i = 0; i < 150; i++) {
		text[2 * i] = '@';
		text[2 * i + 1] = ' ';
	}
	text[300] = '\0';
	L = lex(text);
	assert_int_equal(L->n_errors, VD_TOPOLOGY_MAX_ERRORS);
	assert_string_equal(L->errors[0], "t.topo:1:1: unexpected character '@'");
	assert_string_equal(L->errors[VD_TOPOLOGY_MAX_ERRORS - 1],
			    "t.topo:1:199: unexpected character '@' (too many errors, stopping)");
	assert_int_equal(L->n, 1);
	assert_int_equal(L->tok[0].type, VD_TOK_EOF);
}

static void test_describe(void **state)
{
	struct lexed *L = lex("w 3dB \"s\" -> \n");
	char buf[64];

	(void)state;
	assert_string_equal(vd_token_describe(&L->tok[0], buf, sizeof(buf)), "'w'");
	assert_string_equal(vd_token_describe(&L->tok[1], buf, sizeof(buf)), "the number 3dB");
	assert_string_equal(vd_token_describe(&L->tok[2], buf, sizeof(buf)), "the string \"s\"");
	assert_string_equal(vd_token_describe(&L->tok[3], buf, sizeof(buf)), "'->'");
	assert_string_equal(vd_token_describe(&L->tok[4], buf, sizeof(buf)), "a new line");
	assert_string_equal(vd_token_describe(&L->tok[5], buf, sizeof(buf)), "the end of the file");
}

static void test_empty_input(void **state)
{
	struct lexed *L = lex_n(NULL, 0);

	(void)state;
	assert_int_equal(L->n_errors, 0);
	assert_token(&L->tok[0], VD_TOK_EOF, NULL, 1, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_punctuation_and_words),
		cmocka_unit_test(test_word_joins),
		cmocka_unit_test(test_numbers_and_units),
		cmocka_unit_test(test_number_boundaries),
		cmocka_unit_test(test_bad_numbers),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_bad_strings),
		cmocka_unit_test(test_comments_and_whitespace),
		cmocka_unit_test(test_unexpected_characters),
		cmocka_unit_test(test_error_limit),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_empty_input),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	struct lexed *L = lex("");

	vd_arena_free(&L->arena);
	return r;
}
