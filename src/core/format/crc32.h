/* CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) of capture chunks. */
#ifndef MEMLYZE_CRC32_H
#define MEMLYZE_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Returns the CRC-32 of size bytes at data; crc32(NULL, 0) is 0. */
uint32_t crc32_compute(const void *data, size_t size);

#endif
