#include "binding/stacks/module_filter.h"

#include <fnmatch.h>
#include <string.h>

#include "core/base/tracker_memory.h"

#define MAX_PATTERNS 64
#define MODULE_NAME_SIZE 512

int module_filter_active;

/* The patterns as C strings; replaced only between recordings (GIL held). */
static char *include_patterns[MAX_PATTERNS];
static size_t include_count;
static char *exclude_patterns[MAX_PATTERNS];
static size_t exclude_count;
static PyObject *name_key; /* the interned "__name__" */

static void patterns_clear(char **patterns, size_t *count)
{
    for (size_t index = 0; index < *count; index++) {
        tracker_free(patterns[index], strlen(patterns[index]) + 1);
        patterns[index] = NULL;
    }
    *count = 0;
}

/* Copies a sequence of str (or None) into patterns. Returns 0 or -1. */
static int patterns_take(PyObject *sequence, char **patterns, size_t *count, const char *what)
{
    patterns_clear(patterns, count);
    if (sequence == Py_None) {
        return 0;
    }
    PyObject *items = PySequence_Fast(sequence, "patterns must be a sequence of str");
    if (!items) {
        return -1;
    }
    Py_ssize_t size = PySequence_Fast_GET_SIZE(items);
    int result = 0;
    if (size > MAX_PATTERNS) {
        PyErr_Format(PyExc_ValueError, "at most %d %s patterns", MAX_PATTERNS, what);
        result = -1;
    }
    for (Py_ssize_t index = 0; result == 0 && index < size; index++) {
        const char *text = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(items, index));
        char *copy = text ? tracker_malloc(strlen(text) + 1) : NULL;
        if (!copy) {
            if (text) {
                PyErr_NoMemory();
            }
            result = -1;
            break;
        }
        strcpy(copy, text);
        patterns[(*count)++] = copy;
    }
    Py_DECREF(items);
    return result;
}

int module_filter_configure(PyObject *include, PyObject *exclude)
{
    if (!name_key && !(name_key = PyUnicode_InternFromString("__name__"))) {
        return -1;
    }
    module_filter_active = 0;
    if (patterns_take(include, include_patterns, &include_count, "include") < 0 ||
        patterns_take(exclude, exclude_patterns, &exclude_count, "exclude") < 0) {
        patterns_clear(include_patterns, &include_count);
        patterns_clear(exclude_patterns, &exclude_count);
        return -1;
    }
    module_filter_active = include_count > 0 || exclude_count > 0;
    return 0;
}

int module_filter_has_include(void)
{
    return include_count > 0;
}

static int matches_any(char *const *patterns, size_t count, const char *name)
{
    for (size_t index = 0; index < count; index++) {
        if (fnmatch(patterns[index], name, 0) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Copies the module name (ASCII or UTF-8 already cached) without
 * allocating; returns 0 when it cannot be read that way. */
static int module_name_text(PyObject *name, char *buffer, size_t size)
{
    if (!name || !PyUnicode_Check(name) || !PyUnicode_IS_COMPACT_ASCII(name)) {
        return 0;
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(name);
    if ((size_t)length >= size) {
        return 0;
    }
    memcpy(buffer, PyUnicode_DATA(name), (size_t)length);
    buffer[length] = '\0';
    return 1;
}

/* The globals' __name__ into buffer; 0 when it cannot be read. */
static int module_name_of(PyObject *globals, char *buffer, size_t size)
{
    if (!PyDict_Check(globals)) {
        return 0;
    }
#if PY_VERSION_HEX >= 0x030D0000
    /* A strong reference: without a GIL another thread may replace the
     * value (and free it) while it is copied. A str key raises nothing, so
     * the program's pending exception, if any, is left alone. */
    PyObject *value = NULL;
    if (PyDict_GetItemRef(globals, name_key, &value) <= 0) {
        return 0;
    }
    int copied = module_name_text(value, buffer, size);
    Py_DECREF(value);
    return copied;
#else
    return module_name_text(PyDict_GetItem(globals, name_key), buffer, size);
#endif
}

uint32_t module_filter_frame_bits(PyObject *globals)
{
    /* A dict may change under a reader that is not attached to the
     * interpreter (holds no GIL, or on a free-threaded build, no thread
     * state): only read it when attached. */
    if (!globals || !PyGILState_Check()) {
        return MODULE_FILTER_UNKNOWN;
    }
    char name[MODULE_NAME_SIZE];
    if (!module_name_of(globals, name, sizeof name)) {
        name[0] = '\0';
    }
    uint32_t bits = 0;
    if (matches_any(include_patterns, include_count, name)) {
        bits |= MODULE_FILTER_INCLUDED;
    }
    if (matches_any(exclude_patterns, exclude_count, name)) {
        bits |= MODULE_FILTER_EXCLUDED;
    }
    return bits;
}
