/*
 * The interpreter's frames, read without making frame objects: the one
 * interface between the stack capture and CPython's internal frame layout.
 * Each supported layout has its own file (frames_3_11.c, ...); the build
 * compiles the one of the interpreter it targets, so a new CPython version
 * is a new file here and nothing elsewhere.
 */
#ifndef MEMLYZE_INTERPRETER_FRAMES_H
#define MEMLYZE_INTERPRETER_FRAMES_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>

/* Bytes of one code unit (an instruction or cache entry): PyCode_Addr2Line
 * takes byte offsets, frames give code-unit indexes. */
#define INTERPRETER_CODE_UNIT_BYTES 2

/* One complete Python frame, as a stack capture needs it. */
struct interpreter_frame {
    const PyCodeObject *code;
    const PyObject *line_table; /* with code, tells a reused address apart */
    int instruction;            /* code-unit index of the current instruction */
    uint32_t is_entry;          /* 1: the first frame a C-level evaluation ran */
    PyObject *globals;          /* borrowed: the frame's module globals */
};

/*
 * Fills frames with up to capacity complete frames of thread, innermost
 * first, skipping frames still being set up. Returns how many. thread may
 * be NULL (no frames). Reads only; safe from an allocator hook as long as
 * thread's frames cannot be freed meanwhile (the GIL, or the thread itself).
 */
uint32_t interpreter_frames_walk(PyThreadState *thread, struct interpreter_frame *frames,
                                 uint32_t capacity);

/*
 * Makes thread's current frame the base of every walk: walks and counts stop
 * before it, so it and the frames it was called from are left out, until
 * interpreter_frames_clear_base. `memlyze run --in-process` marks the frame
 * the profiled program runs under, whose callers are memlyze's command line.
 * Call with the GIL (or the thread attached); walks on any thread read the
 * mark (frames_base.h).
 */
void interpreter_frames_set_base(PyThreadState *thread);
void interpreter_frames_clear_base(void);

/* The number of frames interpreter_frames_walk would give with no capacity
 * limit, counting no further than limit. */
uint32_t interpreter_frames_count(PyThreadState *thread, uint32_t limit);

/* Sets *code (borrowed) and *instruction to the innermost complete frame of
 * thread running a code object. Returns 1, or 0 when there is none. */
int interpreter_frames_innermost(PyThreadState *thread, PyCodeObject **code, int *instruction);

#endif
