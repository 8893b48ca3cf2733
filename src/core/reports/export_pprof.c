/* The pprof export: see export_pprof.h. The protobuf wire format is written
 * by hand: varint fields (wire type 0) and length-delimited ones (type 2). */
#include "core/reports/export_pprof.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/base/byte_buffer.h"
#include "core/base/hash_map.h"

#define WIRE_VARINT 0
#define WIRE_BYTES 2
#define OUTPUT_BLOCK 65536

/* profile.proto field numbers. */
enum {
    PROFILE_SAMPLE_TYPE = 1,
    PROFILE_SAMPLE = 2,
    PROFILE_LOCATION = 4,
    PROFILE_FUNCTION = 5,
    PROFILE_STRING_TABLE = 6,
    PROFILE_DURATION_NANOS = 10,
    PROFILE_PERIOD_TYPE = 11,
    PROFILE_PERIOD = 12,
    PROFILE_DEFAULT_SAMPLE_TYPE = 14,
    VALUE_TYPE_TYPE = 1,
    VALUE_TYPE_UNIT = 2,
    SAMPLE_LOCATION_ID = 1,
    SAMPLE_VALUE = 2,
    LOCATION_ID = 1,
    LOCATION_LINE = 4,
    LINE_FUNCTION_ID = 1,
    LINE_LINE = 2,
    FUNCTION_ID = 1,
    FUNCTION_NAME = 2,
    FUNCTION_SYSTEM_NAME = 3,
    FUNCTION_FILENAME = 4,
};

/* Strings appended after the reader's, whose string ids they follow. */
enum extra_string {
    TEXT_ALLOC_OBJECTS,
    TEXT_COUNT,
    TEXT_ALLOC_SPACE,
    TEXT_BYTES,
    TEXT_INUSE_OBJECTS,
    TEXT_INUSE_SPACE,
    TEXT_SPACE,
    TEXT_NO_FRAME,
    EXTRA_STRING_COUNT
};
static const char *const extra_strings[EXTRA_STRING_COUNT] = {
    "alloc_objects", "count", "alloc_space", "bytes", "inuse_objects", "inuse_space", "space",
    "(no Python frame)",
};

struct pprof_writer {
    const struct report_collection *collection;
    struct capture_reader *reader;
    struct byte_buffer profile;
    struct byte_buffer message;   /* the submessage being built */
    struct byte_buffer packed;    /* a packed repeated field being built */
    struct hash_map functions;    /* function sid << 32 | file sid -> function id */
    struct hash_map renamed;      /* reader sid -> string index of its display name */
    struct byte_buffer renamed_sids; /* uint32_t reader sids, in string table order */
    uint64_t strings;             /* the reader's string count + 1 */
};

static int put_key(struct byte_buffer *out, unsigned field, unsigned wire)
{
    return byte_buffer_append_varint(out, (uint64_t)field << 3 | wire);
}

static int put_varint_field(struct byte_buffer *out, unsigned field, uint64_t value)
{
    return put_key(out, field, WIRE_VARINT) || byte_buffer_append_varint(out, value) ? -1 : 0;
}

static int put_bytes_field(struct byte_buffer *out, unsigned field, const void *data,
                           size_t size)
{
    return put_key(out, field, WIRE_BYTES) || byte_buffer_append_varint(out, size) ||
                   byte_buffer_append(out, data, size)
               ? -1
               : 0;
}

/* Appends the writer's message buffer as field of the profile, then clears it. */
static int flush_message(struct pprof_writer *writer, unsigned field)
{
    int result = put_bytes_field(&writer->profile, field, writer->message.data,
                                 writer->message.size);
    byte_buffer_clear(&writer->message);
    return result;
}

static uint64_t extra(const struct pprof_writer *writer, enum extra_string text)
{
    return writer->strings + text;
}

static int put_value_type(struct pprof_writer *writer, unsigned field, enum extra_string type,
                          enum extra_string unit)
{
    if (put_varint_field(&writer->message, VALUE_TYPE_TYPE, extra(writer, type)) < 0 ||
        put_varint_field(&writer->message, VALUE_TYPE_UNIT, extra(writer, unit)) < 0) {
        return -1;
    }
    return flush_message(writer, field);
}

static int put_header(struct pprof_writer *writer)
{
    const struct report_summary *summary = report_collection_summary(writer->collection);
    if (put_value_type(writer, PROFILE_SAMPLE_TYPE, TEXT_ALLOC_OBJECTS, TEXT_COUNT) < 0 ||
        put_value_type(writer, PROFILE_SAMPLE_TYPE, TEXT_ALLOC_SPACE, TEXT_BYTES) < 0 ||
        put_value_type(writer, PROFILE_SAMPLE_TYPE, TEXT_INUSE_OBJECTS, TEXT_COUNT) < 0 ||
        put_value_type(writer, PROFILE_SAMPLE_TYPE, TEXT_INUSE_SPACE, TEXT_BYTES) < 0 ||
        put_value_type(writer, PROFILE_PERIOD_TYPE, TEXT_SPACE, TEXT_BYTES) < 0) {
        return -1;
    }
    return put_varint_field(&writer->profile, PROFILE_PERIOD, 1) ||
                   put_varint_field(&writer->profile, PROFILE_DURATION_NANOS,
                                    summary->end_time_ns) ||
                   put_varint_field(&writer->profile, PROFILE_DEFAULT_SAMPLE_TYPE,
                                    extra(writer, TEXT_INUSE_SPACE))
               ? -1
               : 0;
}

