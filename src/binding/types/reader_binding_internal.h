/*
 * What the pieces of the reader binding (analyze_capture(), CaptureFile,
 * CaptureError) share. Included by reader_binding.c,
 * reader_capture_file_binding.c, reader_records_binding.c,
 * reader_summary_binding.c and reader_locations_binding.c only; the module
 * sees nothing but reader_binding_add() (binding.h).
 */
#ifndef MEMLYZE_READER_BINDING_INTERNAL_H
#define MEMLYZE_READER_BINDING_INTERNAL_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>

#include "core/analysis/capture_analysis.h"
#include "core/analysis/native_symbols.h"
#include "core/format/capture_reader.h"

/* --- reader_binding.c: errors and opening ------------------------------------------ */

/* Raises what error describes: MemoryError (ENOMEM), OSError with errno and
 * the file name (other system errors), else CaptureError. path_bytes is the
 * filesystem-encoded path. Returns NULL. */
PyObject *raise_capture_error(const struct capture_error *error, PyObject *path_bytes);

/* Opens the capture at path_bytes and analyses it, with the GIL released.
 * Returns 0 with *reader and *analysis set (the caller frees both), or -1
 * with an exception set. */
int open_and_analyse(PyObject *path_bytes, struct capture_reader **reader,
                     struct capture_analysis **analysis);
/* The same with the options given (e.g. a progress callback). */
int open_and_analyse_with(PyObject *path_bytes, const struct analysis_options *options,
                          struct capture_reader **reader, struct capture_analysis **analysis);

/* --- reader_capture_file_binding.c: the CaptureFile type ------------------------------ */

struct capture_file_object {
    PyObject_HEAD
    PyObject *path_bytes;             /* filesystem-encoded path */
    struct capture_reader *reader;    /* read to the end: its tables are complete */
    struct capture_analysis *analysis;
    struct native_symbolizer *symbolizer; /* --native captures, made on first use */
};

/* Returns 0, or -1 with ValueError when the capture was closed. */
int capture_file_check_open(const struct capture_file_object *self);

/* Readies the CaptureFile type and adds it to module. Returns 0 or -1. */
int capture_file_type_add(PyObject *module);

/* --- reader_records_binding.c: CaptureFile.records() ---------------------------------- */

/* records(): a new iterator over the capture's records, read from the file
 * again. */
PyObject *capture_file_records(struct capture_file_object *self, PyObject *unused);

/* Creates the interned strings records() yields and readies the iterator
 * type. Returns 0 or -1. */
int record_iterator_prepare(void);

/* --- reader_summary_binding.c: the analysis as Python dicts --------------------------- */

/* The whole analyze_capture() dict (SPEC section 2 plus extras). */
PyObject *capture_summary_dict(const struct capture_reader *reader,
                               const struct capture_analysis *analysis, Py_ssize_t top);

/* The CaptureFile.header dict. */
PyObject *capture_header_dict(const struct capture_reader *reader);

/* [{'thread_id', 'native_tid', 'name'}, ...] in the capture's order. */
PyObject *capture_threads_list(const struct capture_reader *reader);

/* --- reader_locations_binding.c: the top location lists ------------------------------ */

/* The top locations of a ranking as a list of dicts. */
PyObject *top_locations_list(const struct capture_analysis *analysis,
                             enum analysis_ranking ranking, Py_ssize_t top);

/* [low, high] of an estimate's 95% interval as a list of ints, or None
 * when the capture recorded every allocation. */
PyObject *confidence_interval_object(int sampled, const struct estimate *estimate);
/* The same for the whole capture's total, peak or leaks, under byte
 * sampling of mean sample_interval (0: none). */
PyObject *whole_interval_object(int sampled, const struct estimate *estimate,
                                uint64_t sample_interval);

/* Frees the symbolizer top_locations_list() made for native stacks; called
 * when an analyze_capture() call ends, so no symbol tables outlive it. */
void location_symbolizer_release(void);

#endif
