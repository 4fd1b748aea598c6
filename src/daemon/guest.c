/* daemon/guest.c - one guest of `virtdsp serve` (see guest.h): the listening
 * vhost-user socket, accepting QEMU's connection, the device's fds on the
 * event loop, the tear-down that frees a departed guest's resources, its
 * jacks following the host endpoints, and its control values kept in the
 * state file. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/listen.h"
#include "daemon/guest.h"
#include "virtio_snd/virtio_snd.h"

struct slot {
	struct vd_guest *g;
	enum vd_snd_fd_kind kind;
	struct vd_loop_watch *watch;
};

struct vd_guest {
	struct vd_loop *loop;
	struct vd_graph *host;
	char *name;
	char *topology;			/* the configured path, NULL: built-in */
	bool controls, has_owner, replaced;
	uid_t owner;
	char *text;			/* the replacing topology's text (the device's) */
	struct vd_snd_dev *pending;	/* a replacement waiting for the next connection */
	char *pending_text;
	enum vd_snd_state *states;	/* per stream, as last reported */
	vd_guest_event_fn hook;
	void *hook_data;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd;
	struct vd_loop_watch *listen_watch;
	struct vd_snd_dev *dev;
	struct vd_power *power;
	struct slot slots[VD_SND_FD_COUNT];
	bool connected;
	pid_t peer;
	double t_connect;
	struct vd_guest_stats st;
	uint64_t (*base)[2];		/* per stream: frames, underruns when this connection began */
	vd_guest_log_fn log;
	void *log_data;
	struct vd_host *jack_host;
	uint64_t jacks_told;		/* bit j: jack j was last shown connected */
	struct vd_state *state;
	bool applying;			/* values from the state file: already stored there */
};

static const char *const state_names[] = {
	[VD_SND_STATE_NONE] = "idle",
	[VD_SND_STATE_PARAMS] = "params-set",
	[VD_SND_STATE_PREPARED] = "prepared",
	[VD_SND_STATE_RUNNING] = "running",
	[VD_SND_STATE_STOPPED] = "stopped",
	[VD_SND_STATE_RELEASED] = "released",
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void emit(struct vd_guest *g, const struct vd_guest_event *ev)
{
	if (g->hook)
		g->hook(g->hook_data, g, ev);
}

/* The device has no state hook; states change only inside its handlers, so
 * they are compared after each. */
static void check_streams(struct vd_guest *g)
{
	for (unsigned k = 0; k < g->st.streams; k++) {
		enum vd_snd_state now = vd_snd_dev_stream_state(g->dev, k);

		if (now == g->states[k])
			continue;
		struct vd_guest_event ev = { .kind = VD_GUEST_EVENT_STREAM, .index = k, .state = now,
					     .previous = g->states[k] };

		g->states[k] = now;
		emit(g, &ev);
	}
}

static void glog(struct vd_guest *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void on_control_changed(void *data, unsigned id, double value, bool by_guest)
{
	struct vd_guest *g = data;
	struct vd_guest_event ev = { .kind = VD_GUEST_EVENT_CONTROL, .index = id, .value = value,
				     .by_guest = by_guest };
	struct vd_snd_control_info info;
	char err[512];
	int r;

	/* saved before the guest's CTL_WRITE is answered: an acknowledged value is on disk */
	if (g->state && !g->applying && vd_snd_dev_control_info(g->dev, id, &info) == 0) {
		r = vd_state_set(g->state, g->name, info.name, value);
		if (r < 0)
			glog(g, "cannot keep control \"%s\" in the state: %s", info.name, strerror(-r));
		else if (vd_state_save(g->state, err, sizeof(err)) < 0)
			glog(g, "%s", err);
	}
	emit(g, &ev);
}

static void glog(struct vd_guest *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void glog(struct vd_guest *g, const char *fmt, ...)
{
	char line[1024];
	int n;
	va_list ap;

	if (!g->log)
		return;
	n = snprintf(line, sizeof(line), "%s: ", g->name);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	g->log(g->log_data, line);
}

/* What a departed guest held shows in these two: its kick/call fds and socket,
 * and the mappings of its RAM (QEMU's memory-backend-memfd). */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

static int count_memfd_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "/memfd:"))
			n++;
	fclose(f);
	return n;
}

/* ---- the device's fds on the loop ---- */

static void drop(struct vd_guest *g, const char *why);

static void unwatch_device(struct vd_guest *g)
{
	for (unsigned k = 0; k < VD_SND_FD_COUNT; k++) {
		vd_loop_remove(g->slots[k].watch);
		g->slots[k].watch = NULL;
	}
}

