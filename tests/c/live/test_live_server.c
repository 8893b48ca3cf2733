/*
 * The live server over a real loopback socket: greetings, HELLO, HISTORY
 * and SNAPSHOT frames whose figures match what was recorded (own and total
 * bytes per location, per-thread selection), a second viewer told BUSY, a
 * client that is no viewer told ERROR, no answer on another loopback address
 * than 127.0.0.1, a viewer that left replaced by the next, and END at stop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/format/capture_format.h"
#include "core/live/live_protocol.h"
#include "core/live/live_server.h"
#include "core/recording/recorder.h"
#include "tests/c/test_harness.h"

static uint16_t port;

static int connect_to(const char *address_text)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, address_text, &address.sin_addr);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads size bytes within 10 s; 0, or -1 on EOF, error or time-out. */
static int read_exactly(int fd, void *out, size_t size)
{
    uint8_t *bytes = out;
    while (size) {
        struct pollfd watched = {.fd = fd, .events = POLLIN};
        if (poll(&watched, 1, 10000) <= 0) {
            return -1;
        }
        ssize_t received = recv(fd, bytes, size, 0);
        if (received <= 0) {
            return -1;
        }
        bytes += received;
        size -= (size_t)received;
    }
    return 0;
}

static uint64_t little_endian(const uint8_t *bytes, size_t width)
{
    uint64_t value = 0;
    for (size_t index = 0; index < width; index++) {
        value |= (uint64_t)bytes[index] << (8 * index);
    }
    return value;
}

/* Reads one frame into payload (malloc'd); returns its type or -1. */
static int read_frame(int fd, uint8_t **payload, size_t *size)
{
    uint8_t header[5];
    if (read_exactly(fd, header, sizeof header) < 0) {
        return -1;
    }
    *size = little_endian(header, 4) - 1;
    *payload = malloc(*size ? *size : 1);
    if (read_exactly(fd, *payload, *size) < 0) {
        free(*payload);
        return -1;
    }
    return header[4];
}

static void send_bytes(int fd, const void *data, size_t size)
{
    CHECK(send(fd, data, size, MSG_NOSIGNAL) == (ssize_t)size);
}

static void send_greeting(int fd, uint16_t version)
{
    uint8_t greeting[LIVE_GREETING_SIZE];
    memcpy(greeting, LIVE_VIEWER_MAGIC, LIVE_MAGIC_SIZE);
    greeting[8] = (uint8_t)version;
    greeting[9] = (uint8_t)(version >> 8);
    send_bytes(fd, greeting, sizeof greeting);
}

static void check_server_greeting(int fd)
{
    uint8_t greeting[LIVE_GREETING_SIZE];
    CHECK(read_exactly(fd, greeting, sizeof greeting) == 0);
    CHECK(memcmp(greeting, LIVE_SERVER_MAGIC, LIVE_MAGIC_SIZE) == 0);
    CHECK_EQ_U64(little_endian(greeting + 8, 2), LIVE_PROTOCOL_VERSION);
}

/* A location of a snapshot, as the test looks for it. */
struct decoded_location {
    char function[64];
    uint64_t own_bytes;
    uint64_t total_bytes;
    uint64_t own_count;
};

struct decoded_snapshot {
    uint64_t heap_bytes;
    uint32_t selected_thread;
    uint32_t thread_count;
    uint32_t location_count;
    struct decoded_location locations[16];
};

struct cursor {
    const uint8_t *data;
    size_t offset;
};

static uint64_t take(struct cursor *cursor, size_t width)
{
    uint64_t value = little_endian(cursor->data + cursor->offset, width);
    cursor->offset += width;
    return value;
}

static void take_string(struct cursor *cursor, char *out, size_t out_size)
{
    size_t length = take(cursor, 4);
    size_t kept = length < out_size - 1 ? length : out_size - 1;
    memcpy(out, cursor->data + cursor->offset, kept);
    out[kept] = '\0';
    cursor->offset += length;
}

static void decode_snapshot(const uint8_t *payload, struct decoded_snapshot *snapshot)
{
    struct cursor cursor = {payload, 8};
    snapshot->heap_bytes = take(&cursor, 8);
    cursor.offset += 8 * 5;
    snapshot->selected_thread = (uint32_t)take(&cursor, 4);
    snapshot->thread_count = (uint32_t)take(&cursor, 4);
    for (uint32_t index = 0; index < snapshot->thread_count; index++) {
        char name[32];
        cursor.offset += 8;
        take_string(&cursor, name, sizeof name);
        cursor.offset += 16;
    }
    cursor.offset += 4; /* locations known */
    snapshot->location_count = (uint32_t)take(&cursor, 4);
    for (uint32_t index = 0; index < snapshot->location_count && index < 16; index++) {
        struct decoded_location *location = &snapshot->locations[index];
        char file[64];
        take_string(&cursor, location->function, sizeof location->function);
        take_string(&cursor, file, sizeof file);
        cursor.offset += 4;
        location->own_bytes = take(&cursor, 8);
        location->total_bytes = take(&cursor, 8);
        location->own_count = take(&cursor, 8);
    }
}

