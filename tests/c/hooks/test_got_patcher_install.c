/*
 * Tests of the GOT patcher (src/binding/hooks/got_patcher*.c) on objects
 * loaded before install: install patches them (lazy PLT, RELRO + BIND_NOW,
 * -fno-plt, the main executable), again and again without harm, refuses bad
 * or conflicting hook lists, and uninstall restores every slot, RELRO pages
 * included, also while other threads call through them.
 *
 * The library paths come from meson as PATCH_TARGET_LAZY / _NOW / _NOPLT.
 */
#include "binding/hooks/got_patcher.h"
#include "tests/c/hooks/patch_test_support.h"
#include "tests/c/test_harness.h"

#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* RELRO inspection                                                         */
/* ------------------------------------------------------------------------ */

/* Finds the page range ld.so protects as RELRO in the object containing
 * address. */
struct relro_query {
    uintptr_t address;
    uintptr_t start;
    uintptr_t end;
    bool found;
};

/* Returns whether the dl_iterate_phdr entry contains address in a PT_LOAD. */
static bool object_contains(const struct dl_phdr_info *info, uintptr_t address)
{
    for (size_t index = 0; index < info->dlpi_phnum; index++) {
        const ElfW(Phdr) *header = &info->dlpi_phdr[index];
        uintptr_t start = info->dlpi_addr + header->p_vaddr;
        if (header->p_type == PT_LOAD && address >= start && address < start + header->p_memsz)
            return true;
    }
    return false;
}

/* dl_iterate_phdr callback filling a relro_query. */
static int find_relro(struct dl_phdr_info *info, size_t size, void *data)
{
    struct relro_query *query = data;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    (void)size;
    if (!object_contains(info, query->address))
        return 0;
    for (size_t index = 0; index < info->dlpi_phnum; index++) {
        const ElfW(Phdr) *header = &info->dlpi_phdr[index];
        if (header->p_type != PT_GNU_RELRO)
            continue;
        query->start = (info->dlpi_addr + header->p_vaddr) & ~(page - 1);
        query->end = (info->dlpi_addr + header->p_vaddr + header->p_memsz) & ~(page - 1);
        query->found = query->end > query->start;
    }
    return 1;
}

/* Returns the permission string ("r--p", ...) /proc/self/maps shows for
 * address in permissions (5 bytes); false if not found. */
static bool page_permissions(uintptr_t address, char *permissions)
{
    char line[512];
    bool found = false;
    FILE *maps = fopen("/proc/self/maps", "r");
    while (maps != NULL && !found && fgets(line, sizeof line, maps) != NULL) {
        unsigned long start, end;
        if (sscanf(line, "%lx-%lx %4s", &start, &end, permissions) == 3)
            found = address >= start && address < end;
    }
    if (maps != NULL)
        fclose(maps);
    return found;
}

/* Returns whether the object containing symbol has a RELRO range whose first
 * page is mapped without write permission. */
