/*
 * ReferenceTracing before 3.13, which has no reference tracer: the selected
 * types' tp_alloc and tp_free slots are replaced by traced_alloc/traced_free,
 * which log and call the originals. Those are the Python classes (tp_dealloc
 * is the interpreter's subtype_dealloc): every instance of one is allocated
 * through tp_alloc and released through tp_free. Classes created while
 * tracing are caught by replacing tp_new of `type` (and of every metaclass
 * that inherited it) with watched_type_new. Everything is put back on exit.
 * Builtin types cannot be traced this way: they keep free lists and bypass
 * these slots. Putting back and releasing what was taken is here as well.
 * See reference_tracing_internal.h.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdlib.h>

#include "binding/tracing/reference_tracing_internal.h"
#include "binding/tracing/type_slot_table.h"

static newfunc original_type_new;
static destructor python_class_dealloc;

/* --- selection ------------------------------------------------------------ */

/* See reference_tracing_internal.h. */
int reference_tracing_set_holds(PyObject *set, PyObject *name)
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
    if (reference_tracing_set_holds(tracer->exclude_names, heap_type->ht_name) ||
        reference_tracing_set_holds(tracer->exclude_names, heap_type->ht_qualname)) {
        return 0;
    }
    if (PySet_GET_SIZE(tracer->include_names) == 0) {
        return 1;
    }
    return reference_tracing_set_holds(tracer->include_names, heap_type->ht_name) ||
           reference_tracing_set_holds(tracer->include_names, heap_type->ht_qualname);
}

/* --- the replacement slots ------------------------------------------------- */

/* The entry of type or of its nearest traced base, or NULL. */
static struct type_slot_entry *entry_of_type_or_base(PyTypeObject *type)
{
    for (; type; type = type->tp_base) {
        struct type_slot_entry *entry = type_slot_table_find(&reference_tracing_state.table, type);
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
    entry = type_slot_table_find(&reference_tracing_state.table, type);
    if (object && entry && reference_tracing_state.owner) {
        entry->live++;
        entry->created++;
        reference_tracing_log_object("NEW:\t", object, type, entry->live);
    }
    return object;
}

static void traced_free(void *pointer)
{
    PyTypeObject *type = Py_TYPE((PyObject *)pointer);
    struct type_slot_entry *entry = type_slot_table_find(&reference_tracing_state.table, type);
    if (entry && reference_tracing_state.owner) {
        entry->live--;
        reference_tracing_log_object("DEL:\t", pointer, type, entry->live);
    }
    struct type_slot_entry *origin = entry ? entry : entry_of_type_or_base(type);
    freefunc release = origin ? origin->original_free
                              : (PyType_IS_GC(type) ? PyObject_GC_Del : PyObject_Free);
    release(pointer);
}

/* Replaces type's tp_alloc and tp_free (once). Returns 0 or -1 (no memory). */
static int trace_type(PyTypeObject *type)
{
    if (type_slot_table_find(&reference_tracing_state.table, type)) {
        return 0;
    }
    struct type_slot_entry *entry = type_slot_table_add(&reference_tracing_state.table, type);
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
    if (reference_tracing_state.metaclass_count == reference_tracing_state.metaclass_capacity) {
        size_t capacity = reference_tracing_state.metaclass_capacity
                              ? reference_tracing_state.metaclass_capacity * 2
                              : 64;
        PyTypeObject **grown =
            realloc(reference_tracing_state.metaclasses, capacity * sizeof *grown);
        if (!grown) {
            PyErr_NoMemory();
            return -1;
        }
        reference_tracing_state.metaclasses = grown;
        reference_tracing_state.metaclass_capacity = capacity;
    }
    Py_INCREF(metaclass);
    reference_tracing_state.metaclasses[reference_tracing_state.metaclass_count++] = metaclass;
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
    if (reference_tracing_state.owner && type_is_selected(reference_tracing_state.owner, type)) {
        return trace_type(type);
    }
    return 0;
}

static PyObject *watched_type_new(PyTypeObject *metatype, PyObject *args, PyObject *keywords)
{
    PyObject *result = original_type_new(metatype, args, keywords);
    if (result && reference_tracing_state.owner && PyType_Check(result) &&
        observe_type((PyTypeObject *)result) < 0) {
        Py_DECREF(result);
        return NULL;
    }
    return result;
}

/* --- start ------------------------------------------------------------------ */

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
            if (status == 0 && type_is_selected(reference_tracing_state.owner, as_type)) {
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

/* See reference_tracing_internal.h. */
int reference_tracing_replace_slots(void)
{
    if (learn_interpreter_slots() < 0 || visit_existing_types() < 0) {
        reference_tracing_state.owner = NULL;
        reference_tracing_restore_slots();
        reference_tracing_release_references();
        return -1;
    }
    return 0;
}
#endif /* below 3.13: the slot-replacing start */

/* --- putting back ------------------------------------------------------------ */

/* reference_tracing.c calls these on exit on every version: from 3.13 on the
 * table holds the types PyRefTracer saw, whose references must go too. */

/* See reference_tracing_internal.h. */
void reference_tracing_restore_slots(void)
{
    for (size_t index = 0; index < reference_tracing_state.metaclass_count; index++) {
        if (reference_tracing_state.metaclasses[index]->tp_new == watched_type_new) {
            reference_tracing_state.metaclasses[index]->tp_new = original_type_new;
        }
    }
    for (size_t slot = 0; slot < reference_tracing_state.table.capacity; slot++) {
        struct type_slot_entry *entry = &reference_tracing_state.table.entries[slot];
        /* Only slots this file replaced: the 3.13 PyRefTracer path adds
         * entries (to count) without touching the slots, original_* NULL. */
        if (entry->type && entry->type->tp_alloc == traced_alloc) {
            entry->type->tp_alloc = entry->original_alloc;
            entry->type->tp_free = entry->original_free;
        }
    }
}

/* See reference_tracing_internal.h. */
void reference_tracing_release_references(void)
{
    struct type_slot_table table = reference_tracing_state.table;
    PyTypeObject **metaclasses = reference_tracing_state.metaclasses;
    size_t metaclass_count = reference_tracing_state.metaclass_count;
    reference_tracing_state.table = (struct type_slot_table){0};
    reference_tracing_state.metaclasses = NULL;
    reference_tracing_state.metaclass_count = reference_tracing_state.metaclass_capacity = 0;
    for (size_t slot = 0; slot < table.capacity; slot++) {
        Py_XDECREF(table.entries[slot].type);
    }
    type_slot_table_free(&table);
    for (size_t index = 0; index < metaclass_count; index++) {
        Py_DECREF(metaclasses[index]);
    }
    free(metaclasses);
}

