/*
 * ReferenceTracing from 3.13 on: PyRefTracer reports the creation and
 * destruction of every object, so no slot is replaced and builtin types can
 * be traced too (include_builtins). Empty below 3.13. See
 * reference_tracing_internal.h.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "binding/tracing/reference_tracing_internal.h"
#include "binding/tracing/type_slot_table.h"

#if PY_VERSION_HEX >= 0x030D0000
/* The include and exclude lists as tuples, made before the tracer is set:
 * the tracer compares static types' C names with their items, creating no
 * object (which would call the tracer again). */
static PyObject *include_tuple, *exclude_tuple;

/* Whether names (a tuple of str) holds the C string name. */
static int tuple_holds_text(PyObject *names, const char *name)
{
    for (Py_ssize_t index = 0; index < PyTuple_GET_SIZE(names); index++) {
        if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(names, index), name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Whether a list names type: a Python class by its name or qualified name
 * (set), a static type by its tp_name, whole or after the last dot (names:
 * the same list as a tuple). */
static int list_names(PyObject *set, PyObject *names, PyTypeObject *type)
{
    if (type->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        PyHeapTypeObject *heap_type = (PyHeapTypeObject *)type;
        return reference_tracing_set_holds(set, heap_type->ht_name) ||
               reference_tracing_set_holds(set, heap_type->ht_qualname);
    }
    const char *dot = strrchr(type->tp_name, '.');
    return tuple_holds_text(names, type->tp_name) || (dot && tuple_holds_text(names, dot + 1));
}

/* Builtin (static) types only with include_builtins; then the exclude and
 * include lists, as below 3.13. */
static int type_is_selected(const ReferenceTracer *tracer, PyTypeObject *type)
{
    if (!tracer->include_builtins && !(type->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
        return 0;
    }
    if (list_names(tracer->exclude_names, exclude_tuple, type)) {
        return 0;
    }
    return PySet_GET_SIZE(tracer->include_names) == 0 ||
           list_names(tracer->include_names, include_tuple, type);
}

static int reference_tracer_callback(PyObject *object, PyRefTracerEvent event, void *data)
{
    (void)data;
    PyTypeObject *type = Py_TYPE(object);
    if (!reference_tracing_state.owner) {
        return 0;
    }
    struct type_slot_entry *entry = type_slot_table_find(&reference_tracing_state.table, type);
    if (!entry) {
        entry = type_slot_table_add(&reference_tracing_state.table, type);
        if (!entry) {
            return 0;
        }
        Py_INCREF(type);
        /* Decided once per type; a type not selected stays in the table. */
        entry->selected = type_is_selected(reference_tracing_state.owner, type);
    }
    if (!entry->selected) {
        return 0;
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
    ReferenceTracer *tracer = reference_tracing_state.owner;
    Py_XSETREF(include_tuple, PySequence_Tuple(tracer->include_names));
    Py_XSETREF(exclude_tuple, PySequence_Tuple(tracer->exclude_names));
    if (!include_tuple || !exclude_tuple ||
        PyRefTracer_SetTracer(reference_tracer_callback, NULL) < 0) {
        Py_CLEAR(include_tuple);
        Py_CLEAR(exclude_tuple);
        return -1;
    }
    return 0;
}

/* See reference_tracing_internal.h. */
void reference_tracing_stop_ref_tracer(void)
{
    PyRefTracer_SetTracer(NULL, NULL);
    Py_CLEAR(include_tuple);
    Py_CLEAR(exclude_tuple);
}
#endif /* 3.13 and later */
