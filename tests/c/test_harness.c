#include "tests/c/test_harness.h"

int test_harness_failures;
int test_harness_checks;

int test_harness_exit_code(void)
{
    fprintf(stderr, "%d checks, %d failed\n", test_harness_checks, test_harness_failures);
    return test_harness_failures ? 1 : 0;
}
