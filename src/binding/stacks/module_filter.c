#include "binding/stacks/module_filter.h"
#include "binding/stacks/module_name.h"

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
    if (module_name_prepare() < 0) {
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

uint32_t module_filter_frame_bits(PyObject *globals)
{
    if (!globals || !module_name_readable()) {
        return MODULE_FILTER_UNKNOWN;
    }
    char name[MODULE_NAME_SIZE];
    if (module_name_read(globals, name, sizeof name) < 0) {
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
