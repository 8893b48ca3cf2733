#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "binding/types/progress_callback.h"

void progress_call_python(void *argument, uint64_t bytes_read, uint64_t file_bytes)
{
    PyGILState_STATE state = PyGILState_Ensure();
    PyObject *result = PyObject_CallFunction((PyObject *)argument, "KK",
                                             (unsigned long long)bytes_read,
                                             (unsigned long long)file_bytes);
    if (!result) {
        PyErr_Clear();
    }
    Py_XDECREF(result);
    PyGILState_Release(state);
}
