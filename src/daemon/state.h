/* daemon/state.h - the state file of `virtdsp serve`: every guest's control
 * values by guest name and control name, loaded at start-up and written
 * atomically after each change (docs/serve.md, "State file"). */
#ifndef VD_DAEMON_STATE_H
#define VD_DAEMON_STATE_H

#include <stdbool.h>
#include <stddef.h>

struct vd_state;

#define VD_STATE_NAME_MAX 255		/* bytes of a guest or control name */

/** Where the state lives by default: $XDG_STATE_HOME/virtdsp/state, ~/.local/state/virtdsp/state,
 * /var/lib/virtdsp/state for root. -ENOENT if neither XDG_STATE_HOME nor HOME is set. */
int vd_state_default_path(char *buf, size_t size);

/** An empty state written to @path (NULL: kept in memory only, never written). */
int vd_state_new(const char *path, struct vd_state **out);
void vd_state_free(struct vd_state *st);
const char *vd_state_path(const struct vd_state *st);

/**
 * vd_state_load() - read the file. A missing file is an empty state (0).
 * A corrupt one: -EINVAL, @err says "PATH:LINE:COLUMN: what" and where the
 * file was moved aside (PATH.corrupt-SECONDS); the state is left empty so
 * the daemon runs with defaults. Other errors: -errno, @err says which.
 */
int vd_state_load(struct vd_state *st, char *err, size_t errsz);
/** Parse @text (named @name in messages) into @st, replacing its content; on error @st is emptied. */
int vd_state_parse(struct vd_state *st, const char *text, size_t len, const char *name, char *err,
		   size_t errsz);
/** The file's text for @st (malloc'd, NUL-terminated). */
int vd_state_format(const struct vd_state *st, char **text, size_t *len);
/**
 * vd_state_save() - write the whole state atomically: a temporary file in
 * the same directory (created 0700 if missing), fsync, rename over the file,
 * fsync the directory. A crash at any point leaves the old or the new file.
 * No-op without a path.
 */
int vd_state_save(struct vd_state *st, char *err, size_t errsz);

/** Set (in memory) @guest's @control. -EINVAL for an empty or too long name. */
int vd_state_set(struct vd_state *st, const char *guest, const char *control, double value);
/** -ENOENT if nothing is stored. */
int vd_state_get(const struct vd_state *st, const char *guest, const char *control, double *value);
/** Controls stored for @guest, in file order: how many, and the @i-th (NULL past the end). */
size_t vd_state_count(const struct vd_state *st, const char *guest);
const char *vd_state_control(const struct vd_state *st, const char *guest, size_t i, double *value);

#endif
