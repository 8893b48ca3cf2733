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

void hash_map_init(struct hash_map *map);
void hash_map_release(struct hash_map *map);
/* Returns a pointer to the value of key, or NULL when absent. The pointer is
 * valid until the next insert or remove. */
uint64_t *hash_map_find(const struct hash_map *map, uint64_t key);
/* Inserts or overwrites; returns 0, or -1 when memory ran out. */
int hash_map_put(struct hash_map *map, uint64_t key, uint64_t value);
/* Removes key; returns 1 and stores its value in *value (if not NULL) when it
 * was present, 0 otherwise. */
int hash_map_remove(struct hash_map *map, uint64_t key, uint64_t *value);
/* Bytes of memory held by the map. */
size_t hash_map_memory(const struct hash_map *map);

#endif
