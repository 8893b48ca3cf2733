/* Where the calling thread's Python code is now, without making frame
 * objects (current_location.c). */
#ifndef MEMLYZE_CURRENT_LOCATION_H
#define MEMLYZE_CURRENT_LOCATION_H

#include <Python.h>

/* Sets *code (borrowed) and *line to the innermost complete Python frame of
 * the calling thread, or *code = NULL, *line = 0 when there is none. Line
 * numbers come from a small cache keyed by (code, line table, instruction).
 * Call with the GIL held; allocates nothing and runs no Python code. */
void current_location(PyCodeObject **code, int *line);

#endif
