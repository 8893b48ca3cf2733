/*
 * The GOT patcher: rewrites, in every loaded ELF object, the relocation slots
 * through which it calls the hooked functions. See got_patcher.h.
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
#include "got_patcher.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
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
#include <sys/mman.h>
#include <unistd.h>

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
/* Views of loaded objects                                                  */
/* ------------------------------------------------------------------------ */

enum relro_state { RELRO_UNCHECKED, RELRO_PROTECTED, RELRO_WRITABLE };

/* What one dl_iterate_phdr entry tells us about a loaded object. */
struct object_view {
    uintptr_t base;
    const char *name;
    const ElfW(Phdr) *program_headers;
    size_t program_header_count;
    const ElfW(Dyn) *dynamic;
    uintptr_t relro_start; /* page range ld.so made read-only; empty if none */
    uintptr_t relro_end;
    enum relro_state relro_state;
    size_t object_index; /* index in patched_objects, SIZE_MAX if none yet */
};

/* The tables of a dynamic section that patching and path search need. */
struct dynamic_tables {
    const ElfW(Sym) *symbols;
    const char *strings;
    size_t strings_size;
    const ElfW(Rela) *plt_relocations;
    size_t plt_relocations_size;
    const ElfW(Rela) *relocations;
    size_t relocations_size;
    size_t relocation_entry_size;
    ElfW(Sxword) plt_relocation_kind;
    const char *rpath;   /* DT_RPATH string or NULL */
    const char *runpath; /* DT_RUNPATH string or NULL */
};

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

/* Returns the system page size. */
static uintptr_t page_size(void)
{
    unsigned long size = getauxval(AT_PAGESZ);
    return size != 0 ? (uintptr_t)size : 4096;
}

/* Returns address rounded down to its page. */
static uintptr_t page_start(uintptr_t address)
{
    return address & ~(page_size() - 1);
}

/* Returns the address a dynamic-section pointer stands for: glibc usually
 * relocates d_ptr values in place; a value below the load base was not. */
static uintptr_t dynamic_address(uintptr_t base, ElfW(Addr) value)
{
    return value < base ? base + value : value;
}

/* Returns the part of path after its last '/'. */
static const char *path_base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

