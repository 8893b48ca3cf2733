#include "tests/c/capture_builder.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "core/format/capture_format.h"
#include "core/format/crc32.h"

/* Aborts when a byte_buffer call failed: tests do not run out of memory. */
static void must(int status)
{
    if (status < 0) {
        fprintf(stderr, "capture_builder: out of memory\n");
        abort();
    }
}

void builder_put_u32(uint8_t *out, uint32_t value)
{
    for (int index = 0; index < 4; index++) {
        out[index] = (uint8_t)(value >> (8 * index));
    }
}

static void put_u64(uint8_t *out, uint64_t value)
{
    for (int index = 0; index < 8; index++) {
        out[index] = (uint8_t)(value >> (8 * index));
    }
}

void builder_clear_records(struct capture_builder *builder)
{
    byte_buffer_clear(&builder->records);
    builder->state_threads[0] = 0;
    builder->state_previous_addresses[0] = 0;
    builder->state_count = 1;
    builder->state = 0;
}

void builder_init(struct capture_builder *builder)
{
    memset(builder, 0, sizeof *builder);
    builder_clear_records(builder);
}

void builder_release(struct capture_builder *builder)
{
    byte_buffer_release(&builder->file);
    byte_buffer_release(&builder->records);
    byte_buffer_release(&builder->chunk_offsets);
    ZSTD_freeCCtx(builder->stream);
    builder->stream = NULL;
}

void builder_header(struct capture_builder *builder, uint16_t version,
                    const struct byte_buffer *fields)
{
    uint8_t fixed[CAPTURE_FILE_HEADER_FIXED_SIZE];
    memcpy(fixed, CAPTURE_MAGIC, CAPTURE_MAGIC_SIZE);
    builder->version_1 = version < 2;
    fixed[4] = (uint8_t)version;
    fixed[5] = (uint8_t)(version >> 8);
    fixed[6] = fixed[7] = 0;
    builder_put_u32(fixed + 8, (uint32_t)fields->size);
    uint8_t checksum[4];
    builder_put_u32(checksum, crc32_compute(fields->data, fields->size));
    must(byte_buffer_append(&builder->file, fixed, sizeof fixed));
    must(byte_buffer_append(&builder->file, fields->data, fields->size));
    must(byte_buffer_append(&builder->file, checksum, sizeof checksum));
}

void builder_default_header(struct capture_builder *builder, uint64_t flags)
{
    struct byte_buffer fields = {0};
    must(byte_buffer_append_tlv_varint(&fields, HEADER_PID, 4242));
    must(byte_buffer_append_tlv_bytes(&fields, HEADER_PYTHON_VERSION, "3.11.7", 6));
    must(byte_buffer_append_tlv_bytes(&fields, HEADER_COMMAND, "python app.py", 13));
    must(byte_buffer_append_tlv_varint(&fields, HEADER_START_TIME_NS, 1000));
    must(byte_buffer_append_tlv_varint(&fields, HEADER_FLAGS, flags));
    must(byte_buffer_append_tlv_varint(&fields, HEADER_MAX_STACK_DEPTH, 128));
    must(byte_buffer_append_tlv_double(&fields, HEADER_SAMPLE_RATE, 1.0));
    builder_header(builder, CAPTURE_FORMAT_VERSION, &fields);
    byte_buffer_release(&fields);
}

static void put_opcode(struct capture_builder *builder, int opcode)
{
    must(byte_buffer_append_byte(&builder->records, (uint8_t)opcode));
}

static void put_varint(struct capture_builder *builder, uint64_t value)
{
    must(byte_buffer_append_varint(&builder->records, value));
}

static void put_address(struct capture_builder *builder, uint64_t address)
{
    uint64_t *previous = &builder->state_previous_addresses[builder->state];
    put_varint(builder, zigzag_encode((int64_t)(address - *previous)));
    *previous = address;
}

void builder_string(struct capture_builder *builder, const char *text)
{
    put_opcode(builder, OP_STRING);
    must(byte_buffer_append_string(&builder->records, text, strlen(text)));
}

void builder_frame(struct capture_builder *builder, uint64_t function_sid, uint64_t file_sid,
                   uint64_t line, uint64_t flags)
{
    put_opcode(builder, OP_FRAME);
    put_varint(builder, function_sid);
    put_varint(builder, file_sid);
    put_varint(builder, line);
    put_varint(builder, flags);
}

void builder_stack(struct capture_builder *builder, uint64_t parent_stack_id, uint64_t frame_id)
{
    put_opcode(builder, OP_STACK);
    uint64_t own_id = ++builder->stack_count;
    put_varint(builder, builder->version_1 ? parent_stack_id : own_id - parent_stack_id);
    put_varint(builder, frame_id);
}

