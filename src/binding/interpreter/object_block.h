/*
 * Where an object's memory block starts: what the Python allocator returned
 * for it, which is what allocation events record. Before the object come
 * its GC header (none on a free-threaded build, whose objects carry their
 * GC bits in the header) and the pre-header pointers of managed dicts and
 * weak references.
 */
#ifndef MEMLYZE_OBJECT_BLOCK_H
#define MEMLYZE_OBJECT_BLOCK_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>

#ifdef Py_TPFLAGS_MANAGED_WEAKREF
#define OBJECT_BLOCK_PRE_HEADER_FLAGS (Py_TPFLAGS_MANAGED_DICT | Py_TPFLAGS_MANAGED_WEAKREF)
#else
#define OBJECT_BLOCK_PRE_HEADER_FLAGS Py_TPFLAGS_MANAGED_DICT
#endif

static inline uintptr_t object_block_address(PyObject *object)
{
    PyTypeObject *type = Py_TYPE(object);
    size_t before = 0;
#ifndef Py_GIL_DISABLED
    if (PyType_IS_GC(type)) {
        before += 2 * sizeof(void *); /* sizeof(PyGC_Head) */
    }
#endif
    if (PyType_GetFlags(type) & OBJECT_BLOCK_PRE_HEADER_FLAGS) {
        before += 2 * sizeof(PyObject *);
    }
    return (uintptr_t)object - before;
}

#endif
