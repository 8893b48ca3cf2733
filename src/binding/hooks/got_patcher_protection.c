/*
 * The GOT patcher's view of page protections: whether ld.so has finished
 * relocating an object (its RELRO pages are read-only again), and writing a
 * slot that lies on such a page. Both read /proc/self/maps, at most once per
 * scan. See got_patcher_internal.h.
 */
#include "binding/hooks/got_patcher_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "binding/hooks/proc_file.h"

/* A mapping of /proc/self/maps and its protection. */
struct memory_region {
    uintptr_t start;
    uintptr_t end;
    int protection;
};

/* ------------------------------------------------------------------------ */
/* The snapshot of /proc/self/maps                                          */
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

/* See got_patcher_internal.h. */
void got_patcher_release_snapshot(struct scan_context *context)
{
    free(context->snapshot.regions);
    memset(&context->snapshot, 0, sizeof context->snapshot);
}

/* ------------------------------------------------------------------------ */
/* Settled objects and RELRO writes                                         */
/* ------------------------------------------------------------------------ */

/* See got_patcher_internal.h. RELRO is the mark because ld.so protects it as
 * the last step of relocation. */
bool got_patcher_object_is_settled(struct scan_context *context, struct object_view *view)
{
    if (view->relro_start == view->relro_end)
        return true;
    if (view->relro_state == RELRO_UNCHECKED) {
        int protection = snapshot_protection(context, view->relro_start, PROT_READ);
        view->relro_state = (protection & PROT_WRITE) ? RELRO_WRITABLE : RELRO_PROTECTED;
    }
    return view->relro_state == RELRO_PROTECTED;
}

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
        got_patcher_note_error(context, errno, "cannot make a RELRO page writable (mprotect)");
        return false;
    }
    __atomic_store_n(slot, value, __ATOMIC_RELEASE);
    /* If this fails the page merely stays writable. */
    (void)mprotect((void *)page, elf_dynamic_page_size(), previous);
    return true;
}

/* See got_patcher_internal.h. */
bool got_patcher_write_slot(struct scan_context *context, const struct object_view *view,
                            void **slot, void *value)
{
    if (!slot_in_relro(view, slot)) {
        __atomic_store_n(slot, value, __ATOMIC_RELEASE);
        return true;
    }
    return write_protected_slot(context, slot, value);
}
