/*
 * The memlyze capture file format, version 1: the one place that defines its
 * bytes. docs/format.md explains it with diagrams; keep both in step.
 *
 * File layout
 *
 *   +-----------------+--------+--------+--------+-----+--------------+---------+
 *   | file header     | chunk  | chunk  | chunk  | ... | footer chunk | trailer |
 *   +-----------------+--------+--------+--------+-----+--------------+---------+
 *
 * File header (little endian):
 *
 *    0       4       6       8              12             12+N     16+N
 *    +-------+-------+-------+--------------+--------------+--------+
 *    | "MLYZ"| ver   | flags | N (u32)      | N bytes TLV  | crc32  |
 *    +-------+-------+-------+--------------+--------------+--------+
 *    ver: u16 format version; flags: u16, zero; crc32 covers the N bytes.
 *
 * Chunk (events or footer):
 *
 *    0      1              5              9              13        13+C
 *    +------+--------------+--------------+--------------+---------+
 *    | kind | C (u32)      | U (u32)      | crc32 (u32)  | C bytes |
 *    +------+--------------+--------------+--------------+---------+
 *    kind: CHUNK_KIND_*; C: compressed size; U: size after decompression;
 *    crc32 covers the C compressed bytes: one zstd frame, or a part of
 *    one for the stream kinds (enum capture_chunk_kind).
 *
 * Trailer (last 16 bytes of a completely written file):
 *
 *    +--------------------------+--------------------------+
 *    | footer chunk offset (u64)| "MLYZEND\0"              |
 *    +--------------------------+--------------------------+
 *
 * A file without a trailer was not closed (the process was killed): readers
 * read its chunks in order up to the last complete one and say so.
 *
 * TLV block (header and footer payloads): repeated
 *     varint tag, varint length, length bytes of value.
 * Integers inside a value are varints; strings are raw bytes; doubles are
 * the 8 little-endian bytes of their IEEE 754 representation. Readers skip
 * tags they do not know, so new fields do not need a new version.
 *
 * Events chunk payload: records, one after another, each starting with an
 * opcode byte. All integers are unsigned LEB128 varints; "zigzag" marks a
 * signed delta stored zigzag-encoded. Ids are assigned implicitly by order
 * of definition, starting at 1 (id 0 is "none": the empty string, no frame,
 * the empty stack). Native stack ids are a
 * separate sequence from 1 (OP_NATIVE_STACK). Definitions persist across chunks, so chunks are read in
 * order. Each chunk starts with: no current thread, every thread's
 * address state empty (address_history.h), previous time unset.
 *
 *   OP_STRING        len, bytes                    defines string id
 *   OP_FRAME         function_sid, file_sid, line, flags
 *                                                  defines frame id
 *   OP_STACK         parent, frame_id              defines stack id; parent:
 *                                                  own id - parent_stack_id
 *                                                  (version 1: the parent id)
 *   OP_FRAME_MODULE  frame_id, module_sid          the module (globals'
 *                                                  __name__) of a defined
 *                                                  frame; the first one
 *                                                  given for a frame holds
 *   OP_THREAD        thread_id, native_tid, name_sid
 *                                                  declares or renames a thread
 *   OP_SWITCH_THREAD thread_id                     following events are its
 *   OP_TIME          ns since capture start        all earlier events happened
 *                                                  by this time
 *   OP_RSS           rss_bytes, minor_faults, major_faults
 *   OP_GC            generation, collected, uncollectable, duration_ns
 *   OP_ALLOC+k       zigzag(address - prev), size, stack_id, for allocator k
 *   OP_FREE          zigzag(address - prev)        malloc-family free
 *   OP_FREE_PYMALLOC zigzag(address - prev)        PyMem/PyObject free
 *   OP_MUNMAP        zigzag(address - prev), size  anonymous-mapping release
 *   OP_SNAPSHOT      (nothing)                     Tracker.snapshot() mark
 *   OP_NATIVE_STACK  parent_native_stack_id, ip    defines native stack id
 *   OP_MAPPING       start, end, load_bias, path_sid, build_id_size, bytes
 *                                                  a loaded object (--native)
 *   OP_ALLOC_NATIVE+k  as OP_ALLOC+k, then native_stack_id
 *   OP_SAMPLING      mode, mean                    sampling scheme from here on
 *   OP_FREE_RECENT d / OP_FREE_PYMALLOC_RECENT d   free of the block allocated
 *                    d allocations of the thread's state ago in this chunk
 *                    (1 <= d <= 4096; version 1: of the chunk, d <= 65536)
 *   OP_ALLOC_REUSED+k place, size, stack_id        allocation at the place-th
 *                    latest address the thread's state freed in this chunk
 *                    (place < 64)
 * (address_history.h: what writer and reader remember for these, per
 * thread; both reset it with every chunk, and every address-bearing record
 * updates the thread's previous address.)
 *
 * Every event that changes the previous address (allocs and frees) updates
 * it. realloc is written as a free of the old block (if any) followed by an
 * OP_ALLOC+ALLOCATOR_REALLOC of the new one; mremap likewise as OP_MUNMAP
 * then OP_ALLOC+ALLOCATOR_MREMAP.
 */
