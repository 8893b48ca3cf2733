/* The tables other than allocations: definitions (stacks, frames) from the
 * reader's tables, native_stacks and the native frames from the native
 * stack table (native_stack_table.h), events collected by the pass
 * (snapshots, rss, gc), and the capture's one process row. */
#include <string.h>

#include "core/exports/capture_tables_internal.h"

static const struct arrow_field stack_fields[] = {
    {"stack_id", ARROW_TYPE_UINT32, 0},
    {"parent_id", ARROW_TYPE_UINT32, 0},
    {"frame_id", ARROW_TYPE_UINT32, 0},
};
static const struct arrow_field native_stack_fields[] = {
    {"native_stack_id", ARROW_TYPE_UINT32, 0},
    {"parent_id", ARROW_TYPE_UINT32, 0},
    {"frame_id", ARROW_TYPE_UINT32, 0},
    {"ip", ARROW_TYPE_UINT64, 0},
};
static const struct arrow_field frame_fields[] = {
    {"frame_id", ARROW_TYPE_UINT32, 0},
    {"function", ARROW_TYPE_UTF8, 0},
    {"file", ARROW_TYPE_UTF8, 0},
    {"line", ARROW_TYPE_UINT32, 0},
    {"module", ARROW_TYPE_UTF8, 0},
    {"kind", ARROW_TYPE_UTF8, 0},
};
static const struct arrow_field snapshot_fields[] = {
    {"snapshot", ARROW_TYPE_UINT64, 0},
    {"event", ARROW_TYPE_UINT64, 0},
    {"time_ns", ARROW_TYPE_UINT64, 0},
};
static const struct arrow_field rss_fields[] = {
    {"time_ns", ARROW_TYPE_UINT64, 0},
    {"rss_bytes", ARROW_TYPE_UINT64, 0},
    {"minor_faults", ARROW_TYPE_UINT64, 0},
    {"major_faults", ARROW_TYPE_UINT64, 0},
};
static const struct arrow_field gc_fields[] = {
    {"time_ns", ARROW_TYPE_UINT64, 0},
    {"generation", ARROW_TYPE_UINT32, 0},
    {"collected", ARROW_TYPE_UINT64, 0},
    {"uncollectable", ARROW_TYPE_UINT64, 0},
    {"duration_ns", ARROW_TYPE_UINT64, 0},
};
static const struct arrow_field process_fields[] = {
    {"pid", ARROW_TYPE_UINT64, 0},
    {"command", ARROW_TYPE_UTF8, 0},
    {"python_version", ARROW_TYPE_UTF8, 0},
    {"start_time_ns", ARROW_TYPE_UINT64, 0},
    {"end_time_ns", ARROW_TYPE_UINT64, 0},
    {"sampled", ARROW_TYPE_BOOLEAN, 0},
    {"sample_rate", ARROW_TYPE_FLOAT64, 0},
    {"sample_interval", ARROW_TYPE_UINT64, 1},
    {"events", ARROW_TYPE_UINT64, 0},
    {"allocations", ARROW_TYPE_UINT64, 0},
    {"truncated", ARROW_TYPE_BOOLEAN, 0},
    {"peak_bytes", ARROW_TYPE_UINT64, 0},
    {"peak_event", ARROW_TYPE_UINT64, 0},
};

#define FIELDS(array) array, sizeof array / sizeof array[0]

const struct arrow_field *small_table_fields(enum capture_table_kind kind, size_t *count)
{
    static const struct {
        const struct arrow_field *fields;
        size_t count;
    } tables[CAPTURE_TABLE_COUNT] = {
        [CAPTURE_TABLE_STACKS] = {FIELDS(stack_fields)},
        [CAPTURE_TABLE_NATIVE_STACKS] = {FIELDS(native_stack_fields)},
        [CAPTURE_TABLE_FRAMES] = {FIELDS(frame_fields)},
        [CAPTURE_TABLE_SNAPSHOTS] = {FIELDS(snapshot_fields)},
        [CAPTURE_TABLE_RSS] = {FIELDS(rss_fields)},
        [CAPTURE_TABLE_GC] = {FIELDS(gc_fields)},
        [CAPTURE_TABLE_PROCESSES] = {FIELDS(process_fields)},
    };
    *count = tables[kind].count;
    return tables[kind].fields;
}

