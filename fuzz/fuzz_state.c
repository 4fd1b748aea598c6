/* fuzz/fuzz_state.c - libFuzzer target for the state file parser (src/daemon/state.c):
 * arbitrary bytes are parsed; whatever parses must format to text that parses back
 * to the same state (formatting it again gives the same bytes), and a rejected input
 * must come with a FILE:LINE:COLUMN message and leave the state empty. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vd_state *a, *b;
	char err[512], *t1, *t2;
	size_t l1, l2;

	if (vd_state_new(NULL, &a) < 0 || vd_state_new(NULL, &b) < 0)
		abort();
	if (vd_state_parse(a, (const char *)data, size, "fuzz", err, sizeof(err)) < 0) {
		if (strncmp(err, "fuzz:", 5) != 0 || vd_state_count(a, "a") != 0)
			abort();
		goto out;
	}
	if (vd_state_format(a, &t1, &l1) < 0)
		abort();
	if (vd_state_parse(b, t1, l1, "formatted", err, sizeof(err)) < 0) {
		fprintf(stderr, "formatted state does not parse: %s\n%s", err, t1);
		abort();
	}
	if (vd_state_format(b, &t2, &l2) < 0 || l1 != l2 || memcmp(t1, t2, l1) != 0)
		abort();
	free(t1);
	free(t2);
out:
	vd_state_free(a);
	vd_state_free(b);
	return 0;
}
