/* See code_lifetimes.h. CPython 3.12 and later report destructions to code
 * watchers; 3.11 has none, so its code type's deallocator is wrapped. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "binding/interpreter/code_lifetimes.h"

uint64_t code_lifetimes_destroyed = UINT64_MAX;

static int watching;

static void count_destruction(void)
{
    __atomic_fetch_add(&code_lifetimes_destroyed, 1, __ATOMIC_RELEASE);
}

#if PY_VERSION_HEX >= 0x030C0000

static int code_event(PyCodeEvent event, PyCodeObject *code)
{
    (void)code;
    if (event == PY_CODE_EVENT_DESTROY) {
        count_destruction();
    }
    return 0;
}

static int start_watching(void)
{
    if (PyCode_AddWatcher(code_event) < 0) {
        PyErr_Clear();
        return -1;
    }
    return 0;
}

#else

static destructor code_deallocate;

static void counting_deallocate(PyObject *code)
{
    count_destruction();
    code_deallocate(code);
}

static int start_watching(void)
{
    code_deallocate = PyCode_Type.tp_dealloc;
    PyCode_Type.tp_dealloc = counting_deallocate;
    return 0;
}

#endif

int code_lifetimes_watch(void)
{
    if (watching) {
        return 0;
    }
    if (start_watching() < 0) {
        return -1;
    }
    watching = 1;
    __atomic_store_n(&code_lifetimes_destroyed, 0, __ATOMIC_RELEASE);
    return 0;
}
