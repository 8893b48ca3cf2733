/*
 * The merged (native and Python) paths of --native contexts for report
 * trees (report_tree.c): each (stack, native stack) pair is merged once
 * (merged_stack.h), each native address symbolised once, and equal native
 * frames (function, file, line) share one report_native_frame and one key.
 *
 * Trimmed paths (the default; all_native_frames set keeps every frame) show
 * the program rather than the interpreter: the native frames outside the
 * outermost Python frame (_start, __libc_start_main, Py_BytesMain, ...) and
 * the interpreter's own frames (of libpython or the python executable)
 * between Python frames, or between the innermost Python frame and the C
 * extension it called, are dropped; C extension and library frames, and the
 * interpreter frames below them, are kept.
 *
 * Marked paths (all_native_frames and mark_trimmed set) keep every frame,
 * and the frames trimmed paths drop are distinct native frames with their
 * trimmed flag set: dropping the marked frames of a marked path gives its
 * trimmed path.
 */
#ifndef MEMLYZE_REPORT_MERGED_PATHS_H
#define MEMLYZE_REPORT_MERGED_PATHS_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/byte_buffer.h"
#include "core/format/capture_reader.h"
#include "core/base/hash_map.h"
#include "core/analysis/merged_stack.h"
#include "core/reports/report_tree.h"

/* Native frame keys: MERGED_PATH_NATIVE_KEY | native frame index. */
#define MERGED_PATH_NATIVE_KEY (UINT64_C(3) << 31)

/* One step of a merged path: a Python frame (native NULL, key = frame id)
 * or a native frame (key MERGED_PATH_NATIVE_KEY | its index). */
struct merged_path_step {
    uint64_t key;
    uint32_t frame_id;
    const struct report_native_frame *native;
};

struct merged_paths {
    struct capture_reader *reader;      /* borrowed */
    struct native_symbolizer *symbolizer; /* opened on first use */
    struct native_frame_cache cache;
    struct hash_map pair_index;  /* stack << 32 | native stack -> span index */
    struct byte_buffer spans;    /* struct merged_path_span */
    struct byte_buffer steps;    /* struct merged_path_step, innermost first per span */
    struct hash_map native_index; /* hash of (function, file, line) -> native frame index */
    struct byte_buffer natives;  /* struct report_native_frame * */
    struct byte_buffer scratch;  /* struct merged_frame */
    int all_native_frames;       /* 0: trimmed paths (see above) */
    int mark_trimmed;            /* with all_native_frames: marked paths (see above) */
};

void merged_paths_init(struct merged_paths *paths, struct capture_reader *reader);
/* Frees everything, the native frames too unless taken. */
void merged_paths_release(struct merged_paths *paths);

/* Sets *steps and *count to the merged path of (stack_id, native_stack_id),
 * innermost first, valid until the next call. Returns 0 or -1 (no memory). */
int merged_paths_get(struct merged_paths *paths, uint32_t stack_id, uint32_t native_stack_id,
                     const struct merged_path_step **steps, size_t *count);

/* Hands the native frames to the caller (an array freed with free(), each
 * frame released with report_native_frame_free()); *count set. */
struct report_native_frame **merged_paths_take_natives(struct merged_paths *paths, size_t *count);
void report_native_frame_free(struct report_native_frame *frame);

#endif
