#include "core/analysis/native_symbols.h"

#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/tracker_memory.h"

/* What became of one recorded mapping. */
struct mapping_state {
    const struct capture_mapping *mapping;
    const char *path;
    Dwfl_Module *module;            /* NULL unless usable */
    enum native_symbol_status status; /* when module is NULL */
};

struct native_symbolizer {
    const struct capture_reader *reader;
    Dwfl *dwfl;
    struct mapping_state *mappings;
    size_t mapping_count;
};

static char *debuginfo_path;
static int find_debuginfo_safely(Dwfl_Module *module, void **user_data, const char *module_name,
                                 Dwarf_Addr base, const char *file_name,
                                 const char *debuglink_file, GElf_Word debuglink_crc,
                                 char **debuginfo_file_name);
static const Dwfl_Callbacks offline_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = find_debuginfo_safely,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

const char *native_symbol_status_text(enum native_symbol_status status)
{
    switch (status) {
    case NATIVE_SYMBOL_RESOLVED: return "resolved";
    case NATIVE_SYMBOL_NO_SYMBOL: return "no symbol";
    case NATIVE_SYMBOL_NO_MAPPING: return "not in a recorded object";
    case NATIVE_SYMBOL_FILE_UNREADABLE: return "object file not readable";
    case NATIVE_SYMBOL_BUILD_ID_MISMATCH: return "build-id mismatch";
    }
    return "unknown";
}

/*
 * Opens path for reading if, and only if, it is a regular file; returns the
 * descriptor or -1. The recorded path may have become anything since the
 * capture was made: a FIFO (open would wait for a writer forever), a device
 * (reading /dev/zero never ends) or a directory. O_NONBLOCK keeps the open
 * itself from waiting; it is cleared again, as it means nothing for a
 * regular file and libelf should see an ordinary descriptor.
 */
