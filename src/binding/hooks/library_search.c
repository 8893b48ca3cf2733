/*
 * dlopen on behalf of a caller: ld.so's search path rules (DT_RPATH,
 * LD_LIBRARY_PATH, DT_RUNPATH; $ORIGIN, $LIB and $PLATFORM expansion) applied
 * for the code that called our interposed dlopen. See
 * got_patcher_dlopen_as_caller in got_patcher.h.
 *
 * Uses plain malloc: this file is linked into the object whose own GOT is
 * never patched, so those calls are not intercepted.
 */
#include "binding/hooks/got_patcher.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "binding/hooks/elf_dynamic.h"
#include "binding/hooks/proc_file.h"

/* An object whose search paths we follow. */
struct search_object {
    const char *name; /* l_name; "" for the main program */
    const ElfW(Dyn) *dynamic;
    const char *rpath;
    const char *runpath;
};

/* A filled-in directory path and whether it fit. */
struct path_builder {
    char *text;
    size_t size;
    size_t length;
    bool overflow;
};

/* Appends length bytes of piece to builder. */
static void builder_append(struct path_builder *builder, const char *piece, size_t length)
{
    if (builder->overflow || builder->length + length >= builder->size) {
        builder->overflow = true;
        return;
    }
    memcpy(builder->text + builder->length, piece, length);
    builder->length += length;
    builder->text[builder->length] = '\0';
}

static char library_directory_token[PATH_MAX] = "lib64";
static pthread_once_t library_directory_token_once = PTHREAD_ONCE_INIT;
static char *startup_library_path;
static pthread_once_t startup_library_path_once = PTHREAD_ONCE_INIT;

/* Returns whether ld.so runs in secure (setuid) mode, where it ignores
 * LD_LIBRARY_PATH and restricts $ORIGIN. */
static bool secure_mode(void)
{
    return getauxval(AT_SECURE) != 0;
}

/* dl_iterate_phdr callback: copies libc's directory into data (a PATH_MAX
 * buffer) and stops. */
static int find_libc_directory(struct dl_phdr_info *info, size_t info_size, void *data)
{
    const char *name = info->dlpi_name != NULL ? info->dlpi_name : "";
    const char *base_name = elf_dynamic_base_name(name);
    (void)info_size;
    if (!elf_dynamic_starts_with(base_name, "libc.so.") || base_name == name
        || (size_t)(base_name - name) >= PATH_MAX)
        return 0;
    memcpy(data, name, (size_t)(base_name - name - 1));
    ((char *)data)[base_name - name - 1] = '\0';
    return 1;
}

/* Works out what ld.so substitutes for $LIB (its DL_DST_LIB, which is libc's
 * installation directory without the leading '/', e.g.
 * "lib/x86_64-linux-gnu" on Debian, "lib64" on Fedora) from where libc was
 * loaded. A merged-/usr path such as /usr/lib64 counts as /lib64. */
static void compute_library_directory_token(void)
{
    char directory[PATH_MAX] = "";
    const char *token = directory;
    if (dl_iterate_phdr(find_libc_directory, directory) == 0 || directory[0] != '/')
        return; /* keep the "lib64" default */
    token = directory + 1;
    if (elf_dynamic_starts_with(token, "usr/lib"))
        token += strlen("usr/");
    if (token[0] != '\0')
        snprintf(library_directory_token, sizeof library_directory_token, "%s", token);
}

/* Returns the value of LD_LIBRARY_PATH in a NUL-separated environment block,
 * or NULL. */
static const char *find_library_path_entry(const char *block, size_t length)
{
    static const char key[] = "LD_LIBRARY_PATH=";
    for (size_t offset = 0; offset < length; offset += strlen(block + offset) + 1)
        if (strncmp(block + offset, key, sizeof key - 1) == 0)
            return block + offset + sizeof key - 1;
    return NULL;
}

/* Captures LD_LIBRARY_PATH as ld.so saw it at startup (from
 * /proc/self/environ: later setenv calls do not change ld.so's search path),
 * falling back to getenv when /proc is unavailable. Ignored in secure mode. */
static void capture_startup_library_path(void)
{
    size_t length;
    char *block;
    const char *value;
    if (secure_mode())
        return;
    block = proc_file_read_whole("/proc/self/environ", &length);
    value = block != NULL ? find_library_path_entry(block, length) : getenv("LD_LIBRARY_PATH");
    if (value != NULL && value[0] != '\0')
        startup_library_path = strdup(value);
    free(block);
}

/* Writes the directory $ORIGIN stands for in object into origin (PATH_MAX
 * bytes). Returns false if unknown. */
