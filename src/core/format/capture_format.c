#include "core/format/capture_format.h"

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
