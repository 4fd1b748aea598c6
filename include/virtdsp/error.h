/* virtdsp/error.h - per-operation error reports that carry a source location.
 *
 * Functions return 0 or a negative errno; when they also take a
 * struct vd_error they fill it with a human-readable message, and (for
 * anything that came from a topology file) the file, line and column that
 * caused it. There is no global error state.
 */
#ifndef VIRTDSP_ERROR_H
#define VIRTDSP_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VD_ERROR_MSG_MAX 512

/** Where something was written in a text file; line and column count from 1, 0 = unknown. */
struct vd_location {
	const char *file;	/**< borrowed; must outlive the error */
	unsigned line;
	unsigned column;
};

struct vd_error {
	int code;			/**< negative errno, 0 when no error was set */
	struct vd_location loc;
	char msg[VD_ERROR_MSG_MAX];
};

/** Clear @err (no-op for NULL). */
void vd_error_clear(struct vd_error *err);

/**
 * vd_error_set() - record an error unless one is already recorded.
 * @err: may be NULL (the call then only returns @code)
 * @code: negative errno
 * @loc: may be NULL
 *
 * The first error wins, so low-level helpers can report precisely and
 * callers can add nothing. Returns @code, for `return vd_error_set(...)`.
 */
int vd_error_set(struct vd_error *err, int code, const struct vd_location *loc,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int vd_error_vset(struct vd_error *err, int code, const struct vd_location *loc,
		  const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

/**
 * vd_error_format() - "file:line:column: message" (parts omitted when unknown).
 * Returns @buf.
 */
const char *vd_error_format(const struct vd_error *err, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
