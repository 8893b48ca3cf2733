/* The rolling pprof profiles: see rolling_pprof.h. */
#include "core/recording/rolling_pprof.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/base/temporary_file.h"
#include "core/base/tracker_memory.h"
#include "core/format/pprof_encoder.h"
#include "core/recording/intern_table.h"
#include "core/recording/live_table.h"
#include "core/recording/sampler.h"

/* What a stack had allocated in all by the previous profile, in the units
 * written (estimates rounded): this profile's alloc_* are the difference. */
struct allocated_before {
    uint64_t count;
    uint64_t bytes;
};

/* The series; its fields are the writer thread's while a recording runs. */
static struct {
    int active;
    char directory[PATH_MAX];
    char pid_text[24];
    char *command;
    size_t command_size;
    uint64_t interval_ns;
    uint64_t keep;
    uint32_t sample_mode;
    uint64_t sample_mean;
    uint64_t sequence;          /* of the last profile written */
    uint64_t interval_start_ns; /* CLOCK_MONOTONIC */
    uint64_t interval_start_wall_ns;
    struct allocated_before *before; /* indexed by stack id */
    size_t before_capacity;
    struct byte_buffer scratch; /* a string of the intern tables being read */
} series;

static uint64_t wall_clock_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static uint64_t monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static char *copy_text(const char *text, size_t *size)
{
    *size = strlen(text) + 1;
    char *copy = tracker_malloc(*size);
    if (copy) {
        memcpy(copy, text, *size);
    }
    return copy;
}

int rolling_pprof_start(const struct rolling_pprof_options *options, char *error,
                        size_t error_size)
{
    rolling_pprof_stop();
    size_t length = strlen(options->directory);
    struct stat status;
    int reason = 0;
    if (length >= sizeof series.directory - 40) {
        reason = ENAMETOOLONG;
    } else if (stat(options->directory, &status) < 0) {
        reason = errno;
    } else if (!S_ISDIR(status.st_mode)) {
        reason = ENOTDIR;
    } else if (access(options->directory, W_OK | X_OK) < 0) {
        reason = errno;
    }
    if (reason) {
        snprintf(error, error_size, "cannot write pprof profiles into %s: %s",
                 options->directory, strerror(reason));
        return -1;
    }
    series.command = copy_text(options->command ? options->command : "", &series.command_size);
    if (!series.command) {
        snprintf(error, error_size, "out of memory starting the recording");
        return -1;
    }
    snprintf(series.directory, sizeof series.directory, "%s", options->directory);
    snprintf(series.pid_text, sizeof series.pid_text, "%llu", (unsigned long long)options->pid);
    series.interval_ns = options->interval_ns;
    series.keep = options->keep;
    series.sample_mode = options->sample_mode;
    series.sample_mean = options->sample_mean;
    series.sequence = 0;
    series.interval_start_ns = monotonic_ns();
    series.interval_start_wall_ns = wall_clock_ns();
    series.active = 1;
    return 0;
}

void rolling_pprof_stop(void)
{
    tracker_free(series.command, series.command_size);
    series.command = NULL;
    tracker_free(series.before, series.before_capacity * sizeof *series.before);
    series.before = NULL;
    series.before_capacity = 0;
    byte_buffer_release(&series.scratch);
    series.active = 0;
}

/* --- the intern tables as a pprof source ------------------------------------ */

static const char *intern_source_string(void *context, uint32_t id, size_t *size)
{
    (void)context;
    struct byte_buffer *scratch = &series.scratch;
    if (!scratch->capacity && byte_buffer_reserve(scratch, 256) < 0) {
        return NULL;
    }
    size_t length = intern_string_copy(id, (char *)scratch->data, scratch->capacity);
    if (length >= scratch->capacity) {
        if (byte_buffer_reserve(scratch, length + 1) < 0) {
            return NULL;
        }
        length = intern_string_copy(id, (char *)scratch->data, scratch->capacity);
    }
    *size = length;
    return (const char *)scratch->data;
}

