/*
 * The analysis of a capture as Python dicts: the analyze_capture() dict
 * (SPEC section 2 plus extras) and the CaptureFile.header and threads()
 * values, which share its header keys and thread entries. The top location
 * lists inside it come from reader_locations_binding.c.
 */
#include "binding/types/reader_binding_internal.h"

#include <stdio.h>
#include <string.h>

#include "binding/types/python_values.h"
#include "binding/types/ring_header.h"
#include "core/format/capture_format.h"

PyObject *capture_threads_list(const struct capture_reader *reader)
{
    size_t count = capture_reader_thread_count(reader);
    PyObject *list = PyList_New((Py_ssize_t)count);
    for (size_t index = 0; list && index < count; index++) {
        const struct capture_thread *thread = capture_reader_thread(reader, index);
        PyObject *entry = PyDict_New();
        if (!entry || dict_put(entry, "thread_id", unsigned_object(thread->thread_id)) < 0 ||
            dict_put(entry, "native_tid", unsigned_object(thread->native_tid)) < 0 ||
            dict_put(entry, "name", capture_string_object(reader, thread->name_sid)) < 0) {
            Py_XDECREF(entry);
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)index, entry);
    }
    return list;
}

/* {"count", "bytes"} of an allocator. */
static PyObject *counter_dict(const struct analysis_counter *counter)
{
    PyObject *entry = PyDict_New();
    if (!entry || dict_put(entry, "count", unsigned_object(counter->count)) < 0 ||
        dict_put(entry, "bytes", unsigned_object(counter->bytes)) < 0) {
        Py_CLEAR(entry);
    }
    return entry;
}

/* {name: {"count", "bytes"}} for every allocator seen. */
static PyObject *allocators_dict(const struct analysis_summary *summary)
{
    PyObject *dict = PyDict_New();
    for (int allocator = 0; dict && allocator < ALLOCATOR_COUNT; allocator++) {
        const struct analysis_counter *counter = &summary->allocators[allocator];
        if (counter->count &&
            dict_put(dict, capture_allocator_name(allocator), counter_dict(counter)) < 0) {
            Py_CLEAR(dict);
        }
    }
    return dict;
}

/* The buckets from the first to the last non-empty one, as
 * [{"min", "max", "count"}]; empty when nothing was allocated. */
static PyObject *histogram_list(const struct analysis_summary *summary)
{
    int first = -1;
    int last = -1;
    for (int bucket = 0; bucket < ANALYSIS_HISTOGRAM_BUCKETS; bucket++) {
        if (summary->histogram[bucket]) {
            first = first < 0 ? bucket : first;
            last = bucket;
        }
    }
    PyObject *list = PyList_New(0);
    for (int bucket = first; list && first >= 0 && bucket <= last; bucket++) {
        uint64_t min, max;
        analysis_histogram_bounds((unsigned)bucket, &min, &max);
        PyObject *entry = PyDict_New();
        if (!entry || dict_put(entry, "min", unsigned_object(min)) < 0 ||
            dict_put(entry, "max", unsigned_object(max)) < 0 ||
            dict_put(entry, "count", unsigned_object(summary->histogram[bucket])) < 0 ||
            PyList_Append(list, entry) < 0) {
            Py_CLEAR(list);
        }
        Py_XDECREF(entry);
    }
    return list;
}

static PyObject *gc_generation_dict(const struct analysis_gc_generation *generation)
{
    PyObject *entry = PyDict_New();
    if (!entry || dict_put(entry, "collections", unsigned_object(generation->collections)) < 0 ||
        dict_put(entry, "collected", unsigned_object(generation->collected)) < 0 ||
        dict_put(entry, "pause_s", seconds_object(generation->pause_ns)) < 0) {
        Py_CLEAR(entry);
    }
    return entry;
}

/* {"0": {...}, "1": {...}, "2": {...}}. */
static PyObject *gc_generations_dict(const struct analysis_summary *summary)
{
    PyObject *dict = PyDict_New();
    for (int generation = 0; dict && generation < CAPTURE_GC_GENERATIONS; generation++) {
        char key[4];
        snprintf(key, sizeof key, "%d", generation);
        if (dict_put(dict, key, gc_generation_dict(&summary->gc_generations[generation])) < 0) {
            Py_CLEAR(dict);
        }
    }
    return dict;
}

