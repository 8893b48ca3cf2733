/*
 * One viewer's connection to the live server (live_server_internal.h): its
 * greeting, its frames (SELECT, PING) and what is sent to it. Sends use a
 * send timeout on a blocking socket, so a stalled viewer costs the server
 * thread at most that long before it is dropped; MSG_NOSIGNAL keeps a
 * vanished viewer from raising SIGPIPE in the program.
 */
#include "core/live/live_server_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/live/live_encoding.h"

#define SEND_TIMEOUT_SECONDS 2

static int send_all(int fd, const uint8_t *data, size_t size)
{
    while (size) {
        ssize_t sent = send(fd, data, size, MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR) {
            continue;
        }
        if (sent <= 0) {
            return -1;
        }
        data += sent;
        size -= (size_t)sent;
    }
    return 0;
}

/* Sends the output buffer to fd and empties it; -1 when the send failed. */
static int flush_output(int fd)
{
    int result = send_all(fd, live_server.output.data, live_server.output.size);
    byte_buffer_clear(&live_server.output);
    return result;
}

static int put_greeting(struct byte_buffer *out)
{
    return byte_buffer_append(out, LIVE_SERVER_MAGIC, LIVE_MAGIC_SIZE) ||
           live_put_u16(out, LIVE_PROTOCOL_VERSION);
}

void live_viewer_close(void)
{
    if (live_server.viewer.fd >= 0) {
        close(live_server.viewer.fd);
    }
    memset(&live_server.viewer, 0, sizeof live_server.viewer);
    live_server.viewer.fd = -1;
}

/* The other connection's answer: greeting and BUSY with the pid. */
static void refuse_busy(int fd)
{
    int failed = put_greeting(&live_server.output);
    size_t start = live_frame_begin(&live_server.output, LIVE_FRAME_BUSY, &failed);
    failed = failed || live_put_u64(&live_server.output, live_server.pid);
    live_frame_end(&live_server.output, start);
    if (!failed) {
        flush_output(fd);
    }
    byte_buffer_clear(&live_server.output);
    close(fd);
}

void live_viewer_accept(int fd)
{
    struct timeval timeout = {.tv_sec = SEND_TIMEOUT_SECONDS};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (live_server.viewer.state != VIEWER_NONE) {
        refuse_busy(fd);
        return;
    }
    live_server.viewer.fd = fd;
    live_server.viewer.state = VIEWER_GREETING;
    live_server.viewer.connected_ns = live_server.viewer.last_heard_ns = live_server_now_ns();
    if (put_greeting(&live_server.output) < 0 || flush_output(fd) < 0) {
        live_viewer_close();
    }
}

/* Sends an ERROR frame with message and closes. */
static void refuse_with(const char *message)
{
    int failed = 0;
    size_t start = live_frame_begin(&live_server.output, LIVE_FRAME_ERROR, &failed);
    failed = failed || live_put_string(&live_server.output, message, strlen(message));
    live_frame_end(&live_server.output, start);
    if (!failed) {
        flush_output(live_server.viewer.fd);
    }
    byte_buffer_clear(&live_server.output);
    live_viewer_close();
}

static int put_hello_and_history(struct byte_buffer *out)
{
    int failed = 0;
    size_t start = live_frame_begin(out, LIVE_FRAME_HELLO, &failed);
    failed = failed || live_put_u64(out, live_server.pid) ||
             live_put_u32(out, (uint32_t)(live_server.interval_ns / 1000000u)) ||
             live_put_string(out, live_server.command, strlen(live_server.command)) ||
             live_put_string(out, live_server.python_version,
                             strlen(live_server.python_version));
    live_frame_end(out, start);
    const struct live_history *history = &live_server.history;
    start = live_frame_begin(out, LIVE_FRAME_HISTORY, &failed);
    failed = failed || live_put_u32(out, (uint32_t)history->count);
    for (size_t index = 0; index < history->count && !failed; index++) {
        failed = live_put_u64(out, history->points[index].elapsed_ns) ||
                 live_put_u64(out, history->points[index].heap_bytes) ||
                 live_put_u64(out, history->points[index].rss_bytes);
    }
    live_frame_end(out, start);
    return failed ? -1 : 0;
}

