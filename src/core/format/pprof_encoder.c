/* The pprof encoder: see pprof_encoder.h. The protobuf wire format is
 * written by hand: varint fields (wire type 0) and length-delimited ones
 * (type 2); field order does not matter to a reader, so the string table,
 * whose last entries are only known once the functions are named, comes
 * last. */
#include "core/format/pprof_encoder.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

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
    PROFILE_TIME_NANOS = 9,
    PROFILE_DURATION_NANOS = 10,
    PROFILE_PERIOD_TYPE = 11,
    PROFILE_PERIOD = 12,
    PROFILE_COMMENT = 13,
    PROFILE_DEFAULT_SAMPLE_TYPE = 14,
    VALUE_TYPE_TYPE = 1,
    VALUE_TYPE_UNIT = 2,
    SAMPLE_LOCATION_ID = 1,
    SAMPLE_VALUE = 2,
    SAMPLE_LABEL = 3,
    LABEL_KEY = 1,
    LABEL_STR = 2,
    LOCATION_ID = 1,
    LOCATION_LINE = 4,
    LINE_FUNCTION_ID = 1,
    LINE_LINE = 2,
    FUNCTION_ID = 1,
    FUNCTION_NAME = 2,
    FUNCTION_SYSTEM_NAME = 3,
    FUNCTION_FILENAME = 4,
};

