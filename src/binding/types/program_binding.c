/*
 * _memlyze.compile_program(source, filename): the code object `memlyze run`
 * runs in its own process, compiled as `python SCRIPT` and `python -c CODE`
 * compile theirs.
 *
 * builtins.compile() first asks whether its source is an ast node, and that
 * question builds the ast module's ~120 classes on its first call: about 9 M
 * instructions and 120 KiB that Python's own runner never spends. This goes
 * straight to the compiler instead, with compile()'s flags for the same
 * source (no inherited __future__ flags; the coding cookie of a bytes source
 * honoured, that of a str ignored, as for -c).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "binding/types/binding.h"

#ifndef PyCF_SOURCE_IS_UTF8
#define PyCF_SOURCE_IS_UTF8 0x0100
#endif
#ifndef PyCF_IGNORE_COOKIE
#define PyCF_IGNORE_COOKIE 0x0800
#endif

/* A source with a NUL byte goes to builtins.compile(), whose error for it
 * differs between versions and is what the program would see. */
static PyObject *compile_with_builtins(PyObject *source, PyObject *filename)
{
    PyObject *builtins = PyEval_GetBuiltins();
    PyObject *compile = builtins ? PyDict_GetItemString(builtins, "compile") : NULL;
    if (!compile) {
        PyErr_SetString(PyExc_RuntimeError, "compile_program: builtins.compile is missing");
        return NULL;
    }
    return PyObject_CallFunction(compile, "OOsii", source, filename, "exec", 0, 1);
}

static PyObject *compile_program(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *source = NULL;
    PyObject *filename = NULL;
    if (!PyArg_ParseTuple(args, "OU:compile_program", &source, &filename)) {
        return NULL;
    }
    PyCompilerFlags flags = {.cf_flags = PyCF_SOURCE_IS_UTF8};
    const char *text = NULL;
    Py_ssize_t size = 0;
    if (PyBytes_Check(source)) {
        text = PyBytes_AS_STRING(source);
        size = PyBytes_GET_SIZE(source);
    } else if (PyUnicode_Check(source)) {
        text = PyUnicode_AsUTF8AndSize(source, &size);
        if (!text) {
            return NULL;
        }
        flags.cf_flags |= PyCF_IGNORE_COOKIE;
    } else {
        PyErr_SetString(PyExc_TypeError, "compile_program: the source must be bytes or str");
        return NULL;
    }
    if (memchr(text, '\0', (size_t)size)) {
        return compile_with_builtins(source, filename);
    }
    return Py_CompileStringObject(text, filename, Py_file_input, &flags, -1);
}

static PyMethodDef program_methods[] = {
    {"compile_program", compile_program, METH_VARARGS,
     "compile_program(source, filename)\n--\n\n"
     "The code of a program's source (bytes of a script, or str of -c), compiled as Python "
     "compiles the program it starts, without the ast module's types."},
    {NULL, NULL, 0, NULL},
};

int program_binding_add(PyObject *module)
{
    return PyModule_AddFunctions(module, program_methods);
}
