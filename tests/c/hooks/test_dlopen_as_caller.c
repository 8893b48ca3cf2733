/*
 * Tests of got_patcher_dlopen_as_caller (src/binding/hooks/library_search.c):
 * a bare library name is found through the caller's DT_RUNPATH / DT_RPATH
 * "$ORIGIN/sub" or "$ORIGIN/$LIB", the way ld.so itself would; anything else
 * goes to dlopen unchanged. No GOT slot is patched here.
 *
 * The library paths come from meson as PATCH_LOADER_* / PATCH_DEPENDENCY
 * defines; scratch directory trees are made (and removed) under
 * PATCH_SCRATCH_DIRECTORY, the build directory (/tmp may be noexec).
 */
#include "binding/hooks/got_patcher.h"
#include "tests/c/test_harness.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An object inside this executable, which has no search path of its own. */
static int test_self_marker;

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

int main(void)
{
    RUN_TEST(test_dlopen_as_caller);
    RUN_TEST(test_dlopen_as_caller_expands_lib);
    return test_harness_exit_code();
}