#ifndef MEMLYZE_CAPTURE_FORMAT_H
#define MEMLYZE_CAPTURE_FORMAT_H

#include <stdint.h>

#define CAPTURE_MAGIC "MLYZ"
#define CAPTURE_MAGIC_SIZE 4
#define CAPTURE_TRAILER_MAGIC "MLYZEND"
#define CAPTURE_TRAILER_MAGIC_SIZE 8 /* includes the terminating zero */
/* 2: events chunks may be parts of one zstd frame (CHUNK_KIND_STREAM_*),
 * each thread of a chunk has its own address state (address_history.h),
 * and OP_STACK names its parent by distance; files of version 1 read as
 * before. */
#define CAPTURE_FORMAT_VERSION 2
#define CAPTURE_STREAM_FORMAT_VERSION 2
#define CAPTURE_THREAD_STATES_FORMAT_VERSION 2
#define CAPTURE_STACK_DELTA_FORMAT_VERSION 2
#define CAPTURE_FILE_HEADER_FIXED_SIZE 12
#define CAPTURE_CHUNK_HEADER_SIZE 13
#define CAPTURE_TRAILER_SIZE 16
/* A reader refuses chunks larger than this: a writer never makes them. */
#define CAPTURE_MAX_CHUNK_SIZE (64u * 1024u * 1024u)
/* The zstd window of a CHUNK_KIND_STREAM_* frame is at most 2^this bytes
 * (8 MiB): a reader's memory for the history a part refers back to. */
#define CAPTURE_STREAM_WINDOW_LOG 23
/* An allocation above this is damage: x86-64 user space spans 2^47 bytes (4-level
 * paging, what Linux gives a program unless it asks mmap for addresses
 * above it), so no block or mapping reaches 2^48 bytes. (A munmap may name
 * any length: the recorder writes it before the kernel checks it.) */
#define CAPTURE_MAX_ALLOCATION_SIZE (UINT64_C(1) << 48)
/* The sum of every allocation's size must stay below this: reports hold
 * byte figures as signed 64-bit integers and doubles. */
#define CAPTURE_MAX_TOTAL_BYTES (UINT64_C(1) << 62)
/* The reader's tables of definitions (strings, frames, stacks, threads,
 * native stacks, mappings) may take at most this many bytes per byte of the
 * file, plus CAPTURE_MAX_CHUNK_SIZE. A writer's definitions are unique, so
 * they compress a few times at most; a file beyond this is a decompression
 * bomb (64 MiB of 0x01 bytes, 2 KiB compressed, are 22 million strings). */
