/*
 * --include / --exclude: which allocations to record, by the modules on
 * their stack. A frame's module is its globals' __name__; a stack matches a
 * pattern (fnmatch) when any of its recorded frames' modules does.
 */
#ifndef MEMLYZE_MODULE_FILTER_H
#define MEMLYZE_MODULE_FILTER_H

#include <Python.h>
#include <stdint.h>

/* A frame's match bits. UNKNOWN: its module could not be read safely (this
 * thread did not hold the GIL); the frame is asked again next time. */
#define MODULE_FILTER_INCLUDED 1u
#define MODULE_FILTER_EXCLUDED 2u
#define MODULE_FILTER_UNKNOWN 4u

/* Nonzero when any pattern is set: hooks then consult the filter. */
extern int module_filter_active;

/*
 * Sets the patterns (sequences of str, or None) for the next recording.
 * Needs the GIL. Returns 0, or -1 with an exception set.
 */
int module_filter_configure(PyObject *include_patterns, PyObject *exclude_patterns);

/* The match bits of a frame whose globals are given (may be NULL). */
uint32_t module_filter_frame_bits(PyObject *globals);

/* Whether a stack whose frames' bits OR to stack_bits is recorded. */
static inline int module_filter_accepts(uint32_t stack_bits, int has_include_patterns)
{
    if (stack_bits & MODULE_FILTER_EXCLUDED) {
        return 0;
    }
    return !has_include_patterns || (stack_bits & MODULE_FILTER_INCLUDED);
}

/* Nonzero when include patterns are set. */
int module_filter_has_include(void);

#endif
