/*
 * The merged stack of a --native allocation: its native call chain with the
 * Python frames put where the interpreter ran them. Each native
 * _PyEval_EvalFrameDefault becomes the Python frames it evaluated: from the
 * next Python frame up to and including the next entry frame (OP_FRAME
 * flags bit 0). Python frames left over go last (outermost). The one merge
 * the reader binding and the report trees share.
 */
#ifndef MEMLYZE_MERGED_STACK_H
#define MEMLYZE_MERGED_STACK_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/byte_buffer.h"
#include "core/format/capture_reader.h"
#include "core/base/hash_map.h"
#include "core/analysis/native_symbols.h"

#define MERGED_STACK_EVALUATION_FUNCTION "_PyEval_EvalFrameDefault"
#define MERGED_STACK_FRAME_FLAG_ENTRY 1u
#define MERGED_STACK_INLINE_LIMIT 32

enum merged_frame_kind {
    MERGED_FRAME_PYTHON,
    MERGED_FRAME_NATIVE,
};

struct merged_frame {
    enum merged_frame_kind kind;
    uint32_t frame_id;    /* Python frames: the capture's frame id; native: 0 */
    const char *function; /* NULL for an unresolved native frame */
    const char *file;     /* "" when unknown */
    uint32_t line;        /* 0 when unknown */
    uint64_t ip;          /* native frames */
    const char *object;   /* native frames: the object's path, "" when in none */
    enum native_symbol_status status; /* native frames */
};

/* Resolved native addresses, so that each address is symbolised once. */
struct native_frame_cache {
    struct hash_map index;       /* ip -> first frame << 8 | frame count */
    struct byte_buffer frames;   /* struct native_symbol_frame */
};

void native_frame_cache_init(struct native_frame_cache *cache);
void native_frame_cache_release(struct native_frame_cache *cache);

/*
 * Appends to out (struct merged_frame records) the merged stack of
 * (stack_id, native_stack_id), innermost first. symbolizer may be NULL only
 * when native_stack_id is 0; cache may be NULL (no caching). Undefined ids
 * read as empty stacks. Strings belong to the reader and the symbolizer.
 * Returns 0, or -1 when memory ran out.
 */
int merged_stack_build(const struct capture_reader *reader, struct native_symbolizer *symbolizer,
                       struct native_frame_cache *cache, uint32_t stack_id,
                       uint32_t native_stack_id, struct byte_buffer *out);

/* Writes the name shown for a native frame with no function,
 * "<unresolved 0x... (reason)>", into text (size bytes). */
void merged_frame_unresolved_name(const struct merged_frame *frame, char *text, size_t size);

/* The function and file a report shows for a frame: its own, or for an
 * unresolved native frame "<unresolved 0x... (reason)>" (written into text,
 * size bytes) and its object's path. *file may be NULL. */
const char *merged_frame_display_name(const struct merged_frame *frame, char *text, size_t size,
                                      const char **file);

#endif
