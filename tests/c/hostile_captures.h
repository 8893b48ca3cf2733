/*
 * Captures crafted to attack the reader, for its tests and the fuzzer's seed
 * corpus (fuzz/make_corpus.c): sizes that overflow the reports' sums,
 * sampling schemes out of range, and a decompression bomb. Each builds a
 * whole closed capture into a builder the caller has not initialised.
 */
#ifndef MEMLYZE_TESTS_HOSTILE_CAPTURES_H
#define MEMLYZE_TESTS_HOSTILE_CAPTURES_H

#include <stdint.h>

#include "tests/c/capture_builder.h"

/* Two malloc records of size bytes each (2^63 made peak > total before
 * the reader refused sizes above 2^48). */
void hostile_large_allocations(struct capture_builder *builder, uint64_t size);

/* A header whose HEADER_SAMPLE_RATE is rate, and one allocation. */
void hostile_sample_rate(struct capture_builder *builder, double rate);

/* A header with HEADER_SAMPLE_INTERVAL interval, and one allocation. */
void hostile_sample_interval(struct capture_builder *builder, uint64_t interval);

/* An OP_SAMPLING record of mode and mean before one allocation. */
void hostile_sampling_record(struct capture_builder *builder, uint64_t mode, uint64_t mean);

/* chunks aggregate chunks of 64 MiB of zeros, each claiming as many stacks
 * as fit (9.5 million records of 7 zero varints: 1.4 GB of tables) while
 * compressing to about 2 KiB. */
void hostile_aggregate_bomb(struct capture_builder *builder, int chunks);

/* chunks events chunks of 64 MiB - 1 of 0x01 bytes (OP_STRING of one byte
 * 0x01: 22 million strings, 400 MB of tables each) in a capture whose
 * header declares no maximum chunk size; about 2 KiB a chunk. */
void hostile_strings_bomb(struct capture_builder *builder, int chunks);

/* A header declaring HEADER_MAX_CHUNK_SIZE maximum, then an events chunk of
 * size bytes (OP_SNAPSHOT records). */
void hostile_chunk_above_maximum(struct capture_builder *builder, uint64_t maximum,
                                 uint32_t size);

/* count mmap records of CAPTURE_MAX_ALLOCATION_SIZE (2^48) bytes, all
 * live: from 65536 on, their total and peak overflow 64 bits. */
void hostile_overflowing_sum(struct capture_builder *builder, uint32_t count);

/* One allocation, a time of 2^63 and a footer claiming UINT64_MAX of
 * every count, the end time and the thread count. */
void hostile_huge_counts(struct capture_builder *builder);

/* A chain of depth stacks, each below the one before, and one allocation
 * at the deepest: recursion over stacks would overflow the C stack. */
void hostile_deep_stack(struct capture_builder *builder, uint32_t depth);

/* Two stacks, each naming the other as its parent, and one allocation. */
void hostile_cyclic_stacks(struct capture_builder *builder);

#endif
