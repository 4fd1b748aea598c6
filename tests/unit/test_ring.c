/* tests/unit/test_ring.c - the SPSC byte ring: limits, wrap-around, regions, index wrap, two-thread stress. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include <virtdsp/ring.h>

static void test_init(void **state)
{
	struct vd_ring r;
	uint8_t buf[16];

	(void)state;
	assert_int_equal(vd_ring_init(&r, buf, 0), -EINVAL);
	assert_int_equal(vd_ring_init(&r, buf, 1), -EINVAL);
	assert_int_equal(vd_ring_init(&r, buf, 12), -EINVAL);
	assert_int_equal(vd_ring_init(&r, buf, (UINT32_C(1) << 31) + 2), -EINVAL);
	assert_int_equal(vd_ring_init(&r, buf, UINT32_MAX), -EINVAL);
	assert_int_equal(vd_ring_init(&r, NULL, 16), -EINVAL);
	assert_int_equal(vd_ring_init(NULL, buf, 16), -EINVAL);
	/* The largest legal size is accepted (storage is not touched by init). */
	assert_int_equal(vd_ring_init(&r, buf, UINT32_C(1) << 31), 0);
	assert_int_equal(vd_ring_writable(&r), UINT32_C(1) << 31);
	assert_int_equal(vd_ring_init(&r, buf, 2), 0);
	assert_int_equal(vd_ring_init(&r, buf, 16), 0);
	assert_int_equal(vd_ring_readable(&r), 0);
	assert_int_equal(vd_ring_writable(&r), 16);
}

static void test_fill_and_drain(void **state)
{
	struct vd_ring r;
	uint8_t buf[8], out[16];
	const uint8_t in[] = "abcdefghijkl";

	(void)state;
	assert_int_equal(vd_ring_init(&r, buf, 8), 0);
	assert_int_equal(vd_ring_read(&r, out, 4), 0);
	/* A write larger than the room is cut short. */
	assert_int_equal(vd_ring_write(&r, in, 12), 8);
	assert_int_equal(vd_ring_readable(&r), 8);
	assert_int_equal(vd_ring_writable(&r), 0);
	assert_int_equal(vd_ring_write(&r, in, 1), 0);
	assert_int_equal(vd_ring_read(&r, out, 16), 8);
	assert_memory_equal(out, "abcdefgh", 8);
	assert_int_equal(vd_ring_readable(&r), 0);
	assert_int_equal(vd_ring_writable(&r), 8);
}

static void test_wrap_around(void **state)
{
	struct vd_ring r;
	uint8_t buf[8], out[8];

	(void)state;
	assert_int_equal(vd_ring_init(&r, buf, 8), 0);
	assert_int_equal(vd_ring_write(&r, "012345", 6), 6);
	assert_int_equal(vd_ring_read(&r, out, 4), 4);
	assert_memory_equal(out, "0123", 4);
	/* 6 more: 2 at the end of the storage, 4 at its start. */
	assert_int_equal(vd_ring_write(&r, "ABCDEF", 6), 6);
	assert_memory_equal(buf, "CDEF", 4);
	assert_memory_equal(buf + 6, "AB", 2);
	assert_int_equal(vd_ring_peek(&r, out, 8), 8);
	assert_memory_equal(out, "45ABCDEF", 8);
	assert_int_equal(vd_ring_readable(&r), 8);	/* peek consumed nothing */
	assert_int_equal(vd_ring_skip(&r, 3), 3);
	assert_int_equal(vd_ring_read(&r, out, 8), 5);
	assert_memory_equal(out, "BCDEF", 5);
	assert_int_equal(vd_ring_skip(&r, 3), 0);
}

static void test_regions(void **state)
{
	struct vd_ring r;
	uint8_t buf[16];
	void *w[2];
	const void *rd[2];
	uint32_t len[2];

	(void)state;
	assert_int_equal(vd_ring_init(&r, buf, 16), 0);
	assert_int_equal(vd_ring_read_regions(&r, rd, len), 0);
	assert_int_equal(len[0] + len[1], 0);
	assert_int_equal(vd_ring_write_regions(&r, w, len), 1);
	assert_ptr_equal(w[0], buf);
	assert_int_equal(len[0], 16);
	memcpy(w[0], "0123456789", 10);
	vd_ring_write_commit(&r, 10);
	assert_int_equal(vd_ring_readable(&r), 10);

	assert_int_equal(vd_ring_read_regions(&r, rd, len), 1);
	assert_ptr_equal(rd[0], buf);
	assert_int_equal(len[0], 10);
	vd_ring_read_commit(&r, 8);

	/* Writable now: 6 at the end, then 8 at the start. */
	assert_int_equal(vd_ring_write_regions(&r, w, len), 2);
	assert_ptr_equal(w[0], buf + 10);
	assert_int_equal(len[0], 6);
	assert_ptr_equal(w[1], buf);
	assert_int_equal(len[1], 8);
	memcpy(w[0], "abcdef", 6);
	memcpy(w[1], "ghij", 4);
	vd_ring_write_commit(&r, 10);

	assert_int_equal(vd_ring_read_regions(&r, rd, len), 2);
	assert_ptr_equal(rd[0], buf + 8);
	assert_int_equal(len[0], 8);
	assert_memory_equal(rd[0], "89abcdef", 8);
	assert_ptr_equal(rd[1], buf);
	assert_int_equal(len[1], 4);
	assert_memory_equal(rd[1], "ghij", 4);
	vd_ring_read_commit(&r, 12);
	assert_int_equal(vd_ring_readable(&r), 0);

	/* Committing more than the room (or the fill) is clamped, not corrupting. */
	vd_ring_write_commit(&r, 100);
	assert_int_equal(vd_ring_readable(&r), 16);
	vd_ring_read_commit(&r, 100);
	assert_int_equal(vd_ring_readable(&r), 0);
	assert_int_equal(vd_ring_writable(&r), 16);
}

