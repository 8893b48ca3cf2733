/* Merged paths of --native contexts for report trees: see report_merged_paths.h. */
#include "core/reports/report_merged_paths.h"

#include <stdlib.h>
#include <string.h>

#include "core/analysis/native_symbols.h"

struct merged_path_span {
    size_t first;
    size_t count;
};

void merged_paths_init(struct merged_paths *paths, struct capture_reader *reader)
{
    memset(paths, 0, sizeof *paths);
    paths->reader = reader;
    native_frame_cache_init(&paths->cache);
    hash_map_init(&paths->pair_index);
    hash_map_init(&paths->native_index);
}

void report_native_frame_free(struct report_native_frame *frame)
{
    if (frame) {
        free(frame->function);
        free(frame->file);
        free(frame);
    }
}

void merged_paths_release(struct merged_paths *paths)
{
    size_t count;
    struct report_native_frame **natives = merged_paths_take_natives(paths, &count);
    for (size_t index = 0; index < count; index++) {
        report_native_frame_free(natives[index]);
    }
    free(natives);
    if (paths->symbolizer) {
        native_symbolizer_close(paths->symbolizer);
    }
    native_frame_cache_release(&paths->cache);
    hash_map_release(&paths->pair_index);
    hash_map_release(&paths->native_index);
    byte_buffer_release(&paths->spans);
    byte_buffer_release(&paths->steps);
    byte_buffer_release(&paths->scratch);
    memset(paths, 0, sizeof *paths);
}

struct report_native_frame **merged_paths_take_natives(struct merged_paths *paths, size_t *count)
{
    *count = paths->natives.size / sizeof(struct report_native_frame *);
    struct report_native_frame **natives = (struct report_native_frame **)paths->natives.data;
    memset(&paths->natives, 0, sizeof paths->natives);
    hash_map_release(&paths->native_index);
    hash_map_init(&paths->native_index);
    return natives;
}

/* FNV-1a over text and its NUL, continuing from hash. */
static uint64_t text_hash(uint64_t hash, const char *text)
{
    for (const unsigned char *byte = (const unsigned char *)text;; byte++) {
        hash = (hash ^ *byte) * UINT64_C(0x100000001b3);
        if (!*byte) {
            return hash;
        }
    }
}

/* The native frame for (function, file, line, trimmed), found or made;
 * NULL: no memory. */
static const struct report_native_frame *native_frame_of(struct merged_paths *paths,
                                                         const char *function, const char *file,
                                                         uint32_t line, int trimmed,
                                                         uint64_t *key)
{
    /* Halved, so that probing never reaches HASH_MAP_EMPTY_KEY. */
    uint64_t hash = text_hash(text_hash(UINT64_C(0xcbf29ce484222325), function), file);
    hash = (hash ^ line ^ (trimmed ? UINT64_C(1) << 40 : 0)) >> 1;
    struct report_native_frame **natives = (struct report_native_frame **)paths->natives.data;
    for (;; hash++) {
        uint64_t *found = hash_map_find(&paths->native_index, hash);
        if (!found) {
            break;
        }
        const struct report_native_frame *known = natives[*found];
        if (known->line == line && known->trimmed == trimmed &&
            strcmp(known->function, function) == 0 && strcmp(known->file, file) == 0) {
            *key = MERGED_PATH_NATIVE_KEY | *found;
            return known;
        }
    }
    uint64_t index = paths->natives.size / sizeof *natives;
    struct report_native_frame *frame = calloc(1, sizeof *frame);
    if (!frame || !(frame->function = strdup(function)) || !(frame->file = strdup(file)) ||
        byte_buffer_append(&paths->natives, &frame, sizeof frame) < 0) {
        report_native_frame_free(frame);
        return NULL;
    }
    frame->line = line;
    frame->trimmed = trimmed;
    if (hash_map_put(&paths->native_index, hash, index) < 0) {
        return NULL;
    }
    *key = MERGED_PATH_NATIVE_KEY | index;
    return frame;
}

/* Appends the step of one merged frame to paths->steps (trimmed: a marked
 * path's frame that trimmed paths leave out); 0 or -1. */
static int append_step(struct merged_paths *paths, const struct merged_frame *frame, int trimmed)
{
    struct merged_path_step step = {frame->frame_id, frame->frame_id, NULL};
    if (frame->kind == MERGED_FRAME_NATIVE) {
        char text[96];
        const char *file;
        const char *function = merged_frame_display_name(frame, text, sizeof text, &file);
        step.native = native_frame_of(paths, function, file ? file : "", frame->line, trimmed,
                                      &step.key);
        if (!step.native) {
            return -1;
        }
    }
    return byte_buffer_append(&paths->steps, &step, sizeof step);
}

/* Whether object is the interpreter's: libpython*.so* or a python executable
 * (python, python3, python3.13, python3.13t, python3.12d). */
