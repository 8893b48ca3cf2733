#include "core/live/live_snapshot.h"

#include <stdlib.h>
#include <string.h>

#include "core/base/tracker_memory.h"
#include "core/live/live_encoding.h"
#include "core/live/live_protocol.h"
#include "core/recording/intern_table.h"
#include "core/recording/live_table.h"

/* A location's identity (looked up once) and this snapshot's figures. */
struct live_frame_entry {
    uint32_t function_sid;
    uint32_t file_sid;
    uint32_t line;
    uint32_t looked_up; /* 1: the identity is filled in (or the id is unknown) */
    uint32_t location;  /* the first frame id of the same function, file and line
                           (frames differ by flags too): figures go there */
    uint64_t own_bytes;
    uint64_t own_count;
    uint64_t total_bytes;
    uint64_t last_walk; /* the walk that last added to total_bytes */
    int touched;
    int selected;
};

void live_snapshot_builder_init(struct live_snapshot_builder *builder)
{
    memset(builder, 0, sizeof *builder);
    hash_map_init(&builder->locations);
}

void live_snapshot_builder_release(struct live_snapshot_builder *builder)
{
    tracker_free(builder->stack_parent, builder->stack_capacity * sizeof *builder->stack_parent);
    tracker_free(builder->stack_frame, builder->stack_capacity * sizeof *builder->stack_frame);
    tracker_free(builder->frames, builder->frame_capacity * sizeof *builder->frames);
    tracker_free(builder->touched, builder->touched_capacity * sizeof *builder->touched);
    hash_map_release(&builder->locations);
    live_snapshot_builder_init(builder);
}

/* Grows an array of element_size items from *capacity to hold index. */
static int grow(void **array, size_t *capacity, size_t element_size, size_t index)
{
    if (index < *capacity) {
        return 0;
    }
    size_t wanted = *capacity ? *capacity : 1024;
    while (wanted <= index) {
        wanted *= 2;
    }
    void *grown = tracker_realloc(*array, *capacity * element_size, wanted * element_size);
    if (!grown) {
        return -1;
    }
    memset((char *)grown + *capacity * element_size, 0, (wanted - *capacity) * element_size);
    *array = grown;
    *capacity = wanted;
    return 0;
}

/* Copies the stacks up to stack_id from the intern table, if not yet. */
static int stacks_look_up(struct live_snapshot_builder *builder, uint32_t stack_id)
{
    if (stack_id < builder->stack_count) {
        return 0;
    }
    size_t capacity = builder->stack_capacity;
    if (grow((void **)&builder->stack_parent, &capacity, sizeof(uint32_t), stack_id) < 0) {
        return -1;
    }
    capacity = builder->stack_capacity;
    if (grow((void **)&builder->stack_frame, &capacity, sizeof(uint32_t), stack_id) < 0) {
        return -1;
    }
    builder->stack_capacity = capacity;
    if (builder->stack_count == 0) {
        builder->stack_count = 1; /* stack 0: no Python frame */
    }
    for (uint32_t id = (uint32_t)builder->stack_count; id <= stack_id; id++) {
        uint32_t parent = 0;
        uint32_t frame = 0;
        if (!intern_stack_lookup(id, &parent, &frame)) {
            return 0; /* not defined: walked as no frame */
        }
        builder->stack_parent[id] = parent < id ? parent : 0;
        builder->stack_frame[id] = frame;
        builder->stack_count = id + 1;
    }
    return 0;
}

static uint64_t location_key(const struct live_frame_entry *entry)
{
    uint64_t key = hash_map_mix(((uint64_t)entry->function_sid << 32) | entry->file_sid) ^
                   entry->line;
    return key == HASH_MAP_EMPTY_KEY ? 0 : key;
}

/* Looks up frame_id's identity and the location it belongs to. */
static void frame_identify(struct live_snapshot_builder *builder, uint32_t frame_id)
{
    struct live_frame_entry *entry = &builder->frames[frame_id];
    entry->looked_up = 1;
    entry->location = frame_id;
    if (!frame_id ||
        !intern_frame_lookup(frame_id, &entry->function_sid, &entry->file_sid, &entry->line)) {
        return;
    }
    uint64_t key = location_key(entry);
    uint64_t *first = hash_map_find(&builder->locations, key);
    if (!first) {
        hash_map_put(&builder->locations, key, frame_id); /* failing: its own location */
        return;
    }
    const struct live_frame_entry *other = &builder->frames[*first];
    if (other->function_sid == entry->function_sid && other->file_sid == entry->file_sid &&
        other->line == entry->line) {
        entry->location = (uint32_t)*first;
    }
}

