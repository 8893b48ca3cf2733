/*
 * Reads capture files (capture_format.h, docs/format.md) and checks every
 * byte it uses: lengths against the file and CAPTURE_MAX_CHUNK_SIZE, CRCs,
 * zstd frames and their sizes, varints, ids, opcodes. A damaged file gives
 * one line naming the problem and its byte offset; it never crashes the
 * reader nor makes it read outside the file.
 *
 * A pull API: capture_reader_next() decodes one event record at a time.
 * Definitions (strings, frames, stacks, threads) are absorbed into tables
 * that stay readable by id for the reader's lifetime; an id becomes valid
 * when the record defining it has been passed.
 *
 * A file without its trailer was not closed: the reader reads its complete
 * chunks in order and stops, without error, at the incomplete or damaged
 * chunk that ends the file; capture_reader_truncated() then says so.
 *
 * Not thread-safe: one thread uses a reader at a time.
 */
#ifndef MEMLYZE_CAPTURE_READER_H
#define MEMLYZE_CAPTURE_READER_H

#include <stddef.h>
#include <stdint.h>

#include "core/format/capture_format.h"

#define CAPTURE_ERROR_MESSAGE_SIZE 256
/* OP_GC generations a reader accepts: CPython has 0, 1 and 2. */
#define CAPTURE_GC_GENERATIONS 3

struct capture_error {
    int os_errno; /* nonzero when the system failed us (errno; ENOMEM when
                     memory ran out); 0 when the capture itself is at fault */
    char message[CAPTURE_ERROR_MESSAGE_SIZE];
};

/* The file header's fields; absent fields keep the defaults noted. */
struct capture_header {
    uint32_t format_version;
    uint64_t pid;                   /* 0 */
    const char *python_version;     /* "" ; NUL-terminated, owned by the reader */
    size_t python_version_size;
    const char *command;            /* "" ; NUL-terminated, owned by the reader */
    size_t command_size;
    uint64_t start_time_ns;         /* 0 */
    uint64_t flags;                 /* 0 ; HEADER_FLAG_* */
    uint64_t max_stack_depth;       /* 0 */
    double sample_rate;             /* 1.0 ; always in [CAPTURE_MIN_SAMPLE_RATE, 1] */
    uint64_t sample_interval;       /* 0 = off; else at most CAPTURE_MAX_SAMPLE_INTERVAL */
    uint64_t rss_interval_ns;       /* 0 = off */
    uint64_t page_size;             /* 0 = unknown */
    uint64_t sample_seed;           /* 0 */
    uint64_t max_chunk_size;        /* CAPTURE_MAX_CHUNK_SIZE ; the writer's bound */
    uint64_t parent_pid;            /* 0 = none: not started by a recorded process */
    /* A --ring dump's (HEADER_FLAG_RING; all 0 otherwise): */
    uint64_t ring_window_start_ns;
    uint64_t ring_base_allocations;
    uint64_t ring_dump_reason;      /* RING_DUMP_* */
    uint64_t ring_dump_signal;
    uint64_t ring_evicted_events;
    uint64_t ring_dump_at_rss;
    uint64_t ring_dump_number;
};

/* The footer's summary figures, as the writer wrote them (not cross-checked
 * against the records, except the chunk index). Zero when absent. */
struct capture_footer {
    int present;
    int has_end_time;
    uint64_t end_time_ns;
    uint64_t event_count;
    uint64_t allocation_count;
    uint64_t allocated_bytes;
    uint64_t free_count;
    uint64_t tracker_memory_peak;
    int has_tracker_memory_peak; /* 0: unknown (no footer, or an old one) */
    uint64_t thread_count;
    uint64_t dropped_events;
    uint64_t chunk_count; /* entries of FOOTER_CHUNK_OFFSETS */
};

struct capture_frame {
    uint32_t function_sid;
    uint32_t file_sid;
    uint32_t line;
    uint32_t flags;
    uint32_t module_sid; /* 0 = unknown (no OP_FRAME_MODULE for it) */
};

/* A stack is its innermost frame plus the stack of its callers. */
struct capture_stack {
    uint32_t parent_stack_id; /* always smaller than the stack's own id */
    uint32_t frame_id;        /* never 0 */
};

/* A native stack: its innermost return address plus the native stack of its
 * callers (--native captures). */
struct capture_native_stack {
    uint32_t parent_native_stack_id; /* always smaller than the stack's own id */
    uint64_t ip;
};

#define CAPTURE_BUILD_ID_MAX 64

/* A loaded object of the recorded process (OP_MAPPING). */
struct capture_mapping {
    uint64_t start; /* [start, end): its code */
    uint64_t end;
    uint64_t load_bias;
    uint32_t path_sid;
    uint32_t build_id_size;
    uint8_t build_id[CAPTURE_BUILD_ID_MAX];
};

struct capture_thread {
    uint64_t thread_id;
    uint64_t native_tid; /* 0 until an OP_THREAD declares it */
    uint32_t name_sid;
};

enum capture_record_kind {
    CAPTURE_RECORD_ALLOCATION = 1, /* address, size, allocator, stack_id */
    CAPTURE_RECORD_FREE,           /* address (malloc family) */
    CAPTURE_RECORD_PYMALLOC_FREE,  /* address */
    CAPTURE_RECORD_MUNMAP,         /* address, size */
    CAPTURE_RECORD_TIME,           /* time_ns */
    CAPTURE_RECORD_RSS,            /* rss_bytes, minor_faults, major_faults */
    CAPTURE_RECORD_GC,             /* gc_* */
    CAPTURE_RECORD_SNAPSHOT,       /* nothing */
    CAPTURE_RECORD_SAMPLING,       /* sample_mode, sample_mean */
};

