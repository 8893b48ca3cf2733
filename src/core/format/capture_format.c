#include "core/format/capture_format.h"

#include <math.h>

#include "core/format/capture_reader.h"

static const char *const allocator_names[ALLOCATOR_COUNT] = {
#define CAPTURE_ALLOCATOR_NAME(name, text) [ALLOCATOR_##name] = text,
    CAPTURE_ALLOCATORS(CAPTURE_ALLOCATOR_NAME)
#undef CAPTURE_ALLOCATOR_NAME
};

const char *capture_allocator_name(int allocator)
{
    if (allocator < 0 || allocator >= ALLOCATOR_COUNT) {
        return "unknown";
    }
    return allocator_names[allocator];
}

double capture_sampling_keep_probability(uint32_t mode, uint64_t mean, uint64_t size)
{
    if (mode == CAPTURE_SAMPLING_BY_BYTES && mean > 0) {
        return size ? -expm1(-(double)size / (double)mean) : 1.0;
    }
    if (mode == CAPTURE_SAMPLING_BY_ALLOCATIONS && mean > 1) {
        return 1.0 / (double)mean;
    }
    return 1.0;
}