static int intern_source_frame(void *context, uint32_t frame_id, uint32_t *function_sid,
                               uint32_t *file_sid, uint32_t *line)
{
    (void)context;
    return intern_frame_lookup(frame_id, function_sid, file_sid, line) ? 0 : -1;
}

static int intern_source_stack(void *context, uint32_t stack_id, uint32_t *parent_stack_id,
                               uint32_t *frame_id)
{
    (void)context;
    return intern_stack_lookup(stack_id, parent_stack_id, frame_id) ? 0 : -1;
}

/* --- one profile --------------------------------------------------------------- */

static uint64_t rounded(double value)
{
    return value > 0 ? (uint64_t)llround(value) : 0;
}

/* Makes room for stack ids up to stack_id in series.before. */
static int before_reserve(uint32_t stack_id)
{
    if (stack_id < series.before_capacity) {
        return 0;
    }
    size_t capacity = series.before_capacity ? series.before_capacity : 1024;
    while (capacity <= stack_id) {
        capacity *= 2;
    }
    struct allocated_before *grown =
        tracker_realloc(series.before, series.before_capacity * sizeof *grown,
                        capacity * sizeof *grown);
    if (!grown) {
        return -1;
    }
    memset(grown + series.before_capacity, 0,
           (capacity - series.before_capacity) * sizeof *grown);
    series.before = grown;
    series.before_capacity = capacity;
    return 0;
}

/* The stack's four values for this interval; advances its allocated_before. */
static void interval_values(const struct live_table_stack *stack, int sampled,
                            uint64_t values[PPROF_VALUE_COUNT])
{
    struct allocated_before now = {stack->total_count, stack->total_bytes};
    values[PPROF_INUSE_OBJECTS] = stack->live_count;
    values[PPROF_INUSE_SPACE] = stack->live_bytes;
    if (sampled) {
        now = (struct allocated_before){rounded(stack->weighted_total.count),
                                        rounded(stack->weighted_total.bytes)};
        values[PPROF_INUSE_OBJECTS] = rounded(stack->weighted_live.count);
        values[PPROF_INUSE_SPACE] = rounded(stack->weighted_live.bytes);
    }
    struct allocated_before *before = &series.before[stack->stack_id];
    /* Totals only fall when the table was cleared (tracemalloc.clear_traces). */
    values[PPROF_ALLOC_OBJECTS] = now.count >= before->count ? now.count - before->count : now.count;
    values[PPROF_ALLOC_SPACE] = now.bytes >= before->bytes ? now.bytes - before->bytes : now.bytes;
    *before = now;
}

static int add_samples(struct pprof_encoder *encoder, const struct live_table_stack *stacks,
                       size_t count, int sampled)
{
    for (size_t index = 0; index < count; index++) {
        if (before_reserve(stacks[index].stack_id) < 0) {
            return -1;
        }
        uint64_t values[PPROF_VALUE_COUNT];
        interval_values(&stacks[index], sampled, values);
        if ((values[PPROF_ALLOC_OBJECTS] || values[PPROF_INUSE_OBJECTS] ||
             values[PPROF_ALLOC_SPACE] || values[PPROF_INUSE_SPACE]) &&
            pprof_encoder_add_sample(encoder, stacks[index].stack_id, values) < 0) {
            return -1;
        }
    }
    return 0;
}

/* The profile's header: the sampling scheme, the interval, the labels. */
static void describe(struct pprof_header *header, uint64_t now_wall_ns,
                     const struct pprof_label labels[2], const char *const *comment)
{
    *header = (struct pprof_header){
        .time_nanos = series.interval_start_wall_ns,
        .duration_nanos = now_wall_ns > series.interval_start_wall_ns
                              ? now_wall_ns - series.interval_start_wall_ns
                              : 0,
        .labels = labels,
        .label_count = 2,
        .comments = comment,
        .comment_count = 1,
    };
    if (series.sample_mode == SAMPLER_BY_BYTES) {
        header->period = series.sample_mean;
    } else if (series.sample_mode == SAMPLER_BY_ALLOCATIONS) {
        header->period_type = "objects";
        header->period_unit = "count";
        header->period = series.sample_mean;
    }
}

