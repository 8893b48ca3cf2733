/* The event encoder against the capture reader: interleaved threads (more
 * than have address states of their own), reused and recently allocated
 * addresses, frees by other threads and munmaps all read back exactly, and
 * each thread's records stay as small interleaved as they are alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/format/capture_format.h"
#include "core/format/capture_reader.h"
#include "core/format/capture_writer.h"
#include "core/recording/event_encoder.h"
#include "tests/c/temporary_capture.h"
#include "tests/c/test_harness.h"

#define MAX_EVENTS 200000
#define LIVE_PER_THREAD 32

struct expected_event {
    uint32_t thread;
    uint8_t kind;
    uint64_t address;
    uint64_t size;
};

struct workload {
    struct expected_event events[MAX_EVENTS];
    size_t count;
    uint64_t live[ADDRESS_STATES + 16][LIVE_PER_THREAD];
    uint64_t freed[ADDRESS_STATES + 16];
    uint64_t next_offset[ADDRESS_STATES + 16];
    uint64_t random;
};

static uint64_t next_random(struct workload *work)
{
    work->random ^= work->random << 13;
    work->random ^= work->random >> 7;
    work->random ^= work->random << 17;
    return work->random;
}

static void add(struct workload *work, uint32_t thread, uint8_t kind, uint64_t address,
                uint64_t size)
{
    work->events[work->count++] = (struct expected_event){thread, kind, address, size};
}

/* One step of thread (1-based): an allocation in its own arena, often at
 * the address it freed last, or a free of one of its blocks (sometimes one
 * another thread made), or now and then a munmap. */
static void step(struct workload *work, uint32_t thread, uint32_t threads)
{
    uint64_t choice = next_random(work) % 16;
    uint64_t *slot = &work->live[thread][next_random(work) % LIVE_PER_THREAD];
    if (choice == 0) {
        add(work, thread, EVENT_MUNMAP, 0x7e0000000000ULL + (next_random(work) % 64) * 4096, 4096);
    } else if (*slot && choice < 8) {
        uint32_t owner = choice == 1 ? 1 + (uint32_t)(next_random(work) % threads) : thread;
        uint64_t *victim = &work->live[owner][next_random(work) % LIVE_PER_THREAD];
        uint64_t *freed = owner == thread || !*victim ? slot : victim;
        add(work, thread, EVENT_FREE, *freed, 0);
        work->freed[thread] = *freed;
        *freed = 0;
    } else if (!*slot) {
        uint64_t address = work->freed[thread];
        if (!address || choice > 12) {
            address = 0x7f0000000000ULL + ((uint64_t)thread << 28) + work->next_offset[thread];
            work->next_offset[thread] += 16 * (1 + next_random(work) % 64);
        }
        work->freed[thread] = 0;
        *slot = address;
        add(work, thread, EVENT_ALLOCATION, address, 1 + next_random(work) % 2000);
    }
}

static void build_workload(struct workload *work, uint32_t threads, size_t steps,
                           int interleaved)
{
    memset(work, 0, sizeof *work);
    work->random = 0x9E3779B97F4A7C15ULL;
    for (size_t index = 0; index < steps; index++) {
        uint32_t thread = interleaved ? 1 + (uint32_t)(next_random(work) % threads)
                                      : 1 + (uint32_t)(index * threads / steps);
        step(work, thread, threads);
    }
}

/* Encodes the events into chunks of chunk_events each; returns the bytes
 * the records took, and writes the chunks into writer when it is given. */
static size_t encode(const struct workload *work, size_t chunk_events,
                     struct capture_writer *writer)
{
    static struct event_encoder encoder;
    memset(&encoder, 0, sizeof encoder);
    event_encoder_begin_chunk(&encoder);
    struct byte_buffer chunk = {0};
    size_t total = 0;
    for (size_t index = 0; index < work->count; index++) {
        const struct expected_event *expected = &work->events[index];
        struct recorded_event event = {.address = expected->address, .size = expected->size,
                                       .kind = expected->kind, .allocator = ALLOCATOR_MALLOC};
        CHECK(event_encoder_put(&encoder, &chunk, &event, expected->thread, 0) == 0);
        if ((index + 1) % chunk_events == 0 || index + 1 == work->count) {
            total += chunk.size;
            if (writer) {
                CHECK(capture_writer_write_events(writer, chunk.data, chunk.size) == 0);
            }
            byte_buffer_clear(&chunk);
            event_encoder_begin_chunk(&encoder);
        }
    }
    byte_buffer_release(&chunk);
    return total;
}

static void check_record(const struct expected_event *expected,
                         const struct capture_record *record, size_t index)
{
    int kind_matches = expected->kind == EVENT_ALLOCATION ? record->kind == CAPTURE_RECORD_ALLOCATION
                       : expected->kind == EVENT_FREE     ? record->kind == CAPTURE_RECORD_FREE
                                                          : record->kind == CAPTURE_RECORD_MUNMAP;
    if (!kind_matches || record->thread_id != expected->thread ||
        record->address != expected->address ||
        (expected->kind != EVENT_FREE && record->size != expected->size)) {
        fprintf(stderr, "event %zu: kind %d thread %llu address 0x%llx size %llu, expected "
                "kind %d thread %u address 0x%llx size %llu\n", index, (int)record->kind,
                (unsigned long long)record->thread_id, (unsigned long long)record->address,
                (unsigned long long)record->size, expected->kind, expected->thread,
                (unsigned long long)expected->address, (unsigned long long)expected->size);
        CHECK(!"record read back");
    }
}