static void on_device_fd(void *data, int fd, uint32_t events);

/* Kick fds change (and fd numbers get reused) only inside the socket's
 * handler, so after it every watch is renewed rather than compared by number. */
static int watch_device(struct vd_guest *g)
{
	unwatch_device(g);
	for (unsigned k = 0; k < VD_SND_FD_COUNT; k++) {
		int fd = vd_snd_dev_fd(g->dev, (enum vd_snd_fd_kind)k);

		if (fd < 0)
			continue;
		int r = vd_loop_add_fd(g->loop, fd, EPOLLIN, on_device_fd, &g->slots[k],
				       &g->slots[k].watch);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * The socket's messages may close kick fds (a reset closes them all). epoll
 * forgets a watch only when the last descriptor of its file closes, and the
 * front-end keeps its end of each eventfd: a watch left on a closed number
 * would outlive it, and the same eventfd sent again (QEMU keeps its host
 * notifiers across a guest's reset) would then be refused with EEXIST. So
 * the kick watches go while their fds are still open; watch_device() renews
 * them afterwards.
 */
static int handle_socket(struct vd_guest *g)
{
	for (unsigned k = 0; k < VD_SND_FD_COUNT; k++) {
		if (k == VD_SND_FD_SOCKET || k == VD_SND_FD_NOTIFY)
			continue;
		vd_loop_remove(g->slots[k].watch);
		g->slots[k].watch = NULL;
	}
	return vd_snd_dev_handle(g->dev, VD_SND_FD_SOCKET);
}

static void on_device_fd(void *data, int fd, uint32_t events)
{
	struct slot *s = data;
	struct vd_guest *g = s->g;
	int r = s->kind == VD_SND_FD_SOCKET ? handle_socket(g) : vd_snd_dev_handle(g->dev, s->kind);

	(void)fd;
	if (r >= 0)
		check_streams(g);
	if (r == -ECONNRESET) {
		drop(g, "the connection was closed");
		return;
	}
	if (r < 0) {
		char why[320];

		snprintf(why, sizeof(why), "device fault: %s",
			 vd_vhost_dev_error(vd_snd_dev_vhost(g->dev))[0]
				 ? vd_vhost_dev_error(vd_snd_dev_vhost(g->dev)) : strerror(-r));
		g->st.faults++;
		drop(g, why);
		return;
	}
	if (s->kind != VD_SND_FD_SOCKET)
		return;
	if (events & (EPOLLHUP | EPOLLERR)) {
		/* everything readable was handled; a hung-up peer gets no more replies */
		drop(g, "the connection was closed");
		return;
	}
	r = watch_device(g);
	if (r < 0) {
		char why[128];

		snprintf(why, sizeof(why), "cannot watch its fds: %s", strerror(-r));
		g->st.faults++;
		drop(g, why);
	}
}

/* Free everything the connection owned, and say what that was. */
static void drop(struct vd_guest *g, const char *why)
{
	char streams[512] = "";
	size_t len = 0;
	unsigned active = 0;

	if (!g->connected)
		return;
	for (unsigned k = 0; k < g->st.streams; k++) {
		struct vd_snd_stream_stats ss;

		if (vd_snd_dev_stream_stats(g->dev, k, &ss) < 0)
			continue;
		if (ss.state != VD_SND_STATE_NONE && ss.state != VD_SND_STATE_RELEASED)
			active++;
		if (len < sizeof(streams))
			len += (size_t)snprintf(streams + len, sizeof(streams) - len,
						"; stream %u %s, %llu frames, %llu underruns", k,
						state_names[ss.state],
						(unsigned long long)(ss.frames - g->base[k][0]),
						(unsigned long long)(ss.underruns - g->base[k][1]));
	}
	int fds0 = count_fds(), maps0 = count_memfd_maps();

	unwatch_device(g);
	vd_snd_dev_detach(g->dev);
	g->connected = false;
	check_streams(g);
	struct vd_guest_event ev = { .kind = VD_GUEST_EVENT_DISCONNECTED, .reason = why };
	emit(g, &ev);

	int fds1 = count_fds(), maps1 = count_memfd_maps();

	glog(g, "disconnected (%s) after %.1f s: freed %u active streams, %d fds, %d guest memory "
	     "maps%s", why, now_s() - g->t_connect, active, fds0 - fds1, maps0 - maps1, streams);
}

/* The device pairs activations with deactivations (also when the guest dies),
 * so the count cannot leak. */
static int on_stream_active(void *data, unsigned stream, bool active)
{
	struct vd_guest *g = data;
	int r;

	if (!g->power)
		return 0;
	if (!active) {
		vd_power_put(g->power, VD_POWER_USER_STREAM);
		return 0;
	}
	r = vd_power_get(g->power, VD_POWER_USER_STREAM);
	if (r < 0)
		glog(g, "stream %u: cannot resume the engine: %s", stream, strerror(-r));
	return r;
}

/* ---- jacks and stored control values ---- */

static void update_jacks(void *data)
{
	struct vd_guest *g = data;
	unsigned n = vd_snd_dev_jack_count(g->dev);

	for (unsigned j = 0; j < n && j < 64; j++) {
		const char *point = vd_snd_dev_jack_point(g->dev, j);
		bool c;

		if (!point || vd_host_point_connected(g->jack_host, point, &c) < 0)
			continue;
		if (c == (bool)(g->jacks_told >> j & 1))
			continue;
		g->jacks_told ^= 1ull << j;
		vd_snd_dev_set_jack(g->dev, j, c);
		glog(g, "jack %u (host attach point '%s') %s", j, point, c ? "connected" : "disconnected");
		struct vd_guest_event ev = { .kind = VD_GUEST_EVENT_JACK, .index = j, .connected = c };

		emit(g, &ev);
	}
}


static void apply_state(struct vd_guest *g)
{
	size_t n = vd_state_count(g->state, g->name);

	g->applying = true;
	for (size_t i = 0; i < n; i++) {
		double v;
		const char *name = vd_state_control(g->state, g->name, i, &v);
		int id = vd_snd_dev_control_find(g->dev, name), r;

		if (id < 0) {
			glog(g, "state file: no control \"%s\" in this guest's topology; its value %g is kept "
			     "in the file but not used", name, v);
			continue;
		}
		r = vd_snd_dev_set_control(g->dev, (unsigned)id, v);
		if (r == -ERANGE)
			glog(g, "state file: %g is out of range for control \"%s\"; ignored", v, name);
		else if (r < 0)
			glog(g, "state file: cannot set control \"%s\" to %g: %s", name, v, strerror(-r));
	}
	g->applying = false;
}

/* ---- the device ---- */

/* Make @dev (built from @text, both taken over) the guest's device, freeing the old one. */
static int install(struct vd_guest *g, struct vd_snd_dev *dev, char *text)
{
	unsigned n = vd_snd_dev_stream_count(dev);
	uint64_t (*base)[2] = calloc(n ? n : 1, sizeof(*base));
	enum vd_snd_state *states = calloc(n ? n : 1, sizeof(*states));

	if (!base || !states) {
		free(base);
		free(states);
		vd_snd_dev_free(dev);
		free(text);
		return -ENOMEM;
	}
	vd_snd_dev_free(g->dev);
	free(g->text);
	free(g->base);
	free(g->states);
	g->dev = dev;
	g->text = text;
	g->base = base;
	g->states = states;
	g->st.streams = n;
	if (g->state)
		apply_state(g);
	g->jacks_told = ~0ull;	/* a new device starts with every jack connected */
	if (g->jack_host)
		update_jacks(g);
	return 0;
}

static int new_device(struct vd_guest *g, const char *path, const char *text, size_t len,
		      struct vd_snd_dev **dev, struct vd_diag *diag)
{
	struct vd_snd_options o = {
		.controls = g->controls, .log = g->log, .log_data = g->log_data,
		.control_changed = on_control_changed, .control_data = g,
		.stream_active = on_stream_active, .stream_data = g,
		.topology_text = text, .topology_len = len,
	};

	return vd_snd_dev_new(g->name, path, g->host, &o, dev, diag);
}

/* ---- the listening socket ---- */

static void attach(struct vd_guest *g, int fd)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	int r;

	g->peer = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 ? cred.pid : 0;
	if (g->pending) {
		r = install(g, g->pending, g->pending_text);
		g->pending = NULL;
		g->pending_text = NULL;
		if (r < 0) {
			glog(g, "cannot install the new topology: %s", strerror(-r));
			close(fd);
			return;
		}
		g->replaced = true;
		glog(g, "the replaced topology takes effect with this connection");
		struct vd_guest_event tev = { .kind = VD_GUEST_EVENT_TOPOLOGY, .applied = true };
		emit(g, &tev);
	}
	r = vd_snd_dev_attach(g->dev, fd);
	if (r < 0) {
		glog(g, "cannot serve the connection: %s", strerror(-r));
		close(fd);
		return;
	}
	for (unsigned k = 0; k < g->st.streams; k++) {
		struct vd_snd_stream_stats ss;

		if (vd_snd_dev_stream_stats(g->dev, k, &ss) == 0) {
			g->base[k][0] = ss.frames;
			g->base[k][1] = ss.underruns;
		}
	}
	g->connected = true;
	g->t_connect = now_s();
	g->st.connections++;
	r = watch_device(g);
	if (r < 0) {
		char why[128];

		snprintf(why, sizeof(why), "cannot watch its fds: %s", strerror(-r));
		drop(g, why);
		return;
	}
	glog(g, "connected (peer pid %d, connection %llu)", (int)g->peer,
	     (unsigned long long)g->st.connections);
	struct vd_guest_event ev = { .kind = VD_GUEST_EVENT_CONNECTED };
	emit(g, &ev);
}

static void on_listen(void *data, int fd, uint32_t events)
{
	struct vd_guest *g = data;

	(void)events;
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				glog(g, "accept: %s", strerror(errno));
			return;
		}
		if (g->connected) {
			/* A restarted QEMU can reconnect before its old connection's
			 * hang-up has been seen: settle the old one first. */
			int r = handle_socket(g);

			if (r < 0)
				drop(g, r == -ECONNRESET ? "the connection was closed" : "device fault");
			else if (watch_device(g) < 0)
				drop(g, "cannot watch its fds");
		}
		if (g->connected) {
			/* one front-end per device: a second one would steal a running guest's sound */
			g->st.refused++;
			glog(g, "refused a second connection while pid %d is connected", (int)g->peer);
			close(c);
			continue;
		}
		attach(g, c);
	}
}