static int open_regular_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        return -1;
    }
    struct stat status;
    int flags = fcntl(fd, F_GETFL);
    if (fstat(fd, &status) != 0 || !S_ISREG(status.st_mode) || flags < 0 ||
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reports one mapping to libdwfl and checks its build-id. libdwfl is handed
 * the descriptor, never the path to open, so only what open_regular_file
 * accepted is read. */
static void mapping_report(struct native_symbolizer *symbolizer, struct mapping_state *state)
{
    int fd = state->path ? open_regular_file(state->path) : -1;
    if (fd < 0) {
        state->status = NATIVE_SYMBOL_FILE_UNREADABLE;
        return;
    }
    /* libdwfl owns fd from here (it closes it with the Dwfl). */
    Dwfl_Module *module = dwfl_report_elf(symbolizer->dwfl, state->path, state->path, fd,
                                          state->mapping->load_bias, 1);
    if (!module) {
        close(fd);
        state->status = NATIVE_SYMBOL_FILE_UNREADABLE;
        return;
    }
    const unsigned char *bits = NULL;
    GElf_Addr vaddr;
    int size = dwfl_module_build_id(module, &bits, &vaddr);
    const struct capture_mapping *mapping = state->mapping;
    if (mapping->build_id_size && (size != (int)mapping->build_id_size ||
                                   memcmp(bits, mapping->build_id, (size_t)size) != 0)) {
        state->status = NATIVE_SYMBOL_BUILD_ID_MISMATCH;
        return;
    }
    state->module = module;
}

/* 1 when path exists and is no regular file. stat never waits, unlike open. */
static int exists_irregular(const char *path)
{
    struct stat status;
    return stat(path, &status) == 0 && !S_ISREG(status.st_mode);
}

/* 1 when a place where libdwfl's standard search looks for the separate
 * debug information of file_name (the object's directory, its .debug
 * folder, /usr/lib/debug, the build-id tree) holds something that is no
 * regular file: that search opens each candidate by path with a plain
 * open(), which would wait forever on a FIFO. */
static int debuginfo_candidate_irregular(Dwfl_Module *module, const char *file_name,
                                         const char *debuglink_file)
{
    const char *slash = strrchr(file_name, '/');
    int directory_length = slash ? (int)(slash - file_name) : 0;
    char default_name[4096];
    if (!debuglink_file) {
        snprintf(default_name, sizeof default_name, "%s.debug", slash ? slash + 1 : file_name);
        debuglink_file = default_name;
    }
    const char *formats[] = {"%.*s/%s", "%.*s/.debug/%s", "/usr/lib/debug%.*s/%s"};
    char candidate[8192];
    for (size_t index = 0; index < sizeof formats / sizeof formats[0]; index++) {
        snprintf(candidate, sizeof candidate, formats[index], directory_length, file_name,
                 debuglink_file);
        if (exists_irregular(candidate)) {
            return 1;
        }
    }
    const unsigned char *bits = NULL;
    GElf_Addr vaddr;
    int size = dwfl_module_build_id(module, &bits, &vaddr);
    if (size < 2) {
        return 0;
    }
    int length = snprintf(candidate, sizeof candidate, "/usr/lib/debug/.build-id/%02x/", bits[0]);
    for (int index = 1; index < size && length + 3 < (int)sizeof candidate; index++) {
        length += snprintf(candidate + length, sizeof candidate - (size_t)length, "%02x",
                           bits[index]);
    }
    snprintf(candidate + length, sizeof candidate - (size_t)length, ".debug");
    return exists_irregular(candidate);
}

/* libdwfl's standard search for separate debug information, skipped (the
 * object then symbolises from its own symbols) when one of the files it
 * would open could block the report. */
static int find_debuginfo_safely(Dwfl_Module *module, void **user_data, const char *module_name,
                                 Dwarf_Addr base, const char *file_name,
                                 const char *debuglink_file, GElf_Word debuglink_crc,
                                 char **debuginfo_file_name)
{
    if (file_name && debuginfo_candidate_irregular(module, file_name, debuglink_file)) {
        return -1;
    }
    return dwfl_standard_find_debuginfo(module, user_data, module_name, base, file_name,
                                        debuglink_file, debuglink_crc, debuginfo_file_name);
}

struct native_symbolizer *native_symbolizer_open(const struct capture_reader *reader)
{
    struct native_symbolizer *symbolizer = tracker_calloc(1, sizeof *symbolizer);
    size_t count = capture_reader_mapping_count(reader);
    if (!symbolizer) {
        return NULL;
    }
    symbolizer->reader = reader;
    symbolizer->mapping_count = count;
    symbolizer->mappings = tracker_calloc(count ? count : 1, sizeof *symbolizer->mappings);
    symbolizer->dwfl = dwfl_begin(&offline_callbacks);
    if (!symbolizer->mappings || !symbolizer->dwfl) {
        native_symbolizer_close(symbolizer);
        return NULL;
    }
    dwfl_report_begin(symbolizer->dwfl);
    for (size_t index = 0; index < count; index++) {
        struct mapping_state *state = &symbolizer->mappings[index];
        state->mapping = capture_reader_mapping(reader, index);
        state->path = capture_reader_string(reader, state->mapping->path_sid, NULL);
        mapping_report(symbolizer, state);
    }
    dwfl_report_end(symbolizer->dwfl, NULL, NULL);
    return symbolizer;
}

void native_symbolizer_close(struct native_symbolizer *symbolizer)
{
    if (!symbolizer) {
        return;
    }
    if (symbolizer->dwfl) {
        dwfl_end(symbolizer->dwfl);
    }
    size_t count = symbolizer->mapping_count ? symbolizer->mapping_count : 1;
    tracker_free(symbolizer->mappings, count * sizeof *symbolizer->mappings);
    tracker_free(symbolizer, sizeof *symbolizer);
}

/* The last recorded mapping holding ip (a later one replaced earlier ones). */
static const struct mapping_state *mapping_find(const struct native_symbolizer *symbolizer,
                                                uint64_t ip)
{
    for (size_t index = symbolizer->mapping_count; index-- > 0;) {
        const struct mapping_state *state = &symbolizer->mappings[index];
        if (ip >= state->mapping->start && ip < state->mapping->end) {
            return state;
        }
    }
    return NULL;
}

/* The file name of entry number file_index of the CU's file table. */
static const char *call_file_name(Dwarf_Die *cu, Dwarf_Word file_index)
{
    Dwarf_Files *files;
    size_t count;
    if (dwarf_getsrcfiles(cu, &files, &count) != 0 || file_index >= count) {
        return "";
    }
    const char *name = dwarf_filesrc(files, file_index, NULL, NULL);
    return name ? name : "";
}

/* Adds the functions inlined at address (innermost first) to out, moving
 * *file and *line to each one's call site. Returns how many were added. */
static size_t add_inlined_frames(Dwfl_Module *module, Dwarf_Addr address,
                                 const struct native_symbol_frame *base,
                                 struct native_symbol_frame *out, size_t capacity,
                                 const char **file, uint32_t *line)
{
    Dwarf_Addr bias;
    Dwarf_Die *cu = dwfl_module_addrdie(module, address, &bias);
    Dwarf_Die *scopes = NULL;
    int scope_count = cu ? dwarf_getscopes(cu, address - bias, &scopes) : 0;
    size_t added = 0;
    for (int index = 0; index < scope_count && added + 1 < capacity; index++) {
        Dwarf_Die *scope = &scopes[index];
        if (dwarf_tag(scope) != DW_TAG_inlined_subroutine) {
            continue;
        }
        struct native_symbol_frame *frame = &out[added++];
        *frame = *base;
        frame->function = dwarf_diename(scope) ? dwarf_diename(scope) : "??";
        frame->file = *file;
        frame->line = *line;
        frame->inlined = 1;
        Dwarf_Attribute attribute;
        Dwarf_Word value = 0;
        if (dwarf_formudata(dwarf_attr(scope, DW_AT_call_file, &attribute), &value) == 0) {
            *file = call_file_name(cu, value);
        }
        *line = dwarf_formudata(dwarf_attr(scope, DW_AT_call_line, &attribute), &value) == 0
                    ? (uint32_t)value
                    : 0;
    }
    free(scopes);
    return added;
}

size_t native_symbolizer_resolve(struct native_symbolizer *symbolizer, uint64_t ip,
                                 int return_address, struct native_symbol_frame *out,
                                 size_t capacity)
{
    if (capacity == 0) {
        return 0;
    }
    struct native_symbol_frame base = {NULL, "", 0, 0, ip, "", NATIVE_SYMBOL_NO_MAPPING};
    const struct mapping_state *state = mapping_find(symbolizer, ip);
    if (!state || !state->module) {
        base.object = state ? state->path : "";
        base.status = state ? state->status : NATIVE_SYMBOL_NO_MAPPING;
        out[0] = base;
        return 1;
    }
    base.object = state->path;
    Dwarf_Addr address = return_address && ip ? ip - 1 : ip;
    GElf_Off offset;
    GElf_Sym symbol;
    const char *name = dwfl_module_addrinfo(state->module, address, &offset, &symbol, NULL, NULL,
                                            NULL);
    const char *file = "";
    int line_number = 0;
    Dwfl_Line *line = dwfl_module_getsrc(state->module, address);
    if (line) {
        const char *source = dwfl_lineinfo(line, NULL, &line_number, NULL, NULL, NULL);
        file = source ? source : "";
    }
    uint32_t line_value = line_number > 0 ? (uint32_t)line_number : 0;
    /* The inlined frames are copies of base, named from DWARF: resolved. */
    base.status = NATIVE_SYMBOL_RESOLVED;
    size_t count = add_inlined_frames(state->module, address, &base, out, capacity, &file,
                                      &line_value);
    base.function = name;
    base.file = file;
    base.line = line_value;
    base.status = name ? NATIVE_SYMBOL_RESOLVED : NATIVE_SYMBOL_NO_SYMBOL;
    out[count++] = base;
    return count;
}
