/* tests/unit/test_accel.c - the accel conformance suite against the in-process engine.
 *
 * Run three times: tasks inline in START when the session is idle (the
 * default), every task on the worker thread (VD_ACCEL_INLINE_MAX=0), and
 * with a spinning worker (VD_ACCEL_SPIN_US), so each dispatch path meets
 * every rule.
 */
#include "test_accel_suite.c"

int main(void)
{
	int failed = 0;

	failed += accel_conformance_run(NULL, "accel in-process (inline)");
	setenv("VD_ACCEL_INLINE_MAX", "0", 1);
	failed += accel_conformance_run(NULL, "accel in-process (worker)");
	setenv("VD_ACCEL_SPIN_US", "50", 1);
	failed += accel_conformance_run(NULL, "accel in-process (spinning worker)");
	return failed;
}