/* Returns whether text begins with prefix. */
static bool starts_with(const char *text, const char *prefix)
{
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

/* Records the first error of a scan. */
static void note_error(struct scan_context *context, int error_number, const char *what)
{
    context->failures++;
    if (context->error_number == 0) {
        context->error_number = error_number != 0 ? error_number : EIO;
        context->error_what = what;
    }
}

/* Fills view's RELRO range from a PT_GNU_RELRO header the way ld.so protects
 * it: start rounded down, end rounded DOWN (a partial last page stays
 * writable because it shares .data). */
static void set_relro_range(struct object_view *view, const ElfW(Phdr) *header)
{
    uintptr_t start = view->base + header->p_vaddr;
    view->relro_start = page_start(start);
    view->relro_end = page_start(start + header->p_memsz);
    if (view->relro_end < view->relro_start)
        view->relro_end = view->relro_start;
}

/* Fills view from one dl_iterate_phdr entry. */
static void describe_object(const struct dl_phdr_info *info, struct object_view *view)
{
    memset(view, 0, sizeof *view);
    view->base = (uintptr_t)info->dlpi_addr;
    view->name = info->dlpi_name != NULL ? info->dlpi_name : "";
    view->program_headers = info->dlpi_phdr;
    view->program_header_count = info->dlpi_phnum;
    view->object_index = SIZE_MAX;
    for (size_t index = 0; index < view->program_header_count; index++) {
        const ElfW(Phdr) *header = &view->program_headers[index];
        if (header->p_type == PT_DYNAMIC)
            view->dynamic = (const ElfW(Dyn) *)(view->base + header->p_vaddr);
        else if (header->p_type == PT_GNU_RELRO)
            set_relro_range(view, header);
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
    const char *base_name = path_base_name(view->name);
    return object_segment_contains(view, patcher_self_address, false)
        || object_segment_contains(view, (const void *)getauxval(AT_BASE), false)
        || object_segment_contains(view, (const void *)getauxval(AT_SYSINFO_EHDR), false)
        || starts_with(base_name, "ld-linux") || starts_with(base_name, "libc.so.")
        || starts_with(base_name, "linux-vdso") || starts_with(base_name, "linux-gate");
}

/* Stores one dynamic entry that we use into tables (string offsets are
 * resolved later, once DT_STRTAB is known). */
static void read_dynamic_entry(const ElfW(Dyn) *entry, uintptr_t base,
                               struct dynamic_tables *tables, ElfW(Xword) *rpath_offset,
                               ElfW(Xword) *runpath_offset)
{
    uintptr_t address = dynamic_address(base, entry->d_un.d_ptr);
    ElfW(Xword) value = entry->d_un.d_val;
    switch (entry->d_tag) {
    case DT_SYMTAB: tables->symbols = (const ElfW(Sym) *)address; break;
    case DT_STRTAB: tables->strings = (const char *)address; break;
    case DT_STRSZ: tables->strings_size = value; break;
    case DT_JMPREL: tables->plt_relocations = (const ElfW(Rela) *)address; break;
    case DT_PLTRELSZ: tables->plt_relocations_size = value; break;
    case DT_PLTREL: tables->plt_relocation_kind = (ElfW(Sxword))value; break;
    case DT_RELA: tables->relocations = (const ElfW(Rela) *)address; break;
    case DT_RELASZ: tables->relocations_size = value; break;
    case DT_RELAENT: tables->relocation_entry_size = value; break;
    case DT_RPATH: *rpath_offset = value; break;
    case DT_RUNPATH: *runpath_offset = value; break;
    default: break;
    }
}

/* Returns the string at offset of the string table, or NULL if out of range. */
static const char *table_string(const struct dynamic_tables *tables, ElfW(Xword) offset)
{
    if (tables->strings == NULL || (tables->strings_size != 0 && offset >= tables->strings_size))
        return NULL;
    return tables->strings + offset;
}

/* Parses the dynamic section of an object loaded at base into tables.
 * Returns false if it lacks a symbol or string table or uses an unexpected
 * relocation entry size. */
static bool read_dynamic_tables(const ElfW(Dyn) *dynamic, uintptr_t base,
                                struct dynamic_tables *tables)
{
    ElfW(Xword) no_offset = (ElfW(Xword))-1;
    ElfW(Xword) rpath_offset = no_offset;
    ElfW(Xword) runpath_offset = no_offset;
    memset(tables, 0, sizeof *tables);
    if (dynamic == NULL)
        return false;
    for (const ElfW(Dyn) *entry = dynamic; entry->d_tag != DT_NULL; entry++)
        read_dynamic_entry(entry, base, tables, &rpath_offset, &runpath_offset);
    if (tables->relocation_entry_size == 0)
        tables->relocation_entry_size = sizeof(ElfW(Rela));
    if (tables->plt_relocations != NULL && tables->plt_relocation_kind != DT_RELA)
        tables->plt_relocations = NULL; /* DT_REL does not exist on x86-64 */
    tables->rpath = rpath_offset != no_offset ? table_string(tables, rpath_offset) : NULL;
    tables->runpath = runpath_offset != no_offset ? table_string(tables, runpath_offset) : NULL;
    return tables->symbols != NULL && tables->strings != NULL
        && tables->relocation_entry_size == sizeof(ElfW(Rela));
}

/* ------------------------------------------------------------------------ */
/* Page protections (/proc/self/maps)                                       */
/* ------------------------------------------------------------------------ */

/* Reads a whole (proc) file into a NUL-terminated malloc'ed buffer and sets
 * *length to its size; returns NULL on failure. */
static char *read_whole_file(const char *path, size_t *length)
{
    int descriptor = open(path, O_RDONLY | O_CLOEXEC);
    size_t capacity = 16384;
    char *text = descriptor >= 0 ? malloc(capacity) : NULL;
    *length = 0;
    while (text != NULL) {
        ssize_t count = read(descriptor, text + *length, capacity - *length - 1);
        if (count <= 0) {
            text[*length] = '\0';
            if (count < 0) {
                free(text);
                text = NULL;
            }
            break;
        }
        *length += (size_t)count;
        if (capacity - *length - 1 == 0) {
            char *grown = realloc(text, capacity * 2);
            if (grown == NULL)
                free(text);
            text = grown;
            capacity *= 2;
        }
    }
    if (descriptor >= 0)
        close(descriptor);
    return text;
}

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
    text = read_whole_file("/proc/self/maps", &length);
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
    uintptr_t page = page_start((uintptr_t)slot);
    int previous = snapshot_protection(context, page, PROT_READ);
    if (mprotect((void *)page, page_size(), PROT_READ | PROT_WRITE) != 0) {
        note_error(context, errno, "cannot make a RELRO page writable (mprotect)");
        return false;
    }
    __atomic_store_n(slot, value, __ATOMIC_RELEASE);
    /* If this fails the page merely stays writable. */
    (void)mprotect((void *)page, page_size(), previous);
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
    name = table_string(tables, tables->symbols[symbol_index].st_name);
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
    if (is_excluded_object(view) || !read_dynamic_tables(view->dynamic, view->base, &tables))
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
    describe_object(info, &view);
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

/* ------------------------------------------------------------------------ */
/* dlopen on behalf of a caller: ld.so's search path rules                  */
/* ------------------------------------------------------------------------ */

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
    const char *base_name = path_base_name(name);
    (void)info_size;
    if (!starts_with(base_name, "libc.so.") || base_name == name
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
    if (starts_with(token, "usr/lib"))
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
    block = read_whole_file("/proc/self/environ", &length);
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
    (void)read_dynamic_tables(dynamic, base, &tables);
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
    describe_object(info, &view);
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
