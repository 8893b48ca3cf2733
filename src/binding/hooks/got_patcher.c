/*
 * The GOT patcher: rewrites, in every loaded ELF object, the relocation slots
 * through which it calls the hooked functions. See got_patcher.h.
 * Views of loaded objects are in elf_dynamic.c; got_patcher_dlopen_as_caller
 * (ld.so's search path rules) is in library_search.c.
 *
 * Concurrency. Our mutex serialises install/refresh/forget/uninstall. Every
 * slot is read and written from inside a dl_iterate_phdr callback, which holds
 * ld.so's dl_load_write_lock: no object can be unlinked (and so unmapped) by
 * dlclose while we touch it. An object being dlopen'ed by another thread is
 * already on that list before ld.so has relocated it; such an object still
 * has its RELRO pages writable, so we leave it alone until a later refresh
 * (see object_is_settled). Slots are written with one aligned 8-byte store.
 *
 * The bookkeeping uses plain malloc: this file is linked into the object whose
 * own GOT is never patched, so those calls are not intercepted.
 */
#include "binding/hooks/got_patcher.h"

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>

#include "binding/hooks/elf_dynamic.h"
#include "binding/hooks/proc_file.h"

/* ------------------------------------------------------------------------ */
/* Bookkeeping                                                              */
/* ------------------------------------------------------------------------ */

/* An object that owns patched slots or was scanned completely, identified by
 * base + name. */
struct patched_object {
    uintptr_t base;
    char *name;
    /* Every hooked slot was patched after ld.so had settled the object:
     * later refreshes skip it (a dlopen'ed library's dependencies are most of
     * the process, and rescanning them all on every dlopen cost numpy's import
     * ~10 ms). */
    bool scan_complete;
    bool still_loaded; /* scratch flag of got_patcher_forget_unloaded */
    size_t new_index;  /* scratch index of got_patcher_forget_unloaded */
};

/* One rewritten slot and what it held before. */
struct patched_slot {
    void **address;
    void *original;
    void *replacement;
    size_t object_index;
};

static pthread_mutex_t patcher_mutex = PTHREAD_MUTEX_INITIALIZER;
/* ld.so's count of unloaded objects (dlpi_subs) when scan_complete was last
 * trusted: once an object went away, another may sit at its base under its
 * name with a fresh GOT, so every object is scanned again. */
static unsigned long long unloads_seen;
static bool patcher_installed;
static const struct got_hook *patcher_hooks;
static size_t patcher_hook_count;
static const void *patcher_self_address;

static struct patched_object *patched_objects;
static size_t patched_object_count;
static size_t patched_object_capacity;

static struct patched_slot *patched_slots;
static size_t patched_slot_total;
static size_t patched_slot_capacity;

/* ------------------------------------------------------------------------ */
/* Scans and the objects they skip                                          */
/* ------------------------------------------------------------------------ */

/* A mapping of /proc/self/maps and its protection. */
struct memory_region {
    uintptr_t start;
    uintptr_t end;
    int protection;
};

/* The process's mappings, read lazily once per scan. */
struct protection_snapshot {
    struct memory_region *regions;
    size_t count;
    size_t capacity;
    bool attempted;
    bool available;
};

enum scan_action { SCAN_PATCH, SCAN_RESTORE, SCAN_MARK_LOADED };

/* State of one pass over the loaded objects. */
struct scan_context {
    enum scan_action action;
    struct protection_snapshot snapshot;
    int error_number;       /* first failure, 0 if none */
    const char *error_what; /* what failed, static text */
    size_t failures;        /* every failure, for telling whether one object's scan failed */
    bool unloads_checked;   /* distrust_marks_after_unload ran in this scan */
};

/* Records the first error of a scan. */
static void note_error(struct scan_context *context, int error_number, const char *what)
{
    context->failures++;
    if (context->error_number == 0) {
        context->error_number = error_number != 0 ? error_number : EIO;
        context->error_what = what;
    }
}

/* Returns whether address lies in one of the object's PT_LOAD segments; when
 * writable_only, only in a segment mapped with PF_W. */
