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

static size_t slot_for(const struct hash_map_slot *slots, size_t capacity, uint64_t key)
{
    size_t mask = capacity - 1;
    size_t index = hash_map_mix(key) & mask;
    while (slots[index].key != key && slots[index].key != HASH_MAP_EMPTY_KEY) {
        index = (index + 1) & mask;
    }
    return index;
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
            slots[slot_for(slots, capacity, old.key)] = old;
        }
    }
    tracker_free(map->slots, map->capacity * sizeof *map->slots);
    map->slots = slots;
    map->capacity = capacity;
    return 0;
}

uint64_t *hash_map_find(const struct hash_map *map, uint64_t key)
{
    if (!map->capacity || key == HASH_MAP_EMPTY_KEY) {
        return NULL;
    }
    struct hash_map_slot *slot = &map->slots[slot_for(map->slots, map->capacity, key)];
    return slot->key == key ? &slot->value : NULL;
}

int hash_map_put(struct hash_map *map, uint64_t key, uint64_t value)
{
    if (key == HASH_MAP_EMPTY_KEY) {
        return -1;
    }
    /* Keep the load at or under 1/2: probes stay short. */
    if ((map->count + 1) * 2 > map->capacity && hash_map_grow(map) < 0) {
        return -1;
    }
    struct hash_map_slot *slot = &map->slots[slot_for(map->slots, map->capacity, key)];
    if (slot->key == HASH_MAP_EMPTY_KEY) {
        slot->key = key;
        map->count++;
    }
    slot->value = value;
    return 0;
}

int hash_map_remove(struct hash_map *map, uint64_t key, uint64_t *value)
{
    if (!map->capacity || key == HASH_MAP_EMPTY_KEY) {
        return 0;
    }
    size_t mask = map->capacity - 1;
    size_t hole = slot_for(map->slots, map->capacity, key);
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
