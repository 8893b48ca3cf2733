/*
 * ReportCollection.export_pprof(): writes the selected allocations as a
 * pprof profile (export_pprof.h), with the GIL released while it encodes
 * and writes.
 */
#include "binding/types/report_binding_internal.h"

#include <string.h>

#include "core/reports/export_pprof.h"

PyObject *collection_export_pprof(struct report_collection_object *self, PyObject *args,
                                  PyObject *kwargs)
{
    if (collection_check_ready(self) < 0) {
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
