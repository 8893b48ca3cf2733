#include "binding/stacks/module_name.h"

#include <string.h>

static PyObject *name_key; /* the interned "__name__" */

int module_name_prepare(void)
{
    if (!name_key && !(name_key = PyUnicode_InternFromString("__name__"))) {
        return -1;
    }
    return 0;
}

/* Copies the name (ASCII only: its bytes are there without encoding, which
 * could allocate); -1 when it cannot be copied that way. */
static Py_ssize_t name_text(PyObject *name, char *buffer, size_t size)
{
    if (!name || !PyUnicode_Check(name) || !PyUnicode_IS_COMPACT_ASCII(name)) {
        return -1;
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(name);
    if ((size_t)length >= size) {
        return -1;
    }
    memcpy(buffer, PyUnicode_DATA(name), (size_t)length);
    buffer[length] = '\0';
    return length;
}

Py_ssize_t module_name_read(PyObject *globals, char *buffer, size_t size)
{
    if (!globals || !name_key || !PyDict_Check(globals)) {
        return -1;
    }
#if PY_VERSION_HEX >= 0x030D0000
    /* A strong reference: without a GIL another thread may replace the
     * value (and free it) while it is copied. A str key raises nothing, so
     * the program's pending exception, if any, is left alone. */
    PyObject *value = NULL;
    if (PyDict_GetItemRef(globals, name_key, &value) <= 0) {
        return -1;
    }
    Py_ssize_t length = name_text(value, buffer, size);
    Py_DECREF(value);
    return length;
#else
    return name_text(PyDict_GetItem(globals, name_key), buffer, size);
#endif
}
