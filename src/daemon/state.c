/* daemon/state.c - the state file (see state.h): its parser and writer, the
 * in-memory table of guests' control values, and the atomic replace. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/state.h"

#define MAGIC "virtdsp-state"
#define VERSION 1
#define MAX_FILE (16u << 20)	/* far beyond any real state; refuses a wrong path's huge file */

struct entry {
	char *control;
	double value;
};

struct sguest {
	char *name;
	struct entry *e;
	size_t n, cap;
};

struct vd_state {
	char *path;
	struct sguest *g;
	size_t n, cap;
};

int vd_state_default_path(char *buf, size_t size)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int n;

	if (geteuid() == 0)
		n = snprintf(buf, size, "/var/lib/virtdsp/state");
	else if (xdg && xdg[0] == '/')
		n = snprintf(buf, size, "%s/virtdsp/state", xdg);
	else if (home && home[0])
		n = snprintf(buf, size, "%s/.local/state/virtdsp/state", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int vd_state_new(const char *path, struct vd_state **out)
{
	struct vd_state *st = calloc(1, sizeof(*st));

	if (!st)
		return -ENOMEM;
	if (path && !(st->path = strdup(path))) {
		free(st);
		return -ENOMEM;
	}
	*out = st;
	return 0;
}

static void clear(struct vd_state *st)
{
	for (size_t i = 0; i < st->n; i++) {
		for (size_t k = 0; k < st->g[i].n; k++)
			free(st->g[i].e[k].control);
		free(st->g[i].e);
		free(st->g[i].name);
	}
	free(st->g);
	st->g = NULL;
	st->n = st->cap = 0;
}

void vd_state_free(struct vd_state *st)
{
	if (!st)
		return;
	clear(st);
	free(st->path);
	free(st);
}

const char *vd_state_path(const struct vd_state *st)
{
	return st->path;
}

static struct sguest *find_guest(const struct vd_state *st, const char *name)
{
	for (size_t i = 0; i < st->n; i++)
		if (strcmp(st->g[i].name, name) == 0)
			return &st->g[i];
	return NULL;
}

static struct entry *find_entry(const struct sguest *g, const char *control)
{
	for (size_t k = 0; g && k < g->n; k++)
		if (strcmp(g->e[k].control, control) == 0)
			return &g->e[k];
	return NULL;
}

static struct sguest *add_guest(struct vd_state *st, const char *name)
{
	struct sguest *g;

	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 4;
		struct sguest *ng = realloc(st->g, cap * sizeof(*ng));

		if (!ng)
			return NULL;
		st->g = ng;
		st->cap = cap;
	}
	g = &st->g[st->n];
	memset(g, 0, sizeof(*g));
	if (!(g->name = strdup(name)))
		return NULL;
	st->n++;
	return g;
}

static struct entry *add_entry(struct sguest *g, const char *control, double value)
{
	struct entry *e;

	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 8;
		struct entry *ne = realloc(g->e, cap * sizeof(*ne));

		if (!ne)
			return NULL;
		g->e = ne;
		g->cap = cap;
	}
	e = &g->e[g->n];
	if (!(e->control = strdup(control)))
		return NULL;
	e->value = value;
	g->n++;
	return e;
}

static bool name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n > 0 && n <= VD_STATE_NAME_MAX;
}

int vd_state_set(struct vd_state *st, const char *guest, const char *control, double value)
{
	struct sguest *g;
	struct entry *e;

	if (!name_ok(guest) || !name_ok(control) || !isfinite(value))
		return -EINVAL;
	g = find_guest(st, guest);
	if (!g && !(g = add_guest(st, guest)))
		return -ENOMEM;
	e = find_entry(g, control);
	if (e) {
		e->value = value;
		return 0;
	}
	return add_entry(g, control, value) ? 0 : -ENOMEM;
}

int vd_state_get(const struct vd_state *st, const char *guest, const char *control, double *value)
{
	struct entry *e = find_entry(find_guest(st, guest), control);

	if (!e)
		return -ENOENT;
	*value = e->value;
	return 0;
}

