#include "core/live/live_history.h"

#include <string.h>

void live_history_reset(struct live_history *history, uint64_t spacing_ns)
{
    history->count = 0;
    history->spacing_ns = spacing_ns ? spacing_ns : 1;
}

/* Keeps every other point (the first and the latest among them). */
static void thin_out(struct live_history *history)
{
    size_t kept = 0;
    for (size_t index = 0; index < history->count; index += 2) {
        history->points[kept++] = history->points[index];
    }
    if (history->count % 2 == 0) {
        history->points[kept - 1] = history->points[history->count - 1];
    }
    history->count = kept;
    history->spacing_ns *= 2;
}

void live_history_add(struct live_history *history, const struct live_history_point *point)
{
    if (history->count) {
        const struct live_history_point *last = &history->points[history->count - 1];
        if (point->elapsed_ns < last->elapsed_ns + history->spacing_ns) {
            return;
        }
    }
    if (history->count == LIVE_HISTORY_CAPACITY) {
        thin_out(history);
    }
    history->points[history->count++] = *point;
}