/* The viewer's greeting is complete in input: check it, then welcome. */
static void take_greeting(void)
{
    struct live_viewer *viewer = &live_server.viewer;
    unsigned version = viewer->input[8] | (unsigned)viewer->input[9] << 8;
    if (memcmp(viewer->input, LIVE_VIEWER_MAGIC, LIVE_MAGIC_SIZE) != 0) {
        refuse_with("this port serves a memlyze live view: connect with `memlyze live PORT`");
        return;
    }
    if (version != LIVE_PROTOCOL_VERSION) {
        char message[160];
        snprintf(message, sizeof message,
                 "the viewer speaks live protocol version %u, this program's memlyze speaks "
                 "version %u: use the same memlyze version for both",
                 version, LIVE_PROTOCOL_VERSION);
        refuse_with(message);
        return;
    }
    memmove(viewer->input, viewer->input + LIVE_GREETING_SIZE,
            viewer->input_size - LIVE_GREETING_SIZE);
    viewer->input_size -= LIVE_GREETING_SIZE;
    viewer->state = VIEWER_VIEWING;
    if (put_hello_and_history(&live_server.output) < 0 || flush_output(viewer->fd) < 0) {
        live_viewer_close();
        return;
    }
    live_viewer_send_snapshot();
}

/* Acts on the whole frames in input; returns -1 for a frame no viewer sends. */
static int take_frames(void)
{
    struct live_viewer *viewer = &live_server.viewer;
    while (viewer->state == VIEWER_VIEWING && viewer->input_size >= 5) {
        const uint8_t *data = viewer->input;
        uint32_t length = data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
                          (uint32_t)data[3] << 24;
        if (length == 0 || length > LIVE_MAX_VIEWER_FRAME) {
            return -1;
        }
        if (viewer->input_size < 4 + (size_t)length) {
            return 0;
        }
        uint8_t type = data[4];
        if (type == LIVE_FRAME_SELECT && length == 5) {
            viewer->selected_thread = data[5] | (uint32_t)data[6] << 8 |
                                      (uint32_t)data[7] << 16 | (uint32_t)data[8] << 24;
        } else if (type != LIVE_FRAME_PING) {
            return -1;
        }
        memmove(viewer->input, viewer->input + 4 + length, viewer->input_size - 4 - length);
        viewer->input_size -= 4 + length;
        if (type == LIVE_FRAME_SELECT) {
            live_viewer_send_snapshot();
        }
    }
    return 0;
}

void live_viewer_read(void)
{
    struct live_viewer *viewer = &live_server.viewer;
    ssize_t received = recv(viewer->fd, viewer->input + viewer->input_size,
                            sizeof viewer->input - viewer->input_size, MSG_DONTWAIT);
    if (received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return;
    }
    if (received <= 0) {
        live_viewer_close(); /* gone: the place is free for the next viewer */
        return;
    }
    viewer->input_size += (size_t)received;
    viewer->last_heard_ns = live_server_now_ns();
    if (viewer->state == VIEWER_GREETING) {
        if (viewer->input_size < LIVE_GREETING_SIZE) {
            return;
        }
        take_greeting();
    }
    if (viewer->state == VIEWER_VIEWING && take_frames() < 0) {
        refuse_with("unexpected frame from the viewer");
    }
}

void live_viewer_send_snapshot(void)
{
    struct live_viewer *viewer = &live_server.viewer;
    if (viewer->state != VIEWER_VIEWING) {
        return;
    }
    struct live_snapshot_figures figures = {
        .elapsed_ns = live_server_now_ns() - live_server.start_ns,
        .rss_bytes = live_server.rss_bytes,
        .peak_rss_bytes = rss_peak_bytes(),
        .selected_thread = viewer->selected_thread,
    };
    if (live_snapshot_encode(&live_server.builder, &figures, &live_server.output) < 0) {
        byte_buffer_clear(&live_server.output); /* out of memory: skip this one */
        return;
    }
    if (flush_output(viewer->fd) < 0) {
        live_viewer_close();
    }
}

void live_viewer_check_silence(uint64_t now)
{
    const struct live_viewer *viewer = &live_server.viewer;
    if ((viewer->state == VIEWER_GREETING &&
         now - viewer->connected_ns > LIVE_GREETING_TIMEOUT_NS) ||
        (viewer->state == VIEWER_VIEWING && now - viewer->last_heard_ns > LIVE_VIEWER_SILENCE_NS)) {
        live_viewer_close();
    }
}

void live_viewer_end(void)
{
    if (live_server.viewer.state == VIEWER_VIEWING) {
        int failed = 0;
        size_t start = live_frame_begin(&live_server.output, LIVE_FRAME_END, &failed);
        live_frame_end(&live_server.output, start);
        if (!failed) {
            flush_output(live_server.viewer.fd);
        }
        byte_buffer_clear(&live_server.output);
    }
    live_viewer_close();
}
