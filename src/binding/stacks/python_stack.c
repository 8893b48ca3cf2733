/*
 * The calling thread's Python stack as an interned stack id, with no profile
 * hook: walk the thread's interpreter frames only when an event is recorded.
 *
 * Cost control: each thread remembers the stack it captured last, outermost
 * first, as (code, instruction) pairs with their stack-tree node. A new
 * capture reuses the longest unchanged outer part and interns only the
 * frames below it; (code, instruction) -> frame id and (parent, frame) ->
 * node lookups go through small per-thread caches before the shared tables.
 * The unchanged part is found from the frames alone: their code objects are
 * not read (scattered in memory, they cost a cache miss each), because a
 * remembered code address means the same code as long as no code object
 * was destroyed since (code_lifetimes.h).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "binding/interpreter/code_lifetimes.h"
#include "binding/interpreter/interpreter_frames.h"
#include "binding/interpreter/line_numbers.h"
#include "binding/stacks/module_filter.h"
#include "binding/stacks/module_name.h"
#include "binding/stacks/python_stack.h"
#include "core/recording/recorder.h"
#include "core/base/tracker_memory.h"

#define FRAME_CACHE_SIZE 4096  /* power of two */
#define NODE_CACHE_SIZE 4096   /* power of two */
#define NAME_BUFFER_SIZE 1024
#define OWN_DIRECTORY_SIZE 1024
/* OP_FRAME flags bit 0 is an entry frame (interpreter_frame.is_entry), the
 * first Python frame of a C-level evaluation call: reports merge native
 * stacks there. */

/* One frame of a remembered stack. */
struct stack_entry {
    struct interpreter_frame frame;
    uint32_t node; /* stack id of the stack ending in this frame */
    uint32_t filter_bits;  /* module filter bits of this frame and its callers */
    uint32_t entry_pending; /* a left-out entry frame of memlyze's is above, unclaimed */
};

/* What a frame id is made of, as read from its code object: a code object at
 * a freed one's address is told apart by its names' contents (their cached
 * hashes) even when it shares their strings' addresses or its line table. */
struct code_identity {
    const PyObject *line_table;
    const PyObject *qualified_name;
    const PyObject *file_name;
    Py_hash_t qualified_name_hash;
    Py_hash_t file_name_hash;
    Py_ssize_t line_table_size;
    int first_line;
};

struct frame_cache_slot {
    const PyCodeObject *code;
    int instruction;
    uint32_t flags;
    uint64_t code_epoch; /* code_lifetimes_epoch when identity was last found true */
    struct code_identity identity;
    uint32_t frame_id;
    uint32_t filter_bits; /* module_filter_frame_bits of the frame */
    uint32_t own;         /* the frame is memlyze's own code: left out */
    uint32_t module_pending; /* the frame's module is still to be recorded */
};

struct node_cache_slot {
    uint64_t key; /* parent << 32 | frame; 0 never a valid key */
    uint32_t node;
};

struct thread_stack_state {
    uint64_t generation; /* of the recording whose ids these are */
    uint64_t code_epoch; /* code_lifetimes_epoch when the remembered stack was taken */
    uint32_t remembered_depth;
    struct stack_entry *remembered; /* max_depth entries, outermost first */
    struct interpreter_frame *walked; /* max_depth entries, innermost first */
    uint32_t capacity;
    struct frame_cache_slot frames[FRAME_CACHE_SIZE];
    struct node_cache_slot nodes[NODE_CACHE_SIZE];
};

static THREAD_LOCAL struct thread_stack_state *this_thread_state;
static uint32_t configured_max_depth = 128;
static int counting_total_frames; /* set before recording starts */
static THREAD_LOCAL uint16_t last_total_frames;
static pthread_key_t state_key;
static pthread_once_t state_key_once = PTHREAD_ONCE_INIT;

/* memlyze's package directory, "/" at the end: frames of its files are
 * never recorded (the profiler does not show itself). Set before recording
 * starts, read by recording threads only while recording. */
static char own_directory[OWN_DIRECTORY_SIZE];
static size_t own_directory_length;

void python_stack_configure(uint32_t max_depth)
{
    configured_max_depth = max_depth ? max_depth : 1;
    /* Without it no remembered stack is trusted: captures are slower, not wrong. */
    (void)code_lifetimes_watch();
}

void python_stack_configure_counting(int count_total_frames)
{
    counting_total_frames = count_total_frames;
}

uint16_t python_stack_total_frames(void)
{
    return last_total_frames;
}

