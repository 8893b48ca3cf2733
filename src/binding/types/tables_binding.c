/*
 * memlyze._memlyze.CaptureTables(path): a capture's tables as Arrow streams
 * (core/exports/capture_tables.h). tables.table(name) returns an object
 * with __arrow_c_stream__ (the Arrow PyCapsule protocol), which pyarrow's
 * RecordBatchReader.from_stream and DuckDB take without a copy through
 * Python objects. Batches are made on the consumer's calls, GIL-free code.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdlib.h>

#include "binding/types/binding.h"
#include "binding/types/reader_binding_internal.h"
#include "core/exports/capture_tables.h"

struct tables_object {
    PyObject_HEAD
    PyObject *path_bytes;
    struct capture_tables *tables;
};

struct stream_object {
    PyObject_HEAD
    struct ArrowArrayStream *stream; /* NULL once handed over */
};

static PyTypeObject stream_type;

/* --- TableStream ---------------------------------------------------------------- */

static void stream_capsule_destroy(PyObject *capsule)
{
    struct ArrowArrayStream *stream = PyCapsule_GetPointer(capsule, "arrow_array_stream");
    if (!stream) {
        PyErr_Clear();
        return;
    }
    if (stream->release) {
        stream->release(stream);
    }
    free(stream);
}

static PyObject *stream_arrow_c_stream(struct stream_object *self, PyObject *args,
                                       PyObject *keywords)
{
    static char *names[] = {"requested_schema", NULL};
    PyObject *requested = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, keywords, "|O", names, &requested)) {
        return NULL;
    }
    if (!self->stream) {
        PyErr_SetString(PyExc_RuntimeError, "this table's stream was already taken");
        return NULL;
    }
    PyObject *capsule = PyCapsule_New(self->stream, "arrow_array_stream", stream_capsule_destroy);
    if (capsule) {
        self->stream = NULL; /* the capsule owns it now */
    }
    return capsule;
}

static void stream_dealloc(struct stream_object *self)
{
    if (self->stream) {
        if (self->stream->release) {
            self->stream->release(self->stream);
        }
        free(self->stream);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef stream_methods[] = {
    {"__arrow_c_stream__", (PyCFunction)(void (*)(void))stream_arrow_c_stream,
     METH_VARARGS | METH_KEYWORDS, "The stream as an 'arrow_array_stream' PyCapsule (once)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject stream_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "memlyze._memlyze.TableStream",
    .tp_basicsize = sizeof(struct stream_object),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One table of a capture as an Arrow stream (__arrow_c_stream__).",
    .tp_dealloc = (destructor)stream_dealloc,
    .tp_methods = stream_methods,
};

/* --- CaptureTables ----------------------------------------------------------------- */

static int tables_init(struct tables_object *self, PyObject *args, PyObject *keywords)
{
    static char *names[] = {"path", NULL};
    PyObject *path_bytes = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, keywords, "O&", names, PyUnicode_FSConverter,
                                     &path_bytes)) {
        return -1;
    }
    struct capture_error error = {0};
    struct capture_tables *tables;
    Py_BEGIN_ALLOW_THREADS
    tables = capture_tables_open(PyBytes_AS_STRING(path_bytes), &error);
    Py_END_ALLOW_THREADS
    if (!tables) {
        raise_capture_error(&error, path_bytes);
        Py_DECREF(path_bytes);
        return -1;
    }
    capture_tables_release(self->tables);
    Py_XSETREF(self->path_bytes, path_bytes);
    self->tables = tables;
    return 0;
}

static PyObject *tables_table(struct tables_object *self, PyObject *name_object)
{
    const char *name = PyUnicode_AsUTF8(name_object);
    if (!name) {
        return NULL;
    }
    int kind = capture_table_kind_of(name);
    if (kind < 0) {
        return PyErr_Format(PyExc_ValueError, "no table named %R", name_object);
    }
    if (!self->tables) {
        PyErr_SetString(PyExc_ValueError, "CaptureTables is not open");
        return NULL;
    }
    struct ArrowArrayStream *stream = calloc(1, sizeof *stream);
    if (!stream) {
        return PyErr_NoMemory();
    }
    struct capture_error error = {0};
    if (capture_tables_stream(self->tables, (enum capture_table_kind)kind, stream, &error) < 0) {
        free(stream);
        PyErr_SetString(PyExc_RuntimeError, error.message);
        return NULL;
    }
    struct stream_object *result = PyObject_New(struct stream_object, &stream_type);
    if (!result) {
        stream->release(stream);
        free(stream);
        return NULL;
    }
    result->stream = stream;
    return (PyObject *)result;
}

static void tables_dealloc(struct tables_object *self)
{
    capture_tables_release(self->tables);
    Py_XDECREF(self->path_bytes);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *table_names(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    PyObject *names = PyTuple_New(CAPTURE_TABLE_COUNT);
    for (int kind = 0; names && kind < CAPTURE_TABLE_COUNT; kind++) {
        PyObject *name = PyUnicode_FromString(capture_table_name((enum capture_table_kind)kind));
        if (!name) {
            Py_CLEAR(names);
            break;
        }
        PyTuple_SET_ITEM(names, kind, name);
    }
    return names;
}

static PyMethodDef tables_methods[] = {
    {"table", (PyCFunction)tables_table, METH_O,
     "table(name) -> an Arrow stream of one table (the allocations once per CaptureTables)."},
    {"names", (PyCFunction)table_names, METH_NOARGS | METH_STATIC, "The tables' names, in order."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject tables_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "memlyze._memlyze.CaptureTables",
    .tp_basicsize = sizeof(struct tables_object),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "CaptureTables(path): a capture's tables as Arrow streams.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)tables_init,
    .tp_dealloc = (destructor)tables_dealloc,
    .tp_methods = tables_methods,
};

int tables_binding_add(PyObject *module)
{
    if (PyType_Ready(&stream_type) < 0 || PyType_Ready(&tables_type) < 0) {
        return -1;
    }
    Py_INCREF(&tables_type);
    if (PyModule_AddObject(module, "CaptureTables", (PyObject *)&tables_type) < 0) {
        Py_DECREF(&tables_type);
        return -1;
    }
    return 0;
}
