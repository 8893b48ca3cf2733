/*
 * Reads a /proc file whole. See proc_file.h.
 *
 * Uses plain malloc: this file is linked into the object whose own GOT is
 * never patched, so those calls are not intercepted.
 */
#include "binding/hooks/proc_file.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* See proc_file.h. */
char *proc_file_read_whole(const char *path, size_t *length)
{
    int descriptor = open(path, O_RDONLY | O_CLOEXEC);
    size_t capacity = 16384;
    char *text = descriptor >= 0 ? malloc(capacity) : NULL;
    *length = 0;
    while (text != NULL) {
        ssize_t count = read(descriptor, text + *length, capacity - *length - 1);
        if (count <= 0) {
            text[*length] = '\0';
            if (count < 0) {
                free(text);
                text = NULL;
            }
            break;
        }
        *length += (size_t)count;
        if (capacity - *length - 1 == 0) {
            char *grown = realloc(text, capacity * 2);
            if (grown == NULL)
                free(text);
            text = grown;
            capacity *= 2;
        }
    }
    if (descriptor >= 0)
        close(descriptor);
    return text;
}
