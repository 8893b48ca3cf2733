#include "core/recording/native_intern.h"

#include <pthread.h>
#include <string.h>

#include "core/format/capture_format.h"
#include "core/base/hash_map.h"
#include "core/base/tracker_memory.h"

struct native_node {
    uint32_t parent;
    uint64_t ip;
};

/* Everything below is guarded by native_mutex. Index 0 of nodes is unused. */
static pthread_mutex_t native_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct native_node *nodes;
static uint32_t node_count; /* including the unused node 0 */
static uint32_t node_capacity;
static struct hash_map node_index; /* mixed (parent, ip) -> id, salted on collision */
static struct native_mapping *mappings;
static uint32_t mapping_count;
static uint32_t mapping_capacity;

void native_tables_release(void)
{
    pthread_mutex_lock(&native_mutex);
    tracker_free(nodes, (size_t)node_capacity * sizeof *nodes);
    tracker_free(mappings, (size_t)mapping_capacity * sizeof *mappings);
    nodes = NULL;
    mappings = NULL;
    node_count = node_capacity = mapping_count = mapping_capacity = 0;
    hash_map_release(&node_index);
    pthread_mutex_unlock(&native_mutex);
}

/* Makes room for one more item in a growable array. Returns 0 or -1. */
static int grow(void **items, uint32_t count, uint32_t *capacity, size_t item_size)
{
    if (count < *capacity) {
        return 0;
    }
    uint32_t wanted = *capacity ? *capacity * 2 : 1024;
    void *grown =
        tracker_realloc(*items, (size_t)*capacity * item_size, (size_t)wanted * item_size);
    if (!grown) {
        return -1;
    }
    *items = grown;
    *capacity = wanted;
    return 0;
}

int native_tables_reset(void)
{
    native_tables_release();
    pthread_mutex_lock(&native_mutex);
    int failed = grow((void **)&nodes, 0, &node_capacity, sizeof *nodes);
    if (!failed) {
        memset(&nodes[0], 0, sizeof nodes[0]);
        node_count = 1;
    }
    pthread_mutex_unlock(&native_mutex);
    return failed ? -1 : 0;
}

/* The salt-th candidate key of (parent, ip): never the empty key. */
static uint64_t node_key(uint32_t parent, uint64_t ip, uint32_t salt)
{
    uint64_t key = hash_map_mix(hash_map_mix(ip) ^ ((uint64_t)parent << 1) ^ salt);
    return key == HASH_MAP_EMPTY_KEY ? 0 : key;
}

uint32_t intern_native_stack(uint32_t parent_native_stack_id, uint64_t ip)
{
    uint32_t id = 0;
    pthread_mutex_lock(&native_mutex);
    for (uint32_t salt = 0; node_count > 0; salt++) {
        uint64_t key = node_key(parent_native_stack_id, ip, salt);
        uint64_t *found = hash_map_find(&node_index, key);
        if (found) {
            const struct native_node *node = &nodes[*found];
            if (node->parent == parent_native_stack_id && node->ip == ip) {
                id = (uint32_t)*found;
                break;
            }
            continue;
        }
        if (grow((void **)&nodes, node_count, &node_capacity, sizeof *nodes) < 0 ||
            hash_map_put(&node_index, key, node_count) < 0) {
            break;
        }
        nodes[node_count].parent = parent_native_stack_id;
        nodes[node_count].ip = ip;
        id = node_count++;
        break;
    }
    pthread_mutex_unlock(&native_mutex);
    return id;
}

uint32_t native_stack_count(void)
{
    pthread_mutex_lock(&native_mutex);
    uint32_t count = node_count ? node_count - 1 : 0;
    pthread_mutex_unlock(&native_mutex);
    return count;
}

int native_mapping_add(const struct native_mapping *mapping)
{
    int result = 1;
    pthread_mutex_lock(&native_mutex);
    for (uint32_t index = 0; index < mapping_count; index++) {
        if (mappings[index].start == mapping->start &&
            mappings[index].path_sid == mapping->path_sid) {
            result = 0;
            break;
        }
    }
    if (result == 1) {
        if (grow((void **)&mappings, mapping_count, &mapping_capacity, sizeof *mappings) < 0) {
            result = -1;
        } else {
            mappings[mapping_count++] = *mapping;
        }
    }
    pthread_mutex_unlock(&native_mutex);
    return result;
}

static int encode_mapping(struct byte_buffer *out, const struct native_mapping *mapping)
{
    int failed = byte_buffer_append_byte(out, OP_MAPPING) < 0 ||
                 byte_buffer_append_varint(out, mapping->start) < 0 ||
                 byte_buffer_append_varint(out, mapping->end) < 0 ||
                 byte_buffer_append_varint(out, mapping->load_bias) < 0 ||
                 byte_buffer_append_varint(out, mapping->path_sid) < 0 ||
                 byte_buffer_append_varint(out, mapping->build_id_size) < 0 ||
                 byte_buffer_append(out, mapping->build_id, mapping->build_id_size) < 0;
    return failed ? -1 : 0;
}

int native_tables_encode_new(struct byte_buffer *out, struct native_cursor *cursor,
                             uint32_t strings_written)
{
    pthread_mutex_lock(&native_mutex);
    size_t rollback = out->size;
    struct native_cursor moved = *cursor;
    int failed = 0;
    for (uint32_t id = moved.stacks_written + 1; !failed && id < node_count; id++) {
        failed = byte_buffer_append_byte(out, OP_NATIVE_STACK) < 0 ||
                 byte_buffer_append_varint(out, nodes[id].parent) < 0 ||
                 byte_buffer_append_varint(out, nodes[id].ip) < 0;
        moved.stacks_written = id;
    }
    while (!failed && moved.mappings_written < mapping_count &&
           mappings[moved.mappings_written].path_sid <= strings_written) {
        failed = encode_mapping(out, &mappings[moved.mappings_written]) < 0;
        moved.mappings_written++;
    }
    if (failed) {
        out->size = rollback;
    } else {
        *cursor = moved;
    }
    pthread_mutex_unlock(&native_mutex);
    return failed ? -1 : 0;
}

void native_tables_before_fork(void)
{
    pthread_mutex_lock(&native_mutex);
}

void native_tables_after_fork_in_parent(void)
{
    pthread_mutex_unlock(&native_mutex);
}

void native_tables_after_fork_in_child(void)
{
    pthread_mutex_init(&native_mutex, NULL);
}
