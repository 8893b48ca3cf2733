/* The native_stacks table and the native frames: see native_stack_table.h. */
#include "core/exports/native_stack_table.h"

#include <string.h>

#include "core/base/hash_map.h"

/* Which frames one native stack has, and the id of its second frame. */
struct native_stack_span {
    uint32_t first;    /* in stack_frames */
    uint32_t count;    /* 0: an id the reader has no stack for (one empty row) */
    uint32_t outer_id; /* the id of frame 1 when count > 1; the rest follow */
};

/* Maps used while building only: they go once every stack is symbolised. */
struct build_state {
    struct native_stack_table *table;
    struct hash_map addresses; /* ip -> first << 8 | count: an address resolves once */
    struct hash_map frames;    /* frame hash (halved) -> frame number */
};

void native_stack_table_init(struct native_stack_table *table)
{
    memset(table, 0, sizeof *table);
}

void native_stack_table_release(struct native_stack_table *table)
{
    if (table->symbolizer) {
        native_symbolizer_close(table->symbolizer);
    }
    byte_buffer_release(&table->frames);
    byte_buffer_release(&table->stack_frames);
    byte_buffer_release(&table->stacks);
    memset(table, 0, sizeof *table);
}

uint32_t native_stack_table_frame_count(const struct native_stack_table *table)
{
    return (uint32_t)(table->frames.size / sizeof(struct merged_frame));
}

/* The function and file a report shows for frame (text: NATIVE_FRAME_TEXT_SIZE). */
static const char *display(const struct merged_frame *frame, char *text, const char **file)
{
    const char *function = merged_frame_display_name(frame, text, NATIVE_FRAME_TEXT_SIZE, file);
    if (!*file) {
        *file = "";
    }
    return function;
}