/* Sampling modes of OP_SAMPLING (the values of sampler.h's sampler_mode). */
enum capture_sampling_mode {
    CAPTURE_SAMPLING_EVERY_ALLOCATION = 0,
    CAPTURE_SAMPLING_BY_BYTES = 1,
    CAPTURE_SAMPLING_BY_ALLOCATIONS = 2,
};

/* The chance that an allocation of size bytes was recorded under a
 * sampling mode of the given mean: 1 - exp(-size/mean) by bytes, 1/mean by
 * allocations, 1 when every allocation is recorded. */
double capture_sampling_keep_probability(uint32_t mode, uint64_t mean, uint64_t size);

/* One event. kind and thread_id are always set; the other fields only for
 * the kinds listed beside enum capture_record_kind, else unspecified. */
struct capture_record {
    enum capture_record_kind kind;
    uint64_t thread_id; /* 0 when the chunk has not switched to a thread yet */
    uint64_t address;
    uint64_t size;
    uint32_t allocator; /* < ALLOCATOR_COUNT */
    uint32_t stack_id;  /* a defined stack id, or 0 */
    uint32_t native_stack_id; /* allocations: a defined native stack id, or 0 */
    uint64_t time_ns;   /* since capture start */
    uint64_t rss_bytes;
    uint64_t minor_faults;
    uint64_t major_faults;
    uint32_t gc_generation; /* < CAPTURE_GC_GENERATIONS */
    uint64_t gc_collected;
    uint64_t gc_uncollectable;
    uint64_t gc_duration_ns;
    uint32_t sample_mode; /* enum capture_sampling_mode */
    uint64_t sample_mean; /* T bytes or N allocations */
};

struct capture_reader;

/*
 * Opens the capture at path and checks its header, and its trailer and
 * footer when it has them. Returns a reader the caller closes with
 * capture_reader_close(), or NULL with error filled (os_errno set when the
 * file could not be opened or read).
 */
struct capture_reader *capture_reader_open(const char *path, struct capture_error *error);

/* The same over size bytes at data, which the caller keeps alive and
 * unchanged until the reader is closed. */
struct capture_reader *capture_reader_open_memory(const void *data, size_t size,
                                                  struct capture_error *error);

/* Frees the reader and everything it owns (tables, header strings). NULL is
 * allowed. */
void capture_reader_close(struct capture_reader *reader);

/*
 * Decodes the next event into *record. Returns 1 for an event, 0 at the end
 * of the readable records (also the end of a truncated file), -1 when the
 * file is damaged or the system failed (see capture_reader_error()). After
 * 0 or -1, every later call returns the same.
 */
int capture_reader_next(struct capture_reader *reader, struct capture_record *record);

/* The error that made capture_reader_next() return -1. */
const struct capture_error *capture_reader_error(const struct capture_reader *reader);

const struct capture_header *capture_reader_header(const struct capture_reader *reader);
/* The footer: known at open in a file with a trailer; in one without, only
 * once the records have been read (if its footer chunk was written). */
const struct capture_footer *capture_reader_footer(const struct capture_reader *reader);

/* The latest aggregate snapshot read so far (captures recorded with
 * --aggregate, see aggregate_chunk.h), or NULL. Owned by the reader. */
struct capture_aggregate;
const struct capture_aggregate *capture_reader_aggregate(const struct capture_reader *reader);

/* 1 when the file has no valid trailer (it was not closed), known at open. */
int capture_reader_truncated(const struct capture_reader *reader);
/* A sentence on the truncation (complete once the records have been read),
 * or NULL when the file is complete. Owned by the reader. */
const char *capture_reader_truncation_note(const struct capture_reader *reader);
/* Complete chunks of events decoded so far. */
uint64_t capture_reader_chunks_read(const struct capture_reader *reader);
/* Bytes of the file consumed so far (to the end of the chunk being
 * decoded), and the file's size: what a progress display shows. */
uint64_t capture_reader_bytes_read(const struct capture_reader *reader);
uint64_t capture_reader_file_size(const struct capture_reader *reader);

/* Tables. Counts are of ids defined so far; ids run from 1 to the count. */
uint32_t capture_reader_string_count(const struct capture_reader *reader);
/* Returns string id's bytes (NUL-terminated; may also hold NULs, hence
 * *size when size is not NULL); "" for id 0; NULL when id is not defined.
 * Owned by the reader. */
const char *capture_reader_string(const struct capture_reader *reader, uint32_t string_id,
                                  size_t *size);
uint32_t capture_reader_frame_count(const struct capture_reader *reader);
/* Returns the frame, or NULL for id 0 and ids not defined. */
const struct capture_frame *capture_reader_frame(const struct capture_reader *reader,
                                                 uint32_t frame_id);
uint32_t capture_reader_stack_count(const struct capture_reader *reader);
/* Returns the stack, or NULL for id 0 (the empty stack) and ids not defined. */
const struct capture_stack *capture_reader_stack(const struct capture_reader *reader,
                                                 uint32_t stack_id);
uint32_t capture_reader_native_stack_count(const struct capture_reader *reader);
/* Returns the native stack, or NULL for id 0 and ids not defined. */
const struct capture_native_stack *capture_reader_native_stack(const struct capture_reader *reader,
                                                               uint32_t native_stack_id);
/* Mappings in file order; NULL when index is too large. */
size_t capture_reader_mapping_count(const struct capture_reader *reader);
const struct capture_mapping *capture_reader_mapping(const struct capture_reader *reader,
                                                     size_t index);
/* Threads in the order they first appeared (declared or switched to). */
size_t capture_reader_thread_count(const struct capture_reader *reader);
/* Returns thread number index (0-based), or NULL when index is too large. */
const struct capture_thread *capture_reader_thread(const struct capture_reader *reader,
                                                   size_t index);

#endif
