#include "core/recording/rss.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <unistd.h>

static atomic_uint_fast64_t fork_generation;
static pthread_once_t fork_handler_once = PTHREAD_ONCE_INIT;

/* Runs in the child of every fork: makes every reader reopen its file. */
static void count_fork_in_child(void)
{
    atomic_fetch_add_explicit(&fork_generation, 1, memory_order_relaxed);
}

/* Registers count_fork_in_child, once per process. */
static void register_fork_handler(void)
{
    pthread_atfork(NULL, NULL, count_fork_in_child);
}

uint64_t rss_fork_generation(void)
{
    return (uint64_t)atomic_load_explicit(&fork_generation, memory_order_relaxed);
}

int rss_reader_open(struct rss_reader *reader)
{
    pthread_once(&fork_handler_once, register_fork_handler);
    reader->page_size = (uint64_t)sysconf(_SC_PAGESIZE);
    reader->owner_pid = (int)getpid();
    reader->fork_generation = rss_fork_generation();
    reader->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (reader->statm_fd < 0) {
        return -1;
    }
    reader->statm_fd = kept_descriptor_raise(reader->statm_fd);
    if (kept_descriptor_identify(reader->statm_fd, &reader->identity) < 0) {
        rss_reader_close(reader);
        return -1;
    }
    return 0;
}

void rss_reader_close(struct rss_reader *reader)
{
    if (reader->statm_fd >= 0 && kept_descriptor_is_same(reader->statm_fd, &reader->identity)) {
        close(reader->statm_fd);
    }
    reader->statm_fd = -1;
}

/* Parses "size resident ..." and returns the resident page count. */
static uint64_t statm_resident_pages(const char *text, ssize_t length)
{
    ssize_t index = 0;
    while (index < length && text[index] != ' ') {
        index++;
    }
    uint64_t pages = 0;
    for (index++; index < length && text[index] >= '0' && text[index] <= '9'; index++) {
        pages = pages * 10 + (uint64_t)(text[index] - '0');
    }
    return pages;
}

/* Nonzero when text reads as /proc/self/statm does: seven decimal fields
 * separated by spaces, then a newline. */
static int looks_like_statm(const char *text, ssize_t length)
{
    int fields = 0, in_field = 0;
    for (ssize_t index = 0; index < length; index++) {
        char character = text[index];
        if (character >= '0' && character <= '9') {
            fields += !in_field;
            in_field = 1;
        } else if (character == ' ' && in_field) {
            in_field = 0;
        } else {
            return character == '\n' && index == length - 1 && fields == 7;
        }
    }
    return 0;
}

/* Reads the statm text into text; its length, or -1 when the read failed or
 * did not read statm. */
static ssize_t statm_read(struct rss_reader *reader, char *text, size_t size)
{
    ssize_t length = pread(reader->statm_fd, text, size - 1, 0);
    return length > 0 && looks_like_statm(text, length) ? length : -1;
}

uint64_t rss_reader_current(struct rss_reader *reader)
{
    if (reader->fork_generation != rss_fork_generation()) {
        rss_reader_close(reader);
        if (rss_reader_open(reader) < 0) {
            return 0;
        }
    }
    /* The per-call tracers read on every call: the descriptor is checked
     * (fstat) only when a read fails or does not read statm, as it does once
     * the program has closed the number or put a file of its own there. */
    char text[128];
    ssize_t length = statm_read(reader, text, sizeof text);
    if (length < 0) {
        if (!kept_descriptor_is_same(reader->statm_fd, &reader->identity)) {
            reader->statm_fd = -1; /* closed, or the program's now: leave that number alone */
        } else {
            rss_reader_close(reader);
        }
        if (rss_reader_open(reader) < 0 || (length = statm_read(reader, text, sizeof text)) < 0) {
            return 0;
        }
    }
    return statm_resident_pages(text, length) * reader->page_size;
}

uint64_t rss_peak_bytes(void)
{
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) < 0) {
        return 0;
    }
    return (uint64_t)usage.ru_maxrss * 1024;
}

void rss_page_faults(uint64_t *minor, uint64_t *major)
{
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) < 0) {
        *minor = *major = 0;
        return;
    }
    *minor = (uint64_t)usage.ru_minflt;
    *major = (uint64_t)usage.ru_majflt;
}
