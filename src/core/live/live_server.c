/*
 * The live server's socket, thread and rounds (live_server.h). Each round,
 * every interval: a history point (heap, RSS) whether or not a viewer is
 * connected, and a snapshot for the viewer when one is.
 */
#include "core/live/live_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/base/signal_free_thread.h"
#include "core/base/tracker_memory.h"
#include "core/live/live_server_internal.h"
#include "core/recording/live_table.h"
#include "core/recording/recorder.h"

#define DEFAULT_INTERVAL_NS (500u * 1000u * 1000u)
#define LISTEN_BACKLOG 4

struct live_server_state live_server = {
    .listen_fd = -1, .wake_fds = {-1, -1}, .viewer = {.fd = -1}};

/* Guards start and stop (the fork handler runs in the child's one thread). */
static pthread_mutex_t control_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fork_handler_once = PTHREAD_ONCE_INIT;

uint64_t live_server_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static char *copy_text(const char *text)
{
    text = text ? text : "";
    size_t size = strlen(text) + 1;
    char *copy = tracker_malloc(size);
    if (copy) {
        memcpy(copy, text, size);
    }
    return copy;
}

static void free_text(char **text)
{
    if (*text) {
        tracker_free(*text, strlen(*text) + 1);
        *text = NULL;
    }
}

static void close_descriptor(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* Frees what the server holds and closes its descriptors (no thread runs). */
static void release_state(void)
{
    live_viewer_close();
    close_descriptor(&live_server.listen_fd);
    close_descriptor(&live_server.wake_fds[0]);
    close_descriptor(&live_server.wake_fds[1]);
    free_text(&live_server.command);
    free_text(&live_server.python_version);
    live_snapshot_builder_release(&live_server.builder);
    byte_buffer_release(&live_server.output);
    rss_reader_close(&live_server.rss);
    live_server.running = 0;
    live_server.port = 0;
}

/* A forked child has no server thread: it must not keep the parent's port
 * open (a viewer would wait on a queue nobody accepts from). */
static void after_fork_in_child(void)
{
    pthread_mutex_init(&control_mutex, NULL);
    if (live_server.running) {
        release_state();
    }
}

static void register_fork_handler(void)
{
    pthread_atfork(NULL, NULL, after_fork_in_child);
}

/* Binds and listens on 127.0.0.1:port; the socket, or -1 with error set. */
static int listen_on_loopback(uint16_t port, uint16_t *bound_port, char *error,
                              size_t error_size)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(error, error_size, "cannot open a socket for the live view: %s",
                 strerror(errno));
        return -1;
    }
    int reuse = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* never another address */
    socklen_t length = sizeof address;
    if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0 ||
        listen(fd, LISTEN_BACKLOG) < 0 ||
        getsockname(fd, (struct sockaddr *)&address, &length) < 0) {
        int saved = errno;
        snprintf(error, error_size, "cannot serve the live view on 127.0.0.1:%u: %s",
                 (unsigned)port, strerror(saved));
        close(fd);
        errno = saved;
        return -1;
    }
    *bound_port = ntohs(address.sin_port);
    return fd;
}

/* One round: a history point, and a snapshot for the viewer. */
static void serve_round(void)
{
    struct live_table_totals totals;
    live_table_get_totals(&totals);
    uint64_t now = live_server_now_ns();
    live_server.rss_bytes = rss_reader_current(&live_server.rss);
    struct live_history_point point = {now - live_server.start_ns, totals.current_bytes,
                                       live_server.rss_bytes};
    live_history_add(&live_server.history, &point);
    live_viewer_send_snapshot();
}

/* Takes the pending connection on the listening socket. */
static void accept_connection(void)
{
    int fd = accept4(live_server.listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
        live_viewer_accept(fd);
    }
}

/* A descriptor the program closed (POLLNVAL) is no longer ours: its number
 * may come back as one of the program's files, which must be left alone.
 * Without the listening socket no new viewer can come; the rest goes on. */
static void forget_closed_descriptors(const struct pollfd *watched)
{
    if (watched[0].revents & POLLNVAL) {
        live_server.listen_fd = -1;
    }
    if (watched[1].revents & POLLNVAL) {
        live_server.wake_fds[0] = -1;
    }
    if (live_server.viewer.fd >= 0 && (watched[2].revents & POLLNVAL)) {
        live_server.viewer.fd = -1;
        live_viewer_close();
    }
}