static const struct decoded_location *find_location(const struct decoded_snapshot *snapshot,
                                                    const char *function)
{
    for (uint32_t index = 0; index < snapshot->location_count && index < 16; index++) {
        if (strcmp(snapshot->locations[index].function, function) == 0) {
            return &snapshot->locations[index];
        }
    }
    return NULL;
}

/* Reads snapshots until one shows heap_bytes (or 40 frames went by). */
static int wait_for_heap(int fd, uint64_t heap_bytes, struct decoded_snapshot *snapshot)
{
    for (int attempt = 0; attempt < 40; attempt++) {
        uint8_t *payload;
        size_t size;
        int type = read_frame(fd, &payload, &size);
        if (type < 0) {
            return -1;
        }
        if (type == LIVE_FRAME_SNAPSHOT) {
            decode_snapshot(payload, snapshot);
            if (snapshot->heap_bytes == heap_bytes) {
                free(payload);
                return 0;
            }
        }
        free(payload);
    }
    return -1;
}

static uint32_t stack_of(uint32_t parent, const char *function, uint32_t line)
{
    uint32_t frame = recorder_intern_frame(recorder_intern_string(function, strlen(function)),
                                           recorder_intern_string("app.py", 6), line, 0);
    return recorder_intern_stack(parent, frame);
}

static void start(void)
{
    struct recorder_options options = {
        .pid = (uint64_t)getpid(), .python_version = "3.11.7", .command = "test_live_server",
        .max_stack_depth = 16, .sample_rate = 1.0, .live_threads = 1,
    };
    char error[256];
    CHECK(recorder_start(&options, error, sizeof error) == 0);
    struct live_server_options server = {.pid = 4321, .command = "python app.py",
                                         .python_version = "3.11.7",
                                         .interval_ns = 20u * 1000u * 1000u};
    CHECK(live_server_start(&server, &port, error, sizeof error) == 0);
    CHECK(port != 0 && live_server_port() == port);
}

/* Connects once the viewer's place is free (the server notices a viewer
 * left at its next poll): the greeting came and no BUSY after it. */
static int connect_when_free(void)
{
    for (int attempt = 0; attempt < 200; attempt++) {
        int fd = connect_to("127.0.0.1");
        uint8_t greeting[LIVE_GREETING_SIZE];
        if (fd >= 0 && read_exactly(fd, greeting, sizeof greeting) == 0 &&
            memcmp(greeting, LIVE_SERVER_MAGIC, LIVE_MAGIC_SIZE) == 0) {
            struct pollfd watched = {.fd = fd, .events = POLLIN};
            if (poll(&watched, 1, 200) == 0) {
                return fd;
            }
        }
        if (fd >= 0) {
            close(fd);
        }
        usleep(20000);
    }
    CHECK(!"the viewer's place never came free");
    return -1;
}

/* A viewer: greetings, HELLO with the pid and command, HISTORY. */
static int viewer_connect(void)
{
    int fd = connect_when_free();
    send_greeting(fd, LIVE_PROTOCOL_VERSION);
    uint8_t *payload;
    size_t size;
    CHECK(read_frame(fd, &payload, &size) == LIVE_FRAME_HELLO);
    CHECK_EQ_U64(little_endian(payload, 8), 4321);
    CHECK(size == 8 + 4 + 4 + 13 + 4 + 6 && memcmp(payload + 16, "python app.py", 13) == 0);
    free(payload);
    CHECK(read_frame(fd, &payload, &size) == LIVE_FRAME_HISTORY);
    free(payload);
    return fd;
}

/* main -> outer -> leaf holds 3000 bytes in 3 blocks; outer itself 500;
 * another thread's other() holds 7000. */
static void record_workload(void)
{
    uint32_t outer = stack_of(0, "outer", 10);
    uint32_t leaf = stack_of(outer, "leaf", 20);
    for (uintptr_t index = 0; index < 3; index++) {
        recorder_record_allocation(ALLOCATOR_MALLOC, 0x10000 + index * 0x1000, 1000, leaf);
    }
    recorder_record_allocation(ALLOCATOR_MALLOC, 0x20000, 500, outer);
    CHECK(recorder_flush() == 0);
}

static void *other_thread(void *unused)
{
    (void)unused;
    recorder_record_allocation(ALLOCATOR_MALLOC, 0x30000, 7000, stack_of(0, "other", 30));
    return NULL;
}

