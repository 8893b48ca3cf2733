/*
 * Writes a report collection as a gzipped pprof profile (profile.proto of
 * github.com/google/pprof), readable by `go tool pprof`.
 *
 * One sample per (thread, stack) context passing the filter, its location
 * ids innermost first, with four values:
 *   alloc_objects (count), alloc_space (bytes): every allocation made;
 *   inuse_objects (count), inuse_space (bytes): the filter's selection --
 *   alive at the peak by default (pprof's "in use" means "held at the high-
 *   water mark" here, not "at the end": that is the leaks selection).
 * The encoding (locations, functions, names like <module> shown as
 * (module), "(no Python frame)") is format/pprof_encoder.h's.
 */
#ifndef MEMLYZE_EXPORT_PPROF_H
#define MEMLYZE_EXPORT_PPROF_H

#include "core/reports/report_collection.h"
#include "core/reports/report_tree.h"

/* Writes the profile to path. Returns 0, or -1 with error filled (os_errno
 * set when the file could not be written or memory ran out). */
int export_pprof(const struct report_collection *collection, const struct report_filter *filter,
                 const char *path, struct capture_error *error);

#endif
