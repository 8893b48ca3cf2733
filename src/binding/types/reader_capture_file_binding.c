/*
 * The CaptureFile type: a capture read and analysed once when the object is
 * made, then queried for its header, stacks, threads and the allocations
 * held at the peak or at the end. records() is in reader_records_binding.c;
 * the dicts it shares with analyze_capture() in reader_summary_binding.c.
 */
#include "binding/types/reader_binding_internal.h"

#include "binding/types/native_reader_binding.h"
#include "binding/types/python_values.h"

/* --- life cycle -------------------------------------------------------------------- */

int capture_file_check_open(const struct capture_file_object *self)
{
    if (!self->reader) {
        PyErr_SetString(PyExc_ValueError, "operation on a closed CaptureFile");
        return -1;
    }
    return 0;
}

static PyObject *capture_file_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"path", NULL};
    PyObject *path_bytes = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&:CaptureFile", keywords,
                                     PyUnicode_FSConverter, &path_bytes)) {
        return NULL;
    }
    struct capture_file_object *self = (struct capture_file_object *)type->tp_alloc(type, 0);
    if (!self) {
        Py_DECREF(path_bytes);
        return NULL;
    }
    self->path_bytes = path_bytes;
    if (open_and_analyse(path_bytes, &self->reader, &self->analysis) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

/* Frees the reader and the analysis; the object stays, closed. */
static void capture_file_release(struct capture_file_object *self)
{
    native_symbolizer_close(self->symbolizer);
    self->symbolizer = NULL;
    capture_analysis_free(self->analysis);
    capture_reader_close(self->reader);
    self->analysis = NULL;
    self->reader = NULL;
}

static void capture_file_dealloc(struct capture_file_object *self)
{
    capture_file_release(self);
    Py_XDECREF(self->path_bytes);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *capture_file_close(struct capture_file_object *self, PyObject *unused)
{
    (void)unused;
    capture_file_release(self);
    Py_RETURN_NONE;
}

static PyObject *capture_file_enter(struct capture_file_object *self, PyObject *unused)
{
    (void)unused;
    if (capture_file_check_open(self) < 0) {
        return NULL;
    }
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *capture_file_exit(struct capture_file_object *self, PyObject *args)
{
    (void)args;
    capture_file_release(self);
    Py_RETURN_FALSE;
}

/* --- queries ----------------------------------------------------------------------- */

static PyObject *capture_file_header(struct capture_file_object *self, void *closure)
{
    (void)closure;
    return capture_file_check_open(self) < 0 ? NULL : capture_header_dict(self->reader);
}

/* native_stack(native_stack_id): see native_stack_frames(). */
static PyObject *capture_file_native_stack(struct capture_file_object *self, PyObject *argument)
{
    unsigned long id = capture_file_check_open(self) < 0 ? 0 : PyLong_AsUnsignedLong(argument);
    if (PyErr_Occurred()) {
        return NULL;
    }
    return native_stack_frames(self->reader, &self->symbolizer,
                               id > UINT32_MAX ? UINT32_MAX : (uint32_t)id);
}

/* merged_stack(stack_id, native_stack_id): see merged_stack_frames(). */
static PyObject *capture_file_merged_stack(struct capture_file_object *self, PyObject *args)
{
    unsigned int stack_id;
    unsigned int native_stack_id;
    if (capture_file_check_open(self) < 0 ||
        !PyArg_ParseTuple(args, "II:merged_stack", &stack_id, &native_stack_id)) {
        return NULL;
    }
    return merged_stack_frames(self->reader, &self->symbolizer, stack_id, native_stack_id);
}

/* stack(stack_id): [(function, file, line), ...] innermost first. */
static PyObject *capture_file_stack(struct capture_file_object *self, PyObject *argument)
{
    if (capture_file_check_open(self) < 0) {
        return NULL;
    }
    unsigned long long stack_id = PyLong_AsUnsignedLongLong(argument);
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (stack_id > capture_reader_stack_count(self->reader)) {
        return PyErr_Format(PyExc_ValueError, "stack id %llu is not in this capture", stack_id);
    }
    PyObject *frames = PyList_New(0);
    const struct capture_stack *stack = capture_reader_stack(self->reader, (uint32_t)stack_id);
    for (; frames && stack; stack = capture_reader_stack(self->reader, stack->parent_stack_id)) {
        const struct capture_frame *frame = capture_reader_frame(self->reader, stack->frame_id);
        PyObject *function = capture_string_object(self->reader, frame->function_sid);
        PyObject *file = capture_string_object(self->reader, frame->file_sid);
        PyObject *entry = function && file ? Py_BuildValue("(OOI)", function, file, frame->line)
                                           : NULL;
        if (!entry || PyList_Append(frames, entry) < 0) {
            Py_CLEAR(frames);
        }
        Py_XDECREF(entry);
        Py_XDECREF(function);
        Py_XDECREF(file);
    }
    return frames;
}

/* [(stack_id, bytes, count), ...] largest first, for a view. */
static PyObject *stack_entries_list(struct capture_file_object *self, enum analysis_stack_view view)
{
    if (capture_file_check_open(self) < 0) {
        return NULL;
    }
    struct analysis_stack_entry *entries;
    size_t count;
    if (capture_analysis_stack_entries(self->analysis, view, &entries, &count) < 0) {
        return PyErr_NoMemory();
    }
    PyObject *list = PyList_New((Py_ssize_t)count);
    for (size_t index = 0; list && index < count; index++) {
        PyObject *entry = Py_BuildValue("(IKK)", entries[index].stack_id,
                                        (unsigned long long)entries[index].bytes,
                                        (unsigned long long)entries[index].count);
        if (!entry) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)index, entry);
    }
    capture_analysis_stack_entries_free(entries, count);
    return list;
}

static PyObject *capture_file_peak_allocations(struct capture_file_object *self, PyObject *unused)
{
    (void)unused;
    return stack_entries_list(self, ANALYSIS_STACKS_AT_PEAK);
}

static PyObject *capture_file_leaked_allocations(struct capture_file_object *self, PyObject *unused)
{
    (void)unused;
    return stack_entries_list(self, ANALYSIS_STACKS_LEAKED);
}

static PyObject *capture_file_threads(struct capture_file_object *self, PyObject *unused)
{
    (void)unused;
    return capture_file_check_open(self) < 0 ? NULL : capture_threads_list(self->reader);
}

/* --- the type ---------------------------------------------------------------------- */

static PyMethodDef capture_file_methods[] = {
    {"records", (PyCFunction)capture_file_records, METH_NOARGS,
     "records() -> iterator of (kind, thread_id, address, size, allocator, stack_id,\n"
     "native_stack_id)\n"
     "for every allocation ('alloc', allocator name) and free ('free', and 'free',\n"
     "'munmap' or 'pymalloc'), in file order."},
    {"stack", (PyCFunction)capture_file_stack, METH_O,
     "stack(stack_id) -> [(function, file, line), ...], innermost first."},
    {"native_stack", (PyCFunction)capture_file_native_stack, METH_O,
     "native_stack(native_stack_id) -> [(function or None, file, line, ip, object, note), ...],\n"
     "innermost first, symbolised now (note: why a frame is unresolved, or 'inlined')."},
    {"merged_stack", (PyCFunction)capture_file_merged_stack, METH_VARARGS,
     "merged_stack(stack_id, native_stack_id) -> [(function, file, line, kind), ...], innermost\n"
     "first: native frames with the Python frames in place of the interpreter's evaluation\n"
     "loop calls; kind is 'python' or 'native'."},
    {"peak_allocations", (PyCFunction)capture_file_peak_allocations, METH_NOARGS,
     "peak_allocations() -> [(stack_id, bytes, count), ...] held at the peak, largest first."},
    {"leaked_allocations", (PyCFunction)capture_file_leaked_allocations, METH_NOARGS,
     "leaked_allocations() -> [(stack_id, bytes, count), ...] live at the end, largest first."},
    {"threads", (PyCFunction)capture_file_threads, METH_NOARGS,
     "threads() -> [{'thread_id', 'native_tid', 'name'}, ...]."},
    {"close", (PyCFunction)capture_file_close, METH_NOARGS, "Frees the capture's tables."},
    {"__enter__", (PyCFunction)capture_file_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)capture_file_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef capture_file_getset[] = {
    {"header", (getter)capture_file_header, NULL,
     "The file header: pid, command, Python version, options, start time, truncated.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject capture_file_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "memlyze._memlyze.CaptureFile",
    .tp_doc = "CaptureFile(path): a capture, read and analysed once (the GIL released).\n"
              "Raises OSError when the file cannot be read, CaptureError when it is\n"
              "damaged or from a newer memlyze.",
    .tp_basicsize = sizeof(struct capture_file_object),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = capture_file_new,
    .tp_dealloc = (destructor)capture_file_dealloc,
    .tp_methods = capture_file_methods,
    .tp_getset = capture_file_getset,
};

int capture_file_type_add(PyObject *module)
{
    if (PyType_Ready(&capture_file_type) < 0) {
        return -1;
    }
    Py_INCREF(&capture_file_type);
    if (PyModule_AddObject(module, "CaptureFile", (PyObject *)&capture_file_type) < 0) {
        Py_DECREF(&capture_file_type);
        return -1;
    }
    return 0;
}
