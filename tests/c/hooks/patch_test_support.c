/*
 * The counting hooks and patch_target helpers the GOT patcher's tests share.
 * See patch_test_support.h.
 */
#include "tests/c/hooks/patch_test_support.h"
#include "tests/c/test_harness.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static allocate_function *real_malloc;
static release_function *real_free;
static atomic_ulong malloc_calls;
static atomic_ulong free_calls;

int test_self_marker;

/* See patch_test_support.h. */
void *counting_malloc(size_t size)
{
    atomic_fetch_add(&malloc_calls, 1);
    return real_malloc(size);
}

/* Counts a free call and forwards it to the real free. */
static void counting_free(void *pointer)
{
    atomic_fetch_add(&free_calls, 1);
    real_free(pointer);
}

const struct got_hook counting_hooks[COUNTING_HOOK_COUNT] = {
    {"malloc", (void *)counting_malloc},
    {"free", (void *)counting_free},
};

/* Copies the function pointer that dlsym returns for name into destination
 * (a pointer to a function pointer); leaves NULL if not found. */
static void load_function(void *handle, const char *name, void *destination)
{
    void *symbol = dlsym(handle, name);
    memcpy(destination, &symbol, sizeof symbol);
}

/* See patch_test_support.h. */
bool resolve_real_functions(void)
{
    load_function(RTLD_DEFAULT, "malloc", &real_malloc);
    load_function(RTLD_DEFAULT, "free", &real_free);
    return real_malloc != NULL && real_free != NULL;
}

/* See patch_test_support.h. */
bool open_target(const char *path, struct target *target)
{
    memset(target, 0, sizeof *target);
    target->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    CHECK(target->handle != NULL);
    if (target->handle == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return false;
    }
    load_function(target->handle, "patch_target_allocate", &target->allocate);
    load_function(target->handle, "patch_target_allocate_through_table",
                  &target->allocate_through_table);
    load_function(target->handle, "patch_target_release", &target->release);
    CHECK(target->allocate != NULL && target->allocate_through_table != NULL
          && target->release != NULL);
    return target->allocate != NULL && target->allocate_through_table != NULL
        && target->release != NULL;
}

/* See patch_test_support.h. */
void close_target(struct target *target)
{
    if (target->handle != NULL)
        dlclose(target->handle);
    memset(target, 0, sizeof *target);
}

/* Allocates and frees one block through target (allocating with allocate)
 * and returns how many counted malloc/free calls that made. */
static struct call_counts round_trip(const struct target *target, allocate_function *allocate)
{
    unsigned long mallocs_before = atomic_load(&malloc_calls);
    unsigned long frees_before = atomic_load(&free_calls);
    void *pointer = allocate(48);
    CHECK(pointer != NULL);
    target->release(pointer);
    return (struct call_counts){atomic_load(&malloc_calls) - mallocs_before,
                                atomic_load(&free_calls) - frees_before};
}

/* See patch_test_support.h. */
struct call_counts direct_round_trip(void)
{
    unsigned long mallocs_before = atomic_load(&malloc_calls);
    unsigned long frees_before = atomic_load(&free_calls);
    void *volatile pointer = malloc(40); /* volatile: keep the calls */
    free(pointer);
    return (struct call_counts){atomic_load(&malloc_calls) - mallocs_before,
                                atomic_load(&free_calls) - frees_before};
}

/* See patch_test_support.h. */
int install_counting_hooks(void)
{
    char error[256] = "";
    int result = got_patcher_install(counting_hooks, COUNTING_HOOK_COUNT, &test_self_marker,
                                     error, sizeof error);
    if (result != 0)
        fprintf(stderr, "install failed: %s\n", error);
    return result;
}

/* See patch_test_support.h. */
void check_target_counted(const struct target *target, unsigned long expected)
{
    struct call_counts direct = round_trip(target, target->allocate);
    struct call_counts through_table = round_trip(target, target->allocate_through_table);
    CHECK_EQ_U64(direct.mallocs, expected);
    CHECK_EQ_U64(direct.frees, expected);
    CHECK_EQ_U64(through_table.mallocs, expected);
    CHECK_EQ_U64(through_table.frees, expected);
}