static int milliseconds_until(uint64_t deadline, uint64_t now)
{
    return deadline > now ? (int)((deadline - now) / 1000000u) + 1 : 0;
}

static void *server_thread_main(void *unused)
{
    (void)unused;
    recorder_thread_busy = 1; /* what this thread allocates is not the program's */
    uint64_t next_round = live_server_now_ns();
    while (!__atomic_load_n(&live_server.stop_wanted, __ATOMIC_ACQUIRE)) {
        uint64_t now = live_server_now_ns();
        if (now >= next_round) {
            serve_round();
            next_round = now + live_server.interval_ns;
        }
        live_viewer_check_silence(now);
        struct pollfd watched[3] = {{.fd = live_server.listen_fd, .events = POLLIN},
                                    {.fd = live_server.wake_fds[0], .events = POLLIN},
                                    {.fd = live_server.viewer.fd, .events = POLLIN}};
        int ready = poll(watched, live_server.viewer.fd >= 0 ? 3 : 2,
                         milliseconds_until(next_round, live_server_now_ns()));
        if (ready <= 0) {
            continue;
        }
        forget_closed_descriptors(watched);
        if (watched[2].revents && live_server.viewer.fd >= 0) {
            live_viewer_read();
        }
        if (watched[0].revents & POLLIN) {
            accept_connection();
        }
    }
    live_viewer_end();
    return NULL;
}

static int start_thread(void)
{
    return signal_free_thread_start(&live_server.thread, server_thread_main, NULL);
}

static int start_unlocked(const struct live_server_options *options, uint16_t *bound_port,
                          char *error, size_t error_size)
{
    if (live_server.running) {
        snprintf(error, error_size, "a live view is already served by this process");
        return -1;
    }
    live_server.listen_fd = listen_on_loopback(options->port, &live_server.port, error,
                                               error_size);
    if (live_server.listen_fd < 0) {
        return -1;
    }
    live_server.command = copy_text(options->command);
    live_server.python_version = copy_text(options->python_version);
    if (!live_server.command || !live_server.python_version ||
        pipe2(live_server.wake_fds, O_CLOEXEC | O_NONBLOCK) < 0) {
        snprintf(error, error_size, "cannot start the live view: %s", strerror(errno));
        release_state();
        return -1;
    }
    live_server.pid = options->pid;
    live_server.interval_ns = options->interval_ns ? options->interval_ns : DEFAULT_INTERVAL_NS;
    live_server.start_ns = live_server_now_ns();
    live_history_reset(&live_server.history, live_server.interval_ns);
    live_snapshot_builder_init(&live_server.builder);
    rss_reader_open(&live_server.rss);
    live_server.stop_wanted = 0;
    if (start_thread() != 0) {
        snprintf(error, error_size, "cannot start the live view's thread");
        release_state();
        return -1;
    }
    live_server.running = 1;
    *bound_port = live_server.port;
    return 0;
}

int live_server_start(const struct live_server_options *options, uint16_t *bound_port,
                      char *error, size_t error_size)
{
    pthread_once(&fork_handler_once, register_fork_handler);
    pthread_mutex_lock(&control_mutex);
    int result = start_unlocked(options, bound_port, error, error_size);
    pthread_mutex_unlock(&control_mutex);
    return result;
}

void live_server_stop(void)
{
    pthread_mutex_lock(&control_mutex);
    if (live_server.running) {
        __atomic_store_n(&live_server.stop_wanted, 1, __ATOMIC_RELEASE);
        char byte = 1;
        ssize_t ignored = write(live_server.wake_fds[1], &byte, 1);
        (void)ignored; /* a full pipe already wakes the thread */
        pthread_join(live_server.thread, NULL);
        release_state();
    }
    pthread_mutex_unlock(&control_mutex);
}

uint16_t live_server_port(void)
{
    pthread_mutex_lock(&control_mutex);
    uint16_t port = live_server.running ? live_server.port : 0;
    pthread_mutex_unlock(&control_mutex);
    return port;
}
