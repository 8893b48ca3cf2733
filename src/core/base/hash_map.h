/*
 * An open-addressing hash map from uint64 keys to uint64 values, linear
 * probing with backward-shift deletion (no tombstones), on the tracker heap.
 * The key HASH_MAP_EMPTY_KEY (all ones) cannot be stored.
 * Not thread-safe: callers serialise access.
 */
#ifndef MEMLYZE_HASH_MAP_H
#define MEMLYZE_HASH_MAP_H

#include <stddef.h>
#include <stdint.h>

#define HASH_MAP_EMPTY_KEY UINT64_MAX

struct hash_map_slot {
    uint64_t key;
    uint64_t value;
};

struct hash_map {
    struct hash_map_slot *slots;
    size_t capacity; /* a power of two, or 0 before first insert */
    size_t count;
};

/* Mixes a key into a well-spread hash (the splitmix64 finaliser). */
static inline uint64_t hash_map_mix(uint64_t key)
{
    key ^= key >> 30;
    key *= 0xbf58476d1ce4e5b9ULL;
    key ^= key >> 27;
    key *= 0x94d049bb133111ebULL;
    key ^= key >> 31;
    return key;
}

/* The slot of key in slots, or the empty slot where it would go. */
static inline size_t hash_map_slot_for(const struct hash_map_slot *slots, size_t capacity,
                                       uint64_t key)
{
    size_t mask = capacity - 1;
    size_t index = hash_map_mix(key) & mask;
    while (slots[index].key != key && slots[index].key != HASH_MAP_EMPTY_KEY) {
        index = (index + 1) & mask;
    }
    return index;
}

void hash_map_init(struct hash_map *map);
void hash_map_release(struct hash_map *map);
/* Returns a pointer to the value of key, or NULL when absent. The pointer is
 * valid until the next insert or remove. */
static inline uint64_t *hash_map_find(const struct hash_map *map, uint64_t key)
{
    if (!map->capacity || key == HASH_MAP_EMPTY_KEY) {
        return NULL;
    }
    struct hash_map_slot *slot = &map->slots[hash_map_slot_for(map->slots, map->capacity, key)];
    return slot->key == key ? &slot->value : NULL;
}
/* Inserts or overwrites; returns 0, or -1 when memory ran out. */
int hash_map_put(struct hash_map *map, uint64_t key, uint64_t value);
/* The value of key, inserted when absent (*inserted set, the value then
 * undefined): one probe where a find and a put would take two. NULL when
 * memory ran out or key is HASH_MAP_EMPTY_KEY. The pointer is valid until
 * the next insert or remove. */
uint64_t *hash_map_value_of(struct hash_map *map, uint64_t key, int *inserted);
/* Removes key; returns 1 and stores its value in *value (if not NULL) when it
 * was present, 0 otherwise. */
int hash_map_remove(struct hash_map *map, uint64_t key, uint64_t *value);
/* Bytes of memory held by the map. */
size_t hash_map_memory(const struct hash_map *map);

#endif
