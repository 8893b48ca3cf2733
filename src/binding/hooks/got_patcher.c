/*
 * The GOT patcher: rewrites, in every loaded ELF object, the relocation slots
 * through which it calls the hooked functions. See got_patcher.h. This file
 * holds the public API, what is installed, and the passes (scans) over the
 * loaded objects; the work on one object is in got_patcher_relocations.c, page
 * protections in got_patcher_protection.c, the records of what was patched in
 * got_patcher_records.c (got_patcher_internal.h ties them together). Views of
 * loaded objects are in elf_dynamic.c; got_patcher_dlopen_as_caller (ld.so's
 * search path rules) is in library_search.c.
 *
 * Concurrency. Our mutex serialises install/refresh/forget/uninstall. Every
 * slot is read and written from inside a dl_iterate_phdr callback, which holds
 * ld.so's dl_load_write_lock: no object can be unlinked (and so unmapped) by
 * dlclose while we touch it. An object being dlopen'ed by another thread is
 * already on that list before ld.so has relocated it; such an object still
 * has its RELRO pages writable, so we leave it alone until a later refresh
 * (see got_patcher_object_is_settled). Slots are written with one aligned
 * 8-byte store.
 */
#include "binding/hooks/got_patcher.h"

#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "binding/hooks/elf_dynamic.h"
#include "binding/hooks/got_patcher_internal.h"

static pthread_mutex_t patcher_mutex = PTHREAD_MUTEX_INITIALIZER;
static bool patcher_installed;
static const struct got_hook *patcher_hooks;
static size_t patcher_hook_count;
static const void *patcher_self_address;

/* ------------------------------------------------------------------------ */
/* Scans                                                                    */
/* ------------------------------------------------------------------------ */

/* See got_patcher_internal.h. */
void got_patcher_note_error(struct scan_context *context, int error_number, const char *what)
{
    context->failures++;
    if (context->error_number == 0) {
        context->error_number = error_number != 0 ? error_number : EIO;
        context->error_what = what;
    }
}

/* dl_iterate_phdr callback: applies the scan's action to one object. */
static int visit_loaded_object(struct dl_phdr_info *info, size_t info_size, void *data)
{
    struct scan_context *context = data;
    struct object_view view;
    elf_dynamic_describe_object(info, &view);
    if (context->action == SCAN_PATCH && !context->unloads_checked) {
        got_patcher_distrust_marks_after_unload(info, info_size);
        context->unloads_checked = true;
    }
    if (context->action == SCAN_PATCH)
        got_patcher_patch_object(context, &view);
    else if (context->action == SCAN_RESTORE)
        got_patcher_restore_object(context, &view);
    else
        got_patcher_mark_object_loaded(&view);
    return 0;
}

/* Runs one pass of action over every loaded object; returns the first error
 * number (0 if none) and its text in *error_what. Caller holds the mutex. */
