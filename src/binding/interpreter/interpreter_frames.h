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

/* One Python frame, as a stack capture needs it. */
struct interpreter_frame {
    const PyCodeObject *code;   /* 3.13: the frame's executable, a code object once shown */
    PyObject *globals;          /* borrowed: the frame's module globals */
    int instruction;            /* code-unit index of the current instruction */
    uint8_t is_entry;           /* 1: the first frame a C-level evaluation ran */
    uint8_t owned_by_generator; /* with code and instruction, decides whether it is shown */
};

/*
 * Fills frames with up to capacity frames of thread, innermost first, and
 * returns how many; *cut is set when more frames are left beyond them.
 * thread may be NULL (no frames). Reads only the frames, never their code
 * objects, unless checked: without it, the frames given may include some a
 * stack does not show (still being set up), which only
 * interpreter_frame_is_shown, reading the code object, tells apart. With
 * checked, every frame given is shown. Safe from an allocator hook as long
 * as thread's frames cannot be freed meanwhile (the GIL, or the thread
 * itself).
 */
uint32_t interpreter_frames_walk(PyThreadState *thread, struct interpreter_frame *frames,
                                 uint32_t capacity, int checked, int *cut);

/* Whether a stack shows frame (complete, running a code object); reads its
 * code object. */
int interpreter_frame_is_shown(const struct interpreter_frame *frame);

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

/* The number of frames a checked interpreter_frames_walk would give with no
 * capacity limit, counting no further than limit. */
uint32_t interpreter_frames_count(PyThreadState *thread, uint32_t limit);

/* Sets *code (borrowed) and *instruction to the innermost complete frame of
 * thread running a code object. Returns 1, or 0 when there is none. */
int interpreter_frames_innermost(PyThreadState *thread, PyCodeObject **code, int *instruction);

#endif
