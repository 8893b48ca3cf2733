/*
 * ReportCollection.tree(): the call tree of the selected allocations, built
 * by report_tree.h with the GIL released, returned column-wise ({column
 * name: list over nodes}): a list per column makes far fewer Python objects
 * than a dict per node, which counts at tens of thousands of nodes. Strings
 * are shared through a per-call cache for the same reason.
 */
#include "binding/types/report_binding_internal.h"

#include <string.h>

#include "binding/types/python_values.h"
#include "core/reports/report_tree.h"

#define DEFAULT_OTHER_FRACTION 0.0005
#define DEFAULT_MAX_NODES 50000

static const char *const node_kind_names[] = {"root", "frame", "thread", "no_frame", "other"};

/* Per-node columns of the tree() dict, filled one node at a time. */
enum tree_column {
    COLUMN_PARENT, COLUMN_KIND, COLUMN_FUNCTION, COLUMN_FILE, COLUMN_LINE, COLUMN_THREAD,
    COLUMN_BYTES, COLUMN_COUNT, COLUMN_SELF_BYTES, COLUMN_SELF_COUNT, COLUMN_TRIMMED, COLUMN_TOTAL
};
static const char *const column_names[COLUMN_TOTAL] = {
    "parent", "kind", "function", "file", "line", "thread", "bytes", "count", "self_bytes",
    "self_count", "trimmed",
};

/* Returns the str of a string id, shared through cache (sid -> str). */
static PyObject *cached_text(const struct capture_reader *reader, PyObject *cache, uint32_t sid)
{
    PyObject *key = PyLong_FromUnsignedLong(sid);
    PyObject *text = key ? PyDict_GetItemWithError(cache, key) : NULL;
    if (text) {
        Py_DECREF(key);
        return Py_NewRef(text);
    }
    text = key && !PyErr_Occurred() ? capture_string_object(reader, sid) : NULL;
    if (text && PyDict_SetItem(cache, key, text) < 0) {
        Py_CLEAR(text);
    }
    Py_XDECREF(key);
    return text;
}

/* A str of a native frame's UTF-8 text (undecodable bytes replaced). */
static PyObject *native_frame_text(const char *text)
{
    return PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "replace");
}

/* Fills the columns of one node at index. Returns 0 or -1. */
static int node_columns(const struct capture_reader *reader, const struct report_node *node,
                        PyObject *cache, PyObject **values)
{
    const struct capture_frame *frame =
        node->kind == REPORT_NODE_FRAME ? capture_reader_frame(reader, node->frame_id) : NULL;
    values[COLUMN_PARENT] = PyLong_FromLongLong(node->parent);
    values[COLUMN_KIND] = PyUnicode_FromString(node_kind_names[node->kind]);
    if (node->kind == REPORT_NODE_FRAME && node->native) {
        values[COLUMN_FUNCTION] = native_frame_text(node->native->function);
        values[COLUMN_FILE] = native_frame_text(node->native->file);
        values[COLUMN_LINE] = PyLong_FromUnsignedLong(node->native->line);
    } else {
        values[COLUMN_FUNCTION] = cached_text(reader, cache, frame ? frame->function_sid : 0);
        values[COLUMN_FILE] = cached_text(reader, cache, frame ? frame->file_sid : 0);
        values[COLUMN_LINE] = PyLong_FromUnsignedLong(frame ? frame->line : 0);
    }
    values[COLUMN_THREAD] = node->kind == REPORT_NODE_THREAD ? unsigned_object(node->thread_id)
                                                             : Py_NewRef(Py_None);
    values[COLUMN_BYTES] = unsigned_object(node->bytes);
    values[COLUMN_COUNT] = unsigned_object(node->count);
    values[COLUMN_SELF_BYTES] = unsigned_object(node->self_bytes);
    values[COLUMN_SELF_COUNT] = unsigned_object(node->self_count);
    values[COLUMN_TRIMMED] = PyBool_FromLong(node->kind == REPORT_NODE_FRAME && node->native &&
                                             node->native->trimmed);
    for (int column = 0; column < COLUMN_TOTAL; column++) {
        if (!values[column]) {
            return -1;
        }
    }
    return 0;
}

