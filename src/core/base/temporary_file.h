/*
 * A new file beside a path, for writing a whole file and then renaming it
 * over the path: readers of the path never see a partial file.
 */
#ifndef MEMLYZE_TEMPORARY_FILE_H
#define MEMLYZE_TEMPORARY_FILE_H

#include <stddef.h>

/*
 * Creates a new file named "<path>.tmp.<pid>.<random>" and returns its
 * descriptor (O_WRONLY, O_CLOEXEC), with its name in temporary; -1 with
 * errno set on failure (ENAMETOOLONG when the name does not fit). O_EXCL
 * and O_NOFOLLOW make it a file this call created: a link or file planted
 * at that name is never followed or truncated, and the name is drawn again.
 */
int temporary_file_create(const char *path, char *temporary, size_t temporary_size);

#endif
