/* util/error.c - struct vd_error: first-error-wins reports with locations. */
#include <stdio.h>
#include <string.h>

#include <virtdsp/error.h>

void vd_error_clear(struct vd_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

int vd_error_vset(struct vd_error *err, int code, const struct vd_location *loc,
		  const char *fmt, va_list ap)
{
	if (!err || err->code != 0)
		return code;
	err->code = code;
	if (loc)
		err->loc = *loc;
	else
		memset(&err->loc, 0, sizeof(err->loc));
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return code;
}

int vd_error_set(struct vd_error *err, int code, const struct vd_location *loc,
		 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	code = vd_error_vset(err, code, loc, fmt, ap);
	va_end(ap);
	return code;
}

const char *vd_error_format(const struct vd_error *err, char *buf, size_t size)
{
	const struct vd_location *l = &err->loc;

	if (size == 0)
		return buf;
	if (l->file && l->line && l->column)
		snprintf(buf, size, "%s:%u:%u: %s", l->file, l->line, l->column, err->msg);
	else if (l->file && l->line)
		snprintf(buf, size, "%s:%u: %s", l->file, l->line, err->msg);
	else if (l->file)
		snprintf(buf, size, "%s: %s", l->file, err->msg);
	else
		snprintf(buf, size, "%s", err->msg);
	return buf;
}
