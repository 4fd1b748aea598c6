/* topology/parser.c - recursive-descent parser for topology files, with error recovery and link resolution. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lexer.h"
#include "priv.h"

/* Objects and lists nest at most this deep (keeps the recursion bounded). */
#define MAX_DEPTH 32
#define MAX_PERIOD 65536
#define MIN_RATE 1000
#define MAX_RATE 768000

struct parser {
	struct vd_lexer lx;
	struct vd_token tok, next;	/* two tokens of lookahead: "WORD =" starts a setting */
	struct vd_token prev;		/* the token before tok, for hints in messages */
	struct vd_topology *t;
	int depth;
};

static void advance(struct parser *P)
{
	P->prev = P->tok;
	P->tok = P->next;
	vd_lexer_next(&P->lx, &P->next);
}

static bool at(const struct parser *P, enum vd_token_type type)
{
	return P->tok.type == type;
}

static bool at_word(const struct parser *P, const char *word)
{
	return P->tok.type == VD_TOK_WORD && strcmp(P->tok.text, word) == 0;
}

static bool at_separator(const struct parser *P)
{
	return at(P, VD_TOK_NEWLINE) || at(P, VD_TOK_SEMICOLON) || at(P, VD_TOK_COMMA);
}

static void skip_separators(struct parser *P)
{
	while (at_separator(P))
		advance(P);
}

#define error_at(P, loc, ...) vd_lexer_error(&(P)->lx, (loc), __VA_ARGS__)

/* "expected WHAT, found <the current token>" at the current token. */
static void expected(struct parser *P, const char *what)
{
	char buf[128];

	error_at(P, &P->tok.loc, "expected %s, found %s", what,
		 vd_token_describe(&P->tok, buf, sizeof(buf)));
}

static const char *closer_text(enum vd_token_type closer)
{
	return closer == VD_TOK_RBRACKET ? "']'" : "'}'";
}

/*
 * Error recovery: drop the rest of the current item, up to a separator or
 * the @closer of the enclosing block (neither is consumed), or the end of
 * the file. Brackets opened on the way are skipped whole; stray closers of
 * another kind are dropped too, which guarantees progress.
 */
