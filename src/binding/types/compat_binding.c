/*
 * The live table's Python face, for memlyze.tracemalloc and memlyze.mprofile:
 * traces in the shape of _tracemalloc._get_traces(), traced memory, an
 * object's traceback, clearing and peak resetting. Recording itself starts
 * through start_tracking(None, live_table=...) (tracker_binding.c).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "binding/interpreter/object_block.h"
#include "binding/types/binding.h"
#include "core/recording/intern_table.h"
#include "core/recording/live_table.h"
#include "core/recording/recorder.h"
#include "core/base/tracker_memory.h"

#define NAME_SIZE 4096
#define UNKNOWN_FILE "<unknown>"

/* Makes every event recorded so far visible in the live table. */
static int flush_events(void)
{
    if (!recorder_is_active() || !live_table_enabled()) {
        return -1;
    }
    int result;
    Py_BEGIN_ALLOW_THREADS
    result = recorder_flush();
    Py_END_ALLOW_THREADS
    return result;
}

/* Returns a new reference to the (filename, lineno) tuple of a frame. */
static PyObject *frame_tuple(uint32_t frame_id, PyObject *file_names)
{
    uint32_t function_sid = 0;
    uint32_t file_sid = 0;
    uint32_t line = 0;
    intern_frame_lookup(frame_id, &function_sid, &file_sid, &line);
    PyObject *key = PyLong_FromUnsignedLong(file_sid);
    if (!key) {
        return NULL;
    }
    PyObject *name = PyDict_GetItemWithError(file_names, key);
    if (!name && !PyErr_Occurred()) {
        char buffer[NAME_SIZE];
        size_t length = intern_string_copy(file_sid, buffer, sizeof buffer);
        length = length < sizeof buffer ? length : sizeof buffer - 1;
        name = PyUnicode_DecodeUTF8(buffer, (Py_ssize_t)length, "replace");
        if (name && PyDict_SetItem(file_names, key, name) < 0) {
            Py_CLEAR(name);
        }
        Py_XDECREF(name); /* the dict holds it */
    }
    Py_DECREF(key);
    return name ? Py_BuildValue("(OI)", name, line) : NULL;
}

/* Returns a new reference to the frames of a stack, most recent first;
 * (("<unknown>", 0),) for the empty stack, like tracemalloc. */
static PyObject *stack_frames(uint32_t stack_id, PyObject *file_names)
{
    PyObject *frames = PyList_New(0);
    uint32_t parent = 0;
    uint32_t frame_id = 0;
    while (frames && stack_id && intern_stack_lookup(stack_id, &parent, &frame_id)) {
        PyObject *frame = frame_tuple(frame_id, file_names);
        if (!frame || PyList_Append(frames, frame) < 0) {
            Py_XDECREF(frame);
            Py_CLEAR(frames);
            break;
        }
        Py_DECREF(frame);
        stack_id = parent;
    }
    if (frames && PyList_GET_SIZE(frames) == 0) {
        Py_DECREF(frames);
        return Py_BuildValue("((si))", UNKNOWN_FILE, 0);
    }
    PyObject *result = frames ? PyList_AsTuple(frames) : NULL;
    Py_XDECREF(frames);
    return result;
}

/* Returns stack_id's frames through cache (stack id -> frames). */
static PyObject *cached_frames(uint32_t stack_id, PyObject *cache, PyObject *file_names)
{
    PyObject *key = PyLong_FromUnsignedLong(stack_id);
    if (!key) {
        return NULL;
    }
    PyObject *frames = PyDict_GetItemWithError(cache, key);
    if (frames) {
        Py_INCREF(frames);
    } else if (!PyErr_Occurred()) {
        frames = stack_frames(stack_id, file_names);
        if (frames && PyDict_SetItem(cache, key, frames) < 0) {
            Py_CLEAR(frames);
        }
    }
    Py_DECREF(key);
    return frames;
}