/* The free-running counters cross 2^32 without the fill level noticing. */
static void test_index_wrap(void **state)
{
	struct vd_ring r;
	uint8_t buf[8], out[8];

	(void)state;
	assert_int_equal(vd_ring_init(&r, buf, 8), 0);
	atomic_store(&r.write_index, UINT32_MAX - 2);
	atomic_store(&r.read_index, UINT32_MAX - 2);
	assert_int_equal(vd_ring_writable(&r), 8);
	assert_int_equal(vd_ring_write(&r, "abcdefg", 7), 7);
	assert_int_equal(vd_ring_readable(&r), 7);
	assert_true(atomic_load(&r.write_index) < 8);
	assert_int_equal(vd_ring_read(&r, out, 7), 7);
	assert_memory_equal(out, "abcdefg", 7);
	assert_int_equal(vd_ring_readable(&r), 0);
	assert_int_equal(vd_ring_writable(&r), 8);
}

#define STRESS_BYTES (6u << 20)

struct stress {
	struct vd_ring ring;
	uint64_t sum_in, sum_out;
	uint32_t errors;
};

static uint32_t step(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* The byte at stream position @pos: both threads compute it independently. */
static uint8_t pattern(uint32_t pos)
{
	uint32_t x = pos * 2654435761u;

	return (uint8_t)(x >> 24 ^ pos);
}

static void *producer(void *arg)
{
	struct stress *s = arg;
	uint32_t pos = 0, rng = 0x1234567;
	uint8_t chunk[1500];

	while (pos < STRESS_BYTES) {
		uint32_t want = step(&rng) % sizeof(chunk) + 1, n;

		if (want > STRESS_BYTES - pos)
			want = STRESS_BYTES - pos;
		if (want & 1) {
			for (uint32_t i = 0; i < want; i++)
				chunk[i] = pattern(pos + i);
			n = vd_ring_write(&s->ring, chunk, want);
		} else {
			/* Zero-copy half of the time. */
			void *p[2];
			uint32_t l[2];
			int k = vd_ring_write_regions(&s->ring, p, l);

			n = 0;
			for (int j = 0; j < k && n < want; j++) {
				uint32_t m = l[j] < want - n ? l[j] : want - n;

				for (uint32_t i = 0; i < m; i++)
					((uint8_t *)p[j])[i] = pattern(pos + n + i);
				n += m;
			}
			vd_ring_write_commit(&s->ring, n);
		}
		for (uint32_t i = 0; i < n; i++)
			s->sum_in += (uint64_t)pattern(pos + i) * (pos + i + 1);
		pos += n;
		if (n == 0)
			sched_yield();
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct stress *s = arg;
	uint32_t pos = 0, rng = 0x7654321;
	uint8_t chunk[1700];

	while (pos < STRESS_BYTES) {
		uint32_t want = step(&rng) % sizeof(chunk) + 1, n;

		if (want % 3 != 0) {
			n = vd_ring_read(&s->ring, chunk, want);
			for (uint32_t i = 0; i < n; i++) {
				s->errors += chunk[i] != pattern(pos + i);
				s->sum_out += (uint64_t)chunk[i] * (pos + i + 1);
			}
		} else {
			const void *p[2];
			uint32_t l[2];
			int k = vd_ring_read_regions(&s->ring, p, l);

			n = 0;
			for (int j = 0; j < k && n < want; j++) {
				uint32_t m = l[j] < want - n ? l[j] : want - n;

				for (uint32_t i = 0; i < m; i++) {
					uint8_t b = ((const uint8_t *)p[j])[i];

					s->errors += b != pattern(pos + n + i);
					s->sum_out += (uint64_t)b * (pos + n + i + 1);
				}
				n += m;
			}
			vd_ring_read_commit(&s->ring, n);
		}
		pos += n;
		if (n == 0)
			sched_yield();
	}
	return NULL;
}

static void test_two_thread_stress(void **state)
{
	static uint8_t storage[4096];
	static struct stress s;
	pthread_t tp, tc;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(vd_ring_init(&s.ring, storage, sizeof(storage)), 0);
	assert_int_equal(pthread_create(&tc, NULL, consumer, &s), 0);
	assert_int_equal(pthread_create(&tp, NULL, producer, &s), 0);
	assert_int_equal(pthread_join(tp, NULL), 0);
	assert_int_equal(pthread_join(tc, NULL), 0);
	assert_int_equal(s.errors, 0);
	assert_true(s.sum_in == s.sum_out);
	assert_true(s.sum_in != 0);
	assert_int_equal(vd_ring_readable(&s.ring), 0);
	assert_int_equal(atomic_load(&s.ring.write_index), STRESS_BYTES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_fill_and_drain),
		cmocka_unit_test(test_wrap_around),
		cmocka_unit_test(test_regions),
		cmocka_unit_test(test_index_wrap),
		cmocka_unit_test(test_two_thread_stress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
