/*
 * cpymemtrace's Profile and Trace in C: a profile (or trace) hook that reads
 * the RSS at every event and logs the events whose RSS moved by at least
 * d_rss_trigger bytes since the last logged one, plus the event just before
 * each of those (PREV). The format is docs/cpymemtrace.md's.
 *
 * Cost control: an event costs one pread of /proc/self/statm, one vDSO clock
 * read and a few stores; the previous event is kept as raw fields (code
 * object, line, clock, RSS) and formatted only when it has to be logged;
 * lines are formatted by hand into a 64 KiB buffer (text_log.c).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdlib.h>
#include <time.h>

#include "binding/types/binding.h"
#include "core/recording/rss.h"
#include "binding/types/rss_binding.h"
#include "binding/tracing/rss_tracing.h"
#include "core/format/text_log.h"
#include "binding/tracing/trace_log_file.h"

/* One profile/trace event, raw. code and c_function are strong references. */
struct event_record {
    uint64_t number;
    uint64_t clock_ns;
    uint64_t rss;
    int what;
    int line;
    PyObject *code;
    PyObject *c_function;
};

typedef struct {
    PyObject_HEAD
    int trace_mode; /* 0: Profile (PyEval_SetProfile), 1: Trace (PyEval_SetTrace) */
    long long trigger; /* bytes; 0 logs every event */
    PyObject *message;
    PyObject *directory;
    PyObject *log_file_path;
    int state; /* 0 new, 1 active, 2 finished */
    int depth;
    Py_tracefunc outer_function;
    PyObject *outer_object;
    struct text_log *log;
    uint64_t start_ns;
    uint64_t event_count;
    uint64_t lines_logged;
    uint64_t logged_number; /* of the last logged event */
    uint64_t logged_rss;
    int have_logged;
    struct event_record previous;
    int have_previous;
} RssTracer;

static int active_context_count;

int rss_tracing_enter_context(void)
{
    return active_context_count++;
}

void rss_tracing_leave_context(void)
{
    active_context_count--;
}

/* Nanoseconds of CLOCK_MONOTONIC (a vDSO call, no system call). */
static uint64_t monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static const char *event_name(int what)
{
    switch (what) {
    case PyTrace_CALL: return "CALL";
    case PyTrace_EXCEPTION: return "EXCEPT";
    case PyTrace_LINE: return "LINE";
    case PyTrace_RETURN: return "RETURN";
    case PyTrace_C_CALL: return "C_CALL";
    case PyTrace_C_EXCEPTION: return "C_EXCEPT";
    case PyTrace_C_RETURN: return "C_RETURN";
    case PyTrace_OPCODE: return "OPCODE";
    default: return "?";
    }
}

/* Appends the function column: the C function's name for C events, else the
 * code object's qualified name. */
static void put_function_name(struct text_log *log, const struct event_record *event)
{
    if (event->c_function) {
        if (PyCFunction_Check(event->c_function)) {
            text_log_text(log, ((PyCFunctionObject *)event->c_function)->m_ml->ml_name);
        } else {
            text_log_text(log, Py_TYPE(event->c_function)->tp_name);
        }
        return;
    }
    trace_log_put_str(log, ((PyCodeObject *)event->code)->co_qualname);
}

/* Writes "<label>\tnumber\tdEvent\tclock\tWHAT\tfile\tline\tfunction\tRSS\tdRSS"
 * and makes event the last logged one. */
static void log_event(RssTracer *tracer, const char *label, const struct event_record *event)
{
    struct text_log *log = tracer->log;
    text_log_text(log, label);
    text_log_unsigned(log, event->number);
    text_log_character(log, '\t');
    text_log_signed(log, (int64_t)(event->number - (tracer->have_logged ? tracer->logged_number : 0)));
    text_log_character(log, '\t');
    text_log_seconds(log, event->clock_ns);
    text_log_character(log, '\t');
    text_log_text(log, event_name(event->what));
    text_log_character(log, '\t');
    trace_log_put_str(log, ((PyCodeObject *)event->code)->co_filename);
    text_log_character(log, '\t');
    text_log_unsigned(log, (uint64_t)(event->line < 0 ? 0 : event->line));
    text_log_character(log, '\t');
    put_function_name(log, event);
    text_log_character(log, '\t');
    text_log_unsigned(log, event->rss);
    text_log_character(log, '\t');
    text_log_signed(log, (int64_t)(event->rss - tracer->logged_rss));
    text_log_character(log, '\n');
    tracer->logged_number = event->number;
    tracer->logged_rss = event->rss;
    tracer->have_logged = 1;
    tracer->lines_logged++;
}

