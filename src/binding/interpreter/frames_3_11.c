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

/* checked is a constant at each call below: two loops, each with no test
 * the other needs. */
static inline __attribute__((always_inline)) uint32_t
walk(PyThreadState *thread, struct interpreter_frame *frames, uint32_t capacity, int checked,
     int *cut)
{
    uint32_t depth = 0;
    const void *base = frames_base_load();
    *cut = 0;
    for (_PyInterpreterFrame *frame = current_frame(thread); frame && frame != base;
         frame = frame->previous) {
        if (depth == capacity) {
            *cut = 1;
            break;
        }
        int instruction = _PyInterpreterFrame_LASTI(frame);
        int generator = frame->owner == FRAME_OWNED_BY_GENERATOR;
        /* Before its first instruction a frame is incomplete: no code read. */
        if ((!generator && instruction < 0) || (checked && _PyFrame_IsIncomplete(frame))) {
            continue;
        }
        struct interpreter_frame *entry = &frames[depth++];
        entry->code = frame->f_code;
        entry->globals = frame->f_globals;
        entry->instruction = instruction;
        entry->is_entry = (uint8_t)frame->is_entry;
        entry->owned_by_generator = (uint8_t)generator;
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
    return frame->owned_by_generator || frame->instruction >= frame->code->_co_firsttraceable;
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