size_t vd_state_count(const struct vd_state *st, const char *guest)
{
	struct sguest *g = find_guest(st, guest);

	return g ? g->n : 0;
}

const char *vd_state_control(const struct vd_state *st, const char *guest, size_t i, double *value)
{
	struct sguest *g = find_guest(st, guest);

	if (!g || i >= g->n)
		return NULL;
	if (value)
		*value = g->e[i].value;
	return g->e[i].control;
}

/* ---- the text format ---- */

struct parser {
	const char *s, *end, *name;
	const char *line_start;
	unsigned line;
	char *err;
	size_t errsz;
};

static int perr(struct parser *p, const char *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(struct parser *p, const char *at, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(p->err, p->errsz, "%s:%u:%u: ", p->name, p->line,
			 (unsigned)(at - p->line_start) + 1);

	if (n >= 0 && (size_t)n < p->errsz) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errsz - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static const char *line_end(const struct parser *p)
{
	const char *e = memchr(p->s, '\n', (size_t)(p->end - p->s));

	return e ? e : p->end;
}

static void skip_blanks(struct parser *p, const char *eol)
{
	while (p->s < eol && (*p->s == ' ' || *p->s == '\t'))
		p->s++;
}

/* A quoted string: printable bytes (UTF-8 passes), \" and \\ the only escapes. */
static int parse_string(struct parser *p, const char *eol, char *out)
{
	const char *start = p->s;
	size_t n = 0;

	if (p->s >= eol || *p->s != '"')
		return perr(p, p->s, "expected a quoted name");
	p->s++;
	for (;;) {
		unsigned char c;

		if (p->s >= eol)
			return perr(p, start, "unterminated string");
		c = (unsigned char)*p->s;
		if (c == '"')
			break;
		if (c == '\\') {
			if (p->s + 1 >= eol || (p->s[1] != '"' && p->s[1] != '\\'))
				return perr(p, p->s, "unknown escape (only \\\" and \\\\ are allowed)");
			c = (unsigned char)*++p->s;
		} else if (c < 0x20 || c == 0x7f) {
			return perr(p, p->s, "control character in a string");
		}
		if (n == VD_STATE_NAME_MAX)
			return perr(p, start, "name longer than %d bytes", VD_STATE_NAME_MAX);
		out[n++] = (char)c;
		p->s++;
	}
	p->s++;
	out[n] = '\0';
	if (n == 0)
		return perr(p, start, "empty name");
	return 0;
}

static int parse_number(struct parser *p, const char *eol, double *v)
{
	char buf[64], *endp;
	const char *start = p->s;
	size_t n = 0;

	while (p->s < eol && strchr("+-.0123456789eE", *p->s) && *p->s) {
		if (n == sizeof(buf) - 1)
			return perr(p, start, "number too long");
		buf[n++] = *p->s++;
	}
	buf[n] = '\0';
	if (n == 0)
		return perr(p, start, "expected a number");
	errno = 0;
	*v = strtod(buf, &endp);
	if (*endp || errno == ERANGE || !isfinite(*v))
		return perr(p, start, "'%s' is not a finite number", buf);
	return 0;
}

static int expect_end(struct parser *p, const char *eol)
{
	skip_blanks(p, eol);
	if (p->s < eol && *p->s != '#')
		return perr(p, p->s, "unexpected text after the end of the line's item");
	return 0;
}

int vd_state_parse(struct vd_state *st, const char *text, size_t len, const char *name, char *err,
		   size_t errsz)
{
	struct parser p = { .s = text, .end = text + len, .name = name, .err = err, .errsz = errsz };
	struct sguest *g = NULL;
	bool header = false;
	char *str;
	int r = 0;

	err[0] = '\0';
	clear(st);
	str = malloc(VD_STATE_NAME_MAX + 1);
	if (!str)
		return -ENOMEM;
	const char *nul = memchr(text, '\0', len);

	if (nul) {
		p.line = 1;
		p.line_start = text;
		for (const char *c = text; c < nul; c++)
			if (*c == '\n') {
				p.line++;
				p.line_start = c + 1;
			}
		r = perr(&p, nul, "NUL byte: not a text file");
		goto out;
	}
	while (p.s < p.end && r == 0) {
		const char *eol, *next;

		p.line++;
		p.line_start = p.s;
		next = line_end(&p);
		/* CRLF files (edited elsewhere) read as LF ones */
		eol = next > p.s && next[-1] == '\r' ? next - 1 : next;
		skip_blanks(&p, eol);
		if (p.s == eol || *p.s == '#') {
			/* blank or comment */
		} else if (!header) {
			double v;

			if ((size_t)(eol - p.s) < sizeof(MAGIC) - 1 || memcmp(p.s, MAGIC, sizeof(MAGIC) - 1) != 0) {
				r = perr(&p, p.s, "expected '" MAGIC " %d' (is this a virtdsp state file?)", VERSION);
				break;
			}
			p.s += sizeof(MAGIC) - 1;
			skip_blanks(&p, eol);
			const char *at = p.s;

			if ((r = parse_number(&p, eol, &v)) < 0)
				break;
			if (v != VERSION) {
				r = perr(&p, at, "version %g is not supported (this daemon reads version %d)", v, VERSION);
				break;
			}
			r = expect_end(&p, eol);
			header = true;
		} else if ((size_t)(eol - p.s) >= 5 && memcmp(p.s, "guest", 5) == 0 &&
			   (p.s + 5 == eol || p.s[5] == ' ' || p.s[5] == '\t')) {
			const char *at;

			p.s += 5;
			skip_blanks(&p, eol);
			at = p.s;
			if ((r = parse_string(&p, eol, str)) < 0 || (r = expect_end(&p, eol)) < 0)
				break;
			if (find_guest(st, str)) {
				r = perr(&p, at, "guest \"%s\" appears twice", str);
				break;
			}
			if (!(g = add_guest(st, str)))
				r = -ENOMEM;
		} else if (*p.s == '"') {
			const char *at = p.s;
			double v;

			if (!g) {
				r = perr(&p, p.s, "a control value before any 'guest \"NAME\"' line");
				break;
			}
			if ((r = parse_string(&p, eol, str)) < 0)
				break;
			skip_blanks(&p, eol);
			if (p.s >= eol || *p.s != '=') {
				r = perr(&p, p.s, "expected '=' after the control name");
				break;
			}
			p.s++;
			skip_blanks(&p, eol);
			if ((r = parse_number(&p, eol, &v)) < 0 || (r = expect_end(&p, eol)) < 0)
				break;
			if (find_entry(g, str)) {
				r = perr(&p, at, "control \"%s\" appears twice for guest \"%s\"", str, g->name);
				break;
			}
			if (!add_entry(g, str, v))
				r = -ENOMEM;
		} else {
			r = perr(&p, p.s, "expected 'guest \"NAME\"' or '\"CONTROL\" = VALUE'");
		}
		p.s = next < p.end ? next + 1 : next;
	}
	if (r == 0 && !header) {
		p.line = p.line ? p.line : 1;
		p.line_start = p.line_start ? p.line_start : text;
		r = perr(&p, p.s < p.end ? p.s : p.line_start, "empty file: expected '" MAGIC " %d'", VERSION);
	}
out:
	free(str);
	if (r < 0) {
		if (r == -ENOMEM)
			snprintf(err, errsz, "%s: out of memory", name);
		clear(st);
	}
	return r;
}

static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

int vd_state_format(const struct vd_state *st, char **text, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	if (!f)
		return -ENOMEM;
	fprintf(f, "# virtdsp serve's control values, by guest and control name (docs/serve.md,\n"
		   "# \"State file\"). Written after every change; edit only while the daemon is stopped.\n"
		   MAGIC " %d\n", VERSION);
	for (size_t i = 0; i < st->n; i++) {
		fputs("\nguest ", f);
		put_string(f, st->g[i].name);
		fputc('\n', f);
		for (size_t k = 0; k < st->g[i].n; k++) {
			fputs("    ", f);
			put_string(f, st->g[i].e[k].control);
			/* %.17g: the value read back is the same double */
			fprintf(f, " = %.17g\n", st->g[i].e[k].value);
		}
	}
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*text = buf;
	*len = n;
	return 0;
}

/* ---- the file ---- */

static int read_all(const char *path, char **text, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	size_t n = 0;
	char *buf;
	int r;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size > (off_t)MAX_FILE) {
		r = fstat(fd, &sb) < 0 ? -errno : S_ISREG(sb.st_mode) ? -EFBIG : -EINVAL;
		close(fd);
		return r;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (n < (size_t)sb.st_size) {
		ssize_t k = read(fd, buf + n, (size_t)sb.st_size - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

int vd_state_load(struct vd_state *st, char *err, size_t errsz)
{
	char *text = NULL, *aside = NULL;
	size_t len = 0, m;
	int r;

	err[0] = '\0';
	clear(st);
	if (!st->path)
		return 0;
	r = read_all(st->path, &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		snprintf(err, errsz, "cannot read the state file %s: %s", st->path, strerror(-r));
		return r;
	}
	r = vd_state_parse(st, text, len, st->path, err, errsz);
	free(text);
	if (r != -EINVAL)
		return r;
	/* keep the bad file for whoever wants to see what went wrong; the next save starts afresh */
	if (asprintf(&aside, "%s.corrupt-%lld", st->path, (long long)time(NULL)) < 0)
		return r;
	m = strlen(err);
	if (rename(st->path, aside) == 0)
		snprintf(err + m, errsz - m, "; moved it to %s and started with default values", aside);
	else
		snprintf(err + m, errsz - m, "; cannot move it aside (%s), starting with default values",
			 strerror(errno));
	free(aside);
	return r;
}

static int mkdirs(char *dir)
{
	struct stat sb;

	if (stat(dir, &sb) == 0)
		return S_ISDIR(sb.st_mode) ? 0 : -ENOTDIR;
	for (char *s = dir + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			int e = errno;

			*s = '/';
			return -e;
		}
		*s = '/';
	}
	return mkdir(dir, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t k = write(fd, buf, len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		buf += k;
		len -= (size_t)k;
	}
	return 0;
}

int vd_state_save(struct vd_state *st, char *err, size_t errsz)
{
	char *text = NULL, *dir = NULL, *tmp = NULL, *slash;
	const char *step = "format";
	size_t len;
	int fd = -1, dfd = -1, r;

	err[0] = '\0';
	if (!st->path)
		return 0;
	r = vd_state_format(st, &text, &len);
	if (r < 0)
		goto out;
	r = -ENOMEM;
	if (!(dir = strdup(st->path)) || asprintf(&tmp, "%s.tmp-XXXXXX", st->path) < 0) {
		tmp = NULL;
		goto out;
	}
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	step = "create the directory";
	if ((r = mkdirs(dir)) < 0)
		goto out;
	step = "create a temporary file";
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	step = "write";
	if ((r = write_all(fd, text, len)) < 0)
		goto out_unlink;
	step = "fsync";
	if (fsync(fd) < 0) {
		r = -errno;
		goto out_unlink;
	}
	close(fd);
	fd = -1;
	step = "rename";
	if (rename(tmp, st->path) < 0) {
		r = -errno;
		goto out_unlink;
	}
	/* the rename itself is durable only once the directory is */
	step = "fsync the directory";
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		r = -errno;
		goto out;
	}
	r = 0;
	goto out;
out_unlink:
	unlink(tmp);
out:
	if (r < 0)
		snprintf(err, errsz, "cannot save the state file %s (%s): %s", st->path, step, strerror(-r));
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	free(text);
	free(dir);
	free(tmp);
	return r;
}
