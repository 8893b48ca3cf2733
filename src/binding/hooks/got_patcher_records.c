/*
 * The GOT patcher's records: which objects own patched slots or were scanned
 * completely, and every rewritten slot with the value it held, so that
 * uninstall can put it back and refreshes can skip what is already done.
 * See got_patcher_internal.h (and why plain malloc is safe here).
 */
#include "binding/hooks/got_patcher_internal.h"

#include <stdlib.h>
#include <string.h>

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

/* ld.so's count of unloaded objects (dlpi_subs) when scan_complete was last
 * trusted: once an object went away, another may sit at its base under its
 * name with a fresh GOT, so every object is scanned again. */
static unsigned long long unloads_seen;

static struct patched_object *patched_objects;
static size_t patched_object_count;
static size_t patched_object_capacity;

static struct patched_slot *patched_slots;
static size_t patched_slot_total;
static size_t patched_slot_capacity;

/* ------------------------------------------------------------------------ */
/* Objects                                                                  */
/* ------------------------------------------------------------------------ */

/* See got_patcher_internal.h. */
size_t got_patcher_find_object_record(uintptr_t base, const char *name)
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

/* See got_patcher_internal.h. */
bool got_patcher_object_scan_is_complete(size_t object_index)
{
    return patched_objects[object_index].scan_complete;
}

/* See got_patcher_internal.h. */
void got_patcher_mark_scan_complete(struct object_view *view)
{
    if (view->object_index == SIZE_MAX)
        view->object_index = add_object_record(view);
    if (view->object_index != SIZE_MAX)
        patched_objects[view->object_index].scan_complete = true;
}

/* See got_patcher_internal.h. */
void got_patcher_distrust_marks_after_unload(const struct dl_phdr_info *info, size_t info_size)
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

/* See got_patcher_internal.h. */
size_t got_patcher_recorded_object_count(void)
{
    return patched_object_count;
}

/* ------------------------------------------------------------------------ */
/* Slots                                                                    */
/* ------------------------------------------------------------------------ */

/* See got_patcher_internal.h. */
bool got_patcher_reserve_slot_record(struct object_view *view)
{
    if (view->object_index == SIZE_MAX) {
        size_t index = got_patcher_find_object_record(view->base, view->name);
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

/* See got_patcher_internal.h. A slot already recorded (its object was
 * reloaded at the same place, or ld.so rebound it) has its record updated. */
void got_patcher_remember_slot(const struct object_view *view, void **slot, void *original,
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

/* See got_patcher_internal.h. */
size_t got_patcher_recorded_slot_count(void)
{
    return patched_slot_total;
}

/* See got_patcher_internal.h. */
const struct patched_slot *got_patcher_recorded_slot(size_t index)
{
    return &patched_slots[index];
}

/* ------------------------------------------------------------------------ */
/* Forgetting                                                               */
/* ------------------------------------------------------------------------ */

/* See got_patcher_internal.h. */
void got_patcher_clear_loaded_marks(void)
{
    for (size_t index = 0; index < patched_object_count; index++)
        patched_objects[index].still_loaded = false;
}

/* See got_patcher_internal.h. */
void got_patcher_mark_object_loaded(const struct object_view *view)
{
    size_t object_index = got_patcher_find_object_record(view->base, view->name);
    if (object_index != SIZE_MAX)
        patched_objects[object_index].still_loaded = true;
}

/* See got_patcher_internal.h. The kept records are renumbered, and their
 * slots with them. */
void got_patcher_drop_unmarked_objects(void)
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

/* See got_patcher_internal.h. */
void got_patcher_forget_all_records(void)
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
