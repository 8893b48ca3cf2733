/*
 * Tests of the GOT patcher (src/binding/got_patcher.c): install/refresh/
 * forget/uninstall on tiny shared libraries built from patch_target.c, with
 * malloc/free replacements that count calls and forward to the real
 * functions; and got_patcher_dlopen_as_caller following a caller's
 * DT_RUNPATH / DT_RPATH "$ORIGIN/sub".
 *
 * The library paths come from meson as PATCH_TARGET_* / PATCH_LOADER_* /
 * PATCH_DEPENDENCY defines; scratch directory trees are made (and removed)
 * under PATCH_SCRATCH_DIRECTORY, the build directory (/tmp may be noexec).
 */
#include "binding/hooks/got_patcher.h"
#include "tests/c/test_harness.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef void *allocate_function(size_t size);
typedef void release_function(void *pointer);

static allocate_function *real_malloc;
static release_function *real_free;
static atomic_ulong malloc_calls;
static atomic_ulong free_calls;

/* Our own object's marker: passing its address as self_address keeps the
 * patcher away from this executable. */
static int test_self_marker;

/* Counts a malloc call and forwards it to the real malloc. */
static void *counting_malloc(size_t size)
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

static const struct got_hook counting_hooks[] = {
    {"malloc", (void *)counting_malloc},
    {"free", (void *)counting_free},
};
#define COUNTING_HOOK_COUNT (sizeof counting_hooks / sizeof counting_hooks[0])

/* Copies the function pointer that dlsym returns for name into destination
 * (a pointer to a function pointer); leaves NULL if not found. */
static void load_function(void *handle, const char *name, void *destination)
{
    void *symbol = dlsym(handle, name);
    memcpy(destination, &symbol, sizeof symbol);
}

/* A dlopen'ed patch_target library and its functions. */
struct target {
    void *handle;
    allocate_function *allocate;
    allocate_function *allocate_through_table;
    release_function *release;
};

/* Opens the library at path; returns false (after a failed CHECK) if it or
 * its functions are missing. */
static bool open_target(const char *path, struct target *target)
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

/* Closes a target opened by open_target. */
static void close_target(struct target *target)
{
    if (target->handle != NULL)
        dlclose(target->handle);
    memset(target, 0, sizeof *target);
}

/* Counted calls made during one operation. */
struct call_counts {
    unsigned long mallocs;
    unsigned long frees;
};

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

/* Allocates and frees one block with this executable's own malloc/free and
 * returns how many counted calls that made. */
static struct call_counts direct_round_trip(void)
{
    unsigned long mallocs_before = atomic_load(&malloc_calls);
    unsigned long frees_before = atomic_load(&free_calls);
    void *volatile pointer = malloc(40); /* volatile: keep the calls */
    free(pointer);
    return (struct call_counts){atomic_load(&malloc_calls) - mallocs_before,
                                atomic_load(&free_calls) - frees_before};
}

/* Installs the counting hooks, skipping this executable; returns the result. */
static int install_counting_hooks(void)
{
    char error[256] = "";
    int result = got_patcher_install(counting_hooks, COUNTING_HOOK_COUNT, &test_self_marker,
                                     error, sizeof error);
    if (result != 0)
        fprintf(stderr, "install failed: %s\n", error);
    return result;
}

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
/* GOT patching tests                                                       */
/* ------------------------------------------------------------------------ */

/* Checks that calls from target (direct and through its data pointer) are
 * counted exactly when expected says so. */
static void check_target_counted(const struct target *target, unsigned long expected)
{
    struct call_counts direct = round_trip(target, target->allocate);
    struct call_counts through_table = round_trip(target, target->allocate_through_table);
    CHECK_EQ_U64(direct.mallocs, expected);
    CHECK_EQ_U64(direct.frees, expected);
    CHECK_EQ_U64(through_table.mallocs, expected);
    CHECK_EQ_U64(through_table.frees, expected);
}

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
    got_patcher_refresh();
    got_patcher_forget_unloaded();
    got_patcher_uninstall();
    CHECK_EQ_U64(got_patcher_patched_slot_count(), 0);
}

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

/* ------------------------------------------------------------------------ */
/* dlopen on behalf of a caller                                             */
/* ------------------------------------------------------------------------ */

static char last_dlopen_path[PATH_MAX];
static int last_dlopen_flags;

/* A real_dlopen for got_patcher_dlopen_as_caller that remembers its last
 * call (a call with RTLD_NOLOAD is the "already loaded?" probe and is not
 * remembered). */
static void *recording_dlopen(const char *filename, int flags)
{
    if (!(flags & RTLD_NOLOAD)) {
        snprintf(last_dlopen_path, sizeof last_dlopen_path, "%s", filename ? filename : "(null)");
        last_dlopen_flags = flags;
    }
    return dlopen(filename, flags);
}

