#include "core/recording/intern_table.h"

#include <pthread.h>
#include <string.h>

#include "core/format/capture_format.h"
#include "core/base/hash_map.h"
#include "core/base/tracker_memory.h"

struct interned_string {
    uint64_t offset; /* into string_bytes */
    uint32_t size;
};

struct interned_frame {
    uint32_t function_sid;
    uint32_t file_sid;
    uint32_t line;
    uint32_t flags;
};

struct interned_stack {
    uint32_t parent;
    uint32_t frame;
};

/* A frame's module, learnt after the frame was defined (OP_FRAME_MODULE). */
struct module_assignment {
    uint32_t frame;
    uint32_t module_sid;
};

/* A growable array of fixed-size items; index 0 is the unused "none" id. */
struct item_array {
    void *items;
    uint32_t count; /* including the unused item 0 */
    uint32_t capacity;
};

/* Everything below is guarded by intern_mutex. */
static pthread_mutex_t intern_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct byte_buffer string_bytes;
static struct item_array strings;
static struct item_array frames;
static struct item_array stacks;
static struct item_array module_assignments;
/* uint32_t module string id by frame id, 0 = not known yet; as long as the
 * highest frame id given a module. */
static struct item_array frame_modules;
/* Content hash (retried with a salt on collision) -> id, for strings and
 * frames; stacks key exactly on (parent << 32 | frame). */
static struct hash_map string_index;
static struct hash_map frame_index;
static struct hash_map stack_index;

static void *item_array_add_unlocked(struct item_array *array, size_t item_size)
{
    if (array->count == array->capacity) {
        uint32_t capacity = array->capacity ? array->capacity * 2 : 256;
        void *grown = tracker_realloc(array->items, (size_t)array->capacity * item_size,
                                      (size_t)capacity * item_size);
        if (!grown) {
            return NULL;
        }
        array->items = grown;
        array->capacity = capacity;
    }
    return (char *)array->items + (size_t)array->count++ * item_size;
}

static void item_array_release(struct item_array *array, size_t item_size)
{
    tracker_free(array->items, (size_t)array->capacity * item_size);
    memset(array, 0, sizeof *array);
}

void intern_tables_release(void)
{
    pthread_mutex_lock(&intern_mutex);
    byte_buffer_release(&string_bytes);
    item_array_release(&strings, sizeof(struct interned_string));
    item_array_release(&frames, sizeof(struct interned_frame));
    item_array_release(&stacks, sizeof(struct interned_stack));
    item_array_release(&module_assignments, sizeof(struct module_assignment));
    item_array_release(&frame_modules, sizeof(uint32_t));
    hash_map_release(&string_index);
    hash_map_release(&frame_index);
    hash_map_release(&stack_index);
    pthread_mutex_unlock(&intern_mutex);
}

int intern_tables_reset(void)
{
    intern_tables_release();
    pthread_mutex_lock(&intern_mutex);
    /* Reserve id 0 in every table. */
    int failed = !item_array_add_unlocked(&strings, sizeof(struct interned_string)) ||
                 !item_array_add_unlocked(&frames, sizeof(struct interned_frame)) ||
                 !item_array_add_unlocked(&stacks, sizeof(struct interned_stack)) ||
                 !item_array_add_unlocked(&module_assignments, sizeof(struct module_assignment));
    if (!failed) {
        memset(strings.items, 0, sizeof(struct interned_string));
        memset(frames.items, 0, sizeof(struct interned_frame));
        memset(stacks.items, 0, sizeof(struct interned_stack));
        memset(module_assignments.items, 0, sizeof(struct module_assignment));
    }
    pthread_mutex_unlock(&intern_mutex);
    return failed ? -1 : 0;
}

static uint64_t hash_bytes(const void *data, size_t size)
{
    /* FNV-1a, then mixed: strings are short and interned once. */
    const uint8_t *bytes = data;
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (size_t index = 0; index < size; index++) {
        hash = (hash ^ bytes[index]) * 0x100000001b3ULL;
    }
    return hash_map_mix(hash);
}