/* Encodes the next profile from the live table and writes it to descriptor.
 * Returns 0 or an errno value. */
static int encode_profile(int descriptor, uint64_t now_wall_ns)
{
    struct live_table_stack *stacks = NULL;
    size_t count = 0;
    if (live_table_copy_stacks(&stacks, &count) < 0) {
        return ENOMEM;
    }
    struct live_table_totals totals;
    live_table_get_totals(&totals);
    /* Counted after the copy: every frame and string its stacks name is in. */
    struct pprof_source source = {
        .frame_count = intern_frame_count(),
        .string = intern_source_string,
        .frame = intern_source_frame,
        .stack = intern_source_stack,
    };
    source.string_count = intern_string_count() + 1;
    const struct pprof_label labels[2] = {{"pid", series.pid_text}, {"command", series.command}};
    const char *const comment[1] = {
        "memlyze rolling heap profile: alloc_* = allocations made during the interval, "
        "inuse_* = live at its end"};
    struct pprof_header header;
    describe(&header, now_wall_ns, labels, comment);
    struct pprof_encoder encoder;
    int failure = pprof_encoder_begin(&encoder, &source, &header) < 0 ||
                          add_samples(&encoder, stacks, count, totals.sampled) < 0
                      ? ENOMEM
                      : pprof_encoder_write(&encoder, descriptor);
    pprof_encoder_release(&encoder);
    live_table_free_stacks(stacks, count);
    return failure;
}

static int profile_path(char *out, size_t size, uint64_t sequence)
{
    int length = snprintf(out, size, "%s/memlyze-%s-%06llu.pb.gz", series.directory,
                          series.pid_text, (unsigned long long)sequence);
    return length > 0 && (size_t)length < size ? 0 : -1;
}

/* Writes profile number sequence under a temporary name and renames it into
 * place. Returns 0 or an errno value. */
static int write_profile(uint64_t sequence, uint64_t now_wall_ns)
{
    char path[PATH_MAX];
    char temporary[PATH_MAX];
    if (profile_path(path, sizeof path, sequence) < 0) {
        return ENAMETOOLONG;
    }
    int descriptor = temporary_file_create(path, temporary, sizeof temporary);
    if (descriptor < 0) {
        return errno;
    }
    int failure = encode_profile(descriptor, now_wall_ns);
    if (close(descriptor) != 0 && !failure) {
        failure = errno;
    }
    if (!failure && rename(temporary, path) != 0) {
        failure = errno;
    }
    if (failure) {
        unlink(temporary);
    }
    return failure;
}

/* Tells the user, once, that the series ended. */
static void announce_failure(int failure)
{
    char message[PATH_MAX + 160];
    int length = snprintf(message, sizeof message,
                          "memlyze: cannot write a pprof profile into %s: %s; no more pprof "
                          "profiles are written (the capture goes on)\n",
                          series.directory, strerror(failure));
    if (length > 0) {
        size_t size = (size_t)length < sizeof message ? (size_t)length : sizeof message - 1;
        ssize_t ignored = write(STDERR_FILENO, message, size);
        (void)ignored; /* nothing better to do when stderr is gone too */
    }
}

void rolling_pprof_write_if_due(uint64_t now_ns, int final)
{
    if (!series.active) {
        return;
    }
    if (!final && now_ns - series.interval_start_ns < series.interval_ns) {
        return;
    }
    uint64_t now_wall_ns = wall_clock_ns();
    int failure = write_profile(series.sequence + 1, now_wall_ns);
    if (failure) {
        announce_failure(failure);
        series.active = 0;
        return;
    }
    series.sequence++;
    series.interval_start_ns = now_ns;
    series.interval_start_wall_ns = now_wall_ns;
    char oldest[PATH_MAX];
    if (series.keep && series.sequence > series.keep &&
        profile_path(oldest, sizeof oldest, series.sequence - series.keep) == 0) {
        unlink(oldest);
    }
}
