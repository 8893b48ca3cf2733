/*
 * What the files of cpymemtrace's ReferenceTracing share, and nothing else
 * may use:
 *   reference_tracing.c             the Python type ReferenceTracer: arguments, enter, exit
 *   reference_tracing_type_slots.c  before 3.13: tracing through replaced tp_alloc/tp_free
 *   reference_tracing_ref_tracer.c  from 3.13 on: tracing through PyRefTracer
 *   reference_tracing_log.c         the log's lines and the live counts per type
 * Each of them includes this header; nothing outside src/binding/tracing/
 * does. Everything here runs with the GIL held.
 */
#ifndef MEMLYZE_REFERENCE_TRACING_INTERNAL_H
#define MEMLYZE_REFERENCE_TRACING_INTERNAL_H

#include <Python.h>

#include <stddef.h>
#include <stdint.h>

#include "binding/tracing/type_slot_table.h"
#include "core/format/text_log.h"

typedef struct {
    PyObject_HEAD
    int include_builtins;
    PyObject *include_names; /* frozenset of str; empty: every type */
    PyObject *exclude_names; /* frozenset of str */
    int gc_generation;       /* -1: no collection on exit */
    PyObject *message;
    PyObject *directory;
    PyObject *log_file_path;
    PyObject *final_counts; /* dict, set on exit */
    int state;              /* 0 new, 1 active, 2 finished */
    int depth;
} ReferenceTracer;

/* The one active tracing (only one at a time). */
struct reference_tracing_state {
    ReferenceTracer *owner; /* NULL: none active */
    struct type_slot_table table;
    struct text_log *log;
    uint64_t events;
    PyTypeObject **metaclasses; /* strong references; tp_new set to the watching type_new */
    size_t metaclass_count;
    size_t metaclass_capacity;
};

extern struct reference_tracing_state reference_tracing_state;

/* --- the log (reference_tracing_log.c) ------------------------------------ */

/* Writes "<label>address\tlive\ttype\tfile\tline\tfunction\tRSS" and counts
 * the event. */
void reference_tracing_log_object(const char *label, const void *object, const PyTypeObject *type,
                                  int64_t live);

/* Writes the HEAD and COLS lines for tracer. */
void reference_tracing_write_header(ReferenceTracer *tracer);

/* {"module.qualname": live count} of the traced types that saw an event, as
 * a new dict, or NULL with an exception set. */
PyObject *reference_tracing_current_counts(void);

/* Writes a LIVE line per entry of counts (may be NULL), then TAIL. */
void reference_tracing_write_footer(PyObject *counts);

/* --- type slots (reference_tracing_type_slots.c) -------------------------- */

#if PY_VERSION_HEX < 0x030D0000
/* Replaces the slots of every selected type that exists, and watches for
 * types created later. Returns 0, or -1 with an exception set and every slot
 * put back (the owner is cleared). */
int reference_tracing_replace_slots(void);
#endif

/* Puts every replaced slot back; the references stay until
 * reference_tracing_release_references. */
void reference_tracing_restore_slots(void);

/* Drops the references restore_slots left (may free types). */
void reference_tracing_release_references(void);

/* --- PyRefTracer (reference_tracing_ref_tracer.c) ------------------------- */

#if PY_VERSION_HEX >= 0x030D0000
/* Whether set (a set of str) holds name (a str, or NULL); creates nothing. */
int reference_tracing_set_holds(PyObject *set, PyObject *name);

/* Sets the interpreter's reference tracer; returns 0 or -1. */
int reference_tracing_start_ref_tracer(void);

/* Unsets it. */
void reference_tracing_stop_ref_tracer(void);
#endif

#endif