/* Candidate key for the salt-th probe of a content hash: never the empty key. */
static uint64_t salted_key(uint64_t hash, uint32_t salt)
{
    uint64_t key = hash_map_mix(hash + salt);
    return key == HASH_MAP_EMPTY_KEY ? 0 : key;
}

static int string_equals_unlocked(uint32_t id, const char *text, size_t size)
{
    const struct interned_string *entry = (const struct interned_string *)strings.items + id;
    return entry->size == size && memcmp(string_bytes.data + entry->offset, text, size) == 0;
}

uint32_t intern_string(const char *text, size_t size)
{
    if (size == 0) {
        return 0;
    }
    uint64_t hash = hash_bytes(text, size);
    uint32_t id = 0;
    pthread_mutex_lock(&intern_mutex);
    for (uint32_t salt = 0;; salt++) {
        uint64_t key = salted_key(hash, salt);
        uint64_t *found = hash_map_find(&string_index, key);
        if (found && string_equals_unlocked((uint32_t)*found, text, size)) {
            id = (uint32_t)*found;
            break;
        }
        if (found) {
            continue;
        }
        uint64_t offset = string_bytes.size;
        struct interned_string *entry =
            item_array_add_unlocked(&strings, sizeof(struct interned_string));
        if (!entry) {
            break;
        }
        if (byte_buffer_append(&string_bytes, text, size) < 0 ||
            hash_map_put(&string_index, key, strings.count - 1) < 0) {
            strings.count--;
            string_bytes.size = offset;
            break;
        }
        entry->offset = offset;
        entry->size = (uint32_t)size;
        id = strings.count - 1;
        break;
    }
    pthread_mutex_unlock(&intern_mutex);
    return id;
}

uint32_t intern_frame(uint32_t function_sid, uint32_t file_sid, uint32_t line, uint32_t flags)
{
    struct interned_frame wanted = {function_sid, file_sid, line, flags};
    uint64_t hash = hash_bytes(&wanted, sizeof wanted);
    uint32_t id = 0;
    pthread_mutex_lock(&intern_mutex);
    for (uint32_t salt = 0;; salt++) {
        uint64_t key = salted_key(hash, salt);
        uint64_t *found = hash_map_find(&frame_index, key);
        if (found) {
            const struct interned_frame *entry =
                (const struct interned_frame *)frames.items + *found;
            if (memcmp(entry, &wanted, sizeof wanted) == 0) {
                id = (uint32_t)*found;
                break;
            }
            continue;
        }
        struct interned_frame *entry =
            item_array_add_unlocked(&frames, sizeof(struct interned_frame));
        if (!entry) {
            break;
        }
        if (hash_map_put(&frame_index, key, frames.count - 1) < 0) {
            frames.count--;
            break;
        }
        *entry = wanted;
        id = frames.count - 1;
        break;
    }
    pthread_mutex_unlock(&intern_mutex);
    return id;
}

uint32_t intern_stack(uint32_t parent_stack_id, uint32_t frame_id)
{
    uint64_t key = ((uint64_t)parent_stack_id << 32) | frame_id;
    uint32_t id = 0;
    pthread_mutex_lock(&intern_mutex);
    uint64_t *found = hash_map_find(&stack_index, key);
    if (found) {
        id = (uint32_t)*found;
    } else {
        struct interned_stack *entry =
            item_array_add_unlocked(&stacks, sizeof(struct interned_stack));
        if (entry && hash_map_put(&stack_index, key, stacks.count - 1) == 0) {
            entry->parent = parent_stack_id;
            entry->frame = frame_id;
            id = stacks.count - 1;
        } else if (entry) {
            stacks.count--;
        }
    }
    pthread_mutex_unlock(&intern_mutex);
    return id;
}

