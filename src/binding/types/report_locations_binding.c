/*
 * ReportCollection.locations(): the table of the selected allocations by
 * Python source location, one tuple per row, in the order report_locations()
 * of report_tree.h gives them.
 */
#include "binding/types/report_binding_internal.h"

#include <stdlib.h>

#include "binding/types/python_values.h"
#include "core/reports/report_tree.h"

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

PyObject *collection_locations(struct report_collection_object *self, PyObject *args,
                               PyObject *kwargs)
{
    if (collection_check_ready(self) < 0) {
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