void python_stack_set_own_directory(const char *directory)
{
    size_t length = directory ? strlen(directory) : 0;
    if (length == 0 || length + 2 > sizeof own_directory) {
        own_directory_length = 0;
        return;
    }
    memcpy(own_directory, directory, length);
    if (own_directory[length - 1] != '/') {
        own_directory[length++] = '/';
    }
    own_directory[length] = '\0';
    own_directory_length = length;
}

static void thread_state_free(void *opaque)
{
    struct thread_stack_state *state = opaque;
    if (this_thread_state == state) {
        this_thread_state = NULL;
    }
    tracker_free(state->remembered, state->capacity * sizeof(struct stack_entry));
    tracker_free(state->walked, state->capacity * sizeof(struct interpreter_frame));
    tracker_free(state, sizeof *state);
}

static void state_key_create(void)
{
    pthread_key_create(&state_key, thread_state_free);
}

/* Returns this thread's state, valid for the current recording and depth,
 * or NULL when memory ran out. */
static struct thread_stack_state *thread_state_get(void)
{
    struct thread_stack_state *state = this_thread_state;
    uint64_t generation = recorder_generation();
    if (state && state->generation == generation && state->capacity == configured_max_depth) {
        return state;
    }
    /* calloc's caches are empty without a memset, whose ~450 KiB of page
     * faults every new thread would pay at its first allocation. */
    int caches_empty = !state;
    if (!state) {
        state = tracker_calloc(1, sizeof *state);
        if (!state) {
            return NULL;
        }
        pthread_once(&state_key_once, state_key_create);
        pthread_setspecific(state_key, state);
        this_thread_state = state;
    }
    if (state->capacity != configured_max_depth) {
        tracker_free(state->remembered, state->capacity * sizeof(struct stack_entry));
        tracker_free(state->walked, state->capacity * sizeof(struct interpreter_frame));
        state->capacity = configured_max_depth;
        state->remembered = tracker_calloc(state->capacity, sizeof(struct stack_entry));
        state->walked = tracker_calloc(state->capacity, sizeof(struct interpreter_frame));
        if (!state->remembered || !state->walked) {
            thread_state_free(state);
            pthread_setspecific(state_key, NULL);
            return NULL;
        }
    }
    if (!caches_empty) { /* ids of an earlier recording mean nothing now */
        memset(state->frames, 0, sizeof state->frames);
        memset(state->nodes, 0, sizeof state->nodes);
    }
    state->remembered_depth = 0;
    state->generation = generation;
    return state;
}

/*
 * Writes str as UTF-8 into buffer (at most size - 1 bytes, cut at a code
 * point boundary) and returns the length. Reads the string's storage
 * directly: no allocation, no exception, safe without the GIL.
 */
