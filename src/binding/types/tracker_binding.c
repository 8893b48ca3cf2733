/*
 * start_tracking / stop_tracking and friends: the Python face of recording.
 * Argument checking and wiring only; the work is in the recorder and hooks.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "binding/hooks/allocation_hooks.h"
#include "binding/hooks/exec_watch.h"
#include "binding/hooks/new_references.h"
#include "binding/types/binding.h"
#include "core/format/capture_format.h"
#include "core/live/live_server.h"
#include "binding/interpreter/interpreter_frames.h"
#include "binding/interpreter/line_numbers.h"
#include "binding/stacks/native_stack.h"
#include "binding/stacks/module_filter.h"
#include "binding/stacks/python_stack.h"
#include "core/recording/fatal_signals.h"
#include "core/recording/recorder.h"
#include "core/recording/sampler.h"

#define ERROR_SIZE 512
#define MAX_STACK_DEPTH_LIMIT 4096

/* The GC callback object while it sits in gc.callbacks; guarded by the GIL. */
static PyObject *installed_gc_callback;
static uint64_t gc_started_ns;

static uint64_t monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static long dict_long(PyObject *info, const char *key)
{
    PyObject *value = PyDict_Check(info) ? PyDict_GetItemString(info, key) : NULL;
    long result = value && PyLong_Check(value) ? PyLong_AsLong(value) : 0;
    if (result == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        result = 0;
    }
    return result < 0 ? 0 : result;
}

/* gc.callbacks entry: times each collection and records it when it ends. */
static PyObject *gc_callback(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *phase;
    PyObject *info;
    if (!PyArg_ParseTuple(args, "UO", &phase, &info)) {
        return NULL;
    }
    if (!recorder_is_active()) {
        Py_RETURN_NONE;
    }
    if (PyUnicode_CompareWithASCIIString(phase, "start") == 0) {
        gc_started_ns = monotonic_ns();
        Py_RETURN_NONE;
    }
    uint64_t duration = gc_started_ns ? monotonic_ns() - gc_started_ns : 0;
    gc_started_ns = 0;
    recorder_thread_busy = 1;
    recorder_record_gc((uint32_t)dict_long(info, "generation"),
                       (uint64_t)dict_long(info, "collected"),
                       (uint64_t)dict_long(info, "uncollectable"), duration);
    recorder_thread_busy = 0;
    Py_RETURN_NONE;
}

static PyMethodDef gc_callback_definition = {"memlyze_gc_callback", gc_callback, METH_VARARGS,
                                             NULL};

static PyObject *gc_callbacks_list(void)
{
    PyObject *gc = PyImport_ImportModule("gc");
    if (!gc) {
        return NULL;
    }
    PyObject *callbacks = PyObject_GetAttrString(gc, "callbacks");
    Py_DECREF(gc);
    return callbacks;
}

static int gc_callback_install(void)
{
    PyObject *callbacks = gc_callbacks_list();
    if (!callbacks) {
        return -1;
    }
    PyObject *callback = PyCFunction_New(&gc_callback_definition, NULL);
    int result = callback ? PyList_Append(callbacks, callback) : -1;
    Py_DECREF(callbacks);
    if (result < 0) {
        Py_XDECREF(callback);
        return -1;
    }
    installed_gc_callback = callback;
    return 0;
}

static void gc_callback_remove(void)
{
    if (!installed_gc_callback) {
        return;
    }
    PyObject *callbacks = gc_callbacks_list();
    if (callbacks) {
        PyObject *result = PyObject_CallMethod(callbacks, "remove", "O", installed_gc_callback);
        Py_XDECREF(result);
        Py_DECREF(callbacks);
    }
    PyErr_Clear(); /* the program may have emptied gc.callbacks itself */
    Py_CLEAR(installed_gc_callback);
}

/* "3.11.7" from the interpreter's version banner. */
static void python_version_text(char *out, size_t size)
{
    const char *banner = Py_GetVersion();
    size_t length = strcspn(banner, " ");
    if (length >= size) {
        length = size - 1;
    }
    memcpy(out, banner, length);
    out[length] = '\0';
}

