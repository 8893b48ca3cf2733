/*
 * The analysis pass's progress (analysis_progress_function) handed to a
 * Python callable, for the reports' progress display on a terminal.
 */
#ifndef MEMLYZE_PROGRESS_CALLBACK_H
#define MEMLYZE_PROGRESS_CALLBACK_H

#include <stdint.h>

/* Calls the Python callable `argument` with (bytes_read, file_bytes),
 * taking the GIL (the pass runs without it). An exception it raises is
 * dropped: a failing display must not stop the report. */
void progress_call_python(void *argument, uint64_t bytes_read, uint64_t file_bytes);

#endif