/* One sample: the context's locations (frame ids; location 1 + frame count
 * for no Python frame) and its four values. */
static int put_sample(struct pprof_writer *writer, const struct analysis_context_view *context,
                      enum analysis_selection selection)
{
    byte_buffer_clear(&writer->packed);
    uint32_t stack_id = context->stack_id;
    const struct capture_stack *stack;
    while (stack_id && (stack = capture_reader_stack(writer->reader, stack_id))) {
        if (byte_buffer_append_varint(&writer->packed, stack->frame_id) < 0) {
            return -1;
        }
        stack_id = stack->parent_stack_id;
    }
    if (context->stack_id == 0 &&
        byte_buffer_append_varint(&writer->packed,
                                  (uint64_t)capture_reader_frame_count(writer->reader) + 1) < 0) {
        return -1;
    }
    if (put_bytes_field(&writer->message, SAMPLE_LOCATION_ID, writer->packed.data,
                        writer->packed.size) < 0) {
        return -1;
    }
    byte_buffer_clear(&writer->packed);
    const struct analysis_figures *total = &context->selected[ANALYSIS_SELECT_TOTAL];
    const struct analysis_figures *inuse = &context->selected[selection];
    if (byte_buffer_append_varint(&writer->packed, total->count) < 0 ||
        byte_buffer_append_varint(&writer->packed, total->bytes) < 0 ||
        byte_buffer_append_varint(&writer->packed, inuse->count) < 0 ||
        byte_buffer_append_varint(&writer->packed, inuse->bytes) < 0 ||
        put_bytes_field(&writer->message, SAMPLE_VALUE, writer->packed.data,
                        writer->packed.size) < 0) {
        return -1;
    }
    return flush_message(writer, PROFILE_SAMPLE);
}

static int put_samples(struct pprof_writer *writer, const struct report_filter *filter)
{
    size_t count;
    const struct analysis_context_view *contexts = report_collection_contexts(writer->collection, &count);
    uint8_t *cache = calloc((size_t)capture_reader_frame_count(writer->reader) + 1, 1);
    int result = cache ? 0 : -1;
    for (size_t i = 0; i < count && result == 0; i++) {
        if (contexts[i].selected[ANALYSIS_SELECT_TOTAL].count == 0 ||
            report_filter_accepts(filter, writer->reader, &contexts[i], cache) != 1) {
            continue;
        }
        result = put_sample(writer, &contexts[i], filter->selection);
    }
    free(cache);
    return result;
}

/* Whether a reader string is a name like <module> or <listcomp>: pprof
 * strips <...> from names (C++ template arguments), leaving nothing. */
static int bracketed(const struct pprof_writer *writer, uint64_t name)
{
    size_t size = 0;
    const char *text = name < writer->strings
                           ? capture_reader_string(writer->reader, (uint32_t)name, &size) : NULL;
    return text && size >= 2 && text[0] == '<' && text[size - 1] == '>';
}

/* The string index pprof shows for a function name: a bracketed name gets
 * an extra string with parentheses, "(module)". 0 when memory ran out. */
static uint64_t display_name(struct pprof_writer *writer, uint64_t name)
{
    if (!bracketed(writer, name)) {
        return name;
    }
    uint64_t *found = hash_map_find(&writer->renamed, name);
    if (found) {
        return *found;
    }
    uint32_t sid = (uint32_t)name;
    uint64_t index = writer->strings + EXTRA_STRING_COUNT + writer->renamed.count;
    if (hash_map_put(&writer->renamed, name, index) < 0 ||
        byte_buffer_append(&writer->renamed_sids, &sid, sizeof sid) < 0) {
        return 0;
    }
    return index;
}

/* Returns the function id of (name, file), writing the function the first
 * time; 0 when memory ran out. */
static uint64_t function_id(struct pprof_writer *writer, uint64_t name, uint64_t file)
{
    uint64_t key = name << 32 | file;
    uint64_t *found = hash_map_find(&writer->functions, key);
    if (found) {
        return *found;
    }
    uint64_t id = writer->functions.count + 1;
    uint64_t shown = display_name(writer, name);
    if (!shown || hash_map_put(&writer->functions, key, id) < 0 ||
        put_varint_field(&writer->message, FUNCTION_ID, id) < 0 ||
        put_varint_field(&writer->message, FUNCTION_NAME, shown) < 0 ||
        put_varint_field(&writer->message, FUNCTION_SYSTEM_NAME, name) < 0 ||
        put_varint_field(&writer->message, FUNCTION_FILENAME, file) < 0 ||
        flush_message(writer, PROFILE_FUNCTION) < 0) {
        return 0;
    }
    return id;
}

