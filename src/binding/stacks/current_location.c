#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "binding/interpreter/interpreter_frames.h"
#include "binding/stacks/current_location.h"

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
    int line = PyCode_Addr2Line(code, instruction * INTERPRETER_CODE_UNIT_BYTES);
    slot->code = code;
    slot->line_table = code->co_linetable;
    slot->instruction = instruction;
    slot->line = line;
    return line;
}

void current_location(PyCodeObject **code, int *line)
{
    int instruction;
    if (!interpreter_frames_innermost(PyThreadState_GET(), code, &instruction)) {
        *code = NULL;
        *line = 0;
        return;
    }
    *line = cached_line(*code, instruction);
}
