/*
 * What the files of the GOT patcher share, and nothing else may use:
 *   got_patcher.c             public API, install state, passes over the loaded objects
 *   got_patcher_relocations.c patching and restoring one object's relocation slots
 *   got_patcher_protection.c  page protections: when an object is settled, RELRO writes
 *   got_patcher_records.c     the records of patched objects and slots
 * Each of them includes this header; nothing outside src/binding/hooks/ does.
 *
 * Every function here runs with the patcher's mutex held (got_patcher.c),
 * inside one scan (a dl_iterate_phdr callback) unless it says otherwise. The bookkeeping uses
 * plain malloc: these files are linked into the object whose own GOT is never
 * patched, so those calls are not intercepted.
 */
#ifndef MEMLYZE_GOT_PATCHER_INTERNAL_H
#define MEMLYZE_GOT_PATCHER_INTERNAL_H

#include <link.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "binding/hooks/elf_dynamic.h"
#include "binding/hooks/got_patcher.h"

/* ------------------------------------------------------------------------ */
/* One scan (got_patcher.c)                                                 */
/* ------------------------------------------------------------------------ */

struct memory_region; /* got_patcher_protection.c */

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
    /* The installed hooks, copied here so that a scan reads no other file's
     * state to match symbols or to skip our own object. */
    const struct got_hook *hooks;
    size_t hook_count;
    /* Bit i of hooks_by_first_byte[c]: hooks[i].symbol starts with byte c.
     * A relocation's name is matched against those hooks only: most names
     * (Py*, str*, ...) are rejected by one load, which matters because a
     * scan looks at every named relocation of every loaded object, each
     * time a tracker starts. */
    uint64_t hooks_by_first_byte[256];
    const void *self_address;
    struct protection_snapshot snapshot;
    int error_number;       /* first failure, 0 if none */
    const char *error_what; /* what failed, static text */
    size_t failures;        /* every failure, for telling whether one object's scan failed */
    bool unloads_checked;   /* got_patcher_distrust_marks_after_unload ran in this scan */
};

/* Records the first error of a scan. */
void got_patcher_note_error(struct scan_context *context, int error_number, const char *what);

/* ------------------------------------------------------------------------ */
/* One object (got_patcher_relocations.c)                                   */
/* ------------------------------------------------------------------------ */

/* Patches the viewed object unless it is excluded or was patched completely
 * before. */
void got_patcher_patch_object(struct scan_context *context, struct object_view *view);

/* Puts back the original value of every recorded slot of the viewed object
 * that still holds our replacement. */
void got_patcher_restore_object(struct scan_context *context, const struct object_view *view);

/* ------------------------------------------------------------------------ */
/* Page protections (got_patcher_protection.c)                              */
/* ------------------------------------------------------------------------ */

/* Returns whether ld.so has finished relocating the object (its RELRO pages
 * are read-only); objects without RELRO count as settled. */
bool got_patcher_object_is_settled(struct scan_context *context, struct object_view *view);

/* Writes value into slot with one aligned 8-byte store, lifting RELRO
 * protection around the store when needed. Returns false (with the error
 * noted) on failure. */
bool got_patcher_write_slot(struct scan_context *context, const struct object_view *view,
                            void **slot, void *value);

/* Frees the scan's snapshot of the mappings; called once the scan is over. */
void got_patcher_release_snapshot(struct scan_context *context);

/* ------------------------------------------------------------------------ */
/* Records (got_patcher_records.c)                                          */
/* ------------------------------------------------------------------------ */

/* One rewritten slot and what it held before. */
struct patched_slot {
    void **address;
    void *original;
    void *replacement;
    size_t object_index;
};

/* Returns the index of the object record with this base and name, or
 * SIZE_MAX. */
size_t got_patcher_find_object_record(uintptr_t base, const char *name);

/* Returns whether the object record at object_index needs no further scan. */
bool got_patcher_object_scan_is_complete(size_t object_index);

/* Notes that the viewed object needs no further scan (if its record cannot
 * be made, it is simply scanned again next time). */
void got_patcher_mark_scan_complete(struct object_view *view);

/* Forgets every scan_complete mark if an object was unloaded since they were
 * made. */
void got_patcher_distrust_marks_after_unload(const struct dl_phdr_info *info, size_t info_size);

/* Makes sure one more slot can be recorded for the viewed object without
 * allocating afterwards. Returns false when out of memory. */
bool got_patcher_reserve_slot_record(struct object_view *view);

/* Records that slot now holds replacement and held original. Never allocates
 * (see got_patcher_reserve_slot_record). */
void got_patcher_remember_slot(const struct object_view *view, void **slot, void *original,
                               void *replacement);

/* Returns the number of recorded slots, and the record at index (below that
 * number). Also outside scans. */
size_t got_patcher_recorded_slot_count(void);
const struct patched_slot *got_patcher_recorded_slot(size_t index);

/* Returns the number of object records. Also outside scans. */
size_t got_patcher_recorded_object_count(void);

/* Unloaded objects are found in three steps: clear every record's mark
 * (outside a scan), mark each object a scan still sees, then drop the records
 * left unmarked (outside a scan). */
void got_patcher_clear_loaded_marks(void);
void got_patcher_mark_object_loaded(const struct object_view *view);
void got_patcher_drop_unmarked_objects(void);

/* Frees every record. Outside scans. */
void got_patcher_forget_all_records(void);

#endif
