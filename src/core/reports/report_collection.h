/*
 * What every report reads: the one analysis pass over a capture
 * (capture_analysis.h) run with the selections reports offer, and its
 * figures per context -- (thread, stack, native stack) -- from which call
 * trees, tables, flame graphs and exports are built (report_tree.c,
 * export_pprof.c) without reading the capture again. No report keeps a heap
 * of its own: `memlyze stats` reads the same analysis.
 *
 * Selections (what "held" means) are the analysis's (enum analysis_selection):
 * PEAK, LEAKS, TEMPORARY, SNAPSHOT, RANGE and TOTAL; see capture_analysis.h.
 *
 * Times: a record's time, for the series and the temporal view, is that of
 * the last OP_TIME before it (a lower bound; the writer stamps times every
 * few milliseconds); the peak's time is that of the OP_TIME after it.
 */
#ifndef MEMLYZE_REPORT_COLLECTION_H
#define MEMLYZE_REPORT_COLLECTION_H

#include <stddef.h>
#include <stdint.h>

#include "core/analysis/capture_analysis.h"
#include "core/format/capture_reader.h"

struct report_summary {
    uint64_t peak_bytes;
    uint64_t peak_count;
    uint64_t peak_time_ns;
    uint64_t end_time_ns;      /* footer end time, else the last OP_TIME */
    uint64_t total_bytes;      /* allocated over the whole capture */
    uint64_t total_count;
    uint64_t snapshot_count;   /* OP_SNAPSHOT records seen */
    uint64_t bucket_width_ns;  /* temporal buckets; 0 without temporal */
    uint32_t bucket_count;
};

struct report_collection;

/*
 * Reads every remaining record of reader (borrowed: it must outlive the
 * collection, whose names come from its tables) into the analysis, with
 * lifetimes followed (the TEMPORARY and RANGE selections). Returns the
 * collection, freed with report_collection_free(), or NULL with error
 * filled (the reader's error for a damaged capture; ENOMEM).
 */
struct report_collection *report_collect(struct capture_reader *reader,
                                         const struct analysis_options *options,
                                         struct capture_error *error);
void report_collection_free(struct report_collection *collection);

const struct report_summary *report_collection_summary(const struct report_collection *c);
struct capture_reader *report_collection_reader(const struct report_collection *c);
const struct capture_analysis *report_collection_analysis(const struct report_collection *c);
/* The contexts, in order of first allocation; *count set. */
const struct analysis_context_view *report_collection_contexts(const struct report_collection *c,
                                                               size_t *count);
/* The temporal intervals (none without options.temporal). */
const struct analysis_interval *report_collection_intervals(const struct report_collection *c,
                                                            size_t *count);
/* Heap bytes at each OP_TIME (at most ANALYSIS_TIMELINE_MAX_POINTS, the
 * peak among them), RSS samples, GC times (value: generation). */
const struct analysis_point *report_collection_heap_series(const struct report_collection *c,
                                                           size_t *count);
const struct analysis_point *report_collection_rss_series(const struct report_collection *c,
                                                          size_t *count);
const struct analysis_point *report_collection_gc_series(const struct report_collection *c,
                                                         size_t *count);

#endif