#define CAPTURE_TABLE_BYTES_PER_FILE_BYTE 64
/* Sampling bounds, the same for the recorder (which refuses other values)
 * and the reader: a sample rate in [CAPTURE_MIN_SAMPLE_RATE, 1], so one
 * allocation in at most CAPTURE_MAX_SAMPLE_GAP is kept; a byte-sampling
 * mean interval in [1, CAPTURE_MAX_SAMPLE_INTERVAL]. Beyond them the
 * weights 1/p of the estimates stop being meaningful doubles. */
#define CAPTURE_MIN_SAMPLE_RATE 1e-9
#define CAPTURE_MAX_SAMPLE_GAP UINT64_C(1000000000)
#define CAPTURE_MAX_SAMPLE_INTERVAL (UINT64_C(1) << 40)

enum capture_chunk_kind {
    CHUNK_KIND_EVENTS = 1, /* C bytes: one whole zstd frame */
    CHUNK_KIND_FOOTER = 2,
    /* An aggregated snapshot (--aggregate mode), payload below. */
    CHUNK_KIND_AGGREGATE = 3,
    /* Events chunks whose C bytes are a part of one zstd frame: a
     * STREAM_START chunk begins a frame, each STREAM_NEXT chunk continues
     * the frame of the events chunk right before it. Each part ends at a
     * zstd flush, so it decodes completely once the earlier parts have; a
     * frame is never ended (the next STREAM_START abandons it). With the
     * shared history black's events took 30% less than as frames of their
     * own (docs/format.md). */
    CHUNK_KIND_STREAM_START = 4,
    CHUNK_KIND_STREAM_NEXT = 5,
};

static inline int capture_chunk_kind_is_stream_part(int kind)
{
    return kind == CHUNK_KIND_STREAM_START || kind == CHUNK_KIND_STREAM_NEXT;
}

static inline int capture_chunk_kind_is_events(int kind)
{
    return kind == CHUNK_KIND_EVENTS || capture_chunk_kind_is_stream_part(kind);
}

/*
 * Aggregate chunk payload (CHUNK_KIND_AGGREGATE): the state of the live
 * heap at one moment, per stack, all varints:
 *
 *   time_ns                       since capture start
 *   current_bytes, current_count  live now
 *   peak_bytes, peak_count        the largest heap so far
 *   peak_time_ns                  when it was reached (to a writer round)
 *   allocation_count, allocated_bytes, free_count
 *   stack_count, then stack_count times:
 *     stack_id, live_bytes, live_count, peak_bytes, peak_count,
 *     total_bytes, total_count
 *
 * (peak_* of a stack: what it held when the heap was at its peak.) A
 * capture recorded with --aggregate is header, one events chunk holding
 * only definitions and an OP_TIME, one aggregate chunk, footer, trailer;
 * its header has HEADER_FLAG_AGGREGATE.
 *
 * Optional sections may follow the stacks, each a varint
 * AGGREGATE_SECTION_* then its fields; a payload without them (every
 * capture recorded before sections existed) is read as before.
 *
 *   AGGREGATE_SECTION_ESTIMATES (sampled recordings: the header has
 *   HEADER_SAMPLE_INTERVAL or HEADER_SAMPLE_RATE < 1): estimates of the
 *   whole program, each "weighted" a group of four little-endian IEEE 754
 *   doubles: bytes, count, bytes_variance, observed_bytes. Each recorded
 *   block of s bytes with the chance p of being recorded (capture_estimates.h)
 *   counts 1/p blocks, s/p bytes and the variance s^2 (1 - p) / p^2:
 *     allocated, at_peak, live             (weighted, of the whole heap;
 *                                           at_peak: the largest estimated
 *                                           heap, not the recorded one)
 *     stack_count times, in the stacks' order:
 *       live, at_peak, total               (weighted, of that stack)
 *   The varint figures above stay those of the recorded blocks.
 */
enum capture_aggregate_section {
    AGGREGATE_SECTION_ESTIMATES = 1,
};

