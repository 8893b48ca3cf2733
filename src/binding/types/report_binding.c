/*
 * The report engine from Python: the ReportCollection type. Construction
 * reads the whole capture once (GIL released, an optional progress callable
 * called at each chunk with (bytes_read, file_bytes)); the methods here
 * return what was collected as it is (header, summary, threads, series).
 * The methods that build from it are in report_tree_binding.c,
 * report_locations_binding.c and report_export_binding.c. A thin layer over
 * capture_report.h.
 */
#include "binding/types/report_binding_internal.h"

#include <errno.h>
#include <string.h>

#include "binding/types/binding.h"
#include "binding/types/progress_callback.h"
#include "binding/types/python_values.h"
#include "binding/types/ring_header.h"

/* --- readiness and errors ----------------------------------------------------- */

int collection_check_ready(const struct report_collection_object *self)
{
    if (self->collection) {
        return 0;
    }
    PyErr_SetString(PyExc_RuntimeError, "ReportCollection was not initialised with a capture");
    return -1;
}

PyObject *raise_report_error(const struct capture_error *error, const char *path)
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

/* --- construction --------------------------------------------------------------------- */

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
        options.progress = progress_call_python;
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
    if (collection_check_ready(self) < 0) {
        return NULL;
    }
    const struct capture_header *header = capture_reader_header(self->reader);
    const char *note = capture_reader_truncation_note(self->reader);
    PyObject *dict = PyDict_New();
    if (!dict || dict_put(dict, "pid", unsigned_object(header->pid)) < 0 ||
        dict_put(dict, "parent_pid", header->parent_pid ? unsigned_object(header->parent_pid)
                                                        : Py_NewRef(Py_None)) < 0 ||
        dict_put(dict, "command", PyUnicode_DecodeUTF8(header->command,
                                                       (Py_ssize_t)header->command_size,
                                                       "replace")) < 0 ||
        dict_put(dict, "python_version",
                 PyUnicode_DecodeUTF8(header->python_version,
                                      (Py_ssize_t)header->python_version_size, "replace")) < 0 ||
        dict_put(dict, "sample_rate", PyFloat_FromDouble(header->sample_rate)) < 0 ||
        dict_put(dict, "sample_interval", unsigned_object(header->sample_interval)) < 0 ||
        dict_put(dict, "flags", unsigned_object(header->flags)) < 0 ||
        dict_put(dict, "start_time_ns", unsigned_object(header->start_time_ns)) < 0 ||
        dict_put(dict, "ring", ring_header_object(header)) < 0 ||
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
    if (collection_check_ready(self) < 0) {
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
    if (collection_check_ready(self) < 0) {
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
    if (collection_check_ready(self) < 0) {
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

/* --- the type ------------------------------------------------------------------------ */

static PyMethodDef collection_methods[] = {
    {"header", (PyCFunction)collection_header, METH_NOARGS,
     "header() -> dict: pid, parent_pid, command, python_version, sample_rate, sample_interval,\n"
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
     "split_threads=False, temporal=False, other_fraction=0.0005, max_nodes=50000,\n"
     "max_folded_fraction=0.0, all_native_frames=False, mark_trimmed_frames=False) -> dict:\n"
     "nodes (columns; trimmed: a native frame trimmed paths leave out, marked with\n"
     "all_native_frames and mark_trimmed_frames), truncated, other_threshold, folded_count,\n"
     "folded_bytes, intervals."},
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
