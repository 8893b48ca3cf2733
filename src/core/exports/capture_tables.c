/* A capture's tables as Arrow streams (capture_tables.h). */
#include "core/exports/capture_tables_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/base/tracker_memory.h"

static const char *const table_names[CAPTURE_TABLE_COUNT] = {
    "allocations", "stacks", "native_stacks", "frames", "snapshots", "rss", "gc", "processes",
};

const char *capture_table_name(enum capture_table_kind kind)
{
    return (unsigned)kind < CAPTURE_TABLE_COUNT ? table_names[kind] : "";
}

int capture_table_kind_of(const char *name)
{
    for (int kind = 0; kind < CAPTURE_TABLE_COUNT; kind++) {
        if (strcmp(name, table_names[kind]) == 0) {
            return kind;
        }
    }
    return -1;
}

static void error_set(struct capture_error *error, int os_errno, const char *message)
{
    error->os_errno = os_errno;
    snprintf(error->message, sizeof error->message, "%s", message);
}

static struct capture_tables *tables_new(struct capture_reader *reader,
                                         struct capture_error *error)
{
    if (!reader) {
        return NULL;
    }
    struct capture_tables *tables = tracker_calloc(1, sizeof *tables);
    if (!tables || allocation_pass_init(&tables->pass, reader) < 0) {
        if (tables) {
            allocation_pass_release(&tables->pass);
            tracker_free(tables, sizeof *tables);
        }
        capture_reader_close(reader);
        error_set(error, ENOMEM, "out of memory");
        return NULL;
    }
    native_stack_table_init(&tables->native);
    pthread_mutex_init(&tables->lock, NULL);
    tables->references = 1;
    tables->reader = reader;
    return tables;
}

struct capture_tables *capture_tables_open(const char *path, struct capture_error *error)
{
    return tables_new(capture_reader_open(path, error), error);
}

struct capture_tables *capture_tables_open_memory(const void *data, size_t size,
                                                  struct capture_error *error)
{
    return tables_new(capture_reader_open_memory(data, size, error), error);
}

void capture_tables_release(struct capture_tables *tables)
{
    if (!tables) {
        return;
    }
    pthread_mutex_lock(&tables->lock);
    unsigned left = --tables->references;
    pthread_mutex_unlock(&tables->lock);
    if (left) {
        return;
    }
    allocation_pass_release(&tables->pass);
    native_stack_table_release(&tables->native);
    capture_reader_close(tables->reader);
    pthread_mutex_destroy(&tables->lock);
    tracker_free(tables, sizeof *tables);
}

/* --- streams -------------------------------------------------------------------------- */

struct table_stream {
    struct capture_tables *tables; /* a reference */
    enum capture_table_kind kind;
    struct arrow_table rows;
    uint64_t cursor; /* small tables: the next row */
    int ended;
    char error[CAPTURE_ERROR_MESSAGE_SIZE];
};

/* The errno a failure gives the consumer: EINVAL for a damaged capture. */
static int stream_fail(struct table_stream *stream, const struct capture_error *error)
{
    snprintf(stream->error, sizeof stream->error, "%s", error->message);
    return error->os_errno ? error->os_errno : EINVAL;
}

/* Runs the pass to its end for a small table; the lock is held. */
static int pass_finish_locked(struct table_stream *stream)
{
    struct capture_tables *tables = stream->tables;
    if (tables->pass_failed) {
        return stream_fail(stream, &tables->pass_error);
    }
    if (tables->pass.finished) {
        return 0;
    }
    if (tables->allocations_taken) {
        struct capture_error busy;
        error_set(&busy, EBUSY, "read the allocations stream to its end first");
        return stream_fail(stream, &busy);
    }
    if (allocation_pass_fill(&tables->pass, NULL, &tables->pass_error) < 0) {
        tables->pass_failed = 1;
        return stream_fail(stream, &tables->pass_error);
    }
    return 0;
}

/* Symbolises the native stacks for frames and native_stacks, once, after
 * the pass: only then has the reader read every mapping the symbolizer
 * needs. The lock is held. */
static int native_table_ready_locked(struct table_stream *stream)
{
    struct capture_tables *tables = stream->tables;
    if (stream->kind != CAPTURE_TABLE_FRAMES && stream->kind != CAPTURE_TABLE_NATIVE_STACKS) {
        return 0;
    }
    if (native_stack_table_build(&tables->native, tables->reader) < 0) {
        struct capture_error memory;
        error_set(&memory, ENOMEM, "out of memory symbolising the native stacks");
        return stream_fail(stream, &memory);
    }
    return 0;
}

