/* Installing the allocation hooks (see allocation_hooks.c). */
#ifndef MEMLYZE_ALLOCATION_HOOKS_H
#define MEMLYZE_ALLOCATION_HOOKS_H

#include <stddef.h>

/*
 * Patches every loaded object (and those loaded later) so that the malloc
 * family, anonymous mmap/mremap/munmap and dlopen/dlclose reach our hooks;
 * with python_allocators, also wraps the PYMEM_DOMAIN_MEM and OBJ allocators
 * (needs the GIL). Returns 0, or -1 with a one-line reason in error.
 */
int allocation_hooks_install(int python_allocators, char *error, size_t error_size);

/* Restores everything install changed (needs the GIL). */
void allocation_hooks_uninstall(void);

#endif
