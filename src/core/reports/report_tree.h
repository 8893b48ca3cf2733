/*
 * Call trees and location tables built from a report collection
 * (capture_report.h), with the selectors every report shares.
 *
 * Filters (struct report_filter):
 * - selection: which figures of each context count (capture_report.h);
 * - thread: only that thread's contexts (has_thread);
 * - include: only stacks with at least one frame matching a pattern;
 * - exclude: no stack with a frame matching a pattern.
 *   A pattern (fnmatch(3) syntax: *, ?, [...]) matches a frame when it
 *   matches the frame's function name, its file path or the file's base
 *   name (numpy/x*, *.py, parse_*, json_decoder.py).
 *
 * The tree: node 0 is the root; below it (with split_threads) one node per
 * thread; then the outermost frame down to the innermost (or innermost
 * first when inverted). A node's bytes and count are inclusive; self_* are
 * the allocations whose path ends at it. Children come after their parent,
 * largest first. Stack id 0 (no Python frame) is one NO_FRAME node.
 * Contexts with a native stack (--native captures) take the merged stack
 * (merged_stack.h): native frames, with the Python frames where the
 * interpreter ran them; include and exclude see their Python frames only.
 *
 * Bounding: nodes whose weight (selected bytes, or bytes ever allocated
 * for a temporal tree) is below other_fraction of the root's, or beyond the
 * max_nodes / 2 largest, are folded, with their descendants, into one OTHER
 * child of their nearest kept ancestor. With max_folded_fraction set, the
 * node budget gives way: it never folds more than that fraction of the
 * root's weight (other_fraction, which the user asks for, still applies).
 */
#ifndef MEMLYZE_REPORT_TREE_H
#define MEMLYZE_REPORT_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "core/reports/report_collection.h"

enum report_node_kind {
    REPORT_NODE_ROOT,
    REPORT_NODE_FRAME,
    REPORT_NODE_THREAD,
    REPORT_NODE_NO_FRAME,
    REPORT_NODE_OTHER,
};

/* A native frame of a --native capture's merged stacks (merged_stack.h). */
struct report_native_frame {
    char *function; /* the function, or "<unresolved 0x... (reason)>" */
    char *file;     /* "" when unknown (the object's path when unresolved) */
    uint32_t line;
    int trimmed;    /* marked paths: a frame trimmed paths leave out */
};

struct report_node {
    int64_t parent; /* -1 for the root */
    enum report_node_kind kind;
    uint32_t frame_id;  /* FRAME nodes of Python code; 0 for native code */
    const struct report_native_frame *native; /* FRAME nodes of native code, else NULL */
    uint64_t thread_id; /* THREAD nodes */
    uint64_t bytes;
    uint64_t count;
    uint64_t self_bytes;
    uint64_t self_count;
    uint64_t weight; /* what bounding compares */
};

struct report_filter {
    enum analysis_selection selection;
    int has_thread;
    uint64_t thread_id;
    const char *const *include;
    size_t include_count;
    const char *const *exclude;
    size_t exclude_count;
};

struct report_tree_options {
    struct report_filter filter;
    int inverted;
    int split_threads;
    int temporal;          /* keep every context that allocated; weigh by total */
    double other_fraction; /* e.g. 0.0005 */
    size_t max_nodes;      /* at least 4 */
    double max_folded_fraction; /* e.g. 0.01; 0: the budget folds what it must */
    int all_native_frames; /* --native paths: 0 trimmed (report_merged_paths.h), 1 all */
    /* With all_native_frames: the frames trimmed paths leave out are nodes
     * of their own, their native frame's trimmed set, so that a page can
     * show either view of one tree. */
    int mark_trimmed_frames;
};

struct report_tree {
    struct report_node *nodes;
    size_t count;
    size_t nodes_capacity; /* bytes allocated for nodes (tracker memory) */
    int truncated;                  /* some nodes were folded into OTHER nodes */
    uint64_t other_threshold;       /* the weight below which nodes were folded */
    uint64_t folded_count;          /* nodes of the full tree folded into OTHER nodes */
    uint64_t folded_bytes;          /* the bytes of the OTHER nodes */
    /* Temporal trees: intervals of the output nodes, merged. */
    struct analysis_interval *intervals; /* .context holds the node index */
    size_t interval_count;
    /* The native frames the nodes point to (owned by the tree). */
    struct report_native_frame **native_frames;
    size_t native_frame_count;
};

/* One location: the innermost frame (frame_id 0: no Python frame). */
struct report_location {
    uint32_t frame_id;
    struct analysis_figures selected;
    struct analysis_figures leaked;
    struct analysis_figures total;
    struct analysis_figures peak;
};

/* Returns 1 when the context passes the filter's thread, include and
 * exclude tests (not the selection), 0 when not, -1 when memory ran out.
 * cache holds one byte per frame id (frame count + 1, zeroed first). */
int report_filter_accepts(const struct report_filter *filter, struct capture_reader *reader,
                          const struct analysis_context_view *context, uint8_t *cache);

/*
 * Builds the tree of the collection's contexts. Returns 0 with *tree filled
 * (released with report_tree_release()), or -1 when memory ran out.
 */
int report_tree_build(const struct report_collection *collection,
                      const struct report_tree_options *options, struct report_tree *tree);
void report_tree_release(struct report_tree *tree);

/*
 * Stores in *locations a new array (freed with free()) of the locations of
 * the contexts passing filter, with at least one allocation, in no
 * particular order, and their number in *count. Returns 0, or -1 when
 * memory ran out.
 */
int report_locations(const struct report_collection *collection,
                     const struct report_filter *filter, struct report_location **locations,
                     size_t *count);

#endif
