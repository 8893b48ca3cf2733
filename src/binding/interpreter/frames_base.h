/*
 * The base of every walk (interpreter_frames_set_base), kept here for all the
 * frame layout files: each stores its own layout's current frame into it,
 * and their walks stop on reaching it.
 */
#ifndef MEMLYZE_FRAMES_BASE_H
#define MEMLYZE_FRAMES_BASE_H

/* The marked frame, or NULL; written with the GIL, read by walks on any thread. */
extern const void *frames_base;

static inline const void *frames_base_load(void)
{
    return __atomic_load_n(&frames_base, __ATOMIC_ACQUIRE);
}

static inline void frames_base_store(const void *frame)
{
    __atomic_store_n(&frames_base, frame, __ATOMIC_RELEASE);
}

#endif
