/*
 * ReferenceTracing from 3.13 on: PyRefTracer reports the creation and
 * destruction of every object, so no slot is replaced and builtin types can
 * be traced too (include_builtins). Empty below 3.13, and untested until a
 * 3.13 interpreter builds memlyze. See reference_tracing_internal.h.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "binding/tracing/reference_tracing_internal.h"
#include "binding/tracing/type_slot_table.h"

#if PY_VERSION_HEX >= 0x030D0000
/* 3.13+: PyRefTracer reports every creation and destruction. UNTESTED. */
static int reference_tracer_callback(PyObject *object, PyRefTracerEvent event, void *data)
{
    (void)data;
    PyTypeObject *type = Py_TYPE(object);
    struct type_slot_entry *entry = type_slot_table_find(&reference_tracing_state.table, type);
    if (!entry) {
        if (!reference_tracing_state.owner->include_builtins &&
            !(type->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
            return 0;
        }
        entry = type_slot_table_add(&reference_tracing_state.table, type);
        if (!entry) {
            return 0;
        }
        Py_INCREF(type);
    }
    entry->live += event == PyRefTracer_CREATE ? 1 : -1;
    entry->created += event == PyRefTracer_CREATE;
    reference_tracing_log_object(event == PyRefTracer_CREATE ? "NEW:\t" : "DEL:\t", object, type,
                                 entry->live);
    return 0;
}

/* See reference_tracing_internal.h. */
int reference_tracing_start_ref_tracer(void)
{
    return PyRefTracer_SetTracer(reference_tracer_callback, NULL);
}

/* See reference_tracing_internal.h. */
void reference_tracing_stop_ref_tracer(void)
{
    PyRefTracer_SetTracer(NULL, NULL);
}
#endif /* 3.13 and later */

