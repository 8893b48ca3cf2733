/*
 * Reading a /proc file whole (its size is unknown until read). Shared by the
 * GOT patcher (/proc/self/maps) and the dlopen search path
 * (/proc/self/environ). INTERNAL to the binding.
 */
#ifndef MEMLYZE_PROC_FILE_H
#define MEMLYZE_PROC_FILE_H

#include <stddef.h>

/* Reads a whole (proc) file into a NUL-terminated malloc'ed buffer and sets
 * *length to its size; returns NULL on failure. */
char *proc_file_read_whole(const char *path, size_t *length);

#endif
