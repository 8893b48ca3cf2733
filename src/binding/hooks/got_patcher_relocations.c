/*
 * The GOT patcher's work on one loaded object: deciding whether it may be
 * patched at all, finding in its relocation tables the slots through which it
 * calls a hooked function, and pointing them at the replacement (or, on
 * uninstall, back at the original). See got_patcher_internal.h.
 */
#include "binding/hooks/got_patcher_internal.h"

#include <elf.h>
#include <errno.h>
#include <string.h>
#include <sys/auxv.h>

/* ------------------------------------------------------------------------ */
/* Objects and slots we may touch                                           */
/* ------------------------------------------------------------------------ */

/* Returns whether address lies in one of the object's PT_LOAD segments; when
 * writable_only, only in a segment mapped with PF_W. */
static bool object_segment_contains(const struct object_view *view, const void *address,
                                    bool writable_only)
{
    uintptr_t value = (uintptr_t)address;
    if (address == NULL)
        return false;
    for (size_t index = 0; index < view->program_header_count; index++) {
        const ElfW(Phdr) *header = &view->program_headers[index];
        uintptr_t start = view->base + header->p_vaddr;
        if (header->p_type != PT_LOAD || (writable_only && !(header->p_flags & PF_W)))
            continue;
        if (value >= start && value < start + header->p_memsz)
            return true;
    }
    return false;
}

/* Returns whether the object must never be patched: our own object, the
 * dynamic linker, libc and the vDSO. */
static bool is_excluded_object(const struct scan_context *context, const struct object_view *view)
{
    const char *base_name = elf_dynamic_base_name(view->name);
    return object_segment_contains(view, context->self_address, false)
        || object_segment_contains(view, (const void *)getauxval(AT_BASE), false)
        || object_segment_contains(view, (const void *)getauxval(AT_SYSINFO_EHDR), false)
        || elf_dynamic_starts_with(base_name, "ld-linux")
        || elf_dynamic_starts_with(base_name, "libc.so.")
        || elf_dynamic_starts_with(base_name, "linux-vdso")
        || elf_dynamic_starts_with(base_name, "linux-gate");
}

/* Returns whether slot is a place we may write: 8-byte aligned and inside a
 * writable segment of the object (RELRO is part of the writable segment). */
static bool slot_is_patchable(const struct object_view *view, void **slot)
{
    return ((uintptr_t)slot % sizeof(void *)) == 0 && object_segment_contains(view, slot, true);
}

/* ------------------------------------------------------------------------ */
/* Patching                                                                 */
/* ------------------------------------------------------------------------ */

/* Returns the installed hook for symbol name, or NULL. */
static const struct got_hook *find_hook(const struct scan_context *context, const char *name)
{
    uint64_t candidates = context->hooks_by_first_byte[(unsigned char)name[0]];
    while (candidates != 0) {
        const struct got_hook *hook = &context->hooks[__builtin_ctzll(candidates)];
        if (strcmp(hook->symbol, name) == 0)
            return hook;
        candidates &= candidates - 1;
    }
    return NULL;
}

/* Points slot at replacement unless it already does, recording what it held. */
static void patch_slot(struct scan_context *context, struct object_view *view, void **slot,
                       void *replacement)
{
    void *current;
    if (!slot_is_patchable(view, slot))
        return;
    current = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (current == replacement || !got_patcher_object_is_settled(context, view))
        return;
    if (!got_patcher_reserve_slot_record(view)) {
        got_patcher_note_error(context, ENOMEM, "cannot record a patched slot");
        return;
    }
    if (got_patcher_write_slot(context, view, slot, replacement))
        got_patcher_remember_slot(view, slot, current, replacement);
}

/* Returns the hook matching a relocation's symbol if the relocation is of a
 * kind we patch (JUMP_SLOT, GLOB_DAT, or 64 with no addend), else NULL. */
