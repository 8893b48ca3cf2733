/*
 * The report engine from Python: the ReportCollection type. Construction
 * reads the whole capture once (GIL released, an optional progress callable
 * called now and then with (chunks_read, chunk_count)); its methods build
 * trees, location tables and pprof files from what was collected. A thin
 * layer over capture_report.h, report_tree.h and export_pprof.h.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <string.h>

#include "binding/types/binding.h"
#include "binding/types/python_values.h"
#include "core/reports/report_collection.h"
#include "core/reports/export_pprof.h"
#include "core/reports/report_tree.h"

#define DEFAULT_OTHER_FRACTION 0.0005
#define DEFAULT_MAX_NODES 50000

static const char *const selection_names[ANALYSIS_SELECTION_COUNT] = {
    "peak", "leaks", "temporary", "snapshot", "range", "total",
};
static const char *const node_kind_names[] = {"root", "frame", "thread", "no_frame", "other"};

struct report_collection_object {
    PyObject_HEAD
    struct capture_reader *reader;
    struct report_collection *collection;
};

/* --- small conversions ------------------------------------------------------------ */

/* Returns 0 when the object was initialised (read a capture), else -1 with
 * RuntimeError set: methods must not run on ReportCollection.__new__ alone. */
static int check_ready(const struct report_collection_object *self)
{
    if (self->collection) {
        return 0;
    }
    PyErr_SetString(PyExc_RuntimeError, "ReportCollection was not initialised with a capture");
    return -1;
}

/* Raises the error of a failed read or export. Returns NULL. */
static PyObject *raise_report_error(const struct capture_error *error, const char *path)
{
    if (error->os_errno == ENOMEM) {
        return PyErr_NoMemory();
    }
    if (error->os_errno) {
        errno = error->os_errno;
        return PyErr_SetFromErrnoWithFilename(PyExc_OSError, path);
    }
    PyObject *module = PyImport_ImportModule("memlyze._memlyze");
    PyObject *type = module ? PyObject_GetAttrString(module, "CaptureError") : NULL;
    Py_XDECREF(module);
    if (type) {
        PyErr_SetString(type, error->message);
        Py_DECREF(type);
    }
    return NULL;
}




/* Returns the selection named by text, or -1 with ValueError set. */
static int selection_of(const char *text)
{
    for (int i = 0; i < ANALYSIS_SELECTION_COUNT; i++) {
        if (strcmp(text, selection_names[i]) == 0) {
            return i;
        }
    }
    PyErr_Format(PyExc_ValueError, "unknown selection %s", text);
    return -1;
}

/* --- construction --------------------------------------------------------------------- */

/* Calls the Python progress callable (the argument) with the GIL taken. */
static void call_progress(void *argument, uint64_t chunks_read, uint64_t chunk_count)
{
    PyGILState_STATE state = PyGILState_Ensure();
    PyObject *result = PyObject_CallFunction((PyObject *)argument, "KK",
                                             (unsigned long long)chunks_read,
                                             (unsigned long long)chunk_count);
    if (!result) {
        PyErr_Clear(); /* a progress display failing must not stop the report */
    }
    Py_XDECREF(result);
    PyGILState_Release(state);
}

/* Opens and reads the capture with the GIL released. Returns 0 or -1 with
 * an exception set. */
static int collect(struct report_collection_object *self, PyObject *path_bytes,
                   struct analysis_options *options)
{
    const char *path = PyBytes_AS_STRING(path_bytes);
    struct capture_error error;
    memset(&error, 0, sizeof error);
    Py_BEGIN_ALLOW_THREADS
    self->reader = capture_reader_open(path, &error);
    if (self->reader) {
        self->collection = report_collect(self->reader, options, &error);
    }
    Py_END_ALLOW_THREADS
    if (!self->collection) {
        raise_report_error(&error, path);
        return -1;
    }
    return 0;
}

