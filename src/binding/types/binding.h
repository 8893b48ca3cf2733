/* What each binding file contributes to the _memlyze module. */
#ifndef MEMLYZE_BINDING_H
#define MEMLYZE_BINDING_H

#include <Python.h>

/* Each adds its functions and types to module; returns 0 or -1 with an
 * exception set. */
int tracker_binding_add(PyObject *module);
int reader_binding_add(PyObject *module);
int compat_binding_add(PyObject *module);
int report_binding_add(PyObject *module);
/* memlyze.rss/rss_peak and the cpymemtrace engines (issue #6). */
int rss_binding_add(PyObject *module);
int rss_tracing_add(PyObject *module);
int reference_tracing_add(PyObject *module);
/* memlyze._memlyze.CaptureTables: a capture's tables as Arrow streams (issue 18). */
int tables_binding_add(PyObject *module);
/* compile_program(): how `memlyze run` compiles the program it runs. */
int program_binding_add(PyObject *module);

#endif
