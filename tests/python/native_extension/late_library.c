/* A plain shared library the tests dlopen (with ctypes) after tracking has
 * started: its allocations must be recorded too. */
#include <stdlib.h>

static void *kept;

/* Allocates size bytes with malloc and keeps them; returns 0 or -1. */
__attribute__((noinline)) int late_library_allocate(unsigned long size)
{
    kept = malloc(size);
    return kept ? 0 : -1;
}

/* Frees what late_library_allocate kept. */
void late_library_release(void)
{
    free(kept);
    kept = NULL;
}
