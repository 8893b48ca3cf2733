/*
 * Symbolisation of a --native capture's return addresses at report time,
 * with elfutils' libdwfl: each recorded mapping (OP_MAPPING) is reported to
 * libdwfl at its load bias, and an address resolves to its function, file
 * and line, with the functions inlined at that address (DWARF inlined
 * subroutines) when debug information allows. A mapping whose file is gone,
 * or whose build-id is not the recorded one, resolves nothing: its frames
 * say why instead of showing wrong names. Only regular files are opened
 * (a recorded path may since have become a FIFO or a device), and never in
 * a way that can block.
 */
#ifndef MEMLYZE_NATIVE_SYMBOLS_H
#define MEMLYZE_NATIVE_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

#include "core/format/capture_reader.h"

enum native_symbol_status {
    NATIVE_SYMBOL_RESOLVED = 0,   /* function (and file and line when known) */
    NATIVE_SYMBOL_NO_SYMBOL,      /* in a known object, but no symbol covers it */
    NATIVE_SYMBOL_NO_MAPPING,     /* in no recorded object */
    NATIVE_SYMBOL_FILE_UNREADABLE, /* the object's file cannot be read now */
    NATIVE_SYMBOL_BUILD_ID_MISMATCH, /* the object's file changed since recording */
};

struct native_symbol_frame {
    const char *function; /* NULL unless resolved */
    const char *file;     /* "" when unknown */
    uint32_t line;        /* 0 when unknown */
    int inlined;          /* 1: inlined into the frame after it */
    uint64_t ip;
    const char *object;   /* the object's path, "" when in none */
    enum native_symbol_status status;
};

struct native_symbolizer;

/* A symbolizer for the mappings reader has read so far (read the records
 * first). reader is borrowed. Returns NULL when memory ran out. */
struct native_symbolizer *native_symbolizer_open(const struct capture_reader *reader);
void native_symbolizer_close(struct native_symbolizer *symbolizer);

/*
 * Resolves ip into out (innermost first: inlined functions, then the
 * function containing them), at most capacity frames; returns how many
 * (at least 1 when capacity > 0). return_address: ip is a return address
 * (every frame but a signal frame), so the call is looked up at ip - 1.
 * Strings stay valid until the symbolizer is closed.
 */
size_t native_symbolizer_resolve(struct native_symbolizer *symbolizer, uint64_t ip,
                                 int return_address, struct native_symbol_frame *out,
                                 size_t capacity);

/* A short English phrase for a status, e.g. "build-id mismatch". */
const char *native_symbol_status_text(enum native_symbol_status status);

#endif