/* Appends one (domain, size, frames, total_nframe) tuple per block. */
static int append_traces(PyObject *traces, const struct live_table_block *blocks, size_t count)
{
    PyObject *cache = PyDict_New();
    PyObject *file_names = PyDict_New();
    int result = cache && file_names ? 0 : -1;
    for (size_t index = 0; result == 0 && index < count; index++) {
        PyObject *frames = cached_frames(blocks[index].stack_id, cache, file_names);
        unsigned long long size = blocks[index].size;
        /* total_nframe: the frames the stack had, when cut at the limit */
        Py_ssize_t total = !frames                      ? 0
                           : blocks[index].total_frames ? blocks[index].total_frames
                                                        : PyTuple_GET_SIZE(frames);
        PyObject *trace = frames ? Py_BuildValue("(iKOn)", 0, size, frames, total) : NULL;
        if (!trace || PyList_Append(traces, trace) < 0) {
            result = -1;
        }
        Py_XDECREF(trace);
        Py_XDECREF(frames);
    }
    Py_XDECREF(cache);
    Py_XDECREF(file_names);
    return result;
}

static PyObject *live_traces(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    PyObject *traces = PyList_New(0);
    if (!traces || flush_events() < 0) {
        return traces; /* not tracing: no traces */
    }
    struct live_table_block *blocks = NULL;
    size_t count = 0;
    if (live_table_copy_blocks(&blocks, &count) < 0) {
        Py_DECREF(traces);
        return PyErr_NoMemory();
    }
    int result = append_traces(traces, blocks, count);
    live_table_free_blocks(blocks, count);
    if (result < 0) {
        Py_DECREF(traces);
        return NULL;
    }
    return traces;
}

static PyObject *live_traced_memory(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (flush_events() < 0) {
        return Py_BuildValue("(ii)", 0, 0);
    }
    struct live_table_totals totals;
    live_table_get_totals(&totals);
    return Py_BuildValue("(KK)", (unsigned long long)totals.current_bytes,
                         (unsigned long long)totals.peak_bytes);
}

static PyObject *live_object_frames(PyObject *self, PyObject *object)
{
    (void)self;
    if (flush_events() < 0) {
        Py_RETURN_NONE;
    }
    struct live_table_block block;
    if (!live_table_find(object_block_address(object), &block)) {
        Py_RETURN_NONE;
    }
    PyObject *file_names = PyDict_New();
    PyObject *frames = file_names ? stack_frames(block.stack_id, file_names) : NULL;
    Py_XDECREF(file_names);
    return frames;
}

static PyObject *live_clear(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (flush_events() == 0) {
        live_table_clear();
    }
    Py_RETURN_NONE;
}

static PyObject *live_reset_peak(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (flush_events() == 0) {
        live_table_reset_peak();
    }
    Py_RETURN_NONE;
}

static PyObject *live_flush(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyBool_FromLong(flush_events() == 0);
}

static PyObject *tracker_memory(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyLong_FromUnsignedLongLong(tracker_memory_current());
}

/* What tracemalloc.get_tracemalloc_memory() counts for the standard module,
 * its tables of traces and tracebacks: here the live table and the interned
 * strings, frames and stacks. Not the event buffers, which are bounded (a
 * few blocks per thread) and hold no trace once flushed. */
static PyObject *live_memory(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (flush_events() < 0) {
        return PyLong_FromLong(0);
    }
    return PyLong_FromSize_t(live_table_memory() + intern_tables_memory());
}

static PyMethodDef compat_methods[] = {
    {"live_traces", live_traces, METH_NOARGS,
     "Traces of the live table as (domain, size, frames, total_nframe) tuples."},
    {"live_traced_memory", live_traced_memory, METH_NOARGS,
     "(current, peak) traced bytes of the live table; (0, 0) when off."},
    {"live_object_frames", live_object_frames, METH_O,
     "Frames of the block holding the object, most recent first, or None."},
    {"live_clear", live_clear, METH_NOARGS, "Forget every trace of the live table."},
    {"live_reset_peak", live_reset_peak, METH_NOARGS, "Make the peak the current size."},
    {"live_flush", live_flush, METH_NOARGS,
     "Apply every event recorded so far; False when no live table runs."},
    {"tracker_memory", tracker_memory, METH_NOARGS, "Bytes the tracker itself holds."},
    {"live_memory", live_memory, METH_NOARGS,
     "Bytes of the live table and the interned strings, frames and stacks."},
    {NULL, NULL, 0, NULL},
};

int compat_binding_add(PyObject *module)
{
    return PyModule_AddFunctions(module, compat_methods);
}
