/*
 * memlyze.rss() and memlyze.rss_peak(): exact current and peak resident set
 * size in bytes. The current RSS is one pread of a /proc/self/statm
 * descriptor kept open (src/core/rss.c), against pymemtrace's
 * fopen/fscanf/fclose per call.
 *
 * The peak is the larger of the kernel's high-water mark (getrusage) and the
 * largest RSS read here: on kernels with per-CPU RSS counters the high-water
 * mark can lag the true peak by a few dozen pages, while every RSS read here
 * (rss(), Profile, Trace, ReferenceTracing) is exact.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "binding/types/binding.h"
#include "core/recording/rss.h"
#include "binding/types/rss_binding.h"

static struct rss_reader binding_reader = {.statm_fd = -1};
static int binding_reader_opened;
static uint64_t largest_seen; /* the largest RSS any read here returned */

uint64_t binding_rss_current(void)
{
    if (!binding_reader_opened) {
        if (rss_reader_open(&binding_reader) < 0) {
            return 0;
        }
        binding_reader_opened = 1;
    }
    uint64_t bytes = rss_reader_current(&binding_reader);
    if (bytes > largest_seen) {
        largest_seen = bytes;
    }
    return bytes;
}

uint64_t binding_rss_peak(void)
{
    binding_rss_current();
    uint64_t peak = rss_peak_bytes();
    return largest_seen > peak ? largest_seen : peak;
}

/* rss() -> int: the current resident set size in bytes. */
static PyObject *rss_function(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    uint64_t bytes = binding_rss_current();
    if (!bytes) {
        return PyErr_SetFromErrnoWithFilename(PyExc_OSError, "/proc/self/statm");
    }
    return PyLong_FromUnsignedLongLong(bytes);
}

/* rss_peak() -> int: the largest resident set size so far, in bytes. */
static PyObject *rss_peak_function(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyLong_FromUnsignedLongLong(binding_rss_peak());
}

static PyMethodDef rss_methods[] = {
    {"rss", rss_function, METH_NOARGS,
     "rss() -> int\n\nThe current resident set size of this process in bytes "
     "(/proc/self/statm's resident pages times the page size)."},
    {"rss_peak", rss_peak_function, METH_NOARGS,
     "rss_peak() -> int\n\nThe peak resident set size of this process in bytes."},
    {NULL, NULL, 0, NULL},
};

int rss_binding_add(PyObject *module)
{
    return PyModule_AddFunctions(module, rss_methods);
}