static void skip_item(struct parser *P, enum vd_token_type closer)
{
	int depth = 0;

	for (;;) {
		switch (P->tok.type) {
		case VD_TOK_EOF:
			return;
		case VD_TOK_NEWLINE:
		case VD_TOK_SEMICOLON:
		case VD_TOK_COMMA:
			if (depth == 0)
				return;
			break;
		case VD_TOK_LBRACE:
		case VD_TOK_LBRACKET:
			depth++;
			break;
		case VD_TOK_RBRACE:
		case VD_TOK_RBRACKET:
			if (depth == 0 && P->tok.type == closer)
				return;
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
		advance(P);
	}
}

/* Drop a whole '{...}' or '[...]' group, the current token being its opener. */
static void skip_group(struct parser *P)
{
	int depth = 0;

	do {
		if (at(P, VD_TOK_LBRACE) || at(P, VD_TOK_LBRACKET))
			depth++;
		else if (at(P, VD_TOK_RBRACE) || at(P, VD_TOK_RBRACKET))
			depth--;
		advance(P);
	} while (depth > 0 && !at(P, VD_TOK_EOF));
}

/* After an item: a separator, the block's closer or the end must follow. */
static void end_item(struct parser *P, enum vd_token_type closer, const char *what)
{
	char buf[160];

	if (at_separator(P) || at(P, closer) || at(P, VD_TOK_EOF))
		return;
	/* "-6 dB": the commonest way to get here, and the message alone does not say it */
	if (P->prev.type == VD_TOK_NUMBER && !P->prev.unit[0] && at(P, VD_TOK_WORD) &&
	    vd_lexer_known_unit(P->tok.text))
		snprintf(buf, sizeof(buf), "a new line, ';' or ',' after %s (a unit goes right after its "
			 "number: %s%s)", what, P->prev.text, P->tok.text);
	else
		snprintf(buf, sizeof(buf), "a new line, ';' or ',' after %s", what);
	expected(P, buf);
	skip_item(P, closer);
}

/* The end of a '{' or '[' block: consumes the closer or reports the end of the file. */
static bool close_block(struct parser *P, enum vd_token_type closer, const char *what,
			const struct vd_location *open)
{
	char buf[160];

	skip_separators(P);
	if (at(P, closer)) {
		advance(P);
		return true;
	}
	if (at(P, VD_TOK_EOF)) {
		snprintf(buf, sizeof(buf), "%s to close %s (opened at %u:%u)", closer_text(closer),
			 what, open->line, open->column);
		expected(P, buf);
		return true;
	}
	return false;
}

static const char *join_key(struct parser *P, const char *prefix, const char *key)
{
	char *k = prefix ? vd_arena_printf(&P->t->arena, "%s.%s", prefix, key)
			 : vd_arena_strndup(&P->t->arena, key, strlen(key));

	if (!k) {
		P->lx.oom = true;	/* parsing ends at the next token */
		return "";
	}
	return k;
}

static void add_prop(struct parser *P, struct vd_prop_list *l, const char *key, const struct vd_token *v)
{
	struct vd_prop p = {
		.key = key,
		.type = v->type == VD_TOK_NUMBER ? VD_PROP_NUMBER :
			v->type == VD_TOK_STRING ? VD_PROP_STRING : VD_PROP_IDENT,
		.str = v->text,
		.num = v->num,
		.unit = v->unit,
		.loc = v->loc,
	};

	if (vd_prop_list_add(l, &p) < 0)
		P->lx.oom = true;
}

static int kind_of(const char *word);

/* KIND NAME ..., link NAME ..., pipeline NAME: words that cannot start a property. */
static bool starts_statement(const struct parser *P)
{
	return P->tok.type == VD_TOK_WORD && P->next.type == VD_TOK_WORD &&
	       (kind_of(P->tok.text) >= 0 || strcmp(P->tok.text, "link") == 0 ||
		strcmp(P->tok.text, "pipeline") == 0);
}

enum value_result {
	VALUE_OK,
	VALUE_MISSING,		/* reported, nothing consumed: the caller skips the item */
	VALUE_ABANDONED,	/* a block stopped at the next statement: unwind to it */
};

static enum value_result parse_value(struct parser *P, struct vd_prop_list *l, const char *key);

/* A forgotten '}' or ']' (perhaps eaten by an unterminated string)? Then resume at the statement. */
static bool abandon_block(struct parser *P, enum vd_token_type closer, const struct vd_location *open)
{
	char what[160];

	if (!starts_statement(P))
		return false;
	snprintf(what, sizeof(what), "%s to close the '%c' (opened at %u:%u)", closer_text(closer),
		 closer == VD_TOK_RBRACE ? '{' : '[', open->line, open->column);
	expected(P, what);
	return true;
}

/* '{' key = value ... '}' flattened under @prefix (NULL at the top of a declaration). */
static enum value_result parse_object(struct parser *P, struct vd_prop_list *l, const char *prefix)
{
	struct vd_location open = P->tok.loc;

	advance(P);
	while (!close_block(P, VD_TOK_RBRACE, "the '{'", &open)) {
		char what[160];
		const char *key;
		enum value_result r;

		if (!at(P, VD_TOK_WORD)) {
			expected(P, "a property name");
			skip_item(P, VD_TOK_RBRACE);
			continue;
		}
		if (abandon_block(P, VD_TOK_RBRACE, &open))
			return VALUE_ABANDONED;
		key = join_key(P, prefix, P->tok.text);
		advance(P);
		if (!at(P, VD_TOK_EQUALS)) {
			snprintf(what, sizeof(what), "'=' after '%s'", key);
			expected(P, what);
			skip_item(P, VD_TOK_RBRACE);
			continue;
		}
		advance(P);
		r = parse_value(P, l, key);
		if (r == VALUE_ABANDONED)
			return r;
		if (r == VALUE_MISSING) {
			skip_item(P, VD_TOK_RBRACE);
			continue;
		}
		snprintf(what, sizeof(what), "the value of '%s'", key);
		end_item(P, VD_TOK_RBRACE, what);
	}
	return VALUE_OK;
}

/* '[' value ... ']' flattened to @prefix.0, @prefix.1, ... */
static enum value_result parse_list(struct parser *P, struct vd_prop_list *l, const char *prefix)
{
	struct vd_location open = P->tok.loc;
	unsigned index = 0;

	advance(P);
	while (!close_block(P, VD_TOK_RBRACKET, "the '['", &open)) {
		char *key;
		enum value_result r;

		if (abandon_block(P, VD_TOK_RBRACKET, &open))
			return VALUE_ABANDONED;
		key = vd_arena_printf(&P->t->arena, "%s.%u", prefix, index++);
		if (!key) {
			P->lx.oom = true;
			key = "";
		}
		r = parse_value(P, l, key);
		if (r == VALUE_ABANDONED)
			return r;
		if (r == VALUE_MISSING) {
			skip_item(P, VD_TOK_RBRACKET);
			continue;
		}
		end_item(P, VD_TOK_RBRACKET, "a list element");
	}
	return VALUE_OK;
}

static enum value_result parse_value(struct parser *P, struct vd_prop_list *l, const char *key)
{
	char what[160];
	enum value_result r;

	switch (P->tok.type) {
	case VD_TOK_NUMBER:
	case VD_TOK_STRING:
	case VD_TOK_WORD:
		add_prop(P, l, key, &P->tok);
		advance(P);
		return VALUE_OK;
	case VD_TOK_LBRACE:
	case VD_TOK_LBRACKET:
		if (P->depth >= MAX_DEPTH) {
			error_at(P, &P->tok.loc, "objects and lists nest too deeply (at most %d levels)", MAX_DEPTH);
			skip_group(P);
			return VALUE_OK;
		}
		P->depth++;
		if (at(P, VD_TOK_LBRACE))
			r = parse_object(P, l, key);
		else
			r = parse_list(P, l, key);
		P->depth--;
		return r;
	default:
		snprintf(what, sizeof(what), "a value for '%s'", key);
		expected(P, what);
		return VALUE_MISSING;
	}
}

/* Every flattened key once: reports the later copies. */
static void check_duplicate_keys(struct parser *P, const struct vd_prop_list *l)
{
	struct vd_name_map seen = { 0 };

	for (uint32_t i = 0; i < l->props.n; i++) {
		const struct vd_prop *p = &l->props.items[i];
		size_t first;
		int r = vd_name_map_put(&seen, p->key, i, &first);

		if (r < 0) {
			P->lx.oom = true;
			break;
		}
		if (r == 1) {
			const struct vd_location *f = &l->props.items[first].loc;

			error_at(P, &p->loc, "duplicate property '%s' (first set at %u:%u)",
				 p->key, f->line, f->column);
		}
	}
	vd_name_map_free(&seen);
}

static const char *const kind_words[] = {
	[VD_TOPO_SOURCE] = "source",
	[VD_TOPO_SINK] = "sink",
	[VD_TOPO_ATTACH] = "attach",
	[VD_TOPO_NODE] = "node",
};

static int kind_of(const char *word)
{
	for (int k = 0; k < 4; k++)
		if (strcmp(word, kind_words[k]) == 0)
			return k;
	return -1;
}

/* A word naming something: takes it, or reports "expected @what" and returns NULL. */
static const char *take_word(struct parser *P, const char *what, struct vd_location *loc)
{
	const char *w;

	if (!at(P, VD_TOK_WORD)) {
		expected(P, what);
		return NULL;
	}
	w = P->tok.text;
	*loc = P->tok.loc;
	advance(P);
	return w;
}

/* KIND NAME TYPE [ { properties } ] */
static void parse_declaration(struct parser *P, size_t pipeline, int kind)
{
	struct vd_topology *t = P->t;
	struct vd_topo_object o = { .kind = kind, .pipeline = pipeline, .loc = P->tok.loc };
	struct vd_location name_loc, type_loc;
	bool abandoned = false;
	char what[160];
	size_t first;
	int r;

	advance(P);
	snprintf(what, sizeof(what), "a name for the %s", kind_words[kind]);
	o.name = take_word(P, what, &name_loc);
	if (!o.name)
		goto skip;
	snprintf(what, sizeof(what), "a %s for %s '%s'", kind == VD_TOPO_ATTACH ?
		 "direction (playback or capture)" : "type", kind_words[kind], o.name);
	o.type = take_word(P, what, &type_loc);
	if (!o.type)
		goto skip;

	switch (kind) {
	case VD_TOPO_NODE:
		o.node_type = o.type;
		break;
	case VD_TOPO_SOURCE:
	case VD_TOPO_SINK:
		o.node_type = vd_arena_printf(&t->arena, "%s-%s", o.type, kind_words[kind]);
		break;
	case VD_TOPO_ATTACH:
		if (strcmp(o.type, "playback") != 0 && strcmp(o.type, "capture") != 0)
			error_at(P, &type_loc, "attach point '%s' must be playback or capture, not '%s'",
				 o.name, o.type);
		o.node_type = vd_arena_printf(&t->arena, "attach-%s", o.type);
		break;
	}
	if (!o.node_type) {
		P->lx.oom = true;
		return;
	}
	if (at(P, VD_TOK_LBRACE)) {
		P->depth = 1;
		abandoned = parse_object(P, &o.props, NULL) == VALUE_ABANDONED;
		P->depth = 0;
		check_duplicate_keys(P, &o.props);
	}
	if (!abandoned)
		end_item(P, VD_TOK_RBRACE, "a declaration");
	o.props.props.loc = o.loc;

	if (vd_topo_reserve((void **)&t->objects, &t->cap_objects, t->n_objects, sizeof(o)) < 0)
		goto oom;
	r = vd_name_map_put(&t->object_names, o.name, t->n_objects, &first);
	if (r < 0)
		goto oom;
	if (r == 1) {
		/* Links then resolve to the first declaration, so keep only that one. */
		const struct vd_location *f = &t->objects[first].loc;

		error_at(P, &name_loc, "duplicate name '%s' (first declared at %u:%u)",
			 o.name, f->line, f->column);
		free(o.props.props.items);
		return;
	}
	t->objects[t->n_objects++] = o;
	return;
oom:
	P->lx.oom = true;
	free(o.props.props.items);
	return;
skip:
	skip_item(P, VD_TOK_RBRACE);
}

static bool parse_end(struct parser *P, struct vd_topo_end *end)
{
	end->name = take_word(P, "the name of a node, source, sink or attach point", &end->loc);
	end->port = NULL;
	if (!end->name)
		return false;
	if (!at(P, VD_TOK_COLON))
		return true;
	advance(P);
	if (at(P, VD_TOK_WORD) ||
	    (at(P, VD_TOK_NUMBER) && !P->tok.unit[0] && P->tok.num >= 0 &&
	     P->tok.num == floor(P->tok.num) && P->tok.text[0] != '+')) {
		end->port = P->tok.text;
		advance(P);
		return true;
	}
	char what[160];
	snprintf(what, sizeof(what), "a port name or number after '%s:'", end->name);
	expected(P, what);
	return false;
}

/* link a[:port] -> b[:port] [-> c ...]: one vd_topo_link per arrow. */
static void parse_link(struct parser *P, enum vd_token_type closer)
{
	struct vd_topology *t = P->t;
	struct vd_topo_end from, to;

	advance(P);
	if (!parse_end(P, &from))
		goto skip;
	if (!at(P, VD_TOK_ARROW)) {
		char what[160];

		snprintf(what, sizeof(what), "'->' after '%s'", from.name);
		expected(P, what);
		goto skip;
	}
	while (at(P, VD_TOK_ARROW)) {
		advance(P);
		while (at(P, VD_TOK_NEWLINE))
			advance(P);
		if (!parse_end(P, &to))
			goto skip;
		if (vd_topo_reserve((void **)&t->links, &t->cap_links, t->n_links, sizeof(t->links[0])) < 0) {
			P->lx.oom = true;
			return;
		}
		t->links[t->n_links++] = (struct vd_topo_link){ .from = from, .to = to };
		from = to;
	}
	end_item(P, closer, "a link");
	return;
skip:
	skip_item(P, closer);
}

static void report_error(struct parser *P, const struct vd_error *e)
{
	error_at(P, &e->loc, "%s", e->msg);
}

static void set_rate(struct parser *P, struct vd_topo_pipeline *pl, struct vd_props *s)
{
	struct vd_error err;
	double rate = 0;

	vd_error_clear(&err);
	if (vd_props_number(s, "rate", VD_UNIT_HZ, MIN_RATE, MAX_RATE, &rate, &err) < 0) {
		report_error(P, &err);
	} else if (rate != floor(rate)) {
		const struct vd_prop *r = vd_props_find(s, "rate");

		error_at(P, &r->loc, "'rate' = %s is not a whole number of Hz", r->str);
	} else {
		pl->rate = (uint32_t)rate;
	}
}

/*
 * A period in frames is taken at once; one in time units needs the rate,
 * which may come later in the pipeline: then it returns true (pending)
 * unless @final, which is the pipeline's end.
 */
static bool set_period(struct parser *P, struct vd_topo_pipeline *pl, struct vd_props *s, bool final)
{
	const struct vd_prop *period = vd_props_find(s, "period");
	struct vd_error err;
	uint32_t frames = 0;
	double seconds, n;

	vd_error_clear(&err);
	if (period->type != VD_PROP_NUMBER || !period->unit[0]) {
		if (vd_props_uint(s, "period", 1, MAX_PERIOD, &frames, &err) < 0)
			report_error(P, &err);
		pl->period = frames;
		return false;
	}
	if (vd_props_number(s, "period", VD_UNIT_SECONDS, 0, 1e6, &seconds, &err) < 0) {
		report_error(P, &err);
		return false;
	}
	if (!pl->rate) {
		if (!final)
			return true;
		/* With a bad rate (reported already) there is nothing to say about the period. */
		if (!vd_props_find(s, "rate"))
			error_at(P, &period->loc, "'period' = %s needs the pipeline's rate (or give it in frames)",
				 period->str);
		return false;
	}
	n = round(seconds * pl->rate);
	if (n < 1 || n > MAX_PERIOD) {
		error_at(P, &period->loc, "'period' = %s is %.0f frames at %u Hz; it must be 1 to %d",
			 period->str, n, pl->rate, MAX_PERIOD);
		return false;
	}
	pl->period = (uint32_t)n;
	return false;
}

/* rate = ..., period = ... */
static void parse_setting(struct parser *P, size_t pipeline, struct vd_prop_list *settings,
			  bool *period_pending)
{
	struct vd_topo_pipeline *pl = &P->t->pipelines[pipeline];
	const char *key = P->tok.text;
	struct vd_location loc = P->tok.loc;
	const struct vd_prop *first;

	if (strcmp(key, "rate") != 0 && strcmp(key, "period") != 0) {
		error_at(P, &loc, "unknown pipeline setting '%s' (rate, period)", key);
		skip_item(P, VD_TOK_RBRACE);
		return;
	}
	advance(P);	/* the key */
	advance(P);	/* '=' */
	if (!at(P, VD_TOK_NUMBER) && !at(P, VD_TOK_WORD) && !at(P, VD_TOK_STRING)) {
		char what[64];

		snprintf(what, sizeof(what), "a single value for '%s'", key);
		expected(P, what);
		skip_item(P, VD_TOK_RBRACE);
		return;
	}
	first = vd_props_find(&settings->props, key);
	if (first) {
		error_at(P, &loc, "duplicate setting '%s' (first set at %u:%u)", key,
			 first->loc.line, first->loc.column);
	} else if (!P->tok.bad) {
		add_prop(P, settings, key, &P->tok);
		if (P->lx.oom)
			return;
		if (key[0] == 'r') {
			set_rate(P, pl, &settings->props);
		} else {
			*period_pending = set_period(P, pl, &settings->props, false);
		}
	}
	advance(P);
	end_item(P, VD_TOK_RBRACE, "a setting");
}

/* pipeline NAME { settings, declarations, links }. False if it stopped at the next 'pipeline'. */
static bool parse_pipeline(struct parser *P)
{
	struct vd_topology *t = P->t;
	struct vd_topo_pipeline pl = { .loc = P->tok.loc };
	struct vd_prop_list settings = { 0 };
	struct vd_location name_loc, open;
	size_t index = t->n_pipelines, first;
	bool period_pending = false, closed = true;
	int r;

	advance(P);
	pl.name = take_word(P, "a pipeline name", &name_loc);
	if (!pl.name) {
		/* Parse the body anyway (its errors are real), under a name nobody can write. */
		if (!at(P, VD_TOK_LBRACE)) {
			skip_item(P, VD_TOK_EOF);
			return true;
		}
		pl.name = "";
		name_loc = P->tok.loc;
	}
	if (!at(P, VD_TOK_LBRACE)) {
		char what[160];

		snprintf(what, sizeof(what), "'{' after 'pipeline %s'", pl.name);
		expected(P, what);
		skip_item(P, VD_TOK_EOF);
		return true;
	}
	open = P->tok.loc;
	advance(P);

	if (pl.name[0]) {
		r = vd_name_map_put(&t->pipeline_names, pl.name, index, &first);
		if (r < 0) {
			P->lx.oom = true;
			return true;
		}
		if (r == 1)
			error_at(P, &name_loc, "duplicate pipeline '%s' (first declared at %u:%u)", pl.name,
				 t->pipelines[first].loc.line, t->pipelines[first].loc.column);
	}
	if (vd_topo_reserve((void **)&t->pipelines, &t->cap_pipelines, index, sizeof(pl)) < 0) {
		P->lx.oom = true;
		return true;
	}
	t->pipelines[t->n_pipelines++] = pl;

	for (;;) {
		char what[160];
		int kind;

		snprintf(what, sizeof(what), "pipeline '%s'", pl.name);
		if (close_block(P, VD_TOK_RBRACE, what, &open) || P->lx.oom)
			break;
		if (!at(P, VD_TOK_WORD)) {
			expected(P, "a setting, a declaration or a link");
			skip_item(P, VD_TOK_RBRACE);
			continue;
		}
		if (P->next.type == VD_TOK_EQUALS) {
			parse_setting(P, index, &settings, &period_pending);
		} else if (at_word(P, "link")) {
			parse_link(P, VD_TOK_RBRACE);
		} else if ((kind = kind_of(P->tok.text)) >= 0) {
			parse_declaration(P, index, kind);
		} else if (at_word(P, "pipeline")) {
			/* More likely a forgotten '}' than an attempt to nest. */
			snprintf(what, sizeof(what), "'}' to close pipeline '%s' (opened at %u:%u)",
				 pl.name, open.line, open.column);
			expected(P, what);
			closed = false;
			break;
		} else {
			error_at(P, &P->tok.loc,
				 "unknown kind '%s' (node, source, sink, attach, link, or a setting: name = value)",
				 P->tok.text);
			skip_item(P, VD_TOK_RBRACE);
		}
	}
	if (period_pending && !P->lx.oom)
		set_period(P, &t->pipelines[index], &settings.props, true);
	free(settings.props.items);
	return closed;
}

static void parse_file(struct parser *P)
{
	for (;;) {
		skip_separators(P);
		if (at(P, VD_TOK_EOF) || P->lx.oom)
			return;
		if (at_word(P, "pipeline")) {
			if (parse_pipeline(P))
				end_item(P, VD_TOK_EOF, "a pipeline");
		} else if (at_word(P, "link")) {
			parse_link(P, VD_TOK_EOF);
		} else if (at(P, VD_TOK_WORD) && kind_of(P->tok.text) >= 0) {
			error_at(P, &P->tok.loc, "a %s must be declared inside a pipeline", P->tok.text);
			skip_item(P, VD_TOK_EOF);
		} else {
			expected(P, "'pipeline' or 'link'");
			skip_item(P, VD_TOK_EOF);
		}
	}
}

static bool resolve_end(struct parser *P, struct vd_topo_end *end)
{
	if (vd_name_map_get(&P->t->object_names, end->name, &end->object))
		return true;
	error_at(P, &end->loc, "'%s' is not declared", end->name);
	return false;
}

/* Links may name objects declared later (or in other pipelines): resolved once all is read. */
static void resolve_links(struct parser *P)
{
	struct vd_topology *t = P->t;

	bool ok_to = false;

	for (size_t i = 0; i < t->n_links; i++) {
		struct vd_topo_link *l = &t->links[i];
		/* In a chain a -> b -> c, b ends one link and starts the next: resolve it once. */
		bool chained = i > 0 && l->from.loc.line == l[-1].to.loc.line &&
			       l->from.loc.column == l[-1].to.loc.column;
		bool ok_from = chained ? ok_to : resolve_end(P, &l->from);

		if (chained)
			l->from.object = l[-1].to.object;
		ok_to = resolve_end(P, &l->to);

		if (ok_from) {
			struct vd_topo_object *o = &t->objects[l->from.object];

			if (o->kind == VD_TOPO_SINK || (o->kind == VD_TOPO_ATTACH && strcmp(o->type, "capture") == 0))
				error_at(P, &l->from.loc, "'%s' is a %s: nothing can be linked out of it",
					 o->name, o->kind == VD_TOPO_SINK ? "sink" : "capture attach point");
			else
				o->n_outputs++;
		}
		if (ok_to) {
			struct vd_topo_object *o = &t->objects[l->to.object];

			if (o->kind == VD_TOPO_SOURCE || (o->kind == VD_TOPO_ATTACH && strcmp(o->type, "playback") == 0))
				error_at(P, &l->to.loc, "'%s' is a %s: nothing can be linked into it",
					 o->name, o->kind == VD_TOPO_SOURCE ? "source" : "playback attach point");
			else
				o->n_inputs++;
		}
	}
}

int vd_topology_parse(struct vd_topology *t, const char *text, size_t len, struct vd_diag *diag)
{
	struct parser P = { .t = t };

	vd_lexer_init(&P.lx, text, len, t->file, &t->arena, diag);
	vd_lexer_next(&P.lx, &P.tok);
	vd_lexer_next(&P.lx, &P.next);
	parse_file(&P);
	if (!P.lx.oom && !P.lx.stopped)
		resolve_links(&P);
	if (P.lx.oom)
		return -ENOMEM;
	return P.lx.errors ? -EINVAL : 0;
}
