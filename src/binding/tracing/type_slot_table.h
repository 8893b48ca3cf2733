/*
 * The types whose tp_alloc/tp_free reference_tracing_type_slots.c replaced:
 * each with its original slots and its live-object count. Open addressing
 * keyed by the type's address; a lookup is a multiply, a mask and usually one
 * compare.
 */
#ifndef MEMLYZE_TYPE_SLOT_TABLE_H
#define MEMLYZE_TYPE_SLOT_TABLE_H

#include <Python.h>
#include <stddef.h>
#include <stdint.h>

struct type_slot_entry {
    PyTypeObject *type; /* strong reference; NULL: empty slot */
    allocfunc original_alloc;
    freefunc original_free;
    int64_t live;    /* allocated minus freed while traced */
    int64_t created; /* allocations while traced */
    int selected;    /* 3.13 PyRefTracer path: whether this type's events count */
};

struct type_slot_table {
    struct type_slot_entry *entries;
    size_t capacity; /* a power of two, or 0 */
    size_t count;
};

/* The entry of type, or NULL. */
struct type_slot_entry *type_slot_table_find(const struct type_slot_table *table,
                                             const PyTypeObject *type);
/* Adds type (not present yet) with zero counts; returns its entry, or NULL
 * when out of memory. Entries move when the table grows. */
struct type_slot_entry *type_slot_table_add(struct type_slot_table *table, PyTypeObject *type);
/* Frees the storage (the caller dropped the references first). */
void type_slot_table_free(struct type_slot_table *table);

#endif
