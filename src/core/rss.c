#include "rss.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

int rss_reader_open(struct rss_reader *reader)
{
    reader->page_size = (uint64_t)sysconf(_SC_PAGESIZE);
    reader->owner_pid = (int)getpid();
    reader->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    return reader->statm_fd < 0 ? -1 : 0;
}

void rss_reader_close(struct rss_reader *reader)
{
    if (reader->statm_fd >= 0) {
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

uint64_t rss_reader_current(struct rss_reader *reader)
{
    if (reader->owner_pid != (int)getpid()) {
        rss_reader_close(reader);
        if (rss_reader_open(reader) < 0) {
            return 0;
        }
    }
    char text[128];
    ssize_t length = pread(reader->statm_fd, text, sizeof text - 1, 0);
    if (length <= 0) {
        return 0;
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