/* The viewer connected for the tests that need one. */
static int viewer_fd = -1;

static void test_snapshot_figures(void)
{
    int fd = viewer_fd;
    record_workload();
    pthread_t thread;
    pthread_create(&thread, NULL, other_thread, NULL);
    pthread_join(thread, NULL);
    CHECK(recorder_flush() == 0);
    struct decoded_snapshot snapshot;
    CHECK(wait_for_heap(fd, 3000 + 500 + 7000, &snapshot) == 0);
    const struct decoded_location *leaf = find_location(&snapshot, "leaf");
    const struct decoded_location *outer = find_location(&snapshot, "outer");
    const struct decoded_location *other = find_location(&snapshot, "other");
    CHECK(leaf && leaf->own_bytes == 3000 && leaf->total_bytes == 3000 && leaf->own_count == 3);
    CHECK(outer && outer->own_bytes == 500 && outer->total_bytes == 3500 &&
          outer->own_count == 1);
    CHECK(other && other->own_bytes == 7000);
    CHECK_EQ_U64(snapshot.thread_count, 2);
    CHECK_EQ_U64(snapshot.selected_thread, 0);

    /* this thread is thread 1 (it recorded first): only its locations */
    uint8_t select[9] = {5, 0, 0, 0, LIVE_FRAME_SELECT, 1, 0, 0, 0};
    send_bytes(fd, select, sizeof select);
    for (int attempt = 0; attempt < 40; attempt++) {
        CHECK(wait_for_heap(fd, 10500, &snapshot) == 0);
        if (snapshot.selected_thread == 1) {
            break;
        }
    }
    CHECK_EQ_U64(snapshot.selected_thread, 1);
    CHECK(find_location(&snapshot, "leaf") && !find_location(&snapshot, "other"));
}

static void test_refusals(void)
{
    int busy = connect_to("127.0.0.1");
    CHECK(busy >= 0);
    check_server_greeting(busy);
    uint8_t *payload;
    size_t size;
    CHECK(read_frame(busy, &payload, &size) == LIVE_FRAME_BUSY);
    CHECK_EQ_U64(little_endian(payload, 8), 4321);
    free(payload);
    close(busy);
    CHECK(connect_to("127.0.0.2") < 0 && errno == ECONNREFUSED); /* 127.0.0.1 only */
}

static void test_wrong_clients(void)
{
    int fd = connect_when_free();
    send_bytes(fd, "GET / HTTP/1.0\r\n\r\n", 18);
    uint8_t *payload;
    size_t size;
    CHECK(read_frame(fd, &payload, &size) == LIVE_FRAME_ERROR);
    free(payload);
    close(fd);

    fd = connect_when_free();
    send_greeting(fd, LIVE_PROTOCOL_VERSION + 1);
    CHECK(read_frame(fd, &payload, &size) == LIVE_FRAME_ERROR);
    CHECK(size > 4 && memmem(payload + 4, size - 4, "version 2", 9) != NULL);
    free(payload);
    close(fd);
}

static void test_end_at_stop(void)
{
    int fd = viewer_fd;
    live_server_stop();
    CHECK_EQ_U64(live_server_port(), 0);
    for (int attempt = 0; attempt < 100; attempt++) {
        uint8_t *payload;
        size_t size;
        int type = read_frame(fd, &payload, &size);
        if (type >= 0) {
            free(payload);
        }
        if (type != LIVE_FRAME_SNAPSHOT) {
            CHECK_EQ_U64(type, LIVE_FRAME_END);
            break;
        }
    }
    close(fd);
    char error[256];
    CHECK(recorder_stop(error, sizeof error) == 0);
}

/* A forked child has no server thread: it must not hold the port. (Not
 * under the sanitizers, whose allocators are not fork-safe with threads
 * running: see tests/c/meson.build on test_follow_fork.) */
static void test_forked_child_serves_nothing(void)
{
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    pid_t child = fork();
    if (child == 0) {
        _exit(live_server_port() == 0 ? 0 : 1);
    }
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(live_server_port() == port); /* the parent still serves */
#endif
}

int main(void)
{
    start();
    RUN_TEST(test_forked_child_serves_nothing);
    viewer_fd = viewer_connect();
    RUN_TEST(test_snapshot_figures);
    RUN_TEST(test_refusals); /* while the first viewer is connected */
    close(viewer_fd);         /* it leaves: the next one is taken */
    viewer_fd = viewer_connect();
    close(viewer_fd);
    RUN_TEST(test_wrong_clients);
    viewer_fd = viewer_connect();
    RUN_TEST(test_end_at_stop);
    return test_harness_exit_code();
}
