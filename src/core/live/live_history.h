/*
 * Heap and RSS over time for the live view: a bounded list of points, kept
 * from the start of the recording so that a viewer that connects late (or
 * again) sees the whole run. When full, every other point is dropped and
 * points are taken half as often: the list always spans the whole run at
 * LIVE_HISTORY_CAPACITY / 2 to LIVE_HISTORY_CAPACITY points.
 * Not thread-safe (the server thread owns it).
 */
#ifndef MEMLYZE_LIVE_HISTORY_H
#define MEMLYZE_LIVE_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#define LIVE_HISTORY_CAPACITY 1024

struct live_history_point {
    uint64_t elapsed_ns;
    uint64_t heap_bytes;
    uint64_t rss_bytes;
};

struct live_history {
    struct live_history_point points[LIVE_HISTORY_CAPACITY];
    size_t count;
    uint64_t spacing_ns; /* points are at least this far apart */
};

/* Empties history; points will be at least spacing_ns apart. */
void live_history_reset(struct live_history *history, uint64_t spacing_ns);
/* Adds a point unless the last one is closer than the spacing. */
void live_history_add(struct live_history *history, const struct live_history_point *point);

#endif
