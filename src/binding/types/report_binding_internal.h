/*
 * What the pieces of the ReportCollection binding share. Included by
 * report_binding.c, report_filter_binding.c, report_tree_binding.c,
 * report_locations_binding.c and report_export_binding.c only; the module
 * sees nothing but report_binding_add() (binding.h).
 */
#ifndef MEMLYZE_REPORT_BINDING_INTERNAL_H
#define MEMLYZE_REPORT_BINDING_INTERNAL_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stddef.h>

#include "core/reports/report_collection.h"
#include "core/format/capture_reader.h"
#include "core/reports/report_tree.h"

/* --- report_binding.c: the ReportCollection object ------------------------------------ */

struct report_collection_object {
    PyObject_HEAD
    struct capture_reader *reader;
    struct report_collection *collection;
};

/* Returns 0 when the object was initialised (read a capture), else -1 with
 * RuntimeError set: methods must not run on ReportCollection.__new__ alone. */
int collection_check_ready(const struct report_collection_object *self);

/* Raises the error of a failed read or export. Returns NULL. */
PyObject *raise_report_error(const struct capture_error *error, const char *path);

/* --- report_filter_binding.c: the selector arguments ---------------------------------- */

/* Holds a filter and the UTF-8 patterns it points to. */
struct parsed_filter {
    struct report_filter filter;
    PyObject *include;
    PyObject *exclude;
    const char **include_texts;
    const char **exclude_texts;
};

void parsed_filter_release(struct parsed_filter *parsed);

/* Fills parsed from the arguments every selector-taking method shares:
 * selection (str), thread (int or None), include and exclude (sequences of
 * str). Returns 0 or -1 with an exception set (release parsed either way). */
int filter_of(const char *selection, PyObject *thread, PyObject *include, PyObject *exclude,
              struct parsed_filter *parsed);

/* Parses (selection, thread, include, exclude) keywords plus extra ones:
 * with path_bytes, format starts with an O& path. Release parsed either
 * way. */
int parse_filter_arguments(PyObject *args, PyObject *kwargs, const char *format,
                           char **keywords, struct parsed_filter *parsed, PyObject **path_bytes);

/* --- the methods built from the collection -------------------------------------------- */

/* tree(...) (report_tree_binding.c). */
PyObject *collection_tree(struct report_collection_object *self, PyObject *args,
                          PyObject *kwargs);

/* locations(...) (report_locations_binding.c). */
PyObject *collection_locations(struct report_collection_object *self, PyObject *args,
                               PyObject *kwargs);

/* export_pprof(path, ...) (report_export_binding.c). */
PyObject *collection_export_pprof(struct report_collection_object *self, PyObject *args,
                                  PyObject *kwargs);

#endif
