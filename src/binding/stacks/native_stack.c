/*
 * Native call chains for --native: unwound with libunwind's unw_backtrace
 * (CPython 3.11 and most distribution libraries are built without frame
 * pointers, so a frame-pointer walk would lose frames), interned as a trie of
 * return addresses (native_intern.h), plus the memory mappings that let a
 * report symbolise them later (function, file, line from each object's debug
 * information, checked against its build-id).
 *
 * Cost control, as for Python stacks: each thread remembers its last chain,
 * outermost first, with the trie node of each prefix; a new chain reuses the
 * longest unchanged outer part and interns only the frames below it.
 */
#define UNW_LOCAL_ONLY
#include "binding/stacks/native_stack.h"

#include <elf.h>
#include <libunwind.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/recording/native_intern.h"
#include "core/recording/recorder.h"
#include "core/base/tracker_memory.h"

#define NATIVE_DEPTH_LIMIT 128
#define PROBE_DEPTH 8

int native_stack_enabled;

/* The executable code of memlyze's own extension: its frames are skipped. */
static uintptr_t own_code_start;
static uintptr_t own_code_end;

struct native_thread_state {
    uint64_t generation;
    uint32_t depth;
    uintptr_t ips[NATIVE_DEPTH_LIMIT];  /* outermost first */
    uint32_t nodes[NATIVE_DEPTH_LIMIT]; /* node of the chain ending at ips[i] */
};

static THREAD_LOCAL struct native_thread_state *this_thread_state;
static pthread_key_t state_key;
static pthread_once_t state_key_once = PTHREAD_ONCE_INIT;

static void thread_state_free(void *opaque)
{
    if (this_thread_state == opaque) {
        this_thread_state = NULL;
    }
    tracker_free(opaque, sizeof(struct native_thread_state));
}

static void state_key_create(void)
{
    pthread_key_create(&state_key, thread_state_free);
}

/* This thread's remembered chain, emptied when the recording changed. */
static struct native_thread_state *thread_state_get(void)
{
    struct native_thread_state *state = this_thread_state;
    if (!state) {
        state = tracker_calloc(1, sizeof *state);
        if (!state) {
            return NULL;
        }
        pthread_once(&state_key_once, state_key_create);
        pthread_setspecific(state_key, state);
        this_thread_state = state;
    }
    uint64_t generation = recorder_generation();
    if (state->generation != generation) {
        state->generation = generation;
        state->depth = 0;
    }
    return state;
}

static int is_own_frame(uintptr_t ip)
{
    return ip >= own_code_start && ip < own_code_end;
}

uint32_t native_stack_capture(void)
{
    void *frames[NATIVE_DEPTH_LIMIT];
    int count = unw_backtrace(frames, NATIVE_DEPTH_LIMIT);
    int first = 0;
    while (first < count && is_own_frame((uintptr_t)frames[first])) {
        first++;
    }
    struct native_thread_state *state = thread_state_get();
    if (!state || first >= count) {
        return 0;
    }
    uint32_t depth = (uint32_t)(count - first);
    uint32_t same = 0;
    while (same < depth && same < state->depth &&
           state->ips[same] == (uintptr_t)frames[count - 1 - (int)same]) {
        same++;
    }
    uint32_t node = same ? state->nodes[same - 1] : 0;
    for (uint32_t level = same; level < depth; level++) {
        uintptr_t ip = (uintptr_t)frames[count - 1 - (int)level];
        node = intern_native_stack(node, ip);
        if (!node) {
            state->depth = level;
            return 0;
        }
        state->ips[level] = ip;
        state->nodes[level] = node;
    }
    state->depth = depth;
    return node;
}

/* --- mappings ------------------------------------------------------------------ */