/* Copies the file at source to destination; returns whether it worked. */
static bool copy_file(const char *source, const char *destination)
{
    char buffer[65536];
    ssize_t count = 0;
    int input = open(source, O_RDONLY | O_CLOEXEC);
    int output = open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    bool ok = input >= 0 && output >= 0;
    while (ok && (count = read(input, buffer, sizeof buffer)) > 0)
        ok = write(output, buffer, (size_t)count) == count;
    if (input >= 0)
        close(input);
    if (output >= 0)
        close(output);
    return ok && count == 0;
}

/* A scratch tree: <root>/loader_runpath.so, <root>/loader_rpath.so and, in
 * <root>/sub, two copies of the dependency under names ld.so cannot find. */
struct loader_tree {
    char root[1024];
    char path[4][PATH_MAX];
};

static const char *const tree_sources[] = {PATCH_LOADER_RUNPATH, PATCH_LOADER_RPATH,
                                           PATCH_DEPENDENCY, PATCH_DEPENDENCY};
static const char *const tree_names[] = {"libloader_runpath.so", "libloader_rpath.so",
                                         "sub/libgot_dep_one.so", "sub/libgot_dep_two.so"};

/* Creates the scratch tree; returns false (after a failed CHECK) if it could
 * not. */
static bool create_loader_tree(struct loader_tree *tree)
{
    char sub[PATH_MAX];
    bool ok;
    snprintf(tree->root, sizeof tree->root, "%s/got_patcher_tree.XXXXXX", PATCH_SCRATCH_DIRECTORY);
    ok = mkdtemp(tree->root) != NULL;
    snprintf(sub, sizeof sub, "%s/sub", tree->root);
    ok = ok && mkdir(sub, 0755) == 0;
    for (size_t index = 0; ok && index < 4; index++) {
        snprintf(tree->path[index], sizeof tree->path[index], "%s/%s", tree->root,
                 tree_names[index]);
        ok = copy_file(tree_sources[index], tree->path[index]);
    }
    CHECK(ok);
    return ok;
}

/* Removes the scratch tree. */
static void remove_loader_tree(struct loader_tree *tree)
{
    char sub[PATH_MAX];
    for (size_t index = 0; index < 4; index++)
        unlink(tree->path[index]);
    snprintf(sub, sizeof sub, "%s/sub", tree->root);
    rmdir(sub);
    rmdir(tree->root);
}

/* Opens the loader at path and returns an address inside it (its
 * patch_target_allocate), or NULL. *handle receives the dlopen handle. */
static const void *open_loader(const char *path, void **handle)
{
    *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    CHECK(*handle != NULL);
    return *handle != NULL ? dlsym(*handle, "patch_target_allocate") : NULL;
}

/* Checks that a bare name is resolved through the caller's search path to
 * expected_path, and that asking again returns the same object. */
static void check_resolved(const void *caller, const char *name, const char *expected_path)
{
    void *handle = got_patcher_dlopen_as_caller(name, RTLD_NOW, caller, recording_dlopen);
    CHECK(handle != NULL);
    CHECK(strcmp(last_dlopen_path, expected_path) == 0);
    CHECK(last_dlopen_flags == RTLD_NOW);
    if (handle == NULL) {
        fprintf(stderr, "resolving %s: last path %s: %s\n", name, last_dlopen_path, dlerror());
        return;
    }
    CHECK(dlsym(handle, "patch_target_allocate") != NULL);
    void *again = got_patcher_dlopen_as_caller(name, RTLD_NOW, caller, recording_dlopen);
    CHECK(again == handle);
    if (again != NULL)
        dlclose(again);
    dlclose(handle);
}

/* A caller with DT_RUNPATH / DT_RPATH "$ORIGIN/sub" gets libraries from its
 * sub directory; names with '/', unknown names and callers without a search
 * path are passed to dlopen unchanged. */
static void test_dlopen_as_caller(void)
{
    struct loader_tree tree;
    void *runpath_loader = NULL, *rpath_loader = NULL;
    if (!create_loader_tree(&tree))
        return;
    const void *runpath_caller = open_loader(tree.path[0], &runpath_loader);
    const void *rpath_caller = open_loader(tree.path[1], &rpath_loader);
    void *plain = dlopen("libgot_dep_one.so", RTLD_NOW);
    CHECK(plain == NULL); /* ld.so alone cannot find it from here */
    if (runpath_caller != NULL)
        check_resolved(runpath_caller, "libgot_dep_one.so", tree.path[2]);
    if (rpath_caller != NULL)
        check_resolved(rpath_caller, "libgot_dep_two.so", tree.path[3]);
    CHECK(got_patcher_dlopen_as_caller("libgot_missing.so", RTLD_NOW, runpath_caller,
                                       recording_dlopen) == NULL);
    CHECK(strcmp(last_dlopen_path, "libgot_missing.so") == 0);
    CHECK(got_patcher_dlopen_as_caller("libgot_dep_two.so", RTLD_NOW, &test_self_marker,
                                       recording_dlopen) == NULL);
    CHECK(strcmp(last_dlopen_path, "libgot_dep_two.so") == 0);
    void *by_path = got_patcher_dlopen_as_caller(tree.path[2], RTLD_LAZY, runpath_caller,
                                                 recording_dlopen);
    CHECK(by_path != NULL && strcmp(last_dlopen_path, tree.path[2]) == 0);
    CHECK(last_dlopen_flags == RTLD_LAZY);
    if (by_path != NULL)
        dlclose(by_path);
    if (runpath_loader != NULL)
        dlclose(runpath_loader);
    if (rpath_loader != NULL)
        dlclose(rpath_loader);
    remove_loader_tree(&tree);
}

