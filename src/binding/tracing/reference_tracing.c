/*
 * cpymemtrace's ReferenceTracing: logs the creation (NEW) and destruction
 * (DEL) of every object of the selected types, with its address, the live
 * count of its type, the type's name, the Python location and the RSS.
 *
 * On 3.11 there is no reference tracer, so the selected types' tp_alloc and
 * tp_free slots are replaced by traced_alloc/traced_free, which log and call
 * the originals. Those are the Python classes (tp_dealloc is the interpreter's
 * subtype_dealloc): every instance of one is allocated through tp_alloc and
 * released through tp_free. Classes created while tracing are caught by
 * replacing tp_new of `type` (and of every metaclass that inherited it) with
 * watched_type_new. Everything is put back on exit. Builtin types cannot be
 * traced this way: they keep free lists and bypass these slots.
 *
 * From 3.13 on, PyRefTracer sees every object; that path (below, behind a
 * version check) is untested until a 3.13 interpreter builds memlyze.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdlib.h>
#include <unistd.h>

#include "binding/types/binding.h"
#include "binding/stacks/current_location.h"
#include "binding/types/rss_binding.h"
#include "binding/tracing/rss_tracing.h"
#include "core/format/text_log.h"
#include "binding/tracing/trace_log_file.h"
#include "binding/tracing/type_slot_table.h"

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
static struct {
    ReferenceTracer *owner; /* NULL: none active */
    struct type_slot_table table;
    struct text_log *log;
    uint64_t events;
    PyTypeObject **metaclasses; /* strong references; tp_new set to watched_type_new */
    size_t metaclass_count;
    size_t metaclass_capacity;
} tracing;

static newfunc original_type_new;
static destructor python_class_dealloc;

/* --- selection ------------------------------------------------------------ */

/* Whether the set holds name (a str, or NULL). */
static int set_holds(PyObject *set, PyObject *name)
{
    if (!name) {
        return 0;
    }
    int found = PySet_Contains(set, name);
    if (found < 0) {
        PyErr_Clear();
        return 0;
    }
    return found;
}

/* Whether instances of type are traced: a Python class (by its dealloc)
 * whose name or qualified name passes the include and exclude lists. */
static int type_is_selected(const ReferenceTracer *tracer, PyTypeObject *type)
{
    if (!(type->tp_flags & Py_TPFLAGS_HEAPTYPE) || type->tp_dealloc != python_class_dealloc) {
        return 0;
    }
    PyHeapTypeObject *heap_type = (PyHeapTypeObject *)type;
    if (set_holds(tracer->exclude_names, heap_type->ht_name) ||
        set_holds(tracer->exclude_names, heap_type->ht_qualname)) {
        return 0;
    }
    if (PySet_GET_SIZE(tracer->include_names) == 0) {
        return 1;
    }
    return set_holds(tracer->include_names, heap_type->ht_name) ||
           set_holds(tracer->include_names, heap_type->ht_qualname);
}

/* --- logging -------------------------------------------------------------- */

