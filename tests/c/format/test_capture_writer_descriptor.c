/* The capture writer and the RSS reader keep descriptors the program may
 * close and reuse (os.closerange, then an open that gets the same number):
 * they must never write, read or close the program's file through it, and
 * go on through the capture (or /proc/self/statm) opened anew. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/format/capture_reader.h"
#include "core/format/capture_writer.h"
#include "core/recording/rss.h"
#include "tests/c/test_harness.h"

/* An empty chunk: no records to get wrong, yet a whole chunk to write. */
static const uint8_t some_payload[1];
static const char program_bytes[] = "0123456789abcdef\n";

/* A temporary name for a capture that does not exist yet. */
static void temporary_path(char *path)
{
    int descriptor = mkstemp(path);
    close(descriptor);
    unlink(path);
}

/* Stands in for the program: closes number and opens a file of its own
 * that gets it back, holding program_bytes. Returns 0, or -1. */
static int program_takes_number(int number, const char *victim_path)
{
    close(number);
    int victim = open(victim_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (victim < 0) {
        return -1;
    }
    if (victim != number) {
        int moved = dup3(victim, number, O_CLOEXEC);
        close(victim);
        if (moved != number) {
            return -1;
        }
    }
    return write(number, program_bytes, strlen(program_bytes)) ==
                   (ssize_t)strlen(program_bytes)
               ? 0
               : -1;
}

static off_t file_size(const char *path)
{
    struct stat status;
    return stat(path, &status) == 0 ? status.st_size : -1;
}

/* 1 when the capture at path reads to its end with chunks complete chunks
 * of events and its trailer. */
static int capture_reads_whole(const char *path, uint64_t chunks)
{
    struct capture_error error;
    struct capture_reader *reader = capture_reader_open(path, &error);
    if (!reader) {
        fprintf(stderr, "cannot read %s: %s\n", path, error.message);
        return 0;
    }
    struct capture_record record;
    int result;
    while ((result = capture_reader_next(reader, &record)) == 1) {
    }
    if (result < 0) {
        fprintf(stderr, "reading %s: %s\n", path, capture_reader_error(reader)->message);
    }
    int whole = result == 0 && !capture_reader_truncated(reader) &&
                capture_reader_chunks_read(reader) == chunks;
    capture_reader_close(reader);
    return whole;
}

static int open_writer(struct capture_writer *writer, const char *path)
{
    struct byte_buffer header = {0};
    char error[256];
    int result = capture_writer_open(writer, path, 0, &header, error, sizeof error);
    if (result < 0) {
        fprintf(stderr, "%s\n", error);
    }
    return result;
}

static void test_descriptor_is_kept_high(void)
{
    char path[] = "/tmp/memlyze-descriptor-XXXXXX";
    temporary_path(path);
    struct capture_writer writer;
    CHECK(open_writer(&writer, path) == 0);
    CHECK(writer.fd >= 1000); /* the soft limit of a test machine is at least 1024 */
    CHECK((fcntl(writer.fd, F_GETFD) & FD_CLOEXEC) != 0);
    struct byte_buffer footer = {0};
    CHECK(capture_writer_finish(&writer, &footer) == 0);
    byte_buffer_release(&footer);
    unlink(path);
}

static void test_writer_reopens_a_closed_capture(void)
{
    char path[] = "/tmp/memlyze-descriptor-XXXXXX";
    char victim_path[] = "/tmp/memlyze-victim-XXXXXX";
    temporary_path(path);
    temporary_path(victim_path);
    struct capture_writer writer;
    CHECK(open_writer(&writer, path) == 0);
    CHECK(capture_writer_write_chunk(&writer, CHUNK_KIND_EVENTS, some_payload,
                                     0) == 0);
    int number = writer.fd;
    CHECK(program_takes_number(number, victim_path) == 0);
    CHECK(capture_writer_write_chunk(&writer, CHUNK_KIND_EVENTS, some_payload,
                                     0) == 0);
    CHECK(writer.fd >= 0 && writer.fd != number);
    struct byte_buffer footer = {0};
    CHECK(capture_writer_finish(&writer, &footer) == 0);
    byte_buffer_release(&footer);
    CHECK_EQ_U64(file_size(victim_path), strlen(program_bytes));
    CHECK(fcntl(number, F_GETFD) >= 0); /* the program's descriptor stays open */
    CHECK(capture_reads_whole(path, 2));
    close(number);
    unlink(path);
    unlink(victim_path);
}

static void test_writer_stops_when_the_capture_is_gone(void)
{
    char path[] = "/tmp/memlyze-descriptor-XXXXXX";
    char victim_path[] = "/tmp/memlyze-victim-XXXXXX";
    temporary_path(path);
    temporary_path(victim_path);
    struct capture_writer writer;
    CHECK(open_writer(&writer, path) == 0);
    int number = writer.fd;
    CHECK(program_takes_number(number, victim_path) == 0);
    unlink(path);
    CHECK(capture_writer_write_chunk(&writer, CHUNK_KIND_EVENTS, some_payload,
                                     0) < 0);
    struct byte_buffer footer = {0};
    CHECK(capture_writer_finish(&writer, &footer) < 0);
    byte_buffer_release(&footer);
    CHECK_EQ_U64(file_size(victim_path), strlen(program_bytes));
    CHECK(fcntl(number, F_GETFD) >= 0);
    close(number);
    unlink(victim_path);
}

/* Replacing a capture (`memlyze run` creates it with a placeholder header,
 * then the recorder overwrites it) must never pass through an empty file:
 * a kill in between would leave nothing readable. The placeholder's inode,
 * still open here, keeps its bytes; the path names the new capture. */
static void test_overwriting_never_empties_the_old_file(void)
{
    char path[] = "/tmp/memlyze-replace-XXXXXX";
    temporary_path(path);
    int placeholder = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    CHECK(placeholder >= 0);
    CHECK(write(placeholder, program_bytes, strlen(program_bytes)) ==
          (ssize_t)strlen(program_bytes));
    struct capture_writer writer;
    struct byte_buffer header = {0};
    char error[256];
    CHECK(capture_writer_open(&writer, path, 1, &header, error, sizeof error) == 0);
    struct stat old_status;
    CHECK(fstat(placeholder, &old_status) == 0);
    CHECK_EQ_U64(old_status.st_size, strlen(program_bytes));
    struct byte_buffer footer = {0};
    CHECK(capture_writer_finish(&writer, &footer) == 0);
    byte_buffer_release(&footer);
    CHECK(capture_reads_whole(path, 0));
    close(placeholder);
    unlink(path);
}

static void test_rss_reader_reopens_statm(void)
{
    char victim_path[] = "/tmp/memlyze-victim-XXXXXX";
    temporary_path(victim_path);
    struct rss_reader reader;
    CHECK(rss_reader_open(&reader) == 0);
    CHECK(rss_reader_current(&reader) > 0);
    int number = reader.statm_fd;
    CHECK(program_takes_number(number, victim_path) == 0);
    CHECK(rss_reader_current(&reader) > 0); /* not parsed from the program's file */
    CHECK(reader.statm_fd != number);
    rss_reader_close(&reader);
    CHECK(fcntl(number, F_GETFD) >= 0);
    CHECK_EQ_U64(file_size(victim_path), strlen(program_bytes));
    close(number);
    unlink(victim_path);
}

int main(void)
{
    RUN_TEST(test_descriptor_is_kept_high);
    RUN_TEST(test_writer_reopens_a_closed_capture);
    RUN_TEST(test_writer_stops_when_the_capture_is_gone);
    RUN_TEST(test_overwriting_never_empties_the_old_file);
    RUN_TEST(test_rss_reader_reopens_statm);
    return test_harness_exit_code();
}
