/*
 * Tests of the GOT patcher (src/binding/hooks/got_patcher*.c) as objects come
 * and go after install: refresh patches a library dlopen'ed later,
 * forget_unloaded drops the slots of one dlclose'd, uninstall leaves the
 * unmapped slots of one unloaded behind its back alone, and one loaded again
 * with a fresh GOT is patched again.
 *
 * The library paths come from meson as PATCH_TARGET_LAZY / _LATE.
 */
#include "binding/hooks/got_patcher.h"
#include "tests/c/hooks/patch_test_support.h"
#include "tests/c/test_harness.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>

/* Returns whether the library at path is no longer loaded. */
static bool library_unloaded(const char *path)
{
    void *handle = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (handle != NULL)
        dlclose(handle);
    return handle == NULL;
}

/* A library loaded after install is patched by refresh; after dlclose,
 * forget_unloaded drops its slots; uninstall then stops all counting. */
static void test_refresh_patches_late_object(void)
{
    struct target lazy, late;
    if (open_target(PATCH_TARGET_LAZY, &lazy)) {
        CHECK(install_counting_hooks() == 0);
        size_t slots_before = got_patcher_patched_slot_count();
        if (open_target(PATCH_TARGET_LATE, &late)) {
            check_target_counted(&late, 0);
            got_patcher_refresh();
            CHECK_EQ_U64(got_patcher_patched_slot_count(), slots_before + 3);
            check_target_counted(&late, 1);
            check_target_counted(&lazy, 1);
        }
        close_target(&late);
        CHECK(library_unloaded(PATCH_TARGET_LATE));
        got_patcher_forget_unloaded();
        CHECK_EQ_U64(got_patcher_patched_slot_count(), slots_before);
        check_target_counted(&lazy, 1);
        got_patcher_uninstall();
        check_target_counted(&lazy, 0);
    }
    close_target(&lazy);
}

/* Uninstall after a patched library was unloaded, without forget_unloaded,
 * must not touch its (unmapped) slots. */
static void test_uninstall_skips_unloaded_objects(void)
{
    struct target late;
    CHECK(install_counting_hooks() == 0);
    if (open_target(PATCH_TARGET_LATE, &late)) {
        got_patcher_refresh();
        CHECK(got_patcher_patched_slot_count() >= 3);
        check_target_counted(&late, 1);
    }
    close_target(&late);
    CHECK(library_unloaded(PATCH_TARGET_LATE));
    got_patcher_uninstall();
    CHECK_EQ_U64(got_patcher_patched_slot_count(), 0);
    /* Loaded again (fresh GOT), it is not counted. */
    if (open_target(PATCH_TARGET_LATE, &late))
        check_target_counted(&late, 0);
    close_target(&late);
}

/* A library unloaded behind the patcher's back (no forget_unloaded) and
 * loaded again, likely at the same base under the same name, has a fresh GOT:
 * refresh must patch it again rather than trust what it knew of the old one. */
static void test_reloaded_object_is_patched_again(void)
{
    struct target late;
    CHECK(install_counting_hooks() == 0);
    if (open_target(PATCH_TARGET_LATE, &late)) {
        got_patcher_refresh();
        check_target_counted(&late, 1);
    }
    close_target(&late);
    CHECK(library_unloaded(PATCH_TARGET_LATE));
    if (open_target(PATCH_TARGET_LATE, &late)) {
        check_target_counted(&late, 0);
        got_patcher_refresh();
        check_target_counted(&late, 1);
    }
    close_target(&late);
    got_patcher_uninstall();
}

int main(void)
{
    if (!resolve_real_functions()) {
        fprintf(stderr, "cannot resolve malloc/free\n");
        return 1;
    }
    RUN_TEST(test_refresh_patches_late_object);
    RUN_TEST(test_reloaded_object_is_patched_again);
    RUN_TEST(test_uninstall_skips_unloaded_objects);
    return test_harness_exit_code();
}
