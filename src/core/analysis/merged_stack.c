/* The merged stack of a --native allocation: see merged_stack.h. */
#include "core/analysis/merged_stack.h"

#include <stdio.h>
#include <string.h>

void native_frame_cache_init(struct native_frame_cache *cache)
{
    hash_map_init(&cache->index);
    memset(&cache->frames, 0, sizeof cache->frames);
}

void native_frame_cache_release(struct native_frame_cache *cache)
{
    hash_map_release(&cache->index);
    byte_buffer_release(&cache->frames);
}

/* Resolves ip into frames (capacity MERGED_STACK_INLINE_LIMIT), through the
 * cache when there is one. Returns the frame count, or -1 when memory ran out. */
static long resolve_address(struct native_symbolizer *symbolizer, struct native_frame_cache *cache,
                            uint64_t ip, struct native_symbol_frame *frames)
{
    uint64_t *found = cache ? hash_map_find(&cache->index, ip) : NULL;
    const struct native_symbol_frame *cached =
        cache ? (const struct native_symbol_frame *)cache->frames.data : NULL;
    if (found) {
        size_t count = (size_t)(*found & 0xFF);
        memcpy(frames, cached + (*found >> 8), count * sizeof *frames);
        return (long)count;
    }
    size_t count = native_symbolizer_resolve(symbolizer, ip, 1, frames, MERGED_STACK_INLINE_LIMIT);
    if (cache && ip != HASH_MAP_EMPTY_KEY) {
        uint64_t first = cache->frames.size / sizeof *frames;
        if (byte_buffer_append(&cache->frames, frames, count * sizeof *frames) < 0 ||
            hash_map_put(&cache->index, ip, first << 8 | count) < 0) {
            return -1;
        }
    }
    return (long)count;
}

struct merge_state {
    const struct capture_reader *reader;
    const struct capture_stack *python; /* the next Python frame to place */
    struct byte_buffer *out;
};

/* Places the next Python frame; returns its flags, or -1 when memory ran out. */
static long place_python_frame(struct merge_state *state)
{
    const struct capture_reader *reader = state->reader;
    uint32_t frame_id = state->python->frame_id;
    const struct capture_frame *frame = capture_reader_frame(reader, frame_id);
    state->python = capture_reader_stack(reader, state->python->parent_stack_id);
    struct merged_frame merged = {MERGED_FRAME_PYTHON, frame_id, "", "", 0, 0, "",
                                  NATIVE_SYMBOL_RESOLVED};
    if (frame) {
        const char *function = capture_reader_string(reader, frame->function_sid, NULL);
        const char *file = capture_reader_string(reader, frame->file_sid, NULL);
        merged.function = function ? function : "";
        merged.file = file ? file : "";
        merged.line = frame->line;
    }
    if (byte_buffer_append(state->out, &merged, sizeof merged) < 0) {
        return -1;
    }
    return frame ? (long)frame->flags : 0;
}

/* Places the Python frames one evaluation loop call ran. Returns 0 or -1. */
static int place_evaluation(struct merge_state *state)
{
    while (state->python) {
        long flags = place_python_frame(state);
        if (flags < 0) {
            return -1;
        }
        if (flags & MERGED_STACK_FRAME_FLAG_ENTRY) {
            break;
        }
    }
    return 0;
}

/* Places one resolved native frame (or the Python frames it stands for). */
static int place_native_frame(struct merge_state *state, const struct native_symbol_frame *frame)
{
    if (frame->function && state->python &&
        strcmp(frame->function, MERGED_STACK_EVALUATION_FUNCTION) == 0) {
        return place_evaluation(state);
    }
    struct merged_frame merged = {MERGED_FRAME_NATIVE, 0, frame->function, frame->file,
                                  frame->line, frame->ip, frame->object, frame->status};
    return byte_buffer_append(state->out, &merged, sizeof merged);
}

int merged_stack_build(const struct capture_reader *reader, struct native_symbolizer *symbolizer,
                       struct native_frame_cache *cache, uint32_t stack_id,
                       uint32_t native_stack_id, struct byte_buffer *out)
{
    struct merge_state state = {reader, capture_reader_stack(reader, stack_id), out};
    const struct capture_native_stack *native =
        symbolizer ? capture_reader_native_stack(reader, native_stack_id) : NULL;
    for (; native; native = capture_reader_native_stack(reader, native->parent_native_stack_id)) {
        struct native_symbol_frame frames[MERGED_STACK_INLINE_LIMIT];
        long count = resolve_address(symbolizer, cache, native->ip, frames);
        for (long index = 0; index < count; index++) {
            if (place_native_frame(&state, &frames[index]) < 0) {
                return -1;
            }
        }
        if (count < 0) {
            return -1;
        }
    }
    while (state.python) {
        if (place_python_frame(&state) < 0) {
            return -1;
        }
    }
    return 0;
}

void merged_frame_unresolved_name(const struct merged_frame *frame, char *text, size_t size)
{
    snprintf(text, size, "<unresolved 0x%llx (%s)>", (unsigned long long)frame->ip,
             native_symbol_status_text(frame->status));
}

const char *merged_frame_display_name(const struct merged_frame *frame, char *text, size_t size,
                                      const char **file)
{
    if (frame->function) {
        *file = frame->file;
        return frame->function;
    }
    merged_frame_unresolved_name(frame, text, size);
    *file = frame->object;
    return text;
}
