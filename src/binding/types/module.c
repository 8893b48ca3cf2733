/* The _memlyze extension module: gathers the parts each binding file adds. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "binding/types/binding.h"

static struct PyModuleDef memlyze_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "memlyze._memlyze",
    .m_doc = "memlyze's C engine: recording, reading and analysing captures.",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__memlyze(void)
{
    PyObject *module = PyModule_Create(&memlyze_module);
    if (!module) {
        return NULL;
    }
#ifdef Py_GIL_DISABLED
    /* The hooks, stack capture, interning and module filters take no GIL
     * (see docs/architecture.md, "Free-threaded CPython"). */
    if (PyUnstable_Module_SetGIL(module, Py_MOD_GIL_NOT_USED) < 0) {
        Py_DECREF(module);
        return NULL;
    }
#endif
    if (tracker_binding_add(module) < 0 || reader_binding_add(module) < 0 ||
        compat_binding_add(module) < 0 ||
        report_binding_add(module) < 0 || rss_binding_add(module) < 0 ||
        rss_tracing_add(module) < 0 || reference_tracing_add(module) < 0 ||
        tables_binding_add(module) < 0 || program_binding_add(module) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
