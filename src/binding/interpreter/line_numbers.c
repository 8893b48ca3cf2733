/*
 * Line numbers of instructions, fast for large code objects: see
 * line_numbers.h. A map is found by its code object's address but trusted
 * only if the location table's bytes and first line are those it was built
 * from (the line of an instruction depends on nothing else), so a code
 * object freed and another allocated at its address cannot borrow its lines.
 */
#include "binding/interpreter/line_numbers.h"
#include "binding/interpreter/interpreter_frames.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "core/base/tracker_memory.h"

/* Smaller code objects are looked up with PyCode_Addr2Line: their scan is
 * short, and nearly all code is small. */
#define LARGE_CODE_UNITS 1024
#define LINE_MAP_SLOTS 32 /* power of two */

struct line_map {
    const PyCodeObject *code; /* where the code object was; a hint only */
    int first_line;
    Py_ssize_t table_size;
    char *table;              /* copy of co_linetable */
    Py_ssize_t unit_count;
    int32_t *lines;           /* line of each code unit, -1 for none */
};

static struct line_map line_maps[LINE_MAP_SLOTS];
static pthread_mutex_t line_maps_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fork_handlers_once = PTHREAD_ONCE_INIT;

/* A fork while another thread builds a map must not leave the child's
 * mutex locked. */
static void lock_before_fork(void)
{
    pthread_mutex_lock(&line_maps_mutex);
}

static void unlock_after_fork(void)
{
    pthread_mutex_unlock(&line_maps_mutex);
}

static void register_fork_handlers(void)
{
    pthread_atfork(lock_before_fork, unlock_after_fork, unlock_after_fork);
}

static void line_map_clear(struct line_map *map)
{
    if (map->table != NULL) {
        tracker_free(map->table, (size_t)map->table_size);
    }
    if (map->lines != NULL) {
        tracker_free(map->lines, (size_t)map->unit_count * sizeof *map->lines);
    }
    memset(map, 0, sizeof *map);
}

static int line_map_describes(const struct line_map *map, const PyCodeObject *code,
                              const char *table, Py_ssize_t table_size)
{
    return map->lines != NULL && map->code == code && map->first_line == code->co_firstlineno
        && map->unit_count == Py_SIZE(code) && map->table_size == table_size
        && memcmp(map->table, table, (size_t)table_size) == 0;
}

/* Positions range before the first entry of a location table, as CPython's
 * own lookups start (cpython/code.h documents the structure). */
static void range_start(PyCodeAddressRange *range, const char *table, Py_ssize_t table_size,
                        int first_line)
{
    range->ar_start = -1;
    range->ar_end = 0;
    range->ar_line = -1;
    range->opaque.computed_line = first_line;
    range->opaque.lo_next = (const uint8_t *)table;
    range->opaque.limit = (const uint8_t *)table + table_size;
}

/* Builds map for code in one pass over its table; returns 0, or -1 if out
 * of memory (map is then empty). */
static int line_map_build(struct line_map *map, PyCodeObject *code, const char *table,
                          Py_ssize_t table_size)
{
    Py_ssize_t units = Py_SIZE(code);
    char *table_copy = tracker_malloc((size_t)table_size);
    int32_t *lines = tracker_malloc((size_t)units * sizeof *lines);
    line_map_clear(map);
    if (table_copy == NULL || lines == NULL) {
        if (table_copy != NULL) {
            tracker_free(table_copy, (size_t)table_size);
        }
        if (lines != NULL) {
            tracker_free(lines, (size_t)units * sizeof *lines);
        }
        return -1;
    }
    memcpy(table_copy, table, (size_t)table_size);
    PyCodeAddressRange range;
    range_start(&range, table_copy, table_size, code->co_firstlineno);
    for (Py_ssize_t unit = 0; unit < units; unit++) {
        lines[unit] = _PyCode_CheckLineNumber((int)(unit * INTERPRETER_CODE_UNIT_BYTES),
                                              &range);
    }
    *map = (struct line_map){code, code->co_firstlineno, table_size, table_copy, units, lines};
    return 0;
}

static struct line_map *line_map_slot(const PyCodeObject *code)
{
    uintptr_t key = (uintptr_t)code >> 4;
    return &line_maps[(key ^ (key >> 7)) & (LINE_MAP_SLOTS - 1)];
}

int line_number_of_instruction(PyCodeObject *code, int instruction)
{
    int byte_offset = instruction * (int)INTERPRETER_CODE_UNIT_BYTES;
    if (Py_SIZE(code) < LARGE_CODE_UNITS || instruction < 0 || instruction >= Py_SIZE(code)) {
        return PyCode_Addr2Line(code, byte_offset);
    }
    pthread_once(&fork_handlers_once, register_fork_handlers);
    const char *table = PyBytes_AS_STRING(code->co_linetable);
    Py_ssize_t table_size = PyBytes_GET_SIZE(code->co_linetable);
    struct line_map *map = line_map_slot(code);
    int line;
    pthread_mutex_lock(&line_maps_mutex);
    if (line_map_describes(map, code, table, table_size)
        || line_map_build(map, code, table, table_size) == 0) {
        line = map->lines[instruction];
    } else {
        line = PyCode_Addr2Line(code, byte_offset);
    }
    pthread_mutex_unlock(&line_maps_mutex);
    return line;
}

void line_numbers_release(void)
{
    pthread_mutex_lock(&line_maps_mutex);
    for (size_t slot = 0; slot < LINE_MAP_SLOTS; slot++) {
        line_map_clear(&line_maps[slot]);
    }
    pthread_mutex_unlock(&line_maps_mutex);
}