/* The location entry frame_id adds to (its identity looked up when first
 * met), marked touched; NULL when out of memory. */
static struct live_frame_entry *frame_entry(struct live_snapshot_builder *builder,
                                            uint32_t frame_id)
{
    if (grow((void **)&builder->frames, &builder->frame_capacity, sizeof *builder->frames,
             frame_id) < 0 ||
        grow((void **)&builder->touched, &builder->touched_capacity, sizeof *builder->touched,
             builder->touched_count) < 0) {
        return NULL;
    }
    if (!builder->frames[frame_id].looked_up) {
        frame_identify(builder, frame_id);
    }
    frame_id = builder->frames[frame_id].location;
    struct live_frame_entry *entry = &builder->frames[frame_id];
    if (!entry->touched) {
        entry->touched = 1;
        builder->touched[builder->touched_count++] = frame_id;
    }
    return entry;
}

/* Adds what one stack holds to its frames: own to the innermost, total to
 * each frame once. */
static int stack_fold(struct live_snapshot_builder *builder, uint32_t stack_id, uint64_t bytes,
                      uint64_t count)
{
    if (stacks_look_up(builder, stack_id) < 0) {
        return -1;
    }
    uint32_t id = stack_id < builder->stack_count ? stack_id : 0;
    builder->walk++;
    struct live_frame_entry *entry = frame_entry(builder, id ? builder->stack_frame[id] : 0);
    if (!entry) {
        return -1;
    }
    entry->own_bytes += bytes;
    entry->own_count += count;
    do {
        entry = frame_entry(builder, id ? builder->stack_frame[id] : 0);
        if (!entry) {
            return -1;
        }
        if (entry->last_walk != builder->walk) {
            entry->last_walk = builder->walk;
            entry->total_bytes += bytes;
        }
        id = builder->stack_parent[id];
    } while (id);
    return 0;
}

/* Sorting touched frame ids by one figure, largest first (qsort has no
 * context argument: the builder is passed through this file's variable). */
static const struct live_frame_entry *sorted_frames;
static int sort_figure; /* 0 own bytes, 1 total bytes, 2 own count */

static uint64_t figure_of(const struct live_frame_entry *entry)
{
    return sort_figure == 0 ? entry->own_bytes
           : sort_figure == 1 ? entry->total_bytes
                              : entry->own_count;
}

static int larger_first(const void *left, const void *right)
{
    uint64_t a = figure_of(&sorted_frames[*(const uint32_t *)left]);
    uint64_t b = figure_of(&sorted_frames[*(const uint32_t *)right]);
    return a < b ? 1 : a > b ? -1 : 0;
}

/* Marks the LIVE_TOP_LOCATIONS largest by each figure; returns how many
 * are marked. */
static uint32_t select_top(struct live_snapshot_builder *builder)
{
    uint32_t selected = 0;
    if (builder->touched_count == 0) {
        return 0; /* nothing held (and qsort must not get a NULL array) */
    }
    sorted_frames = builder->frames;
    for (sort_figure = 0; sort_figure < 3; sort_figure++) {
        qsort(builder->touched, builder->touched_count, sizeof *builder->touched, larger_first);
        for (size_t rank = 0; rank < builder->touched_count && rank < LIVE_TOP_LOCATIONS; rank++) {
            struct live_frame_entry *entry = &builder->frames[builder->touched[rank]];
            if (!entry->selected && figure_of(entry)) {
                entry->selected = 1;
                selected++;
            }
        }
    }
    return selected;
}

static int put_interned(struct byte_buffer *out, uint32_t string_id)
{
    char text[LIVE_MAX_NAME + 1];
    size_t length = intern_string_copy(string_id, text, sizeof text);
    return live_put_string(out, text, length < LIVE_MAX_NAME ? length : LIVE_MAX_NAME);
}

