/*
 * Reading captures from Python: the analyze_capture() function, the
 * CaptureError exception, and the registration of everything the reader
 * binding adds to the module. A thin layer over capture_reader and
 * capture_analysis: the reading and the analysis run with the GIL released.
 * CaptureFile, its records() iterator and the conversion of the analysis to
 * Python objects live in the other reader_*_binding.c files.
 */
#include "binding/types/reader_binding_internal.h"

#include <errno.h>

#include "binding/types/binding.h"
#include "binding/types/progress_callback.h"

/* Set once by reader_binding_add (the module is single-phase, m_size -1),
 * read under the GIL. */
static PyObject *capture_error_type; /* CaptureError */

/* --- errors and opening ------------------------------------------------------------ */

PyObject *raise_capture_error(const struct capture_error *error, PyObject *path_bytes)
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

int open_and_analyse(PyObject *path_bytes, struct capture_reader **reader,
                     struct capture_analysis **analysis)
{
    struct analysis_options options;
    analysis_options_init(&options);
    return open_and_analyse_with(path_bytes, &options, reader, analysis);
}

int open_and_analyse_with(PyObject *path_bytes, const struct analysis_options *options,
                          struct capture_reader **reader, struct capture_analysis **analysis)
{
    const char *path = PyBytes_AS_STRING(path_bytes);
    struct capture_error error;
    struct capture_reader *opened;
    struct capture_analysis *analysed = NULL;
    Py_BEGIN_ALLOW_THREADS
    opened = capture_reader_open(path, &error);
    if (opened) {
        analysed = capture_analysis_run_with(opened, options, &error);
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

/* --- analyze_capture() ------------------------------------------------------------- */

static PyObject *analyze_capture(PyObject *module, PyObject *args, PyObject *kwargs)
{
    (void)module;
    static char *keywords[] = {"path", "top", "progress", NULL};
    PyObject *path_bytes = NULL, *progress = Py_None;
    Py_ssize_t top = 10;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&|n$O:analyze_capture", keywords,
                                     PyUnicode_FSConverter, &path_bytes, &top, &progress)) {
        return NULL;
    }
    struct analysis_options options;
    analysis_options_init(&options);
    if (progress != Py_None) {
        options.progress = progress_call_python;
        options.progress_argument = progress;
    }
    PyObject *result = NULL;
    struct capture_reader *reader;
    struct capture_analysis *analysis;
    if (top < 0) {
        PyErr_SetString(PyExc_ValueError, "top must not be negative");
    } else if (open_and_analyse_with(path_bytes, &options, &reader, &analysis) == 0) {
        result = capture_summary_dict(reader, analysis, top);
        location_symbolizer_release();
        capture_analysis_free(analysis);
        capture_reader_close(reader);
    }
    Py_DECREF(path_bytes);
    return result;
}

/* --- registration ------------------------------------------------------------------ */

static PyMethodDef reader_methods[] = {
    {"analyze_capture", (PyCFunction)(void (*)(void))analyze_capture,
     METH_VARARGS | METH_KEYWORDS,
     "analyze_capture(path, top=10, *, progress=None) -> dict: the figures of\n"
     "`memlyze stats --json`"
     "(SPEC section 2) plus truncated, truncation_note, unmatched_frees, threads,\n"
     "rss_samples and start_time_ns. The GIL is released while reading; progress,\n"
     "a callable, is called at each chunk with (bytes_read, file_bytes)."},
    {NULL, NULL, 0, NULL},
};

int reader_binding_add(PyObject *module)
{
    if (record_iterator_prepare() < 0 || capture_file_type_add(module) < 0) {
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
