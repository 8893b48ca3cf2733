/*
 * A tiny shared library for the GOT patcher tests. It calls malloc and free
 * through each kind of slot the patcher rewrites: the PLT/GOT entries of its
 * calls (R_X86_64_JUMP_SLOT, or R_X86_64_GLOB_DAT with -fno-plt) and a data
 * pointer holding malloc's address (R_X86_64_64). meson builds it several
 * times with different link options; it is never installed.
 */
#include <stddef.h>
#include <stdlib.h>

void *patch_target_allocate(size_t size);
void patch_target_release(void *pointer);
void *patch_target_allocate_through_table(size_t size);

/* malloc's address in read-only-after-relocation data (.data.rel.ro, inside
 * PT_GNU_RELRO): an R_X86_64_64 relocation. */
void *(*const patch_target_allocator)(size_t) = malloc;

/* Allocates size bytes with a direct call to malloc. */
void *patch_target_allocate(size_t size)
{
    return malloc(size);
}

/* Frees pointer with a direct call to free. */
void patch_target_release(void *pointer)
{
    free(pointer);
}

/* Allocates size bytes through the patch_target_allocator pointer, read
 * through a volatile lvalue so that the compiler cannot fold it into a direct
 * call to malloc. */
void *patch_target_allocate_through_table(size_t size)
{
    void *(*allocator)(size_t) = *(void *(*const volatile *)(size_t))&patch_target_allocator;
    return allocator(size);
}