void builder_frame_module(struct capture_builder *builder, uint64_t frame_id, uint64_t module_sid)
{
    put_opcode(builder, OP_FRAME_MODULE);
    put_varint(builder, frame_id);
    put_varint(builder, module_sid);
}

void builder_thread(struct capture_builder *builder, uint64_t thread_id, uint64_t native_tid,
                    uint64_t name_sid)
{
    put_opcode(builder, OP_THREAD);
    put_varint(builder, thread_id);
    put_varint(builder, native_tid);
    put_varint(builder, name_sid);
}

void builder_switch_thread(struct capture_builder *builder, uint64_t thread_id)
{
    put_opcode(builder, OP_SWITCH_THREAD);
    put_varint(builder, thread_id);
    if (builder->version_1) {
        return;
    }
    uint32_t state = 0;
    while (state < builder->state_count && builder->state_threads[state] != thread_id) {
        state++;
    }
    if (state == builder->state_count && state < ADDRESS_STATES) {
        builder->state_threads[state] = thread_id;
        builder->state_previous_addresses[state] = 0;
        builder->state_count++;
    }
    builder->state = state < ADDRESS_STATES ? state : ADDRESS_STATES - 1;
}

void builder_time(struct capture_builder *builder, uint64_t time_ns)
{
    put_opcode(builder, OP_TIME);
    put_varint(builder, time_ns);
}

void builder_rss(struct capture_builder *builder, uint64_t rss_bytes, uint64_t minor_faults,
                 uint64_t major_faults)
{
    put_opcode(builder, OP_RSS);
    put_varint(builder, rss_bytes);
    put_varint(builder, minor_faults);
    put_varint(builder, major_faults);
}

void builder_gc(struct capture_builder *builder, uint64_t generation, uint64_t collected,
                uint64_t uncollectable, uint64_t duration_ns)
{
    put_opcode(builder, OP_GC);
    put_varint(builder, generation);
    put_varint(builder, collected);
    put_varint(builder, uncollectable);
    put_varint(builder, duration_ns);
}

void builder_snapshot(struct capture_builder *builder)
{
    put_opcode(builder, OP_SNAPSHOT);
}

void builder_alloc(struct capture_builder *builder, int allocator, uint64_t address,
                   uint64_t size, uint64_t stack_id)
{
    put_opcode(builder, OP_ALLOC + allocator);
    put_address(builder, address);
    put_varint(builder, size);
    put_varint(builder, stack_id);
}

void builder_free(struct capture_builder *builder, uint64_t address)
{
    put_opcode(builder, OP_FREE);
    put_address(builder, address);
}

void builder_pymalloc_free(struct capture_builder *builder, uint64_t address)
{
    put_opcode(builder, OP_FREE_PYMALLOC);
    put_address(builder, address);
}

void builder_munmap(struct capture_builder *builder, uint64_t address, uint64_t size)
{
    put_opcode(builder, OP_MUNMAP);
    put_address(builder, address);
    put_varint(builder, size);
}

void builder_raw(struct capture_builder *builder, const void *bytes, size_t size)
{
    must(byte_buffer_append(&builder->records, bytes, size));
}

void builder_self_mapping(struct capture_builder *builder, const void *code, char *path,
                          size_t path_size)
{
    Dl_info info;
    ssize_t length = readlink("/proc/self/exe", path, path_size - 1);
    if (!dladdr(code, &info) || length <= 0) {
        fprintf(stderr, "capture_builder: cannot find this program's file or load bias\n");
        abort();
    }
    path[length] = '\0';
    builder_string(builder, path);
    uint64_t base = (uint64_t)(uintptr_t)info.dli_fbase;
    const uint64_t mapping[] = {base, base + (64u << 20), base, 1, 0};
    builder_record(builder, OP_MAPPING, mapping, 5);
}

void builder_record(struct capture_builder *builder, int opcode, const uint64_t *values,
                    size_t count)
{
    put_opcode(builder, opcode);
    for (size_t index = 0; index < count; index++) {
        put_varint(builder, values[index]);
    }
}

static uint64_t append_chunk(struct capture_builder *builder, int kind, size_t size,
                             const void *compressed, size_t compressed_size)
{
    uint8_t header[CAPTURE_CHUNK_HEADER_SIZE];
    header[0] = (uint8_t)kind;
    builder_put_u32(header + 1, (uint32_t)compressed_size);
    builder_put_u32(header + 5, (uint32_t)size);
    builder_put_u32(header + 9, crc32_compute(compressed, compressed_size));
    uint64_t offset = builder->file.size;
    must(byte_buffer_append(&builder->file, header, sizeof header));
    must(byte_buffer_append(&builder->file, compressed, compressed_size));
    return offset;
}