/* {column name: list} over the tree's nodes. */
static PyObject *nodes_dict(const struct capture_reader *reader, const struct report_tree *tree)
{
    PyObject *columns[COLUMN_TOTAL] = {NULL};
    PyObject *cache = PyDict_New();
    PyObject *dict = cache ? PyDict_New() : NULL;
    for (int column = 0; dict && column < COLUMN_TOTAL; column++) {
        columns[column] = PyList_New((Py_ssize_t)tree->count);
        if (!columns[column] || PyDict_SetItemString(dict, column_names[column],
                                                     columns[column]) < 0) {
            Py_CLEAR(dict);
        }
    }
    for (size_t i = 0; dict && i < tree->count; i++) {
        PyObject *values[COLUMN_TOTAL] = {NULL};
        int result = node_columns(reader, &tree->nodes[i], cache, values);
        for (int column = 0; column < COLUMN_TOTAL; column++) {
            if (result == 0) {
                PyList_SET_ITEM(columns[column], (Py_ssize_t)i, values[column]);
            } else {
                Py_XDECREF(values[column]);
            }
        }
        if (result < 0) {
            Py_CLEAR(dict);
        }
    }
    for (int column = 0; column < COLUMN_TOTAL; column++) {
        Py_XDECREF(columns[column]);
    }
    Py_XDECREF(cache);
    return dict;
}

/* [(node, alloc_bucket, free_bucket or -1, bytes, count)]. */
static PyObject *intervals_list(const struct report_tree *tree)
{
    PyObject *list = PyList_New((Py_ssize_t)tree->interval_count);
    for (size_t i = 0; list && i < tree->interval_count; i++) {
        const struct analysis_interval *interval = &tree->intervals[i];
        long long free_bucket = interval->free_bucket == ANALYSIS_NEVER_FREED
                                    ? -1 : (long long)interval->free_bucket;
        PyObject *item = Py_BuildValue("IILKK", interval->context, interval->alloc_bucket,
                                       free_bucket, (unsigned long long)interval->bytes,
                                       (unsigned long long)interval->count);
        if (!item) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
}

static PyObject *tree_dict(const struct capture_reader *reader, const struct report_tree *tree,
                           int temporal)
{
    PyObject *dict = PyDict_New();
    if (!dict || dict_put(dict, "nodes", nodes_dict(reader, tree)) < 0 ||
        dict_put(dict, "truncated", PyBool_FromLong(tree->truncated)) < 0 ||
        dict_put(dict, "other_threshold", unsigned_object(tree->other_threshold)) < 0 ||
        dict_put(dict, "folded_count", unsigned_object(tree->folded_count)) < 0 ||
        dict_put(dict, "folded_bytes", unsigned_object(tree->folded_bytes)) < 0 ||
        dict_put(dict, "intervals", temporal ? intervals_list(tree) : Py_NewRef(Py_None)) < 0) {
        Py_XDECREF(dict);
        return NULL;
    }
    return dict;
}

PyObject *collection_tree(struct report_collection_object *self, PyObject *args,
                          PyObject *kwargs)
{
    if (collection_check_ready(self) < 0) {
        return NULL;
    }
    static char *keywords[] = {"selection", "thread", "include", "exclude", "inverted",
                               "split_threads", "temporal", "other_fraction", "max_nodes",
                               "max_folded_fraction", "all_native_frames",
                               "mark_trimmed_frames", NULL};
    const char *selection = "peak";
    PyObject *thread = Py_None, *include = NULL, *exclude = NULL;
    struct report_tree_options options;
    memset(&options, 0, sizeof options);
    options.other_fraction = DEFAULT_OTHER_FRACTION;
    Py_ssize_t max_nodes = DEFAULT_MAX_NODES;
    PyObject *empty = PyTuple_New(0);
    include = exclude = empty;
    if (!empty || !PyArg_ParseTupleAndKeywords(
                      args, kwargs, "|$sOOOpppdndpp", keywords, &selection, &thread, &include,
                      &exclude, &options.inverted, &options.split_threads, &options.temporal,
                      &options.other_fraction, &max_nodes, &options.max_folded_fraction,
                      &options.all_native_frames, &options.mark_trimmed_frames)) {
        Py_XDECREF(empty);
        return NULL;
    }
    options.max_nodes = max_nodes < 4 ? 4 : (size_t)max_nodes;
    struct parsed_filter parsed;
    PyObject *result = NULL;
    if (filter_of(selection, thread, include, exclude, &parsed) == 0) {
        options.filter = parsed.filter;
        struct report_tree tree;
        int status;
        Py_BEGIN_ALLOW_THREADS
        status = report_tree_build(self->collection, &options, &tree);
        Py_END_ALLOW_THREADS
        result = status < 0 ? PyErr_NoMemory() : tree_dict(self->reader, &tree, options.temporal);
        report_tree_release(&tree);
    }
    parsed_filter_release(&parsed);
    Py_DECREF(empty);
    return result;
}
