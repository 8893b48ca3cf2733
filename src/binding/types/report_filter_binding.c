/*
 * The selector arguments every ReportCollection method that selects
 * allocations takes (selection, thread, include, exclude), turned into the
 * report_filter of report_tree.h. The filter points into the UTF-8 texts of
 * the patterns, so parsed_filter keeps their str objects alive until it is
 * released.
 */
#include "binding/types/report_binding_internal.h"

#include <string.h>

static const char *const selection_names[ANALYSIS_SELECTION_COUNT] = {
    "peak", "leaks", "temporary", "snapshot", "range", "total",
};

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

void parsed_filter_release(struct parsed_filter *parsed)
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

int filter_of(const char *selection, PyObject *thread, PyObject *include, PyObject *exclude,
              struct parsed_filter *parsed)
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

int parse_filter_arguments(PyObject *args, PyObject *kwargs, const char *format,
                           char **keywords, struct parsed_filter *parsed, PyObject **path_bytes)
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