static bool object_origin(const struct search_object *object, char *origin)
{
    char path[PATH_MAX];
    char *slash;
    size_t length;
    if (object->name[0] == '\0') {
        ssize_t link_length = readlink("/proc/self/exe", path, sizeof path - 1);
        if (link_length <= 0)
            return false;
        path[link_length] = '\0';
    } else if (object->name[0] == '/') {
        snprintf(path, sizeof path, "%s", object->name);
    } else {
        char directory[PATH_MAX];
        if (getcwd(directory, sizeof directory) == NULL)
            return false;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", directory, object->name) >= sizeof path)
            return false;
    }
    slash = strrchr(path, '/');
    if (slash == NULL)
        return false;
    length = slash == path ? 1 : (size_t)(slash - path); /* "/x" has origin "/" */
    memcpy(origin, path, length);
    origin[length] = '\0';
    return true;
}

/* Returns how many characters after a '$' form the token named name (with or
 * without braces, not followed by more identifier characters), or 0. */
static size_t token_length(const char *text, size_t available, const char *name)
{
    size_t name_length = strlen(name);
    bool braced = available > 0 && text[0] == '{';
    size_t start = braced ? 1 : 0;
    char next;
    if (available < start + name_length || strncmp(text + start, name, name_length) != 0)
        return 0;
    next = available > start + name_length ? text[start + name_length] : '\0';
    if (braced)
        return next == '}' ? name_length + 2 : 0;
    if (next == '_' || (next >= 'A' && next <= 'Z') || (next >= 'a' && next <= 'z')
        || (next >= '0' && next <= '9'))
        return 0;
    return name_length;
}

/* Returns what a recognised dynamic string token stands for in object (NULL
 * if it cannot be substituted, which discards the path element) and sets
 * *consumed to its length after '$'; returns "" with *consumed 0 when text is
 * no known token. origin is a PATH_MAX scratch buffer. */
static const char *token_value(const char *text, size_t available,
                               const struct search_object *object, char *origin,
                               size_t *consumed)
{
    if ((*consumed = token_length(text, available, "ORIGIN")) != 0)
        return !secure_mode() && object_origin(object, origin) ? origin : NULL;
    if ((*consumed = token_length(text, available, "PLATFORM")) != 0)
        return (const char *)getauxval(AT_PLATFORM);
    if ((*consumed = token_length(text, available, "LIB")) != 0) {
        pthread_once(&library_directory_token_once, compute_library_directory_token);
        return library_directory_token;
    }
    return "";
}

/* Expands $ORIGIN, $LIB and $PLATFORM in one path element into builder.
 * Returns false if the element must be discarded. */
static bool expand_element(const char *element, size_t length, const struct search_object *object,
                           struct path_builder *builder)
{
    char origin[PATH_MAX];
    for (size_t index = 0; index < length;) {
        size_t consumed = 0;
        const char *value = element[index] == '$'
                                ? token_value(element + index + 1, length - index - 1, object,
                                              origin, &consumed)
                                : "";
        if (value == NULL)
            return false;
        if (consumed == 0) {
            builder_append(builder, element + index, 1);
            index++;
        } else {
            builder_append(builder, value, strlen(value));
            index += 1 + consumed;
        }
    }
    return !builder->overflow;
}

/* Returns whether path names a file ld.so would try to load: anything it can
 * open except an ELF file of another class or machine (which ld.so skips). A
 * non-ELF file is accepted so that dlopen reports it as ld.so would. */
static bool candidate_is_loadable(const char *path)
{
    ElfW(Ehdr) header;
    ssize_t count;
    int descriptor = open(path, O_RDONLY | O_CLOEXEC);
    if (descriptor < 0)
        return false;
    count = read(descriptor, &header, sizeof header);
    close(descriptor);
    if (count < (ssize_t)EI_NIDENT || memcmp(header.e_ident, ELFMAG, SELFMAG) != 0)
        return true;
    if (header.e_ident[EI_CLASS] != ELFCLASS64)
        return false;
    return count < (ssize_t)sizeof header || header.e_machine == EM_X86_64;
}

/* Builds "<expanded element>/<filename>" into path (PATH_MAX bytes) and
 * returns whether that file is loadable. An empty element means the current
 * directory; an element that expands to nothing is skipped. */
static bool try_path_element(const char *element, size_t length, const struct search_object *object,
                             const char *filename, char *path)
{
    struct path_builder builder = {path, PATH_MAX, 0, false};
    path[0] = '\0';
    if (length == 0)
        builder_append(&builder, ".", 1);
    else if (!expand_element(element, length, object, &builder) || builder.length == 0)
        return false;
    while (builder.length > 1 && path[builder.length - 1] == '/')
        path[--builder.length] = '\0';
    if (path[builder.length - 1] != '/')
        builder_append(&builder, "/", 1);
    builder_append(&builder, filename, strlen(filename));
    return !builder.overflow && candidate_is_loadable(path);
}

