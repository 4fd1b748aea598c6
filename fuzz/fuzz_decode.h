/* fuzz/fuzz_decode.h - the body of the decoder fuzz targets (one per codec: fuzz_decode_<codec>.c).
 *
 * Input: [format][rate+channels][split seed][split seed][stream bytes...].
 * The first byte picks the output format, the second the output rate and
 * channels (so the converter after the decoder is fuzzed too), the next two
 * seed the task sizes (1..FRAG bytes) and the occasional NEW_STREAM; the
 * last task carries END_OF_STREAM. Tasks run in the in-process engine.
 * Every task's output must fit its buffer and be whole frames; output left
 * pending is fetched with empty tasks up to a bound (huge expansions are
 * legal, the session is then closed mid-stream, which must be clean too).
 */
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <virtdsp/accel.h>

#define FRAG 1024
#define MAX_EMPTY 48

static const enum vd_sample_format fuzz_formats[] = {
	VD_FORMAT_UNKNOWN, VD_FORMAT_S16, VD_FORMAT_F32, VD_FORMAT_S24_3, VD_FORMAT_U8, VD_FORMAT_S32,
};
static const uint32_t fuzz_rates[] = { 0, 0, 0, 48000, 44100, 8000 };

static int run_task(struct vd_accel *s, uint64_t *seqno, bool *used, uint8_t *in, const uint8_t *src, size_t n,
		    uint32_t flags, size_t out_len, uint32_t *out_flags)
{
	struct vd_accel_task t = { .input_size = n, .flags = flags };
	struct vd_accel_task_status st = { 0 };
	struct vd_accel_metadata md;

	if (n)
		memcpy(in, src, n);
	if (*used)
		t.origin_seqno = *seqno;
	else
		t.seqno = *seqno;
	if (vd_accel_task_start(s, &t) < 0)
		abort();
	*seqno = t.seqno;
	*used = true;
	if (vd_accel_wait(s, POLLIN, 10000) <= 0)
		abort();
	st.seqno = t.seqno;
	if (vd_accel_task_status(s, &st) < 0 || st.state != VD_ACCEL_TASK_FINISHED)
		abort();
	if (st.output_size > out_len)
		abort();	/* the rule: never past the buffer */
	if (vd_accel_get_metadata(s, t.seqno, &md) < 0)
		abort();
	if (st.output_size) {
		size_t frame = (size_t)md.out_channels * (md.out_format == VD_FORMAT_S24_3 ? 3 :
			       md.out_format == VD_FORMAT_U8 ? 1 : md.out_format == VD_FORMAT_S16 ? 2 : 4);
		if (!(md.flags & VD_ACCEL_META_VALID) || !frame || st.output_size % frame)
			abort();
	}
	*out_flags = st.output_flags;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vd_accel *s = NULL;
	struct vd_accel_params p = { .codec = FUZZ_CODEC, .fragment_size = FRAG, .fragments = 1,
				     .quality = VD_RESAMPLE_LOW };
	struct vd_accel_task t = { 0 };
	struct stat stt;
	uint8_t *in = MAP_FAILED;
	size_t out_len = 0, off = 4;
	uint32_t seed, flags = 0;
	uint64_t seqno;
	bool used = false;

	if (size < 4)
		return 0;
	p.out.format = fuzz_formats[data[0] % 6];
	p.out.rate = fuzz_rates[data[1] % 6];
	p.out.channels = (data[1] >> 4) % 3;
	seed = (uint32_t)data[2] << 8 | data[3];
	if (vd_accel_open(NULL, "decode", &s) < 0)
		abort();
	if (vd_accel_set_params(s, &p) < 0 || vd_accel_task_create(s, &t) < 0)
		abort();
	seqno = t.seqno;
	in = mmap(NULL, FRAG, PROT_READ | PROT_WRITE, MAP_SHARED, t.input_fd, 0);
	if (in == MAP_FAILED || fstat(t.output_fd, &stt) < 0)
		abort();
	out_len = (size_t)stt.st_size;
	close(t.input_fd);
	close(t.output_fd);
	while (off < size || (flags & VD_ACCEL_OUT_MORE_PENDING)) {
		size_t n = 0;
		uint32_t tf = 0;

		if (flags & VD_ACCEL_OUT_MORE_PENDING) {
			/* Fetch some of what is pending, then go on feeding (both are legal). */
			for (int k = 0; k < MAX_EMPTY && (flags & VD_ACCEL_OUT_MORE_PENDING); k++)
				run_task(s, &seqno, &used, in, NULL, 0, off >= size ? VD_ACCEL_TASK_END_OF_STREAM : 0,
					 out_len, &flags);
			if (off >= size)
				break;
		}
		seed = seed * 1664525u + 1013904223u;
		n = 1 + (seed >> 8) % FRAG;
		if (n > size - off)
			n = size - off;
		if ((seed >> 28) == 0 && off > 4)
			tf |= VD_ACCEL_TASK_NEW_STREAM;
		if (off + n == size)
			tf |= VD_ACCEL_TASK_END_OF_STREAM;
		run_task(s, &seqno, &used, in, data + off, n, tf, out_len, &flags);
		off += n;
	}
	munmap(in, FRAG);
	vd_accel_close(s);
	return 0;
}