static bool object_segment_contains(const struct object_view *view, const void *address,
                                    bool writable_only)
{
    uintptr_t value = (uintptr_t)address;
    if (address == NULL)
        return false;
    for (size_t index = 0; index < view->program_header_count; index++) {
        const ElfW(Phdr) *header = &view->program_headers[index];
        uintptr_t start = view->base + header->p_vaddr;
        if (header->p_type != PT_LOAD || (writable_only && !(header->p_flags & PF_W)))
            continue;
        if (value >= start && value < start + header->p_memsz)
            return true;
    }
    return false;
}

/* Returns whether the object must never be patched: our own object, the
 * dynamic linker, libc and the vDSO. */
static bool is_excluded_object(const struct object_view *view)
{
    const char *base_name = elf_dynamic_base_name(view->name);
    return object_segment_contains(view, patcher_self_address, false)
        || object_segment_contains(view, (const void *)getauxval(AT_BASE), false)
        || object_segment_contains(view, (const void *)getauxval(AT_SYSINFO_EHDR), false)
        || elf_dynamic_starts_with(base_name, "ld-linux")
        || elf_dynamic_starts_with(base_name, "libc.so.")
        || elf_dynamic_starts_with(base_name, "linux-vdso")
        || elf_dynamic_starts_with(base_name, "linux-gate");
}

/* ------------------------------------------------------------------------ */
/* Page protections (/proc/self/maps)                                       */
/* ------------------------------------------------------------------------ */

/* Parses one "start-end perms ..." line of /proc/self/maps; returns false if
 * it is malformed. */
static bool parse_maps_line(const char *line, struct memory_region *region)
{
    char *end;
    region->start = (uintptr_t)strtoull(line, &end, 16);
    if (*end != '-')
        return false;
    region->end = (uintptr_t)strtoull(end + 1, &end, 16);
    if (end[0] != ' ' || end[1] == '\0' || end[2] == '\0' || end[3] == '\0')
        return false;
    region->protection = (end[1] == 'r' ? PROT_READ : 0) | (end[2] == 'w' ? PROT_WRITE : 0)
                       | (end[3] == 'x' ? PROT_EXEC : 0);
    return true;
}

/* Appends region to the snapshot; returns false when out of memory. */
static bool append_region(struct protection_snapshot *snapshot, const struct memory_region *region)
{
    if (snapshot->count == snapshot->capacity) {
        size_t capacity = snapshot->capacity != 0 ? snapshot->capacity * 2 : 256;
        struct memory_region *grown = realloc(snapshot->regions, capacity * sizeof *grown);
        if (grown == NULL)
            return false;
        snapshot->regions = grown;
        snapshot->capacity = capacity;
    }
    snapshot->regions[snapshot->count++] = *region;
    return true;
}

/* Reads /proc/self/maps into the snapshot (once); on failure the snapshot
 * stays unavailable. */
static void load_snapshot(struct protection_snapshot *snapshot)
{
    char *text, *line;
    size_t length;
    snapshot->attempted = true;
    text = proc_file_read_whole("/proc/self/maps", &length);
    if (text == NULL)
        return;
    snapshot->available = true;
    for (line = text; line != NULL && *line != '\0';) {
        struct memory_region region;
        char *next = strchr(line, '\n');
        if (parse_maps_line(line, &region) && !append_region(snapshot, &region))
            snapshot->available = false;
        line = next != NULL ? next + 1 : NULL;
    }
    free(text);
}

/* Returns the protection the snapshot shows for address, or fallback when
 * unknown. Loads the snapshot on first use. */
static int snapshot_protection(struct scan_context *context, uintptr_t address, int fallback)
{
    struct protection_snapshot *snapshot = &context->snapshot;
    size_t low = 0, high;
    if (!snapshot->attempted)
        load_snapshot(snapshot);
    if (!snapshot->available)
        return fallback;
    high = snapshot->count;
    while (low < high) { /* the kernel lists mappings in address order */
        size_t middle = low + (high - low) / 2;
        const struct memory_region *region = &snapshot->regions[middle];
        if (address < region->start)
            high = middle;
        else if (address >= region->end)
            low = middle + 1;
        else
            return region->protection;
    }
    return fallback;
}

/* Frees what a scan allocated. */
static void finish_scan(struct scan_context *context)
{
    free(context->snapshot.regions);
    memset(&context->snapshot, 0, sizeof context->snapshot);
}

/* Returns whether ld.so has finished relocating the object, judged by its
 * RELRO pages being read-only (ld.so protects them as the last step of
 * relocation). Objects without RELRO count as settled. */