/* Makes event (borrowed references) the remembered previous event. */
static void remember_event(RssTracer *tracer, const struct event_record *event)
{
    struct event_record *previous = &tracer->previous;
    if (previous->code != event->code) {
        Py_INCREF(event->code);
        Py_XSETREF(previous->code, event->code);
    }
    if (previous->c_function != event->c_function) {
        Py_XINCREF(event->c_function);
        Py_XSETREF(previous->c_function, event->c_function);
    }
    previous->number = event->number;
    previous->clock_ns = event->clock_ns;
    previous->rss = event->rss;
    previous->what = event->what;
    previous->line = event->line;
    tracer->have_previous = 1;
}

static int is_c_event(int what)
{
    return what == PyTrace_C_CALL || what == PyTrace_C_RETURN || what == PyTrace_C_EXCEPTION;
}

/* The profile/trace hook: reads the RSS, logs PREV and NEXT on a jump,
 * remembers the event. Never fails. */
static int tracer_hook(PyObject *self, PyFrameObject *frame, int what, PyObject *arg)
{
    RssTracer *tracer = (RssTracer *)self;
    if (!frame) {
        return 0;
    }
    struct event_record event;
    event.number = tracer->event_count++;
    event.rss = binding_rss_current();
    event.clock_ns = monotonic_ns() - tracer->start_ns;
    event.what = what;
    event.line = PyFrame_GetLineNumber(frame);
    PyCodeObject *code = PyFrame_GetCode(frame);
    event.code = (PyObject *)code;
    event.c_function = is_c_event(what) ? arg : NULL;
    long long delta = (long long)(event.rss - tracer->logged_rss);
    if (delta < 0) {
        delta = -delta;
    }
    if (!tracer->have_logged || delta >= tracer->trigger) {
        if (tracer->have_previous && tracer->have_logged &&
            tracer->previous.number != tracer->logged_number) {
            log_event(tracer, "PREV:\t", &tracer->previous);
        }
        log_event(tracer, "NEXT:\t", &event);
    }
    remember_event(tracer, &event);
    Py_DECREF(code);
    return 0;
}

static void forget_previous(RssTracer *tracer)
{
    Py_CLEAR(tracer->previous.code);
    Py_CLEAR(tracer->previous.c_function);
    tracer->have_previous = 0;
}

static int tracer_init(RssTracer *tracer, PyObject *args, PyObject *keywords)
{
    static char *keyword_names[] = {"mode", "d_rss_trigger", "message", "filepath", NULL};
    const char *mode = NULL;
    long long trigger = -1;
    PyObject *message = Py_None, *directory = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, keywords, "s|LOO", keyword_names, &mode, &trigger,
                                     &message, &directory)) {
        return -1;
    }
    if (strcmp(mode, "profile") && strcmp(mode, "trace")) {
        PyErr_Format(PyExc_ValueError, "mode must be 'profile' or 'trace', not %R",
                     PyTuple_GET_ITEM(args, 0));
        return -1;
    }
    if (trigger < -1) {
        PyErr_Format(PyExc_ValueError,
                     "d_rss_trigger must be -1 (one page), 0 (every event) or a positive "
                     "number of bytes, not %lld", trigger);
        return -1;
    }
    if (message != Py_None && !PyUnicode_Check(message)) {
        PyErr_Format(PyExc_TypeError, "message must be a str or None, not %.100s",
                     Py_TYPE(message)->tp_name);
        return -1;
    }
    if (tracer->state == 1) {
        PyErr_SetString(PyExc_RuntimeError, "cannot re-initialise an active tracer");
        return -1;
    }
    tracer->trace_mode = mode[0] == 't';
    tracer->trigger = trigger == -1 ? (long long)sysconf(_SC_PAGESIZE) : trigger;
    Py_INCREF(message);
    Py_XSETREF(tracer->message, message);
    Py_INCREF(directory);
    Py_XSETREF(tracer->directory, directory);
    return 0;
}

