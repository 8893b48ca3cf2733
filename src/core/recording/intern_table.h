/*
 * The recorder's interned strings, frames and stacks: each distinct value gets
 * a small id, assigned in order from 1, and is written to the capture once.
 * Thread-safe: one mutex guards all three tables (lookups that reach here are
 * already misses of the callers' own caches, so contention is rare).
 */
#ifndef MEMLYZE_INTERN_TABLE_H
#define MEMLYZE_INTERN_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/byte_buffer.h"

/* How many of each table the writer has already put in the capture. */
struct intern_cursor {
    uint32_t strings_written;
    uint32_t frames_written;
    uint32_t stacks_written;
    uint32_t modules_written; /* frame module assignments */
};

/* Empties all tables (ids start again at 1). Returns 0 or -1. */
int intern_tables_reset(void);
/* Frees all tables. */
void intern_tables_release(void);

/* Each returns the id of the value, adding it if new; 0 when out of memory. */
uint32_t intern_string(const char *text, size_t size);
uint32_t intern_frame(uint32_t function_sid, uint32_t file_sid, uint32_t line, uint32_t flags);
uint32_t intern_stack(uint32_t parent_stack_id, uint32_t frame_id);

/* Gives frame_id its module (a string id: the frame's globals' __name__),
 * unless it has one: a frame is defined before its module can be read (the
 * thread may not hold the GIL then), so the module comes as its own record,
 * and the first one given stays. */
void intern_frame_set_module(uint32_t frame_id, uint32_t module_sid);

/* Number of stacks defined so far (the largest valid stack id). */
uint32_t intern_stack_count(void);
/* Number of strings and frames defined so far (the largest valid ids). */
uint32_t intern_string_count(void);
uint32_t intern_frame_count(void);

/* Lookups by id, for in-process reports (memlyze.tracemalloc). Each returns
 * 1 and fills the outputs when id is defined, else 0. */
int intern_stack_lookup(uint32_t stack_id, uint32_t *parent_stack_id, uint32_t *frame_id);
int intern_frame_lookup(uint32_t frame_id, uint32_t *function_sid, uint32_t *file_sid,
                        uint32_t *line);
/* Copies string id's bytes into out (at most out_size - 1, then a NUL) and
 * returns the full length; 0 for id 0 or an undefined id. */
size_t intern_string_copy(uint32_t string_id, char *out, size_t out_size);

/*
 * Appends OP_STRING, OP_FRAME, OP_STACK and OP_FRAME_MODULE records for
 * every value defined since cursor, in an order where each record only refers to earlier ones,
 * and advances cursor. Returns 0 or -1 (out of memory; cursor unchanged).
 */
int intern_tables_encode_new(struct byte_buffer *out, struct intern_cursor *cursor);

/* In a forked child: the mutex may have been held by a parent thread. */
void intern_tables_after_fork_in_child(void);
/* Around fork (pthread_atfork prepare and parent handlers): hold the tables'
 * mutex so that a child inherits them whole, never half updated. */
void intern_tables_before_fork(void);
void intern_tables_after_fork_in_parent(void);

/* Bytes held by the tables. */
size_t intern_tables_memory(void);

#endif