/* Compresses the records as the stream's next part, into out (bound bytes). */
static size_t compress_stream_part(struct capture_builder *builder, int start, int end_frame,
                                   uint8_t *out, size_t bound)
{
    if (!builder->stream) {
        builder->stream = ZSTD_createCCtx();
        if (!builder->stream) {
            must(-1);
        }
    }
    if (start) {
        ZSTD_CCtx_reset(builder->stream, ZSTD_reset_session_only);
    }
    ZSTD_inBuffer input = {builder->records.data, builder->records.size, 0};
    ZSTD_outBuffer output = {out, bound, 0};
    size_t left;
    do {
        left = ZSTD_compressStream2(builder->stream, &output, &input,
                                    end_frame ? ZSTD_e_end : ZSTD_e_flush);
        if (ZSTD_isError(left) || (left && output.pos == bound)) {
            fprintf(stderr, "capture_builder: cannot compress a stream part\n");
            abort();
        }
    } while (left);
    return output.pos;
}

uint64_t builder_flush_stream_chunk(struct capture_builder *builder, int start, int end_frame)
{
    size_t bound = ZSTD_compressBound(builder->records.size) + 64;
    uint8_t *compressed = malloc(bound);
    if (!compressed) {
        must(-1);
    }
    size_t compressed_size = compress_stream_part(builder, start, end_frame, compressed, bound);
    uint64_t offset =
        append_chunk(builder, start ? CHUNK_KIND_STREAM_START : CHUNK_KIND_STREAM_NEXT,
                     builder->records.size, compressed, compressed_size);
    free(compressed);
    must(byte_buffer_append(&builder->chunk_offsets, &offset, sizeof offset));
    builder_clear_records(builder);
    return offset;
}

uint64_t builder_chunk(struct capture_builder *builder, int kind, const void *payload,
                       size_t size)
{
    size_t bound = ZSTD_compressBound(size);
    void *compressed = malloc(bound);
    if (!compressed) {
        must(-1);
    }
    size_t compressed_size = ZSTD_compress(compressed, bound, payload, size, 1);
    if (ZSTD_isError(compressed_size)) {
        fprintf(stderr, "capture_builder: %s\n", ZSTD_getErrorName(compressed_size));
        abort();
    }
    uint64_t offset = append_chunk(builder, kind, size, compressed, compressed_size);
    free(compressed);
    return offset;
}

uint64_t builder_flush_chunk(struct capture_builder *builder)
{
    uint64_t offset = builder_chunk(builder, CHUNK_KIND_EVENTS, builder->records.data,
                                    builder->records.size);
    must(byte_buffer_append(&builder->chunk_offsets, &offset, sizeof offset));
    builder_clear_records(builder);
    return offset;
}

uint64_t builder_finish_with_fields(struct capture_builder *builder,
                                    const struct byte_buffer *fields)
{
    uint64_t offset = builder_chunk(builder, CHUNK_KIND_FOOTER, fields->data, fields->size);
    uint8_t trailer[CAPTURE_TRAILER_SIZE];
    put_u64(trailer, offset);
    memcpy(trailer + 8, CAPTURE_TRAILER_MAGIC, CAPTURE_TRAILER_MAGIC_SIZE);
    must(byte_buffer_append(&builder->file, trailer, sizeof trailer));
    return offset;
}

uint64_t builder_finish(struct capture_builder *builder, uint64_t end_time_ns,
                        uint64_t tracker_memory_peak)
{
    struct byte_buffer fields = {0};
    struct byte_buffer index = {0};
    const uint64_t *offsets = (const uint64_t *)builder->chunk_offsets.data;
    size_t count = builder->chunk_offsets.size / sizeof *offsets;
    must(byte_buffer_append_varint(&index, count));
    for (size_t position = 0; position < count; position++) {
        must(byte_buffer_append_varint(&index, offsets[position] -
                                                   (position ? offsets[position - 1] : 0)));
    }
    must(byte_buffer_append_tlv_varint(&fields, FOOTER_END_TIME_NS, end_time_ns));
    must(byte_buffer_append_tlv_varint(&fields, FOOTER_TRACKER_MEMORY_PEAK, tracker_memory_peak));
    must(byte_buffer_append_tlv_bytes(&fields, FOOTER_CHUNK_OFFSETS, index.data, index.size));
    uint64_t offset = builder_finish_with_fields(builder, &fields);
    byte_buffer_release(&fields);
    byte_buffer_release(&index);
    return offset;
}