static bool object_is_settled(struct scan_context *context, struct object_view *view)
{
    if (view->relro_start == view->relro_end)
        return true;
    if (view->relro_state == RELRO_UNCHECKED) {
        int protection = snapshot_protection(context, view->relro_start, PROT_READ);
        view->relro_state = (protection & PROT_WRITE) ? RELRO_WRITABLE : RELRO_PROTECTED;
    }
    return view->relro_state == RELRO_PROTECTED;
}

/* ------------------------------------------------------------------------ */
/* Writing slots                                                            */
/* ------------------------------------------------------------------------ */

/* Returns whether slot lies in the object's read-only-after-relocation range. */
static bool slot_in_relro(const struct object_view *view, void **slot)
{
    uintptr_t address = (uintptr_t)slot;
    return address >= view->relro_start && address < view->relro_end;
}

/* Writes value into a slot on a RELRO page: makes the page writable, stores,
 * and gives the page back the protection it had. Returns false (with the
 * error noted) if the page cannot be made writable. */
static bool write_protected_slot(struct scan_context *context, void **slot, void *value)
{
    uintptr_t page = elf_dynamic_page_start((uintptr_t)slot);
    int previous = snapshot_protection(context, page, PROT_READ);
    if (mprotect((void *)page, elf_dynamic_page_size(), PROT_READ | PROT_WRITE) != 0) {
        note_error(context, errno, "cannot make a RELRO page writable (mprotect)");
        return false;
    }
    __atomic_store_n(slot, value, __ATOMIC_RELEASE);
    /* If this fails the page merely stays writable. */
    (void)mprotect((void *)page, elf_dynamic_page_size(), previous);
    return true;
}

/* Writes value into slot with one aligned 8-byte store, lifting RELRO
 * protection around the store when needed. Returns false on failure. */
static bool write_slot(struct scan_context *context, const struct object_view *view, void **slot,
                       void *value)
{
    if (!slot_in_relro(view, slot)) {
        __atomic_store_n(slot, value, __ATOMIC_RELEASE);
        return true;
    }
    return write_protected_slot(context, slot, value);
}

/* Returns whether slot is a place we may write: 8-byte aligned and inside a
 * writable segment of the object (RELRO is part of the writable segment). */
static bool slot_is_patchable(const struct object_view *view, void **slot)
{
    return ((uintptr_t)slot % sizeof(void *)) == 0 && object_segment_contains(view, slot, true);
}

/* ------------------------------------------------------------------------ */
/* Records                                                                  */
/* ------------------------------------------------------------------------ */

/* Returns the index of the object record with this base and name, or
 * SIZE_MAX. */
static size_t find_object_record(uintptr_t base, const char *name)
{
    for (size_t index = 0; index < patched_object_count; index++)
        if (patched_objects[index].base == base && strcmp(patched_objects[index].name, name) == 0)
            return index;
    return SIZE_MAX;
}

/* Appends a record for the viewed object; returns its index or SIZE_MAX when
 * out of memory. */
static size_t add_object_record(const struct object_view *view)
{
    char *name;
    if (patched_object_count == patched_object_capacity) {
        size_t capacity = patched_object_capacity != 0 ? patched_object_capacity * 2 : 16;
        struct patched_object *grown = realloc(patched_objects, capacity * sizeof *grown);
        if (grown == NULL)
            return SIZE_MAX;
        patched_objects = grown;
        patched_object_capacity = capacity;
    }
    name = strdup(view->name);
    if (name == NULL)
        return SIZE_MAX;
    patched_objects[patched_object_count] =
        (struct patched_object){.base = view->base, .name = name};
    return patched_object_count++;
}

/* Makes sure one more slot can be recorded for the viewed object without
 * allocating afterwards. Returns false when out of memory. */
static bool reserve_slot_record(struct object_view *view)
{
    if (view->object_index == SIZE_MAX) {
        size_t index = find_object_record(view->base, view->name);
        view->object_index = index != SIZE_MAX ? index : add_object_record(view);
        if (view->object_index == SIZE_MAX)
            return false;
    }
    if (patched_slot_total == patched_slot_capacity) {
        size_t capacity = patched_slot_capacity != 0 ? patched_slot_capacity * 2 : 64;
        struct patched_slot *grown = realloc(patched_slots, capacity * sizeof *grown);
        if (grown == NULL)
            return false;
        patched_slots = grown;
        patched_slot_capacity = capacity;
    }
    return true;
}

