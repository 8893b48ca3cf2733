/*
 * A test-only CPython extension (never installed): allocates from C in known
 * functions at known sizes, from the calling thread and from a pthread it
 * starts and names, and calls back into Python, so that tests can check how
 * memlyze attributes native allocations and merges native and Python stacks.
 * Built by the tests themselves (tests/python/native_build.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>
#include <stdlib.h>

#define HELD_LIMIT 4096

/* Blocks kept alive until release_all(), so they show at the peak. */
static void *held_blocks[HELD_LIMIT];
static size_t held_count;

static void hold(void *block)
{
    if (block && held_count < HELD_LIMIT) {
        held_blocks[held_count++] = block;
    }
}

/* The innermost known function: one malloc of size bytes. */
__attribute__((noinline)) void *native_allocation_leaf(size_t size)
{
    void *block = malloc(size);
    __asm__ volatile("" ::"r"(block) : "memory");
    return block;
}

/* Calls the leaf, so that stacks show leaf above middle. */
__attribute__((noinline)) void *native_allocation_middle(size_t size)
{
    void *block = native_allocation_leaf(size);
    __asm__ volatile("" ::"r"(block) : "memory");
    return block;
}

/* allocate(size): one malloc(size) in native_allocation_leaf, held. */
static PyObject *allocate(PyObject *self, PyObject *argument)
{
    (void)self;
    Py_ssize_t size = PyLong_AsSsize_t(argument);
    if (size < 0) {
        return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_ValueError, "negative size");
    }
    hold(native_allocation_middle((size_t)size));
    Py_RETURN_NONE;
}

/* Always inlined, at every optimisation level: its frame exists only in the
 * debug information (an inlined subroutine), so tests can check inlined
 * frames. */
static inline __attribute__((always_inline)) void *native_inlined_step(size_t size)
{
    void *block = native_allocation_leaf(size);
    __asm__ volatile("" ::"r"(block) : "memory");
    return block;
}

__attribute__((noinline)) void *native_inlining_caller(size_t size)
{
    void *block = native_inlined_step(size);
    __asm__ volatile("" ::"r"(block) : "memory");
    return block;
}

/* allocate_inlined(size): one malloc(size) in native_allocation_leaf, called
 * from native_inlined_step inlined into native_inlining_caller, held. */
static PyObject *allocate_inlined(PyObject *self, PyObject *argument)
{
    (void)self;
    Py_ssize_t size = PyLong_AsSsize_t(argument);
    if (size < 0) {
        return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_ValueError, "negative size");
    }
    hold(native_inlining_caller((size_t)size));
    Py_RETURN_NONE;
}

struct thread_request {
    size_t size;
    char name[16];
    int rename_late; /* 1: allocate once, then name the thread, then allocate again */
};

/* The C thread's allocation function: one calloc(1, size). */
__attribute__((noinline)) void *native_thread_allocation(size_t size)
{
    void *block = calloc(1, size);
    __asm__ volatile("" ::"r"(block) : "memory");
    return block;
}

static void *native_thread_main(void *opaque)
{
    struct thread_request *request = opaque;
    if (request->rename_late) {
        hold(native_thread_allocation(request->size));
        struct timespec pause = {0, 50 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    pthread_setname_np(pthread_self(), request->name);
    hold(native_thread_allocation(request->size));
    return NULL;
}

/* allocate_in_thread(size, name, rename_late=False): starts a pthread named
 * name that callocs size bytes (twice with rename_late, before and after
 * being named), and waits for it. */
static PyObject *allocate_in_thread(PyObject *self, PyObject *args)
{
    (void)self;
    Py_ssize_t size;
    const char *name;
    int rename_late = 0;
    if (!PyArg_ParseTuple(args, "ns|p", &size, &name, &rename_late)) {
        return NULL;
    }
    struct thread_request request = {(size_t)size, "", rename_late};
    snprintf(request.name, sizeof request.name, "%s", name);
    pthread_t thread;
    int failed;
    Py_BEGIN_ALLOW_THREADS
    failed = pthread_create(&thread, NULL, native_thread_main, &request);
    if (!failed) {
        pthread_join(thread, NULL);
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        return PyErr_Format(PyExc_OSError, "pthread_create failed: %d", failed);
    }
    Py_RETURN_NONE;
}

/* Calls callable() from C, then allocates size bytes from C. */
__attribute__((noinline)) PyObject *native_call_python(PyObject *callable, size_t size)
{
    PyObject *result = PyObject_CallNoArgs(callable);
    if (result) {
        hold(native_allocation_middle(size));
    }
    return result;
}

/* call_back(callable, size): callable() from C, then malloc(size) from C. */
static PyObject *call_back(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *callable;
    Py_ssize_t size;
    if (!PyArg_ParseTuple(args, "On", &callable, &size)) {
        return NULL;
    }
    return native_call_python(callable, (size_t)size);
}

/* release_all(): frees every held block. */
static PyObject *release_all(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    for (size_t index = 0; index < held_count; index++) {
        free(held_blocks[index]);
    }
    held_count = 0;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"allocate", allocate, METH_O, "allocate(size): malloc from native_allocation_leaf"},
    {"allocate_inlined", allocate_inlined, METH_O,
     "allocate_inlined(size): malloc from native_allocation_leaf, under an inlined function"},
    {"allocate_in_thread", allocate_in_thread, METH_VARARGS,
     "allocate_in_thread(size, name, rename_late=False)"},
    {"call_back", call_back, METH_VARARGS, "call_back(callable, size)"},
    {"release_all", release_all, METH_NOARGS, "free every held block"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "native_allocations", NULL, -1,
                                    methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_native_allocations(void)
{
    return PyModule_Create(&module);
}
