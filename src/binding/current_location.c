#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define Py_BUILD_CORE 1
#include "internal/pycore_frame.h"
#undef Py_BUILD_CORE

#include "current_location.h"

#define LINE_CACHE_SIZE 4096 /* power of two */

struct line_cache_slot {
    const PyCodeObject *code;
    const PyObject *line_table; /* tells a reused code address apart */
    int instruction;
    int line;
};

static struct line_cache_slot line_cache[LINE_CACHE_SIZE];

/* The line of instruction (a code-unit index) in code, through the cache. */
static int cached_line(PyCodeObject *code, int instruction)
{
    uintptr_t key = ((uintptr_t)code >> 4) ^ ((uintptr_t)instruction * 0x9E3779B1u);
    struct line_cache_slot *slot = &line_cache[key & (LINE_CACHE_SIZE - 1)];
    if (slot->code == code && slot->instruction == instruction &&
        slot->line_table == code->co_linetable) {
        return slot->line;
    }
    int line = PyCode_Addr2Line(code, instruction * (int)sizeof(_Py_CODEUNIT));
    slot->code = code;
    slot->line_table = code->co_linetable;
    slot->instruction = instruction;
    slot->line = line;
    return line;
}

#if PY_VERSION_HEX >= 0x030D0000
/* 3.13+ (untested until memlyze builds there): frames hang off the thread
 * state and may run something other than a code object. */
static _PyInterpreterFrame *innermost_frame(PyThreadState *thread)
{
    _PyInterpreterFrame *frame = thread->current_frame;
    while (frame && (_PyFrame_IsIncomplete(frame) || !PyCode_Check(frame->f_executable))) {
        frame = frame->previous;
    }
    return frame;
}

static PyCodeObject *frame_code(_PyInterpreterFrame *frame)
{
    return _PyFrame_GetCode(frame);
}
#else
static _PyInterpreterFrame *innermost_frame(PyThreadState *thread)
{
    _PyInterpreterFrame *frame = thread->cframe ? thread->cframe->current_frame : NULL;
    while (frame && _PyFrame_IsIncomplete(frame)) {
        frame = frame->previous;
    }
    return frame;
}

static PyCodeObject *frame_code(_PyInterpreterFrame *frame)
{
    return frame->f_code;
}
#endif

void current_location(PyCodeObject **code, int *line)
{
    PyThreadState *thread = PyThreadState_GET();
    _PyInterpreterFrame *frame = thread ? innermost_frame(thread) : NULL;
    *code = NULL;
    *line = 0;
    if (!frame) {
        return;
    }
    *code = frame_code(frame);
    *line = cached_line(*code, _PyInterpreterFrame_LASTI(frame));
}
