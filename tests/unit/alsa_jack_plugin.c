/* tests/unit/alsa_jack_plugin.c - an ALSA control plugin ("vdjacktest") standing in for a
 * sound card's control device, so that src/endpoint/alsa_jack.c can be tested without
 * hardware. Its elements: "Headphone Jack" and "Front Mic Jack" (iface CARD, boolean),
 * "Speaker Phantom Jack" (CARD, always plugged: must be ignored) and "Master Playback
 * Volume" (MIXER). The test drives it through files in directory $VD_JACKTEST_DIR:
 * "hp" and "mic" hold '0' or '1' (the jacks' values), and writing a byte to the FIFO
 * "events" there ('h', 'm', 'p' or 'v') makes the plugin report a value change of
 * that element. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <alsa/asoundlib.h>
#include <alsa/control_external.h>

enum { E_HP, E_MIC, E_PHANTOM, E_VOL, N_ELEMS };

static const struct {
	const char *name;
	snd_ctl_elem_iface_t iface;
	snd_ctl_elem_type_t type;
	char event;
} elems[N_ELEMS] = {
	{ "Headphone Jack", SND_CTL_ELEM_IFACE_CARD, SND_CTL_ELEM_TYPE_BOOLEAN, 'h' },
	{ "Front Mic Jack", SND_CTL_ELEM_IFACE_CARD, SND_CTL_ELEM_TYPE_BOOLEAN, 'm' },
	{ "Speaker Phantom Jack", SND_CTL_ELEM_IFACE_CARD, SND_CTL_ELEM_TYPE_BOOLEAN, 'p' },
	{ "Master Playback Volume", SND_CTL_ELEM_IFACE_MIXER, SND_CTL_ELEM_TYPE_INTEGER, 'v' },
};

struct jt {
	snd_ctl_ext_t ext;
	char dir[512];
	int fifo;
};

static int jt_count(snd_ctl_ext_t *ext)
{
	return N_ELEMS;
}

static int jt_list(snd_ctl_ext_t *ext, unsigned int offset, snd_ctl_elem_id_t *id)
{
	if (offset >= N_ELEMS)
		return -EINVAL;
	snd_ctl_elem_id_set_interface(id, elems[offset].iface);
	snd_ctl_elem_id_set_name(id, elems[offset].name);
	return 0;
}

static snd_ctl_ext_key_t jt_find(snd_ctl_ext_t *ext, const snd_ctl_elem_id_t *id)
{
	for (unsigned i = 0; i < N_ELEMS; i++)
		if (strcmp(snd_ctl_elem_id_get_name(id), elems[i].name) == 0)
			return i;
	return SND_CTL_EXT_KEY_NOT_FOUND;
}

static int jt_attr(snd_ctl_ext_t *ext, snd_ctl_ext_key_t key, int *type, unsigned int *acc,
		   unsigned int *count)
{
	*type = elems[key].type;
	*acc = SND_CTL_EXT_ACCESS_READ;
	*count = 1;
	return 0;
}

static int jt_int_info(snd_ctl_ext_t *ext, snd_ctl_ext_key_t key, long *min, long *max, long *step)
{
	*min = 0;
	*max = 100;
	*step = 1;
	return 0;
}

static int jt_read(snd_ctl_ext_t *ext, snd_ctl_ext_key_t key, long *value)
{
	struct jt *j = ext->private_data;
	char path[600], c = '0';
	FILE *f;

	if (key == E_PHANTOM || key == E_VOL) {
		*value = key == E_PHANTOM ? 1 : 50;
		return 0;
	}
	snprintf(path, sizeof(path), "%s/%s", j->dir, key == E_HP ? "hp" : "mic");
	f = fopen(path, "r");
	if (f) {
		if (fread(&c, 1, 1, f) != 1)
			c = '0';
		fclose(f);
	}
	*value = c == '1';
	return 0;
}

static void jt_subscribe(snd_ctl_ext_t *ext, int subscribe)
{
}

static int jt_event(snd_ctl_ext_t *ext, snd_ctl_elem_id_t *id, unsigned int *mask)
{
	struct jt *j = ext->private_data;
	char c;

	for (;;) {
		ssize_t n = read(j->fifo, &c, 1);

		if (n != 1)
			return -EAGAIN;
		for (unsigned i = 0; i < N_ELEMS; i++)
			if (elems[i].event == c) {
				snd_ctl_elem_id_set_interface(id, elems[i].iface);
				snd_ctl_elem_id_set_name(id, elems[i].name);
				*mask = SND_CTL_EVENT_MASK_VALUE;
				return 1;
			}
	}
}

static void jt_close(snd_ctl_ext_t *ext)
{
	struct jt *j = ext->private_data;

	close(j->fifo);
	free(j);
}

static const snd_ctl_ext_callback_t jt_callbacks = {
	.close = jt_close,
	.elem_count = jt_count,
	.elem_list = jt_list,
	.find_elem = jt_find,
	.get_attribute = jt_attr,
	.get_integer_info = jt_int_info,
	.read_integer = jt_read,
	.subscribe_events = jt_subscribe,
	.read_event = jt_event,
};

/* alsa-lib finds the entry point by name; declared for -Wmissing-prototypes. */
SND_CTL_PLUGIN_DEFINE_FUNC(vdjacktest);

SND_CTL_PLUGIN_DEFINE_FUNC(vdjacktest)
{
	const char *dir = getenv("VD_JACKTEST_DIR");
	char path[600];
	struct jt *j;
	int err;

	(void)root;
	(void)conf;
	if (!dir)
		return -ENOENT;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	snprintf(j->dir, sizeof(j->dir), "%s", dir);
	snprintf(path, sizeof(path), "%s/events", dir);
	/* read-write: the FIFO never reports end-of-file when the test has no writer open */
	j->fifo = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (j->fifo < 0) {
		err = -errno;
		free(j);
		return err;
	}
	j->ext.version = SND_CTL_EXT_VERSION;
	j->ext.card_idx = 0;
	snprintf(j->ext.id, sizeof(j->ext.id), "vdjacktest");
	snprintf(j->ext.driver, sizeof(j->ext.driver), "vdjacktest");
	snprintf(j->ext.name, sizeof(j->ext.name), "virtdsp jack test");
	snprintf(j->ext.longname, sizeof(j->ext.longname), "virtdsp jack test card");
	snprintf(j->ext.mixername, sizeof(j->ext.mixername), "vdjacktest");
	j->ext.poll_fd = j->fifo;
	j->ext.callback = &jt_callbacks;
	j->ext.private_data = j;
	err = snd_ctl_ext_create(&j->ext, name, mode);
	if (err < 0) {
		close(j->fifo);
		free(j);
		return err;
	}
	*handlep = j->ext.handle;
	return 0;
}

SND_CTL_PLUGIN_SYMBOL(vdjacktest);
