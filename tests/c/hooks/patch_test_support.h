/*
 * What the GOT patcher's tests share: malloc/free replacements that count
 * their calls and forward to the real functions, and the tiny patch_target
 * libraries opened with dlopen and called through. Included by
 * test_got_patcher_install.c and test_got_patcher_refresh.c, and implemented
 * in patch_test_support.c.
 */
#ifndef MEMLYZE_PATCH_TEST_SUPPORT_H
#define MEMLYZE_PATCH_TEST_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "binding/hooks/got_patcher.h"

typedef void *allocate_function(size_t size);
typedef void release_function(void *pointer);

/* Our own object's marker: passing its address as self_address keeps the
 * patcher away from this executable. */
extern int test_self_marker;

/* malloc and free, counted. */
#define COUNTING_HOOK_COUNT 2
extern const struct got_hook counting_hooks[COUNTING_HOOK_COUNT];

/* Counts a malloc call and forwards it to the real malloc. */
void *counting_malloc(size_t size);

/* Resolves the real malloc and free that the counting hooks forward to;
 * returns false if either is missing. Call it first in main. */
bool resolve_real_functions(void);

/* A dlopen'ed patch_target library and its functions. */
struct target {
    void *handle;
    allocate_function *allocate;
    allocate_function *allocate_through_table;
    release_function *release;
};

/* Opens the library at path; returns false (after a failed CHECK) if it or
 * its functions are missing. */
bool open_target(const char *path, struct target *target);

/* Closes a target opened by open_target. */
void close_target(struct target *target);

/* Counted calls made during one operation. */
struct call_counts {
    unsigned long mallocs;
    unsigned long frees;
};

/* Allocates and frees one block with this executable's own malloc/free and
 * returns how many counted calls that made. */
struct call_counts direct_round_trip(void);

/* Installs the counting hooks, skipping this executable; returns the result. */
int install_counting_hooks(void);

/* Checks that calls from target (direct and through its data pointer) are
 * counted exactly when expected says so. */
void check_target_counted(const struct target *target, unsigned long expected);

#endif