/* Each appends row number `row` of its table; 0 or -1 (memory). */

static int stack_row(const struct capture_tables *tables, uint64_t row, struct arrow_column *c)
{
    uint32_t id = (uint32_t)row + 1;
    const struct capture_stack *stack = capture_reader_stack(tables->reader, id);
    return arrow_column_append_unsigned(&c[0], id) |
           arrow_column_append_unsigned(&c[1], stack ? stack->parent_stack_id : 0) |
           arrow_column_append_unsigned(&c[2], stack ? stack->frame_id : 0);
}

static int text_append(const struct capture_tables *tables, struct arrow_column *column,
                       uint32_t string_id)
{
    size_t size = 0;
    const char *text = capture_reader_string(tables->reader, string_id, &size);
    return arrow_column_append_text(column, text ? text : "", text ? size : 0);
}

static int text_append_all(struct arrow_column *column, const char *text)
{
    return arrow_column_append_text(column, text, strlen(text));
}

/* A native frame's row: the text the reports show for it. */
static int native_frame_row(const struct capture_tables *tables, uint32_t id, uint32_t number,
                            struct arrow_column *c)
{
    char text[NATIVE_FRAME_TEXT_SIZE];
    const char *function, *file, *object;
    uint32_t line;
    native_stack_table_frame(&tables->native, number, text, sizeof text, &function, &file, &line,
                             &object);
    return arrow_column_append_unsigned(&c[0], id) | text_append_all(&c[1], function) |
           text_append_all(&c[2], file) | arrow_column_append_unsigned(&c[3], line) |
           text_append_all(&c[4], object) | text_append_all(&c[5], "native");
}

/* Rows 0..N-1 are the capture's N Python frames (ids 1..N), the native
 * frames follow (ids N+1...). */
static int frame_row(const struct capture_tables *tables, uint64_t row, struct arrow_column *c)
{
    uint32_t id = (uint32_t)row + 1;
    uint32_t python_count = capture_reader_frame_count(tables->reader);
    if (id > python_count) {
        return native_frame_row(tables, id, id - python_count - 1, c);
    }
    const struct capture_frame *frame = capture_reader_frame(tables->reader, id);
    return arrow_column_append_unsigned(&c[0], id) |
           text_append(tables, &c[1], frame ? frame->function_sid : 0) |
           text_append(tables, &c[2], frame ? frame->file_sid : 0) |
           arrow_column_append_unsigned(&c[3], frame ? frame->line : 0) |
           text_append(tables, &c[4], frame ? frame->module_sid : 0) |
           text_append_all(&c[5], "python");
}

static int snapshot_row(const struct capture_tables *tables, uint64_t row, struct arrow_column *c)
{
    const struct snapshot_row *snapshot = (const struct snapshot_row *)tables->pass.snapshots.data + row;
    return arrow_column_append_unsigned(&c[0], row + 1) |
           arrow_column_append_unsigned(&c[1], snapshot->event) |
           arrow_column_append_unsigned(&c[2], snapshot->time_ns);
}

static int rss_row(const struct capture_tables *tables, uint64_t row, struct arrow_column *c)
{
    const struct rss_row *sample = (const struct rss_row *)tables->pass.rss.data + row;
    return arrow_column_append_unsigned(&c[0], sample->time_ns) |
           arrow_column_append_unsigned(&c[1], sample->rss_bytes) |
           arrow_column_append_unsigned(&c[2], sample->minor_faults) |
           arrow_column_append_unsigned(&c[3], sample->major_faults);
}

static int gc_row(const struct capture_tables *tables, uint64_t row, struct arrow_column *c)
{
    const struct gc_row *collection = (const struct gc_row *)tables->pass.gc.data + row;
    return arrow_column_append_unsigned(&c[0], collection->time_ns) |
           arrow_column_append_unsigned(&c[1], collection->generation) |
           arrow_column_append_unsigned(&c[2], collection->collected) |
           arrow_column_append_unsigned(&c[3], collection->uncollectable) |
           arrow_column_append_unsigned(&c[4], collection->duration_ns);
}

