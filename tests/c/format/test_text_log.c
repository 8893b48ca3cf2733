/* text_log: number formatting, buffering past the buffer size, errors; and
 * rss.c: the reader agrees with /proc/self/statm and reopens after fork. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/recording/rss.h"
#include "tests/c/test_harness.h"
#include "core/format/text_log.h"

static struct text_log *created_log(char *path)
{
    struct text_log *log = malloc(sizeof *log);
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    if (!log || text_log_create(log, path, 0) < 0) {
        free(log);
        return NULL;
    }
    return log;
}

/* The file's contents (at most capacity - 1 bytes), NUL-terminated. */
static size_t read_back(const char *path, char *text, size_t capacity)
{
    FILE *file = fopen(path, "rb");
    size_t length = file ? fread(text, 1, capacity - 1, file) : 0;
    if (file) {
        fclose(file);
    }
    text[length] = 0;
    return length;
}

static void test_formats_numbers(void)
{
    char path[] = "/tmp/memlyze-text-log-XXXXXX";
    struct text_log *log = created_log(path);
    CHECK(log != NULL);
    if (!log) {
        return;
    }
    text_log_unsigned(log, 0);
    text_log_character(log, ' ');
    text_log_unsigned(log, UINT64_MAX);
    text_log_character(log, ' ');
    text_log_signed(log, 0);
    text_log_character(log, ' ');
    text_log_signed(log, -4096);
    text_log_character(log, ' ');
    text_log_signed(log, INT64_MIN);
    text_log_character(log, ' ');
    text_log_seconds(log, 12000345678u);
    text_log_character(log, ' ');
    text_log_seconds(log, 999);
    text_log_character(log, ' ');
    text_log_hex(log, 0x7fc18f633b90u);
    text_log_character(log, ' ');
    text_log_hex(log, 0);
    text_log_text(log, " end\n");
    CHECK(text_log_close(log) == 0);
    char text[256];
    read_back(path, text, sizeof text);
    CHECK(strcmp(text, "0 18446744073709551615 +0 -4096 -9223372036854775808 12.000345 0.000000 "
                       "0x7fc18f633b90 0x0 end\n") == 0);
    unlink(path);
    free(log);
}

static void test_buffers_past_its_size(void)
{
    char path[] = "/tmp/memlyze-text-log-XXXXXX";
    struct text_log *log = created_log(path);
    CHECK(log != NULL);
    if (!log) {
        return;
    }
    size_t big = TEXT_LOG_BUFFER_SIZE * 2 + 17;
    char *block = malloc(big);
    memset(block, 'b', big);
    for (int index = 0; index < 30000; index++) {
        text_log_text(log, "line\n");
    }
    text_log_bytes(log, block, big);
    CHECK(text_log_close(log) == 0);
    size_t expected = 30000 * 5 + big;
    char *text = malloc(expected + 2);
    CHECK_EQ_U64(read_back(path, text, expected + 2), expected);
    CHECK(memcmp(text + 29999 * 5, "line\nbbb", 8) == 0);
    CHECK(text[expected - 1] == 'b');
    free(text);
    free(block);
    unlink(path);
    free(log);
}

static void test_create_refuses_an_existing_file_unless_replacing(void)
{
    char path[] = "/tmp/memlyze-text-log-XXXXXX";
    struct text_log *log = created_log(path);
    CHECK(log != NULL);
    if (!log) {
        return;
    }
    text_log_text(log, "old");
    CHECK(text_log_close(log) == 0);
    errno = 0;
    CHECK(text_log_create(log, path, 0) == -1 && errno == EEXIST);
    CHECK(text_log_create(log, path, 1) == 0);
    text_log_text(log, "new");
    CHECK(text_log_close(log) == 0);
    char text[16];
    read_back(path, text, sizeof text);
    CHECK(strcmp(text, "new") == 0);
    CHECK(text_log_create(log, "/nonexistent-directory/x.log", 0) == -1 && errno == ENOENT);
    unlink(path);
    free(log);
}

static uint64_t statm_bytes(void)
{
    FILE *file = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, resident = 0;
    if (!file || fscanf(file, "%llu %llu", &size, &resident) != 2) {
        resident = 0;
    }
    if (file) {
        fclose(file);
    }
    return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void test_rss_reader_follows_the_child_after_fork(void)
{
    struct rss_reader reader;
    CHECK(rss_reader_open(&reader) == 0);
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t before = statm_bytes(), value = rss_reader_current(&reader), after = statm_bytes();
    CHECK(value + page >= before && value <= after + page);
    uint64_t generation = rss_fork_generation();
    pid_t child = fork();
    if (child == 0) {
        size_t size = 32u << 20;
        uint64_t untouched = rss_reader_current(&reader);
        char *block = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (block == MAP_FAILED) {
            _exit(2);
        }
        memset(block, 1, size);
        uint64_t touched = rss_reader_current(&reader);
        int ok = rss_fork_generation() == generation + 1 && touched >= untouched + (30u << 20);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ_U64(rss_fork_generation(), generation);
    rss_reader_close(&reader);
}

int main(void)
{
    RUN_TEST(test_formats_numbers);
    RUN_TEST(test_buffers_past_its_size);
    RUN_TEST(test_create_refuses_an_existing_file_unless_replacing);
    RUN_TEST(test_rss_reader_follows_the_child_after_fork);
    return test_harness_exit_code();
}