static int put_location(struct byte_buffer *out, uint32_t frame_id,
                        const struct live_frame_entry *entry)
{
    static const char no_frame[] = "[no Python frame]";
    int failed = frame_id ? put_interned(out, entry->function_sid) || put_interned(out, entry->file_sid)
                          : live_put_string(out, no_frame, sizeof no_frame - 1) ||
                                live_put_string(out, "", 0);
    return failed || live_put_u32(out, frame_id ? entry->line : 0) ||
                   live_put_u64(out, entry->own_bytes) || live_put_u64(out, entry->total_bytes) ||
                   live_put_u64(out, entry->own_count)
               ? -1
               : 0;
}

/* Forgets this snapshot's figures (identities stay). */
static void figures_reset(struct live_snapshot_builder *builder)
{
    for (size_t index = 0; index < builder->touched_count; index++) {
        struct live_frame_entry *entry = &builder->frames[builder->touched[index]];
        entry->own_bytes = entry->own_count = entry->total_bytes = 0;
        entry->touched = entry->selected = 0;
    }
    builder->touched_count = 0;
}

static int put_locations(struct live_snapshot_builder *builder, uint32_t thread_id,
                         struct byte_buffer *out)
{
    struct live_table_stack *stacks;
    size_t count;
    int copied = thread_id ? live_table_copy_thread_stacks(thread_id, &stacks, &count)
                           : live_table_copy_stacks(&stacks, &count);
    if (copied < 0) {
        return -1;
    }
    int failed = 0;
    for (size_t index = 0; index < count && !failed; index++) {
        if (stacks[index].live_count) {
            failed = stack_fold(builder, stacks[index].stack_id, stacks[index].live_bytes,
                                stacks[index].live_count) < 0;
        }
    }
    live_table_free_stacks(stacks, count);
    uint32_t selected = failed ? 0 : select_top(builder);
    failed = failed || live_put_u32(out, (uint32_t)builder->touched_count) ||
             live_put_u32(out, selected);
    for (size_t index = 0; index < builder->touched_count && !failed; index++) {
        uint32_t frame_id = builder->touched[index];
        if (builder->frames[frame_id].selected) {
            failed = put_location(out, frame_id, &builder->frames[frame_id]) < 0;
        }
    }
    figures_reset(builder);
    return failed ? -1 : 0;
}

static int put_threads(struct byte_buffer *out)
{
    struct live_table_thread *threads;
    size_t count;
    if (live_table_copy_threads(&threads, &count) < 0) {
        return -1;
    }
    int failed = live_put_u32(out, (uint32_t)count);
    for (size_t index = 0; index < count && !failed; index++) {
        const struct live_table_thread *thread = &threads[index];
        failed = live_put_u32(out, thread->thread_id) ||
                 live_put_u32(out, (uint32_t)thread->native_tid) ||
                 (thread->name_sid ? put_interned(out, thread->name_sid)
                                   : live_put_string(out, thread->name,
                                                     strnlen(thread->name, sizeof thread->name))) ||
                 live_put_u64(out, thread->live_bytes) || live_put_u64(out, thread->live_count);
    }
    live_table_free_threads(threads, count);
    return failed ? -1 : 0;
}

int live_snapshot_encode(struct live_snapshot_builder *builder,
                         const struct live_snapshot_figures *figures, struct byte_buffer *out)
{
    struct live_table_totals totals;
    live_table_get_totals(&totals);
    int failed = 0;
    size_t start = live_frame_begin(out, LIVE_FRAME_SNAPSHOT, &failed);
    failed = failed || live_put_u64(out, figures->elapsed_ns) ||
             live_put_u64(out, totals.current_bytes) || live_put_u64(out, totals.current_count) ||
             live_put_u64(out, totals.peak_bytes) || live_put_u64(out, figures->rss_bytes) ||
             live_put_u64(out, figures->peak_rss_bytes) ||
             live_put_u64(out, totals.allocation_count) ||
             live_put_u32(out, figures->selected_thread) || put_threads(out) ||
             put_locations(builder, figures->selected_thread, out);
    if (failed) {
        return -1;
    }
    live_frame_end(out, start);
    return 0;
}