static int collection_init(struct report_collection_object *self, PyObject *args,
                           PyObject *kwargs)
{
    static char *keywords[] = {"path", "snapshot", "temporary_threshold", "range_start_ns",
                               "range_end_ns", "temporal", "progress", NULL};
    PyObject *path_bytes = NULL, *progress = Py_None;
    struct analysis_options options;
    analysis_options_init(&options);
    unsigned long long snapshot = 0, threshold = 1, start = 0, end = UINT64_MAX;
    int temporal = 0;
    if (self->collection) {
        PyErr_SetString(PyExc_RuntimeError, "ReportCollection is already initialised");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&|$KKKKpO", keywords,
                                     PyUnicode_FSConverter, &path_bytes, &snapshot, &threshold,
                                     &start, &end, &temporal, &progress)) {
        return -1;
    }
    options.snapshot_index = snapshot;
    options.temporary_threshold = threshold;
    options.range_start_ns = start;
    options.range_end_ns = end;
    options.temporal = temporal;
    if (progress != Py_None) {
        options.progress = call_progress;
        options.progress_argument = progress;
    }
    int result = collect(self, path_bytes, &options);
    Py_DECREF(path_bytes);
    return result;
}

static void collection_dealloc(struct report_collection_object *self)
{
    report_collection_free(self->collection);
    capture_reader_close(self->reader);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* --- header, summary, threads, series -------------------------------------------------- */

static PyObject *collection_header(struct report_collection_object *self, PyObject *unused)
{
    (void)unused;
    if (check_ready(self) < 0) {
        return NULL;
    }
    const struct capture_header *header = capture_reader_header(self->reader);
    const char *note = capture_reader_truncation_note(self->reader);
    PyObject *dict = PyDict_New();
    if (!dict || dict_put(dict, "pid", unsigned_object(header->pid)) < 0 ||
        dict_put(dict, "command", PyUnicode_DecodeUTF8(header->command,
                                                       (Py_ssize_t)header->command_size,
                                                       "replace")) < 0 ||
        dict_put(dict, "python_version",
                 PyUnicode_DecodeUTF8(header->python_version,
                                      (Py_ssize_t)header->python_version_size, "replace")) < 0 ||
        dict_put(dict, "sample_rate", PyFloat_FromDouble(header->sample_rate)) < 0 ||
        dict_put(dict, "sample_interval", unsigned_object(header->sample_interval)) < 0 ||
        dict_put(dict, "flags", unsigned_object(header->flags)) < 0 ||
        dict_put(dict, "truncated",
                 PyBool_FromLong(capture_reader_truncated(self->reader))) < 0 ||
        dict_put(dict, "truncation_note",
                 note ? PyUnicode_DecodeUTF8(note, (Py_ssize_t)strlen(note), "replace")
                      : Py_NewRef(Py_None)) < 0) {
        Py_XDECREF(dict);
        return NULL;
    }
    return dict;
}

static PyObject *collection_summary(struct report_collection_object *self, PyObject *unused)
{
    (void)unused;
    if (check_ready(self) < 0) {
        return NULL;
    }
    const struct report_summary *summary = report_collection_summary(self->collection);
    PyObject *dict = PyDict_New();
    if (!dict || dict_put(dict, "peak_bytes", unsigned_object(summary->peak_bytes)) < 0 ||
        dict_put(dict, "peak_count", unsigned_object(summary->peak_count)) < 0 ||
        dict_put(dict, "peak_time_ns", unsigned_object(summary->peak_time_ns)) < 0 ||
        dict_put(dict, "end_time_ns", unsigned_object(summary->end_time_ns)) < 0 ||
        dict_put(dict, "total_bytes", unsigned_object(summary->total_bytes)) < 0 ||
        dict_put(dict, "total_count", unsigned_object(summary->total_count)) < 0 ||
        dict_put(dict, "snapshot_count", unsigned_object(summary->snapshot_count)) < 0 ||
        dict_put(dict, "bucket_width_ns", unsigned_object(summary->bucket_width_ns)) < 0 ||
        dict_put(dict, "bucket_count", unsigned_object(summary->bucket_count)) < 0) {
        Py_XDECREF(dict);
        return NULL;
    }
    return dict;
}

/* [(thread_id, native_tid, name)] in order of appearance. */
static PyObject *collection_threads(struct report_collection_object *self, PyObject *unused)
{
    (void)unused;
    if (check_ready(self) < 0) {
        return NULL;
    }
    size_t count = capture_reader_thread_count(self->reader);
    PyObject *list = PyList_New((Py_ssize_t)count);
    for (size_t i = 0; list && i < count; i++) {
        const struct capture_thread *thread = capture_reader_thread(self->reader, i);
        PyObject *name = capture_string_object(self->reader, thread->name_sid);
        PyObject *item = name ? Py_BuildValue("KKN", (unsigned long long)thread->thread_id,
                                              (unsigned long long)thread->native_tid, name)
                              : NULL;
        if (!item) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
}

/* [(time_ns, value)] of a series. */
static PyObject *points_list(const struct analysis_point *points, size_t count)
{
    PyObject *list = PyList_New((Py_ssize_t)count);
    for (size_t i = 0; list && i < count; i++) {
        PyObject *item = Py_BuildValue("KK", (unsigned long long)points[i].time_ns,
                                       (unsigned long long)points[i].value);
        if (!item) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
}

static PyObject *collection_series(struct report_collection_object *self, PyObject *name)
{
    if (check_ready(self) < 0) {
        return NULL;
    }
    const char *text = PyUnicode_AsUTF8(name);
    if (!text) {
        return NULL;
    }
    size_t count;
    const struct analysis_point *points;
    if (strcmp(text, "heap") == 0) {
        points = report_collection_heap_series(self->collection, &count);
    } else if (strcmp(text, "rss") == 0) {
        points = report_collection_rss_series(self->collection, &count);
    } else if (strcmp(text, "gc") == 0) {
        points = report_collection_gc_series(self->collection, &count);
    } else {
        PyErr_Format(PyExc_ValueError, "unknown series %s (heap, rss or gc)", text);
        return NULL;
    }
    return points_list(points, count);
}

/* --- filters ------------------------------------------------------------------------------- */

/* Holds a filter and the UTF-8 patterns it points to. */
struct parsed_filter {
    struct report_filter filter;
    PyObject *include;
    PyObject *exclude;
    const char **include_texts;
    const char **exclude_texts;
};

static void parsed_filter_release(struct parsed_filter *parsed)
{
    Py_XDECREF(parsed->include);
    Py_XDECREF(parsed->exclude);
    PyMem_Free(parsed->include_texts);
    PyMem_Free(parsed->exclude_texts);
}

/* Converts a sequence of str to a tuple and an array of their UTF-8 texts. */
static int patterns_of(PyObject *sequence, PyObject **tuple, const char ***texts, size_t *count)
{
    *tuple = PySequence_Tuple(sequence);
    if (!*tuple) {
        return -1;
    }
    Py_ssize_t size = PyTuple_GET_SIZE(*tuple);
    *texts = PyMem_Calloc((size_t)size + 1, sizeof **texts);
    if (!*texts) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < size; i++) {
        (*texts)[i] = PyUnicode_AsUTF8(PyTuple_GET_ITEM(*tuple, i));
        if (!(*texts)[i]) {
            return -1;
        }
    }
    *count = (size_t)size;
    return 0;
}

/* Fills parsed from the arguments every selector-taking method shares:
 * selection (str), thread (int or None), include and exclude (sequences of
 * str). Returns 0 or -1 with an exception set (release parsed either way). */
static int filter_of(const char *selection, PyObject *thread, PyObject *include,
                     PyObject *exclude, struct parsed_filter *parsed)
{
    memset(parsed, 0, sizeof *parsed);
    int chosen = selection_of(selection);
    if (chosen < 0) {
        return -1;
    }
    parsed->filter.selection = (enum analysis_selection)chosen;
    if (thread != Py_None) {
        parsed->filter.has_thread = 1;
        parsed->filter.thread_id = PyLong_AsUnsignedLongLong(thread);
        if (PyErr_Occurred()) {
            return -1;
        }
    }
    if (patterns_of(include, &parsed->include, &parsed->include_texts,
                    &parsed->filter.include_count) < 0 ||
        patterns_of(exclude, &parsed->exclude, &parsed->exclude_texts,
                    &parsed->filter.exclude_count) < 0) {
        return -1;
    }
    parsed->filter.include = parsed->include_texts;
    parsed->filter.exclude = parsed->exclude_texts;
    return 0;
}

/* --- trees ------------------------------------------------------------------------------------ */

/* Per-node columns of the tree() dict, filled one node at a time. */
enum tree_column {
    COLUMN_PARENT, COLUMN_KIND, COLUMN_FUNCTION, COLUMN_FILE, COLUMN_LINE, COLUMN_THREAD,
    COLUMN_BYTES, COLUMN_COUNT, COLUMN_SELF_BYTES, COLUMN_SELF_COUNT, COLUMN_TOTAL
};
static const char *const column_names[COLUMN_TOTAL] = {
    "parent", "kind", "function", "file", "line", "thread", "bytes", "count", "self_bytes",
    "self_count",
};

/* Returns the str of a string id, shared through cache (sid -> str). */
static PyObject *cached_text(const struct capture_reader *reader, PyObject *cache, uint32_t sid)
{
    PyObject *key = PyLong_FromUnsignedLong(sid);
    PyObject *text = key ? PyDict_GetItemWithError(cache, key) : NULL;
    if (text) {
        Py_DECREF(key);
        return Py_NewRef(text);
    }
    text = key && !PyErr_Occurred() ? capture_string_object(reader, sid) : NULL;
    if (text && PyDict_SetItem(cache, key, text) < 0) {
        Py_CLEAR(text);
    }
    Py_XDECREF(key);
    return text;
}

/* A str of a native frame's UTF-8 text (undecodable bytes replaced). */
static PyObject *native_frame_text(const char *text)
{
    return PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "replace");
}

/* Fills the columns of one node at index. Returns 0 or -1. */
static int node_columns(const struct capture_reader *reader, const struct report_node *node,
                        PyObject *cache, PyObject **values)
{
    const struct capture_frame *frame =
        node->kind == REPORT_NODE_FRAME ? capture_reader_frame(reader, node->frame_id) : NULL;
    values[COLUMN_PARENT] = PyLong_FromLongLong(node->parent);
    values[COLUMN_KIND] = PyUnicode_FromString(node_kind_names[node->kind]);
    if (node->kind == REPORT_NODE_FRAME && node->native) {
        values[COLUMN_FUNCTION] = native_frame_text(node->native->function);
        values[COLUMN_FILE] = native_frame_text(node->native->file);
        values[COLUMN_LINE] = PyLong_FromUnsignedLong(node->native->line);
    } else {
        values[COLUMN_FUNCTION] = cached_text(reader, cache, frame ? frame->function_sid : 0);
        values[COLUMN_FILE] = cached_text(reader, cache, frame ? frame->file_sid : 0);
        values[COLUMN_LINE] = PyLong_FromUnsignedLong(frame ? frame->line : 0);
    }
    values[COLUMN_THREAD] = node->kind == REPORT_NODE_THREAD ? unsigned_object(node->thread_id)
                                                             : Py_NewRef(Py_None);
    values[COLUMN_BYTES] = unsigned_object(node->bytes);
    values[COLUMN_COUNT] = unsigned_object(node->count);
    values[COLUMN_SELF_BYTES] = unsigned_object(node->self_bytes);
    values[COLUMN_SELF_COUNT] = unsigned_object(node->self_count);
    for (int column = 0; column < COLUMN_TOTAL; column++) {
        if (!values[column]) {
            return -1;
        }
    }
    return 0;
}

/* {column name: list} over the tree's nodes. */
static PyObject *nodes_dict(const struct capture_reader *reader, const struct report_tree *tree)
{
    PyObject *columns[COLUMN_TOTAL] = {NULL};
    PyObject *cache = PyDict_New();
    PyObject *dict = cache ? PyDict_New() : NULL;
    for (int column = 0; dict && column < COLUMN_TOTAL; column++) {
        columns[column] = PyList_New((Py_ssize_t)tree->count);
        if (!columns[column] || PyDict_SetItemString(dict, column_names[column],
                                                     columns[column]) < 0) {
            Py_CLEAR(dict);
        }
    }
    for (size_t i = 0; dict && i < tree->count; i++) {
        PyObject *values[COLUMN_TOTAL] = {NULL};
        int result = node_columns(reader, &tree->nodes[i], cache, values);
        for (int column = 0; column < COLUMN_TOTAL; column++) {
            if (result == 0) {
                PyList_SET_ITEM(columns[column], (Py_ssize_t)i, values[column]);
            } else {
                Py_XDECREF(values[column]);
            }
        }
        if (result < 0) {
            Py_CLEAR(dict);
        }
    }
    for (int column = 0; column < COLUMN_TOTAL; column++) {
        Py_XDECREF(columns[column]);
    }
    Py_XDECREF(cache);
    return dict;
}

/* [(node, alloc_bucket, free_bucket or -1, bytes, count)]. */
static PyObject *intervals_list(const struct report_tree *tree)
{
    PyObject *list = PyList_New((Py_ssize_t)tree->interval_count);
    for (size_t i = 0; list && i < tree->interval_count; i++) {
        const struct analysis_interval *interval = &tree->intervals[i];
        long long free_bucket = interval->free_bucket == ANALYSIS_NEVER_FREED
                                    ? -1 : (long long)interval->free_bucket;
        PyObject *item = Py_BuildValue("IILKK", interval->context, interval->alloc_bucket,
                                       free_bucket, (unsigned long long)interval->bytes,
                                       (unsigned long long)interval->count);
        if (!item) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
}

static PyObject *tree_dict(const struct capture_reader *reader, const struct report_tree *tree,
                           int temporal)
{
    PyObject *dict = PyDict_New();
    if (!dict || dict_put(dict, "nodes", nodes_dict(reader, tree)) < 0 ||
        dict_put(dict, "truncated", PyBool_FromLong(tree->truncated)) < 0 ||
        dict_put(dict, "other_threshold", unsigned_object(tree->other_threshold)) < 0 ||
        dict_put(dict, "intervals", temporal ? intervals_list(tree) : Py_NewRef(Py_None)) < 0) {
        Py_XDECREF(dict);
        return NULL;
    }
    return dict;
}

static PyObject *collection_tree(struct report_collection_object *self, PyObject *args,
                                 PyObject *kwargs)
{
    if (check_ready(self) < 0) {
        return NULL;
    }
    static char *keywords[] = {"selection", "thread", "include", "exclude", "inverted",
                               "split_threads", "temporal", "other_fraction", "max_nodes",
                               NULL};
    const char *selection = "peak";
    PyObject *thread = Py_None, *include = NULL, *exclude = NULL;
    struct report_tree_options options;
    memset(&options, 0, sizeof options);
    options.other_fraction = DEFAULT_OTHER_FRACTION;
    Py_ssize_t max_nodes = DEFAULT_MAX_NODES;
    PyObject *empty = PyTuple_New(0);
    include = exclude = empty;
    if (!empty || !PyArg_ParseTupleAndKeywords(
                      args, kwargs, "|$sOOOpppdn", keywords, &selection, &thread, &include,
                      &exclude, &options.inverted, &options.split_threads, &options.temporal,
                      &options.other_fraction, &max_nodes)) {
        Py_XDECREF(empty);
        return NULL;
    }
    options.max_nodes = max_nodes < 4 ? 4 : (size_t)max_nodes;
    struct parsed_filter parsed;
    PyObject *result = NULL;
    if (filter_of(selection, thread, include, exclude, &parsed) == 0) {
        options.filter = parsed.filter;
        struct report_tree tree;
        int status;
        Py_BEGIN_ALLOW_THREADS
        status = report_tree_build(self->collection, &options, &tree);
        Py_END_ALLOW_THREADS
        result = status < 0 ? PyErr_NoMemory() : tree_dict(self->reader, &tree, options.temporal);
        report_tree_release(&tree);
    }
    parsed_filter_release(&parsed);
    Py_DECREF(empty);
    return result;
}

/* --- locations and pprof ------------------------------------------------------------------ */

static PyObject *location_tuple(const struct capture_reader *reader,
                                const struct report_location *row)
{
    const struct capture_frame *frame = row->frame_id ? capture_reader_frame(reader, row->frame_id)
                                                      : NULL;
    PyObject *function = frame ? capture_string_object(reader, frame->function_sid)
                               : PyUnicode_FromString("<no Python frame>");
    PyObject *file = capture_string_object(reader, frame ? frame->file_sid : 0);
    if (!function || !file) {
        Py_XDECREF(function);
        Py_XDECREF(file);
        return NULL;
    }
    return Py_BuildValue("NNIKKKKKKKK", function, file, frame ? frame->line : 0,
                         (unsigned long long)row->selected.bytes,
                         (unsigned long long)row->selected.count,
                         (unsigned long long)row->leaked.bytes,
                         (unsigned long long)row->leaked.count,
                         (unsigned long long)row->total.bytes,
                         (unsigned long long)row->total.count,
                         (unsigned long long)row->peak.bytes,
                         (unsigned long long)row->peak.count);
}

/* Parses (selection, thread, include, exclude) keywords plus extra ones. */
static int parse_filter_arguments(PyObject *args, PyObject *kwargs, const char *format,
                                  char **keywords, struct parsed_filter *parsed,
                                  PyObject **path_bytes)
{
    const char *selection = "peak";
    PyObject *thread = Py_None, *include = NULL, *exclude = NULL;
    PyObject *empty = PyTuple_New(0);
    memset(parsed, 0, sizeof *parsed);
    include = exclude = empty;
    int ok = empty && (path_bytes ? PyArg_ParseTupleAndKeywords(
                                        args, kwargs, format, keywords, PyUnicode_FSConverter,
                                        path_bytes, &selection, &thread, &include, &exclude)
                                  : PyArg_ParseTupleAndKeywords(args, kwargs, format, keywords,
                                                                &selection, &thread, &include,
                                                                &exclude));
    int result = ok ? filter_of(selection, thread, include, exclude, parsed) : -1;
    Py_XDECREF(empty);
    return result;
}

static PyObject *collection_locations(struct report_collection_object *self, PyObject *args,
                                      PyObject *kwargs)
{
    if (check_ready(self) < 0) {
        return NULL;
    }
    static char *keywords[] = {"selection", "thread", "include", "exclude", NULL};
    struct parsed_filter parsed;
    PyObject *list = NULL;
    if (parse_filter_arguments(args, kwargs, "|$sOOO", keywords, &parsed, NULL) == 0) {
        struct report_location *rows = NULL;
        size_t count = 0;
        if (report_locations(self->collection, &parsed.filter, &rows, &count) < 0) {
            PyErr_NoMemory();
        } else {
            list = PyList_New((Py_ssize_t)count);
        }
        for (size_t i = 0; list && i < count; i++) {
            PyObject *item = location_tuple(self->reader, &rows[i]);
            if (!item) {
                Py_CLEAR(list);
                break;
            }
            PyList_SET_ITEM(list, (Py_ssize_t)i, item);
        }
        free(rows);
    }
    parsed_filter_release(&parsed);
    return list;
}

static PyObject *collection_export_pprof(struct report_collection_object *self, PyObject *args,
                                         PyObject *kwargs)
{
    if (check_ready(self) < 0) {
        return NULL;
    }
    static char *keywords[] = {"path", "selection", "thread", "include", "exclude", NULL};
    struct parsed_filter parsed;
    PyObject *path_bytes = NULL, *result = NULL;
    if (parse_filter_arguments(args, kwargs, "O&|$sOOO", keywords, &parsed, &path_bytes) == 0) {
        struct capture_error error;
        memset(&error, 0, sizeof error);
        int status;
        Py_BEGIN_ALLOW_THREADS
        status = export_pprof(self->collection, &parsed.filter, PyBytes_AS_STRING(path_bytes),
                              &error);
        Py_END_ALLOW_THREADS
        result = status < 0 ? raise_report_error(&error, PyBytes_AS_STRING(path_bytes))
                            : Py_NewRef(Py_None);
    }
    Py_XDECREF(path_bytes);
    parsed_filter_release(&parsed);
    return result;
}

/* --- the type ------------------------------------------------------------------------------------ */

static PyMethodDef collection_methods[] = {
    {"header", (PyCFunction)collection_header, METH_NOARGS,
     "header() -> dict: pid, command, python_version, sample_rate, sample_interval,\n"
     "flags (HEADER_FLAG_* bits), truncated, truncation_note."},
    {"summary", (PyCFunction)collection_summary, METH_NOARGS,
     "summary() -> dict: peak_bytes, peak_count, peak_time_ns, end_time_ns, total_bytes,\n"
     "total_count, snapshot_count, bucket_width_ns, bucket_count."},
    {"threads", (PyCFunction)collection_threads, METH_NOARGS,
     "threads() -> [(thread_id, native_tid, name)]."},
    {"series", (PyCFunction)collection_series, METH_O,
     "series('heap' | 'rss' | 'gc') -> [(time_ns, value)]."},
    {"tree", (PyCFunction)(void (*)(void))collection_tree, METH_VARARGS | METH_KEYWORDS,
     "tree(*, selection='peak', thread=None, include=(), exclude=(), inverted=False,\n"
     "split_threads=False, temporal=False, other_fraction=0.0005, max_nodes=50000) -> dict:\n"
     "nodes (columns), truncated, other_threshold, intervals."},
    {"locations", (PyCFunction)(void (*)(void))collection_locations,
     METH_VARARGS | METH_KEYWORDS,
     "locations(*, selection='peak', thread=None, include=(), exclude=()) -> [(function,\n"
     "file, line, bytes, count, leaked_bytes, leaked_count, total_bytes, total_count,\n"
     "peak_bytes, peak_count)]."},
    {"export_pprof", (PyCFunction)(void (*)(void))collection_export_pprof,
     METH_VARARGS | METH_KEYWORDS,
     "export_pprof(path, *, selection='peak', thread=None, include=(), exclude=())."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject report_collection_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "memlyze._memlyze.ReportCollection",
    .tp_basicsize = sizeof(struct report_collection_object),
    .tp_dealloc = (destructor)collection_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "ReportCollection(path, *, snapshot=0, temporary_threshold=1, range_start_ns=0,\n"
              "range_end_ns=2**64-1, temporal=False, progress=None): one pass over a capture\n"
              "collecting what every report selects from.",
    .tp_methods = collection_methods,
    .tp_init = (initproc)collection_init,
    .tp_new = PyType_GenericNew,
};

int report_binding_add(PyObject *module)
{
    if (PyType_Ready(&report_collection_type) < 0) {
        return -1;
    }
    Py_INCREF(&report_collection_type);
    if (PyModule_AddObject(module, "ReportCollection", (PyObject *)&report_collection_type) < 0) {
        Py_DECREF(&report_collection_type);
        return -1;
    }
    return 0;
}
