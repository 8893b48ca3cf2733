/*
 * cpymemtrace's ReferenceTracing: logs the creation (NEW) and destruction
 * (DEL) of every object of the selected types, with its address, the live
 * count of its type, the type's name, the Python location and the RSS.
 *
 * This file is the Python type behind it (memlyze._memlyze.ReferenceTracer):
 * its arguments, entering and leaving the context, the live counts. How the
 * objects are seen depends on the version: before 3.13 through replaced type
 * slots (reference_tracing_type_slots.c), from 3.13 on through PyRefTracer
 * (reference_tracing_ref_tracer.c). The log's lines are written by
 * reference_tracing_log.c; reference_tracing_internal.h ties them together.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdlib.h>

#include "binding/tracing/reference_tracing_internal.h"
#include "binding/tracing/rss_tracing.h"
#include "binding/tracing/trace_log_file.h"
#include "binding/types/binding.h"
#include "core/format/text_log.h"

struct reference_tracing_state reference_tracing_state;

/* --- the Python type --------------------------------------------------------- */

static int to_name_set(PyObject *names, const char *what, PyObject **set)
{
    if (PyUnicode_Check(names)) {
        PyErr_Format(PyExc_TypeError, "%s must be a sequence of type names, not a str", what);
        return -1;
    }
    PyObject *created = PyFrozenSet_New(names);
    if (!created) {
        return -1;
    }
    PyObject *items = PyObject_GetIter(created);
    PyObject *item;
    int status = items ? 0 : -1;
    while (status == 0 && (item = PyIter_Next(items))) {
        if (!PyUnicode_Check(item)) {
            PyErr_Format(PyExc_TypeError, "%s must hold str type names, not %.100s", what,
                         Py_TYPE(item)->tp_name);
            status = -1;
        }
        Py_DECREF(item);
    }
    Py_XDECREF(items);
    if (status < 0 || PyErr_Occurred()) {
        Py_DECREF(created);
        return -1;
    }
    Py_XSETREF(*set, created);
    return 0;
}

static int tracer_init(ReferenceTracer *tracer, PyObject *args, PyObject *keywords)
{
    static char *keyword_names[] = {"include_builtins", "include_tp_names", "exclude_tp_names",
                                    "gc_collect_on_exit", "message", "filepath", NULL};
    int include_builtins = 0, generation = 2;
    PyObject *include = NULL, *exclude = NULL, *message = Py_None, *directory = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, keywords, "|pOOiOO", keyword_names, &include_builtins,
                                     &include, &exclude, &generation, &message, &directory)) {
        return -1;
    }
#if PY_VERSION_HEX < 0x030D0000
    if (include_builtins) {
        PyErr_SetString(PyExc_NotImplementedError,
                        "ReferenceTracing(include_builtins=True) needs Python 3.13 or later "
                        "(its PyRefTracer sees every object). Before 3.13 memlyze traces objects "
                        "through their type's tp_alloc/tp_free slots, and builtin types (int, "
                        "float, str, tuple, list, dict, frame, ...) reuse objects from free lists "
                        "and bypass those slots, so their counts would be wrong");
        return -1;
    }
#endif
    if (generation < -1 || generation > 2) {
        PyErr_Format(PyExc_ValueError,
                     "gc_collect_on_exit must be -1 (no collection) or a generation 0..2, not %d",
                     generation);
        return -1;
    }
    if (message != Py_None && !PyUnicode_Check(message)) {
        PyErr_SetString(PyExc_TypeError, "message must be a str or None");
        return -1;
    }
    PyObject *empty = PyTuple_New(0);
    int status = to_name_set(include ? include : empty, "include_tp_names", &tracer->include_names);
    if (status == 0) {
        status = to_name_set(exclude ? exclude : empty, "exclude_tp_names", &tracer->exclude_names);
    }
    Py_XDECREF(empty);
    if (status < 0) {
        return -1;
    }
    tracer->include_builtins = include_builtins;
    tracer->gc_generation = generation;
    Py_INCREF(message);
    Py_XSETREF(tracer->message, message);
    Py_INCREF(directory);
    Py_XSETREF(tracer->directory, directory);
    return 0;
}

/* Starts tracing for tracer: slots replaced (3.11) or the tracer set (3.13). */
static int start_tracing(ReferenceTracer *tracer)
{
    reference_tracing_state.owner = tracer;
    reference_tracing_state.events = 0;
#if PY_VERSION_HEX >= 0x030D0000
    if (reference_tracing_start_ref_tracer() < 0) {
        reference_tracing_state.owner = NULL;
        return -1;
    }
    return 0;
#else
    return reference_tracing_replace_slots();
#endif
}

static PyObject *tracer_enter(ReferenceTracer *tracer, PyObject *unused)
{
    (void)unused;
    if (tracer->state != 0) {
        PyErr_SetString(PyExc_RuntimeError, "a ReferenceTracing context can be entered only once");
        return NULL;
    }
    if (reference_tracing_state.owner) {
        PyErr_SetString(PyExc_RuntimeError, "a ReferenceTracing context is active already "
                                            "(they do not nest)");
        return NULL;
    }
    struct text_log *log = malloc(sizeof *log);
    if (!log) {
        return PyErr_NoMemory();
    }
    tracer->depth = rss_tracing_enter_context();
    tracer->log_file_path = trace_log_file_create(log, tracer->directory, "R", tracer->depth);
    if (!tracer->log_file_path) {
        rss_tracing_leave_context();
        free(log);
        return NULL;
    }
    reference_tracing_state.log = log;
    reference_tracing_write_header(tracer);
    if (start_tracing(tracer) < 0) {
        text_log_close(log);
        free(log);
        reference_tracing_state.log = NULL;
        rss_tracing_leave_context();
        return NULL;
    }
    tracer->state = 1;
    Py_INCREF(tracer);
    return (PyObject *)tracer;
}

