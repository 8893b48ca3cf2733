/* The u64 -> u64 hash map against a plain reference model under random
 * inserts, overwrites and removals (which exercise backward-shift). */
#include <stdlib.h>

#include "core/base/hash_map.h"
#include "tests/c/test_harness.h"
#include "core/base/tracker_memory.h"

/* The reference: keys 0..REFERENCE_KEYS-1 scattered by a multiplier. */
#define REFERENCE_KEYS 4096

struct reference_model {
    int present[REFERENCE_KEYS];
    uint64_t values[REFERENCE_KEYS];
    size_t count;
};

static uint64_t random_state = 12345;

static uint64_t random_next(void)
{
    random_state ^= random_state << 13;
    random_state ^= random_state >> 7;
    random_state ^= random_state << 17;
    return random_state;
}

/* Keys cluster in a few low bits so that probe runs collide and wrap. */
static uint64_t key_of(size_t slot)
{
    return (uint64_t)slot * 0x10000ULL + (slot & 3);
}

static void test_empty_map(void)
{
    struct hash_map map;
    hash_map_init(&map);
    CHECK(hash_map_find(&map, 1) == NULL);
    CHECK(hash_map_remove(&map, 1, NULL) == 0);
    CHECK(hash_map_put(&map, HASH_MAP_EMPTY_KEY, 1) == -1);
    CHECK(hash_map_find(&map, HASH_MAP_EMPTY_KEY) == NULL);
    hash_map_release(&map);
}

static void test_insert_find_overwrite(void)
{
    struct hash_map map;
    hash_map_init(&map);
    for (uint64_t key = 0; key < 1000; key++) {
        CHECK(hash_map_put(&map, key * 8, key + 1) == 0);
    }
    CHECK_EQ_U64(map.count, 1000);
    CHECK(map.capacity >= 2000);
    for (uint64_t key = 0; key < 1000; key++) {
        uint64_t *value = hash_map_find(&map, key * 8);
        CHECK(value && *value == key + 1);
    }
    CHECK(hash_map_put(&map, 16, 99) == 0);
    CHECK_EQ_U64(map.count, 1000);
    CHECK_EQ_U64(*hash_map_find(&map, 16), 99);
    CHECK(hash_map_find(&map, 7) == NULL);
    hash_map_release(&map);
    CHECK(map.capacity == 0 && map.count == 0);
}

static void check_against_model(const struct hash_map *map, const struct reference_model *model)
{
    CHECK_EQ_U64(map->count, model->count);
    for (size_t slot = 0; slot < REFERENCE_KEYS; slot++) {
        uint64_t *value = hash_map_find(map, key_of(slot));
        if (model->present[slot] != (value != NULL) ||
            (value && *value != model->values[slot])) {
            CHECK(!"hash map disagrees with the reference model");
            return;
        }
    }
}

static void random_operation(struct hash_map *map, struct reference_model *model)
{
    size_t slot = random_next() % REFERENCE_KEYS;
    uint64_t key = key_of(slot);
    if (random_next() % 3 == 0) {
        uint64_t removed = 0;
        int was_present = hash_map_remove(map, key, &removed);
        CHECK(was_present == model->present[slot]);
        if (was_present) {
            CHECK_EQ_U64(removed, model->values[slot]);
            model->present[slot] = 0;
            model->count--;
        }
        return;
    }
    uint64_t value = random_next();
    CHECK(hash_map_put(map, key, value) == 0);
    if (!model->present[slot]) {
        model->present[slot] = 1;
        model->count++;
    }
    model->values[slot] = value;
}

static void test_random_against_model(void)
{
    static struct reference_model model;
    struct hash_map map;
    hash_map_init(&map);
    for (int round = 0; round < 200000; round++) {
        random_operation(&map, &model);
        if (round % 20000 == 0) {
            check_against_model(&map, &model);
        }
    }
    check_against_model(&map, &model);
    /* Drain everything: removal must leave no stale entries behind. */
    for (size_t slot = 0; slot < REFERENCE_KEYS; slot++) {
        CHECK(hash_map_remove(&map, key_of(slot), NULL) == model.present[slot]);
        model.present[slot] = 0;
    }
    model.count = 0;
    check_against_model(&map, &model);
    hash_map_release(&map);
}

/* value_of inserts once, says so, and keeps every key findable across each
 * growth (the map grows when an insert would pass half full). */
static void test_value_of_inserts_once(void)
{
    struct hash_map map;
    hash_map_init(&map);
    int inserted = 7;
    CHECK(hash_map_value_of(&map, HASH_MAP_EMPTY_KEY, &inserted) == NULL);
    CHECK(inserted == 0);
    for (uint64_t key = 1; key <= 300; key++) {
        size_t capacity = map.capacity;
        uint64_t *value = hash_map_value_of(&map, key_of(key), &inserted);
        CHECK(value != NULL && inserted == 1);
        *value = key;
        CHECK_EQ_U64(map.count, key);
        CHECK(map.count * 2 <= map.capacity);
        if (capacity && map.capacity != capacity) {
            CHECK_EQ_U64(map.capacity, capacity * 2);
        }
        for (uint64_t earlier = 1; earlier <= key; earlier++) {
            uint64_t *found = hash_map_find(&map, key_of(earlier));
            CHECK(found && *found == earlier);
        }
    }
    uint64_t *again = hash_map_value_of(&map, key_of(42), &inserted);
    CHECK(again && inserted == 0 && *again == 42);
    CHECK_EQ_U64(map.count, 300);
    hash_map_release(&map);
}

static void test_memory_is_accounted(void)
{
    uint64_t before = tracker_memory_current();
    struct hash_map map;
    hash_map_init(&map);
    for (uint64_t key = 0; key < 100; key++) {
        CHECK(hash_map_put(&map, key, key) == 0);
    }
    CHECK_EQ_U64(tracker_memory_current() - before, hash_map_memory(&map));
    hash_map_release(&map);
    CHECK_EQ_U64(tracker_memory_current(), before);
}

int main(void)
{
    RUN_TEST(test_empty_map);
    RUN_TEST(test_insert_find_overwrite);
    RUN_TEST(test_random_against_model);
    RUN_TEST(test_value_of_inserts_once);
    RUN_TEST(test_memory_is_accounted);
    return test_harness_exit_code();
}
