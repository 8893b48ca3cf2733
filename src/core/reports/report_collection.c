/* The reports' view of the one analysis pass: see report_collection.h. */
#include "core/reports/report_collection.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

struct report_collection {
    struct capture_reader *reader;
    struct capture_analysis *analysis;
    struct report_summary summary;
};

static void summary_from_analysis(struct report_summary *summary,
                                  const struct analysis_summary *analysed)
{
    summary->peak_bytes = analysed->peak_bytes;
    summary->peak_count = analysed->peak_count;
    summary->peak_time_ns = analysed->peak_time_ns;
    summary->end_time_ns = analysed->end_time_ns;
    summary->total_bytes = analysed->allocated_bytes;
    summary->total_count = analysed->allocation_count;
    summary->snapshot_count = analysed->snapshot_count;
    summary->bucket_width_ns = analysed->bucket_width_ns;
    summary->bucket_count = analysed->bucket_count;
}

struct report_collection *report_collect(struct capture_reader *reader,
                                         const struct analysis_options *options,
                                         struct capture_error *error)
{
    struct report_collection *collection = calloc(1, sizeof *collection);
    if (!collection) {
        error->os_errno = ENOMEM;
        snprintf(error->message, sizeof error->message, "out of memory");
        return NULL;
    }
    struct analysis_options with_lifetimes = *options;
    with_lifetimes.lifetimes = 1;
    collection->reader = reader;
    collection->analysis = capture_analysis_run_with(reader, &with_lifetimes, error);
    if (!collection->analysis) {
        free(collection);
        return NULL;
    }
    summary_from_analysis(&collection->summary, capture_analysis_summary(collection->analysis));
    return collection;
}

void report_collection_free(struct report_collection *collection)
{
    if (collection) {
        capture_analysis_free(collection->analysis);
        free(collection);
    }
}

const struct report_summary *report_collection_summary(const struct report_collection *c)
{
    return &c->summary;
}

struct capture_reader *report_collection_reader(const struct report_collection *c)
{
    return c->reader;
}

const struct capture_analysis *report_collection_analysis(const struct report_collection *c)
{
    return c->analysis;
}

const struct analysis_context_view *report_collection_contexts(const struct report_collection *c,
                                                               size_t *count)
{
    return capture_analysis_contexts(c->analysis, count);
}

const struct analysis_interval *report_collection_intervals(const struct report_collection *c,
                                                            size_t *count)
{
    return capture_analysis_intervals(c->analysis, count);
}

const struct analysis_point *report_collection_heap_series(const struct report_collection *c,
                                                           size_t *count)
{
    return capture_analysis_heap_series(c->analysis, count);
}

const struct analysis_point *report_collection_rss_series(const struct report_collection *c,
                                                          size_t *count)
{
    return capture_analysis_rss_series(c->analysis, count);
}

const struct analysis_point *report_collection_gc_series(const struct report_collection *c,
                                                         size_t *count)
{
    return capture_analysis_gc_series(c->analysis, count);
}
