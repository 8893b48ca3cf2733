/*
 * Views of loaded ELF objects, shared by the GOT patcher (got_patcher*.c) and
 * the dlopen search path (library_search.c): what one dl_iterate_phdr entry
 * tells about an object (its name, program headers, dynamic section and RELRO
 * range) and the tables of its dynamic section. INTERNAL to the binding.
 *
 * Linux x86-64, glibc, ELF64 RELA only. Plain C; no Python.h.
 */
#ifndef MEMLYZE_ELF_DYNAMIC_H
#define MEMLYZE_ELF_DYNAMIC_H

#include <elf.h>
#include <link.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum relro_state { RELRO_UNCHECKED, RELRO_PROTECTED, RELRO_WRITABLE };

/* What one dl_iterate_phdr entry tells us about a loaded object. */
struct object_view {
    uintptr_t base;
    const char *name;
    const ElfW(Phdr) *program_headers;
    size_t program_header_count;
    const ElfW(Dyn) *dynamic;
    uintptr_t relro_start; /* page range ld.so made read-only; empty if none */
    uintptr_t relro_end;
    enum relro_state relro_state;
    size_t object_index; /* got_patcher_records.c: record index, SIZE_MAX if none yet */
};

/* The tables of a dynamic section that patching and path search need. */
struct dynamic_tables {
    const ElfW(Sym) *symbols;
    const char *strings;
    size_t strings_size;
    const ElfW(Rela) *plt_relocations;
    size_t plt_relocations_size;
    const ElfW(Rela) *relocations;
    size_t relocations_size;
    size_t relocation_entry_size;
    size_t relative_relocation_count; /* DT_RELACOUNT: R_*_RELATIVE entries first in DT_RELA */
    ElfW(Sxword) plt_relocation_kind;
    const char *rpath;   /* DT_RPATH string or NULL */
    const char *runpath; /* DT_RUNPATH string or NULL */
};

/* Returns the system page size. */
uintptr_t elf_dynamic_page_size(void);

/* Returns address rounded down to its page. */
uintptr_t elf_dynamic_page_start(uintptr_t address);

/* Returns the part of path after its last '/'. */
const char *elf_dynamic_base_name(const char *path);

/* Returns whether text begins with prefix. */
bool elf_dynamic_starts_with(const char *text, const char *prefix);

/* Fills view from one dl_iterate_phdr entry. */
void elf_dynamic_describe_object(const struct dl_phdr_info *info, struct object_view *view);

/* Returns the string at offset of the string table, or NULL if out of range. */
const char *elf_dynamic_table_string(const struct dynamic_tables *tables, ElfW(Xword) offset);

/* Parses the dynamic section of an object loaded at base into tables.
 * Returns false if it lacks a symbol or string table or uses an unexpected
 * relocation entry size. */
bool elf_dynamic_read_tables(const ElfW(Dyn) *dynamic, uintptr_t base,
                             struct dynamic_tables *tables);

#endif
