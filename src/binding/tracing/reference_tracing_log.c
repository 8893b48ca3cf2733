/*
 * The log of ReferenceTracing: its HEAD and COLS lines, one NEW or DEL line
 * per traced event (with the Python location and the RSS at that moment),
 * and on exit a LIVE line per type and the TAIL; and the live counts per type
 * that exit and live_object_counts() report. See reference_tracing_internal.h.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "binding/stacks/current_location.h"
#include "binding/tracing/reference_tracing_internal.h"
#include "binding/tracing/trace_log_file.h"
#include "binding/types/rss_binding.h"
#include "core/format/text_log.h"

/* --- lines ---------------------------------------------------------------- */

/* See reference_tracing_internal.h. */
void reference_tracing_write_header(ReferenceTracer *tracer)
{
    struct text_log *log = reference_tracing_state.log;
    text_log_text(log, "HEAD:\tmemlyze-cpymemtrace\t1\tReferenceTracing\tpid=");
    text_log_unsigned(log, (uint64_t)getpid());
    text_log_text(log, "\tdepth=");
    text_log_unsigned(log, (uint64_t)tracer->depth);
    text_log_text(log, "\tpython=" PY_VERSION "\tmessage=");
    trace_log_put_message(log, tracer->message);
    text_log_text(log, "\nCOLS:\tAddress\tLive\tType\tFile\tLine\tFunction\tRSS\n");
}

/* See reference_tracing_internal.h. */
void reference_tracing_log_object(const char *label, const void *object, const PyTypeObject *type,
                                  int64_t live)
{
    struct text_log *log = reference_tracing_state.log;
    PyCodeObject *code;
    int line;
    current_location(&code, &line);
    reference_tracing_state.events++;
    text_log_text(log, label);
    text_log_hex(log, (uint64_t)(uintptr_t)object);
    text_log_character(log, '\t');
    if (live < 0) {
        text_log_character(log, '-');
        text_log_unsigned(log, (uint64_t)-live);
    } else {
        text_log_unsigned(log, (uint64_t)live);
    }
    text_log_character(log, '\t');
    text_log_text(log, type->tp_name);
    text_log_character(log, '\t');
    if (code) {
        trace_log_put_str(log, code->co_filename);
        text_log_character(log, '\t');
        text_log_unsigned(log, (uint64_t)(line < 0 ? 0 : line));
        text_log_character(log, '\t');
        trace_log_put_str(log, code->co_qualname);
    } else {
        text_log_text(log, "-\t0\t-");
    }
    text_log_character(log, '\t');
    text_log_unsigned(log, binding_rss_current());
    text_log_character(log, '\n');
}

/* --- live counts ----------------------------------------------------------- */

/* "module.qualname" of a traced type, as a new str. */
static PyObject *type_key(PyTypeObject *type)
{
    if (!(type->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
        /* 3.13 include_builtins: a static type has no ht_qualname, and from
         * 3.12 its tp_dict is NULL (kept per interpreter). */
        return strchr(type->tp_name, '.') ? PyUnicode_FromString(type->tp_name)
                                          : PyUnicode_FromFormat("builtins.%s", type->tp_name);
    }
    PyObject *module = PyDict_GetItemString(type->tp_dict, "__module__");
    PyObject *qualname = ((PyHeapTypeObject *)type)->ht_qualname;
    if (module && PyUnicode_Check(module)) {
        return PyUnicode_FromFormat("%U.%U", module, qualname);
    }
    Py_INCREF(qualname);
    return qualname;
}

/* See reference_tracing_internal.h. Types sharing a module.qualname (a class
 * defined again) show the sum of their counts. */
PyObject *reference_tracing_current_counts(void)
{
    PyObject *counts = PyDict_New();
    for (size_t slot = 0; counts && slot < reference_tracing_state.table.capacity; slot++) {
        struct type_slot_entry *entry = &reference_tracing_state.table.entries[slot];
        if (!entry->type || (!entry->created && !entry->live)) {
            continue;
        }
        PyObject *key = type_key(entry->type);
        PyObject *old = key ? PyDict_GetItemWithError(counts, key) : NULL;
        long long total = entry->live + (old ? PyLong_AsLongLong(old) : 0);
        PyObject *value = PyLong_FromLongLong(total);
        if (!key || !value || PyDict_SetItem(counts, key, value) < 0) {
            Py_CLEAR(counts);
        }
        Py_XDECREF(key);
        Py_XDECREF(value);
    }
    return counts;
}

/* See reference_tracing_internal.h. */
void reference_tracing_write_footer(PyObject *counts)
{
    struct text_log *log = reference_tracing_state.log;
    PyObject *key, *value;
    Py_ssize_t position = 0;
    while (counts && PyDict_Next(counts, &position, &key, &value)) {
        text_log_text(log, "LIVE:\t");
        trace_log_put_str(log, key);
        text_log_character(log, '\t');
        long long live = PyLong_AsLongLong(value);
        text_log_signed(log, live);
        text_log_character(log, '\n');
    }
    text_log_text(log, "TAIL:\tevents=");
    text_log_unsigned(log, reference_tracing_state.events);
    text_log_text(log, "\ttypes=");
    text_log_unsigned(log, reference_tracing_state.table.count);
    text_log_text(log, "\trss=");
    text_log_unsigned(log, binding_rss_current());
    text_log_text(log, "\trss_peak=");
    text_log_unsigned(log, binding_rss_peak());
    text_log_character(log, '\n');
}
