/*
 * The GOT patcher: symbol interposition without LD_PRELOAD.
 *
 * An extension module loaded into a running process redirects the calls that
 * every other loaded shared object makes to chosen functions (malloc family,
 * mmap, dlopen, ...) by overwriting the relocation slots (GOT entries, PLT
 * slots and absolute data pointers) through which those calls go.
 *
 * Linux x86-64, glibc, ELF64 RELA only. Plain C; no Python.h.
 */
#ifndef MEMLYZE_GOT_PATCHER_H
#define MEMLYZE_GOT_PATCHER_H

#include <stddef.h>

/* One interposition: calls to the function named symbol go to replacement. */
struct got_hook {
    const char *symbol;
    void *replacement;
};

/* At most this many hooks at once (a scan matches names through a bit set). */
#define GOT_PATCHER_MAX_HOOKS 64

/* Patches, in every object currently loaded (dl_iterate_phdr), each relocation
 * slot (R_X86_64_JUMP_SLOT, R_X86_64_GLOB_DAT, R_X86_64_64 without addend)
 * whose symbol name is one of hooks[i].symbol so that it holds
 * hooks[i].replacement. Skips the object that contains self_address (our own
 * extension .so; NULL skips none), the dynamic linker, libc.so.* and the vDSO;
 * patches the main executable. Records each slot's original value so
 * got_patcher_uninstall can restore it. The hooks array (and its strings)
 * must stay valid until got_patcher_uninstall.
 *
 * Calling it again with the same hooks is like got_patcher_refresh; with other
 * hooks while installed it fails with EBUSY. Returns 0, or -1 with errno set
 * and a message in error (if error_size > 0); on failure every slot is
 * restored and the patcher is left uninstalled. Thread-safe. */
int got_patcher_install(const struct got_hook *hooks, size_t count, const void *self_address,
                        char *error, size_t error_size);

/* Patches objects loaded since the last install/refresh (call it after a
 * successful dlopen). Idempotent: slots already holding their replacement are
 * left alone. Does nothing when not installed. Thread-safe. */
void got_patcher_refresh(void);

/* Forgets the slots of objects no longer loaded (call it after dlclose), so
 * that uninstall never writes to unmapped memory. Thread-safe. */
void got_patcher_forget_unloaded(void);

/* Restores every recorded slot of the objects still loaded to its original
 * value (only where the slot still holds our replacement), forgets all slots
 * and leaves the patcher uninstalled. Thread-safe. */
void got_patcher_uninstall(void);

/* Returns the number of slots currently recorded as patched. Thread-safe. */
size_t got_patcher_patched_slot_count(void);

/* dlopen on behalf of the code at caller_address. glibc resolves a filename
 * without '/' using the CALLER's DT_RPATH/DT_RUNPATH (with $ORIGIN), and an
 * interposed dlopen makes our .so the caller. This returns the object already
 * loaded under that name if any; otherwise it searches, in ld.so's order, the
 * caller's DT_RPATH and the executable's DT_RPATH (when the caller has no
 * DT_RUNPATH), then LD_LIBRARY_PATH and the caller's DT_RUNPATH (when it has
 * one), expanding $ORIGIN, $LIB and $PLATFORM, and calls real_dlopen with the
 * first existing full path. In every other case it calls
 * real_dlopen(filename, flags) as given. Thread-safe; takes no patcher lock. */
void *got_patcher_dlopen_as_caller(const char *filename, int flags, const void *caller_address,
                                   void *(*real_dlopen)(const char *, int));

#endif
