/*
 * Reading captures from Python: analyze_capture(), the CaptureFile type and
 * the CaptureError exception. A thin layer over capture_reader and
 * capture_analysis: argument parsing and conversion to Python objects; the
 * reading and the analysis run with the GIL released.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>

#include "binding/types/binding.h"
#include "binding/types/python_values.h"
#include "core/analysis/capture_analysis.h"
#include "core/format/capture_format.h"
#include "core/format/capture_reader.h"
#include "binding/types/native_reader_binding.h"

/* Module state: set once by reader_binding_add (the module is single-phase,
 * m_size -1), read under the GIL. */
static PyObject *capture_error_type;                /* CaptureError */
static PyObject *allocator_names[ALLOCATOR_COUNT];  /* "malloc", ... */
static PyObject *kind_alloc, *kind_free;            /* "alloc", "free" */
static PyObject *free_kind_munmap, *free_kind_pymalloc;

/* --- errors and small conversions ---------------------------------------- */

/* Raises what error describes: MemoryError (ENOMEM), OSError with errno and
 * the file name (other system errors), else CaptureError. path_bytes is the
 * filesystem-encoded path. Returns NULL. */
static PyObject *raise_capture_error(const struct capture_error *error, PyObject *path_bytes)
{
    if (error->os_errno == ENOMEM) {
        return PyErr_NoMemory();
    }
    if (error->os_errno) {
        PyObject *path = PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(path_bytes),
                                                          PyBytes_GET_SIZE(path_bytes));
        if (path) {
            errno = error->os_errno;
            PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
            Py_DECREF(path);
        }
        return NULL;
    }
    PyErr_SetString(capture_error_type, error->message);
    return NULL;
}

/* Returns a new str from capture bytes (invalid UTF-8 replaced), or NULL. */






/* --- opening and analysing ---------------------------------------------------- */

/* Opens the capture at path_bytes and analyses it, with the GIL released.
 * Returns 0 with *reader and *analysis set (the caller frees both), or -1
 * with an exception set. */
static int open_and_analyse(PyObject *path_bytes, struct capture_reader **reader,
                            struct capture_analysis **analysis)
{
    const char *path = PyBytes_AS_STRING(path_bytes);
    struct capture_error error;
    struct capture_reader *opened;
    struct capture_analysis *analysed = NULL;
    Py_BEGIN_ALLOW_THREADS
    opened = capture_reader_open(path, &error);
    if (opened) {
        analysed = capture_analysis_run(opened, &error);
    }
    if (!analysed) {
        capture_reader_close(opened);
    }
    Py_END_ALLOW_THREADS
    if (!analysed) {
        raise_capture_error(&error, path_bytes);
        return -1;
    }
    *reader = opened;
    *analysis = analysed;
    return 0;
}

/* --- the analyze_capture() dict --------------------------------------------------- */

static PyObject *threads_list(const struct capture_reader *reader)
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

/* Symbolises the native stacks of one analyze_capture() call's locations;
 * released when the call ends. Guarded by the GIL. */
static struct native_symbolizer *location_symbolizer;

static void location_symbolizer_release(void)
{
    native_symbolizer_close(location_symbolizer);
    location_symbolizer = NULL;
}

/* The location's merged stack ([function, file, line, kind] lists) for a
 * --native capture, None otherwise. */
static PyObject *location_native_stack(const struct capture_analysis *analysis,
                                       const struct analysis_location *location)
{
    if (!location->native_stack_id) {
        return Py_NewRef(Py_None);
    }
    return merged_stack_frames(capture_analysis_reader(analysis), &location_symbolizer,
                               location->native_python_stack_id, location->native_stack_id);
}

/* The names of the threads that allocated at a location, sorted; a final
 * "..." when there were more than the analysis lists. */