void native_stack_table_frame(const struct native_stack_table *table, uint32_t number,
                              char *text, size_t size, const char **function, const char **file,
                              uint32_t *line, const char **object)
{
    const struct merged_frame *frame = (const struct merged_frame *)table->frames.data + number;
    *function = merged_frame_display_name(frame, text, size, file);
    if (!*file) {
        *file = "";
    }
    *line = frame->line;
    *object = frame->object ? frame->object : "";
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

/* The number of the frame with frame's (function, file, line, object) as the
 * reports show them, found or added; -1 when memory ran out. */
static int64_t frame_number_of(struct build_state *state, const struct merged_frame *frame)
{
    char text[NATIVE_FRAME_TEXT_SIZE];
    const char *file;
    const char *function = display(frame, text, &file);
    const char *object = frame->object ? frame->object : "";
    uint64_t hash = text_hash(UINT64_C(0xcbf29ce484222325), function);
    hash = text_hash(text_hash(hash, file), object);
    /* Halved, so that probing never reaches HASH_MAP_EMPTY_KEY. */
    hash = (hash ^ frame->line) >> 1;
    const struct merged_frame *known = (const struct merged_frame *)state->table->frames.data;
    for (;; hash++) {
        uint64_t *found = hash_map_find(&state->frames, hash);
        if (!found) {
            break;
        }
        char known_text[NATIVE_FRAME_TEXT_SIZE];
        const char *known_file;
        const char *known_function = display(&known[*found], known_text, &known_file);
        const char *known_object = known[*found].object ? known[*found].object : "";
        if (known[*found].line == frame->line && strcmp(known_function, function) == 0 &&
            strcmp(known_file, file) == 0 && strcmp(known_object, object) == 0) {
            return (int64_t)*found;
        }
    }
    uint64_t number = native_stack_table_frame_count(state->table);
    if (number >= UINT32_MAX ||
        byte_buffer_append(&state->table->frames, frame, sizeof *frame) < 0 ||
        hash_map_put(&state->frames, hash, number) < 0) {
        return -1;
    }
    return (int64_t)number;
}

/* Fills span's first and count with the frames ip resolves to; 0 or -1. */
static int address_span(struct build_state *state, uint64_t ip, struct native_stack_span *span)
{
    struct native_stack_table *table = state->table;
    /* The one address the map cannot hold is resolved each time it comes. */
    int cached = ip != HASH_MAP_EMPTY_KEY;
    uint64_t *found = cached ? hash_map_find(&state->addresses, ip) : NULL;
    if (found) {
        span->first = (uint32_t)(*found >> 8);
        span->count = (uint32_t)(*found & 0xFF);
        return 0;
    }
    struct native_symbol_frame resolved[MERGED_STACK_INLINE_LIMIT];
    size_t count =
        native_symbolizer_resolve(table->symbolizer, ip, 1, resolved, MERGED_STACK_INLINE_LIMIT);
    uint64_t first = table->stack_frames.size / sizeof(uint32_t);
    if (first + count > UINT32_MAX) {
        return -1;
    }
    for (size_t index = 0; index < count; index++) {
        const struct native_symbol_frame *symbol = &resolved[index];
        struct merged_frame frame = {MERGED_FRAME_NATIVE, 0,         symbol->function,
                                     symbol->file,        symbol->line, symbol->ip,
                                     symbol->object,      symbol->status};
        int64_t number = frame_number_of(state, &frame);
        uint32_t stored = (uint32_t)number;
        if (number < 0 || byte_buffer_append(&table->stack_frames, &stored, sizeof stored) < 0) {
            return -1;
        }
    }
    span->first = (uint32_t)first;
    span->count = (uint32_t)count;
    if (cached && hash_map_put(&state->addresses, ip, first << 8 | count) < 0) {
        return -1;
    }
    return 0;
}

/* Symbolises each native stack in id order; 0 or -1. */
static int spans_build(struct build_state *state, const struct capture_reader *reader)
{
    uint32_t stack_count = capture_reader_native_stack_count(reader);
    uint64_t next_outer_id = (uint64_t)stack_count + 1;
    for (uint32_t id = 1; id <= stack_count; id++) {
        const struct capture_native_stack *stack = capture_reader_native_stack(reader, id);
        struct native_stack_span span = {0, 0, 0};
        if (stack && address_span(state, stack->ip, &span) < 0) {
            return -1;
        }
        if (span.count > 1) {
            span.outer_id = (uint32_t)next_outer_id;
            next_outer_id += span.count - 1;
        }
        if (next_outer_id - 1 > UINT32_MAX ||
            byte_buffer_append(&state->table->stacks, &span, sizeof span) < 0) {
            return -1;
        }
    }
    state->table->row_count = next_outer_id - 1;
    return 0;
}

int native_stack_table_build(struct native_stack_table *table,
                             const struct capture_reader *reader)
{
    if (table->built) {
        return 0;
    }
    if (capture_reader_native_stack_count(reader) == 0) {
        table->built = 1; /* no --native: nothing to symbolise, no object to open */
        return 0;
    }
    if (!(table->symbolizer = native_symbolizer_open(reader))) {
        return -1;
    }
    struct build_state state = {.table = table};
    hash_map_init(&state.addresses);
    hash_map_init(&state.frames);
    int status = spans_build(&state, reader);
    hash_map_release(&state.addresses);
    hash_map_release(&state.frames);
    if (status < 0) {
        native_stack_table_release(table);
        return -1;
    }
    table->built = 1;
    return 0;
}

/* Appends the row of frame `position` of native stack `id`; 0 or -1. */
static int stack_row(const struct native_stack_table *table, const struct capture_reader *reader,
                     uint32_t first_frame_id, uint32_t id, uint32_t position,
                     struct arrow_column *columns)
{
    const struct native_stack_span *span =
        (const struct native_stack_span *)table->stacks.data + (id - 1);
    const struct capture_native_stack *stack = capture_reader_native_stack(reader, id);
    uint32_t frame_count = span->count ? span->count : 1;
    uint32_t row_id = position == 0 ? id : span->outer_id + position - 1;
    uint32_t parent_id;
    if (position + 1 < frame_count) {
        parent_id = position == 0 ? span->outer_id : row_id + 1;
    } else {
        parent_id = stack ? stack->parent_native_stack_id : 0;
    }
    uint32_t frame_id = 0;
    if (span->count) {
        const uint32_t *numbers = (const uint32_t *)table->stack_frames.data + span->first;
        frame_id = first_frame_id + numbers[position];
    }
    return arrow_column_append_unsigned(&columns[0], row_id) |
           arrow_column_append_unsigned(&columns[1], parent_id) |
           arrow_column_append_unsigned(&columns[2], frame_id) |
           arrow_column_append_unsigned(&columns[3], stack ? stack->ip : 0);
}

int native_stack_table_fill(const struct native_stack_table *table,
                            const struct capture_reader *reader, uint32_t first_frame_id,
                            uint64_t *cursor, struct arrow_table *rows, int *done)
{
    /* The cursor is the next stack's index << 8 | the next frame in it. */
    uint64_t stack_count = table->stacks.size / sizeof(struct native_stack_span);
    const struct native_stack_span *spans = (const struct native_stack_span *)table->stacks.data;
    while ((*cursor >> 8) < stack_count && !arrow_table_full(rows)) {
        uint64_t index = *cursor >> 8;
        uint32_t position = (uint32_t)(*cursor & 0xFF);
        if (stack_row(table, reader, first_frame_id, (uint32_t)index + 1, position,
                      rows->columns) < 0 ||
            arrow_table_end_row(rows) < 0) {
            return -1;
        }
        uint32_t frame_count = spans[index].count ? spans[index].count : 1;
        *cursor = position + 1 < frame_count ? *cursor + 1 : (index + 1) << 8;
    }
    *done = (*cursor >> 8) >= stack_count;
    return 0;
}