/* The module slot of frame_id, growing frame_modules to it; NULL when
 * memory ran out. */
static uint32_t *frame_module_slot_unlocked(uint32_t frame_id)
{
    while (frame_modules.count <= frame_id) {
        uint32_t *added = item_array_add_unlocked(&frame_modules, sizeof(uint32_t));
        if (!added) {
            return NULL;
        }
        *added = 0;
    }
    return (uint32_t *)frame_modules.items + frame_id;
}

void intern_frame_set_module(uint32_t frame_id, uint32_t module_sid)
{
    pthread_mutex_lock(&intern_mutex);
    if (frame_id > 0 && frame_id < frames.count && module_sid > 0 && module_sid < strings.count) {
        uint32_t *slot = frame_module_slot_unlocked(frame_id);
        struct module_assignment *assignment =
            slot && !*slot ? item_array_add_unlocked(&module_assignments,
                                                     sizeof(struct module_assignment))
                           : NULL;
        if (assignment) {
            *slot = module_sid;
            assignment->frame = frame_id;
            assignment->module_sid = module_sid;
        }
    }
    pthread_mutex_unlock(&intern_mutex);
}

uint32_t intern_stack_count(void)
{
    pthread_mutex_lock(&intern_mutex);
    uint32_t count = stacks.count ? stacks.count - 1 : 0;
    pthread_mutex_unlock(&intern_mutex);
    return count;
}

uint32_t intern_string_count(void)
{
    pthread_mutex_lock(&intern_mutex);
    uint32_t count = strings.count ? strings.count - 1 : 0;
    pthread_mutex_unlock(&intern_mutex);
    return count;
}

uint32_t intern_frame_count(void)
{
    pthread_mutex_lock(&intern_mutex);
    uint32_t count = frames.count ? frames.count - 1 : 0;
    pthread_mutex_unlock(&intern_mutex);
    return count;
}

int intern_stack_lookup(uint32_t stack_id, uint32_t *parent_stack_id, uint32_t *frame_id)
{
    pthread_mutex_lock(&intern_mutex);
    int found = stack_id > 0 && stack_id < stacks.count;
    if (found) {
        const struct interned_stack *entry = (const struct interned_stack *)stacks.items + stack_id;
        *parent_stack_id = entry->parent;
        *frame_id = entry->frame;
    }
    pthread_mutex_unlock(&intern_mutex);
    return found;
}

int intern_frame_lookup(uint32_t frame_id, uint32_t *function_sid, uint32_t *file_sid,
                        uint32_t *line)
{
    pthread_mutex_lock(&intern_mutex);
    int found = frame_id > 0 && frame_id < frames.count;
    if (found) {
        const struct interned_frame *entry = (const struct interned_frame *)frames.items + frame_id;
        *function_sid = entry->function_sid;
        *file_sid = entry->file_sid;
        *line = entry->line;
    }
    pthread_mutex_unlock(&intern_mutex);
    return found;
}

size_t intern_string_copy(uint32_t string_id, char *out, size_t out_size)
{
    pthread_mutex_lock(&intern_mutex);
    size_t length = 0;
    if (string_id > 0 && string_id < strings.count) {
        const struct interned_string *entry =
            (const struct interned_string *)strings.items + string_id;
        length = entry->size;
        size_t copied = length < out_size - 1 ? length : out_size - 1;
        memcpy(out, string_bytes.data + entry->offset, copied);
        out[copied] = '\0';
    } else if (out_size) {
        out[0] = '\0';
    }
    pthread_mutex_unlock(&intern_mutex);
    return length;
}

static int encode_strings_unlocked(struct byte_buffer *out, uint32_t from)
{
    for (uint32_t id = from; id < strings.count; id++) {
        const struct interned_string *entry = (const struct interned_string *)strings.items + id;
        if (byte_buffer_append_byte(out, OP_STRING) < 0 ||
            byte_buffer_append_string(out, (const char *)string_bytes.data + entry->offset,
                                      entry->size) < 0) {
            return -1;
        }
    }
    return 0;
}

