/* endpoint/alsa_jack.c - following a sound card's jack controls (ALSA ctl
 * elements "... Jack" on iface CARD) into an ALSA endpoint's connection state,
 * through snd_ctl_subscribe_events on the daemon's loop. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <alsa/asoundlib.h>

#include "endpoint/endpoint.h"

#define MAX_JACKS 32

struct vd_alsa_jack {
	snd_ctl_t *ctl;
	struct vd_endpoint_conn *conn;
	bool capture;
	unsigned n;
	unsigned numid[MAX_JACKS];
};

static bool contains(const char *s, const char *word)
{
	return strstr(s, word) != NULL;
}

/* HDA and USB drivers name input jacks after "Mic" or "Line" (line in: "Line Jack",
 * "Rear Line Jack"); everything else ("Headphone", "Line Out", "Speaker", "HDMI/DP")
 * is an output. Phantom jacks only say a pin exists, never whether it is plugged. */
bool vd_alsa_jack_relevant(const char *name, bool capture)
{
	size_t n = strlen(name);
	bool input;

	if (n < 5 || strcmp(name + n - 5, " Jack") != 0 || contains(name, "Phantom"))
		return false;
	input = contains(name, "Mic") || (contains(name, "Line") && !contains(name, "Line Out"));
	return input == capture;
}

static bool any_plugged(struct vd_alsa_jack *j)
{
	snd_ctl_elem_value_t *v;
	bool plugged = false;

	snd_ctl_elem_value_alloca(&v);
	for (unsigned i = 0; i < j->n; i++) {
		snd_ctl_elem_value_set_numid(v, j->numid[i]);
		if (snd_ctl_elem_read(j->ctl, v) == 0 && snd_ctl_elem_value_get_boolean(v, 0))
			plugged = true;
	}
	return plugged;
}

static int find_jacks(struct vd_alsa_jack *j, bool capture)
{
	snd_ctl_elem_list_t *list;
	unsigned count;
	int ret;

	snd_ctl_elem_list_alloca(&list);
	ret = snd_ctl_elem_list(j->ctl, list);
	if (ret < 0)
		return ret;
	count = snd_ctl_elem_list_get_count(list);
	ret = snd_ctl_elem_list_alloc_space(list, count);
	if (ret < 0)
		return ret;
	ret = snd_ctl_elem_list(j->ctl, list);
	for (unsigned i = 0; ret == 0 && i < snd_ctl_elem_list_get_used(list) && j->n < MAX_JACKS; i++) {
		if (snd_ctl_elem_list_get_interface(list, i) != SND_CTL_ELEM_IFACE_CARD ||
		    !vd_alsa_jack_relevant(snd_ctl_elem_list_get_name(list, i), capture))
			continue;
		j->numid[j->n++] = snd_ctl_elem_list_get_numid(list, i);
	}
	snd_ctl_elem_list_free_space(list);
	return ret;
}

int vd_alsa_jack_open_ctl(const char *ctl_name, bool capture, struct vd_endpoint_conn *conn,
			  struct vd_alsa_jack **out)
{
	struct vd_alsa_jack *j = calloc(1, sizeof(*j));
	int ret;

	if (!j)
		return -ENOMEM;
	j->conn = conn;
	j->capture = capture;
	ret = snd_ctl_open(&j->ctl, ctl_name, SND_CTL_NONBLOCK);
	if (ret < 0) {
		j->ctl = NULL;
		goto fail;
	}
	ret = find_jacks(j, capture);
	if (ret == 0 && j->n == 0)
		ret = -ENOENT;
	/* subscribe before the first read, so no change falls between the two */
	if (ret == 0)
		ret = snd_ctl_subscribe_events(j->ctl, 1);
	if (ret < 0)
		goto fail;
	vd_endpoint_conn_set(conn, any_plugged(j));
	*out = j;
	return 0;
fail:
	vd_alsa_jack_close(j);
	return ret;
}

int vd_alsa_jack_open(int card, bool capture, struct vd_endpoint_conn *conn,
		      struct vd_alsa_jack **out)
{
	char name[32];

	if (card < 0)
		return -ENOENT;
	snprintf(name, sizeof(name), "hw:%d", card);
	return vd_alsa_jack_open_ctl(name, capture, conn, out);
}

int vd_alsa_jack_fd(const struct vd_alsa_jack *j)
{
	struct pollfd pfd;

	if (snd_ctl_poll_descriptors(j->ctl, &pfd, 1) != 1)
		return -1;
	return pfd.fd;
}

int vd_alsa_jack_handle(struct vd_alsa_jack *j)
{
	snd_ctl_event_t *ev;
	bool ours = false;
	int ret;

	snd_ctl_event_alloca(&ev);
	while ((ret = snd_ctl_read(j->ctl, ev)) > 0) {
		unsigned numid;

		if (snd_ctl_event_get_type(ev) != SND_CTL_EVENT_ELEM)
			continue;
		numid = snd_ctl_event_elem_get_numid(ev);
		/* the kernel gives numids; user-space ctl plugins may give only the name */
		if (!numid && snd_ctl_event_elem_get_interface(ev) == SND_CTL_ELEM_IFACE_CARD &&
		    vd_alsa_jack_relevant(snd_ctl_event_elem_get_name(ev), j->capture))
			ours = true;
		for (unsigned i = 0; numid && i < j->n; i++)
			if (numid == j->numid[i])
				ours = true;
	}
	if (ours)
		vd_endpoint_conn_set(j->conn, any_plugged(j));
	return ret == -EAGAIN ? 0 : ret;
}

unsigned vd_alsa_jack_count(const struct vd_alsa_jack *j)
{
	return j->n;
}

void vd_alsa_jack_close(struct vd_alsa_jack *j)
{
	if (!j)
		return;
	if (j->ctl)
		snd_ctl_close(j->ctl);
	free(j);
}