static int check_start_arguments(int max_stack_depth, double rss_interval)
{
    if (max_stack_depth < 1 || max_stack_depth > MAX_STACK_DEPTH_LIMIT) {
        PyErr_Format(PyExc_ValueError, "max_stack_depth must be between 1 and %d, not %d",
                     MAX_STACK_DEPTH_LIMIT, max_stack_depth);
        return -1;
    }
    if (!(rss_interval >= 0.0) || rss_interval > 3600.0) {
        PyErr_Format(PyExc_ValueError, "rss_interval must be between 0 and 3600 seconds");
        return -1;
    }
    return 0;
}

/* Raises OSError when the reason came with an errno, else RuntimeError. */
static void raise_start_error(const char *reason, int error_number)
{
    if (error_number) {
        PyObject *arguments = Py_BuildValue("(is)", error_number, reason);
        if (arguments) {
            PyErr_SetObject(PyExc_OSError, arguments);
            Py_DECREF(arguments);
        }
    } else {
        PyErr_SetString(PyExc_RuntimeError, reason);
    }
}

static int start_hooks(int python_allocators, int track_gc)
{
    char error[ERROR_SIZE] = "";
    if (allocation_hooks_install(python_allocators, error, sizeof error) < 0) {
        PyErr_SetString(PyExc_RuntimeError, error);
        return -1;
    }
    if (track_gc && gc_callback_install() < 0) {
        allocation_hooks_uninstall();
        return -1;
    }
    return 0;
}

/* The sampling options of a recording, as given and as checked. */
struct sampling_choice {
    double rate;            /* fraction of allocations kept, [CAPTURE_MIN_SAMPLE_RATE, 1] */
    unsigned long long interval; /* mean bytes between kept allocations, 0 = off */
    PyObject *seed_object;  /* None or an int */
    uint64_t seed;
};

/* Without a seed, allocation sampling (--sample-rate) still repeats run to
 * run, as the Memlyze guide promises; byte sampling draws a fresh seed. */
#define DEFAULT_SAMPLE_SEED UINT64_C(0x6D656D6C797A6531)

static int sampling_check(struct sampling_choice *sampling)
{
    if (!(sampling->rate >= CAPTURE_MIN_SAMPLE_RATE && sampling->rate <= 1.0)) {
        PyErr_SetString(PyExc_ValueError, "sample_rate must be in [1e-9, 1]");
        return -1;
    }
    if (sampling->interval > CAPTURE_MAX_SAMPLE_INTERVAL) {
        PyErr_SetString(PyExc_ValueError, "sample_interval must be at most 2**40 bytes");
        return -1;
    }
    if (sampling->interval && sampling->rate < 1.0) {
        PyErr_SetString(PyExc_ValueError,
                        "sample_rate and sample_interval cannot be used together");
        return -1;
    }
    if (sampling->seed_object == Py_None) {
        sampling->seed = sampling->interval ? (uint64_t)monotonic_ns() ^ ((uint64_t)getpid() << 32)
                                            : DEFAULT_SAMPLE_SEED;
        return 0;
    }
    sampling->seed = PyLong_AsUnsignedLongLongMask(sampling->seed_object);
    return PyErr_Occurred() ? -1 : 0;
}

/* The number N of "one allocation in N" for a sample rate. */
static uint64_t sampling_gap(double rate)
{
    double gap = 1.0 / rate;
    return gap < 1.0 ? 1 : (uint64_t)(gap + 0.5);
}

/* The scheme and seed of the running recording, for set_sample_rate. */
static int current_mode = SAMPLER_EVERY_ALLOCATION;
static uint64_t current_seed;

static void sampling_apply(const struct sampling_choice *sampling)
{
    current_seed = sampling->seed;
    current_mode = sampling->interval        ? SAMPLER_BY_BYTES
                   : sampling->rate < 1.0    ? SAMPLER_BY_ALLOCATIONS
                                             : SAMPLER_EVERY_ALLOCATION;
    if (sampling->interval) {
        sampler_configure(SAMPLER_BY_BYTES, (double)sampling->interval, sampling->seed, 1);
    } else if (sampling->rate < 1.0) {
        sampler_configure(SAMPLER_BY_ALLOCATIONS, (double)sampling_gap(sampling->rate),
                          sampling->seed, 1);
    } else {
        sampler_configure(SAMPLER_EVERY_ALLOCATION, 1.0, sampling->seed, 1);
    }
}

