/* The pprof encoder: a profile written from a small source is gunzipped and
 * its protobuf fields read back. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/format/pprof_encoder.h"
#include "tests/c/test_harness.h"

/* Strings 0..4, frames 1..2, stacks 1..2 (2 calls from 1). */
static const char *const strings[] = {"", "<module>", "app.py", "work", "unused"};
static const uint32_t frames[3][3] = {{0, 0, 0}, {1, 2, 3}, {3, 2, 10}};
static const uint32_t stacks[3][2] = {{0, 0}, {0, 1}, {1, 2}};

static const char *source_string(void *context, uint32_t id, size_t *size)
{
    (void)context;
    if (id >= 5) {
        return NULL;
    }
    *size = strlen(strings[id]);
    return strings[id];
}

static int source_frame(void *context, uint32_t id, uint32_t *name, uint32_t *file,
                        uint32_t *line)
{
    (void)context;
    if (id == 0 || id > 2) {
        return -1;
    }
    *name = frames[id][0];
    *file = frames[id][1];
    *line = frames[id][2];
    return 0;
}

static int source_stack(void *context, uint32_t id, uint32_t *parent, uint32_t *frame)
{
    (void)context;
    if (id == 0 || id > 2) {
        return -1;
    }
    *parent = stacks[id][0];
    *frame = stacks[id][1];
    return 0;
}

/* --- reading back -------------------------------------------------------------- */

struct field {
    unsigned number;
    uint64_t value;       /* varint fields */
    const uint8_t *data;  /* length-delimited fields */
    size_t size;
};

/* Reads the next field of [*cursor, end); 0 at the end or on bad input. */
static int next_field(const uint8_t **cursor, const uint8_t *end, struct field *field)
{
    uint64_t key;
    if (*cursor >= end || varint_decode(cursor, end, &key) < 0) {
        return 0;
    }
    field->number = (unsigned)(key >> 3);
    if ((key & 7) == 0) {
        field->data = NULL;
        return varint_decode(cursor, end, &field->value) == 0;
    }
    uint64_t size;
    if ((key & 7) != 2 || varint_decode(cursor, end, &size) < 0 ||
        size > (uint64_t)(end - *cursor)) {
        return 0;
    }
    field->data = *cursor;
    field->size = (size_t)size;
    *cursor += size;
    return 1;
}