static bool relro_is_read_only(const void *symbol)
{
    struct relro_query query = {.address = (uintptr_t)symbol};
    char permissions[5] = "";
    dl_iterate_phdr(find_relro, &query);
    if (!query.found || !page_permissions(query.start, permissions))
        return false;
    return permissions[0] == 'r' && permissions[1] == '-';
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */
/* ------------------------------------------------------------------------ */

/* Objects loaded before install (lazy PLT, RELRO+BIND_NOW, -fno-plt) are
 * patched; uninstall restores them; RELRO stays read-only throughout. */
static void test_install_patches_loaded_objects(void)
{
    struct target lazy, now, noplt;
    bool opened = open_target(PATCH_TARGET_LAZY, &lazy);
    opened = open_target(PATCH_TARGET_NOW, &now) && opened;
    opened = open_target(PATCH_TARGET_NOPLT, &noplt) && opened;
    if (opened) {
        check_target_counted(&lazy, 0);
        CHECK(install_counting_hooks() == 0);
        /* malloc, free and the data pointer in each of the three libraries */
        CHECK_EQ_U64(got_patcher_patched_slot_count(), 9);
        check_target_counted(&lazy, 1);
        check_target_counted(&now, 1);
        check_target_counted(&noplt, 1);
        CHECK(relro_is_read_only((const void *)now.allocate));
        CHECK(relro_is_read_only((const void *)noplt.allocate));
        CHECK(relro_is_read_only((const void *)lazy.allocate));
        CHECK_EQ_U64(direct_round_trip().mallocs, 0); /* self is skipped */
        got_patcher_uninstall();
        CHECK_EQ_U64(got_patcher_patched_slot_count(), 0);
        check_target_counted(&lazy, 0);
        check_target_counted(&now, 0);
        check_target_counted(&noplt, 0);
        CHECK(relro_is_read_only((const void *)now.allocate));
    }
    close_target(&lazy);
    close_target(&now);
    close_target(&noplt);
}

/* Installing again with the same hooks, or refreshing, patches nothing more;
 * other hooks are refused while installed. */
static void test_install_is_idempotent(void)
{
    struct got_hook same_hooks[COUNTING_HOOK_COUNT];
    struct got_hook malloc_only = {"malloc", (void *)counting_malloc};
    struct target lazy;
    char error[256] = "";
    memcpy(same_hooks, counting_hooks, sizeof same_hooks);
    if (open_target(PATCH_TARGET_LAZY, &lazy)) {
        CHECK(install_counting_hooks() == 0);
        size_t slots = got_patcher_patched_slot_count();
        CHECK_EQ_U64(slots, 3);
        CHECK(install_counting_hooks() == 0);
        CHECK_EQ_U64(got_patcher_patched_slot_count(), slots);
        CHECK(got_patcher_install(same_hooks, COUNTING_HOOK_COUNT, &test_self_marker, error,
                                  sizeof error) == 0);
        got_patcher_refresh();
        got_patcher_refresh();
        CHECK_EQ_U64(got_patcher_patched_slot_count(), slots);
        errno = 0;
        CHECK(got_patcher_install(&malloc_only, 1, &test_self_marker, error, sizeof error) == -1);
        CHECK(errno == EBUSY);
        CHECK(error[0] != '\0');
        check_target_counted(&lazy, 1); /* still installed */
        got_patcher_uninstall();
        check_target_counted(&lazy, 0);
    }
    close_target(&lazy);
}

/* Hooks whose names share a first byte are told apart by the whole name:
 * near-misses listed first ("mallocz", "fre") patch nothing, and the real
 * names behind them are still found. */
static void test_hooks_sharing_a_first_byte(void)
{
    struct got_hook hooks[4] = {
        {"mallocz", counting_hooks[0].replacement},
        {"fre", counting_hooks[1].replacement},
        counting_hooks[0],
        counting_hooks[1],
    };
    struct target lazy;
    char error[256] = "";
    if (open_target(PATCH_TARGET_LAZY, &lazy)) {
        CHECK(got_patcher_install(hooks, 4, &test_self_marker, error, sizeof error) == 0);
        CHECK_EQ_U64(got_patcher_patched_slot_count(), 3);
        check_target_counted(&lazy, 1);
        got_patcher_uninstall();
        check_target_counted(&lazy, 0);
    }
    close_target(&lazy);
}

/* Invalid hook lists are refused with EINVAL; refresh/forget/uninstall
 * without install do nothing. */
static void test_invalid_arguments(void)
{
    struct got_hook no_replacement = {"malloc", NULL};
    char error[256] = "";
    errno = 0;
    CHECK(got_patcher_install(NULL, 0, NULL, error, sizeof error) == -1);
    CHECK(errno == EINVAL);
    CHECK(strstr(error, "got_patcher") != NULL);
    CHECK(got_patcher_install(&no_replacement, 1, NULL, NULL, 0) == -1);
    struct got_hook too_many[GOT_PATCHER_MAX_HOOKS + 1];
    for (size_t index = 0; index <= GOT_PATCHER_MAX_HOOKS; index++)
        too_many[index] = counting_hooks[0];
    errno = 0;
    CHECK(got_patcher_install(too_many, GOT_PATCHER_MAX_HOOKS + 1, NULL, NULL, 0) == -1);
    CHECK(errno == EINVAL);
    got_patcher_refresh();
    got_patcher_forget_unloaded();
    got_patcher_uninstall();
    CHECK_EQ_U64(got_patcher_patched_slot_count(), 0);
}

/* With no self address the main executable is patched too. */
static void test_main_executable_is_patched(void)
{
    char error[256] = "";
    CHECK(got_patcher_install(counting_hooks, COUNTING_HOOK_COUNT, NULL, error,
                              sizeof error) == 0);
    struct call_counts counts = direct_round_trip();
    CHECK_EQ_U64(counts.mallocs, 1);
    CHECK_EQ_U64(counts.frees, 1);
    got_patcher_uninstall();
    counts = direct_round_trip();
    CHECK_EQ_U64(counts.mallocs, 0);
    CHECK_EQ_U64(counts.frees, 0);
}

/* Shared state of the concurrency test. */
struct hammer_state {
    const struct target *targets;
    size_t target_count;
    atomic_bool stop;
    atomic_ulong iterations;
};

/* Thread body: allocates and frees through the targets until told to stop. */
static void *hammer_targets(void *argument)
{
    struct hammer_state *state = argument;
    while (!atomic_load(&state->stop)) {
        for (size_t index = 0; index < state->target_count; index++) {
            const struct target *target = &state->targets[index];
            target->release(target->allocate(16));
            target->release(target->allocate_through_table(16));
        }
        atomic_fetch_add(&state->iterations, 1);
    }
    return NULL;
}

/* Other threads keep calling through the slots while they are patched and
 * restored over and over (RELRO pages included). */
static void test_patching_while_other_threads_call(void)
{
    struct target targets[2];
    struct hammer_state state = {.targets = targets, .target_count = 2};
    pthread_t threads[3];
    bool opened = open_target(PATCH_TARGET_LAZY, &targets[0]);
    if (open_target(PATCH_TARGET_NOW, &targets[1]) && opened) {
        for (size_t index = 0; index < 3; index++)
            CHECK(pthread_create(&threads[index], NULL, hammer_targets, &state) == 0);
        for (int cycle = 0; cycle < 300; cycle++) {
            CHECK(install_counting_hooks() == 0);
            got_patcher_refresh();
            got_patcher_uninstall();
        }
        atomic_store(&state.stop, true);
        for (size_t index = 0; index < 3; index++)
            pthread_join(threads[index], NULL);
        CHECK(atomic_load(&state.iterations) > 0);
        CHECK_EQ_U64(got_patcher_patched_slot_count(), 0);
        check_target_counted(&targets[0], 0);
        CHECK(relro_is_read_only((const void *)targets[1].allocate));
    }
    close_target(&targets[0]);
    close_target(&targets[1]);
}

int main(void)
{
    if (!resolve_real_functions()) {
        fprintf(stderr, "cannot resolve malloc/free\n");
        return 1;
    }
    RUN_TEST(test_install_patches_loaded_objects);
    RUN_TEST(test_install_is_idempotent);
    RUN_TEST(test_hooks_sharing_a_first_byte);
    RUN_TEST(test_invalid_arguments);
    RUN_TEST(test_main_executable_is_patched);
    RUN_TEST(test_patching_while_other_threads_call);
    return test_harness_exit_code();
}
