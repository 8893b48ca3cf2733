/*
 * A small capture encoder for tests only, written apart from the real
 * writer so that reader tests check the format, not the writer's habits.
 * Builds the whole file in memory; every function aborts the test program
 * when memory runs out.
 */
#ifndef MEMLYZE_CAPTURE_BUILDER_H
#define MEMLYZE_CAPTURE_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/byte_buffer.h"
#include "core/format/address_history.h"

struct capture_builder {
    struct byte_buffer file;          /* the capture so far */
    struct byte_buffer records;       /* records of the chunk being built */
    struct byte_buffer chunk_offsets; /* uint64_t offsets of the events chunks */
    /* A version 1 header was written: one address state for all threads,
     * stack parents by id. */
    int version_1;
    /* The previous address of each thread of the chunk (by first switch,
     * thread 0 first, the 64th and later sharing the last). */
    uint64_t state_threads[ADDRESS_STATES];
    uint64_t state_previous_addresses[ADDRESS_STATES];
    uint32_t state_count;
    uint32_t state;
    uint64_t stack_count; /* stacks defined so far */
    void *stream; /* ZSTD_CCtx of the builder's CHUNK_KIND_STREAM_* frame */
};

void builder_init(struct capture_builder *builder);
void builder_release(struct capture_builder *builder);

/* Appends a file header with this version and TLV block. */
void builder_header(struct capture_builder *builder, uint16_t version,
                    const struct byte_buffer *fields);
/* Appends a header: pid 4242, Python "3.11.7", command "python app.py",
 * start time 1000, the given flags, max depth 128, sample rate 1.0. */
void builder_default_header(struct capture_builder *builder, uint64_t flags);

/* Records, appended to the chunk being built. */
void builder_string(struct capture_builder *builder, const char *text);
void builder_frame(struct capture_builder *builder, uint64_t function_sid, uint64_t file_sid,
                   uint64_t line, uint64_t flags);
void builder_stack(struct capture_builder *builder, uint64_t parent_stack_id, uint64_t frame_id);
void builder_frame_module(struct capture_builder *builder, uint64_t frame_id, uint64_t module_sid);
void builder_thread(struct capture_builder *builder, uint64_t thread_id, uint64_t native_tid,
                    uint64_t name_sid);
void builder_switch_thread(struct capture_builder *builder, uint64_t thread_id);
void builder_time(struct capture_builder *builder, uint64_t time_ns);
void builder_rss(struct capture_builder *builder, uint64_t rss_bytes, uint64_t minor_faults,
                 uint64_t major_faults);
void builder_gc(struct capture_builder *builder, uint64_t generation, uint64_t collected,
                uint64_t uncollectable, uint64_t duration_ns);
void builder_snapshot(struct capture_builder *builder);
void builder_alloc(struct capture_builder *builder, int allocator, uint64_t address,
                   uint64_t size, uint64_t stack_id);
void builder_free(struct capture_builder *builder, uint64_t address);
void builder_pymalloc_free(struct capture_builder *builder, uint64_t address);
void builder_munmap(struct capture_builder *builder, uint64_t address, uint64_t size);
/* Appends bytes as they are, for malformed records. */
void builder_raw(struct capture_builder *builder, const void *bytes, size_t size);
/* This program's file as the next string (its path into path) and an
 * OP_MAPPING of it at its load bias, without a build-id (code: an address in
 * it); the mapping names the string as the first one, so add it first. */
void builder_self_mapping(struct capture_builder *builder, const void *code, char *path,
                          size_t path_size);
/* A record of opcode with count varint fields. */
void builder_record(struct capture_builder *builder, int opcode, const uint64_t *values,
                    size_t count);

/* Drops the records so far; address deltas restart at 0 as in a new chunk. */
void builder_clear_records(struct capture_builder *builder);
/* Compresses the records so far into an events chunk; returns its offset.
 * The address delta restarts at 0 for the next chunk. */
uint64_t builder_flush_chunk(struct capture_builder *builder);
/* The same as a part of a zstd frame: a CHUNK_KIND_STREAM_START chunk that
 * begins a new frame when start, else a CHUNK_KIND_STREAM_NEXT chunk that
 * continues the frame; ends the frame too when end_frame (which a reader
 * refuses). */
uint64_t builder_flush_stream_chunk(struct capture_builder *builder, int start, int end_frame);
/* Appends a chunk whose payload is compressed as given; returns its offset. */
uint64_t builder_chunk(struct capture_builder *builder, int kind, const void *payload,
                       size_t size);
/* Appends the footer chunk (end time, tracker memory peak and the chunk
 * index of the events chunks) and the trailer. Returns the footer offset. */
uint64_t builder_finish(struct capture_builder *builder, uint64_t end_time_ns,
                        uint64_t tracker_memory_peak);
/* Appends the given footer TLVs as a footer chunk, then the trailer. */
uint64_t builder_finish_with_fields(struct capture_builder *builder,
                                    const struct byte_buffer *fields);

/* Little-endian helpers for patching bytes in tests. */
void builder_put_u32(uint8_t *out, uint32_t value);

#endif