static int interpreter_object(const char *object)
{
    const char *slash = object ? strrchr(object, '/') : NULL;
    const char *name = slash ? slash + 1 : object;
    if (!name || !*name) {
        return 0;
    }
    if (strncmp(name, "libpython", 9) == 0) {
        return 1;
    }
    if (strncmp(name, "python", 6) != 0) {
        return 0;
    }
    return strspn(name + 6, "0123456789.tdm") == strlen(name + 6);
}

/* Whether object is the C library (its allocator frames are no extension
 * code the interpreter called into). */
static int c_library_object(const char *object)
{
    const char *slash = object ? strrchr(object, '/') : NULL;
    const char *name = slash ? slash + 1 : object;
    return name && strncmp(name, "libc.so", 7) == 0;
}

/* Where a merged stack's frames are (indices, innermost first): its
 * innermost and outermost Python frames, and the outermost extension or
 * library frame inside the innermost Python frame (count when none). */
struct trim_marks {
    size_t innermost_python;
    size_t outermost_python;
    size_t outermost_extension;
};

static struct trim_marks trim_marks_of(const struct merged_frame *frames, size_t count)
{
    struct trim_marks marks = {count, count, count};
    for (size_t index = 0; index < count; index++) {
        if (frames[index].kind == MERGED_FRAME_PYTHON) {
            marks.innermost_python = marks.innermost_python == count ? index
                                                                     : marks.innermost_python;
            marks.outermost_python = index;
        }
    }
    for (size_t index = 0; index < marks.innermost_python && marks.innermost_python < count;
         index++) {
        const char *object = frames[index].object;
        if (frames[index].kind == MERGED_FRAME_NATIVE && !interpreter_object(object) &&
            !c_library_object(object)) {
            marks.outermost_extension = index;
        }
    }
    return marks;
}

/* Whether a trimmed path leaves out frame index: a native frame outside
 * the outermost Python frame, or an interpreter frame between two Python
 * frames or between the innermost Python frame and the extension code it
 * called (interpreter frames below that, or with no extension code at all,
 * say how the interpreter allocated: kept). */
static int trimmed_away(const struct merged_frame *frames, size_t index,
                        const struct trim_marks *marks)
{
    if (frames[index].kind != MERGED_FRAME_NATIVE) {
        return 0;
    }
    if (index > marks->outermost_python) {
        return 1;
    }
    if (!interpreter_object(frames[index].object)) {
        return 0;
    }
    if (index > marks->innermost_python) {
        return 1;
    }
    return marks->outermost_extension < marks->innermost_python &&
           index > marks->outermost_extension;
}

/* Merges (stack_id, native_stack_id) into a new span; returns its index or -1. */
static int64_t span_add(struct merged_paths *paths, uint32_t stack_id, uint32_t native_stack_id)
{
    if (!paths->symbolizer && !(paths->symbolizer = native_symbolizer_open(paths->reader))) {
        return -1;
    }
    byte_buffer_clear(&paths->scratch);
    if (merged_stack_build(paths->reader, paths->symbolizer, &paths->cache, stack_id,
                           native_stack_id, &paths->scratch) < 0) {
        return -1;
    }
    const struct merged_frame *frames = (const struct merged_frame *)paths->scratch.data;
    size_t frame_count = paths->scratch.size / sizeof *frames;
    struct trim_marks marks = trim_marks_of(frames, frame_count);
    /* Without a Python frame there is no program frame to trim to. */
    int trim = !paths->all_native_frames && marks.outermost_python < frame_count;
    int mark = paths->all_native_frames && paths->mark_trimmed &&
               marks.outermost_python < frame_count;
    struct merged_path_span span = {paths->steps.size / sizeof(struct merged_path_step), 0};
    for (size_t index = 0; index < frame_count; index++) {
        int away = (trim || mark) && trimmed_away(frames, index, &marks);
        if (trim && away) {
            continue;
        }
        if (append_step(paths, &frames[index], away) < 0) {
            return -1;
        }
        span.count++;
    }
    int64_t span_index = (int64_t)(paths->spans.size / sizeof span);
    if (byte_buffer_append(&paths->spans, &span, sizeof span) < 0 ||
        hash_map_put(&paths->pair_index, (uint64_t)stack_id << 32 | native_stack_id,
                     (uint64_t)span_index) < 0) {
        return -1;
    }
    return span_index;
}

int merged_paths_get(struct merged_paths *paths, uint32_t stack_id, uint32_t native_stack_id,
                     const struct merged_path_step **steps, size_t *count)
{
    uint64_t *found = hash_map_find(&paths->pair_index, (uint64_t)stack_id << 32 | native_stack_id);
    int64_t span_index = found ? (int64_t)*found : span_add(paths, stack_id, native_stack_id);
    if (span_index < 0) {
        return -1;
    }
    const struct merged_path_span *span =
        &((const struct merged_path_span *)paths->spans.data)[span_index];
    *steps = (const struct merged_path_step *)paths->steps.data + span->first;
    *count = span->count;
    return 0;
}
