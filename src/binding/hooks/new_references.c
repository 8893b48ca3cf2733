/*
 * Reused objects for the live table (see new_references.h). The tracer
 * chains to the one it replaced (the standard tracemalloc sets one from 3.13
 * on), and stop puts that one back if ours is still in place.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "binding/hooks/new_references.h"
#include "binding/interpreter/object_block.h"
#include "binding/stacks/python_stack.h"
#include "core/recording/recorder.h"

THREAD_LOCAL uintptr_t new_references_last_block;

#if PY_VERSION_HEX >= 0x030D0000
/* The tracer found at start; written and read with the GIL held (on a
 * free-threaded build, by the thread that starts and stops, while the
 * tracer only reads them). */
static PyRefTracer previous_tracer;
static void *previous_data;
static int following;

/* Records the reuse of object's block with this thread's stack. */
static void record_reuse(uintptr_t block)
{
    recorder_thread_busy = 1;
    uint32_t stack_id = python_stack_capture();
    recorder_record_new_reference(block, stack_id, python_stack_total_frames());
    recorder_thread_busy = 0;
}

static int on_reference_event(PyObject *object, PyRefTracerEvent event, void *data)
{
    (void)data;
    if (event == PyRefTracer_CREATE && recorder_is_active() && !recorder_thread_busy) {
        uintptr_t block = object_block_address(object);
        if (block == new_references_last_block) {
            /* A fresh block is made one object: a later one in it, with no
             * allocation between (list made, freed, made again), is a reuse. */
            new_references_last_block = 0;
        } else {
            record_reuse(block);
        }
    }
    return previous_tracer ? previous_tracer(object, event, previous_data) : 0;
}

int new_references_start(void)
{
    if (following) {
        return 1;
    }
    previous_tracer = PyRefTracer_GetTracer(&previous_data);
    if (previous_tracer == on_reference_event) {
        previous_tracer = NULL; /* left by a forked parent */
    }
    if (PyRefTracer_SetTracer(on_reference_event, NULL) < 0) {
        PyErr_Clear();
        return 0;
    }
    following = 1;
    return 1;
}

void new_references_stop(void)
{
    if (!following) {
        return;
    }
    void *data;
    if (PyRefTracer_GetTracer(&data) == on_reference_event) {
        PyRefTracer_SetTracer(previous_tracer, previous_data);
    }
    previous_tracer = NULL;
    previous_data = NULL;
    following = 0;
}
#else
int new_references_start(void)
{
    return 0;
}

void new_references_stop(void)
{
}
#endif
