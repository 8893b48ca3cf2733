#include "core/format/crc32.h"

/* Slicing by one byte with a table built on first use: chunks are large and
 * rare, so a simple table is fast enough. */
static uint32_t crc32_table[256];
static int crc32_table_ready;

static void crc32_build_table(void)
{
    for (uint32_t index = 0; index < 256; index++) {
        uint32_t value = index;
        for (int bit = 0; bit < 8; bit++) {
            value = (value & 1) ? (value >> 1) ^ 0xEDB88320u : value >> 1;
        }
        crc32_table[index] = value;
    }
    __atomic_store_n(&crc32_table_ready, 1, __ATOMIC_RELEASE);
}

uint32_t crc32_compute(const void *data, size_t size)
{
    if (!__atomic_load_n(&crc32_table_ready, __ATOMIC_ACQUIRE)) {
        crc32_build_table();
    }
    const uint8_t *bytes = data;
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t index = 0; index < size; index++) {
        crc = crc32_table[(crc ^ bytes[index]) & 0xFF] ^ (crc >> 8);
    }
    return crc ^ 0xFFFFFFFFu;
}