static PyObject *location_threads(const struct capture_analysis *analysis,
                                  const struct analysis_location *location)
{
    PyObject *names = PyList_New(0);
    for (uint32_t index = 0; names && index < location->thread_count; index++) {
        size_t size;
        const char *name = capture_analysis_thread_name(analysis, location->thread_ids[index], &size);
        PyObject *text = text_object(name, size);
        if (!text || PyList_Append(names, text) < 0) {
            Py_XDECREF(text);
            Py_CLEAR(names);
            break;
        }
        Py_DECREF(text);
    }
    if (names && PyList_Sort(names) < 0) {
        Py_CLEAR(names);
    }
    if (names && location->more_threads) {
        PyObject *more = PyUnicode_FromString("...");
        if (!more || PyList_Append(names, more) < 0) {
            Py_CLEAR(names);
        }
        Py_XDECREF(more);
    }
    return names;
}

/* [low, high] of an estimate's 95% interval as a list of ints, or None
 * when the capture recorded every allocation. */
static PyObject *interval_object(int sampled, const struct estimate *estimate)
{
    if (!sampled) {
        return none_object();
    }
    double low, high;
    estimate_interval(estimate, &low, &high);
    return Py_BuildValue("[KK]", (unsigned long long)(low > 0 ? low + 0.5 : 0),
                         (unsigned long long)(high > 0 ? high + 0.5 : 0));
}

/* The estimate behind a location's figures in a ranking. */
static const struct estimate *location_estimate(const struct analysis_location *location,
                                                enum analysis_ranking ranking)
{
    switch (ranking) {
    case ANALYSIS_BY_PEAK: return &location->estimated_peak;
    case ANALYSIS_LEAKS: return &location->estimated_leaked;
    default: return &location->estimated_total;
    }
}

static PyObject *location_dict(const struct capture_analysis *analysis,
                               const struct analysis_location *location,
                               enum analysis_ranking ranking)
{
    int sampled = capture_analysis_estimates(analysis) != NULL;
    const char *function, *file;
    size_t function_size, file_size;
    capture_analysis_location_names(analysis, location, &function, &function_size, &file,
                                    &file_size);
    uint64_t bytes, count;
    analysis_location_figures(location, ranking, &bytes, &count);
    PyObject *entry = PyDict_New();
    if (!entry || dict_put(entry, "function", text_object(function, function_size)) < 0 ||
        dict_put(entry, "file", text_object(file, file_size)) < 0 ||
        dict_put(entry, "line", unsigned_object(location->line)) < 0 ||
        dict_put(entry, "bytes", unsigned_object(bytes)) < 0 ||
        dict_put(entry, "count", unsigned_object(count)) < 0 ||
        dict_put(entry, "bytes_ci95",
                 interval_object(sampled, location_estimate(location, ranking))) < 0 ||
        dict_put(entry, "threads", location_threads(analysis, location)) < 0 ||
        dict_put(entry, "native_stack", location_native_stack(analysis, location)) < 0) {
        Py_CLEAR(entry);
    }
    return entry;
}