static int process_row(const struct capture_tables *tables, uint64_t row, struct arrow_column *c)
{
    (void)row;
    const struct capture_header *header = capture_reader_header(tables->reader);
    const struct capture_footer *footer = capture_reader_footer(tables->reader);
    uint64_t end = tables->pass.last_time_ns;
    if (footer->has_end_time && footer->end_time_ns > end) {
        end = footer->end_time_ns;
    }
    int sampled = header->sample_interval || header->sample_rate < 1.0;
    int failed = arrow_column_append_unsigned(&c[0], header->pid) |
                 arrow_column_append_text(&c[1], header->command, header->command_size) |
                 arrow_column_append_text(&c[2], header->python_version,
                                          header->python_version_size) |
                 arrow_column_append_unsigned(&c[3], header->start_time_ns) |
                 arrow_column_append_unsigned(&c[4], end) |
                 arrow_column_append_unsigned(&c[5], sampled) |
                 arrow_column_append_double(&c[6], header->sample_rate);
    failed |= header->sample_interval
                  ? arrow_column_append_unsigned(&c[7], header->sample_interval)
                  : arrow_column_append_null(&c[7]);
    return failed | arrow_column_append_unsigned(&c[8], tables->pass.events) |
           arrow_column_append_unsigned(&c[9], tables->pass.allocations) |
           arrow_column_append_unsigned(&c[10], (uint64_t)capture_reader_truncated(tables->reader)) |
           arrow_column_append_unsigned(&c[11], estimate_figure(tables->pass.peak_bytes)) |
           arrow_column_append_unsigned(&c[12], tables->pass.peak_event);
}

static uint64_t small_table_rows(const struct capture_tables *tables, enum capture_table_kind kind)
{
    switch (kind) {
    case CAPTURE_TABLE_STACKS:
        return capture_reader_stack_count(tables->reader);
    case CAPTURE_TABLE_NATIVE_STACKS:
        return tables->native.row_count;
    case CAPTURE_TABLE_FRAMES:
        return (uint64_t)capture_reader_frame_count(tables->reader) +
               native_stack_table_frame_count(&tables->native);
    case CAPTURE_TABLE_SNAPSHOTS:
        return tables->pass.snapshots.size / sizeof(struct snapshot_row);
    case CAPTURE_TABLE_RSS:
        return tables->pass.rss.size / sizeof(struct rss_row);
    case CAPTURE_TABLE_GC:
        return tables->pass.gc.size / sizeof(struct gc_row);
    case CAPTURE_TABLE_PROCESSES:
        return 1;
    default:
        return 0;
    }
}

int small_table_fill(const struct capture_tables *tables, enum capture_table_kind kind,
                     uint64_t *cursor, struct arrow_table *rows, int *done)
{
    typedef int (*row_function)(const struct capture_tables *, uint64_t, struct arrow_column *);
    static const row_function row_functions[CAPTURE_TABLE_COUNT] = {
        [CAPTURE_TABLE_STACKS] = stack_row,       [CAPTURE_TABLE_FRAMES] = frame_row,
        [CAPTURE_TABLE_SNAPSHOTS] = snapshot_row, [CAPTURE_TABLE_RSS] = rss_row,
        [CAPTURE_TABLE_GC] = gc_row,              [CAPTURE_TABLE_PROCESSES] = process_row,
    };
    if (kind == CAPTURE_TABLE_NATIVE_STACKS) {
        return native_stack_table_fill(&tables->native, tables->reader,
                                       capture_reader_frame_count(tables->reader) + 1, cursor,
                                       rows, done);
    }
    uint64_t count = small_table_rows(tables, kind);
    while (*cursor < count && !arrow_table_full(rows)) {
        if (row_functions[kind](tables, *cursor, rows->columns) < 0 ||
            arrow_table_end_row(rows) < 0) {
            return -1;
        }
        (*cursor)++;
    }
    *done = *cursor >= count;
    return 0;
}