static int run_scan(enum scan_action action, const char **error_what)
{
    struct scan_context context = {
        .action = action,
        .hooks = patcher_hooks,
        .hook_count = patcher_hook_count,
        .self_address = patcher_self_address,
    };
    for (size_t index = 0; index < patcher_hook_count; index++)
        context.hooks_by_first_byte[(unsigned char)patcher_hooks[index].symbol[0]] |=
            UINT64_C(1) << index;
    dl_iterate_phdr(visit_loaded_object, &context);
    got_patcher_release_snapshot(&context);
    if (error_what != NULL)
        *error_what = context.error_what;
    return context.error_number;
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */
/* ------------------------------------------------------------------------ */

/* Writes "got_patcher: what: reason" into error, sets errno, returns -1. */
static int report_error(char *error, size_t error_size, int error_number, const char *what)
{
    char reason[128];
    if (error != NULL && error_size > 0)
        snprintf(error, error_size, "got_patcher: %s: %s", what,
                 strerror_r(error_number, reason, sizeof reason));
    errno = error_number;
    return -1;
}

/* Returns whether there are 1 to GOT_PATCHER_MAX_HOOKS hooks, each with a
 * non-empty symbol and a replacement. */
static bool hooks_are_valid(const struct got_hook *hooks, size_t count)
{
    if (hooks == NULL || count == 0 || count > GOT_PATCHER_MAX_HOOKS)
        return false;
    for (size_t index = 0; index < count; index++)
        if (hooks[index].symbol == NULL || hooks[index].symbol[0] == '\0'
            || hooks[index].replacement == NULL)
            return false;
    return true;
}

/* Returns whether hooks equal the installed ones (same array, or same
 * symbols and replacements in the same order). Caller holds the mutex. */
static bool same_as_installed_hooks(const struct got_hook *hooks, size_t count)
{
    if (count != patcher_hook_count)
        return false;
    for (size_t index = 0; index < count && hooks != patcher_hooks; index++)
        if (strcmp(hooks[index].symbol, patcher_hooks[index].symbol) != 0
            || hooks[index].replacement != patcher_hooks[index].replacement)
            return false;
    return true;
}

/* Restores all recorded slots still loaded, forgets every record and marks
 * the patcher uninstalled. Caller holds the mutex. */
static void uninstall_locked(void)
{
    if (got_patcher_recorded_slot_count() > 0)
        (void)run_scan(SCAN_RESTORE, NULL);
    got_patcher_forget_all_records();
    patcher_installed = false;
    patcher_hooks = NULL;
    patcher_hook_count = 0;
    patcher_self_address = NULL;
}

/* Body of got_patcher_install. Caller holds the mutex. */
static int install_locked(const struct got_hook *hooks, size_t count, const void *self_address,
                          char *error, size_t error_size)
{
    const char *what = NULL;
    int error_number;
    if (patcher_installed && !same_as_installed_hooks(hooks, count))
        return report_error(error, error_size, EBUSY, "already installed with other hooks");
    patcher_installed = true;
    patcher_hooks = hooks;
    patcher_hook_count = count;
    patcher_self_address = self_address;
    error_number = run_scan(SCAN_PATCH, &what);
    if (error_number == 0)
        return 0;
    uninstall_locked();
    return report_error(error, error_size, error_number, what);
}

/* See got_patcher.h. */
int got_patcher_install(const struct got_hook *hooks, size_t count, const void *self_address,
                        char *error, size_t error_size)
{
    int result;
    if (!hooks_are_valid(hooks, count))
        return report_error(error, error_size, EINVAL, "invalid hook list");
    pthread_mutex_lock(&patcher_mutex);
    result = install_locked(hooks, count, self_address, error, error_size);
    pthread_mutex_unlock(&patcher_mutex);
    return result;
}

/* See got_patcher.h. Per-slot failures are skipped; a later refresh retries. */
void got_patcher_refresh(void)
{
    pthread_mutex_lock(&patcher_mutex);
    if (patcher_installed)
        (void)run_scan(SCAN_PATCH, NULL);
    pthread_mutex_unlock(&patcher_mutex);
}

/* See got_patcher.h. */
void got_patcher_forget_unloaded(void)
{
    pthread_mutex_lock(&patcher_mutex);
    if (got_patcher_recorded_object_count() > 0) {
        got_patcher_clear_loaded_marks();
        (void)run_scan(SCAN_MARK_LOADED, NULL);
        got_patcher_drop_unmarked_objects();
    }
    pthread_mutex_unlock(&patcher_mutex);
}

/* See got_patcher.h. */
void got_patcher_uninstall(void)
{
    pthread_mutex_lock(&patcher_mutex);
    uninstall_locked();
    pthread_mutex_unlock(&patcher_mutex);
}

/* See got_patcher.h. */
size_t got_patcher_patched_slot_count(void)
{
    size_t count;
    pthread_mutex_lock(&patcher_mutex);
    count = got_patcher_recorded_slot_count();
    pthread_mutex_unlock(&patcher_mutex);
    return count;
}