/* Records that slot now holds replacement and held original. A slot already
 * recorded (its object was reloaded at the same place, or ld.so rebound it)
 * has its record updated. Never allocates (see reserve_slot_record). */
static void remember_slot(const struct object_view *view, void **slot, void *original,
                          void *replacement)
{
    struct patched_slot record = {slot, original, replacement, view->object_index};
    for (size_t index = 0; index < patched_slot_total; index++) {
        if (patched_slots[index].address == slot) {
            patched_slots[index] = record;
            return;
        }
    }
    patched_slots[patched_slot_total++] = record;
}

/* Frees every record. */
static void forget_all_records(void)
{
    for (size_t index = 0; index < patched_object_count; index++)
        free(patched_objects[index].name);
    free(patched_objects);
    free(patched_slots);
    patched_objects = NULL;
    patched_slots = NULL;
    patched_object_count = patched_object_capacity = 0;
    patched_slot_total = patched_slot_capacity = 0;
}

/* ------------------------------------------------------------------------ */
/* Patching one object                                                      */
/* ------------------------------------------------------------------------ */

/* Returns the installed hook for symbol name, or NULL. */
static const struct got_hook *find_hook(const char *name)
{
    for (size_t index = 0; index < patcher_hook_count; index++) {
        const struct got_hook *hook = &patcher_hooks[index];
        if (hook->symbol[0] == name[0] && strcmp(hook->symbol, name) == 0)
            return hook;
    }
    return NULL;
}

/* Points slot at replacement unless it already does, recording what it held. */
static void patch_slot(struct scan_context *context, struct object_view *view, void **slot,
                       void *replacement)
{
    void *current;
    if (!slot_is_patchable(view, slot))
        return;
    current = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (current == replacement || !object_is_settled(context, view))
        return;
    if (!reserve_slot_record(view)) {
        note_error(context, ENOMEM, "cannot record a patched slot");
        return;
    }
    if (write_slot(context, view, slot, replacement))
        remember_slot(view, slot, current, replacement);
}

/* Returns the hook matching a relocation's symbol if the relocation is of a
 * kind we patch (JUMP_SLOT, GLOB_DAT, or 64 with no addend), else NULL. */
static const struct got_hook *hook_for_relocation(const struct dynamic_tables *tables,
                                                  const ElfW(Rela) *relocation)
{
    unsigned long type = ELF64_R_TYPE(relocation->r_info);
    unsigned long symbol_index = ELF64_R_SYM(relocation->r_info);
    const char *name;
    if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT && type != R_X86_64_64)
        return NULL;
    if (relocation->r_addend != 0 || symbol_index == STN_UNDEF)
        return NULL;
    name = elf_dynamic_table_string(tables, tables->symbols[symbol_index].st_name);
    return name != NULL && name[0] != '\0' ? find_hook(name) : NULL;
}

/* Patches every hooked slot that one relocation table describes. */
static void patch_relocation_table(struct scan_context *context, struct object_view *view,
                                   const struct dynamic_tables *tables,
                                   const ElfW(Rela) *table, size_t table_size)
{
    size_t count = table != NULL ? table_size / sizeof(ElfW(Rela)) : 0;
    for (size_t index = 0; index < count && view->relro_state != RELRO_WRITABLE; index++) {
        const struct got_hook *hook = hook_for_relocation(tables, &table[index]);
        if (hook != NULL)
            patch_slot(context, view, (void **)(view->base + table[index].r_offset),
                       hook->replacement);
    }
}

/* Notes that the viewed object needs no further scan (if its record cannot
 * be made, it is simply scanned again next time). */
static void mark_scan_complete(struct object_view *view)
{
    if (view->object_index == SIZE_MAX)
        view->object_index = add_object_record(view);
    if (view->object_index != SIZE_MAX)
        patched_objects[view->object_index].scan_complete = true;
}

/* Patches the viewed object unless it is excluded or was patched completely
 * before. */
