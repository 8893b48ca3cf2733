#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "binding/tracing/trace_log_file.h"

/* The directory as a str path ("." for None), or NULL with TypeError set. */
static PyObject *directory_path(PyObject *directory)
{
    if (directory == Py_None) {
        return PyUnicode_FromString(".");
    }
    PyObject *path = PyOS_FSPath(directory);
    if (path && !PyUnicode_Check(path)) {
        Py_SETREF(path, PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(path),
                                                          PyBytes_GET_SIZE(path)));
    }
    return path;
}

/* "<directory>/<stamp>_<pid>_<kind>_<depth>[_<attempt>].log" as a str. */
static PyObject *candidate_path(PyObject *directory, const char *stamp,
                                const char *kind, int depth, int attempt)
{
    char name[128];
    if (attempt) {
        snprintf(name, sizeof name, "%s_%d_%s_%d_%d.log", stamp, (int)getpid(), kind,
                 depth, attempt);
    } else {
        snprintf(name, sizeof name, "%s_%d_%s_%d.log", stamp, (int)getpid(), kind, depth);
    }
    return PyUnicode_FromFormat("%U/%s", directory, name);
}

/* Opens log on path itself (created or truncated); returns path as a new
 * str, or NULL with OSError set. */
static PyObject *create_named_file(struct text_log *log, PyObject *path)
{
    PyObject *encoded = NULL;
    if (!PyUnicode_FSConverter(path, &encoded)) {
        Py_DECREF(path);
        return NULL;
    }
    int status = text_log_create(log, PyBytes_AS_STRING(encoded), 1);
    Py_DECREF(encoded);
    if (status < 0) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
        Py_DECREF(path);
        return NULL;
    }
    return path;
}

/* Whether path (a str) names an existing directory. */
static int is_directory(PyObject *path)
{
    PyObject *encoded = NULL;
    if (!PyUnicode_FSConverter(path, &encoded)) {
        PyErr_Clear();
        return 0;
    }
    struct stat status;
    int directory = stat(PyBytes_AS_STRING(encoded), &status) == 0 && S_ISDIR(status.st_mode);
    Py_DECREF(encoded);
    return directory;
}

PyObject *trace_log_file_create(struct text_log *log, PyObject *directory,
                                const char *kind, int depth)
{
    PyObject *folder = directory_path(directory);
    if (!folder) {
        return NULL;
    }
    if (directory != Py_None && !is_directory(folder)) {
        return create_named_file(log, folder);
    }
    char stamp[32];
    time_t now = time(NULL);
    struct tm local;
    localtime_r(&now, &local);
    strftime(stamp, sizeof stamp, "%Y%m%d_%H%M%S", &local);
    for (int attempt = 0; attempt < 1000; attempt++) {
        PyObject *path = candidate_path(folder, stamp, kind, depth, attempt);
        PyObject *encoded = NULL;
        if (!path || !PyUnicode_FSConverter(path, &encoded)) {
            Py_XDECREF(path);
            Py_DECREF(folder);
            return NULL;
        }
        int status = text_log_create(log, PyBytes_AS_STRING(encoded), 0);
        int error = errno;
        Py_DECREF(encoded);
        if (status == 0) {
            Py_DECREF(folder);
            return path;
        }
        if (error != EEXIST) {
            errno = error;
            PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
            Py_DECREF(path);
            Py_DECREF(folder);
            return NULL;
        }
        Py_DECREF(path);
    }
    Py_DECREF(folder);
    PyErr_SetString(PyExc_FileExistsError, "no free log file name");
    return NULL;
}

void trace_log_put_str(struct text_log *log, PyObject *text)
{
    Py_ssize_t length = 0;
    const char *bytes = text && PyUnicode_Check(text) ? PyUnicode_AsUTF8AndSize(text, &length)
                                                      : NULL;
    if (!bytes) {
        PyErr_Clear();
        text_log_character(log, '?');
        return;
    }
    text_log_bytes(log, bytes, (size_t)length);
}

void trace_log_put_message(struct text_log *log, PyObject *message)
{
    Py_ssize_t length = 0;
    const char *bytes = message && PyUnicode_Check(message)
                            ? PyUnicode_AsUTF8AndSize(message, &length)
                            : NULL;
    if (!bytes) {
        PyErr_Clear();
        return;
    }
    for (Py_ssize_t index = 0; index < length; index++) {
        char character = bytes[index];
        text_log_character(log, character == '\t' || character == '\n' || character == '\r'
                                    ? ' '
                                    : character);
    }
}

int trace_log_file_close(struct text_log *log, PyObject *path)
{
    int error = text_log_close(log);
    if (error) {
        errno = error;
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
        return -1;
    }
    return 0;
}
