/*
 * Small conversions the binding files share when they build Python results
 * from C figures. Each returns a new reference, or NULL with an exception.
 */
#ifndef MEMLYZE_PYTHON_VALUES_H
#define MEMLYZE_PYTHON_VALUES_H

#include <Python.h>
#include <stdint.h>

#include "core/format/capture_reader.h"

/* Stores value (a new reference, stolen; NULL means a failure already
 * raised) under key. Returns 0 or -1 with an exception set. */
static inline int dict_put(PyObject *dict, const char *key, PyObject *value)
{
    if (!value) {
        return -1;
    }
    int result = PyDict_SetItemString(dict, key, value);
    Py_DECREF(value);
    return result;
}

static inline PyObject *unsigned_object(uint64_t value)
{
    return PyLong_FromUnsignedLongLong(value);
}

static inline PyObject *none_object(void)
{
    Py_RETURN_NONE;
}

static inline PyObject *seconds_object(uint64_t nanoseconds)
{
    return PyFloat_FromDouble((double)nanoseconds / 1e9);
}

/* UTF-8 bytes as str; invalid bytes become U+FFFD (names are untrusted). */
static inline PyObject *text_object(const char *text, size_t size)
{
    return PyUnicode_DecodeUTF8(text, (Py_ssize_t)size, "replace");
}

/* A capture's string id as str ("" for an unknown id). */
static inline PyObject *capture_string_object(const struct capture_reader *reader,
                                              uint32_t string_id)
{
    size_t size = 0;
    const char *text = capture_reader_string(reader, string_id, &size);
    return text ? text_object(text, size) : text_object("", 0);
}

#endif