/* Allocators, in the order of SPEC section 2. The value is k in OP_ALLOC+k. */
#define CAPTURE_ALLOCATORS(X) \
    X(MALLOC, "malloc")               \
    X(CALLOC, "calloc")               \
    X(REALLOC, "realloc")             \
    X(REALLOCARRAY, "reallocarray")   \
    X(POSIX_MEMALIGN, "posix_memalign") \
    X(ALIGNED_ALLOC, "aligned_alloc") \
    X(MEMALIGN, "memalign")           \
    X(VALLOC, "valloc")               \
    X(PVALLOC, "pvalloc")             \
    X(MMAP, "mmap")                   \
    X(MREMAP, "mremap")               \
    X(PYMALLOC, "pymalloc")

enum capture_allocator {
#define CAPTURE_ALLOCATOR_ENUM(name, text) ALLOCATOR_##name,
    CAPTURE_ALLOCATORS(CAPTURE_ALLOCATOR_ENUM)
#undef CAPTURE_ALLOCATOR_ENUM
    ALLOCATOR_COUNT
};

/* Returns the allocator's name as SPEC section 2 spells it, or "unknown". */
const char *capture_allocator_name(int allocator);

enum capture_opcode {
    OP_STRING = 0x01,
    OP_FRAME = 0x02,
    OP_STACK = 0x03,
    OP_THREAD = 0x04,
    OP_SWITCH_THREAD = 0x05,
    OP_TIME = 0x06,
    OP_RSS = 0x07,
    OP_GC = 0x08,
    OP_SNAPSHOT = 0x09,
    OP_SAMPLING = 0x0A, /* mode (0 every allocation, 1 bytes, 2 allocations),
                           mean (T bytes or N allocations): the scheme from
                           here on (Tracker.set_sample_rate) */
    /* 0x0B: reserved for sampling records. */
    OP_NATIVE_STACK = 0x0C, /* parent_native_stack_id, ip: defines native stack id */
    OP_MAPPING = 0x0D,      /* start, end, load_bias, path_sid, build_id_size, bytes */
    OP_FRAME_MODULE = 0x0E, /* frame_id, module_sid: a defined frame's module */
    /* 0x0F: reserved for native stacks. */
    OP_ALLOC = 0x10, /* OP_ALLOC + allocator, allocator < ALLOCATOR_COUNT */
    OP_FREE = 0x30,
    OP_FREE_PYMALLOC = 0x31,
    OP_MUNMAP = 0x32,
    OP_FREE_RECENT = 0x33,          /* distance d: frees the malloc-family block
                                       allocated d allocations ago in this chunk */
    OP_FREE_PYMALLOC_RECENT = 0x34, /* distance d: the same for a pymalloc block */
    OP_ALLOC_REUSED = 0x60,         /* OP_ALLOC_REUSED + allocator: place, size,
                                       stack_id: an allocation at the place-th
                                       latest freed address of this chunk */
    OP_ALLOC_NATIVE = 0x40, /* OP_ALLOC_NATIVE + allocator: OP_ALLOC's fields, then
                               native_stack_id (0x4C-0x5F reserved) */
};

