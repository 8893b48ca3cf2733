/* Native and merged stacks for the reader binding (CaptureFile). */
#include "native_reader_binding.h"

#include <stdio.h>
#include <string.h>

#define INLINE_FRAMES_LIMIT 32
#define FRAME_FLAG_ENTRY 1u
#define EVALUATION_FUNCTION "_PyEval_EvalFrameDefault"

static PyObject *capture_text(const char *text)
{
    return PyUnicode_DecodeUTF8(text ? text : "", (Py_ssize_t)strlen(text ? text : ""), "replace");
}

/* The symbolizer, made on first use; NULL with MemoryError. */
static struct native_symbolizer *symbolizer_get(const struct capture_reader *reader,
                                                struct native_symbolizer **symbolizer)
{
    if (!*symbolizer) {
        *symbolizer = native_symbolizer_open(reader);
        if (!*symbolizer) {
            PyErr_NoMemory();
        }
    }
    return *symbolizer;
}

/* Appends (function or None, file, line, ip, object, note) to list. */
static int append_native_frame(PyObject *list, const struct native_symbol_frame *frame)
{
    const char *note = frame->status != NATIVE_SYMBOL_RESOLVED
                           ? native_symbol_status_text(frame->status)
                           : (frame->inlined ? "inlined" : "");
    PyObject *function = frame->function ? capture_text(frame->function) : Py_NewRef(Py_None);
    PyObject *entry = function ? Py_BuildValue("(NNIKNN)", function, capture_text(frame->file),
                                               frame->line, (unsigned long long)frame->ip,
                                               capture_text(frame->object), capture_text(note))
                               : NULL;
    int result = entry ? PyList_Append(list, entry) : -1;
    Py_XDECREF(entry);
    return result;
}

PyObject *native_stack_frames(const struct capture_reader *reader,
                              struct native_symbolizer **symbolizer, uint32_t native_stack_id)
{
    if (native_stack_id > capture_reader_native_stack_count(reader)) {
        return PyErr_Format(PyExc_ValueError, "native stack id %u is not in this capture",
                            native_stack_id);
    }
    if (!symbolizer_get(reader, symbolizer)) {
        return NULL;
    }
    PyObject *list = PyList_New(0);
    const struct capture_native_stack *stack = capture_reader_native_stack(reader, native_stack_id);
    for (; list && stack;
         stack = capture_reader_native_stack(reader, stack->parent_native_stack_id)) {
        struct native_symbol_frame frames[INLINE_FRAMES_LIMIT];
        size_t count = native_symbolizer_resolve(*symbolizer, stack->ip, 1, frames,
                                                 INLINE_FRAMES_LIMIT);
        for (size_t index = 0; list && index < count; index++) {
            if (append_native_frame(list, &frames[index]) < 0) {
                Py_CLEAR(list);
            }
        }
    }
    return list;
}

/* --- merging ------------------------------------------------------------------ */

struct merge_state {
    const struct capture_reader *reader;
    const struct capture_stack *python; /* the next Python frame to place */
    PyObject *list;
};

static int append_merged(struct merge_state *state, PyObject *function, PyObject *file,
                         uint32_t line, const char *kind)
{
    PyObject *entry = function && file ? Py_BuildValue("(OOIs)", function, file, line, kind) : NULL;
    int result = entry ? PyList_Append(state->list, entry) : -1;
    Py_XDECREF(entry);
    Py_XDECREF(function);
    Py_XDECREF(file);
    return result;
}

/* Places the next Python frame; returns its flags, or -1 on error. */
static long place_python_frame(struct merge_state *state)
{
    const struct capture_reader *reader = state->reader;
    const struct capture_frame *frame = capture_reader_frame(reader, state->python->frame_id);
    state->python = capture_reader_stack(reader, state->python->parent_stack_id);
    PyObject *function = capture_text(capture_reader_string(reader, frame->function_sid, NULL));
    PyObject *file = capture_text(capture_reader_string(reader, frame->file_sid, NULL));
    if (append_merged(state, function, file, frame->line, "python") < 0) {
        return -1;
    }
    return (long)frame->flags;
}

/* Places the Python frames one evaluation loop call ran. Returns 0 or -1. */
static int place_evaluation(struct merge_state *state)
{
    while (state->python) {
        long flags = place_python_frame(state);
        if (flags < 0) {
            return -1;
        }
        if (flags & FRAME_FLAG_ENTRY) {
            break;
        }
    }
    return 0;
}

static int place_native_frame(struct merge_state *state, const struct native_symbol_frame *frame)
{
    if (frame->function && strcmp(frame->function, EVALUATION_FUNCTION) == 0 && state->python) {
        return place_evaluation(state);
    }
    if (frame->function) {
        return append_merged(state, capture_text(frame->function), capture_text(frame->file),
                             frame->line, "native");
    }
    char text[96];
    snprintf(text, sizeof text, "<unresolved 0x%llx (%s)>", (unsigned long long)frame->ip,
             native_symbol_status_text(frame->status));
    return append_merged(state, capture_text(text), capture_text(frame->object), 0, "native");
}

PyObject *merged_stack_frames(const struct capture_reader *reader,
                              struct native_symbolizer **symbolizer, uint32_t stack_id,
                              uint32_t native_stack_id)
{
    if (stack_id > capture_reader_stack_count(reader)) {
        return PyErr_Format(PyExc_ValueError, "stack id %u is not in this capture", stack_id);
    }
    if (native_stack_id > capture_reader_native_stack_count(reader)) {
        return PyErr_Format(PyExc_ValueError, "native stack id %u is not in this capture",
                            native_stack_id);
    }
    if (native_stack_id && !symbolizer_get(reader, symbolizer)) {
        return NULL;
    }
    struct merge_state state = {reader, capture_reader_stack(reader, stack_id), PyList_New(0)};
    const struct capture_native_stack *native =
        capture_reader_native_stack(reader, native_stack_id);
    for (; state.list && native;
         native = capture_reader_native_stack(reader, native->parent_native_stack_id)) {
        struct native_symbol_frame frames[INLINE_FRAMES_LIMIT];
        size_t count = native_symbolizer_resolve(*symbolizer, native->ip, 1, frames,
                                                 INLINE_FRAMES_LIMIT);
        for (size_t index = 0; state.list && index < count; index++) {
            if (place_native_frame(&state, &frames[index]) < 0) {
                Py_CLEAR(state.list);
            }
        }
    }
    while (state.list && state.python) {
        if (place_python_frame(&state) < 0) {
            Py_CLEAR(state.list);
        }
    }
    return state.list;
}