static int encode_frames_unlocked(struct byte_buffer *out, uint32_t from)
{
    for (uint32_t id = from; id < frames.count; id++) {
        const struct interned_frame *entry = (const struct interned_frame *)frames.items + id;
        if (byte_buffer_append_byte(out, OP_FRAME) < 0 ||
            byte_buffer_append_varint(out, entry->function_sid) < 0 ||
            byte_buffer_append_varint(out, entry->file_sid) < 0 ||
            byte_buffer_append_varint(out, entry->line) < 0 ||
            byte_buffer_append_varint(out, entry->flags) < 0) {
            return -1;
        }
    }
    return 0;
}

static int encode_stacks_unlocked(struct byte_buffer *out, uint32_t from)
{
    for (uint32_t id = from; id < stacks.count; id++) {
        const struct interned_stack *entry = (const struct interned_stack *)stacks.items + id;
        /* The distance back from the stack's own id: a parent is mostly
         * defined right before its children (a root's is the whole id). */
        if (byte_buffer_append_byte(out, OP_STACK) < 0 ||
            byte_buffer_append_varint(out, id - entry->parent) < 0 ||
            byte_buffer_append_varint(out, entry->frame) < 0) {
            return -1;
        }
    }
    return 0;
}

static int encode_modules_unlocked(struct byte_buffer *out, uint32_t from)
{
    for (uint32_t index = from; index < module_assignments.count; index++) {
        const struct module_assignment *entry =
            (const struct module_assignment *)module_assignments.items + index;
        if (byte_buffer_append_byte(out, OP_FRAME_MODULE) < 0 ||
            byte_buffer_append_varint(out, entry->frame) < 0 ||
            byte_buffer_append_varint(out, entry->module_sid) < 0) {
            return -1;
        }
    }
    return 0;
}

int intern_tables_encode_new(struct byte_buffer *out, struct intern_cursor *cursor)
{
    pthread_mutex_lock(&intern_mutex);
    size_t rollback = out->size;
    int result = 0;
    if (encode_strings_unlocked(out, cursor->strings_written + 1) < 0 ||
        encode_frames_unlocked(out, cursor->frames_written + 1) < 0 ||
        encode_stacks_unlocked(out, cursor->stacks_written + 1) < 0 ||
        encode_modules_unlocked(out, cursor->modules_written + 1) < 0) {
        out->size = rollback;
        result = -1;
    } else {
        cursor->strings_written = strings.count ? strings.count - 1 : 0;
        cursor->frames_written = frames.count ? frames.count - 1 : 0;
        cursor->stacks_written = stacks.count ? stacks.count - 1 : 0;
        cursor->modules_written = module_assignments.count ? module_assignments.count - 1 : 0;
    }
    pthread_mutex_unlock(&intern_mutex);
    return result;
}

size_t intern_tables_memory(void)
{
    pthread_mutex_lock(&intern_mutex);
    size_t total = string_bytes.capacity + hash_map_memory(&string_index) +
                   hash_map_memory(&frame_index) + hash_map_memory(&stack_index) +
                   (size_t)strings.capacity * sizeof(struct interned_string) +
                   (size_t)frames.capacity * sizeof(struct interned_frame) +
                   (size_t)stacks.capacity * sizeof(struct interned_stack) +
                   (size_t)module_assignments.capacity * sizeof(struct module_assignment) +
                   (size_t)frame_modules.capacity * sizeof(uint32_t);
    pthread_mutex_unlock(&intern_mutex);
    return total;
}

void intern_tables_after_fork_in_child(void)
{
    pthread_mutex_init(&intern_mutex, NULL);
}

void intern_tables_before_fork(void)
{
    pthread_mutex_lock(&intern_mutex);
}

void intern_tables_after_fork_in_parent(void)
{
    pthread_mutex_unlock(&intern_mutex);
}
