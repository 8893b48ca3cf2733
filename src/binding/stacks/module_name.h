/*
 * A frame's module: its globals' __name__, read without allocating, from an
 * allocator hook. Used by the module filter (--include/--exclude) and by the
 * stack capture, which records each frame's module in the capture.
 */
#ifndef MEMLYZE_MODULE_NAME_H
#define MEMLYZE_MODULE_NAME_H

#include <Python.h>
#include <stddef.h>

/* Interns the "__name__" key once. Needs the GIL. Returns 0, or -1 with an
 * exception set. */
int module_name_prepare(void);

/* Whether this thread may read a dict now: a dict may change under a reader
 * not attached to the interpreter (holding no GIL, or on a free-threaded
 * build, no thread state). */
static inline int module_name_readable(void)
{
    return PyGILState_Check();
}

/* Copies globals' __name__ (ASCII, shorter than size) into buffer with a
 * NUL; returns its length, or -1 when it cannot be read that way. Call only
 * when module_name_readable(). */
Py_ssize_t module_name_read(PyObject *globals, char *buffer, size_t size);

#endif