/* Copies into directory (PATH_MAX bytes) the entry of glibc's own search
 * list for the object opened as handle (dlinfo RTLD_DI_SERINFO, DSTs
 * expanded by ld.so) that lies under root. Returns whether there is one. */
static bool glibc_search_directory_under(void *handle, const char *root, char *directory)
{
    Dl_serinfo size;
    Dl_serinfo *list;
    bool found = false;
    if (dlinfo(handle, RTLD_DI_SERINFOSIZE, &size) != 0 || (list = malloc(size.dls_size)) == NULL)
        return false;
    list->dls_size = size.dls_size;
    list->dls_cnt = size.dls_cnt;
    if (dlinfo(handle, RTLD_DI_SERINFO, list) == 0) {
        for (unsigned int index = 0; index < list->dls_cnt && !found; index++) {
            const char *name = list->dls_serpath[index].dls_name;
            found = strncmp(name, root, strlen(root)) == 0;
            if (found)
                snprintf(directory, PATH_MAX, "%s", name);
        }
    }
    free(list);
    return found;
}

/* Creates every missing directory of path below root (like mkdir -p);
 * returns whether path exists afterwards. */
static bool make_directories(const char *root, const char *path)
{
    char partial[PATH_MAX];
    snprintf(partial, sizeof partial, "%s", path);
    for (char *slash = partial + strlen(root) + 1; (slash = strchr(slash, '/')) != NULL; slash++) {
        *slash = '\0';
        mkdir(partial, 0755);
        *slash = '/';
    }
    return mkdir(partial, 0755) == 0 || errno == EEXIST;
}

/* Removes path and its parent directories up to (not including) root. */
static void remove_directories(const char *root, const char *path)
{
    char partial[PATH_MAX];
    snprintf(partial, sizeof partial, "%s", path);
    while (strlen(partial) > strlen(root) && rmdir(partial) == 0) {
        char *slash = strrchr(partial, '/');
        if (slash == NULL)
            break;
        *slash = '\0';
    }
}

/* A caller whose DT_RUNPATH is $ORIGIN/$LIB finds the library in the same
 * directory glibc itself expands that to. */
static void test_dlopen_as_caller_expands_lib(void)
{
    char root[1024], loader[PATH_MAX], directory[PATH_MAX] = "", dependency[PATH_MAX + 32];
    void *handle = NULL;
    snprintf(root, sizeof root, "%s/got_patcher_lib.XXXXXX", PATCH_SCRATCH_DIRECTORY);
    bool ready = mkdtemp(root) != NULL;
    snprintf(loader, sizeof loader, "%s/libloader_lib.so", root);
    ready = ready && copy_file(PATCH_LOADER_LIB, loader);
    const void *caller = ready ? open_loader(loader, &handle) : NULL;
    ready = caller != NULL && glibc_search_directory_under(handle, root, directory);
    CHECK(ready);
    snprintf(dependency, sizeof dependency, "%s/libgot_dep_lib.so", directory);
    ready = ready && make_directories(root, directory) && copy_file(PATCH_DEPENDENCY, dependency);
    CHECK(ready);
    if (ready)
        check_resolved(caller, "libgot_dep_lib.so", dependency);
    if (handle != NULL)
        dlclose(handle);
    unlink(dependency);
    unlink(loader);
    if (directory[0] != '\0')
        remove_directories(root, directory);
    rmdir(root);
}

/* Resolves the real malloc and free that the counting hooks forward to. */
static bool resolve_real_functions(void)
{
    load_function(RTLD_DEFAULT, "malloc", &real_malloc);
    load_function(RTLD_DEFAULT, "free", &real_free);
    return real_malloc != NULL && real_free != NULL;
}

int main(void)
{
    if (!resolve_real_functions()) {
        fprintf(stderr, "cannot resolve malloc/free\n");
        return 1;
    }
    RUN_TEST(test_install_patches_loaded_objects);
    RUN_TEST(test_install_is_idempotent);
    RUN_TEST(test_invalid_arguments);
    RUN_TEST(test_refresh_patches_late_object);
    RUN_TEST(test_reloaded_object_is_patched_again);
    RUN_TEST(test_uninstall_skips_unloaded_objects);
    RUN_TEST(test_main_executable_is_patched);
    RUN_TEST(test_patching_while_other_threads_call);
    RUN_TEST(test_dlopen_as_caller);
    RUN_TEST(test_dlopen_as_caller_expands_lib);
    return test_harness_exit_code();
}