static int put_location(struct pprof_writer *writer, uint64_t location, uint64_t name,
                        uint64_t file, uint64_t line)
{
    uint64_t function = function_id(writer, name, file);
    if (!function) {
        return -1;
    }
    byte_buffer_clear(&writer->packed);
    if (put_varint_field(&writer->packed, LINE_FUNCTION_ID, function) < 0 ||
        put_varint_field(&writer->packed, LINE_LINE, line) < 0 ||
        put_varint_field(&writer->message, LOCATION_ID, location) < 0 ||
        put_bytes_field(&writer->message, LOCATION_LINE, writer->packed.data,
                        writer->packed.size) < 0) {
        return -1;
    }
    return flush_message(writer, PROFILE_LOCATION);
}

/* Every frame is a location (id = frame id), plus one for no Python frame. */
static int put_locations(struct pprof_writer *writer)
{
    uint32_t frames = capture_reader_frame_count(writer->reader);
    for (uint32_t frame_id = 1; frame_id <= frames; frame_id++) {
        const struct capture_frame *frame = capture_reader_frame(writer->reader, frame_id);
        if (put_location(writer, frame_id, frame->function_sid, frame->file_sid, frame->line) < 0) {
            return -1;
        }
    }
    return put_location(writer, (uint64_t)frames + 1, extra(writer, TEXT_NO_FRAME), 0, 0);
}

static int put_strings(struct pprof_writer *writer)
{
    for (uint64_t id = 0; id < writer->strings; id++) {
        size_t size;
        const char *text = capture_reader_string(writer->reader, (uint32_t)id, &size);
        if (put_bytes_field(&writer->profile, PROFILE_STRING_TABLE, text ? text : "",
                            text ? size : 0) < 0) {
            return -1;
        }
    }
    for (int i = 0; i < EXTRA_STRING_COUNT; i++) {
        if (put_bytes_field(&writer->profile, PROFILE_STRING_TABLE, extra_strings[i],
                            strlen(extra_strings[i])) < 0) {
            return -1;
        }
    }
    const uint32_t *sids = (const uint32_t *)writer->renamed_sids.data;
    for (size_t i = 0; i < writer->renamed_sids.size / sizeof *sids; i++) {
        size_t size;
        const char *text = capture_reader_string(writer->reader, sids[i], &size);
        struct byte_buffer *out = &writer->message;
        byte_buffer_clear(out);
        if (byte_buffer_append_byte(out, '(') < 0 || byte_buffer_append(out, text + 1, size - 2) ||
            byte_buffer_append_byte(out, ')') < 0 ||
            put_bytes_field(&writer->profile, PROFILE_STRING_TABLE, out->data, out->size) < 0) {
            return -1;
        }
    }
    return 0;
}

/* gzips size bytes at data into path. Returns 0 or an errno value. */
static int write_gzip(const char *path, const uint8_t *data, size_t size)
{
    FILE *file = fopen(path, "wb");
    if (!file) {
        return errno;
    }
    z_stream stream;
    memset(&stream, 0, sizeof stream);
    if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        fclose(file);
        return ENOMEM;
    }
    uint8_t block[OUTPUT_BLOCK];
    stream.next_in = (Bytef *)data;
    stream.avail_in = (uInt)size;
    int status = Z_OK, failure = 0;
    while (status != Z_STREAM_END && !failure) {
        stream.next_out = block;
        stream.avail_out = sizeof block;
        status = deflate(&stream, Z_FINISH);
        size_t produced = sizeof block - stream.avail_out;
        if (status == Z_STREAM_ERROR ||
            (produced && fwrite(block, 1, produced, file) != produced)) {
            failure = errno ? errno : EIO;
        }
    }
    deflateEnd(&stream);
    if (fclose(file) != 0 && !failure) {
        failure = errno;
    }
    return failure;
}

int export_pprof(const struct report_collection *collection, const struct report_filter *filter,
                 const char *path, struct capture_error *error)
{
    struct pprof_writer writer;
    memset(&writer, 0, sizeof writer);
    writer.collection = collection;
    writer.reader = report_collection_reader(collection);
    writer.strings = (uint64_t)capture_reader_string_count(writer.reader) + 1;
    hash_map_init(&writer.functions);
    hash_map_init(&writer.renamed);
    int failure = 0;
    if (put_header(&writer) < 0 || put_samples(&writer, filter) < 0 ||
        put_locations(&writer) < 0 || put_strings(&writer) < 0) {
        failure = ENOMEM;
    } else if (writer.profile.size > UINT32_MAX) {
        failure = EFBIG;
    } else {
        failure = write_gzip(path, writer.profile.data, writer.profile.size);
    }
    byte_buffer_release(&writer.profile);
    byte_buffer_release(&writer.message);
    byte_buffer_release(&writer.packed);
    hash_map_release(&writer.functions);
    hash_map_release(&writer.renamed);
    byte_buffer_release(&writer.renamed_sids);
    if (failure) {
        error->os_errno = failure;
        snprintf(error->message, sizeof error->message, "cannot write %s: %s", path,
                 strerror(failure));
        return -1;
    }
    return 0;
}
