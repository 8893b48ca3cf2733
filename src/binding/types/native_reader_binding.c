/* Native and merged stacks for the reader binding (CaptureFile). */
#include "binding/types/native_reader_binding.h"

#include <stdio.h>
#include <string.h>

#include "core/base/byte_buffer.h"
#include "core/analysis/merged_stack.h"

#define INLINE_FRAMES_LIMIT 32

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

/* --- merging (merged_stack.c) --------------------------------------------------- */

/* Appends (function, file, line, kind) for one merged frame to list. */
static int append_merged(PyObject *list, const struct merged_frame *frame)
{
    char text[96];
    const char *file;
    const char *function = merged_frame_display_name(frame, text, sizeof text, &file);
    const char *kind = frame->kind == MERGED_FRAME_PYTHON ? "python" : "native";
    PyObject *entry = Py_BuildValue("(NNIs)", capture_text(function), capture_text(file),
                                    frame->line, kind);
    int result = entry ? PyList_Append(list, entry) : -1;
    Py_XDECREF(entry);
    return result;
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
    struct byte_buffer frames;
    memset(&frames, 0, sizeof frames);
    if (merged_stack_build(reader, native_stack_id ? *symbolizer : NULL, NULL, stack_id,
                           native_stack_id, &frames) < 0) {
        byte_buffer_release(&frames);
        return PyErr_NoMemory();
    }
    const struct merged_frame *merged = (const struct merged_frame *)frames.data;
    size_t count = frames.size / sizeof *merged;
    PyObject *list = PyList_New(0);
    for (size_t index = 0; list && index < count; index++) {
        if (append_merged(list, &merged[index]) < 0) {
            Py_CLEAR(list);
        }
    }
    byte_buffer_release(&frames);
    return list;
}
