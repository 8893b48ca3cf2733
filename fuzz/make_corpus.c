/*
 * Writes the seed corpus: tiny valid captures (closed, unclosed, empty,
 * with mappings, threads, GC and RSS, events chunks as parts of zstd
 * frames, a version 1 capture), the same records as "R" inputs
 * (see fuzz_inputs.h), and the hostile captures (tests/c/hostile_captures.h:
 * overflowing sizes and sums, sampling out of range, decompression bombs,
 * huge counts, deep and cyclic stacks), into the directory given as argv[1]. Built
 * with the fuzz targets; its output is committed under fuzz/corpus/ (named
 * *.bin: .gitignore ignores *.mlyze).
 */
#include <stdio.h>
#include <string.h>

#include "tests/c/capture_builder.h"
#include "tests/c/hostile_captures.h"
#include "core/format/capture_format.h"
#include "core/format/capture_reader.h"

static int write_seed(const char *directory, const char *name, const struct byte_buffer *file,
                      size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", directory, name);
    FILE *out = fopen(path, "wb");
    if (!out) {
        perror(path);
        return -1;
    }
    size_t written = fwrite(file->data, 1, size, out);
    int closed = fclose(out);
    return written == size && closed == 0 ? 0 : -1;
}

/* Strings, frames, stacks, a thread and a few events of every kind. */
static void add_typical_records(struct capture_builder *builder)
{
    builder_string(builder, "main");
    builder_string(builder, "app.py");
    builder_string(builder, "MainThread");
    builder_frame(builder, 1, 2, 10, 0);
    builder_frame(builder, 1, 2, 12, 0);
    builder_stack(builder, 0, 1);
    builder_stack(builder, 1, 2);
    builder_thread(builder, 1, 4242, 3);
    builder_switch_thread(builder, 1);
    builder_alloc(builder, ALLOCATOR_MALLOC, 0x5000, 64, 1);
    builder_alloc(builder, ALLOCATOR_PYMALLOC, 0x6000, 32, 2);
    builder_alloc(builder, ALLOCATOR_MMAP, 0x7f0000000000ULL, 65536, 2);
    builder_time(builder, 1000);
    builder_rss(builder, 1 << 20, 10, 0);
    builder_free(builder, 0x5000);
    builder_alloc(builder, ALLOCATOR_REALLOC, 0x5100, 128, 0);
    builder_munmap(builder, 0x7f0000004000ULL, 4096);
    builder_pymalloc_free(builder, 0x6000);
    builder_gc(builder, 1, 7, 0, 5000);
    builder_snapshot(builder);
    builder_time(builder, 2000);
}

/* Writes builder's capture as name and releases the builder. */
static int write_and_release(const char *directory, const char *name,
                             struct capture_builder *builder)
{
    int failed = write_seed(directory, name, &builder->file, builder->file.size);
    builder_release(builder);
    return failed;
}

/* The captures the reader must refuse, each a few kilobytes at most. */
static int write_hostile_seeds(const char *directory)
{
    struct capture_builder builder;
    int failed = 0;
    hostile_large_allocations(&builder, UINT64_C(1) << 63);
    failed |= write_and_release(directory, "hostile-size-2-63.bin", &builder);
    hostile_sample_rate(&builder, 1e-12);
    failed |= write_and_release(directory, "hostile-sample-rate-1e-12.bin", &builder);
    hostile_sample_rate(&builder, 3.6e-304);
    failed |= write_and_release(directory, "hostile-sample-rate-3.6e-304.bin", &builder);
    hostile_sampling_record(&builder, CAPTURE_SAMPLING_BY_ALLOCATIONS, UINT64_C(1) << 50);
    failed |= write_and_release(directory, "hostile-sampling-record.bin", &builder);
    hostile_aggregate_bomb(&builder, 2);
    failed |= write_and_release(directory, "hostile-aggregate-bomb.bin", &builder);
    hostile_strings_bomb(&builder, 2);
    failed |= write_and_release(directory, "hostile-strings-bomb.bin", &builder);
    hostile_chunk_above_maximum(&builder, 1u << 16, 1u << 20);
    failed |= write_and_release(directory, "hostile-chunk-above-maximum.bin", &builder);
    hostile_overflowing_sum(&builder, 70000);
    failed |= write_and_release(directory, "hostile-overflowing-sum.bin", &builder);
    hostile_huge_counts(&builder);
    failed |= write_and_release(directory, "hostile-huge-counts.bin", &builder);
    hostile_deep_stack(&builder, 20000);
    failed |= write_and_release(directory, "hostile-deep-stack.bin", &builder);
    hostile_cyclic_stacks(&builder);
    failed |= write_and_release(directory, "hostile-cyclic-stacks.bin", &builder);
    return failed;
}

