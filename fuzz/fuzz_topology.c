/* fuzz/fuzz_topology.c - libFuzzer target: parse any bytes as a topology, then build it into a graph.
 *
 * Every built-in endpoint type (files, ALSA, attach points, ...) is
 * replaced by an I/O-free fake of the same name, so building touches no
 * file or device whatever the input says; processing types stay real.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <virtdsp/graph.h>
#include <virtdsp/topology.h>

#define MAX_TYPES 64

struct fake {
	struct vd_audio_format fmt;
};

/* Accept every property, so building goes on past the endpoints. */
static int fake_init(const struct vd_node_init *init, void **self, uint32_t *n_in, uint32_t *n_out,
		     bool source)
{
	struct fake *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	for (uint32_t i = 0; init->props && i < init->props->n; i++)
		init->props->items[i].used = true;
	vd_audio_format_init(&f->fmt, VD_FORMAT_F32, init->rate ? init->rate : 48000, 2);
	*self = f;
	*n_in = source ? 0 : 1;
	*n_out = source ? 1 : 0;
	return 0;
}

static int fake_source_init(const struct vd_node_init *init, void **self, uint32_t *n_in,
			    uint32_t *n_out, struct vd_error *err)
{
	return fake_init(init, self, n_in, n_out, true);
}

static int fake_sink_init(const struct vd_node_init *init, void **self, uint32_t *n_in,
			  uint32_t *n_out, struct vd_error *err)
{
	return fake_init(init, self, n_in, n_out, false);
}

static void fake_free(void *self)
{
	free(self);
}

static int fake_negotiate(void *self, struct vd_audio_format *in, uint32_t n_in,
			  struct vd_audio_format *out, uint32_t n_out, struct vd_error *err)
{
	struct fake *f = self;

	if (n_out)
		out[0] = f->fmt;
	return 0;
}

static int fake_prepare(void *self, const struct vd_audio_format *in, uint32_t n_in,
			const struct vd_audio_format *out, uint32_t n_out,
			uint32_t max_frames, struct vd_error *err)
{
	return 0;
}

static int fake_process(void *self, struct vd_buffer *in, uint32_t n_in,
			struct vd_buffer *out, uint32_t n_out)
{
	if (n_out) {
		out[0].frames = 0;
		out[0].flags = VD_BUFFER_EOS;
	}
	return 0;
}

static int64_t fake_total(void *self)
{
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct vd_node_ops *const *builtin = vd_node_builtin_types();
	struct vd_node_ops fakes[MAX_TYPES];
	struct vd_diag diag = { 0 };
	struct vd_topology *t = NULL;
	struct vd_topology_object obj;
	struct vd_graph *g = NULL;
	size_t n = 0;

	if (vd_topology_load_string((const char *)data, size, "fuzz.topo", &t, &diag) < 0)
		return 0;
	for (size_t i = 0; i < vd_topology_object_count(t); i++)
		if (vd_topology_object(t, i, &obj) == 0 && obj.kind == VD_TOPO_SINK)
			vd_topology_set_path(t, obj.name, "fuzz-out.wav");
	if (vd_graph_new(&g) < 0)
		goto out;
	for (size_t i = 0; builtin[i] && n < MAX_TYPES; i++) {
		if (!(builtin[i]->flags & VD_NODE_ENDPOINT))
			continue;
		fakes[n] = (struct vd_node_ops){
			.version = VD_NODE_OPS_VERSION,
			.type = builtin[i]->type,
			.flags = builtin[i]->flags,
			.init = (builtin[i]->flags & VD_NODE_SOURCE) ? fake_source_init : fake_sink_init,
			.free = fake_free,
			.negotiate = fake_negotiate,
			.prepare = fake_prepare,
			.process = fake_process,
			.total_frames = fake_total,
		};
		if (vd_graph_register_type(g, &fakes[n]) < 0)
			goto out;
		n++;
	}
	vd_topology_build(t, g, &diag);
out:
	vd_graph_free(g);
	vd_topology_free(t);
	return 0;
}