/* Runs gc.collect(generation) while still tracing. */
static int collect_garbage(int generation)
{
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *result = gc ? PyObject_CallMethod(gc, "collect", "i", generation) : NULL;
    Py_XDECREF(gc);
    Py_XDECREF(result);
    return result ? 0 : -1;
}

static PyObject *tracer_exit(ReferenceTracer *tracer, PyObject *args)
{
    (void)args;
    if (tracer->state != 1) {
        Py_RETURN_FALSE;
    }
    int status = tracer->gc_generation >= 0 ? collect_garbage(tracer->gc_generation) : 0;
#if PY_VERSION_HEX >= 0x030D0000
    reference_tracing_stop_ref_tracer();
#endif
    Py_XSETREF(tracer->final_counts, reference_tracing_current_counts());
    reference_tracing_state.owner = NULL;
    reference_tracing_restore_slots();
    reference_tracing_write_footer(tracer->final_counts);
    reference_tracing_release_references();
    tracer->state = 2;
    rss_tracing_leave_context();
    if (trace_log_file_close(reference_tracing_state.log, tracer->log_file_path) < 0) {
        status = -1;
    }
    free(reference_tracing_state.log);
    reference_tracing_state.log = NULL;
    if (status < 0 || !tracer->final_counts) {
        return NULL;
    }
    Py_RETURN_FALSE;
}

static PyObject *tracer_live_object_counts(ReferenceTracer *tracer, PyObject *unused)
{
    (void)unused;
    if (tracer->state == 1) {
        return reference_tracing_current_counts();
    }
    if (tracer->final_counts) {
        return PyDict_Copy(tracer->final_counts);
    }
    return PyDict_New();
}

static PyObject *tracer_log_file_path(ReferenceTracer *tracer, void *unused)
{
    (void)unused;
    PyObject *path = tracer->log_file_path ? tracer->log_file_path : Py_None;
    Py_INCREF(path);
    return path;
}

static int tracer_traverse(ReferenceTracer *tracer, visitproc visit, void *arg)
{
    Py_VISIT(tracer->include_names);
    Py_VISIT(tracer->exclude_names);
    Py_VISIT(tracer->message);
    Py_VISIT(tracer->directory);
    Py_VISIT(tracer->final_counts);
    return 0;
}

static int tracer_clear(ReferenceTracer *tracer)
{
    Py_CLEAR(tracer->include_names);
    Py_CLEAR(tracer->exclude_names);
    Py_CLEAR(tracer->message);
    Py_CLEAR(tracer->directory);
    Py_CLEAR(tracer->final_counts);
    return 0;
}

static void tracer_dealloc(ReferenceTracer *tracer)
{
    PyObject_GC_UnTrack(tracer);
    tracer_clear(tracer);
    Py_CLEAR(tracer->log_file_path);
    Py_TYPE(tracer)->tp_free((PyObject *)tracer);
}

static PyMethodDef tracer_methods[] = {
    {"__enter__", (PyCFunction)tracer_enter, METH_NOARGS, "Starts tracing; returns self."},
    {"__exit__", (PyCFunction)tracer_exit, METH_VARARGS,
     "Collects garbage (gc_collect_on_exit), stops tracing, restores every slot, writes the "
     "live counts and closes the log."},
    {"live_object_counts", (PyCFunction)tracer_live_object_counts, METH_NOARGS,
     "{'module.qualname': live objects} of the traced types that saw an event (at exit, "
     "once finished)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef tracer_getset[] = {
    {"log_file_path", (getter)tracer_log_file_path, NULL, "The log file (None before __enter__).",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ReferenceTracerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "memlyze._memlyze.ReferenceTracer",
    .tp_doc = "ReferenceTracer(include_builtins=False, include_tp_names=(), exclude_tp_names=(), "
              "gc_collect_on_exit=2, message=None, filepath=None): the engine of "
              "memlyze.cpymemtrace.ReferenceTracing.",
    .tp_basicsize = sizeof(ReferenceTracer),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)tracer_init,
    .tp_dealloc = (destructor)tracer_dealloc,
    .tp_traverse = (traverseproc)tracer_traverse,
    .tp_clear = (inquiry)tracer_clear,
    .tp_methods = tracer_methods,
    .tp_getset = tracer_getset,
};

int reference_tracing_add(PyObject *module)
{
    if (PyType_Ready(&ReferenceTracerType) < 0) {
        return -1;
    }
    Py_INCREF(&ReferenceTracerType);
    if (PyModule_AddObject(module, "ReferenceTracer", (PyObject *)&ReferenceTracerType) < 0) {
        Py_DECREF(&ReferenceTracerType);
        return -1;
    }
    return 0;
}