static const struct got_hook *hook_for_relocation(const struct scan_context *context,
                                                  const struct dynamic_tables *tables,
                                                  const ElfW(Rela) *relocation)
{
    unsigned long type = ELF64_R_TYPE(relocation->r_info);
    unsigned long symbol_index = ELF64_R_SYM(relocation->r_info);
    const char *name;
    if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT && type != R_X86_64_64)
        return NULL;
    if (relocation->r_addend != 0 || symbol_index == STN_UNDEF)
        return NULL;
    name = elf_dynamic_table_string(tables, tables->symbols[symbol_index].st_name);
    return name != NULL && name[0] != '\0' ? find_hook(context, name) : NULL;
}

/* The number of leading entries of DT_RELA that are R_X86_64_RELATIVE (no
 * symbol: nothing to patch), as DT_RELACOUNT says, believed only when the last
 * of them is one. Skipping them spares most of a scan: libpython alone has
 * tens of thousands. */
static size_t leading_relative_count(const struct dynamic_tables *tables, size_t count)
{
    size_t relative = tables->relative_relocation_count;
    if (relative == 0 || relative > count ||
        ELF64_R_TYPE(tables->relocations[relative - 1].r_info) != R_X86_64_RELATIVE)
        return 0;
    return relative;
}

/* Patches every hooked slot that one relocation table describes. */
static void patch_relocation_table(struct scan_context *context, struct object_view *view,
                                   const struct dynamic_tables *tables,
                                   const ElfW(Rela) *table, size_t table_size)
{
    size_t count = table != NULL ? table_size / sizeof(ElfW(Rela)) : 0;
    size_t first = table == tables->relocations ? leading_relative_count(tables, count) : 0;
    for (size_t index = first; index < count && view->relro_state != RELRO_WRITABLE; index++) {
        const struct got_hook *hook = hook_for_relocation(context, tables, &table[index]);
        if (hook != NULL)
            patch_slot(context, view, (void **)(view->base + table[index].r_offset),
                       hook->replacement);
    }
}

/* See got_patcher_internal.h. */
void got_patcher_patch_object(struct scan_context *context, struct object_view *view)
{
    struct dynamic_tables tables;
    size_t failures_before = context->failures;
    if (is_excluded_object(context, view)
        || !elf_dynamic_read_tables(view->dynamic, view->base, &tables))
        return;
    view->object_index = got_patcher_find_object_record(view->base, view->name);
    if (view->object_index != SIZE_MAX && got_patcher_object_scan_is_complete(view->object_index))
        return;
    patch_relocation_table(context, view, &tables, tables.plt_relocations,
                           tables.plt_relocations_size);
    patch_relocation_table(context, view, &tables, tables.relocations, tables.relocations_size);
    /* Only RELRO proves that ld.so had finished with the object (a concurrent
     * dlopen may still be relocating one without it). */
    if (context->failures == failures_before && view->relro_start != view->relro_end
        && got_patcher_object_is_settled(context, view))
        got_patcher_mark_scan_complete(view);
}

/* ------------------------------------------------------------------------ */
/* Restoring                                                                */
/* ------------------------------------------------------------------------ */

/* See got_patcher_internal.h. A slot holding anything but our replacement
 * was rewritten by someone else, or belongs to a fresh copy of the object,
 * and is left alone. */
void got_patcher_restore_object(struct scan_context *context, const struct object_view *view)
{
    size_t object_index = got_patcher_find_object_record(view->base, view->name);
    size_t slot_count = got_patcher_recorded_slot_count();
    for (size_t index = 0; object_index != SIZE_MAX && index < slot_count; index++) {
        const struct patched_slot *record = got_patcher_recorded_slot(index);
        if (record->object_index != object_index
            || __atomic_load_n(record->address, __ATOMIC_ACQUIRE) != record->replacement)
            continue;
        (void)got_patcher_write_slot(context, view, record->address, record->original);
    }
}
