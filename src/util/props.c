/* util/props.c - typed lookups over a node's topology properties, with units. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <strings.h>
#include <string.h>

#include <virtdsp/node.h>

const struct vd_prop *vd_props_find(struct vd_props *p, const char *key)
{
	if (!p)
		return NULL;
	for (uint32_t i = 0; i < p->n; i++) {
		if (strcmp(p->items[i].key, key) == 0) {
			p->items[i].used = true;
			return &p->items[i];
		}
	}
	return NULL;
}

static const char *type_word(const struct vd_prop *v)
{
	switch (v->type) {
	case VD_PROP_NUMBER: return "a number";
	case VD_PROP_STRING: return "a string";
	default: return "a word";
	}
}

static const char *unit_hint(enum vd_unit unit)
{
	switch (unit) {
	case VD_UNIT_DB: return " (dB)";
	case VD_UNIT_HZ: return " (Hz or kHz)";
	case VD_UNIT_SECONDS: return " (s, ms or us)";
	default: return "";
	}
}

/* Scale @v->num by its unit suffix into @unit's base unit; -1 if the suffix does not fit. */
static int scale_unit(const struct vd_prop *v, enum vd_unit unit, double *out)
{
	const char *u = v->unit ? v->unit : "";

	if (*u == '\0') {
		*out = v->num;
		return 0;
	}
	switch (unit) {
	case VD_UNIT_DB:
		if (strcasecmp(u, "dB") == 0) {
			*out = v->num;
			return 0;
		}
		break;
	case VD_UNIT_HZ:
		if (strcasecmp(u, "Hz") == 0) {
			*out = v->num;
			return 0;
		}
		if (strcasecmp(u, "kHz") == 0) {
			*out = v->num * 1e3;
			return 0;
		}
		break;
	case VD_UNIT_SECONDS:
		if (strcmp(u, "s") == 0) {
			*out = v->num;
			return 0;
		}
		if (strcmp(u, "ms") == 0) {
			*out = v->num * 1e-3;
			return 0;
		}
		if (strcmp(u, "us") == 0) {
			*out = v->num * 1e-6;
			return 0;
		}
		break;
	default:
		break;
	}
	return -1;
}

int vd_props_number(struct vd_props *p, const char *key, enum vd_unit unit,
		    double min, double max, double *out, struct vd_error *err)
{
	const struct vd_prop *v = vd_props_find(p, key);
	double x;

	if (!v)
		return 0;
	if (v->type != VD_PROP_NUMBER)
		return vd_error_set(err, -EINVAL, &v->loc, "'%s' must be a number%s, not %s '%s'",
				    key, unit_hint(unit), type_word(v), v->str);
	if (scale_unit(v, unit, &x) < 0)
		return vd_error_set(err, -EINVAL, &v->loc, "'%s': unit '%s' does not fit here%s",
				    key, v->unit, unit_hint(unit)[0] ? unit_hint(unit) : " (a plain number)");
	if (!isfinite(x) || x < min || x > max)
		return vd_error_set(err, -EINVAL, &v->loc, "'%s' = %s%s is out of range [%g, %g]%s",
				    key, v->str, "", min, max, unit_hint(unit));
	*out = x;
	return 0;
}

int vd_props_uint(struct vd_props *p, const char *key, uint32_t min, uint32_t max,
		  uint32_t *out, struct vd_error *err)
{
	const struct vd_prop *v = vd_props_find(p, key);

	if (!v)
		return 0;
	if (v->type != VD_PROP_NUMBER || (v->unit && *v->unit) || v->num != floor(v->num))
		return vd_error_set(err, -EINVAL, &v->loc, "'%s' must be a whole number, not %s '%s'",
				    key, v->type == VD_PROP_NUMBER ? "the number" : type_word(v), v->str);
	if (v->num < min || v->num > max)
		return vd_error_set(err, -EINVAL, &v->loc, "'%s' = %s is out of range [%u, %u]",
				    key, v->str, min, max);
	*out = (uint32_t)v->num;
	return 0;
}

int vd_props_bool(struct vd_props *p, const char *key, bool *out, struct vd_error *err)
{
	const struct vd_prop *v = vd_props_find(p, key);

	if (!v)
		return 0;
	/* A string stands for a word (docs/topology.md), as enums and formats also take it. */
	if (v->type != VD_PROP_NUMBER && (strcmp(v->str, "true") == 0 || strcmp(v->str, "on") == 0)) {
		*out = true;
		return 0;
	}
	if (v->type != VD_PROP_NUMBER && (strcmp(v->str, "false") == 0 || strcmp(v->str, "off") == 0)) {
		*out = false;
		return 0;
	}
	return vd_error_set(err, -EINVAL, &v->loc, "'%s' must be true or false, not '%s'", key, v->str);
}

int vd_props_string(struct vd_props *p, const char *key, const char **out, struct vd_error *err)
{
	const struct vd_prop *v = vd_props_find(p, key);

	if (!v)
		return 0;
	if (v->type == VD_PROP_NUMBER)
		return vd_error_set(err, -EINVAL, &v->loc, "'%s' must be a string, not the number %s",
				    key, v->str);
	*out = v->str;
	return 0;
}

int vd_props_enum(struct vd_props *p, const char *key, const char *const *names,
		  int *out, struct vd_error *err)
{
	const struct vd_prop *v = vd_props_find(p, key);
	char list[256];
	size_t len = 0;

	if (!v)
		return 0;
	for (int i = 0; names[i]; i++) {
		if (v->type != VD_PROP_NUMBER && strcasecmp(v->str, names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	list[0] = '\0';
	for (int i = 0; names[i] && len + 2 < sizeof(list); i++) {
		int n = snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", names[i]);
		if (n < 0)
			break;
		len += (size_t)n;
	}
	return vd_error_set(err, -EINVAL, &v->loc, "'%s' = '%s' is not one of: %s", key, v->str, list);
}

int vd_props_format(struct vd_props *p, const char *key, enum vd_sample_format *out,
		    struct vd_error *err)
{
	const struct vd_prop *v = vd_props_find(p, key);

	if (!v)
		return 0;
	if (v->type == VD_PROP_NUMBER || vd_format_from_name(v->str, out) < 0)
		return vd_error_set(err, -EINVAL, &v->loc,
				    "'%s' = '%s' is not a sample format (u8, s16, s24, s24_3, s32, f32, f64, mulaw, alaw)",
				    key, v->str);
	return 0;
}

int vd_props_check_unused(const struct vd_props *p, const char *node_type, struct vd_error *err)
{
	if (!p)
		return 0;
	for (uint32_t i = 0; i < p->n; i++) {
		if (!p->items[i].used)
			return vd_error_set(err, -EINVAL, &p->items[i].loc,
					    "unknown property '%s' for %s", p->items[i].key, node_type);
	}
	return 0;
}
