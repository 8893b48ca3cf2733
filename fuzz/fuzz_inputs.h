/*
 * What the libFuzzer targets share: turning an input into capture bytes.
 *
 * Most inputs are whole files. An input starting with "R" is records
 * instead: fuzz_input_capture wraps them in a valid capture (split into
 * events chunks at each "MLYC", compressed, checksummed, then footer and
 * trailer unless the second byte is odd), so that mutations reach the
 * record decoder, the analysis and the reports past the checksums.
 */
#ifndef MEMLYZE_FUZZ_INPUTS_H
#define MEMLYZE_FUZZ_INPUTS_H

#include <stddef.h>
#include <stdint.h>

#include "tests/c/capture_builder.h"

/* Returns 1 when data is records, with builder holding their capture (to
 * release with builder_release()); 0 when data is a file as it is. */
int fuzz_input_capture(const uint8_t *data, size_t size, struct capture_builder *builder);

/* Aborts, naming the target, when the tracker heap is not back at before. */
void fuzz_check_tracker_memory(uint64_t before, const char *when);

#endif