/* The top locations of a ranking as a list of dicts. */
static PyObject *top_list(const struct capture_analysis *analysis, enum analysis_ranking ranking,
                          Py_ssize_t top)
{
    size_t limit = capture_analysis_location_count(analysis);
    limit = (size_t)top < limit ? (size_t)top : limit;
    const struct analysis_location **locations =
        PyMem_New(const struct analysis_location *, limit ? limit : 1);
    if (!locations) {
        return PyErr_NoMemory();
    }
    long count = capture_analysis_top_locations(analysis, ranking, limit, locations);
    PyObject *list = count < 0 ? PyErr_NoMemory() : PyList_New(count);
    for (long index = 0; list && index < count; index++) {
        PyObject *entry = location_dict(analysis, locations[index], ranking);
        if (!entry) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, index, entry);
    }
    PyMem_Free(locations);
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
        dict_put(dict, "python_version",
                 text_object(header->python_version, header->python_version_size)) < 0 ||
        dict_put(dict, "start_time_ns", unsigned_object(header->start_time_ns)) < 0 ||
        dict_put(dict, "sample_rate", PyFloat_FromDouble(header->sample_rate)) < 0) {
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

/* Totals, peak and leak keys. */
static int put_totals(PyObject *dict, const struct analysis_summary *summary)
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
                 interval_object(summary->sampled, &summary->estimated_allocated)) < 0 ||
        dict_put(dict, "peak_bytes_ci95",
                 interval_object(summary->sampled, &summary->estimated_at_peak)) < 0 ||
        dict_put(dict, "leaked_bytes_ci95",
                 interval_object(summary->sampled, &summary->estimated_leaked)) < 0) {
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
    int track_gc = (capture_reader_header(reader)->flags & HEADER_FLAG_TRACK_GC) != 0;
    uint64_t tracker_memory = capture_reader_footer(reader)->tracker_memory_peak;
    if (dict_put(dict, "rss_peak_bytes", optional_object(has_rss, summary->rss_peak_bytes)) < 0 ||
        dict_put(dict, "untracked_rss_bytes",
                 optional_object(summary->has_untracked_rss, summary->untracked_rss_bytes)) < 0 ||
        dict_put(dict, "rss_samples", unsigned_object(summary->rss_sample_count)) < 0 ||
        dict_put(dict, "gc_collections", optional_object(track_gc, summary->gc_collections)) < 0 ||
        dict_put(dict, "gc", track_gc ? gc_dict(summary) : none_object()) < 0 ||
        dict_put(dict, "tracker_memory_bytes", unsigned_object(tracker_memory)) < 0) {
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
        dict_put(dict, "top_by_peak", top_list(analysis, ANALYSIS_BY_PEAK, top)) < 0 ||
        dict_put(dict, "top_by_total", top_list(analysis, ANALYSIS_BY_TOTAL, top)) < 0 ||
        dict_put(dict, "top_by_count", top_list(analysis, ANALYSIS_BY_COUNT, top)) < 0 ||
        dict_put(dict, "top_leaks", top_list(analysis, ANALYSIS_LEAKS, top)) < 0 ||
        dict_put(dict, "threads", threads_list(reader)) < 0 ||
        dict_put(dict, "truncated", PyBool_FromLong(capture_reader_truncated(reader))) < 0 ||
        dict_put(dict, "truncation_note",
                 note ? text_object(note, strlen(note)) : none_object()) < 0) {
        return -1;
    }
    return 0;
}

/* The whole stats dict (SPEC section 2 plus extras). */
static PyObject *summary_dict(const struct capture_reader *reader,
                              const struct capture_analysis *analysis, Py_ssize_t top)
{
    const struct analysis_summary *summary = capture_analysis_summary(analysis);
    PyObject *dict = PyDict_New();
    if (!dict || put_header_common(dict, reader) < 0 || put_sampling(dict, reader) < 0 ||
        put_totals(dict, summary) < 0 ||
        put_rss_and_gc(dict, reader, summary) < 0 || put_lists(dict, reader, analysis, top) < 0) {
        Py_XDECREF(dict);
        return NULL;
    }
    return dict;
}

static PyObject *analyze_capture(PyObject *module, PyObject *args, PyObject *kwargs)
{
    (void)module;
    static char *keywords[] = {"path", "top", NULL};
    PyObject *path_bytes = NULL;
    Py_ssize_t top = 10;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&|n:analyze_capture", keywords,
                                     PyUnicode_FSConverter, &path_bytes, &top)) {
        return NULL;
    }
    PyObject *result = NULL;
    struct capture_reader *reader;
    struct capture_analysis *analysis;
    if (top < 0) {
        PyErr_SetString(PyExc_ValueError, "top must not be negative");
    } else if (open_and_analyse(path_bytes, &reader, &analysis) == 0) {
        result = summary_dict(reader, analysis, top);
        location_symbolizer_release();
        capture_analysis_free(analysis);
        capture_reader_close(reader);
    }
    Py_DECREF(path_bytes);
    return result;
}