/* {"collections", "total_pause_s", "by_generation"}. */
static PyObject *gc_dict(const struct analysis_summary *summary)
{
    PyObject *dict = PyDict_New();
    if (!dict || dict_put(dict, "collections", unsigned_object(summary->gc_collections)) < 0 ||
        dict_put(dict, "total_pause_s", seconds_object(summary->gc_pause_ns)) < 0 ||
        dict_put(dict, "by_generation", gc_generations_dict(summary)) < 0) {
        Py_CLEAR(dict);
    }
    return dict;
}

/* The header keys shared by analyze_capture() and CaptureFile.header. */
static int put_header_common(PyObject *dict, const struct capture_reader *reader)
{
    const struct capture_header *header = capture_reader_header(reader);
    if (dict_put(dict, "format_version", unsigned_object(header->format_version)) < 0 ||
        dict_put(dict, "command", text_object(header->command, header->command_size)) < 0 ||
        dict_put(dict, "pid", unsigned_object(header->pid)) < 0 ||
        dict_put(dict, "parent_pid", header->parent_pid ? unsigned_object(header->parent_pid)
                                                        : Py_NewRef(Py_None)) < 0 ||
        dict_put(dict, "python_version",
                 text_object(header->python_version, header->python_version_size)) < 0 ||
        dict_put(dict, "start_time_ns", unsigned_object(header->start_time_ns)) < 0 ||
        dict_put(dict, "sample_rate", PyFloat_FromDouble(header->sample_rate)) < 0 ||
        dict_put(dict, "ring", ring_header_object(header)) < 0 ||
        dict_put(dict, "python_allocators",
                 PyBool_FromLong((header->flags & HEADER_FLAG_PYTHON_ALLOCATORS) != 0)) < 0 ||
        dict_put(dict, "free_threaded",
                 PyBool_FromLong((header->flags & HEADER_FLAG_FREE_THREADED) != 0)) < 0) {
        return -1;
    }
    return 0;
}

/* The sampling keys of analyze_capture(): sampled, and sample_interval or
 * None when off. */
static int put_sampling(PyObject *dict, const struct capture_reader *reader)
{
    const struct capture_header *header = capture_reader_header(reader);
    int sampled = header->sample_rate < 1.0 || header->sample_interval > 0;
    PyObject *interval =
        header->sample_interval ? unsigned_object(header->sample_interval) : none_object();
    if (dict_put(dict, "sampled", PyBool_FromLong(sampled)) < 0) {
        Py_XDECREF(interval);
        return -1;
    }
    return dict_put(dict, "sample_interval", interval);
}

/* Totals, peak and leak keys; sample_interval is the header's. */
static int put_totals(PyObject *dict, const struct analysis_summary *summary,
                      uint64_t sample_interval)
{
    if (dict_put(dict, "duration_s", seconds_object(summary->end_time_ns)) < 0 ||
        dict_put(dict, "total_allocations", unsigned_object(summary->allocation_count)) < 0 ||
        dict_put(dict, "total_bytes", unsigned_object(summary->allocated_bytes)) < 0 ||
        dict_put(dict, "peak_bytes", unsigned_object(summary->peak_bytes)) < 0 ||
        dict_put(dict, "peak_time_s", seconds_object(summary->peak_time_ns)) < 0 ||
        dict_put(dict, "leaked_bytes", unsigned_object(summary->leaked_bytes)) < 0 ||
        dict_put(dict, "leaked_allocations", unsigned_object(summary->leaked_count)) < 0 ||
        dict_put(dict, "unmatched_frees", unsigned_object(summary->unmatched_frees)) < 0 ||
        dict_put(dict, "aggregated", PyBool_FromLong(summary->aggregated)) < 0 ||
        dict_put(dict, "total_bytes_ci95",
                 whole_interval_object(summary->sampled, &summary->estimated_allocated,
                                       sample_interval)) < 0 ||
        dict_put(dict, "peak_bytes_ci95",
                 whole_interval_object(summary->sampled, &summary->estimated_at_peak,
                                       sample_interval)) < 0 ||
        dict_put(dict, "leaked_bytes_ci95",
                 whole_interval_object(summary->sampled, &summary->estimated_leaked,
                                       sample_interval)) < 0) {
        return -1;
    }
    return 0;
}

/* Returns a new int of value, or None when present is 0. */
static PyObject *optional_object(int present, uint64_t value)
{
    return present ? unsigned_object(value) : none_object();
}

