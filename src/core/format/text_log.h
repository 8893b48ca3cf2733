/*
 * A buffered, append-only text file for event logs: numbers are formatted by
 * hand (no printf) and the buffer goes out with one write() when full, so a
 * log line costs a few dozen stores. Not thread-safe: one writer at a time.
 */
#ifndef MEMLYZE_TEXT_LOG_H
#define MEMLYZE_TEXT_LOG_H

#include <stddef.h>
#include <stdint.h>

#define TEXT_LOG_BUFFER_SIZE (64 * 1024)

struct text_log {
    int fd;
    int error;             /* first errno of a failed write, 0 if none */
    size_t used;           /* bytes waiting in buffer */
    uint64_t bytes_written; /* bytes handed to write() so far */
    char buffer[TEXT_LOG_BUFFER_SIZE];
};

/* Creates path for writing: when replace is 0 it must not exist yet (else
 * EEXIST), when 1 an existing file is truncated. Returns 0, or -1 with errno
 * set. */
int text_log_create(struct text_log *log, const char *path, int replace);
/* Appends length bytes. */
void text_log_bytes(struct text_log *log, const char *data, size_t length);
/* Appends a NUL-terminated string. */
void text_log_text(struct text_log *log, const char *text);
/* Appends one character. */
void text_log_character(struct text_log *log, char character);
/* Appends value in decimal. */
void text_log_unsigned(struct text_log *log, uint64_t value);
/* Appends value in decimal, with a leading '+' when it is not negative. */
void text_log_signed(struct text_log *log, int64_t value);
/* Appends nanoseconds as seconds with six decimals, e.g. "12.000345". */
void text_log_seconds(struct text_log *log, uint64_t nanoseconds);
/* Appends value as 0x followed by lower-case hex digits. */
void text_log_hex(struct text_log *log, uint64_t value);
/* Writes out what is buffered. Returns 0, or the errno of a failed write
 * (now or earlier). */
int text_log_flush(struct text_log *log);
/* Flushes and closes. Returns 0 or the first errno of a failed write or
 * close. */
int text_log_close(struct text_log *log);

#endif
