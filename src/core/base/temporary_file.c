#include "core/base/temporary_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define TEMPORARY_SUFFIX ".tmp"
/* Names drawn before giving up: more collisions than this mean someone is
 * filling the directory with our names on purpose. */
#define TEMPORARY_ATTEMPTS 64

/* A number an observer cannot guess, for temporary file names. */
static uint64_t unpredictable_number(void)
{
    uint64_t value;
    if (getrandom(&value, sizeof value, GRND_NONBLOCK) == (ssize_t)sizeof value) {
        return value;
    }
    /* No entropy yet (early boot) or no getrandom: O_EXCL keeps a guessed
     * name harmless, so a clock-derived number is enough. */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    value = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    value ^= (uint64_t)getpid() << 32;
    value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9u;
    value = (value ^ (value >> 27)) * 0x94d049bb133111ebu;
    return value ^ (value >> 31);
}

int temporary_file_create(const char *path, char *temporary, size_t temporary_size)
{
    for (int attempt = 0; attempt < TEMPORARY_ATTEMPTS; attempt++) {
        int length = snprintf(temporary, temporary_size, "%s" TEMPORARY_SUFFIX ".%ld.%016llx",
                              path, (long)getpid(),
                              (unsigned long long)unpredictable_number());
        if (length < 0 || (size_t)length >= temporary_size) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int descriptor =
            open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (descriptor >= 0 || errno != EEXIST) {
            return descriptor;
        }
    }
    errno = EEXIST;
    return -1;
}
