/*
 * The native_stacks table and the native rows of frames (docs/data.md) of a
 * --native capture. Each native stack's return address is symbolised as the
 * reports symbolise it (native_symbolizer_resolve, inlined functions first;
 * an unresolved address named by merged_frame_display_name), and each
 * symbolised frame is one row: the stack's own id is its innermost frame,
 * the frames of the functions it was inlined into get ids after the
 * reader's native stack count, and the outermost of them has the stack's
 * parent as parent. Walking parent_id from a stack therefore gives the
 * native frames the reports show with every native frame kept.
 *
 * Built once the allocations pass has ended (the reader has then read every
 * mapping and native stack). It holds the distinct native frames and a few
 * numbers per native stack, as the reader holds the stacks themselves;
 * rows are written batch by batch from those.
 */
#ifndef MEMLYZE_NATIVE_STACK_TABLE_H
#define MEMLYZE_NATIVE_STACK_TABLE_H

#include <stdint.h>

#include "core/analysis/merged_stack.h"
#include "core/base/byte_buffer.h"
#include "core/exports/arrow_table.h"
#include "core/format/capture_reader.h"

/* Room for the name of an unresolved address, "<unresolved 0x... (reason)>". */
#define NATIVE_FRAME_TEXT_SIZE 96

struct native_stack_table {
    struct native_symbolizer *symbolizer; /* NULL without native stacks */
    struct byte_buffer frames;         /* struct merged_frame: the distinct native frames */
    struct byte_buffer stack_frames;   /* uint32_t: frame numbers, each stack's innermost first */
    struct byte_buffer stacks;         /* struct native_stack_span, index = native stack id - 1 */
    uint64_t row_count;
    int built;
};

void native_stack_table_init(struct native_stack_table *table);
void native_stack_table_release(struct native_stack_table *table);

/* Symbolises every native stack of reader (read to its end first). Returns
 * 0, or -1 when memory ran out or the ids would pass UINT32_MAX. */
int native_stack_table_build(struct native_stack_table *table,
                             const struct capture_reader *reader);

/* How many distinct native frames there are; frame number n (0-based) is
 * the frames table's row with frame id first_frame_id + n. */
uint32_t native_stack_table_frame_count(const struct native_stack_table *table);

/* The text the reports show for native frame number `number`: function
 * (for an unresolved address written into text, size bytes), file, line and
 * the loaded object's path ("" when in none). */
void native_stack_table_frame(const struct native_stack_table *table, uint32_t number,
                              char *text, size_t size, const char **function, const char **file,
                              uint32_t *line, const char **object);

/*
 * Appends native_stacks rows from *cursor (0 at first) until rows is full
 * or the table ends; *done set at the end. Native frame number n is written
 * as frame id first_frame_id + n. Returns 0 or -1 (memory).
 */
int native_stack_table_fill(const struct native_stack_table *table,
                            const struct capture_reader *reader, uint32_t first_frame_id,
                            uint64_t *cursor, struct arrow_table *rows, int *done);

#endif
