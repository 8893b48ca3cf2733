/* Frames of CPython 3.11: _PyInterpreterFrame chained from the thread's
 * cframe, entry frames marked by is_entry. See interpreter_frames.h. */
#include "binding/interpreter/interpreter_frames.h"
#include "binding/interpreter/frames_base.h"

#define Py_BUILD_CORE 1
#include "internal/pycore_frame.h"
#undef Py_BUILD_CORE

_Static_assert(sizeof(_Py_CODEUNIT) == INTERPRETER_CODE_UNIT_BYTES, "code unit size");

static _PyInterpreterFrame *current_frame(PyThreadState *thread)
{
    return thread && thread->cframe ? thread->cframe->current_frame : NULL;
}

void interpreter_frames_set_base(PyThreadState *thread)
{
    frames_base_store(current_frame(thread));
}

uint32_t interpreter_frames_walk(PyThreadState *thread, struct interpreter_frame *frames,
                                 uint32_t capacity)
{
    uint32_t depth = 0;
    const void *base = frames_base_load();
    for (_PyInterpreterFrame *frame = current_frame(thread);
         frame && frame != base && depth < capacity;
         frame = frame->previous) {
        if (_PyFrame_IsIncomplete(frame)) {
            continue;
        }
        struct interpreter_frame *entry = &frames[depth++];
        entry->code = frame->f_code;
        entry->line_table = frame->f_code->co_linetable;
        entry->instruction = _PyInterpreterFrame_LASTI(frame);
        entry->is_entry = frame->is_entry;
        entry->globals = frame->f_globals;
    }
    return depth;
}

uint32_t interpreter_frames_count(PyThreadState *thread, uint32_t limit)
{
    uint32_t count = 0;
    const void *base = frames_base_load();
    for (_PyInterpreterFrame *frame = current_frame(thread);
         frame && frame != base && count < limit;
         frame = frame->previous) {
        count += !_PyFrame_IsIncomplete(frame);
    }
    return count;
}

int interpreter_frames_innermost(PyThreadState *thread, PyCodeObject **code, int *instruction)
{
    _PyInterpreterFrame *frame = current_frame(thread);
    while (frame && _PyFrame_IsIncomplete(frame)) {
        frame = frame->previous;
    }
    if (!frame) {
        return 0;
    }
    *code = frame->f_code;
    *instruction = _PyInterpreterFrame_LASTI(frame);
    return 1;
}