static void patch_object(struct scan_context *context, struct object_view *view)
{
    struct dynamic_tables tables;
    size_t failures_before = context->failures;
    if (is_excluded_object(view) || !elf_dynamic_read_tables(view->dynamic, view->base, &tables))
        return;
    view->object_index = find_object_record(view->base, view->name);
    if (view->object_index != SIZE_MAX && patched_objects[view->object_index].scan_complete)
        return;
    patch_relocation_table(context, view, &tables, tables.plt_relocations,
                           tables.plt_relocations_size);
    patch_relocation_table(context, view, &tables, tables.relocations, tables.relocations_size);
    /* Only RELRO proves that ld.so had finished with the object (a concurrent
     * dlopen may still be relocating one without it). */
    if (context->failures == failures_before && view->relro_start != view->relro_end
        && object_is_settled(context, view))
        mark_scan_complete(view);
}

/* Forgets every scan_complete mark if an object was unloaded since they were
 * made. */
static void distrust_marks_after_unload(const struct dl_phdr_info *info, size_t info_size)
{
    unsigned long long unloads;
    if (info_size < offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
        unloads = unloads_seen + 1; /* no counter: trust nothing */
    } else {
        unloads = info->dlpi_subs;
        if (unloads == unloads_seen)
            return;
    }
    for (size_t index = 0; index < patched_object_count; index++)
        patched_objects[index].scan_complete = false;
    unloads_seen = unloads;
}

/* Puts back the original value of every recorded slot of the viewed object
 * that still holds our replacement (anything else was rewritten by someone
 * else, or belongs to a fresh copy of the object, and is left alone). */
static void restore_object(struct scan_context *context, const struct object_view *view)
{
    size_t object_index = find_object_record(view->base, view->name);
    for (size_t index = 0; object_index != SIZE_MAX && index < patched_slot_total; index++) {
        const struct patched_slot *record = &patched_slots[index];
        if (record->object_index != object_index
            || __atomic_load_n(record->address, __ATOMIC_ACQUIRE) != record->replacement)
            continue;
        (void)write_slot(context, view, record->address, record->original);
    }
}

/* Marks the viewed object's record, if any, as still loaded. */
static void mark_object_loaded(const struct object_view *view)
{
    size_t object_index = find_object_record(view->base, view->name);
    if (object_index != SIZE_MAX)
        patched_objects[object_index].still_loaded = true;
}

/* dl_iterate_phdr callback: applies the scan's action to one object. */
static int visit_loaded_object(struct dl_phdr_info *info, size_t info_size, void *data)
{
    struct scan_context *context = data;
    struct object_view view;
    elf_dynamic_describe_object(info, &view);
    if (context->action == SCAN_PATCH && !context->unloads_checked) {
        distrust_marks_after_unload(info, info_size);
        context->unloads_checked = true;
    }
    if (context->action == SCAN_PATCH)
        patch_object(context, &view);
    else if (context->action == SCAN_RESTORE)
        restore_object(context, &view);
    else
        mark_object_loaded(&view);
    return 0;
}

/* Runs one pass of action over every loaded object; returns the first error
 * number (0 if none) and its text in *error_what. Caller holds the mutex. */
