/* Frames of CPython 3.13: _PyInterpreterFrame chained from the thread state
 * itself (no cframe), f_executable possibly not a code object, and entry
 * frames marked as in 3.12 by a shim frame owned by the C stack just
 * outside them. See interpreter_frames.h. */
#include "binding/interpreter/interpreter_frames.h"
#include "binding/interpreter/frames_base.h"

#define Py_BUILD_CORE 1
#include "internal/pycore_code.h"
#include "internal/pycore_frame.h"
#undef Py_BUILD_CORE

_Static_assert(sizeof(_Py_CODEUNIT) == INTERPRETER_CODE_UNIT_BYTES, "code unit size");

static _PyInterpreterFrame *current_frame(PyThreadState *thread)
{
    return thread ? thread->current_frame : NULL;
}

void interpreter_frames_set_base(PyThreadState *thread)
{
    frames_base_store(current_frame(thread));
}

/* A frame a stack shows: complete, and running a code object. */
static int frame_is_shown(_PyInterpreterFrame *frame)
{
    return PyCode_Check(frame->f_executable) && !_PyFrame_IsIncomplete(frame);
}

/* checked is a constant at each call below: two loops, each with no test
 * the other needs. */
static inline __attribute__((always_inline)) uint32_t
walk(PyThreadState *thread, struct interpreter_frame *frames, uint32_t capacity, int checked,
     int *cut)
{
    uint32_t depth = 0;
    int callee_stored = 0; /* the frame walked last was stored */
    const void *base = frames_base_load();
    *cut = 0;
    for (_PyInterpreterFrame *frame = current_frame(thread); frame && frame != base;
         frame = frame->previous) {
        if (frame->owner == FRAME_OWNED_BY_CSTACK) {
            if (callee_stored) {
                frames[depth - 1].is_entry = 1;
            }
            callee_stored = 0;
            continue;
        }
        if (depth == capacity) {
            *cut = 1;
            break;
        }
        callee_stored = !checked || frame_is_shown(frame);
        if (!callee_stored) {
            continue;
        }
        /* f_executable is only read as an address here: a code object's
         * code units lie inside it, so the instruction index needs no read. */
        PyCodeObject *code = (PyCodeObject *)frame->f_executable;
        struct interpreter_frame *entry = &frames[depth++];
        entry->code = code;
        entry->globals = frame->f_globals;
        entry->instruction = (int)(frame->instr_ptr - _PyCode_CODE(code));
        entry->is_entry = 0;
        entry->owned_by_generator = frame->owner == FRAME_OWNED_BY_GENERATOR;
    }
    return depth;
}

uint32_t interpreter_frames_walk(PyThreadState *thread, struct interpreter_frame *frames,
                                 uint32_t capacity, int checked, int *cut)
{
    return checked ? walk(thread, frames, capacity, 1, cut) : walk(thread, frames, capacity, 0, cut);
}

int interpreter_frame_is_shown(const struct interpreter_frame *frame)
{
    PyCodeObject *code = (PyCodeObject *)frame->code;
    return PyCode_Check(code) &&
           (frame->owned_by_generator || frame->instruction >= code->_co_firsttraceable);
}

uint32_t interpreter_frames_count(PyThreadState *thread, uint32_t limit)
{
    uint32_t count = 0;
    const void *base = frames_base_load();
    for (_PyInterpreterFrame *frame = current_frame(thread);
         frame && frame != base && count < limit;
         frame = frame->previous) {
        count += frame->owner != FRAME_OWNED_BY_CSTACK && frame_is_shown(frame);
    }
    return count;
}

int interpreter_frames_innermost(PyThreadState *thread, PyCodeObject **code, int *instruction)
{
    _PyInterpreterFrame *frame = current_frame(thread);
    while (frame && (frame->owner == FRAME_OWNED_BY_CSTACK || !frame_is_shown(frame))) {
        frame = frame->previous;
    }
    if (!frame) {
        return 0;
    }
    *code = _PyFrame_GetCode(frame);
    *instruction = _PyInterpreterFrame_LASTI(frame);
    return 1;
}