/* Writes the HEAD and COLS lines. */
static void write_header(RssTracer *tracer)
{
    struct text_log *log = tracer->log;
    text_log_text(log, "HEAD:\tmemlyze-cpymemtrace\t1\t");
    text_log_text(log, tracer->trace_mode ? "Trace" : "Profile");
    text_log_text(log, "\tpid=");
    text_log_unsigned(log, (uint64_t)getpid());
    text_log_text(log, "\tdepth=");
    text_log_unsigned(log, (uint64_t)tracer->depth);
    text_log_text(log, "\td_rss_trigger=");
    text_log_unsigned(log, (uint64_t)tracer->trigger);
    text_log_text(log, "\tpython=" PY_VERSION "\tmessage=");
    trace_log_put_message(log, tracer->message);
    text_log_text(log, "\nCOLS:\tEvent\tdEvent\tClock\tWhat\tFile\tLine\tFunction\tRSS\tdRSS\n");
}

static PyObject *tracer_enter(RssTracer *tracer, PyObject *unused)
{
    (void)unused;
    if (tracer->state != 0) {
        PyErr_SetString(PyExc_RuntimeError, "a Profile/Trace context can be entered only once");
        return NULL;
    }
    tracer->log = malloc(sizeof *tracer->log);
    if (!tracer->log) {
        return PyErr_NoMemory();
    }
    tracer->depth = active_context_count;
    tracer->log_file_path = trace_log_file_create(tracer->log, tracer->directory,
                                                  tracer->trace_mode ? "T" : "P", tracer->depth);
    if (!tracer->log_file_path) {
        free(tracer->log);
        tracer->log = NULL;
        return NULL;
    }
    rss_tracing_enter_context();
    write_header(tracer);
    PyThreadState *thread = PyThreadState_Get();
    tracer->outer_function = tracer->trace_mode ? thread->c_tracefunc : thread->c_profilefunc;
    tracer->outer_object = tracer->trace_mode ? thread->c_traceobj : thread->c_profileobj;
    Py_XINCREF(tracer->outer_object);
    tracer->state = 1;
    tracer->start_ns = monotonic_ns();
    if (tracer->trace_mode) {
        PyEval_SetTrace(tracer_hook, (PyObject *)tracer);
    } else {
        PyEval_SetProfile(tracer_hook, (PyObject *)tracer);
    }
    Py_INCREF(tracer);
    return (PyObject *)tracer;
}

/* Writes the LAST line (the last event, unless already logged) and TAIL. */
static void write_footer(RssTracer *tracer)
{
    if (tracer->have_previous && tracer->previous.number != tracer->logged_number) {
        log_event(tracer, "LAST:\t", &tracer->previous);
    }
    struct text_log *log = tracer->log;
    text_log_text(log, "TAIL:\tevents=");
    text_log_unsigned(log, tracer->event_count);
    text_log_text(log, "\tlogged=");
    text_log_unsigned(log, tracer->lines_logged);
    text_log_text(log, "\tseconds=");
    text_log_seconds(log, monotonic_ns() - tracer->start_ns);
    text_log_text(log, "\trss=");
    text_log_unsigned(log, binding_rss_current());
    text_log_text(log, "\trss_peak=");
    text_log_unsigned(log, binding_rss_peak());
    text_log_character(log, '\n');
}

static PyObject *tracer_exit(RssTracer *tracer, PyObject *args)
{
    (void)args;
    if (tracer->state != 1) {
        Py_RETURN_FALSE;
    }
    if (tracer->trace_mode) {
        PyEval_SetTrace(tracer->outer_function, tracer->outer_object);
    } else {
        PyEval_SetProfile(tracer->outer_function, tracer->outer_object);
    }
    Py_CLEAR(tracer->outer_object);
    tracer->state = 2;
    rss_tracing_leave_context();
    write_footer(tracer);
    forget_previous(tracer);
    int status = trace_log_file_close(tracer->log, tracer->log_file_path);
    free(tracer->log);
    tracer->log = NULL;
    if (status < 0) {
        return NULL;
    }
    Py_RETURN_FALSE;
}

