/*
 * Line numbers of instructions, fast for large code objects.
 *
 * PyCode_Addr2Line scans a code object's location table from its start on
 * every call: tens of thousands of instructions for one lookup in a function
 * thousands of lines long (pyperformance's regex_v8 spent 8% of its time
 * there under full recording). A large code object gets its whole
 * instruction -> line map built in one pass instead, kept in a small cache
 * that recognises the code object by its location table's bytes.
 */
#ifndef MEMLYZE_LINE_NUMBERS_H
#define MEMLYZE_LINE_NUMBERS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* The line of the code unit at index instruction of code, or -1 if it has
 * none (as PyCode_Addr2Line). Safe to call from any thread that may walk
 * this code's frames. */
int line_number_of_instruction(PyCodeObject *code, int instruction);

/* Frees the cached maps (when tracking stops). */
void line_numbers_release(void);

#endif
