/*
 * The pprof profile encoder (profile.proto of github.com/google/pprof),
 * shared by `memlyze export --format pprof` (reports/export_pprof.c, from a
 * capture's tables) and the rolling profiles of --pprof-dir
 * (recording/rolling_pprof.c, from the recorder's intern tables). It knows
 * nothing of either: a pprof_source hands it strings, frames and stacks by id.
 *
 * Layout of every profile: four sample types, alloc_objects (count),
 * alloc_space (bytes), inuse_objects (count), inuse_space (bytes, the
 * default); one location per frame (location id = frame id) with one line,
 * plus location frame_count + 1 for "(no Python frame)" (stack id 0);
 * functions are (name, file) pairs. The string table is the source's
 * strings (ids 0 .. string_count - 1, id 0 the empty string) followed by the
 * encoder's own. pprof strips "<...>" from names (C++ template arguments),
 * so a name like <module> is shown as (module); its system_name keeps the
 * original.
 *
 * Use: pprof_encoder_begin, pprof_encoder_add_sample for each sample,
 * pprof_encoder_write (gzipped, as Go writes profiles), then
 * pprof_encoder_release (always, also after a failure).
 */
#ifndef MEMLYZE_PPROF_ENCODER_H
#define MEMLYZE_PPROF_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/byte_buffer.h"
#include "core/base/hash_map.h"

/* Where the definitions come from. Each lookup returns 0 and fills its
 * outputs when id is defined, else -1. */
struct pprof_source {
    void *context;
    uint32_t string_count; /* ids 0 .. string_count - 1 */
    uint32_t frame_count;  /* ids 1 .. frame_count */
    /* The bytes of string id, valid until the next call; NULL when undefined. */
    const char *(*string)(void *context, uint32_t id, size_t *size);
    int (*frame)(void *context, uint32_t frame_id, uint32_t *function_sid, uint32_t *file_sid,
                 uint32_t *line);
    int (*stack)(void *context, uint32_t stack_id, uint32_t *parent_stack_id,
                 uint32_t *frame_id);
};

/* A string label every sample carries (pprof's Label with str set). */
struct pprof_label {
    const char *key;
    const char *value;
};

/* The profile's fields besides its samples. period_type and period_unit
 * NULL mean "space"/"bytes"; period 0 means 1. time_nanos 0 leaves it out. */
struct pprof_header {
    const char *period_type;
    const char *period_unit;
    uint64_t period;
    uint64_t time_nanos;     /* wall clock, nanoseconds since the epoch */
    uint64_t duration_nanos;
    const struct pprof_label *labels;
    size_t label_count;
    const char *const *comments;
    size_t comment_count;
};

/* The values of a sample, in the order of the sample types. */
enum pprof_value {
    PPROF_ALLOC_OBJECTS,
    PPROF_ALLOC_SPACE,
    PPROF_INUSE_OBJECTS,
    PPROF_INUSE_SPACE,
    PPROF_VALUE_COUNT
};

struct pprof_encoder {
    const struct pprof_source *source;
    struct byte_buffer profile;
    struct byte_buffer message;   /* the submessage being built */
    struct byte_buffer packed;    /* a packed repeated field being built */
    struct byte_buffer labels;    /* the encoded Label messages of every sample */
    struct byte_buffer extras;    /* the encoder's strings, each length-prefixed */
    uint64_t extra_count;
    struct hash_map functions;    /* function sid << 32 | file sid -> function id */
    struct hash_map renamed;      /* source sid -> string index of its display name */
    uint64_t no_frame_name;       /* string index of "(no Python frame)" */
};

/* Starts a profile: writes the sample types, period and times, encodes the
 * labels and comments. Returns 0 or -1 (out of memory). */
int pprof_encoder_begin(struct pprof_encoder *encoder, const struct pprof_source *source,
                        const struct pprof_header *header);

/* Adds one sample: the stack's frames innermost first (stack id 0: no Python
 * frame) and its values. Returns 0 or -1 (out of memory). */
int pprof_encoder_add_sample(struct pprof_encoder *encoder, uint32_t stack_id,
                             const uint64_t values[PPROF_VALUE_COUNT]);

/* Adds the locations, functions and strings, then writes the whole profile
 * gzipped to descriptor (which stays open). Returns 0 or an errno value. */
int pprof_encoder_write(struct pprof_encoder *encoder, int descriptor);

/* Frees the encoder's memory. */
void pprof_encoder_release(struct pprof_encoder *encoder);

#endif