int vd_guest_new(struct vd_loop *loop, struct vd_graph *host, const struct vd_guest_config *cfg,
		 vd_guest_log_fn log, void *log_data, struct vd_guest **out, struct vd_diag *diag,
		 char *err, size_t errsz)
{
	struct vd_guest *g = calloc(1, sizeof(*g));
	struct vd_snd_dev *dev = NULL;
	int r;

	err[0] = '\0';
	if (!g || !(g->name = strdup(cfg->name))) {
		free(g);
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	g->loop = loop;
	g->power = cfg->power;
	g->host = host;
	g->controls = cfg->controls;
	g->has_owner = cfg->has_owner;
	g->owner = cfg->owner;
	g->listen_fd = -1;
	if (cfg->topology && !(g->topology = strdup(cfg->topology))) {
		snprintf(err, errsz, "out of memory");
		r = -ENOMEM;
		goto fail;
	}
	g->log = log;
	g->log_data = log_data;
	for (unsigned k = 0; k < VD_SND_FD_COUNT; k++) {
		g->slots[k].g = g;
		g->slots[k].kind = (enum vd_snd_fd_kind)k;
	}
	r = new_device(g, cfg->topology, NULL, 0, &dev, diag);
	if (r < 0) {
		if (diag->count == 0)
			snprintf(err, errsz, "guest %s: cannot load %s: %s", cfg->name,
				 cfg->topology ? cfg->topology : "the built-in guest topology", strerror(-r));
		goto fail;
	}
	g->state = cfg->state;
	r = install(g, dev, NULL);
	if (r < 0) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	if (cfg->jacks) {
		r = vd_host_add_listener(cfg->jacks, update_jacks, g);
		if (r < 0) {
			snprintf(err, errsz, "out of memory");
			goto fail;
		}
		g->jack_host = cfg->jacks;
		update_jacks(g);
	}
	r = vd_listen_unix(cfg->socket, SOCK_STREAM, 4, "backend", &g->listen_fd, err, errsz);
	if (r < 0)
		goto fail;
	snprintf(g->path, sizeof(g->path), "%s", cfg->socket);
	r = vd_loop_add_fd(loop, g->listen_fd, EPOLLIN, on_listen, g, &g->listen_watch);
	if (r < 0) {
		snprintf(err, errsz, "cannot watch %s: %s", cfg->socket, strerror(-r));
		goto fail;
	}
	*out = g;
	return 0;
fail:
	vd_guest_free(g);
	return r;
}

void vd_guest_free(struct vd_guest *g)
{
	if (!g)
		return;
	drop(g, "the daemon is shutting down");
	if (g->jack_host)
		vd_host_remove_listener(g->jack_host, update_jacks, g);
	vd_loop_remove(g->listen_watch);
	if (g->listen_fd >= 0) {
		close(g->listen_fd);
		unlink(g->path);
	}
	vd_snd_dev_free(g->dev);
	vd_snd_dev_free(g->pending);
	free(g->pending_text);
	free(g->text);
	free(g->topology);
	free(g->base);
	free(g->states);
	free(g->name);
	free(g);
}

void vd_guest_get_stats(const struct vd_guest *g, struct vd_guest_stats *st)
{
	*st = g->st;
	st->connected = g->connected;
}

const char *vd_guest_name(const struct vd_guest *g)
{
	return g->name;
}

struct vd_snd_dev *vd_guest_dev(struct vd_guest *g)
{
	return g->dev;
}

const char *vd_guest_socket(const struct vd_guest *g)
{
	return g->path;
}

bool vd_guest_owner(const struct vd_guest *g, uid_t *uid)
{
	if (g->has_owner)
		*uid = g->owner;
	return g->has_owner;
}

const char *vd_guest_topology_source(const struct vd_guest *g, bool *pending)
{
	*pending = g->pending != NULL;
	return g->replaced ? "replaced" : g->topology ? g->topology : "built-in";
}

bool vd_guest_controls_offered(const struct vd_guest *g)
{
	return g->controls;
}

const char *vd_guest_state_name(enum vd_snd_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

void vd_guest_set_event_hook(struct vd_guest *g, vd_guest_event_fn fn, void *data)
{
	g->hook = fn;
	g->hook_data = data;
}

int vd_guest_set_topology(struct vd_guest *g, const char *text, size_t len, bool defer,
			  struct vd_diag *diag, char *err, size_t errsz)
{
	struct vd_snd_dev *dev = NULL;
	char *copy;
	int r;

	err[0] = '\0';
	if (g->connected && !defer) {
		snprintf(err, errsz, "guest '%s' is connected: its driver has read the device's streams, "
			 "controls and jacks, which cannot change under it; stop the guest, or defer the "
			 "change to its next connection", g->name);
		return -EBUSY;
	}
	copy = malloc(len + 1);
	if (!copy) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	r = new_device(g, NULL, copy, len, &dev, diag);
	if (r < 0) {
		free(copy);
		if (diag->count == 0)
			snprintf(err, errsz, "guest '%s': the new topology cannot be used: %s", g->name,
				 strerror(-r));
		return r;
	}
	if (g->connected) {
		vd_snd_dev_free(g->pending);
		free(g->pending_text);
		g->pending = dev;
		g->pending_text = copy;
		glog(g, "a new topology waits for the next connection");
		struct vd_guest_event ev = { .kind = VD_GUEST_EVENT_TOPOLOGY, .applied = false };
		emit(g, &ev);
		return 1;
	}
	r = install(g, dev, copy);
	if (r < 0) {
		snprintf(err, errsz, "out of memory");
		return r;
	}
	/* an older deferred one is superseded */
	vd_snd_dev_free(g->pending);
	free(g->pending_text);
	g->pending = NULL;
	g->pending_text = NULL;
	g->replaced = true;
	glog(g, "topology replaced: %u streams, %u controls, %u jacks", g->st.streams,
	     vd_snd_dev_control_count(g->dev), vd_snd_dev_jack_count(g->dev));
	struct vd_guest_event ev = { .kind = VD_GUEST_EVENT_TOPOLOGY, .applied = true };
	emit(g, &ev);
	return 0;
}

void vd_guest_report(struct vd_guest *g)
{
	if (g->connected)
		glog(g, "connected for %.1f s (pid %d, connection %llu, %llu refused, %llu faults)",
		     now_s() - g->t_connect, (int)g->peer, (unsigned long long)g->st.connections,
		     (unsigned long long)g->st.refused, (unsigned long long)g->st.faults);
	else
		glog(g, "waiting on %s (%llu connections so far, %llu refused, %llu faults)", g->path,
		     (unsigned long long)g->st.connections, (unsigned long long)g->st.refused,
		     (unsigned long long)g->st.faults);
	if (!g->connected)
		return;
	for (unsigned k = 0; k < g->st.streams; k++) {
		struct vd_snd_stream_stats ss;

		if (vd_snd_dev_stream_stats(g->dev, k, &ss) < 0)
			continue;
		glog(g, "stream %u: %s, %llu messages completed, %llu errors, %llu frames, %llu underruns, "
		     "%u held (since the daemon started)", k, state_names[ss.state],
		     (unsigned long long)ss.completed, (unsigned long long)ss.errors,
		     (unsigned long long)ss.frames, (unsigned long long)ss.underruns, ss.held);
	}
}
