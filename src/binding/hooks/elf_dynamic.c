/*
 * Views of loaded ELF objects and their dynamic tables. See elf_dynamic.h.
 */
#include "binding/hooks/elf_dynamic.h"

#include <string.h>
#include <sys/auxv.h>

/* See elf_dynamic.h. */
uintptr_t elf_dynamic_page_size(void)
{
    unsigned long size = getauxval(AT_PAGESZ);
    return size != 0 ? (uintptr_t)size : 4096;
}

/* See elf_dynamic.h. */
uintptr_t elf_dynamic_page_start(uintptr_t address)
{
    return address & ~(elf_dynamic_page_size() - 1);
}

/* Returns the address a dynamic-section pointer stands for: glibc usually
 * relocates d_ptr values in place; a value below the load base was not. */
static uintptr_t dynamic_address(uintptr_t base, ElfW(Addr) value)
{
    return value < base ? base + value : value;
}

/* See elf_dynamic.h. */
const char *elf_dynamic_base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

/* See elf_dynamic.h. */
bool elf_dynamic_starts_with(const char *text, const char *prefix)
{
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

/* Fills view's RELRO range from a PT_GNU_RELRO header the way ld.so protects
 * it: start rounded down, end rounded DOWN (a partial last page stays
 * writable because it shares .data). */
static void set_relro_range(struct object_view *view, const ElfW(Phdr) *header)
{
    uintptr_t start = view->base + header->p_vaddr;
    view->relro_start = elf_dynamic_page_start(start);
    view->relro_end = elf_dynamic_page_start(start + header->p_memsz);
    if (view->relro_end < view->relro_start)
        view->relro_end = view->relro_start;
}

/* See elf_dynamic.h. */
void elf_dynamic_describe_object(const struct dl_phdr_info *info, struct object_view *view)
{
    memset(view, 0, sizeof *view);
    view->base = (uintptr_t)info->dlpi_addr;
    view->name = info->dlpi_name != NULL ? info->dlpi_name : "";
    view->program_headers = info->dlpi_phdr;
    view->program_header_count = info->dlpi_phnum;
    view->object_index = SIZE_MAX;
    for (size_t index = 0; index < view->program_header_count; index++) {
        const ElfW(Phdr) *header = &view->program_headers[index];
        if (header->p_type == PT_DYNAMIC)
            view->dynamic = (const ElfW(Dyn) *)(view->base + header->p_vaddr);
        else if (header->p_type == PT_GNU_RELRO)
            set_relro_range(view, header);
    }
}

/* Stores one dynamic entry that we use into tables (string offsets are
 * resolved later, once DT_STRTAB is known). */
static void read_dynamic_entry(const ElfW(Dyn) *entry, uintptr_t base,
                               struct dynamic_tables *tables, ElfW(Xword) *rpath_offset,
                               ElfW(Xword) *runpath_offset)
{
    uintptr_t address = dynamic_address(base, entry->d_un.d_ptr);
    ElfW(Xword) value = entry->d_un.d_val;
    switch (entry->d_tag) {
    case DT_SYMTAB: tables->symbols = (const ElfW(Sym) *)address; break;
    case DT_STRTAB: tables->strings = (const char *)address; break;
    case DT_STRSZ: tables->strings_size = value; break;
    case DT_JMPREL: tables->plt_relocations = (const ElfW(Rela) *)address; break;
    case DT_PLTRELSZ: tables->plt_relocations_size = value; break;
    case DT_PLTREL: tables->plt_relocation_kind = (ElfW(Sxword))value; break;
    case DT_RELA: tables->relocations = (const ElfW(Rela) *)address; break;
    case DT_RELASZ: tables->relocations_size = value; break;
    case DT_RELAENT: tables->relocation_entry_size = value; break;
    case DT_RELACOUNT: tables->relative_relocation_count = value; break;
    case DT_RPATH: *rpath_offset = value; break;
    case DT_RUNPATH: *runpath_offset = value; break;
    default: break;
    }
}

/* See elf_dynamic.h. */
const char *elf_dynamic_table_string(const struct dynamic_tables *tables, ElfW(Xword) offset)
{
    if (tables->strings == NULL || (tables->strings_size != 0 && offset >= tables->strings_size))
        return NULL;
    return tables->strings + offset;
}

/* See elf_dynamic.h. */
bool elf_dynamic_read_tables(const ElfW(Dyn) *dynamic, uintptr_t base,
                             struct dynamic_tables *tables)
{
    ElfW(Xword) no_offset = (ElfW(Xword))-1;
    ElfW(Xword) rpath_offset = no_offset;
    ElfW(Xword) runpath_offset = no_offset;
    memset(tables, 0, sizeof *tables);
    if (dynamic == NULL)
        return false;
    for (const ElfW(Dyn) *entry = dynamic; entry->d_tag != DT_NULL; entry++)
        read_dynamic_entry(entry, base, tables, &rpath_offset, &runpath_offset);
    if (tables->relocation_entry_size == 0)
        tables->relocation_entry_size = sizeof(ElfW(Rela));
    if (tables->plt_relocations != NULL && tables->plt_relocation_kind != DT_RELA)
        tables->plt_relocations = NULL; /* DT_REL does not exist on x86-64 */
    tables->rpath =
        rpath_offset != no_offset ? elf_dynamic_table_string(tables, rpath_offset) : NULL;
    tables->runpath =
        runpath_offset != no_offset ? elf_dynamic_table_string(tables, runpath_offset) : NULL;
    return tables->symbols != NULL && tables->strings != NULL
        && tables->relocation_entry_size == sizeof(ElfW(Rela));
}
