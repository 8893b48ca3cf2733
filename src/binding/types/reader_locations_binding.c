/*
 * The top location lists of analyze_capture(): for each ranking, the
 * locations with their figures, 95% intervals, threads and (for --native
 * captures) merged native stacks, as dicts. The 95% interval conversion is
 * here too, where most of its uses are; the summary's totals share it.
 */
#include "binding/types/reader_binding_internal.h"

#include "binding/types/native_reader_binding.h"
#include "binding/types/python_values.h"

/* Symbolises the native stacks of one analyze_capture() call's locations;
 * released when the call ends. Guarded by the GIL. */
static struct native_symbolizer *location_symbolizer;

void location_symbolizer_release(void)
{
    native_symbolizer_close(location_symbolizer);
    location_symbolizer = NULL;
}

/* The location's merged stack ([function, file, line, kind] lists) for a
 * --native capture, None otherwise. */
static PyObject *location_native_stack(const struct capture_analysis *analysis,
                                       const struct analysis_location *location)
{
    if (!location->native_stack_id) {
        return Py_NewRef(Py_None);
    }
    return merged_stack_frames(capture_analysis_reader(analysis), &location_symbolizer,
                               location->native_python_stack_id, location->native_stack_id);
}

/* The names of the threads that allocated at a location, sorted; a final
 * "..." when there were more than the analysis lists. */
static PyObject *location_threads(const struct capture_analysis *analysis,
                                  const struct analysis_location *location)
{
    PyObject *names = PyList_New(0);
    for (uint32_t index = 0; names && index < location->thread_count; index++) {
        size_t size;
        const char *name = capture_analysis_thread_name(analysis, location->thread_ids[index], &size);
        PyObject *text = text_object(name, size);
        if (!text || PyList_Append(names, text) < 0) {
            Py_XDECREF(text);
            Py_CLEAR(names);
            break;
        }
        Py_DECREF(text);
    }
    if (names && PyList_Sort(names) < 0) {
        Py_CLEAR(names);
    }
    if (names && location->more_threads) {
        PyObject *more = PyUnicode_FromString("...");
        if (!more || PyList_Append(names, more) < 0) {
            Py_CLEAR(names);
        }
        Py_XDECREF(more);
    }
    return names;
}

/* [low, high] of an estimate's 95% interval as a list of ints, or None
 * when the capture recorded every allocation. */
PyObject *confidence_interval_object(int sampled, const struct estimate *estimate)
{
    if (!sampled) {
        return none_object();
    }
    double low, high;
    estimate_interval(estimate, &low, &high);
    return Py_BuildValue("[KK]", (unsigned long long)estimate_figure(low),
                         (unsigned long long)estimate_figure(high));
}

/* The same for a figure of the whole capture (estimate_interval_of_whole):
 * sample_interval is the byte sampling's mean interval, 0 for none. */
PyObject *whole_interval_object(int sampled, const struct estimate *estimate,
                                uint64_t sample_interval)
{
    if (!sampled) {
        return none_object();
    }
    double low, high;
    estimate_interval_of_whole(estimate, sample_interval, &low, &high);
    return Py_BuildValue("[KK]", (unsigned long long)estimate_figure(low),
                         (unsigned long long)estimate_figure(high));
}

/* The estimate behind a location's figures in a ranking. */
static const struct estimate *location_estimate(const struct analysis_location *location,
                                                enum analysis_ranking ranking)
{
    switch (ranking) {
    case ANALYSIS_BY_PEAK: return &location->estimated_peak;
    case ANALYSIS_LEAKS: return &location->estimated_leaked;
    default: return &location->estimated_total;
    }
}

static PyObject *location_dict(const struct capture_analysis *analysis,
                               const struct analysis_location *location,
                               enum analysis_ranking ranking)
{
    int sampled = capture_analysis_estimates(analysis) != NULL;
    const char *function, *file;
    size_t function_size, file_size;
    capture_analysis_location_names(analysis, location, &function, &function_size, &file,
                                    &file_size);
    uint64_t bytes, count;
    analysis_location_figures(location, ranking, &bytes, &count);
    PyObject *entry = PyDict_New();
    if (!entry || dict_put(entry, "function", text_object(function, function_size)) < 0 ||
        dict_put(entry, "file", text_object(file, file_size)) < 0 ||
        dict_put(entry, "line", unsigned_object(location->line)) < 0 ||
        dict_put(entry, "bytes", unsigned_object(bytes)) < 0 ||
        dict_put(entry, "count", unsigned_object(count)) < 0 ||
        dict_put(entry, "bytes_ci95",
                 confidence_interval_object(sampled, location_estimate(location, ranking))) < 0 ||
        dict_put(entry, "threads", location_threads(analysis, location)) < 0 ||
        dict_put(entry, "native_stack", location_native_stack(analysis, location)) < 0) {
        Py_CLEAR(entry);
    }
    return entry;
}

/* The top locations of a ranking as a list of dicts. */
PyObject *top_locations_list(const struct capture_analysis *analysis,
                             enum analysis_ranking ranking, Py_ssize_t top)
{
    size_t limit = capture_analysis_location_count(analysis);
    limit = (size_t)top < limit ? (size_t)top : limit;
    const struct analysis_location **locations =
        PyMem_New(const struct analysis_location *, limit ? limit : 1);
    if (!locations) {
        return PyErr_NoMemory();
    }
    long count = capture_analysis_top_locations(analysis, ranking, limit, locations);
    PyObject *list = count < 0 ? PyErr_NoMemory() : PyList_New(count);
    for (long index = 0; list && index < count; index++) {
        PyObject *entry = location_dict(analysis, locations[index], ranking);
        if (!entry) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, index, entry);
    }
    PyMem_Free(locations);
    return list;
}
