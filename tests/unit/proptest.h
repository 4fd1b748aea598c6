/* tests/unit/proptest.h - build struct vd_props by hand, value by value, with locations
 * (the endpoint tests; node tests use nodetest.h's "key=value" strings instead). */
#ifndef VD_PROPTEST_H
#define VD_PROPTEST_H

#include <stdint.h>
#include <stdio.h>

#include <virtdsp/node.h>

struct pbuf {
	struct vd_prop items[8];
	char text[8][32];
	struct vd_props props;
};

static inline struct vd_props *props_of(struct pbuf *b)
{
	b->props.items = b->items;
	return &b->props;
}

static inline void prop_str(struct pbuf *b, const char *key, const char *s)
{
	uint32_t i = b->props.n++;

	b->items[i] = (struct vd_prop){ .key = key, .type = VD_PROP_STRING, .str = s, .unit = "",
					.loc = { "t.vdt", i + 1, 5 } };
}

static inline void prop_ident(struct pbuf *b, const char *key, const char *s)
{
	uint32_t i = b->props.n++;

	b->items[i] = (struct vd_prop){ .key = key, .type = VD_PROP_IDENT, .str = s, .unit = "",
					.loc = { "t.vdt", i + 1, 5 } };
}

static inline void prop_num(struct pbuf *b, const char *key, double v, const char *unit)
{
	uint32_t i = b->props.n++;

	snprintf(b->text[i], sizeof(b->text[i]), "%g%s", v, unit);
	b->items[i] = (struct vd_prop){ .key = key, .type = VD_PROP_NUMBER, .str = b->text[i],
					.num = v, .unit = unit, .loc = { "t.vdt", i + 1, 5 } };
}

#endif
