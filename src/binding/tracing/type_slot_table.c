#include "binding/tracing/type_slot_table.h"

#include <stdlib.h>

/* The home slot of a type address in a table of capacity slots. */
static size_t home_slot(const PyTypeObject *type, size_t capacity)
{
    uint64_t key = (uint64_t)(uintptr_t)type;
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (capacity - 1);
}

struct type_slot_entry *type_slot_table_find(const struct type_slot_table *table,
                                             const PyTypeObject *type)
{
    if (!table->capacity) {
        return NULL;
    }
    for (size_t slot = home_slot(type, table->capacity);; slot = (slot + 1) & (table->capacity - 1)) {
        struct type_slot_entry *entry = &table->entries[slot];
        if (entry->type == type) {
            return entry;
        }
        if (!entry->type) {
            return NULL;
        }
    }
}

/* Places entry in its first free slot of entries (capacity slots). */
static struct type_slot_entry *place(struct type_slot_entry *entries, size_t capacity,
                                     const struct type_slot_entry *entry)
{
    size_t slot = home_slot(entry->type, capacity);
    while (entries[slot].type) {
        slot = (slot + 1) & (capacity - 1);
    }
    entries[slot] = *entry;
    return &entries[slot];
}

/* Doubles the capacity (or makes it 256). Returns 0 or -1. */
static int grow(struct type_slot_table *table)
{
    size_t capacity = table->capacity ? table->capacity * 2 : 256;
    struct type_slot_entry *entries = calloc(capacity, sizeof *entries);
    if (!entries) {
        return -1;
    }
    for (size_t slot = 0; slot < table->capacity; slot++) {
        if (table->entries[slot].type) {
            place(entries, capacity, &table->entries[slot]);
        }
    }
    free(table->entries);
    table->entries = entries;
    table->capacity = capacity;
    return 0;
}

struct type_slot_entry *type_slot_table_add(struct type_slot_table *table, PyTypeObject *type)
{
    if ((table->count + 1) * 2 > table->capacity && grow(table) < 0) {
        return NULL;
    }
    struct type_slot_entry entry = {.type = type};
    table->count++;
    return place(table->entries, table->capacity, &entry);
}

void type_slot_table_free(struct type_slot_table *table)
{
    free(table->entries);
    table->entries = NULL;
    table->capacity = 0;
    table->count = 0;
}
