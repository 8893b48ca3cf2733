/* The pprof export: see export_pprof.h. The encoding is pprof_encoder.c's;
 * this file hands it the capture's definitions and the collection's
 * figures. */
#include "core/reports/export_pprof.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/format/pprof_encoder.h"

/* --- the capture's definitions as a pprof source --------------------------- */

static const char *reader_string(void *context, uint32_t id, size_t *size)
{
    return capture_reader_string(context, id, size);
}

static int reader_frame(void *context, uint32_t frame_id, uint32_t *function_sid,
                        uint32_t *file_sid, uint32_t *line)
{
    const struct capture_frame *frame = capture_reader_frame(context, frame_id);
    if (!frame) {
        return -1;
    }
    *function_sid = frame->function_sid;
    *file_sid = frame->file_sid;
    *line = frame->line;
    return 0;
}

static int reader_stack(void *context, uint32_t stack_id, uint32_t *parent_stack_id,
                        uint32_t *frame_id)
{
    const struct capture_stack *stack = capture_reader_stack(context, stack_id);
    if (!stack) {
        return -1;
    }
    *parent_stack_id = stack->parent_stack_id;
    *frame_id = stack->frame_id;
    return 0;
}

/* --- samples ----------------------------------------------------------------- */

/* One sample per context passing the filter: every allocation made, and
 * the filter's selection as "in use". */
static int put_samples(struct pprof_encoder *encoder, const struct report_collection *collection,
                       const struct report_filter *filter)
{
    struct capture_reader *reader = report_collection_reader(collection);
    size_t count;
    const struct analysis_context_view *contexts = report_collection_contexts(collection, &count);
    uint8_t *cache = calloc((size_t)capture_reader_frame_count(reader) + 1, 1);
    int result = cache ? 0 : -1;
    for (size_t i = 0; i < count && result == 0; i++) {
        const struct analysis_figures *total = &contexts[i].selected[ANALYSIS_SELECT_TOTAL];
        if (total->count == 0 || report_filter_accepts(filter, reader, &contexts[i], cache) != 1) {
            continue;
        }
        const struct analysis_figures *inuse = &contexts[i].selected[filter->selection];
        uint64_t values[PPROF_VALUE_COUNT] = {
            [PPROF_ALLOC_OBJECTS] = total->count,
            [PPROF_ALLOC_SPACE] = total->bytes,
            [PPROF_INUSE_OBJECTS] = inuse->count,
            [PPROF_INUSE_SPACE] = inuse->bytes,
        };
        result = pprof_encoder_add_sample(encoder, contexts[i].stack_id, values);
    }
    free(cache);
    return result;
}

/* Encodes the profile and writes it to path. Returns 0 or an errno value. */
static int encode_to_path(const struct report_collection *collection,
                          const struct report_filter *filter, const char *path)
{
    struct capture_reader *reader = report_collection_reader(collection);
    struct pprof_source source = {
        .context = reader,
        .string_count = capture_reader_string_count(reader) + 1,
        .frame_count = capture_reader_frame_count(reader),
        .string = reader_string,
        .frame = reader_frame,
        .stack = reader_stack,
    };
    struct pprof_header header = {
        .duration_nanos = report_collection_summary(collection)->end_time_ns,
    };
    struct pprof_encoder encoder;
    int failure = 0;
    if (pprof_encoder_begin(&encoder, &source, &header) < 0 ||
        put_samples(&encoder, collection, filter) < 0) {
        failure = ENOMEM;
    }
    int descriptor = -1;
    if (!failure) {
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        failure = descriptor < 0 ? errno : pprof_encoder_write(&encoder, descriptor);
    }
    if (descriptor >= 0 && close(descriptor) != 0 && !failure) {
        failure = errno;
    }
    pprof_encoder_release(&encoder);
    return failure;
}

int export_pprof(const struct report_collection *collection, const struct report_filter *filter,
                 const char *path, struct capture_error *error)
{
    int failure = encode_to_path(collection, filter, path);
    if (failure) {
        error->os_errno = failure;
        snprintf(error->message, sizeof error->message, "cannot write %s: %s", path,
                 strerror(failure));
        return -1;
    }
    return 0;
}