static const char *const sample_types[PPROF_VALUE_COUNT][2] = {
    {"alloc_objects", "count"},
    {"alloc_space", "bytes"},
    {"inuse_objects", "count"},
    {"inuse_space", "bytes"},
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

/* Appends the message buffer as field of the profile, then clears it. */
static int flush_message(struct pprof_encoder *encoder, unsigned field)
{
    int result = put_bytes_field(&encoder->profile, field, encoder->message.data,
                                 encoder->message.size);
    byte_buffer_clear(&encoder->message);
    return result;
}

/* Adds a string of the encoder's own to the table; returns its index, or 0
 * when memory ran out (index 0 is the source's empty string). */
static uint64_t add_extra(struct pprof_encoder *encoder, const char *text, size_t size)
{
    if (byte_buffer_append_string(&encoder->extras, text, size) < 0) {
        return 0;
    }
    return encoder->source->string_count + encoder->extra_count++;
}

static uint64_t add_extra_text(struct pprof_encoder *encoder, const char *text)
{
    return add_extra(encoder, text, strlen(text));
}

/* Puts a ValueType as field; *type_index gets its type's string index. */
static int put_value_type(struct pprof_encoder *encoder, unsigned field, const char *type,
                          const char *unit, uint64_t *type_index_out)
{
    uint64_t type_index = add_extra_text(encoder, type);
    *type_index_out = type_index;
    uint64_t unit_index = add_extra_text(encoder, unit);
    if (!type_index || !unit_index ||
        put_varint_field(&encoder->message, VALUE_TYPE_TYPE, type_index) < 0 ||
        put_varint_field(&encoder->message, VALUE_TYPE_UNIT, unit_index) < 0) {
        return -1;
    }
    return flush_message(encoder, field);
}

/* Encodes the labels once: every sample carries the same bytes. */
static int encode_labels(struct pprof_encoder *encoder, const struct pprof_header *header)
{
    for (size_t index = 0; index < header->label_count; index++) {
        uint64_t key = add_extra_text(encoder, header->labels[index].key);
        uint64_t value = add_extra_text(encoder, header->labels[index].value);
        byte_buffer_clear(&encoder->packed);
        if (!key || !value || put_varint_field(&encoder->packed, LABEL_KEY, key) < 0 ||
            put_varint_field(&encoder->packed, LABEL_STR, value) < 0 ||
            put_bytes_field(&encoder->labels, SAMPLE_LABEL, encoder->packed.data,
                            encoder->packed.size) < 0) {
            return -1;
        }
    }
    return 0;
}

static int put_times_and_comments(struct pprof_encoder *encoder,
                                  const struct pprof_header *header)
{
    if ((header->time_nanos &&
         put_varint_field(&encoder->profile, PROFILE_TIME_NANOS, header->time_nanos) < 0) ||
        put_varint_field(&encoder->profile, PROFILE_DURATION_NANOS, header->duration_nanos) < 0) {
        return -1;
    }
    for (size_t index = 0; index < header->comment_count; index++) {
        uint64_t comment = add_extra_text(encoder, header->comments[index]);
        if (!comment || put_varint_field(&encoder->profile, PROFILE_COMMENT, comment) < 0) {
            return -1;
        }
    }
    return 0;
}

int pprof_encoder_begin(struct pprof_encoder *encoder, const struct pprof_source *source,
                        const struct pprof_header *header)
{
    memset(encoder, 0, sizeof *encoder);
    encoder->source = source;
    hash_map_init(&encoder->functions);
    hash_map_init(&encoder->renamed);
    uint64_t type_index[PPROF_VALUE_COUNT + 1];
    for (int value = 0; value < PPROF_VALUE_COUNT; value++) {
        if (put_value_type(encoder, PROFILE_SAMPLE_TYPE, sample_types[value][0],
                           sample_types[value][1], &type_index[value]) < 0) {
            return -1;
        }
    }
    uint64_t inuse_space = type_index[PPROF_INUSE_SPACE];
    if (put_value_type(encoder, PROFILE_PERIOD_TYPE,
                       header->period_type ? header->period_type : "space",
                       header->period_unit ? header->period_unit : "bytes",
                       &type_index[PPROF_VALUE_COUNT]) < 0 ||
        put_varint_field(&encoder->profile, PROFILE_PERIOD,
                         header->period ? header->period : 1) < 0 ||
        put_varint_field(&encoder->profile, PROFILE_DEFAULT_SAMPLE_TYPE, inuse_space) < 0 ||
        put_times_and_comments(encoder, header) < 0 || encode_labels(encoder, header) < 0) {
        return -1;
    }
    encoder->no_frame_name = add_extra_text(encoder, "(no Python frame)");
    return encoder->no_frame_name ? 0 : -1;
}

int pprof_encoder_add_sample(struct pprof_encoder *encoder, uint32_t stack_id,
                             const uint64_t values[PPROF_VALUE_COUNT])
{
    const struct pprof_source *source = encoder->source;
    byte_buffer_clear(&encoder->packed);
    uint32_t parent;
    uint32_t frame_id;
    for (uint32_t id = stack_id; id && source->stack(source->context, id, &parent, &frame_id) == 0;
         id = parent) {
        if (byte_buffer_append_varint(&encoder->packed, frame_id) < 0) {
            return -1;
        }
    }
    if (stack_id == 0 &&
        byte_buffer_append_varint(&encoder->packed, (uint64_t)source->frame_count + 1) < 0) {
        return -1;
    }
    if (put_bytes_field(&encoder->message, SAMPLE_LOCATION_ID, encoder->packed.data,
                        encoder->packed.size) < 0) {
        return -1;
    }
    byte_buffer_clear(&encoder->packed);
    for (int value = 0; value < PPROF_VALUE_COUNT; value++) {
        if (byte_buffer_append_varint(&encoder->packed, values[value]) < 0) {
            return -1;
        }
    }
    if (put_bytes_field(&encoder->message, SAMPLE_VALUE, encoder->packed.data,
                        encoder->packed.size) < 0 ||
        byte_buffer_append(&encoder->message, encoder->labels.data, encoder->labels.size) < 0) {
        return -1;
    }
    return flush_message(encoder, PROFILE_SAMPLE);
}

/* The string index pprof shows for function name sid: a name like <module>
 * gets an extra string "(module)". 0 when memory ran out. */
static uint64_t display_name(struct pprof_encoder *encoder, uint64_t name)
{
    if (name >= encoder->source->string_count) {
        return name; /* one of the encoder's own strings */
    }
    size_t size = 0;
    const char *text = encoder->source->string(encoder->source->context, (uint32_t)name, &size);
    if (!text || size < 2 || text[0] != '<' || text[size - 1] != '>') {
        return name;
    }
    uint64_t *found = hash_map_find(&encoder->renamed, name);
    if (found) {
        return *found;
    }
    struct byte_buffer *shown = &encoder->packed;
    byte_buffer_clear(shown);
    if (byte_buffer_append_byte(shown, '(') < 0 || byte_buffer_append(shown, text + 1, size - 2) ||
        byte_buffer_append_byte(shown, ')') < 0) {
        return 0;
    }
    uint64_t index = add_extra(encoder, (const char *)shown->data, shown->size);
    if (!index || hash_map_put(&encoder->renamed, name, index) < 0) {
        return 0;
    }
    return index;
}

/* Returns the function id of (name, file), writing the function the first
 * time; 0 when memory ran out. */
static uint64_t function_id(struct pprof_encoder *encoder, uint64_t name, uint64_t file)
{
    uint64_t key = name << 32 | file;
    uint64_t *found = hash_map_find(&encoder->functions, key);
    if (found) {
        return *found;
    }
    uint64_t id = encoder->functions.count + 1;
    uint64_t shown = display_name(encoder, name);
    if (!shown || hash_map_put(&encoder->functions, key, id) < 0 ||
        put_varint_field(&encoder->message, FUNCTION_ID, id) < 0 ||
        put_varint_field(&encoder->message, FUNCTION_NAME, shown) < 0 ||
        put_varint_field(&encoder->message, FUNCTION_SYSTEM_NAME, name) < 0 ||
        put_varint_field(&encoder->message, FUNCTION_FILENAME, file) < 0 ||
        flush_message(encoder, PROFILE_FUNCTION) < 0) {
        return 0;
    }
    return id;
}

static int put_location(struct pprof_encoder *encoder, uint64_t location, uint64_t name,
                        uint64_t file, uint64_t line)
{
    uint64_t function = function_id(encoder, name, file);
    if (!function) {
        return -1;
    }
    byte_buffer_clear(&encoder->packed);
    if (put_varint_field(&encoder->packed, LINE_FUNCTION_ID, function) < 0 ||
        put_varint_field(&encoder->packed, LINE_LINE, line) < 0 ||
        put_varint_field(&encoder->message, LOCATION_ID, location) < 0 ||
        put_bytes_field(&encoder->message, LOCATION_LINE, encoder->packed.data,
                        encoder->packed.size) < 0) {
        return -1;
    }
    return flush_message(encoder, PROFILE_LOCATION);
}

/* Every frame is a location (id = frame id), plus one for no Python frame.
 * A frame the source cannot give is named by the empty string. */
static int put_locations(struct pprof_encoder *encoder)
{
    const struct pprof_source *source = encoder->source;
    for (uint32_t frame_id = 1; frame_id <= source->frame_count; frame_id++) {
        uint32_t name = 0;
        uint32_t file = 0;
        uint32_t line = 0;
        if (source->frame(source->context, frame_id, &name, &file, &line) < 0 ||
            name >= source->string_count || file >= source->string_count) {
            name = file = line = 0;
        }
        if (put_location(encoder, frame_id, name, file, line) < 0) {
            return -1;
        }
    }
    return put_location(encoder, (uint64_t)source->frame_count + 1, encoder->no_frame_name, 0,
                        0);
}

static int put_strings(struct pprof_encoder *encoder)
{
    const struct pprof_source *source = encoder->source;
    for (uint32_t id = 0; id < source->string_count; id++) {
        size_t size = 0;
        const char *text = source->string(source->context, id, &size);
        if (put_bytes_field(&encoder->profile, PROFILE_STRING_TABLE, text ? text : "",
                            text ? size : 0) < 0) {
            return -1;
        }
    }
    /* The extras are length-prefixed already: each is a whole field once
     * its key is put before it. */
    const uint8_t *cursor = encoder->extras.data;
    const uint8_t *end = cursor + encoder->extras.size;
    while (cursor < end) {
        const uint8_t *start = cursor;
        uint64_t size;
        if (varint_decode(&cursor, end, &size) < 0 ||
            put_key(&encoder->profile, PROFILE_STRING_TABLE, WIRE_BYTES) < 0 ||
            byte_buffer_append(&encoder->profile, start, (size_t)(cursor - start) + size) < 0) {
            return -1;
        }
        cursor += size;
    }
    return 0;
}

/* Writes size bytes to descriptor, in full. Returns 0 or an errno value. */
static int write_all(int descriptor, const uint8_t *data, size_t size)
{
    while (size) {
        ssize_t written = write(descriptor, data, size);
        if (written < 0 && errno == EINTR) {
            continue;
        }
        if (written <= 0) {
            return written < 0 ? errno : EIO;
        }
        data += written;
        size -= (size_t)written;
    }
    return 0;
}

/* gzips size bytes at data into descriptor. Returns 0 or an errno value. */
static int write_gzip(int descriptor, const uint8_t *data, size_t size)
{
    z_stream stream;
    memset(&stream, 0, sizeof stream);
    if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        return ENOMEM;
    }
    uint8_t block[OUTPUT_BLOCK];
    stream.next_in = (Bytef *)data;
    stream.avail_in = (uInt)size;
    int status = Z_OK;
    int failure = 0;
    while (status != Z_STREAM_END && !failure) {
        stream.next_out = block;
        stream.avail_out = sizeof block;
        status = deflate(&stream, Z_FINISH);
        if (status == Z_STREAM_ERROR) {
            failure = EIO;
        } else {
            failure = write_all(descriptor, block, sizeof block - stream.avail_out);
        }
    }
    deflateEnd(&stream);
    return failure;
}

int pprof_encoder_write(struct pprof_encoder *encoder, int descriptor)
{
    if (put_locations(encoder) < 0 || put_strings(encoder) < 0) {
        return ENOMEM;
    }
    if (encoder->profile.size > UINT32_MAX) {
        return EFBIG; /* zlib's avail_in is 32 bits */
    }
    return write_gzip(descriptor, encoder->profile.data, encoder->profile.size);
}

void pprof_encoder_release(struct pprof_encoder *encoder)
{
    byte_buffer_release(&encoder->profile);
    byte_buffer_release(&encoder->message);
    byte_buffer_release(&encoder->packed);
    byte_buffer_release(&encoder->labels);
    byte_buffer_release(&encoder->extras);
    hash_map_release(&encoder->functions);
    hash_map_release(&encoder->renamed);
}
