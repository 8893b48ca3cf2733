/* Log files of the cpymemtrace tracers: naming, creation, shared header. */
#ifndef MEMLYZE_TRACE_LOG_FILE_H
#define MEMLYZE_TRACE_LOG_FILE_H

#include <Python.h>

#include "core/format/text_log.h"

/*
 * Opens log on a new file. filepath None: YYYYmmdd_HHMMSS_<pid>_<kind>_<depth>.log
 * (with _<n> before .log when that name is taken) in the current directory;
 * an existing directory: the same name there; anything else (str or
 * path-like): that file itself, created or truncated (as pymemtrace's
 * filepath). Returns the file's path as a new str, or NULL with OSError
 * (naming the path) set.
 */
PyObject *trace_log_file_create(struct text_log *log, PyObject *filepath,
                                const char *kind, int depth);

/* Appends message's UTF-8 text with tabs and line breaks made spaces
 * (nothing for None). */
void trace_log_put_message(struct text_log *log, PyObject *message);

/* Appends text's UTF-8 bytes (str) or "?" (anything else). */
void trace_log_put_str(struct text_log *log, PyObject *text);

/* Closes log; returns 0, or -1 with OSError set when a write failed. */
int trace_log_file_close(struct text_log *log, PyObject *path);

#endif