static void check_reads_back(const struct workload *work, size_t chunk_events)
{
    char path[TEMPORARY_CAPTURE_PATH_SIZE];
    struct capture_writer writer;
    temporary_capture_begin(&writer, path);
    encode(work, chunk_events, &writer);
    struct capture_reader *reader = temporary_capture_finish(&writer, path);
    struct capture_record record;
    size_t seen = 0;
    int status = 0;
    while (reader && (status = capture_reader_next(reader, &record)) == 1) {
        if (record.kind == CAPTURE_RECORD_ALLOCATION || record.kind == CAPTURE_RECORD_FREE ||
            record.kind == CAPTURE_RECORD_MUNMAP) {
            CHECK(seen < work->count);
            if (seen < work->count) {
                check_record(&work->events[seen], &record, seen);
            }
            seen++;
        }
    }
    if (reader && status < 0) {
        fprintf(stderr, "%s\n", capture_reader_error(reader)->message);
    }
    CHECK(reader && status == 0);
    CHECK_EQ_U64(seen, work->count);
    capture_reader_close(reader);
    unlink(path);
}

static struct workload work;

static void test_interleaved_threads_read_back(void)
{
    build_workload(&work, 8, 60000, 1);
    check_reads_back(&work, 20000);
    check_reads_back(&work, 777);
}

/* More threads than address states: the last state is shared. */
static void test_more_threads_than_states_read_back(void)
{
    build_workload(&work, ADDRESS_STATES + 10, 150000, 1);
    check_reads_back(&work, 50000);
}

static struct workload shuffled;

/* The same events, each thread's in its order, threads taken at random. */
static void interleave(const struct workload *grouped, struct workload *out, uint32_t threads)
{
    size_t next[ADDRESS_STATES + 16] = {0};
    size_t end[ADDRESS_STATES + 16] = {0};
    for (size_t index = 0; index < grouped->count; index++) {
        end[grouped->events[index].thread] = index + 1;
    }
    for (uint32_t thread = 2; thread <= threads; thread++) {
        next[thread] = end[thread - 1];
    }
    next[1] = 0;
    out->count = 0;
    out->random = 12345;
    while (out->count < grouped->count) {
        uint32_t thread = 1 + (uint32_t)(next_random(out) % threads);
        if (next[thread] < end[thread]) {
            out->events[out->count++] = grouped->events[next[thread]++];
        }
    }
}

/* Interleaving costs a thread switch per run of events, not the locality
 * of each thread's addresses (allocations in far apart arenas). */
static void test_interleaving_keeps_locality(void)
{
    build_workload(&work, 8, 60000, 0);
    size_t grouped = encode(&work, 60000, NULL);
    interleave(&work, &shuffled, 8);
    size_t interleaved = encode(&shuffled, 60000, NULL);
    size_t switches = 0;
    for (size_t index = 1; index < shuffled.count; index++) {
        switches += shuffled.events[index].thread != shuffled.events[index - 1].thread;
    }
    fprintf(stderr, "grouped %zu bytes, interleaved %zu bytes with %zu switches\n", grouped,
            interleaved, switches);
    CHECK(interleaved <= grouped + 2 * switches + grouped / 20);
}

/* The records of work's events as one chunk, from encoder as it is. */
static void encode_into(struct event_encoder *encoder, const struct workload *events,
                        struct byte_buffer *out)
{
    byte_buffer_clear(out);
    for (size_t index = 0; index < events->count; index++) {
        const struct expected_event *expected = &events->events[index];
        struct recorded_event event = {.address = expected->address, .size = expected->size,
                                       .kind = expected->kind, .allocator = ALLOCATOR_MALLOC};
        CHECK(event_encoder_put(encoder, out, &event, expected->thread, 0) == 0);
    }
}

/* A reset leaves the lookup tables as the last capture left them; the next
 * capture must still be written byte for byte as by a fresh encoder, also
 * where it frees blocks it never saw allocated that the last one did (what
 * a recording started late sees). */
static void test_a_reset_encoder_writes_what_a_fresh_one_writes(void)
{
    static struct event_encoder encoder;
    struct byte_buffer fresh = {0};
    struct byte_buffer reused = {0};
    build_workload(&shuffled, 8, 60000, 1);
    build_workload(&work, 8, 60000, 1);
    /* work: shuffled's events at other addresses, then frees of the blocks
     * shuffled left live (all of its allocations: frees of freed ones are
     * as good a test). */
    work.count = 0;
    for (size_t index = 0; index < shuffled.count; index++) {
        const struct expected_event *event = &shuffled.events[index];
        add(&work, event->thread, event->kind, event->address + 8, event->size);
    }
    for (size_t index = shuffled.count; index-- > 0 && work.count < MAX_EVENTS;) {
        const struct expected_event *event = &shuffled.events[index];
        if (event->kind == EVENT_ALLOCATION) {
            add(&work, event->thread, EVENT_FREE, event->address, 0);
        }
    }
    memset(&encoder, 0, sizeof encoder);
    event_encoder_begin_chunk(&encoder);
    encode_into(&encoder, &work, &fresh);
    memset(&encoder, 0, sizeof encoder);
    event_encoder_begin_chunk(&encoder);
    encode_into(&encoder, &shuffled, &reused);
    event_encoder_reset(&encoder);
    encode_into(&encoder, &work, &reused);
    CHECK_EQ_U64(reused.size, fresh.size);
    CHECK(reused.size == fresh.size && memcmp(reused.data, fresh.data, fresh.size) == 0);
    byte_buffer_release(&fresh);
    byte_buffer_release(&reused);
}

int main(void)
{
    RUN_TEST(test_interleaved_threads_read_back);
    RUN_TEST(test_more_threads_than_states_read_back);
    RUN_TEST(test_interleaving_keeps_locality);
    RUN_TEST(test_a_reset_encoder_writes_what_a_fresh_one_writes);
    return test_harness_exit_code();
}