/* The profile's bytes, gunzipped from file; size in *size. */
static uint8_t *read_gunzipped(FILE *file, size_t *size)
{
    uint8_t compressed[1 << 16];
    rewind(file);
    size_t length = fread(compressed, 1, sizeof compressed, file);
    size_t capacity = 1 << 20;
    uint8_t *out = malloc(capacity);
    z_stream stream;
    memset(&stream, 0, sizeof stream);
    if (!out || inflateInit2(&stream, 15 + 16) != Z_OK) {
        free(out);
        return NULL;
    }
    stream.next_in = compressed;
    stream.avail_in = (uInt)length;
    stream.next_out = out;
    stream.avail_out = (uInt)capacity;
    int status = inflate(&stream, Z_FINISH);
    *size = capacity - stream.avail_out;
    inflateEnd(&stream);
    if (status != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

/* What the test looks at in a decoded profile. */
struct decoded {
    const char *strings[64];
    size_t string_sizes[64];
    size_t string_count;
    uint64_t time_nanos;
    uint64_t duration_nanos;
    uint64_t period;
    uint64_t default_sample_type;
    size_t samples;
    uint64_t sample_locations[4][8];
    size_t sample_location_count[4];
    uint64_t sample_values[4][4];
    size_t sample_labels[4];
    size_t locations;
    size_t functions;
    uint64_t function_names[8];
};

static void decode_packed(const struct field *field, uint64_t *out, size_t *count, size_t max)
{
    const uint8_t *cursor = field->data;
    const uint8_t *end = cursor + field->size;
    uint64_t value;
    while (cursor < end && *count < max && varint_decode(&cursor, end, &value) == 0) {
        out[(*count)++] = value;
    }
}

static void decode_sample(struct decoded *profile, const struct field *sample)
{
    size_t index = profile->samples++;
    if (index >= 4) {
        return;
    }
    const uint8_t *cursor = sample->data;
    struct field field;
    size_t values = 0;
    while (next_field(&cursor, sample->data + sample->size, &field)) {
        if (field.number == 1) {
            decode_packed(&field, profile->sample_locations[index],
                          &profile->sample_location_count[index], 8);
        } else if (field.number == 2) {
            decode_packed(&field, profile->sample_values[index], &values, 4);
        } else if (field.number == 3) {
            profile->sample_labels[index]++;
        }
    }
}

static void decode_function(struct decoded *profile, const struct field *function)
{
    const uint8_t *cursor = function->data;
    struct field field;
    while (next_field(&cursor, function->data + function->size, &field)) {
        if (field.number == 2 && profile->functions < 8) {
            profile->function_names[profile->functions] = field.value;
        }
    }
    profile->functions++;
}

static void decode(const uint8_t *data, size_t size, struct decoded *profile)
{
    memset(profile, 0, sizeof *profile);
    const uint8_t *cursor = data;
    struct field field;
    while (next_field(&cursor, data + size, &field)) {
        switch (field.number) {
        case 2: decode_sample(profile, &field); break;
        case 4: profile->locations++; break;
        case 5: decode_function(profile, &field); break;
        case 6:
            if (profile->string_count < 64) {
                profile->string_sizes[profile->string_count] = field.size;
                profile->strings[profile->string_count++] = (const char *)field.data;
            }
            break;
        case 9: profile->time_nanos = field.value; break;
        case 10: profile->duration_nanos = field.value; break;
        case 12: profile->period = field.value; break;
        case 14: profile->default_sample_type = field.value; break;
        default: break;
        }
    }
}

static int string_is(const struct decoded *profile, uint64_t index, const char *text)
{
    return index < profile->string_count && profile->string_sizes[index] == strlen(text) &&
           memcmp(profile->strings[index], text, strlen(text)) == 0;
}

/* --- tests --------------------------------------------------------------------- */

static void test_profile_round_trip(void)
{
    struct pprof_source source = {NULL, 5, 2, source_string, source_frame, source_stack};
    const struct pprof_label labels[2] = {{"pid", "42"}, {"command", "python app.py"}};
    const char *const comments[1] = {"a comment"};
    struct pprof_header header = {.period = 65536, .time_nanos = 1234567890123,
                                  .duration_nanos = 5000000000u, .labels = labels,
                                  .label_count = 2, .comments = comments, .comment_count = 1};
    struct pprof_encoder encoder;
    CHECK(pprof_encoder_begin(&encoder, &source, &header) == 0);
    const uint64_t deep[PPROF_VALUE_COUNT] = {3, 300, 1, 100};
    const uint64_t none[PPROF_VALUE_COUNT] = {1, 7, 0, 0};
    CHECK(pprof_encoder_add_sample(&encoder, 2, deep) == 0);
    CHECK(pprof_encoder_add_sample(&encoder, 0, none) == 0);
    FILE *file = tmpfile();
    CHECK(file != NULL);
    CHECK(pprof_encoder_write(&encoder, fileno(file)) == 0);
    pprof_encoder_release(&encoder);

    size_t size = 0;
    uint8_t *data = read_gunzipped(file, &size);
    fclose(file);
    CHECK(data != NULL);
    if (!data) {
        return;
    }
    struct decoded profile;
    decode(data, size, &profile);
    CHECK_EQ_U64(profile.samples, 2);
    /* innermost first: frame 2 (work), then frame 1 (<module>) */
    CHECK_EQ_U64(profile.sample_location_count[0], 2);
    CHECK_EQ_U64(profile.sample_locations[0][0], 2);
    CHECK_EQ_U64(profile.sample_locations[0][1], 1);
    CHECK_EQ_U64(profile.sample_values[0][PPROF_ALLOC_SPACE], 300);
    CHECK_EQ_U64(profile.sample_values[0][PPROF_INUSE_SPACE], 100);
    CHECK_EQ_U64(profile.sample_labels[0], 2);
    /* no Python frame: the location after the frames */
    CHECK_EQ_U64(profile.sample_location_count[1], 1);
    CHECK_EQ_U64(profile.sample_locations[1][0], 3);
    CHECK_EQ_U64(profile.sample_values[1][PPROF_ALLOC_OBJECTS], 1);
    CHECK_EQ_U64(profile.locations, 3);
    CHECK_EQ_U64(profile.time_nanos, 1234567890123);
    CHECK_EQ_U64(profile.duration_nanos, 5000000000u);
    CHECK_EQ_U64(profile.period, 65536);
    CHECK(string_is(&profile, profile.default_sample_type, "inuse_space"));
    /* the source's strings first, at their own ids */
    CHECK(string_is(&profile, 1, "<module>") && string_is(&profile, 4, "unused"));
    /* functions: <module> shown as (module), work as itself */
    CHECK_EQ_U64(profile.functions, 3);
    CHECK(string_is(&profile, profile.function_names[0], "(module)"));
    CHECK(string_is(&profile, profile.function_names[1], "work"));
    CHECK(string_is(&profile, profile.function_names[2], "(no Python frame)"));
    free(data);
}

int main(void)
{
    RUN_TEST(test_profile_round_trip);
    return test_harness_exit_code();
}