/* RSS, GC and the tracker's own memory. */
static int put_rss_and_gc(PyObject *dict, const struct capture_reader *reader,
                          const struct analysis_summary *summary)
{
    int has_rss = summary->rss_sample_count > 0;
    /* An --aggregate capture keeps no GC events whatever the option said:
     * its collections are unknown (None), not 0. */
    uint64_t flags = capture_reader_header(reader)->flags;
    int track_gc = (flags & HEADER_FLAG_TRACK_GC) && !(flags & HEADER_FLAG_AGGREGATE);
    /* Unknown (None) without a footer: a killed recorder never wrote it. */
    const struct capture_footer *footer = capture_reader_footer(reader);
    if (dict_put(dict, "rss_peak_bytes", optional_object(has_rss, summary->rss_peak_bytes)) < 0 ||
        dict_put(dict, "untracked_rss_bytes",
                 optional_object(summary->has_untracked_rss, summary->untracked_rss_bytes)) < 0 ||
        dict_put(dict, "rss_samples", unsigned_object(summary->rss_sample_count)) < 0 ||
        dict_put(dict, "gc_collections", optional_object(track_gc, summary->gc_collections)) < 0 ||
        dict_put(dict, "gc", track_gc ? gc_dict(summary) : none_object()) < 0 ||
        dict_put(dict, "tracker_memory_bytes",
                 optional_object(footer->has_tracker_memory_peak,
                                 footer->tracker_memory_peak)) < 0) {
        return -1;
    }
    return 0;
}

/* Allocators, histogram, top lists, threads and truncation. */
static int put_lists(PyObject *dict, const struct capture_reader *reader,
                     const struct capture_analysis *analysis, Py_ssize_t top)
{
    const struct analysis_summary *summary = capture_analysis_summary(analysis);
    const char *note = capture_reader_truncation_note(reader);
    if (dict_put(dict, "allocators", allocators_dict(summary)) < 0 ||
        dict_put(dict, "size_histogram", histogram_list(summary)) < 0 ||
        dict_put(dict, "top_by_peak", top_locations_list(analysis, ANALYSIS_BY_PEAK, top)) < 0 ||
        dict_put(dict, "top_by_total", top_locations_list(analysis, ANALYSIS_BY_TOTAL, top)) < 0 ||
        dict_put(dict, "top_by_count", top_locations_list(analysis, ANALYSIS_BY_COUNT, top)) < 0 ||
        dict_put(dict, "top_leaks", top_locations_list(analysis, ANALYSIS_LEAKS, top)) < 0 ||
        dict_put(dict, "threads", capture_threads_list(reader)) < 0 ||
        dict_put(dict, "truncated", PyBool_FromLong(capture_reader_truncated(reader))) < 0 ||
        dict_put(dict, "truncation_note",
                 note ? text_object(note, strlen(note)) : none_object()) < 0) {
        return -1;
    }
    return 0;
}

/* The whole stats dict (SPEC section 2 plus extras). */
PyObject *capture_summary_dict(const struct capture_reader *reader,
                               const struct capture_analysis *analysis, Py_ssize_t top)
{
    const struct analysis_summary *summary = capture_analysis_summary(analysis);
    PyObject *dict = PyDict_New();
    if (!dict || put_header_common(dict, reader) < 0 || put_sampling(dict, reader) < 0 ||
        put_totals(dict, summary, capture_reader_header(reader)->sample_interval) < 0 ||
        put_rss_and_gc(dict, reader, summary) < 0 || put_lists(dict, reader, analysis, top) < 0) {
        Py_XDECREF(dict);
        return NULL;
    }
    return dict;
}

PyObject *capture_header_dict(const struct capture_reader *reader)
{
    const struct capture_header *header = capture_reader_header(reader);
    PyObject *dict = PyDict_New();
    if (!dict || put_header_common(dict, reader) < 0 ||
        dict_put(dict, "flags", unsigned_object(header->flags)) < 0 ||
        dict_put(dict, "native", PyBool_FromLong((header->flags & HEADER_FLAG_NATIVE) != 0)) < 0 ||
        dict_put(dict, "aggregate",
                 PyBool_FromLong((header->flags & HEADER_FLAG_AGGREGATE) != 0)) < 0 ||
        dict_put(dict, "track_gc", PyBool_FromLong((header->flags & HEADER_FLAG_TRACK_GC) != 0)) <
            0 ||
        dict_put(dict, "max_stack_depth", unsigned_object(header->max_stack_depth)) < 0 ||
        dict_put(dict, "sample_interval", unsigned_object(header->sample_interval)) < 0 ||
        dict_put(dict, "rss_interval_ns", unsigned_object(header->rss_interval_ns)) < 0 ||
        dict_put(dict, "page_size", unsigned_object(header->page_size)) < 0 ||
        dict_put(dict, "truncated", PyBool_FromLong(capture_reader_truncated(reader))) < 0) {
        Py_XDECREF(dict);
        return NULL;
    }
    return dict;
}