/* Header TLV tags. */
enum capture_header_tag {
    HEADER_PID = 1,             /* varint */
    HEADER_PYTHON_VERSION = 2,  /* string, e.g. "3.11.7" */
    HEADER_COMMAND = 3,         /* string: the command line, space separated */
    HEADER_START_TIME_NS = 4,   /* varint: Unix time in ns */
    HEADER_FLAGS = 5,           /* varint: HEADER_FLAG_* bits */
    HEADER_MAX_STACK_DEPTH = 6, /* varint */
    HEADER_SAMPLE_RATE = 7,     /* double */
    HEADER_SAMPLE_INTERVAL = 8, /* varint bytes, 0 = off */
    HEADER_RSS_INTERVAL_NS = 9, /* varint, 0 = off */
    HEADER_PAGE_SIZE = 10,      /* varint */
    HEADER_SAMPLE_SEED = 11,    /* varint: the seed of the sampling generators */
    HEADER_MAX_CHUNK_SIZE = 12, /* varint: no chunk's C or U exceeds it; in
                                   [1, CAPTURE_MAX_CHUNK_SIZE], absent means
                                   CAPTURE_MAX_CHUNK_SIZE */
    HEADER_PARENT_PID = 13,     /* varint: the recorded process this one was
                                   started by (fork, subprocess, exec:
                                   --follow-subprocesses); absent for the
                                   top process */
    /* A ring dump (HEADER_FLAG_RING) says what it holds: */
    HEADER_RING_WINDOW_START_NS = 14,  /* varint: ns since the recording
                                          started; the window's events all
                                          came after it */
    HEADER_RING_BASE_ALLOCATIONS = 15, /* varint: the first this many
                                          allocations are the heap live at
                                          the window's start, written at
                                          HEADER_RING_WINDOW_START_NS, not
                                          allocations made then */
    HEADER_RING_DUMP_REASON = 16,      /* varint: RING_DUMP_* */
    HEADER_RING_DUMP_SIGNAL = 17,      /* varint: the signal of RING_DUMP_SIGNAL */
    HEADER_RING_EVICTED_EVENTS = 18,   /* varint: events recorded before the
                                          window (left out) */
    HEADER_RING_DUMP_AT_RSS = 19,      /* varint: the --ring-dump-at threshold,
                                          bytes (0: none) */
    HEADER_RING_DUMP_NUMBER = 20,      /* varint: 1 for the recording's first
                                          dump, 2 for the next... */
};

/* Why a ring dump was written (HEADER_RING_DUMP_REASON). */
enum capture_ring_dump_reason {
    RING_DUMP_EXIT = 1,      /* tracking stopped (the program's end) */
    RING_DUMP_REQUEST = 2,   /* SIGUSR2: memlyze dump PID */
    RING_DUMP_SIGNAL = 3,    /* a terminating signal (HEADER_RING_DUMP_SIGNAL) */
    RING_DUMP_RSS = 4,       /* RSS crossed --ring-dump-at */
    RING_DUMP_NO_ATEXIT = 5, /* _exit or exec: an end without atexit */
};

enum capture_header_flag {
    HEADER_FLAG_PYTHON_ALLOCATORS = 1 << 0,
    HEADER_FLAG_NATIVE = 1 << 1,
    HEADER_FLAG_TRACK_GC = 1 << 2,
    /* Recorded by a free-threaded (no GIL) CPython. Its Python objects come
     * from mimalloc, never from malloc, so the Python allocator domains are
     * recorded (HEADER_FLAG_PYTHON_ALLOCATORS) even without the option. */
    HEADER_FLAG_FREE_THREADED = 1 << 3,
    HEADER_FLAG_AGGREGATE = 1 << 8, /* --aggregate: see CHUNK_KIND_AGGREGATE */
    /* --ring: a flight recorder's dump, an events capture of the last window
     * only (HEADER_RING_*): definitions, the heap live at the window's start
     * as HEADER_RING_BASE_ALLOCATIONS allocations, the window's events. */
    HEADER_FLAG_RING = 1 << 9,
};

/* Footer TLV tags. */
enum capture_footer_tag {
    FOOTER_END_TIME_NS = 1,          /* varint: ns since capture start */
    FOOTER_EVENT_COUNT = 2,          /* varint: records of every kind */
    FOOTER_ALLOCATION_COUNT = 3,     /* varint */
    FOOTER_ALLOCATED_BYTES = 4,      /* varint */
    FOOTER_FREE_COUNT = 5,           /* varint */
    FOOTER_CHUNK_OFFSETS = 6,        /* varint count, then varint deltas */
    FOOTER_TRACKER_MEMORY_PEAK = 7,  /* varint bytes */
    FOOTER_THREAD_COUNT = 8,         /* varint */
    FOOTER_DROPPED_EVENTS = 9,       /* varint: events lost (never expected) */
};

#endif