static size_t unicode_to_utf8(PyObject *text, char *buffer, size_t size)
{
    if (!text || !PyUnicode_Check(text) || PyUnicode_READY(text) < 0) {
        return 0;
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    if (PyUnicode_IS_COMPACT_ASCII(text)) {
        size_t copied = (size_t)length < size - 1 ? (size_t)length : size - 1;
        memcpy(buffer, PyUnicode_DATA(text), copied);
        return copied;
    }
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    size_t used = 0;
    for (Py_ssize_t index = 0; index < length; index++) {
        Py_UCS4 point = PyUnicode_READ(kind, data, index);
        char encoded[4];
        size_t bytes;
        if (point < 0x80) {
            encoded[0] = (char)point;
            bytes = 1;
        } else if (point < 0x800) {
            encoded[0] = (char)(0xC0 | (point >> 6));
            encoded[1] = (char)(0x80 | (point & 0x3F));
            bytes = 2;
        } else if (point < 0x10000) {
            if (point >= 0xD800 && point <= 0xDFFF) {
                point = 0xFFFD; /* a lone surrogate has no UTF-8 form */
            }
            encoded[0] = (char)(0xE0 | (point >> 12));
            encoded[1] = (char)(0x80 | ((point >> 6) & 0x3F));
            encoded[2] = (char)(0x80 | (point & 0x3F));
            bytes = 3;
        } else {
            encoded[0] = (char)(0xF0 | (point >> 18));
            encoded[1] = (char)(0x80 | ((point >> 12) & 0x3F));
            encoded[2] = (char)(0x80 | ((point >> 6) & 0x3F));
            encoded[3] = (char)(0x80 | (point & 0x3F));
            bytes = 4;
        }
        if (used + bytes > size - 1) {
            break;
        }
        memcpy(buffer + used, encoded, bytes);
        used += bytes;
    }
    return used;
}

static uint32_t intern_unicode(PyObject *text)
{
    char buffer[NAME_BUFFER_SIZE];
    size_t length = unicode_to_utf8(text, buffer, sizeof buffer);
    return recorder_intern_string(buffer, length);
}

/* Interns the frame (function, file, line, flags) of code at instruction. */
static uint32_t frame_intern(PyCodeObject *code, int instruction, uint32_t flags)
{
    int line = line_number_of_instruction(code, instruction);
    uint32_t function = intern_unicode(code->co_qualname);
    uint32_t file = intern_unicode(code->co_filename);
    return recorder_intern_frame(function, file, line < 0 ? 0 : (uint32_t)line, flags);
}

static size_t unicode_to_utf8(PyObject *text, char *buffer, size_t size);

/* Whether code comes from a file of memlyze's own package. */
static int code_is_own(PyCodeObject *code)
{
    char file[NAME_BUFFER_SIZE];
    if (!own_directory_length) {
        return 0;
    }
    size_t length = unicode_to_utf8(code->co_filename, file, sizeof file);
    return length > own_directory_length &&
           memcmp(file, own_directory, own_directory_length) == 0;
}

/* Records the module of slot's frame once this thread can read it (see
 * module_name_readable): until then the slot stays pending. */
static void frame_module_record(struct frame_cache_slot *slot, const struct interpreter_frame *frame)
{
    if (!module_name_readable()) {
        return;
    }
    char name[NAME_BUFFER_SIZE];
    Py_ssize_t length = module_name_read(frame->globals, name, sizeof name);
    if (length >= 0) {
        recorder_set_frame_module(slot->frame_id, recorder_intern_string(name, (size_t)length));
    }
    slot->module_pending = 0;
}

/* The string's hash as CPython cached it, or -1 when it has none yet. */
static Py_hash_t cached_hash(const PyObject *text)
{
    return text && PyUnicode_Check(text) ? ((const PyASCIIObject *)text)->hash : -1;
}

static void code_identity_read(const PyCodeObject *code, struct code_identity *identity)
{
    identity->line_table = code->co_linetable;
    identity->qualified_name = code->co_qualname;
    identity->file_name = code->co_filename;
    identity->qualified_name_hash = cached_hash(code->co_qualname);
    identity->file_name_hash = cached_hash(code->co_filename);
    identity->line_table_size = PyBytes_Check(code->co_linetable) ? PyBytes_GET_SIZE(code->co_linetable)
                                                                  : -1;
    identity->first_line = code->co_firstlineno;
}

/* Whether slot's frame id still describes code: surely while no code object
 * was destroyed since it was last checked, else if code reads the same. */
static int frame_slot_describes(struct frame_cache_slot *slot, const PyCodeObject *code,
                                uint64_t epoch)
{
    if (epoch != UINT64_MAX && slot->code_epoch == epoch) {
        return 1;
    }
    struct code_identity now;
    code_identity_read(code, &now);
    const struct code_identity *then = &slot->identity;
    if (now.qualified_name_hash == -1 || now.file_name_hash == -1 ||
        now.line_table != then->line_table || now.qualified_name != then->qualified_name ||
        now.file_name != then->file_name || now.qualified_name_hash != then->qualified_name_hash ||
        now.file_name_hash != then->file_name_hash ||
        now.line_table_size != then->line_table_size || now.first_line != then->first_line) {
        return 0;
    }
    slot->code_epoch = epoch;
    return 1;
}

/* The frame id of frame with the entry flag given; *filter_bits gets the
 * frame's module filter bits, *own whether it is memlyze's (its id is then
 * 0: it is left out). */
static uint32_t frame_id_for(struct thread_stack_state *state, const struct interpreter_frame *frame,
                             uint32_t flags, uint32_t *filter_bits, uint32_t *own)
{
    uintptr_t hash = ((uintptr_t)frame->code >> 4) * 31u + (uintptr_t)frame->instruction;
    struct frame_cache_slot *slot = &state->frames[(hash ^ (hash >> 11)) & (FRAME_CACHE_SIZE - 1)];
    PyCodeObject *code = (PyCodeObject *)frame->code;
    uint64_t epoch = code_lifetimes_epoch();
    if ((slot->frame_id || slot->own) && slot->code == code && slot->instruction == frame->instruction &&
        slot->flags == flags && !(slot->filter_bits & MODULE_FILTER_UNKNOWN) &&
        frame_slot_describes(slot, code, epoch)) {
        *filter_bits = slot->filter_bits;
        *own = slot->own;
        if (slot->module_pending) {
            frame_module_record(slot, frame);
        }
        return slot->frame_id;
    }
    slot->own = (uint32_t)code_is_own(code);
    slot->filter_bits = module_filter_active && !slot->own ? module_filter_frame_bits(frame->globals)
                                                           : 0;
    *filter_bits = slot->filter_bits;
    *own = slot->own;
    uint32_t frame_id = slot->own ? 0 : frame_intern(code, frame->instruction, flags);
    slot->code = code;
    slot->instruction = frame->instruction;
    slot->flags = flags;
    slot->code_epoch = epoch;
    code_identity_read(code, &slot->identity);
    slot->frame_id = frame_id;
    slot->module_pending = frame_id != 0;
    if (slot->module_pending) {
        frame_module_record(slot, frame);
    }
    return frame_id;
}

static uint32_t node_for(struct thread_stack_state *state, uint32_t parent, uint32_t frame_id)
{
    uint64_t key = ((uint64_t)parent << 32) | frame_id;
    struct node_cache_slot *slot = &state->nodes[(key * 0x9E3779B97F4A7C15ULL) >> 52];
    if (slot->key == key && slot->node) {
        return slot->node;
    }
    uint32_t node = recorder_intern_stack(parent, frame_id);
    slot->key = key;
    slot->node = node;
    return node;
}

uint32_t python_stack_capture(void)
{
    uint32_t filter_bits;
    return python_stack_capture_filtered(&filter_bits);
}

/* Walks the calling thread's frames into state->walked, innermost first;
 * returns how many, and sets *checked when each is known to be shown. Only a
 * stack deeper than the depth limit is walked with every frame checked, so
 * that exactly the innermost shown frames are kept. */
static uint32_t walk_frames(struct thread_stack_state *state, int *checked)
{
    PyThreadState *thread = PyGILState_GetThisThreadState();
    int cut;
    *checked = 0;
    uint32_t depth = interpreter_frames_walk(thread, state->walked, state->capacity, 0, &cut);
    if (!cut) {
        return depth;
    }
    *checked = 1;
    depth = interpreter_frames_walk(thread, state->walked, state->capacity, 1, &cut);
    if (counting_total_frames && cut) {
        uint32_t total = interpreter_frames_count(thread, UINT16_MAX);
        last_total_frames = total > depth ? (uint16_t)total : 0;
    }
    return depth;
}

/* The number of outer frames of the walked stack (depth frames) that are the
 * remembered stack's outer frames: (code, instruction, ownership) decide
 * whether a frame is shown, so walked frames equal to remembered ones are
 * shown ones, level for level. */
static uint32_t remembered_outer_frames(struct thread_stack_state *state, uint32_t depth)
{
    uint64_t epoch = code_lifetimes_epoch();
    if (epoch == UINT64_MAX || epoch != state->code_epoch) {
        state->code_epoch = epoch;
        return 0;
    }
    uint32_t same = 0;
    while (same < depth && same < state->remembered_depth) {
        const struct interpreter_frame *old = &state->remembered[same].frame;
        const struct interpreter_frame *now = &state->walked[depth - 1 - same];
        if (old->code != now->code || old->instruction != now->instruction ||
            old->is_entry != now->is_entry || old->owned_by_generator != now->owned_by_generator) {
            break;
        }
        same++;
    }
    /* A remembered frame whose module was unknown is asked again. */
    while (same && (state->remembered[same - 1].filter_bits & MODULE_FILTER_UNKNOWN)) {
        same--;
    }
    return same;
}

uint32_t python_stack_capture_filtered(uint32_t *filter_bits)
{
    *filter_bits = 0;
    last_total_frames = 0;
    struct thread_stack_state *state = thread_state_get();
    if (!state) {
        return 0;
    }
    int checked;
    uint32_t depth = walk_frames(state, &checked);
    uint32_t same = remembered_outer_frames(state, depth);
    uint32_t node = same ? state->remembered[same - 1].node : 0;
    uint32_t bits = same ? state->remembered[same - 1].filter_bits : 0;
    uint32_t pending = same ? state->remembered[same - 1].entry_pending : 0;
    uint32_t level = same;
    for (uint32_t outer = same; outer < depth; outer++) {
        const struct interpreter_frame *walked = &state->walked[depth - 1 - outer];
        if (!checked && !interpreter_frame_is_shown(walked)) {
            continue;
        }
        struct stack_entry *entry = &state->remembered[level++];
        entry->frame = *walked;
        /* A left-out entry frame of memlyze's hands its entry flag to the
         * program frame it called in the same evaluation, so that merged
         * native stacks still find where each evaluation starts. */
        uint32_t flags = entry->frame.is_entry | pending;
        uint32_t frame_bits, own;
        uint32_t frame_id = frame_id_for(state, &entry->frame, flags, &frame_bits, &own);
        if (own) {
            pending = flags;
        } else {
            node = node_for(state, node, frame_id);
            bits |= frame_bits;
            pending = 0;
        }
        entry->node = node;
        entry->filter_bits = bits;
        entry->entry_pending = pending;
    }
    state->remembered_depth = level;
    *filter_bits = bits;
    return node;
}
