/* Native and merged stacks of a --native capture, as Python lists
 * (see native_reader_binding.c). */
#ifndef MEMLYZE_NATIVE_READER_BINDING_H
#define MEMLYZE_NATIVE_READER_BINDING_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>

#include "core/format/capture_reader.h"
#include "core/analysis/native_symbols.h"

/*
 * [(function or None, file, line, ip, object, note), ...] innermost first:
 * the native stack's frames, inlined functions included; function is None
 * and note says why ("build-id mismatch", ...) when a frame cannot be
 * resolved, note is "inlined" for inlined functions, else "".
 * *symbolizer is created on first use and kept by the caller.
 */
PyObject *native_stack_frames(const struct capture_reader *reader,
                              struct native_symbolizer **symbolizer, uint32_t native_stack_id);

/*
 * [(function, file, line, kind), ...] innermost first, kind "python" or
 * "native": the native stack with the Python stack merged in where the
 * interpreter evaluated it. Each C-level _PyEval_EvalFrameDefault becomes
 * the Python frames it ran: from the next Python frame up to and including
 * the next entry frame (OP_FRAME flags bit 0). Python frames left over go
 * last. An unresolved native frame reads "<unresolved 0x... (reason)>".
 */
PyObject *merged_stack_frames(const struct capture_reader *reader,
                              struct native_symbolizer **symbolizer, uint32_t stack_id,
                              uint32_t native_stack_id);

#endif