/* Copies the GNU build-id note of a loaded object into mapping. */
static void read_build_id(const struct dl_phdr_info *info, struct native_mapping *mapping)
{
    for (int index = 0; index < info->dlpi_phnum; index++) {
        const ElfW(Phdr) *header = &info->dlpi_phdr[index];
        if (header->p_type != PT_NOTE) {
            continue;
        }
        const uint8_t *note = (const uint8_t *)(info->dlpi_addr + header->p_vaddr);
        const uint8_t *end = note + header->p_memsz;
        while (note + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *entry = (const ElfW(Nhdr) *)note;
            const uint8_t *name = note + sizeof *entry;
            const uint8_t *description = name + ((entry->n_namesz + 3u) & ~3u);
            if (entry->n_type == NT_GNU_BUILD_ID && entry->n_namesz == 4 &&
                memcmp(name, "GNU", 4) == 0 && entry->n_descsz <= NATIVE_BUILD_ID_MAX &&
                description + entry->n_descsz <= end) {
                mapping->build_id_size = entry->n_descsz;
                memcpy(mapping->build_id, description, entry->n_descsz);
                return;
            }
            note = description + ((entry->n_descsz + 3u) & ~3u);
        }
    }
}

/* The object's path: the main program has an empty name. */
static const char *object_path(const struct dl_phdr_info *info, char *buffer, size_t size)
{
    if (info->dlpi_name && info->dlpi_name[0]) {
        return info->dlpi_name;
    }
    ssize_t length = readlink("/proc/self/exe", buffer, size - 1);
    if (length <= 0) {
        return NULL;
    }
    buffer[length] = '\0';
    return buffer;
}

/* dl_iterate_phdr callback: one OP_MAPPING per object with code and a file. */
static int add_mapping(struct dl_phdr_info *info, size_t size, void *unused)
{
    (void)size;
    (void)unused;
    struct native_mapping mapping = {.start = UINT64_MAX, .load_bias = info->dlpi_addr};
    for (int index = 0; index < info->dlpi_phnum; index++) {
        const ElfW(Phdr) *header = &info->dlpi_phdr[index];
        if (header->p_type == PT_LOAD && (header->p_flags & PF_X)) {
            uint64_t start = info->dlpi_addr + header->p_vaddr;
            uint64_t end = start + header->p_memsz;
            mapping.start = start < mapping.start ? start : mapping.start;
            mapping.end = end > mapping.end ? end : mapping.end;
        }
    }
    char buffer[4096];
    const char *path = object_path(info, buffer, sizeof buffer);
    if (mapping.start == UINT64_MAX || !path || strncmp(path, "linux-vdso", 10) == 0) {
        return 0;
    }
    if ((uintptr_t)add_mapping >= mapping.start && (uintptr_t)add_mapping < mapping.end) {
        own_code_start = (uintptr_t)mapping.start;
        own_code_end = (uintptr_t)mapping.end;
    }
    read_build_id(info, &mapping);
    mapping.path_sid = recorder_intern_string(path, strlen(path));
    native_mapping_add(&mapping);
    return 0;
}

static void record_mappings(void)
{
    int busy = recorder_thread_busy;
    recorder_thread_busy = 1;
    dl_iterate_phdr(add_mapping, NULL);
    recorder_thread_busy = busy;
}

/* --- switching on and off ---------------------------------------------------------- */

int native_stack_probe_or_warn(void)
{
    void *frames[PROBE_DEPTH];
    const char *reason = NULL;
    if (getenv("MEMLYZE_TEST_NATIVE_UNWIND_FAILS")) {
        reason = "unwinding is disabled (MEMLYZE_TEST_NATIVE_UNWIND_FAILS is set)";
    } else if (unw_backtrace(frames, PROBE_DEPTH) < 2) {
        reason = "libunwind cannot unwind this thread's stack";
    }
    if (!reason) {
        return 0;
    }
    fprintf(stderr, "memlyze: warning: --native: %s; recording without native frames\n", reason);
    fflush(stderr);
    return -1;
}

void native_stack_begin(void)
{
    record_mappings();
    __atomic_store_n(&native_stack_enabled, 1, __ATOMIC_RELEASE);
}

void native_stack_end(void)
{
    __atomic_store_n(&native_stack_enabled, 0, __ATOMIC_RELEASE);
}

void native_stack_note_dlopen(void)
{
    if (__atomic_load_n(&native_stack_enabled, __ATOMIC_ACQUIRE)) {
        record_mappings();
    }
}