static int tracer_traverse(RssTracer *tracer, visitproc visit, void *arg)
{
    Py_VISIT(tracer->message);
    Py_VISIT(tracer->directory);
    Py_VISIT(tracer->outer_object);
    return 0;
}

static int tracer_clear(RssTracer *tracer)
{
    Py_CLEAR(tracer->message);
    Py_CLEAR(tracer->directory);
    Py_CLEAR(tracer->outer_object);
    return 0;
}

static void tracer_dealloc(RssTracer *tracer)
{
    PyObject_GC_UnTrack(tracer);
    tracer_clear(tracer);
    forget_previous(tracer);
    Py_CLEAR(tracer->log_file_path);
    if (tracer->log) {
        text_log_close(tracer->log);
        free(tracer->log);
    }
    Py_TYPE(tracer)->tp_free((PyObject *)tracer);
}

static PyObject *tracer_log_file_path(RssTracer *tracer, void *unused)
{
    (void)unused;
    if (!tracer->log_file_path) {
        Py_RETURN_NONE;
    }
    Py_INCREF(tracer->log_file_path);
    return tracer->log_file_path;
}

static PyObject *tracer_event_count(RssTracer *tracer, void *unused)
{
    (void)unused;
    return PyLong_FromUnsignedLongLong(tracer->event_count);
}

static PyObject *tracer_trigger(RssTracer *tracer, void *unused)
{
    (void)unused;
    return PyLong_FromLongLong(tracer->trigger);
}

static PyMethodDef tracer_methods[] = {
    {"__enter__", (PyCFunction)tracer_enter, METH_NOARGS, "Starts logging; returns self."},
    {"__exit__", (PyCFunction)tracer_exit, METH_VARARGS,
     "Stops logging, restores the outer hook and closes the log file."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef tracer_getset[] = {
    {"log_file_path", (getter)tracer_log_file_path, NULL, "The log file (None before __enter__).", NULL},
    {"event_count", (getter)tracer_event_count, NULL, "Events seen so far.", NULL},
    {"d_rss_trigger", (getter)tracer_trigger, NULL, "The trigger in bytes (-1 resolved).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject RssTracerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "memlyze._memlyze.RssTracer",
    .tp_doc = "RssTracer(mode, d_rss_trigger=-1, message=None, filepath=None): the engine "
              "of memlyze.cpymemtrace.Profile ('profile') and Trace ('trace').",
    .tp_basicsize = sizeof(RssTracer),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)tracer_init,
    .tp_dealloc = (destructor)tracer_dealloc,
    .tp_traverse = (traverseproc)tracer_traverse,
    .tp_clear = (inquiry)tracer_clear,
    .tp_methods = tracer_methods,
    .tp_getset = tracer_getset,
};

/* --- the floor for benchmarks: a profile hook that only counts ------------ */

static uint64_t null_profile_events;

static int null_profile_hook(PyObject *self, PyFrameObject *frame, int what, PyObject *arg)
{
    (void)self;
    (void)frame;
    (void)what;
    (void)arg;
    null_profile_events++;
    return 0;
}

static PyObject *null_profile_start(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    null_profile_events = 0;
    PyEval_SetProfile(null_profile_hook, NULL);
    Py_RETURN_NONE;
}

static PyObject *null_profile_stop(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    PyEval_SetProfile(NULL, NULL);
    return PyLong_FromUnsignedLongLong(null_profile_events);
}

static PyMethodDef null_profile_methods[] = {
    {"_null_profile_start", null_profile_start, METH_NOARGS,
     "Installs a C profile hook that only counts events (a benchmark floor)."},
    {"_null_profile_stop", null_profile_stop, METH_NOARGS,
     "Removes it; returns the number of events it saw."},
    {NULL, NULL, 0, NULL},
};

int rss_tracing_add(PyObject *module)
{
    if (PyType_Ready(&RssTracerType) < 0) {
        return -1;
    }
    Py_INCREF(&RssTracerType);
    if (PyModule_AddObject(module, "RssTracer", (PyObject *)&RssTracerType) < 0) {
        Py_DECREF(&RssTracerType);
        return -1;
    }
    return PyModule_AddFunctions(module, null_profile_methods);
}