/* Two threads' records in stream chunks: a frame of two parts, then a
 * frame of one; closed, and cut inside the second part. */
static int write_stream_seeds(const char *directory)
{
    struct capture_builder builder;
    builder_init(&builder);
    builder_default_header(&builder, HEADER_FLAG_TRACK_GC);
    add_typical_records(&builder);
    builder_flush_stream_chunk(&builder, 1, 0);
    builder_switch_thread(&builder, 2);
    builder_alloc(&builder, ALLOCATOR_MALLOC, 0x7f1000000000ULL, 48, 2);
    builder_switch_thread(&builder, 1);
    builder_alloc(&builder, ALLOCATOR_MALLOC, 0x5200, 16, 1);
    builder_switch_thread(&builder, 2);
    builder_free(&builder, 0x7f1000000000ULL);
    size_t first_part = builder.file.size;
    builder_flush_stream_chunk(&builder, 0, 0);
    builder_switch_thread(&builder, 1);
    builder_free(&builder, 0x5200);
    builder_flush_stream_chunk(&builder, 1, 0);
    builder_finish(&builder, 3000, 65536);
    int failed = write_seed(directory, "stream-closed.bin", &builder.file, builder.file.size);
    failed |= write_seed(directory, "stream-cut.bin", &builder.file, first_part + 20);
    builder_release(&builder);
    return failed;
}

/* The typical records in a version 1 capture (one address state, parents
 * by id), which readers still read. */
static int write_version_1_seed(const char *directory)
{
    struct capture_builder builder;
    builder_init(&builder);
    struct byte_buffer fields = {0};
    builder_header(&builder, 1, &fields);
    add_typical_records(&builder);
    builder_switch_thread(&builder, 2);
    builder_alloc(&builder, ALLOCATOR_MALLOC, 0x7f1000000000ULL, 48, 2);
    builder_flush_chunk(&builder);
    builder_finish(&builder, 3000, 65536);
    return write_and_release(directory, "version-1.bin", &builder);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIRECTORY\n", argv[0]);
        return 2;
    }
    struct capture_builder builder;
    int failed = 0;

    builder_init(&builder);
    builder_default_header(&builder, HEADER_FLAG_TRACK_GC);
    add_typical_records(&builder);
    builder_flush_chunk(&builder);
    builder_switch_thread(&builder, 1);
    builder_alloc(&builder, ALLOCATOR_CALLOC, 0x9000, 16, 2);
    size_t unclosed = builder.file.size;
    builder_flush_chunk(&builder);
    size_t two_chunks = builder.file.size;
    builder_finish(&builder, 3000, 65536);
    failed |= write_seed(argv[1], "closed.bin", &builder.file, builder.file.size);
    failed |= write_seed(argv[1], "unclosed.bin", &builder.file, two_chunks);
    failed |= write_seed(argv[1], "cut-in-chunk.bin", &builder.file, unclosed + 20);
    builder_release(&builder);

    /* The records alone: "R", a closed-file byte, records, a chunk mark,
     * more records. */
    builder_init(&builder);
    byte_buffer_append(&builder.file, "R\0", 2);
    add_typical_records(&builder);
    byte_buffer_append(&builder.file, builder.records.data, builder.records.size);
    byte_buffer_append(&builder.file, "MLYC", 4);
    byte_buffer_clear(&builder.records);
    builder_switch_thread(&builder, 1);
    builder_alloc(&builder, ALLOCATOR_MMAP, 0x7f0000010000ULL, 8192, 1);
    builder_munmap(&builder, 0x7f0000000000ULL, 0x20000);
    byte_buffer_append(&builder.file, builder.records.data, builder.records.size);
    failed |= write_seed(argv[1], "records.bin", &builder.file, builder.file.size);
    builder.file.data[1] = 1;
    failed |= write_seed(argv[1], "records-unclosed.bin", &builder.file, builder.file.size);
    builder_release(&builder);

    builder_init(&builder);
    builder_default_header(&builder, 0);
    builder_finish(&builder, 0, 0);
    failed |= write_seed(argv[1], "empty.bin", &builder.file, builder.file.size);
    builder_release(&builder);
    failed |= write_stream_seeds(argv[1]) | write_version_1_seed(argv[1]);
    return failed || write_hostile_seeds(argv[1]) ? 1 : 0;
}
