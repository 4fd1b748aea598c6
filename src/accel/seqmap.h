/* accel/seqmap.h - task seqno -> status page entry, the O(1) lookup the engine and the client share.
 *
 * Open addressing with linear probing: at most VD_ACCEL_MAX_TASKS (64) live
 * keys in 256 cells. The live seqnos are mostly the latest ones handed out,
 * a contiguous range: their low bits would put them in one long run, which
 * every removal walks to its end, so the home cell is a multiplicative
 * (Fibonacci) hash that scatters neighbours. Seqno 0 is never a task's and
 * marks an empty cell. Removal moves the later cells of the probe run back
 * into the hole (no tombstones), so the table never degrades however many
 * STARTs reuse tasks under new seqnos.
 */
#ifndef VD_ACCEL_SEQMAP_H
#define VD_ACCEL_SEQMAP_H

#include <stdint.h>

#define ACCEL_SEQMAP_BITS 8
#define ACCEL_SEQMAP_CELLS (1u << ACCEL_SEQMAP_BITS)

struct accel_seqmap {
	uint64_t key[ACCEL_SEQMAP_CELLS];
	uint8_t val[ACCEL_SEQMAP_CELLS];
};

static inline unsigned accel_seqmap_home(uint64_t seqno)
{
	return (unsigned)((seqno * UINT64_C(0x9e3779b97f4a7c15)) >> (64 - ACCEL_SEQMAP_BITS));
}

/* The value stored for @seqno, or -1. */
static inline int accel_seqmap_get(const struct accel_seqmap *m, uint64_t seqno)
{
	if (!seqno)
		return -1;
	for (unsigned i = accel_seqmap_home(seqno); m->key[i]; i = (i + 1) & (ACCEL_SEQMAP_CELLS - 1))
		if (m->key[i] == seqno)
			return m->val[i];
	return -1;
}

/* Add @seqno (absent, non-zero; the caller holds at most 64 keys). */
static inline void accel_seqmap_put(struct accel_seqmap *m, uint64_t seqno, uint8_t val)
{
	unsigned i = accel_seqmap_home(seqno);

	if (!seqno)
		return;
	while (m->key[i])
		i = (i + 1) & (ACCEL_SEQMAP_CELLS - 1);
	m->key[i] = seqno;
	m->val[i] = val;
}

static inline void accel_seqmap_del(struct accel_seqmap *m, uint64_t seqno)
{
	unsigned i = accel_seqmap_home(seqno);

	if (!seqno)
		return;
	while (m->key[i] != seqno) {
		if (!m->key[i])
			return;
		i = (i + 1) & (ACCEL_SEQMAP_CELLS - 1);
	}
	m->key[i] = 0;
	for (unsigned j = (i + 1) & (ACCEL_SEQMAP_CELLS - 1); m->key[j]; j = (j + 1) & (ACCEL_SEQMAP_CELLS - 1)) {
		unsigned home = accel_seqmap_home(m->key[j]);

		/* a key may fill the hole unless its home lies after the hole */
		if (((j - home) & (ACCEL_SEQMAP_CELLS - 1)) >= ((j - i) & (ACCEL_SEQMAP_CELLS - 1))) {
			m->key[i] = m->key[j];
			m->val[i] = m->val[j];
			m->key[j] = 0;
			i = j;
		}
	}
}

#endif
