/*
 * The "ring" entry of a capture's header dict: what a --ring dump holds
 * (capture_format.h HEADER_RING_*), or None for any other capture. Shared
 * by the reader's and the reports' header(). Include after Python.h.
 */
#ifndef MEMLYZE_RING_HEADER_H
#define MEMLYZE_RING_HEADER_H

#include "binding/types/python_values.h"
#include "core/format/capture_format.h"
#include "core/format/capture_reader.h"

static inline const char *ring_dump_reason_name(uint64_t reason)
{
    switch (reason) {
    case RING_DUMP_EXIT: return "exit";
    case RING_DUMP_REQUEST: return "request";
    case RING_DUMP_SIGNAL: return "signal";
    case RING_DUMP_RSS: return "rss";
    case RING_DUMP_NO_ATEXIT: return "no-atexit";
    default: return "unknown";
    }
}

/* A new reference: a dict, None, or NULL with an exception set. */
static inline PyObject *ring_header_object(const struct capture_header *header)
{
    if (!(header->flags & HEADER_FLAG_RING)) {
        return none_object();
    }
    PyObject *dict = PyDict_New();
    if (!dict ||
        dict_put(dict, "window_start_ns", unsigned_object(header->ring_window_start_ns)) < 0 ||
        dict_put(dict, "base_allocations", unsigned_object(header->ring_base_allocations)) < 0 ||
        dict_put(dict, "reason",
                 PyUnicode_FromString(ring_dump_reason_name(header->ring_dump_reason))) < 0 ||
        dict_put(dict, "signal", header->ring_dump_signal
                                     ? unsigned_object(header->ring_dump_signal)
                                     : none_object()) < 0 ||
        dict_put(dict, "evicted_events", unsigned_object(header->ring_evicted_events)) < 0 ||
        dict_put(dict, "dump_at_rss", header->ring_dump_at_rss
                                          ? unsigned_object(header->ring_dump_at_rss)
                                          : none_object()) < 0 ||
        dict_put(dict, "dump_number", unsigned_object(header->ring_dump_number)) < 0) {
        Py_XDECREF(dict);
        return NULL;
    }
    return dict;
}

#endif