/* Fills the stream's rows with its next batch; the lock is held. */
static int stream_fill_locked(struct table_stream *stream)
{
    struct capture_tables *tables = stream->tables;
    if (stream->kind == CAPTURE_TABLE_ALLOCATIONS) {
        if (tables->pass_failed) {
            return stream_fail(stream, &tables->pass_error);
        }
        if (allocation_pass_fill(&tables->pass, &stream->rows, &tables->pass_error) < 0) {
            tables->pass_failed = 1;
            return stream_fail(stream, &tables->pass_error);
        }
        stream->ended = tables->pass.finished;
        return 0;
    }
    int status = pass_finish_locked(stream);
    if (!status) {
        status = native_table_ready_locked(stream);
    }
    if (status) {
        return status;
    }
    if (small_table_fill(tables, stream->kind, &stream->cursor, &stream->rows, &stream->ended) <
        0) {
        struct capture_error memory;
        error_set(&memory, ENOMEM, "out of memory");
        return stream_fail(stream, &memory);
    }
    return 0;
}

static int stream_get_schema(struct ArrowArrayStream *self, struct ArrowSchema *out)
{
    struct table_stream *stream = self->private_data;
    if (arrow_table_export_schema(&stream->rows, out) < 0) {
        snprintf(stream->error, sizeof stream->error, "out of memory");
        return ENOMEM;
    }
    return 0;
}

static int stream_get_next(struct ArrowArrayStream *self, struct ArrowArray *out)
{
    struct table_stream *stream = self->private_data;
    int status = 0;
    pthread_mutex_lock(&stream->tables->lock);
    /* A batch may come out empty only at the end: a pass step can write
     * nothing (frees of untracked blocks), so fill until rows or the end. */
    while (!status && stream->rows.rows == 0 && !stream->ended) {
        status = stream_fill_locked(stream);
    }
    while (!status && !stream->ended && !arrow_table_full(&stream->rows)) {
        status = stream_fill_locked(stream);
    }
    pthread_mutex_unlock(&stream->tables->lock);
    if (status) {
        return status;
    }
    if (stream->rows.rows == 0) {
        memset(out, 0, sizeof *out); /* the end: a released array */
        return 0;
    }
    if (arrow_table_export_batch(&stream->rows, out) < 0) {
        snprintf(stream->error, sizeof stream->error, "out of memory");
        return ENOMEM;
    }
    return 0;
}

static const char *stream_get_last_error(struct ArrowArrayStream *self)
{
    struct table_stream *stream = self->private_data;
    return stream->error[0] ? stream->error : NULL;
}

static void stream_release(struct ArrowArrayStream *self)
{
    struct table_stream *stream = self->private_data;
    arrow_table_release(&stream->rows);
    capture_tables_release(stream->tables);
    tracker_free(stream, sizeof *stream);
    self->release = NULL;
}

int capture_tables_stream(struct capture_tables *tables, enum capture_table_kind kind,
                          struct ArrowArrayStream *out, struct capture_error *error)
{
    const struct arrow_field *fields;
    size_t field_count;
    if (kind == CAPTURE_TABLE_ALLOCATIONS) {
        fields = allocation_fields;
        field_count = allocation_field_count;
    } else {
        fields = small_table_fields(kind, &field_count);
    }
    struct table_stream *stream = tracker_calloc(1, sizeof *stream);
    if (!stream || arrow_table_init(&stream->rows, fields, field_count) < 0) {
        tracker_free(stream, sizeof *stream);
        error_set(error, ENOMEM, "out of memory");
        return -1;
    }
    pthread_mutex_lock(&tables->lock);
    int refused = kind == CAPTURE_TABLE_ALLOCATIONS && tables->allocations_taken;
    if (!refused) {
        tables->references++;
        tables->allocations_taken |= kind == CAPTURE_TABLE_ALLOCATIONS;
    }
    pthread_mutex_unlock(&tables->lock);
    if (refused) {
        arrow_table_release(&stream->rows);
        tracker_free(stream, sizeof *stream);
        error_set(error, EBUSY, "the allocations table can be streamed once");
        return -1;
    }
    stream->tables = tables;
    stream->kind = kind;
    memset(out, 0, sizeof *out);
    out->get_schema = stream_get_schema;
    out->get_next = stream_get_next;
    out->get_last_error = stream_get_last_error;
    out->release = stream_release;
    out->private_data = stream;
    return 0;
}