static int run_scan(enum scan_action action, const char **error_what)
{
    struct scan_context context = {.action = action};
    dl_iterate_phdr(visit_loaded_object, &context);
    finish_scan(&context);
    if (error_what != NULL)
        *error_what = context.error_what;
    return context.error_number;
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */
/* ------------------------------------------------------------------------ */

/* Writes "got_patcher: what: reason" into error, sets errno, returns -1. */
static int report_error(char *error, size_t error_size, int error_number, const char *what)
{
    char reason[128];
    if (error != NULL && error_size > 0)
        snprintf(error, error_size, "got_patcher: %s: %s", what,
                 strerror_r(error_number, reason, sizeof reason));
    errno = error_number;
    return -1;
}

/* Returns whether every hook has a non-empty symbol and a replacement. */
static bool hooks_are_valid(const struct got_hook *hooks, size_t count)
{
    if (hooks == NULL || count == 0)
        return false;
    for (size_t index = 0; index < count; index++)
        if (hooks[index].symbol == NULL || hooks[index].symbol[0] == '\0'
            || hooks[index].replacement == NULL)
            return false;
    return true;
}

/* Returns whether hooks equal the installed ones (same array, or same
 * symbols and replacements in the same order). Caller holds the mutex. */
static bool same_as_installed_hooks(const struct got_hook *hooks, size_t count)
{
    if (count != patcher_hook_count)
        return false;
    for (size_t index = 0; index < count && hooks != patcher_hooks; index++)
        if (strcmp(hooks[index].symbol, patcher_hooks[index].symbol) != 0
            || hooks[index].replacement != patcher_hooks[index].replacement)
            return false;
    return true;
}

/* Restores all recorded slots still loaded, forgets every record and marks
 * the patcher uninstalled. Caller holds the mutex. */
static void uninstall_locked(void)
{
    if (patched_slot_total > 0)
        (void)run_scan(SCAN_RESTORE, NULL);
    forget_all_records();
    patcher_installed = false;
    patcher_hooks = NULL;
    patcher_hook_count = 0;
    patcher_self_address = NULL;
}

/* Body of got_patcher_install. Caller holds the mutex. */
static int install_locked(const struct got_hook *hooks, size_t count, const void *self_address,
                          char *error, size_t error_size)
{
    const char *what = NULL;
    int error_number;
    if (patcher_installed && !same_as_installed_hooks(hooks, count))
        return report_error(error, error_size, EBUSY, "already installed with other hooks");
    patcher_installed = true;
    patcher_hooks = hooks;
    patcher_hook_count = count;
    patcher_self_address = self_address;
    error_number = run_scan(SCAN_PATCH, &what);
    if (error_number == 0)
        return 0;
    uninstall_locked();
    return report_error(error, error_size, error_number, what);
}

/* See got_patcher.h. */
int got_patcher_install(const struct got_hook *hooks, size_t count, const void *self_address,
                        char *error, size_t error_size)
{
    int result;
    if (!hooks_are_valid(hooks, count))
        return report_error(error, error_size, EINVAL, "invalid hook list");
    pthread_mutex_lock(&patcher_mutex);
    result = install_locked(hooks, count, self_address, error, error_size);
    pthread_mutex_unlock(&patcher_mutex);
    return result;
}

/* See got_patcher.h. Per-slot failures are skipped; a later refresh retries. */
void got_patcher_refresh(void)
{
    pthread_mutex_lock(&patcher_mutex);
    if (patcher_installed)
        (void)run_scan(SCAN_PATCH, NULL);
    pthread_mutex_unlock(&patcher_mutex);
}

/* Drops the records of objects not marked still_loaded and renumbers the
 * rest. Caller holds the mutex. */
static void drop_unmarked_objects(void)
{
    size_t kept_objects = 0, kept_slots = 0;
    for (size_t index = 0; index < patched_object_count; index++)
        patched_objects[index].new_index = patched_objects[index].still_loaded ? kept_objects++
                                                                               : SIZE_MAX;
    for (size_t index = 0; index < patched_slot_total; index++) {
        size_t new_index = patched_objects[patched_slots[index].object_index].new_index;
        if (new_index == SIZE_MAX)
            continue;
        patched_slots[kept_slots] = patched_slots[index];
        patched_slots[kept_slots++].object_index = new_index;
    }
    patched_slot_total = kept_slots;
    for (size_t index = 0; index < patched_object_count; index++) {
        if (patched_objects[index].new_index == SIZE_MAX)
            free(patched_objects[index].name);
        else
            patched_objects[patched_objects[index].new_index] = patched_objects[index];
    }
    patched_object_count = kept_objects;
}

/* See got_patcher.h. */
void got_patcher_forget_unloaded(void)
{
    pthread_mutex_lock(&patcher_mutex);
    if (patched_object_count > 0) {
        for (size_t index = 0; index < patched_object_count; index++)
            patched_objects[index].still_loaded = false;
        (void)run_scan(SCAN_MARK_LOADED, NULL);
        drop_unmarked_objects();
    }
    pthread_mutex_unlock(&patcher_mutex);
}

/* See got_patcher.h. */
void got_patcher_uninstall(void)
{
    pthread_mutex_lock(&patcher_mutex);
    uninstall_locked();
    pthread_mutex_unlock(&patcher_mutex);
}

/* See got_patcher.h. */
size_t got_patcher_patched_slot_count(void)
{
    size_t count;
    pthread_mutex_lock(&patcher_mutex);
    count = patched_slot_total;
    pthread_mutex_unlock(&patcher_mutex);
    return count;
}