/* Writes "<label>address\tlive\ttype\tfile\tline\tfunction\tRSS". */
static void log_object(const char *label, const void *object, const PyTypeObject *type,
                       int64_t live)
{
    struct text_log *log = tracing.log;
    PyCodeObject *code;
    int line;
    current_location(&code, &line);
    tracing.events++;
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

/* --- the replacement slots ------------------------------------------------- */

/* The entry of type or of its nearest traced base, or NULL. */
static struct type_slot_entry *entry_of_type_or_base(PyTypeObject *type)
{
    for (; type; type = type->tp_base) {
        struct type_slot_entry *entry = type_slot_table_find(&tracing.table, type);
        if (entry) {
            return entry;
        }
    }
    return NULL;
}

static PyObject *traced_alloc(PyTypeObject *type, Py_ssize_t items)
{
    struct type_slot_entry *entry = entry_of_type_or_base(type);
    allocfunc allocate = entry ? entry->original_alloc : PyType_GenericAlloc;
    PyObject *object = allocate(type, items);
    /* allocate may have collected garbage, run Python code and moved the table. */
    entry = type_slot_table_find(&tracing.table, type);
    if (object && entry && tracing.owner) {
        entry->live++;
        entry->created++;
        log_object("NEW:\t", object, type, entry->live);
    }
    return object;
}

static void traced_free(void *pointer)
{
    PyTypeObject *type = Py_TYPE((PyObject *)pointer);
    struct type_slot_entry *entry = type_slot_table_find(&tracing.table, type);
    if (entry && tracing.owner) {
        entry->live--;
        log_object("DEL:\t", pointer, type, entry->live);
    }
    struct type_slot_entry *origin = entry ? entry : entry_of_type_or_base(type);
    freefunc release = origin ? origin->original_free
                              : (PyType_IS_GC(type) ? PyObject_GC_Del : PyObject_Free);
    release(pointer);
}

/* Replaces type's tp_alloc and tp_free (once). Returns 0 or -1 (no memory). */
static int trace_type(PyTypeObject *type)
{
    if (type_slot_table_find(&tracing.table, type)) {
        return 0;
    }
    struct type_slot_entry *entry = type_slot_table_add(&tracing.table, type);
    if (!entry) {
        PyErr_NoMemory();
        return -1;
    }
    Py_INCREF(type);
    entry->original_alloc = type->tp_alloc == traced_alloc ? PyType_GenericAlloc : type->tp_alloc;
    entry->original_free = type->tp_free == traced_free
                               ? (PyType_IS_GC(type) ? PyObject_GC_Del : PyObject_Free)
                               : type->tp_free;
    type->tp_alloc = traced_alloc;
    type->tp_free = traced_free;
    return 0;
}

/* Remembers metaclass (its tp_new is watched_type_new now). Returns 0/-1. */
static int remember_metaclass(PyTypeObject *metaclass)
{
    if (tracing.metaclass_count == tracing.metaclass_capacity) {
        size_t capacity = tracing.metaclass_capacity ? tracing.metaclass_capacity * 2 : 64;
        PyTypeObject **grown = realloc(tracing.metaclasses, capacity * sizeof *grown);
        if (!grown) {
            PyErr_NoMemory();
            return -1;
        }
        tracing.metaclasses = grown;
        tracing.metaclass_capacity = capacity;
    }
    Py_INCREF(metaclass);
    tracing.metaclasses[tracing.metaclass_count++] = metaclass;
    return 0;
}

static PyObject *watched_type_new(PyTypeObject *metatype, PyObject *args, PyObject *keywords);

/* Takes in a type seen at start or just created: traces it if selected and
 * remembers it if it is a metaclass using watched_type_new. */
static int observe_type(PyTypeObject *type)
{
    if (PyType_IsSubtype(type, &PyType_Type) && type->tp_new == watched_type_new &&
        type != &PyType_Type && remember_metaclass(type) < 0) {
        return -1;
    }
    if (tracing.owner && type_is_selected(tracing.owner, type)) {
        return trace_type(type);
    }
    return 0;
}

static PyObject *watched_type_new(PyTypeObject *metatype, PyObject *args, PyObject *keywords)
{
    PyObject *result = original_type_new(metatype, args, keywords);
    if (result && tracing.owner && PyType_Check(result) &&
        observe_type((PyTypeObject *)result) < 0) {
        Py_DECREF(result);
        return NULL;
    }
    return result;
}

/* --- start and stop --------------------------------------------------------- */

#if PY_VERSION_HEX < 0x030D0000
/* Finds subtype_dealloc and type_new (once), from a throwaway class. */
static int learn_interpreter_slots(void)
{
    if (python_class_dealloc) {
        return 0;
    }
    original_type_new = PyType_Type.tp_new;
    PyObject *probe = PyObject_CallFunction((PyObject *)&PyType_Type, "s(O){}",
                                            "_memlyze_probe", (PyObject *)&PyBaseObject_Type);
    if (!probe) {
        return -1;
    }
    python_class_dealloc = ((PyTypeObject *)probe)->tp_dealloc;
    Py_DECREF(probe);
    return 0;
}

/* Watches type creation through metaclass (tp_new type_new). */
static int watch_metaclass(PyTypeObject *metaclass)
{
    if (metaclass->tp_new != original_type_new) {
        return 0;
    }
    if (remember_metaclass(metaclass) < 0) {
        return -1;
    }
    metaclass->tp_new = watched_type_new;
    return 0;
}

/* Visits every type reachable from object through __subclasses__: traces
 * the selected ones, watches the metaclasses. Returns 0 or -1. */
static int visit_existing_types(void)
{
    PyObject *subclasses_of = PyObject_GetAttrString((PyObject *)&PyType_Type, "__subclasses__");
    PyObject *pending = PyList_New(0);
    PyObject *seen = PySet_New(NULL);
    int status = subclasses_of && pending && seen &&
                         PyList_Append(pending, (PyObject *)&PyBaseObject_Type) == 0
                     ? 0
                     : -1;
    while (status == 0 && PyList_GET_SIZE(pending) > 0) {
        Py_ssize_t last = PyList_GET_SIZE(pending) - 1;
        PyObject *type = PyList_GET_ITEM(pending, last);
        Py_INCREF(type);
        PyList_SetSlice(pending, last, last + 1, NULL);
        PyObject *key = PyLong_FromVoidPtr(type);
        int known = key ? PySet_Contains(seen, key) : -1;
        if (known == 0 && PySet_Add(seen, key) == 0) {
            PyTypeObject *as_type = (PyTypeObject *)type;
            if (PyType_IsSubtype(as_type, &PyType_Type)) {
                status = watch_metaclass(as_type);
            }
            if (status == 0 && type_is_selected(tracing.owner, as_type)) {
                status = trace_type(as_type);
            }
            PyObject *children = status == 0 ? PyObject_CallOneArg(subclasses_of, type) : NULL;
            if (!children || PyList_SetSlice(pending, PyList_GET_SIZE(pending),
                                             PyList_GET_SIZE(pending), children) < 0) {
                status = -1;
            }
            Py_XDECREF(children);
        } else if (known != 0 && known != 1) {
            status = -1;
        }
        Py_XDECREF(key);
        Py_DECREF(type);
    }
    Py_XDECREF(subclasses_of);
    Py_XDECREF(pending);
    Py_XDECREF(seen);
    return status;
}

#endif /* below 3.13: the slot-replacing start */

/* Puts every replaced slot back and drops the references taken. */
static void restore_slots(void)
{
    for (size_t index = 0; index < tracing.metaclass_count; index++) {
        if (tracing.metaclasses[index]->tp_new == watched_type_new) {
            tracing.metaclasses[index]->tp_new = original_type_new;
        }
    }
    for (size_t slot = 0; slot < tracing.table.capacity; slot++) {
        struct type_slot_entry *entry = &tracing.table.entries[slot];
        if (entry->type) {
            entry->type->tp_alloc = entry->original_alloc;
            entry->type->tp_free = entry->original_free;
        }
    }
}

/* Drops the references restore_slots left (may free types). */
static void release_references(void)
{
    struct type_slot_table table = tracing.table;
    PyTypeObject **metaclasses = tracing.metaclasses;
    size_t metaclass_count = tracing.metaclass_count;
    tracing.table = (struct type_slot_table){0};
    tracing.metaclasses = NULL;
    tracing.metaclass_count = tracing.metaclass_capacity = 0;
    for (size_t slot = 0; slot < table.capacity; slot++) {
        Py_XDECREF(table.entries[slot].type);
    }
    type_slot_table_free(&table);
    for (size_t index = 0; index < metaclass_count; index++) {
        Py_DECREF(metaclasses[index]);
    }
    free(metaclasses);
}

/* "module.qualname" of a traced type, as a new str. */
static PyObject *type_key(PyTypeObject *type)
{
    PyObject *module = PyDict_GetItemString(type->tp_dict, "__module__");
    PyObject *qualname = ((PyHeapTypeObject *)type)->ht_qualname;
    if (module && PyUnicode_Check(module)) {
        return PyUnicode_FromFormat("%U.%U", module, qualname);
    }
    Py_INCREF(qualname);
    return qualname;
}

/* {"module.qualname": live count} of the traced types that saw an event. */
static PyObject *current_counts(void)
{
    PyObject *counts = PyDict_New();
    for (size_t slot = 0; counts && slot < tracing.table.capacity; slot++) {
        struct type_slot_entry *entry = &tracing.table.entries[slot];
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

/* Writes a LIVE line per type with objects alive or created, then TAIL. */
static void write_footer(PyObject *counts)
{
    struct text_log *log = tracing.log;
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
    text_log_unsigned(log, tracing.events);
    text_log_text(log, "\ttypes=");
    text_log_unsigned(log, tracing.table.count);
    text_log_text(log, "\trss=");
    text_log_unsigned(log, binding_rss_current());
    text_log_text(log, "\trss_peak=");
    text_log_unsigned(log, binding_rss_peak());
    text_log_character(log, '\n');
}

/* --- the Python type --------------------------------------------------------- */

static int to_name_set(PyObject *names, const char *what, PyObject **set)
{
    if (PyUnicode_Check(names)) {
        PyErr_Format(PyExc_TypeError, "%s must be a sequence of type names, not a str", what);
        return -1;
    }
    PyObject *created = PyFrozenSet_New(names);
    if (!created) {
        return -1;
    }
    PyObject *items = PyObject_GetIter(created);
    PyObject *item;
    int status = items ? 0 : -1;
    while (status == 0 && (item = PyIter_Next(items))) {
        if (!PyUnicode_Check(item)) {
            PyErr_Format(PyExc_TypeError, "%s must hold str type names, not %.100s", what,
                         Py_TYPE(item)->tp_name);
            status = -1;
        }
        Py_DECREF(item);
    }
    Py_XDECREF(items);
    if (status < 0 || PyErr_Occurred()) {
        Py_DECREF(created);
        return -1;
    }
    Py_XSETREF(*set, created);
    return 0;
}

static int tracer_init(ReferenceTracer *tracer, PyObject *args, PyObject *keywords)
{
    static char *keyword_names[] = {"include_builtins", "include_tp_names", "exclude_tp_names",
                                    "gc_collect_on_exit", "message", "filepath", NULL};
    int include_builtins = 0, generation = 2;
    PyObject *include = NULL, *exclude = NULL, *message = Py_None, *directory = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, keywords, "|pOOiOO", keyword_names, &include_builtins,
                                     &include, &exclude, &generation, &message, &directory)) {
        return -1;
    }
#if PY_VERSION_HEX < 0x030D0000
    if (include_builtins) {
        PyErr_SetString(PyExc_NotImplementedError,
                        "ReferenceTracing(include_builtins=True) needs Python 3.13 or later "
                        "(its PyRefTracer sees every object). Before 3.13 memlyze traces objects "
                        "through their type's tp_alloc/tp_free slots, and builtin types (int, "
                        "float, str, tuple, list, dict, frame, ...) reuse objects from free lists "
                        "and bypass those slots, so their counts would be wrong");
        return -1;
    }
#endif
    if (generation < -1 || generation > 2) {
        PyErr_Format(PyExc_ValueError,
                     "gc_collect_on_exit must be -1 (no collection) or a generation 0..2, not %d",
                     generation);
        return -1;
    }
    if (message != Py_None && !PyUnicode_Check(message)) {
        PyErr_SetString(PyExc_TypeError, "message must be a str or None");
        return -1;
    }
    PyObject *empty = PyTuple_New(0);
    int status = to_name_set(include ? include : empty, "include_tp_names", &tracer->include_names);
    if (status == 0) {
        status = to_name_set(exclude ? exclude : empty, "exclude_tp_names", &tracer->exclude_names);
    }
    Py_XDECREF(empty);
    if (status < 0) {
        return -1;
    }
    tracer->include_builtins = include_builtins;
    tracer->gc_generation = generation;
    Py_INCREF(message);
    Py_XSETREF(tracer->message, message);
    Py_INCREF(directory);
    Py_XSETREF(tracer->directory, directory);
    return 0;
}

static void write_header(ReferenceTracer *tracer)
{
    struct text_log *log = tracing.log;
    text_log_text(log, "HEAD:\tmemlyze-cpymemtrace\t1\tReferenceTracing\tpid=");
    text_log_unsigned(log, (uint64_t)getpid());
    text_log_text(log, "\tdepth=");
    text_log_unsigned(log, (uint64_t)tracer->depth);
    text_log_text(log, "\tpython=" PY_VERSION "\tmessage=");
    trace_log_put_message(log, tracer->message);
    text_log_text(log, "\nCOLS:\tAddress\tLive\tType\tFile\tLine\tFunction\tRSS\n");
}

#if PY_VERSION_HEX >= 0x030D0000
/* 3.13+: PyRefTracer reports every creation and destruction. UNTESTED. */
static int reference_tracer_callback(PyObject *object, PyRefTracerEvent event, void *data)
{
    (void)data;
    PyTypeObject *type = Py_TYPE(object);
    struct type_slot_entry *entry = type_slot_table_find(&tracing.table, type);
    if (!entry) {
        if (!tracing.owner->include_builtins && !(type->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
            return 0;
        }
        entry = type_slot_table_add(&tracing.table, type);
        if (!entry) {
            return 0;
        }
        Py_INCREF(type);
    }
    entry->live += event == PyRefTracer_CREATE ? 1 : -1;
    entry->created += event == PyRefTracer_CREATE;
    log_object(event == PyRefTracer_CREATE ? "NEW:\t" : "DEL:\t", object, type, entry->live);
    return 0;
}
#endif

/* Starts tracing for tracer: slots replaced (3.11) or the tracer set (3.13). */
static int start_tracing(ReferenceTracer *tracer)
{
    tracing.owner = tracer;
    tracing.events = 0;
#if PY_VERSION_HEX >= 0x030D0000
    return PyRefTracer_SetTracer(reference_tracer_callback, NULL);
#else
    if (learn_interpreter_slots() < 0 || visit_existing_types() < 0) {
        tracing.owner = NULL;
        restore_slots();
        release_references();
        return -1;
    }
    return 0;
#endif
}

static PyObject *tracer_enter(ReferenceTracer *tracer, PyObject *unused)
{
    (void)unused;
    if (tracer->state != 0) {
        PyErr_SetString(PyExc_RuntimeError, "a ReferenceTracing context can be entered only once");
        return NULL;
    }
    if (tracing.owner) {
        PyErr_SetString(PyExc_RuntimeError, "a ReferenceTracing context is active already "
                                            "(they do not nest)");
        return NULL;
    }
    struct text_log *log = malloc(sizeof *log);
    if (!log) {
        return PyErr_NoMemory();
    }
    tracer->depth = rss_tracing_enter_context();
    tracer->log_file_path = trace_log_file_create(log, tracer->directory, "R", tracer->depth);
    if (!tracer->log_file_path) {
        rss_tracing_leave_context();
        free(log);
        return NULL;
    }
    tracing.log = log;
    write_header(tracer);
    if (start_tracing(tracer) < 0) {
        text_log_close(log);
        free(log);
        tracing.log = NULL;
        rss_tracing_leave_context();
        return NULL;
    }
    tracer->state = 1;
    Py_INCREF(tracer);
    return (PyObject *)tracer;
}

/* Runs gc.collect(generation) while still tracing. */
static int collect_garbage(int generation)
{
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *result = gc ? PyObject_CallMethod(gc, "collect", "i", generation) : NULL;
    Py_XDECREF(gc);
    Py_XDECREF(result);
    return result ? 0 : -1;
}

static PyObject *tracer_exit(ReferenceTracer *tracer, PyObject *args)
{
    (void)args;
    if (tracer->state != 1) {
        Py_RETURN_FALSE;
    }
    int status = tracer->gc_generation >= 0 ? collect_garbage(tracer->gc_generation) : 0;
#if PY_VERSION_HEX >= 0x030D0000
    PyRefTracer_SetTracer(NULL, NULL);
#endif
    Py_XSETREF(tracer->final_counts, current_counts());
    tracing.owner = NULL;
    restore_slots();
    write_footer(tracer->final_counts);
    release_references();
    tracer->state = 2;
    rss_tracing_leave_context();
    if (trace_log_file_close(tracing.log, tracer->log_file_path) < 0) {
        status = -1;
    }
    free(tracing.log);
    tracing.log = NULL;
    if (status < 0 || !tracer->final_counts) {
        return NULL;
    }
    Py_RETURN_FALSE;
}

static PyObject *tracer_live_object_counts(ReferenceTracer *tracer, PyObject *unused)
{
    (void)unused;
    if (tracer->state == 1) {
        return current_counts();
    }
    if (tracer->final_counts) {
        return PyDict_Copy(tracer->final_counts);
    }
    return PyDict_New();
}

static PyObject *tracer_log_file_path(ReferenceTracer *tracer, void *unused)
{
    (void)unused;
    PyObject *path = tracer->log_file_path ? tracer->log_file_path : Py_None;
    Py_INCREF(path);
    return path;
}

static int tracer_traverse(ReferenceTracer *tracer, visitproc visit, void *arg)
{
    Py_VISIT(tracer->include_names);
    Py_VISIT(tracer->exclude_names);
    Py_VISIT(tracer->message);
    Py_VISIT(tracer->directory);
    Py_VISIT(tracer->final_counts);
    return 0;
}

static int tracer_clear(ReferenceTracer *tracer)
{
    Py_CLEAR(tracer->include_names);
    Py_CLEAR(tracer->exclude_names);
    Py_CLEAR(tracer->message);
    Py_CLEAR(tracer->directory);
    Py_CLEAR(tracer->final_counts);
    return 0;
}

static void tracer_dealloc(ReferenceTracer *tracer)
{
    PyObject_GC_UnTrack(tracer);
    tracer_clear(tracer);
    Py_CLEAR(tracer->log_file_path);
    Py_TYPE(tracer)->tp_free((PyObject *)tracer);
}

static PyMethodDef tracer_methods[] = {
    {"__enter__", (PyCFunction)tracer_enter, METH_NOARGS, "Starts tracing; returns self."},
    {"__exit__", (PyCFunction)tracer_exit, METH_VARARGS,
     "Collects garbage (gc_collect_on_exit), stops tracing, restores every slot, writes the "
     "live counts and closes the log."},
    {"live_object_counts", (PyCFunction)tracer_live_object_counts, METH_NOARGS,
     "{'module.qualname': live objects} of the traced types that saw an event (at exit, "
     "once finished)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef tracer_getset[] = {
    {"log_file_path", (getter)tracer_log_file_path, NULL, "The log file (None before __enter__).",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ReferenceTracerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "memlyze._memlyze.ReferenceTracer",
    .tp_doc = "ReferenceTracer(include_builtins=False, include_tp_names=(), exclude_tp_names=(), "
              "gc_collect_on_exit=2, message=None, filepath=None): the engine of "
              "memlyze.cpymemtrace.ReferenceTracing.",
    .tp_basicsize = sizeof(ReferenceTracer),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)tracer_init,
    .tp_dealloc = (destructor)tracer_dealloc,
    .tp_traverse = (traverseproc)tracer_traverse,
    .tp_clear = (inquiry)tracer_clear,
    .tp_methods = tracer_methods,
    .tp_getset = tracer_getset,
};

int reference_tracing_add(PyObject *module)
{
    if (PyType_Ready(&ReferenceTracerType) < 0) {
        return -1;
    }
    Py_INCREF(&ReferenceTracerType);
    if (PyModule_AddObject(module, "ReferenceTracer", (PyObject *)&ReferenceTracerType) < 0) {
        Py_DECREF(&ReferenceTracerType);
        return -1;
    }
    return 0;
}
