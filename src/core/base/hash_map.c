#include "core/base/hash_map.h"

#include "core/base/tracker_memory.h"

void hash_map_init(struct hash_map *map)
{
    map->slots = NULL;
    map->capacity = 0;
    map->count = 0;
}

void hash_map_release(struct hash_map *map)
{
    tracker_free(map->slots, map->capacity * sizeof *map->slots);
    hash_map_init(map);
}

static struct hash_map_slot *slots_new(size_t capacity)
{
    struct hash_map_slot *slots = tracker_malloc(capacity * sizeof *slots);
    if (slots) {
        for (size_t index = 0; index < capacity; index++) {
            slots[index].key = HASH_MAP_EMPTY_KEY;
        }
    }
    return slots;
}

static int hash_map_grow(struct hash_map *map)
{
    size_t capacity = map->capacity ? map->capacity * 2 : 64;
    struct hash_map_slot *slots = slots_new(capacity);
    if (!slots) {
        return -1;
    }
    for (size_t index = 0; index < map->capacity; index++) {
        struct hash_map_slot old = map->slots[index];
        if (old.key != HASH_MAP_EMPTY_KEY) {
            slots[hash_map_slot_for(slots, capacity, old.key)] = old;
        }
    }
    tracker_free(map->slots, map->capacity * sizeof *map->slots);
    map->slots = slots;
    map->capacity = capacity;
    return 0;
}

static uint64_t *slot_take(struct hash_map *map, size_t index, uint64_t key, int *inserted)
{
    map->slots[index].key = key;
    map->count++;
    *inserted = 1;
    return &map->slots[index].value;
}

uint64_t *hash_map_value_of(struct hash_map *map, uint64_t key, int *inserted)
{
    *inserted = 0;
    if (key == HASH_MAP_EMPTY_KEY) {
        return NULL;
    }
    /* Keep the load at or under 1/2: probes stay short. */
    int room = (map->count + 1) * 2 <= map->capacity;
    if (map->capacity) {
        size_t index = hash_map_slot_for(map->slots, map->capacity, key);
        if (map->slots[index].key == key) {
            return &map->slots[index].value;
        }
        if (room) {
            return slot_take(map, index, key, inserted);
        }
    }
    if (hash_map_grow(map) < 0) {
        return NULL;
    }
    return slot_take(map, hash_map_slot_for(map->slots, map->capacity, key), key, inserted);
}

int hash_map_put(struct hash_map *map, uint64_t key, uint64_t value)
{
    int inserted;
    uint64_t *slot = hash_map_value_of(map, key, &inserted);
    if (!slot) {
        return -1;
    }
    *slot = value;
    return 0;
}

int hash_map_remove(struct hash_map *map, uint64_t key, uint64_t *value)
{
    if (!map->capacity || key == HASH_MAP_EMPTY_KEY) {
        return 0;
    }
    size_t mask = map->capacity - 1;
    size_t hole = hash_map_slot_for(map->slots, map->capacity, key);
    if (map->slots[hole].key != key) {
        return 0;
    }
    if (value) {
        *value = map->slots[hole].value;
    }
    /* Backward-shift: move later members of the probe run into the hole when
     * their home slot does not lie cyclically between the hole and them. */
    size_t index = hole;
    for (;;) {
        index = (index + 1) & mask;
        uint64_t moving = map->slots[index].key;
        if (moving == HASH_MAP_EMPTY_KEY) {
            break;
        }
        size_t home = hash_map_mix(moving) & mask;
        int home_between = hole <= index ? (hole < home && home <= index)
                                         : (hole < home || home <= index);
        if (!home_between) {
            map->slots[hole] = map->slots[index];
            hole = index;
        }
    }
    map->slots[hole].key = HASH_MAP_EMPTY_KEY;
    map->count--;
    return 1;
}

size_t hash_map_memory(const struct hash_map *map)
{
    return map->capacity * sizeof *map->slots;
}