/* What start_tracking was asked for, once parsed and checked. */
struct start_request {
    const char *path; /* NULL (None): no capture file, only the live table */
    int overwrite;
    int max_stack_depth;
    int python_allocators;
    int track_gc;
    double rss_interval;
    const char *command;
    int live_table;
    double aggregate_interval; /* seconds; nonzero: --aggregate */
    struct sampling_choice sampling;
    int follow_fork;
    int native;
    unsigned long long parent_pid;
    const char *fork_path;
    const char *pprof_dir; /* NULL: no rolling pprof profiles */
    unsigned long long pprof_keep;
    PyObject *include_patterns;
    PyObject *exclude_patterns;
    int total_frames;   /* count the frames of stacks cut at max_stack_depth */
    int new_references; /* follow objects reused from free lists (3.13+) */
    unsigned long long ring_events; /* --ring: 0 and ring_window 0 mean off */
    double ring_window;             /* seconds */
    unsigned long long ring_max_bytes;
    unsigned long long ring_dump_at; /* RSS bytes, 0: none */
    int live_port; /* -1: no live view; 0: any free port */
};

/* Parses and checks start_tracking's arguments. Returns 0, or -1 with an
 * exception set. */
static int start_request_parse(PyObject *args, PyObject *keywords, struct start_request *request)
{
    static char *names[] = {"path", "overwrite", "max_stack_depth", "python_allocators",
                            "track_gc", "rss_interval", "command", "live_table",
                            "aggregate_interval", "sample_rate", "sample_interval", "seed",
                            "follow_fork", "native", "include_patterns", "exclude_patterns",
                            "parent_pid", "fork_path", "pprof_dir", "pprof_keep",
                            "total_frames", "new_references", "ring_events", "ring_window",
                            "ring_max_bytes", "ring_dump_at", "live_port", NULL};
    *request = (struct start_request){
        .max_stack_depth = 128, .track_gc = 1, .rss_interval = 0.01, .command = "",
        .sampling = {1.0, 0, Py_None, 0}, .include_patterns = Py_None,
        .exclude_patterns = Py_None, .live_port = -1,
    };
    if (!PyArg_ParseTupleAndKeywords(
            args, keywords, "z|$pippdspddKOppOOKzzKppKdKKi:start_tracking", names, &request->path,
            &request->overwrite, &request->max_stack_depth, &request->python_allocators,
            &request->track_gc, &request->rss_interval, &request->command, &request->live_table,
            &request->aggregate_interval, &request->sampling.rate, &request->sampling.interval,
            &request->sampling.seed_object, &request->follow_fork, &request->native,
            &request->include_patterns, &request->exclude_patterns, &request->parent_pid,
            &request->fork_path, &request->pprof_dir, &request->pprof_keep,
            &request->total_frames, &request->new_references, &request->ring_events,
            &request->ring_window, &request->ring_max_bytes, &request->ring_dump_at,
            &request->live_port)) {
        return -1;
    }
    if (request->pprof_dir && !(request->path && request->aggregate_interval > 0)) {
        PyErr_SetString(PyExc_ValueError, "pprof_dir needs an aggregate recording");
        return -1;
    }
    if (request->live_port < -1 || request->live_port > 65535) {
        PyErr_Format(PyExc_ValueError, "live_port must be between 0 and 65535, not %d",
                     request->live_port);
        return -1;
    }
#ifdef Py_GIL_DISABLED
    /* A free-threaded CPython takes every Python object, of any size, from
     * mimalloc and none from malloc: without its domains a recording would
     * see next to nothing of the program. */
    request->python_allocators = 1;
#endif
    if (!(request->ring_window >= 0 && request->ring_window <= 1e9)) {
        PyErr_SetString(PyExc_ValueError, "ring_window must be a number of seconds, 0 for none");
        return -1;
    }
    if (check_start_arguments(request->max_stack_depth, request->rss_interval) < 0 ||
        sampling_check(&request->sampling) < 0 ||
        module_filter_configure(request->include_patterns, request->exclude_patterns) < 0) {
        return -1;
    }
    return 0;
}

/* HEADER_FLAG_FREE_THREADED on a free-threaded build, else 0. */
static uint32_t free_threaded_flag(void)
{
#ifdef Py_GIL_DISABLED
    return HEADER_FLAG_FREE_THREADED;
#else
    return 0;
#endif
}

