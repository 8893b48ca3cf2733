/*
 * The live view's wire protocol (docs/live.md), spoken over one TCP
 * connection on 127.0.0.1 between the recorded process (server) and
 * `memlyze live PORT` (viewer). Integers are little-endian and fixed-width;
 * a string is a u32 length and that many bytes (UTF-8, no NUL).
 *
 * On connect the server sends its greeting, the viewer its own:
 *
 *     server: "MLYZLIVE" u16 version      viewer: "MLYZVIEW" u16 version
 *
 * then both send frames:  u32 length (of what follows) | u8 type | payload
 *
 * Server frames:
 *   HELLO     u64 pid, u32 interval_ms, str command, str python_version
 *   HISTORY   u32 n, n x (u64 elapsed_ns, u64 heap_bytes, u64 rss_bytes)
 *   SNAPSHOT  u64 elapsed_ns, u64 heap_bytes, u64 heap_count, u64 peak_bytes,
 *             u64 rss_bytes, u64 peak_rss_bytes, u64 allocation_count,
 *             u32 selected_thread (0: all),
 *             u32 n, n x thread (u32 id, i32 native_tid, str name,
 *                                 u64 live_bytes, u64 live_count),
 *             u32 locations_known, u32 n, n x location (str function,
 *             str file, u32 line, u64 own_bytes, u64 total_bytes, u64 own_count)
 *   BUSY      u64 pid: another viewer is connected; the server closes
 *   ERROR     str message: the viewer is not one this server serves; closes
 *   END       the recording stopped (the program is ending); closes
 * Viewer frames:
 *   SELECT    u32 thread id (0: every thread): later snapshots show its locations
 *   PING      (empty) at least every LIVE_VIEWER_SILENCE_NS / 4
 *
 * Own bytes of a location are what its frame allocated itself (the
 * innermost frame of the stacks); total bytes include its callees (each
 * stack counted once per location, however often it recurses). A snapshot
 * holds the LIVE_TOP_LOCATIONS largest locations by each of the three
 * figures (their union), so the viewer can sort by any of them.
 */
#ifndef MEMLYZE_LIVE_PROTOCOL_H
#define MEMLYZE_LIVE_PROTOCOL_H

#include <stdint.h>

#define LIVE_SERVER_MAGIC "MLYZLIVE"
#define LIVE_VIEWER_MAGIC "MLYZVIEW"
#define LIVE_MAGIC_SIZE 8
#define LIVE_GREETING_SIZE 10 /* magic and u16 version */
#define LIVE_PROTOCOL_VERSION 1

enum live_frame_type {
    LIVE_FRAME_HELLO = 1,
    LIVE_FRAME_HISTORY = 2,
    LIVE_FRAME_SNAPSHOT = 3,
    LIVE_FRAME_BUSY = 4,
    LIVE_FRAME_ERROR = 5,
    LIVE_FRAME_END = 6,
    LIVE_FRAME_SELECT = 16,
    LIVE_FRAME_PING = 17,
};

/* Locations per figure in a snapshot (up to three times this in all). */
#define LIVE_TOP_LOCATIONS 200
/* Longest function or file name sent (longer ones are cut). */
#define LIVE_MAX_NAME 512
/* A viewer that sent nothing for this long is dropped (it may be stopped). */
#define LIVE_VIEWER_SILENCE_NS (10ull * 1000u * 1000u * 1000u)
/* A connection that has not greeted in this long is dropped. */
#define LIVE_GREETING_TIMEOUT_NS (5ull * 1000u * 1000u * 1000u)
/* Largest viewer frame the server accepts. */
#define LIVE_MAX_VIEWER_FRAME 64u

#endif