/* --- CaptureFile ------------------------------------------------------------------ */

struct capture_file_object {
    PyObject_HEAD
    PyObject *path_bytes;             /* filesystem-encoded path */
    struct capture_reader *reader;    /* read to the end: its tables are complete */
    struct capture_analysis *analysis;
    struct native_symbolizer *symbolizer; /* --native captures, made on first use */
};

static PyTypeObject capture_file_type;

/* Returns 0, or -1 with ValueError when the capture was closed. */
static int capture_file_check_open(const struct capture_file_object *self)
{
    if (!self->reader) {
        PyErr_SetString(PyExc_ValueError, "operation on a closed CaptureFile");
        return -1;
    }
    return 0;
}

static PyObject *capture_file_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"path", NULL};
    PyObject *path_bytes = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&:CaptureFile", keywords,
                                     PyUnicode_FSConverter, &path_bytes)) {
        return NULL;
    }
    struct capture_file_object *self = (struct capture_file_object *)type->tp_alloc(type, 0);
    if (!self) {
        Py_DECREF(path_bytes);
        return NULL;
    }
    self->path_bytes = path_bytes;
    if (open_and_analyse(path_bytes, &self->reader, &self->analysis) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

/* Frees the reader and the analysis; the object stays, closed. */
static void capture_file_release(struct capture_file_object *self)
{
    native_symbolizer_close(self->symbolizer);
    self->symbolizer = NULL;
    capture_analysis_free(self->analysis);
    capture_reader_close(self->reader);
    self->analysis = NULL;
    self->reader = NULL;
}

static void capture_file_dealloc(struct capture_file_object *self)
{
    capture_file_release(self);
    Py_XDECREF(self->path_bytes);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *capture_file_close(struct capture_file_object *self, PyObject *unused)
{
    (void)unused;
    capture_file_release(self);
    Py_RETURN_NONE;
}

static PyObject *capture_file_enter(struct capture_file_object *self, PyObject *unused)
{
    (void)unused;
    if (capture_file_check_open(self) < 0) {
        return NULL;
    }
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *capture_file_exit(struct capture_file_object *self, PyObject *args)
{
    (void)args;
    capture_file_release(self);
    Py_RETURN_FALSE;
}

static PyObject *header_dict(const struct capture_reader *reader)
{
    const struct capture_header *header = capture_reader_header(reader);
    PyObject *dict = PyDict_New();
    if (!dict || put_header_common(dict, reader) < 0 ||
        dict_put(dict, "flags", unsigned_object(header->flags)) < 0 ||
        dict_put(dict, "python_allocators",
                 PyBool_FromLong((header->flags & HEADER_FLAG_PYTHON_ALLOCATORS) != 0)) < 0 ||
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

static PyObject *capture_file_header(struct capture_file_object *self, void *closure)
{
    (void)closure;
    return capture_file_check_open(self) < 0 ? NULL : header_dict(self->reader);
}

/* stack(stack_id): [(function, file, line), ...] innermost first. */
/* native_stack(native_stack_id): see native_stack_frames(). */
static PyObject *capture_file_native_stack(struct capture_file_object *self, PyObject *argument)
{
    unsigned long id = capture_file_check_open(self) < 0 ? 0 : PyLong_AsUnsignedLong(argument);
    if (PyErr_Occurred()) {
        return NULL;
    }
    return native_stack_frames(self->reader, &self->symbolizer,
                               id > UINT32_MAX ? UINT32_MAX : (uint32_t)id);
}

/* merged_stack(stack_id, native_stack_id): see merged_stack_frames(). */
static PyObject *capture_file_merged_stack(struct capture_file_object *self, PyObject *args)
{
    unsigned int stack_id;
    unsigned int native_stack_id;
    if (capture_file_check_open(self) < 0 ||
        !PyArg_ParseTuple(args, "II:merged_stack", &stack_id, &native_stack_id)) {
        return NULL;
    }
    return merged_stack_frames(self->reader, &self->symbolizer, stack_id, native_stack_id);
}

static PyObject *capture_file_stack(struct capture_file_object *self, PyObject *argument)
{
    if (capture_file_check_open(self) < 0) {
        return NULL;
    }
    unsigned long long stack_id = PyLong_AsUnsignedLongLong(argument);
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (stack_id > capture_reader_stack_count(self->reader)) {
        return PyErr_Format(PyExc_ValueError, "stack id %llu is not in this capture", stack_id);
    }
    PyObject *frames = PyList_New(0);
    const struct capture_stack *stack = capture_reader_stack(self->reader, (uint32_t)stack_id);
    for (; frames && stack; stack = capture_reader_stack(self->reader, stack->parent_stack_id)) {
        const struct capture_frame *frame = capture_reader_frame(self->reader, stack->frame_id);
        PyObject *function = capture_string_object(self->reader, frame->function_sid);
        PyObject *file = capture_string_object(self->reader, frame->file_sid);
        PyObject *entry = function && file ? Py_BuildValue("(OOI)", function, file, frame->line)
                                           : NULL;
        if (!entry || PyList_Append(frames, entry) < 0) {
            Py_CLEAR(frames);
        }
        Py_XDECREF(entry);
        Py_XDECREF(function);
        Py_XDECREF(file);
    }
    return frames;
}

/* [(stack_id, bytes, count), ...] largest first, for a view. */
static PyObject *stack_entries_list(struct capture_file_object *self, enum analysis_stack_view view)
{
    if (capture_file_check_open(self) < 0) {
        return NULL;
    }
    struct analysis_stack_entry *entries;
    size_t count;
    if (capture_analysis_stack_entries(self->analysis, view, &entries, &count) < 0) {
        return PyErr_NoMemory();
    }
    PyObject *list = PyList_New((Py_ssize_t)count);
    for (size_t index = 0; list && index < count; index++) {
        PyObject *entry = Py_BuildValue("(IKK)", entries[index].stack_id,
                                        (unsigned long long)entries[index].bytes,
                                        (unsigned long long)entries[index].count);
        if (!entry) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)index, entry);
    }
    capture_analysis_stack_entries_free(entries, count);
    return list;
}

static PyObject *capture_file_peak_allocations(struct capture_file_object *self, PyObject *unused)
{
    (void)unused;
    return stack_entries_list(self, ANALYSIS_STACKS_AT_PEAK);
}

static PyObject *capture_file_leaked_allocations(struct capture_file_object *self, PyObject *unused)
{
    (void)unused;
    return stack_entries_list(self, ANALYSIS_STACKS_LEAKED);
}

static PyObject *capture_file_threads(struct capture_file_object *self, PyObject *unused)
{
    (void)unused;
    return capture_file_check_open(self) < 0 ? NULL : threads_list(self->reader);
}

/* --- the records() iterator ---------------------------------------------------------- */

struct record_iterator_object {
    PyObject_HEAD
    PyObject *path_bytes;
    struct capture_reader *reader; /* NULL once exhausted */
};

static PyTypeObject record_iterator_type;

static PyObject *capture_file_records(struct capture_file_object *self, PyObject *unused)
{
    (void)unused;
    if (capture_file_check_open(self) < 0) {
        return NULL;
    }
    struct record_iterator_object *iterator =
        PyObject_New(struct record_iterator_object, &record_iterator_type);
    if (!iterator) {
        return NULL;
    }
    Py_INCREF(self->path_bytes);
    iterator->path_bytes = self->path_bytes;
    struct capture_error error;
    const char *path = PyBytes_AS_STRING(self->path_bytes);
    Py_BEGIN_ALLOW_THREADS
    iterator->reader = capture_reader_open(path, &error);
    Py_END_ALLOW_THREADS
    if (!iterator->reader) {
        raise_capture_error(&error, self->path_bytes);
        Py_DECREF(iterator);
        return NULL;
    }
    return (PyObject *)iterator;
}

static void record_iterator_dealloc(struct record_iterator_object *self)
{
    capture_reader_close(self->reader);
    Py_XDECREF(self->path_bytes);
    PyObject_Free(self);
}

/* (kind, thread_id, address, size, allocator, stack_id) of an allocation
 * or free record; NULL for other records (no exception). */
static PyObject *record_tuple(const struct capture_record *record)
{
    PyObject *kind = kind_free;
    PyObject *allocator;
    switch (record->kind) {
    case CAPTURE_RECORD_ALLOCATION:
        kind = kind_alloc;
        allocator = allocator_names[record->allocator];
        break;
    case CAPTURE_RECORD_FREE:
        allocator = kind_free;
        break;
    case CAPTURE_RECORD_PYMALLOC_FREE:
        allocator = free_kind_pymalloc;
        break;
    case CAPTURE_RECORD_MUNMAP:
        allocator = free_kind_munmap;
        break;
    default:
        return NULL;
    }
    uint32_t stack_id = record->kind == CAPTURE_RECORD_ALLOCATION ? record->stack_id : 0;
    uint32_t native_stack_id =
        record->kind == CAPTURE_RECORD_ALLOCATION ? record->native_stack_id : 0;
    return Py_BuildValue("(OKKKOII)", kind, (unsigned long long)record->thread_id,
                         (unsigned long long)record->address, (unsigned long long)record->size,
                         allocator, stack_id, native_stack_id);
}

static PyObject *record_iterator_next(struct record_iterator_object *self)
{
    struct capture_record record;
    while (self->reader) {
        int status = capture_reader_next(self->reader, &record);
        if (status < 0) {
            struct capture_error error = *capture_reader_error(self->reader);
            capture_reader_close(self->reader);
            self->reader = NULL;
            return raise_capture_error(&error, self->path_bytes);
        }
        if (status == 0) {
            capture_reader_close(self->reader);
            self->reader = NULL;
            break;
        }
        PyObject *tuple = record_tuple(&record);
        if (tuple || PyErr_Occurred()) {
            return tuple;
        }
    }
    return NULL;
}

/* --- type objects and registration ------------------------------------------------------ */

static PyMethodDef capture_file_methods[] = {
    {"records", (PyCFunction)capture_file_records, METH_NOARGS,
     "records() -> iterator of (kind, thread_id, address, size, allocator, stack_id,\n"
     "native_stack_id)\n"
     "for every allocation ('alloc', allocator name) and free ('free', and 'free',\n"
     "'munmap' or 'pymalloc'), in file order."},
    {"stack", (PyCFunction)capture_file_stack, METH_O,
     "stack(stack_id) -> [(function, file, line), ...], innermost first."},
    {"native_stack", (PyCFunction)capture_file_native_stack, METH_O,
     "native_stack(native_stack_id) -> [(function or None, file, line, ip, object, note), ...],\n"
     "innermost first, symbolised now (note: why a frame is unresolved, or 'inlined')."},
    {"merged_stack", (PyCFunction)capture_file_merged_stack, METH_VARARGS,
     "merged_stack(stack_id, native_stack_id) -> [(function, file, line, kind), ...], innermost\n"
     "first: native frames with the Python frames in place of the interpreter's evaluation\n"
     "loop calls; kind is 'python' or 'native'."},
    {"peak_allocations", (PyCFunction)capture_file_peak_allocations, METH_NOARGS,
     "peak_allocations() -> [(stack_id, bytes, count), ...] held at the peak, largest first."},
    {"leaked_allocations", (PyCFunction)capture_file_leaked_allocations, METH_NOARGS,
     "leaked_allocations() -> [(stack_id, bytes, count), ...] live at the end, largest first."},
    {"threads", (PyCFunction)capture_file_threads, METH_NOARGS,
     "threads() -> [{'thread_id', 'native_tid', 'name'}, ...]."},
    {"close", (PyCFunction)capture_file_close, METH_NOARGS, "Frees the capture's tables."},
    {"__enter__", (PyCFunction)capture_file_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)capture_file_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef capture_file_getset[] = {
    {"header", (getter)capture_file_header, NULL,
     "The file header: pid, command, Python version, options, start time, truncated.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject capture_file_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "memlyze._memlyze.CaptureFile",
    .tp_doc = "CaptureFile(path): a capture, read and analysed once (the GIL released).\n"
              "Raises OSError when the file cannot be read, CaptureError when it is\n"
              "damaged or from a newer memlyze.",
    .tp_basicsize = sizeof(struct capture_file_object),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = capture_file_new,
    .tp_dealloc = (destructor)capture_file_dealloc,
    .tp_methods = capture_file_methods,
    .tp_getset = capture_file_getset,
};

static PyTypeObject record_iterator_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "memlyze._memlyze.CaptureRecordIterator",
    .tp_basicsize = sizeof(struct record_iterator_object),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)record_iterator_dealloc,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)record_iterator_next,
};

static PyMethodDef reader_methods[] = {
    {"analyze_capture", (PyCFunction)(void (*)(void))analyze_capture,
     METH_VARARGS | METH_KEYWORDS,
     "analyze_capture(path, top=10) -> dict: the figures of `memlyze stats --json`\n"
     "(SPEC section 2) plus truncated, truncation_note, unmatched_frees, threads,\n"
     "rss_samples and start_time_ns. The GIL is released while reading."},
    {NULL, NULL, 0, NULL},
};

/* Creates the interned strings records() yields. Returns 0 or -1. */
static int create_names(void)
{
    for (int allocator = 0; allocator < ALLOCATOR_COUNT; allocator++) {
        allocator_names[allocator] = PyUnicode_InternFromString(capture_allocator_name(allocator));
        if (!allocator_names[allocator]) {
            return -1;
        }
    }
    kind_alloc = PyUnicode_InternFromString("alloc");
    kind_free = PyUnicode_InternFromString("free");
    free_kind_munmap = PyUnicode_InternFromString("munmap");
    free_kind_pymalloc = PyUnicode_InternFromString("pymalloc");
    return kind_alloc && kind_free && free_kind_munmap && free_kind_pymalloc ? 0 : -1;
}

/* Adds a type to module under its short name. Returns 0 or -1. */
static int add_type(PyObject *module, PyTypeObject *type, const char *name)
{
    if (PyType_Ready(type) < 0) {
        return -1;
    }
    Py_INCREF(type);
    if (PyModule_AddObject(module, name, (PyObject *)type) < 0) {
        Py_DECREF(type);
        return -1;
    }
    return 0;
}

int reader_binding_add(PyObject *module)
{
    if (create_names() < 0 || PyType_Ready(&record_iterator_type) < 0 ||
        add_type(module, &capture_file_type, "CaptureFile") < 0) {
        return -1;
    }
    if (!capture_error_type) {
        capture_error_type = PyErr_NewExceptionWithDoc(
            "memlyze._memlyze.CaptureError",
            "A capture file that is damaged, or written by a newer memlyze.", PyExc_Exception,
            NULL);
        if (!capture_error_type) {
            return -1;
        }
    }
    Py_INCREF(capture_error_type);
    if (PyModule_AddObject(module, "CaptureError", capture_error_type) < 0) {
        Py_DECREF(capture_error_type);
        return -1;
    }
    return PyModule_AddFunctions(module, reader_methods);
}