/* The recorder's options for a request; version is the Python version text. */
static struct recorder_options start_request_options(const struct start_request *request,
                                                     const char *version)
{
    struct recorder_options options = {
        .path = request->path,
        .overwrite = request->overwrite,
        .pid = (uint64_t)getpid(),
        .parent_pid = (uint64_t)request->parent_pid,
        .python_version = version,
        .command = request->command,
        .flags = (request->python_allocators ? HEADER_FLAG_PYTHON_ALLOCATORS : 0) |
                 (request->track_gc ? HEADER_FLAG_TRACK_GC : 0) | free_threaded_flag(),
        .max_stack_depth = (uint32_t)request->max_stack_depth,
        .sample_rate = request->sampling.rate,
        .sample_interval = request->sampling.interval,
        .sample_seed = request->sampling.seed,
        .rss_interval_ns = (uint64_t)(request->rss_interval * 1e9),
        .live_table = request->live_table,
        .live_threads = request->live_port >= 0,
        .aggregate_interval_ns = request->aggregate_interval > 0
                                     ? (uint64_t)(request->aggregate_interval * 1e9)
                                     : 0,
        .follow_fork = request->follow_fork,
        .fork_path = request->fork_path,
        .pprof_dir = request->pprof_dir,
        .pprof_keep = request->pprof_keep,
        .ring_events = (uint64_t)request->ring_events,
        .ring_window_ns = (uint64_t)(request->ring_window * 1e9),
        .ring_max_bytes = (uint64_t)request->ring_max_bytes,
        .ring_dump_at_rss = (uint64_t)request->ring_dump_at,
    };
    if (request->native && native_stack_probe_or_warn() == 0) {
        options.flags |= HEADER_FLAG_NATIVE;
    }
    if (options.aggregate_interval_ns) {
        options.flags |= HEADER_FLAG_AGGREGATE;
    }
    if (options.ring_events || options.ring_window_ns) {
        options.flags |= HEADER_FLAG_RING;
    }
    return options;
}

/* Tells the stack walker where memlyze's own Python files are, so that it
 * leaves their frames out: the directory of the memlyze package. */
static void configure_own_directory(void)
{
    PyObject *module = PyImport_ImportModule("memlyze");
    PyObject *file = module ? PyModule_GetFilenameObject(module) : NULL;
    PyObject *directory = file ? PyObject_CallMethod(file, "rpartition", "s", "/") : NULL;
    const char *text = directory && PyTuple_Check(directory) && PyTuple_GET_SIZE(directory) == 3
                           ? PyUnicode_AsUTF8(PyTuple_GET_ITEM(directory, 0))
                           : NULL;
    python_stack_set_own_directory(text);
    if (!text) {
        PyErr_Clear(); /* no package directory: every frame is recorded */
    }
    Py_XDECREF(directory);
    Py_XDECREF(file);
    Py_XDECREF(module);
}

/* Serves the live view on 127.0.0.1:live_port (0: any free port). Returns 0,
 * or -1 with OSError set (a port in use, for example). */
static int start_live_server(const struct start_request *request, const char *version)
{
    struct live_server_options options = {
        .port = (uint16_t)request->live_port,
        .pid = (uint64_t)getpid(),
        .command = request->command,
        .python_version = version,
    };
    char error[ERROR_SIZE] = "";
    uint16_t port = 0;
    errno = 0;
    if (live_server_start(&options, &port, error, sizeof error) < 0) {
        raise_start_error(error, errno ? errno : EIO);
        return -1;
    }
    return 0;
}

/* Undoes a start whose last step failed (the exception stays set). */
static void stop_after_failed_start(const struct start_request *request)
{
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    native_stack_end();
    allocation_hooks_uninstall();
    gc_callback_remove();
    char error[ERROR_SIZE] = "";
    recorder_stop(error, sizeof error);
    if (request->path) {
        unlink(request->path);
    }
    PyErr_Restore(type, value, traceback);
}

