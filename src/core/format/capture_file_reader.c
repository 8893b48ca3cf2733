/* The file level of the capture reader moving from chunk to chunk: each
 * events chunk checked against the footer's chunk index, aggregate chunks
 * kept, and the end of the records, closed or truncated. The header
 * (capture_file_header.c), the footer and trailer (capture_file_footer.c) and
 * loading one chunk (capture_file_blocks.c) are apart; records inside a chunk
 * are capture_record_decoder.c's. */
#include "core/format/capture_file_internal.h"

#include <stdio.h>
#include <string.h>

#include "core/format/aggregate_chunk.h"

/* Ends the records of an untrailered file at offset. Returns 0. */
static int reader_stop_truncated(struct capture_reader *reader, uint64_t offset,
                                 const char *reason)
{
    snprintf(reader->truncation_note, sizeof reader->truncation_note,
             "the capture was not closed (no trailer); read %llu complete chunks, "
             "stopped at offset %llu: %s",
             (unsigned long long)reader->chunks_read, (unsigned long long)offset, reason);
    reader->state = READER_FINISHED;
    return 0;
}

/* Ends the records at body_end, checking that the footer's chunk index
 * listed every chunk. Returns 0, or -1 with the reader failed. */
static int reader_finish(struct capture_reader *reader)
{
    if (reader->has_chunk_index && reader->chunk_index_position != reader->footer.chunk_count) {
        return reader_fail(reader, 0,
                           "the footer's chunk index lists %llu chunks, the file has %llu",
                           (unsigned long long)reader->footer.chunk_count,
                           (unsigned long long)reader->chunks_read);
    }
    if (reader->truncated && reader->has_aggregate) {
        /* Every --aggregate snapshot but the one at stop is written so. */
        snprintf(reader->truncation_note, sizeof reader->truncation_note,
                 "the recording did not stop (the process was killed, or still runs): "
                 "this is its last snapshot, %.3f s after the start",
                 (double)reader->aggregate.time_ns / 1e9);
    } else if (reader->truncated) {
        snprintf(reader->truncation_note, sizeof reader->truncation_note,
                 "the capture was not closed (no trailer); read %llu complete chunks "
                 "to the end of the file",
                 (unsigned long long)reader->chunks_read);
    }
    reader->state = READER_FINISHED;
    return 0;
}

/* Checks that the events chunk at offset is the next one the footer's
 * index lists. Returns 0, or -1 with the reader failed. */
static int reader_check_chunk_index(struct capture_reader *reader, uint64_t offset)
{
    if (!reader->has_chunk_index) {
        return 0;
    }
    const uint64_t *index = (const uint64_t *)reader->chunk_index.data;
    size_t position = reader->chunk_index_position;
    if (position >= reader->footer.chunk_count || index[position] != offset) {
        return reader_fail(reader, 0, "chunk at offset %llu: missing from the footer's chunk index",
                           (unsigned long long)offset);
    }
    reader->chunk_index_position++;
    return 0;
}

/* In an untrailered file, a footer chunk ends the records. Returns 0, or -1
 * with the reader failed. */
static int reader_take_unclosed_footer(struct capture_reader *reader, uint64_t offset,
                                       const struct chunk_info *chunk)
{
    char reason[REASON_SIZE];
    if (footer_parse(reader, offset, reason, sizeof reason) < 0) {
        if (reader->state == READER_FAILED) {
            return -1;
        }
        memset(&reader->footer, 0, sizeof reader->footer);
        if (chunk->end < reader->file_size) {
            return reader_fail(reader, 0, "footer chunk at offset %llu: %s",
                               (unsigned long long)offset, reason);
        }
        return reader_stop_truncated(reader, offset, reason);
    }
    reader->has_chunk_index = 0; /* nothing left to check it against */
    return reader_stop_truncated(reader, offset, "the footer was written, the trailer was not");
}

/* Keeps the aggregate chunk just loaded (it replaces an earlier one) and
 * moves past it. Returns 0, or -1 with the reader failed. */
static int reader_take_aggregate(struct capture_reader *reader, uint64_t offset,
                                 const struct chunk_info *chunk)
{
    struct capture_aggregate aggregate;
    char reason[REASON_SIZE];
    int decoded = aggregate_chunk_decode(reader->payload.data, reader->payload.size,
                                         reader->stack_count, &aggregate, reason, sizeof reason);
    if (decoded == -2) {
        return reader_out_of_memory(reader);
    }
    if (decoded < 0) {
        return reader_fail(reader, 0, "chunk at offset %llu: %s", (unsigned long long)offset,
                           reason);
    }
    if (reader->has_aggregate) {
        aggregate_chunk_release(&reader->aggregate);
    }
    reader->aggregate = aggregate;
    reader->has_aggregate = 1;
    reader->next_chunk_offset = chunk->end;
    reader->cursor = reader->payload_end = reader->payload.data;
    return 0;
}

/*
 * Loads the next events chunk, or ends the records. A chunk that fails its
 * checks is an error, except in an untrailered file where it reaches the end
 * of the file: there the writer was stopped. Returns 0 (loaded or finished)
 * or -1 with the reader failed.
 */
int file_reader_load_next_chunk(struct capture_reader *reader)
{
    uint64_t offset = reader->next_chunk_offset;
    if (offset == reader->body_end) {
        return reader_finish(reader);
    }
    struct chunk_info chunk;
    char reason[REASON_SIZE];
    enum chunk_status status = chunk_load(reader, offset, reader->body_end, &chunk, reason,
                                          sizeof reason);
    if (status == CHUNK_FAILED) {
        return -1;
    }
    if (status != CHUNK_OK) {
        if (!reader->has_trailer && chunk.end >= reader->file_size) {
            return reader_stop_truncated(reader, offset, reason);
        }
        return reader_fail(reader, 0, "chunk at offset %llu: %s", (unsigned long long)offset,
                           reason);
    }
    if (chunk.kind == CHUNK_KIND_FOOTER) {
        if (reader->has_trailer) {
            return reader_fail(reader, 0,
                               "chunk at offset %llu: a footer before the end of the file",
                               (unsigned long long)offset);
        }
        return reader_take_unclosed_footer(reader, offset, &chunk);
    }
    if (chunk.kind == CHUNK_KIND_AGGREGATE) {
        return reader_take_aggregate(reader, offset, &chunk);
    }
    if (reader_check_chunk_index(reader, offset) < 0) {
        return -1;
    }
    reader->chunk_offset = offset;
    reader->next_chunk_offset = chunk.end;
    reader->chunks_read++;
    reader->cursor = reader->payload.data;
    reader->payload_end = reader->payload.data + reader->payload.size;
    reader->current_thread = 0;
    reader->state_index = 0;
    reader->address_state = &reader->address_states[0];
    address_state_threads_reset(&reader->address_threads);
    address_state_reset(reader->address_state);
    return 0;
}
