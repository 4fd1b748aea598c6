/* tests/unit/test_accel_seqmap.c - the seqno map the accel engine and client share (src/accel/seqmap.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "accel/seqmap.h"

enum { MAX_KEYS = 64 };

struct model {
	uint64_t key[MAX_KEYS];	/* 0: slot free */
};

static uint64_t next_rand(uint64_t *r)
{
	*r = *r * 6364136223846793005u + 1442695040888963407u;
	return *r >> 33;
}

/* Every live key maps to its value, and retired or never-used keys to -1. */
static void check(const struct accel_seqmap *m, const struct model *md, uint64_t last)
{
	for (int i = 0; i < MAX_KEYS; i++)
		if (md->key[i])
			assert_int_equal(accel_seqmap_get(m, md->key[i]), i);
	for (uint64_t k = last > 300 ? last - 300 : 1; k <= last + 2; k++) {
		bool live = false;
		for (int i = 0; i < MAX_KEYS; i++)
			live |= md->key[i] == k;
		if (!live)
			assert_int_equal(accel_seqmap_get(m, k), -1);
	}
}

/* The engine's pattern: tasks in fixed slots take new, increasing seqnos
 * (reuse), some stay idle for a long time, some are freed and created again. */
static void test_reuse_pattern(void **state)
{
	struct accel_seqmap m;
	struct model md;
	uint64_t last = 0, r = 7;

	(void)state;
	memset(&m, 0, sizeof(m));
	memset(&md, 0, sizeof(md));
	for (int i = 0; i < MAX_KEYS; i++) {
		md.key[i] = ++last;
		accel_seqmap_put(&m, last, (uint8_t)i);
	}
	check(&m, &md, last);
	for (int step = 0; step < 20000; step++) {
		/* slots 0..3 are never reused: old keys among the new ones */
		int i = 4 + (int)(next_rand(&r) % (MAX_KEYS - 4));

		if (md.key[i] && next_rand(&r) % 8 == 0) {
			accel_seqmap_del(&m, md.key[i]);
			md.key[i] = 0;
		} else {
			if (md.key[i])
				accel_seqmap_del(&m, md.key[i]);
			md.key[i] = ++last;
			accel_seqmap_put(&m, last, (uint8_t)i);
		}
		if (step % 97 == 0)
			check(&m, &md, last);
	}
	check(&m, &md, last);
}

/* Keys chosen to share home cells, removed in every order: the backward
 * shift must keep each remaining key reachable. */
static void test_collisions(void **state)
{
	uint64_t same[MAX_KEYS];
	int n = 0;
	uint64_t r = 99;

	(void)state;
	for (uint64_t k = 1; n < MAX_KEYS && k < 10000000; k++)
		if (accel_seqmap_home(k) == accel_seqmap_home(1) ||
		    accel_seqmap_home(k) == ((accel_seqmap_home(1) + 1) & (ACCEL_SEQMAP_CELLS - 1)))
			same[n++] = k;
	assert_int_equal(n, MAX_KEYS);
	for (int round = 0; round < 50; round++) {
		struct accel_seqmap m;
		struct model md;

		memset(&m, 0, sizeof(m));
		memset(&md, 0, sizeof(md));
		for (int i = 0; i < MAX_KEYS; i++) {
			md.key[i] = same[i];
			accel_seqmap_put(&m, same[i], (uint8_t)i);
		}
		for (int left = MAX_KEYS; left > 0; left--) {
			int i = (int)(next_rand(&r) % MAX_KEYS);

			while (!md.key[i])
				i = (i + 1) % MAX_KEYS;
			accel_seqmap_del(&m, md.key[i]);
			assert_int_equal(accel_seqmap_get(&m, md.key[i]), -1);
			md.key[i] = 0;
			for (int j = 0; j < MAX_KEYS; j++)
				if (md.key[j])
					assert_int_equal(accel_seqmap_get(&m, md.key[j]), j);
		}
		for (unsigned c = 0; c < ACCEL_SEQMAP_CELLS; c++)
			assert_int_equal(m.key[c], 0);
	}
}

static void test_zero_and_absent(void **state)
{
	struct accel_seqmap m;

	(void)state;
	memset(&m, 0, sizeof(m));
	accel_seqmap_put(&m, 0, 5);	/* never a seqno: ignored */
	assert_int_equal(accel_seqmap_get(&m, 0), -1);
	accel_seqmap_put(&m, 42, 3);
	accel_seqmap_del(&m, 43);	/* absent: nothing moves */
	accel_seqmap_del(&m, 0);
	assert_int_equal(accel_seqmap_get(&m, 42), 3);
	accel_seqmap_del(&m, 42);
	assert_int_equal(accel_seqmap_get(&m, 42), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reuse_pattern),
		cmocka_unit_test(test_collisions),
		cmocka_unit_test(test_zero_and_absent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