static PyObject *start_tracking(PyObject *self, PyObject *args, PyObject *keywords)
{
    (void)self;
    struct start_request request;
    if (start_request_parse(args, keywords, &request) < 0) {
        return NULL;
    }
    char version[64];
    python_version_text(version, sizeof version);
    struct recorder_options options = start_request_options(&request, version);
    python_stack_configure((uint32_t)request.max_stack_depth);
    python_stack_configure_counting(request.total_frames);
    configure_own_directory();
    char error[ERROR_SIZE] = "";
    errno = 0;
    if (recorder_start(&options, error, sizeof error) < 0) {
        raise_start_error(error, errno);
        return NULL;
    }
    sampling_apply(&request.sampling);
    if (options.flags & HEADER_FLAG_NATIVE) {
        native_stack_begin();
    }
    if (start_hooks(request.python_allocators, request.track_gc) < 0) {
        recorder_stop(error, sizeof error);
        if (request.path) {
            unlink(request.path);
        }
        return NULL;
    }
    if (request.live_port >= 0 && start_live_server(&request, version) < 0) {
        stop_after_failed_start(&request);
        return NULL;
    }
    /* After the hooks: a disposition the program sets from now on is seen. */
    fatal_signals_take_over();
    if (request.new_references) {
        new_references_start();
    }
    Py_RETURN_NONE;
}

/* Raises OSError(reason); its `announced` attribute says whether the user
 * was told on stderr already, when the failure happened, so that `memlyze
 * record` does not say it twice. */
static void raise_stop_error(const char *reason, int announced)
{
    PyObject *exception = PyObject_CallFunction(PyExc_OSError, "s", reason);
    if (!exception) {
        return;
    }
    if (PyObject_SetAttrString(exception, "announced", announced ? Py_True : Py_False) == 0) {
        PyErr_SetObject(PyExc_OSError, exception);
    }
    Py_DECREF(exception);
}

static PyObject *stop_tracking(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    /* The program's dispositions back first: a signal from here on takes
     * the program's course (the hooks, gone next, kept them). */
    fatal_signals_release();
    new_references_stop();
    gc_callback_remove();
    native_stack_end();
    allocation_hooks_uninstall();
    char error[ERROR_SIZE] = "";
    int result;
    Py_BEGIN_ALLOW_THREADS
    live_server_stop(); /* tells the viewer the recording ended */
    result = recorder_stop(error, sizeof error);
    Py_END_ALLOW_THREADS
    line_numbers_release();
    if (result < 0) {
        raise_stop_error(error, recorder_stop_failure_announced());
        return NULL;
    }
    Py_RETURN_NONE;
}

/* _instruction_line(code, index): the line stack capture gives the code unit
 * at index, for tests to hold against CPython's own positions. */
static PyObject *instruction_line(PyObject *self, PyObject *arguments)
{
    (void)self;
    PyObject *code;
    int index;
    if (!PyArg_ParseTuple(arguments, "O!i", &PyCode_Type, &code, &index)) {
        return NULL;
    }
    if (index < 0 || index >= Py_SIZE(code)) {
        PyErr_SetString(PyExc_IndexError, "no code unit at that index");
        return NULL;
    }
    return PyLong_FromLong(line_number_of_instruction((PyCodeObject *)code, index));
}

/* Changes the fraction of allocations kept by a recording started with a
 * sample rate; the capture records from which event on. */
