/*
 * CaptureFile.records(): an iterator over a capture's allocation and free
 * records in file order. It opens the file again with a reader of its own:
 * the CaptureFile's reader was read to the end by the analysis. The kinds
 * and allocators it yields are interned strings, so that millions of records
 * share a handful of str objects.
 */
#include "binding/types/reader_binding_internal.h"

#include "core/format/capture_format.h"

/* Set once by record_iterator_prepare (the module is single-phase, m_size
 * -1), read under the GIL. */
static PyObject *allocator_names[ALLOCATOR_COUNT];  /* "malloc", ... */
static PyObject *kind_alloc, *kind_free;            /* "alloc", "free" */
static PyObject *free_kind_munmap, *free_kind_pymalloc;

struct record_iterator_object {
    PyObject_HEAD
    PyObject *path_bytes;
    struct capture_reader *reader; /* NULL once exhausted */
};

static PyTypeObject record_iterator_type;

PyObject *capture_file_records(struct capture_file_object *self, PyObject *unused)
{
    (void)unused;
    if (capture_file_check_open(self) < 0) {
        return NULL;
    }
    struct record_iterator_object *iterator =
        PyObject_New(struct record_iterator_object, &record_iterator_type);
    if (!iterator) {
        return NULL;
    }
    Py_INCREF(self->path_bytes);
    iterator->path_bytes = self->path_bytes;
    struct capture_error error;
    const char *path = PyBytes_AS_STRING(self->path_bytes);
    Py_BEGIN_ALLOW_THREADS
    iterator->reader = capture_reader_open(path, &error);
    Py_END_ALLOW_THREADS
    if (!iterator->reader) {
        raise_capture_error(&error, self->path_bytes);
        Py_DECREF(iterator);
        return NULL;
    }
    return (PyObject *)iterator;
}

static void record_iterator_dealloc(struct record_iterator_object *self)
{
    capture_reader_close(self->reader);
    Py_XDECREF(self->path_bytes);
    PyObject_Free(self);
}

/* (kind, thread_id, address, size, allocator, stack_id) of an allocation
 * or free record; NULL for other records (no exception). */
static PyObject *record_tuple(const struct capture_record *record)
{
    PyObject *kind = kind_free;
    PyObject *allocator;
    switch (record->kind) {
    case CAPTURE_RECORD_ALLOCATION:
        kind = kind_alloc;
        allocator = allocator_names[record->allocator];
        break;
    case CAPTURE_RECORD_FREE:
        allocator = kind_free;
        break;
    case CAPTURE_RECORD_PYMALLOC_FREE:
        allocator = free_kind_pymalloc;
        break;
    case CAPTURE_RECORD_MUNMAP:
        allocator = free_kind_munmap;
        break;
    default:
        return NULL;
    }
    uint32_t stack_id = record->kind == CAPTURE_RECORD_ALLOCATION ? record->stack_id : 0;
    uint32_t native_stack_id =
        record->kind == CAPTURE_RECORD_ALLOCATION ? record->native_stack_id : 0;
    return Py_BuildValue("(OKKKOII)", kind, (unsigned long long)record->thread_id,
                         (unsigned long long)record->address, (unsigned long long)record->size,
                         allocator, stack_id, native_stack_id);
}

static PyObject *record_iterator_next(struct record_iterator_object *self)
{
    struct capture_record record;
    while (self->reader) {
        int status = capture_reader_next(self->reader, &record);
        if (status < 0) {
            struct capture_error error = *capture_reader_error(self->reader);
            capture_reader_close(self->reader);
            self->reader = NULL;
            return raise_capture_error(&error, self->path_bytes);
        }
        if (status == 0) {
            capture_reader_close(self->reader);
            self->reader = NULL;
            break;
        }
        PyObject *tuple = record_tuple(&record);
        if (tuple || PyErr_Occurred()) {
            return tuple;
        }
    }
    return NULL;
}

static PyTypeObject record_iterator_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "memlyze._memlyze.CaptureRecordIterator",
    .tp_basicsize = sizeof(struct record_iterator_object),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)record_iterator_dealloc,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)record_iterator_next,
};

/* Creates the interned strings records() yields. Returns 0 or -1. */
static int create_names(void)
{
    for (int allocator = 0; allocator < ALLOCATOR_COUNT; allocator++) {
        allocator_names[allocator] = PyUnicode_InternFromString(capture_allocator_name(allocator));
        if (!allocator_names[allocator]) {
            return -1;
        }
    }
    kind_alloc = PyUnicode_InternFromString("alloc");
    kind_free = PyUnicode_InternFromString("free");
    free_kind_munmap = PyUnicode_InternFromString("munmap");
    free_kind_pymalloc = PyUnicode_InternFromString("pymalloc");
    return kind_alloc && kind_free && free_kind_munmap && free_kind_pymalloc ? 0 : -1;
}

int record_iterator_prepare(void)
{
    return create_names() < 0 || PyType_Ready(&record_iterator_type) < 0 ? -1 : 0;
}
