/* Test-only library: anonymous mappings made and cut by a library the
 * profiler patches on dlopen (ctypes' own calls go through dlsym, which
 * the hooks do not see). */
#include <stddef.h>
#include <sys/mman.h>

void *map_bytes(size_t size)
{
    void *address = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return address == MAP_FAILED ? NULL : address;
}

int unmap_bytes(void *address, size_t size)
{
    return munmap(address, size);
}