static PyObject *set_sample_rate(PyObject *self, PyObject *argument)
{
    (void)self;
    double rate = PyFloat_AsDouble(argument);
    if (rate == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    if (!(rate >= CAPTURE_MIN_SAMPLE_RATE && rate <= 1.0)) {
        PyErr_Format(PyExc_ValueError, "sample_rate must be in [1e-9, 1], not %R", argument);
        return NULL;
    }
    if (!recorder_is_active()) {
        PyErr_SetString(PyExc_RuntimeError, "no memlyze recording is running");
        return NULL;
    }
    if (current_mode != SAMPLER_BY_ALLOCATIONS) {
        PyErr_SetString(PyExc_ValueError,
                        "set_sample_rate needs a recording started with sample_rate < 1 "
                        "(this one records every allocation or samples by bytes)");
        return NULL;
    }
    uint64_t gap = sampling_gap(rate);
    sampler_configure(SAMPLER_BY_ALLOCATIONS, (double)gap, current_seed + gap, 0);
    recorder_thread_busy = 1;
    recorder_record_sampling(SAMPLER_BY_ALLOCATIONS, gap);
    recorder_thread_busy = 0;
    Py_RETURN_NONE;
}

static PyObject *is_tracking(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyBool_FromLong(recorder_is_active());
}

static PyObject *snapshot(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (recorder_is_active()) {
        recorder_thread_busy = 1;
        recorder_record_snapshot();
        recorder_thread_busy = 0;
    }
    Py_RETURN_NONE;
}

/* Asks a --ring recording's writer to dump its window (it does so in its
 * next round; this does not wait). */
static PyObject *request_ring_dump(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyBool_FromLong(recorder_request_ring_dump() == 0);
}

static PyObject *set_thread_name(PyObject *self, PyObject *name)
{
    (void)self;
    const char *text = PyUnicode_AsUTF8(name);
    if (!text) {
        return NULL;
    }
    if (recorder_is_active()) {
        recorder_thread_busy = 1;
        recorder_set_thread_name(text);
        recorder_thread_busy = 0;
    }
    Py_RETURN_NONE;
}

/* watch_exec(notes_path, follow, bootstrap_dir, executable): see exec_watch.h. */
static PyObject *watch_exec(PyObject *self, PyObject *args)
{
    (void)self;
    const char *notes_path = NULL;
    const char *bootstrap_dir = "";
    const char *executable = "";
    int follow = 0;
    if (!PyArg_ParseTuple(args, "z|pss:watch_exec", &notes_path, &follow, &bootstrap_dir,
                          &executable)) {
        return NULL;
    }
    if (exec_watch_configure(notes_path, follow, bootstrap_dir, executable) < 0) {
        PyErr_SetString(PyExc_ValueError, "watch_exec: a path is too long");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* set_stack_base(): the calling frame and its callers are left out of the
 * stacks recorded from now on (`memlyze run --in-process` calls it in the
 * frame the program runs under, below which is the command's script). */
static PyObject *set_stack_base(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    interpreter_frames_set_base(PyThreadState_Get());
    Py_RETURN_NONE;
}

static PyObject *clear_stack_base(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    interpreter_frames_clear_base();
    Py_RETURN_NONE;
}

/* live_port(): the port the live view is served on, or None. */
static PyObject *live_port(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    uint16_t port = live_server_port();
    if (!port) {
        Py_RETURN_NONE;
    }
    return PyLong_FromLong(port);
}

static PyMethodDef tracker_methods[] = {
    {"live_port", live_port, METH_NOARGS,
     "The port of 127.0.0.1 the live view is served on, or None."},
    {"watch_exec", watch_exec, METH_VARARGS,
     "watch_exec(notes_path, follow=False, bootstrap_dir='', executable='')\n--\n\n"
     "Append a line to notes_path for each Python program exec'd that will not record "
     "(None: stop)."},
    {"start_tracking", (PyCFunction)(void (*)(void))start_tracking, METH_VARARGS | METH_KEYWORDS,
     "start_tracking(path, *, overwrite=False, max_stack_depth=128, python_allocators=False, "
     "track_gc=True, rss_interval=0.01, command='', live_table=False, aggregate_interval=0.0, "
     "sample_rate=1.0, sample_interval=0, seed=None, ..., total_frames=False, "
     "new_references=False, ring_events=0, ring_window=0.0, ring_max_bytes=0, ring_dump_at=0, "
     "live_port=-1)\n--\n\nStart recording into path (None: the live table only); "
     "live_port >= 0 also serves the live view. total_frames: count the "
     "frames of stacks cut at max_stack_depth (tracemalloc's total_nframe); new_references: "
     "give a live block reused from a free list the stack of its reuse (3.13+)."},
    {"stop_tracking", stop_tracking, METH_NOARGS,
     "Stop recording and finish the capture file."},
    {"is_tracking", is_tracking, METH_NOARGS, "Whether a recording is running."},
    {"set_sample_rate", set_sample_rate, METH_O,
     "Change the fraction of allocations a sampled recording keeps."},
    {"snapshot", snapshot, METH_NOARGS, "Mark a snapshot point in the capture."},
    {"request_ring_dump", request_ring_dump, METH_NOARGS,
     "Ask a --ring recording to dump its window now; False when none runs."},
    {"set_thread_name", set_thread_name, METH_O,
     "Name the calling thread in the capture."},
    {"set_stack_base", set_stack_base, METH_NOARGS,
     "Leave the calling frame and its callers out of the stacks recorded from now on."},
    {"clear_stack_base", clear_stack_base, METH_NOARGS,
     "Record whole stacks again (see set_stack_base)."},
    {"_instruction_line", instruction_line, METH_VARARGS,
     "_instruction_line(code, index): the line stack capture records for that code unit."},
    {NULL, NULL, 0, NULL},
};

int tracker_binding_add(PyObject *module)
{
    return PyModule_AddFunctions(module, tracker_methods);
}