/* Tries each element of a search list (elements split at any character of
 * separators, $ORIGIN relative to object). Returns whether filename was
 * found; its full path is then in path. */
static bool search_list(const char *list, const char *separators,
                        const struct search_object *object, const char *filename, char *path)
{
    const char *element = list;
    while (element != NULL) {
        size_t length = strcspn(element, separators);
        if (try_path_element(element, length, object, filename, path))
            return true;
        element = element[length] != '\0' ? element + length + 1 : NULL;
    }
    return false;
}

/* Fills object from a dynamic section; returns false if it has no string
 * table. */
static bool describe_search_object(const char *name, const ElfW(Dyn) *dynamic, uintptr_t base,
                                   struct search_object *object)
{
    struct dynamic_tables tables;
    (void)elf_dynamic_read_tables(dynamic, base, &tables);
    object->name = name != NULL ? name : "";
    object->dynamic = dynamic;
    object->rpath = tables.rpath != NULL && tables.rpath[0] != '\0' ? tables.rpath : NULL;
    object->runpath = tables.runpath != NULL && tables.runpath[0] != '\0' ? tables.runpath : NULL;
    return tables.strings != NULL;
}

/* dl_iterate_phdr callback: describes the first object (the main program)
 * into data and stops. */
static int describe_first_object(struct dl_phdr_info *info, size_t info_size, void *data)
{
    struct object_view view;
    (void)info_size;
    elf_dynamic_describe_object(info, &view);
    if (!describe_search_object(view.name, view.dynamic, view.base, data))
        ((struct search_object *)data)->dynamic = NULL;
    return 1;
}

/* Searches the RPATHs ld.so uses for a caller without RUNPATH: the caller's,
 * then the main program's (unless it is the caller or has a RUNPATH). The
 * chain of objects that loaded the caller (l_loader) is not public and is
 * not followed. */
static bool search_rpaths(const struct search_object *caller, const char *filename, char *path)
{
    struct search_object main_program = {"", NULL, NULL, NULL};
    if (caller->rpath != NULL && search_list(caller->rpath, ":", caller, filename, path))
        return true;
    dl_iterate_phdr(describe_first_object, &main_program);
    if (main_program.dynamic == NULL || main_program.dynamic == caller->dynamic
        || main_program.runpath != NULL || main_program.rpath == NULL)
        return false;
    return search_list(main_program.rpath, ":", &main_program, filename, path);
}

/* Searches what ld.so uses for a caller with RUNPATH: LD_LIBRARY_PATH as of
 * startup ($ORIGIN relative to the main program), then the caller's RUNPATH. */
static bool search_runpath(const struct search_object *caller, const char *filename, char *path)
{
    pthread_once(&startup_library_path_once, capture_startup_library_path);
    if (startup_library_path != NULL) {
        struct search_object main_program = {"", NULL, NULL, NULL};
        dl_iterate_phdr(describe_first_object, &main_program);
        if (search_list(startup_library_path, ":;", &main_program, filename, path))
            return true;
    }
    return search_list(caller->runpath, ":", caller, filename, path);
}

/* Finds filename (no '/') along the search path ld.so would use for the
 * object containing caller_address, up to (not including) ld.so.cache and
 * the default directories. Returns whether found; the full path is in path
 * (PATH_MAX bytes). */
static bool find_library_for_caller(const char *filename, const void *caller_address, char *path)
{
    Dl_info info;
    struct link_map *map = NULL;
    struct search_object caller;
    if (dladdr1(caller_address, &info, (void **)&map, RTLD_DL_LINKMAP) == 0 || map == NULL)
        return false;
    if (!describe_search_object(map->l_name, map->l_ld, (uintptr_t)map->l_addr, &caller))
        return false;
    if (caller.runpath == NULL)
        return search_rpaths(&caller, filename, path);
    return search_runpath(&caller, filename, path);
}

/* See got_patcher.h. */
void *got_patcher_dlopen_as_caller(const char *filename, int flags, const void *caller_address,
                                   void *(*real_dlopen)(const char *, int))
{
    char path[PATH_MAX];
    void *handle;
    if (real_dlopen == NULL)
        return NULL;
    if (filename == NULL || filename[0] == '\0' || strchr(filename, '/') != NULL
        || caller_address == NULL)
        return real_dlopen(filename, flags);
    /* ld.so first matches the name against objects already loaded. */
    handle = real_dlopen(filename, flags | RTLD_NOLOAD);
    if (handle != NULL)
        return handle;
    if (find_library_for_caller(filename, caller_address, path))
        return real_dlopen(path, flags);
    return real_dlopen(filename, flags);
}
