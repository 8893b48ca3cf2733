/*
 * The recorder's native tables: native call chains interned as a trie of
 * instruction pointers (a native stack is its innermost return address plus
 * the native stack of its callers, like Python stacks), and the memory
 * mappings (loaded objects with their build-ids) that symbolise them at
 * report time. Each is written to the capture once (OP_NATIVE_STACK,
 * OP_MAPPING). Thread-safe: one mutex guards both tables.
 */
#ifndef MEMLYZE_NATIVE_INTERN_H
#define MEMLYZE_NATIVE_INTERN_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/byte_buffer.h"

#define NATIVE_BUILD_ID_MAX 64

/* One loaded object: [start, end) of its executable code, the load bias
 * (what was added to its ELF addresses), its path and its build-id. */
struct native_mapping {
    uint64_t start;
    uint64_t end;
    uint64_t load_bias;
    uint32_t path_sid;
    uint32_t build_id_size;
    uint8_t build_id[NATIVE_BUILD_ID_MAX];
};

/* How many of each table the writer has already put in the capture. */
struct native_cursor {
    uint32_t stacks_written;
    uint32_t mappings_written;
};

/* Empties both tables (native stack ids start again at 1). Returns 0 or -1. */
int native_tables_reset(void);
void native_tables_release(void);

/* The id of (parent, ip), adding it if new; 0 when out of memory. */
uint32_t intern_native_stack(uint32_t parent_native_stack_id, uint64_t ip);
/* Number of native stacks defined so far (the largest valid id). */
uint32_t native_stack_count(void);

/* Adds mapping unless one with the same start and path is known. Returns
 * 1 when added, 0 when known, -1 when out of memory. */
int native_mapping_add(const struct native_mapping *mapping);

/*
 * Appends OP_NATIVE_STACK and OP_MAPPING records for everything defined
 * since cursor and advances it; a mapping whose path string id is above
 * strings_written (not in the capture yet) waits for a later call. Returns
 * 0 or -1 (out of memory; cursor unchanged).
 */
int native_tables_encode_new(struct byte_buffer *out, struct native_cursor *cursor,
                             uint32_t strings_written);

/* Around fork: hold the mutex so a child inherits whole tables; in the
 * child, make it usable again. */
void native_tables_before_fork(void);
void native_tables_after_fork_in_parent(void);
void native_tables_after_fork_in_child(void);

#endif
