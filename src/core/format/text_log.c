#include "core/format/text_log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int text_log_create(struct text_log *log, const char *path, int replace)
{
    log->used = 0;
    log->error = 0;
    log->bytes_written = 0;
    log->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (replace ? O_TRUNC : O_EXCL), 0644);
    return log->fd < 0 ? -1 : 0;
}

/* Writes all of data, retrying short writes and EINTR; records errors. */
static void write_all(struct text_log *log, const char *data, size_t length)
{
    while (length && !log->error) {
        ssize_t written = write(log->fd, data, length);
        if (written < 0) {
            if (errno != EINTR) {
                log->error = errno;
            }
            continue;
        }
        data += written;
        length -= (size_t)written;
        log->bytes_written += (uint64_t)written;
    }
}

int text_log_flush(struct text_log *log)
{
    if (log->used) {
        write_all(log, log->buffer, log->used);
        log->used = 0;
    }
    return log->error;
}

void text_log_bytes(struct text_log *log, const char *data, size_t length)
{
    if (log->used + length > sizeof log->buffer) {
        text_log_flush(log);
        if (length > sizeof log->buffer) {
            write_all(log, data, length);
            return;
        }
    }
    memcpy(log->buffer + log->used, data, length);
    log->used += length;
}

void text_log_text(struct text_log *log, const char *text)
{
    text_log_bytes(log, text, strlen(text));
}

void text_log_character(struct text_log *log, char character)
{
    if (log->used == sizeof log->buffer) {
        text_log_flush(log);
    }
    log->buffer[log->used++] = character;
}

void text_log_unsigned(struct text_log *log, uint64_t value)
{
    char digits[20];
    size_t count = 0;
    do {
        digits[sizeof digits - 1 - count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    text_log_bytes(log, digits + sizeof digits - count, count);
}

void text_log_signed(struct text_log *log, int64_t value)
{
    if (value < 0) {
        text_log_character(log, '-');
        text_log_unsigned(log, (uint64_t)0 - (uint64_t)value);
        return;
    }
    text_log_character(log, '+');
    text_log_unsigned(log, (uint64_t)value);
}

void text_log_seconds(struct text_log *log, uint64_t nanoseconds)
{
    uint64_t microseconds = nanoseconds / 1000;
    text_log_unsigned(log, microseconds / 1000000);
    char fraction[7] = {'.'};
    uint64_t rest = microseconds % 1000000;
    for (int index = 6; index >= 1; index--) {
        fraction[index] = (char)('0' + rest % 10);
        rest /= 10;
    }
    text_log_bytes(log, fraction, sizeof fraction);
}

void text_log_hex(struct text_log *log, uint64_t value)
{
    static const char hex_digits[] = "0123456789abcdef";
    char digits[18];
    size_t count = 0;
    do {
        digits[sizeof digits - 1 - count++] = hex_digits[value & 15];
        value >>= 4;
    } while (value);
    digits[sizeof digits - 1 - count++] = 'x';
    digits[sizeof digits - 1 - count++] = '0';
    text_log_bytes(log, digits + sizeof digits - count, count);
}

int text_log_close(struct text_log *log)
{
    int error = text_log_flush(log);
    if (log->fd >= 0 && close(log->fd) < 0 && !error) {
        error = errno;
    }
    log->fd = -1;
    return error;
}
