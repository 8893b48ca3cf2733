/*
 * The allocation hooks: replacements for the malloc family, anonymous
 * mappings and dlopen/dlclose, placed in every loaded object's GOT by the
 * GOT patcher, plus wrappers of the Python MEM and OBJ allocator domains.
 *
 * Each hook calls the real function and, when recording and not already
 * inside tracker code on this thread, records the event with the thread's
 * Python stack. Frees are recorded before the real free, so that the address
 * cannot be handed out again (and recorded) before its free is numbered.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <errno.h>
#include <elf.h>
#include <link.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "binding/hooks/allocation_hooks.h"
#include "core/format/capture_format.h"
#include "binding/hooks/exec_watch.h"
#include "binding/hooks/got_patcher.h"
#include "binding/hooks/new_references.h"
#include "binding/stacks/native_stack.h"
#include "binding/stacks/module_filter.h"
#include "binding/stacks/python_stack.h"
#include "core/recording/fatal_signals.h"
#include "core/recording/recorder.h"
#include "core/recording/sampler.h"

/* name, return type, parameters, arguments: the one list of hooked symbols. */
#define HOOKED_FUNCTIONS(X)                                                                     \
    X(malloc, void *, (size_t size), (size))                                                    \
    X(calloc, void *, (size_t count, size_t size), (count, size))                               \
    X(realloc, void *, (void *block, size_t size), (block, size))                               \
    X(reallocarray, void *, (void *block, size_t count, size_t size), (block, count, size))     \
    X(free, void, (void *block), (block))                                                       \
    X(posix_memalign, int, (void **out, size_t alignment, size_t size), (out, alignment, size)) \
    X(aligned_alloc, void *, (size_t alignment, size_t size), (alignment, size))                \
    X(memalign, void *, (size_t alignment, size_t size), (alignment, size))                     \
    X(valloc, void *, (size_t size), (size))                                                    \
    X(pvalloc, void *, (size_t size), (size))                                                   \
    X(mmap, void *, (void *address, size_t length, int protection, int flags, int fd,          \
                     off_t offset), (address, length, protection, flags, fd, offset))          \
    X(mmap64, void *, (void *address, size_t length, int protection, int flags, int fd,        \
                       off_t offset), (address, length, protection, flags, fd, offset))        \
    X(munmap, int, (void *address, size_t length), (address, length))                          \
    X(mremap, void *, (void *old_address, size_t old_size, size_t new_size, int flags, ...),   \
      (old_address, old_size, new_size, flags))                                                 \
    X(dlopen, void *, (const char *filename, int flags), (filename, flags))                    \
    X(dlclose, int, (void *handle), (handle))                                                   \
    X(pthread_setname_np, int, (pthread_t thread, const char *name), (thread, name))        \
    X(_exit, void, (int status), (status))                                                     \
    X(_Exit, void, (int status), (status))                                                     \
    X(execve, int, (const char *path, char *const arguments[], char *const environment[]),     \
      (path, arguments, environment))                                                           \
    X(execv, int, (const char *path, char *const arguments[]), (path, arguments))              \
    X(execvp, int, (const char *file, char *const arguments[]), (file, arguments))             \
    X(execvpe, int, (const char *file, char *const arguments[], char *const environment[]),    \
      (file, arguments, environment))                                                           \
    X(fexecve, int, (int descriptor, char *const arguments[], char *const environment[]),      \
      (descriptor, arguments, environment))                                                     \
    X(execl, int, (const char *path, const char *argument, ...), (path, argument))             \
    X(execlp, int, (const char *file, const char *argument, ...), (file, argument))            \
    X(execle, int, (const char *path, const char *argument, ...), (path, argument))            \
    X(sigaction, int, (int number, const struct sigaction *action, struct sigaction *previous), \
      (number, action, previous))                                                               \
    X(signal, sighandler_t, (int number, sighandler_t handler), (number, handler))

/* The real functions, resolved once. */
static struct {
#define DECLARE_ORIGINAL(name, result, parameters, arguments) result(*name) parameters;
    HOOKED_FUNCTIONS(DECLARE_ORIGINAL)
#undef DECLARE_ORIGINAL
} original;

#define DECLARE_HOOK(name, result, parameters, arguments) static result hook_##name parameters;
HOOKED_FUNCTIONS(DECLARE_HOOK)
#undef DECLARE_HOOK

static const struct got_hook hook_table[] = {
#define HOOK_ENTRY(name, result, parameters, arguments) {#name, (void *)hook_##name},
    HOOKED_FUNCTIONS(HOOK_ENTRY)
#undef HOOK_ENTRY
};

static int hooks_installed;

/* Nonzero when this call should be recorded. */
static inline int should_record(void)
{
    return recorder_is_active() && !recorder_thread_busy;
}

/* Nonzero when only some allocations are recorded (sampling, or module
 * filters): the recorded blocks are remembered so that only their frees
 * are recorded. */
static inline int recorded_blocks_remembered(void)
{
    return sampler_mode != SAMPLER_EVERY_ALLOCATION || module_filter_active;
}

/* Records a block the sampler kept (every block when not sampling). */
static void record_kept_allocation(int allocator, const void *address, size_t size)
{
    recorder_thread_busy = 1;
    uint32_t filter_bits;
    uint32_t stack_id = python_stack_capture_filtered(&filter_bits);
    if (module_filter_active &&
        !module_filter_accepts(filter_bits, module_filter_has_include())) {
        recorder_thread_busy = 0;
        return;
    }
    if (native_stack_enabled) {
        recorder_record_native_allocation(allocator, (uintptr_t)address, size, stack_id,
                                          native_stack_capture());
    } else if (python_stack_total_frames()) {
        recorder_record_truncated_allocation(allocator, (uintptr_t)address, size, stack_id,
                                             python_stack_total_frames());
    } else {
        recorder_record_allocation(allocator, (uintptr_t)address, size, stack_id);
    }
    if (recorded_blocks_remembered()) {
        sampler_remember((uintptr_t)address);
    }
    recorder_thread_busy = 0;
}

/* Records the allocation if the sampler keeps it. */
static void record_allocation(int allocator, const void *address, size_t size)
{
    if (sampler_keeps(size)) {
        record_kept_allocation(allocator, address, size);
    }
}

/* Nonzero when a free of address must be recorded: always when not
 * sampling, else only for a block that was kept. */
static inline int free_is_recorded(const void *address)
{
    return !recorded_blocks_remembered() || sampler_forget((uintptr_t)address);
}

static void record_free(const void *address)
{
    if (free_is_recorded(address)) {
        recorder_thread_busy = 1;
        recorder_record_free((uintptr_t)address);
        recorder_thread_busy = 0;
    }
}

static void *hook_malloc(size_t size)
{
    void *block = original.malloc(size);
    if (block && should_record()) {
        record_allocation(ALLOCATOR_MALLOC, block, size);
    }
    return block;
}

static void *hook_calloc(size_t count, size_t size)
{
    void *block = original.calloc(count, size);
    if (block && should_record()) {
        record_allocation(ALLOCATOR_CALLOC, block, count * size);
    }
    return block;
}

/* realloc moves or frees the old block: record its free first. If the call
 * fails the old block lives on, and is recorded again with its usable size. */
static void *reallocate(int allocator, void *block, size_t size, void *(*call)(void *, size_t, size_t),
                        size_t count)
{
    int recording = should_record();
    int freed = recording && block && free_is_recorded(block);
    if (freed) {
        recorder_thread_busy = 1;
        recorder_record_free((uintptr_t)block);
        recorder_thread_busy = 0;
    }
    void *moved = call(block, count, size);
    if (recording && moved) {
        record_allocation(allocator, moved, count * size);
    } else if (freed && size && count) {
        /* The call failed and the old block lives on. */
        record_kept_allocation(allocator, block, malloc_usable_size(block));
    }
    return moved;
}

static void *call_realloc(void *block, size_t count, size_t size)
{
    (void)count;
    return original.realloc(block, size);
}

static void *call_reallocarray(void *block, size_t count, size_t size)
{
    return original.reallocarray(block, count, size);
}

static void *hook_realloc(void *block, size_t size)
{
    return reallocate(ALLOCATOR_REALLOC, block, size, call_realloc, 1);
}

static void *hook_reallocarray(void *block, size_t count, size_t size)
{
    return reallocate(ALLOCATOR_REALLOCARRAY, block, size, call_reallocarray, count);
}

static void hook_free(void *block)
{
    if (block && should_record()) {
        record_free(block);
    }
    original.free(block);
}

static int hook_posix_memalign(void **out, size_t alignment, size_t size)
{
    int result = original.posix_memalign(out, alignment, size);
    if (result == 0 && should_record()) {
        record_allocation(ALLOCATOR_POSIX_MEMALIGN, *out, size);
    }
    return result;
}

static void *hook_aligned_alloc(size_t alignment, size_t size)
{
    void *block = original.aligned_alloc(alignment, size);
    if (block && should_record()) {
        record_allocation(ALLOCATOR_ALIGNED_ALLOC, block, size);
    }
    return block;
}

static void *hook_memalign(size_t alignment, size_t size)
{
    void *block = original.memalign(alignment, size);
    if (block && should_record()) {
        record_allocation(ALLOCATOR_MEMALIGN, block, size);
    }
    return block;
}

static void *hook_valloc(size_t size)
{
    void *block = original.valloc(size);
    if (block && should_record()) {
        record_allocation(ALLOCATOR_VALLOC, block, size);
    }
    return block;
}

static void *hook_pvalloc(size_t size)
{
    void *block = original.pvalloc(size);
    if (block && should_record()) {
        /* pvalloc hands out whole pages: that is what the program holds. */
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        record_allocation(ALLOCATOR_PVALLOC, block, size ? (size + page - 1) / page * page : page);
    }
    return block;
}

static void record_mapping(void *address, size_t length, int flags)
{
    if (address != MAP_FAILED && (flags & MAP_ANONYMOUS) && should_record()) {
        record_allocation(ALLOCATOR_MMAP, address, length);
    }
}

static void *hook_mmap(void *address, size_t length, int protection, int flags, int fd,
                       off_t offset)
{
    void *mapped = original.mmap(address, length, protection, flags, fd, offset);
    record_mapping(mapped, length, flags);
    return mapped;
}

static void *hook_mmap64(void *address, size_t length, int protection, int flags, int fd,
                         off_t offset)
{
    void *mapped = original.mmap64(address, length, protection, flags, fd, offset);
    record_mapping(mapped, length, flags);
    return mapped;
}

static int hook_munmap(void *address, size_t length)
{
    if (should_record() && free_is_recorded(address)) {
        recorder_thread_busy = 1;
        recorder_record_munmap((uintptr_t)address, length);
        recorder_thread_busy = 0;
    }
    return original.munmap(address, length);
}

static void *hook_mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...)
{
    void *new_address = NULL;
    if (flags & MREMAP_FIXED) {
        va_list arguments;
        va_start(arguments, flags);
        new_address = va_arg(arguments, void *);
        va_end(arguments);
    }
    int recording = should_record();
    int unmapped = recording && free_is_recorded(old_address);
    if (unmapped) {
        recorder_thread_busy = 1;
        recorder_record_munmap((uintptr_t)old_address, old_size);
        recorder_thread_busy = 0;
    }
    void *moved = original.mremap(old_address, old_size, new_size, flags, new_address);
    if (recording && moved != MAP_FAILED) {
        record_allocation(ALLOCATOR_MREMAP, moved, new_size);
    } else if (unmapped) {
        record_kept_allocation(ALLOCATOR_MREMAP, old_address, old_size);
    }
    return moved;
}

static void *hook_dlopen(const char *filename, int flags)
{
    void *handle = got_patcher_dlopen_as_caller(filename, flags, __builtin_return_address(0),
                                                original.dlopen);
    if (handle && __atomic_load_n(&hooks_installed, __ATOMIC_ACQUIRE)) {
        got_patcher_refresh();
        native_stack_note_dlopen();
    }
    return handle;
}

static int hook_dlclose(void *handle)
{
    int result = original.dlclose(handle);
    if (result == 0 && __atomic_load_n(&hooks_installed, __ATOMIC_ACQUIRE)) {
        got_patcher_forget_unloaded();
    }
    return result;
}

/* A renamed thread is named anew in the capture: at once when it names
 * itself, else when the writer next re-reads the kernel's thread names. */
static int hook_pthread_setname_np(pthread_t thread, const char *name)
{
    int result = original.pthread_setname_np(thread, name);
    if (result != 0 || !should_record()) {
        return result;
    }
    if (pthread_equal(thread, pthread_self())) {
        recorder_thread_busy = 1;
        recorder_set_thread_name(name);
        recorder_thread_busy = 0;
    } else {
        recorder_note_thread_renamed();
    }
    return result;
}

/* os._exit and other exits that skip atexit: the capture is completed first
 * (the recording process's, or a follow-fork child's: multiprocessing's fork
 * children end this way). */
static void hook__exit(int status)
{
    recorder_before_exit();
    original._exit(status);
    __builtin_unreachable();
}

static void hook__Exit(int status)
{
    recorder_before_exit();
    original._Exit(status);
    __builtin_unreachable();
}

/* exec: the recording process's capture is completed first, and recording
 * goes on when the exec fails (recorder.h). A follow-fork child that execs
 * (subprocess with preexec_fn, os.exec*) is another program from then on: its
 * capture is dropped, not left behind. A vfork child (subprocess) shares the
 * parent's memory: both calls leave the parent's recording alone there. */
static int exec_returned(int result)
{
    int error_number = errno;
    recorder_after_failed_exec();
    errno = error_number;
    return result;
}

static int hook_execve(const char *path, char *const arguments[], char *const environment[])
{
    exec_watch_before_exec(path, arguments, environment);
    recorder_before_exec();
    return exec_returned(original.execve(path, arguments, environment));
}

static int hook_execv(const char *path, char *const arguments[])
{
    exec_watch_before_exec(path, arguments, NULL);
    recorder_before_exec();
    return exec_returned(original.execv(path, arguments));
}

static int hook_execvp(const char *file, char *const arguments[])
{
    exec_watch_before_exec(file, arguments, NULL);
    recorder_before_exec();
    return exec_returned(original.execvp(file, arguments));
}

static int hook_execvpe(const char *file, char *const arguments[], char *const environment[])
{
    exec_watch_before_exec(file, arguments, environment);
    recorder_before_exec();
    return exec_returned(original.execvpe(file, arguments, environment));
}

static int hook_fexecve(int descriptor, char *const arguments[], char *const environment[])
{
    recorder_before_exec();
    return exec_returned(original.fexecve(descriptor, arguments, environment));
}

/* The execl family passes its arguments in the call: they are counted, then
 * gathered on the stack (no allocation: a vfork child may call these) and
 * handed to the vector form. */
static size_t count_exec_arguments(const char *first, va_list list)
{
    va_list copy;
    va_copy(copy, list);
    size_t count = 0;
    for (const char *argument = first; argument; argument = va_arg(copy, const char *)) {
        count++;
    }
    va_end(copy);
    return count;
}

static void gather_exec_arguments(const char *first, va_list *list, char **out)
{
    size_t count = 0;
    for (const char *argument = first; argument; argument = va_arg(*list, const char *)) {
        out[count++] = (char *)argument;
    }
    out[count] = NULL;
}

static int hook_execl(const char *path, const char *argument, ...)
{
    va_list list;
    va_start(list, argument);
    char *arguments[count_exec_arguments(argument, list) + 1];
    gather_exec_arguments(argument, &list, arguments);
    va_end(list);
    return hook_execv(path, arguments);
}

static int hook_execlp(const char *file, const char *argument, ...)
{
    va_list list;
    va_start(list, argument);
    char *arguments[count_exec_arguments(argument, list) + 1];
    gather_exec_arguments(argument, &list, arguments);
    va_end(list);
    return hook_execvp(file, arguments);
}

static int hook_execle(const char *path, const char *argument, ...)
{
    va_list list;
    va_start(list, argument);
    char *arguments[count_exec_arguments(argument, list) + 1];
    gather_exec_arguments(argument, &list, arguments);
    char *const *environment = va_arg(list, char *const *);
    va_end(list);
    return hook_execve(path, arguments, environment);
}

/* The program's signal dispositions are kept aside while our handler stands
 * in front of the terminating signals (fatal_signals.h). */
static int hook_sigaction(int number, const struct sigaction *action, struct sigaction *previous)
{
    return fatal_signals_sigaction(number, action, previous);
}

static sighandler_t hook_signal(int number, sighandler_t handler)
{
    return fatal_signals_signal(number, handler);
}

/* --- the Python allocator domains ------------------------------------------ */

/* The allocators we wrap. The wrappers call these directly, never through
 * their context: PyMem_SetAllocator copies a domain field by field while, on
 * a free-threaded build, other threads go on allocating, so one of them may
 * call our function with the old context. */
static PyMemAllocatorEx original_memory_domain;
static PyMemAllocatorEx original_object_domain;
static int python_domains_wrapped;

/* Calls into pymalloc (mimalloc) run with the thread marked busy: the
 * arenas and large blocks it takes from malloc/mmap are not counted twice. */
static void *python_domain_malloc(PyMemAllocatorEx *wrapped, size_t size)
{
    int busy = recorder_thread_busy;
    recorder_thread_busy = 1;
    void *block = wrapped->malloc(wrapped->ctx, size);
    recorder_thread_busy = busy;
    if (block && !busy && recorder_is_active()) {
        new_references_last_block = (uintptr_t)block;
        record_allocation(ALLOCATOR_PYMALLOC, block, size);
    }
    return block;
}

static void *python_domain_calloc(PyMemAllocatorEx *wrapped, size_t count, size_t size)
{
    int busy = recorder_thread_busy;
    recorder_thread_busy = 1;
    void *block = wrapped->calloc(wrapped->ctx, count, size);
    recorder_thread_busy = busy;
    if (block && !busy && recorder_is_active()) {
        new_references_last_block = (uintptr_t)block;
        record_allocation(ALLOCATOR_PYMALLOC, block, count * size);
    }
    return block;
}

/* Records the free of a pymalloc block if it must be (see free_is_recorded). */
static void python_domain_record_free(void *block)
{
    if (free_is_recorded(block)) {
        recorder_thread_busy = 1;
        recorder_record_pymalloc_free((uintptr_t)block);
        recorder_thread_busy = 0;
    }
}

static void *python_domain_realloc(PyMemAllocatorEx *wrapped, void *block, size_t size)
{
    int busy = recorder_thread_busy;
    int recording = !busy && recorder_is_active();
    int freed = recording && block && free_is_recorded(block);
    if (freed) {
        recorder_thread_busy = 1;
        recorder_record_pymalloc_free((uintptr_t)block);
        recorder_thread_busy = 0;
    }
    recorder_thread_busy = 1;
    void *moved = wrapped->realloc(wrapped->ctx, block, size);
    recorder_thread_busy = busy;
    if (recording && moved) {
        new_references_last_block = (uintptr_t)moved;
        record_allocation(ALLOCATOR_PYMALLOC, moved, size);
    } else if (freed) {
        /* On failure the old block lives on; its size is unknown here. */
        record_kept_allocation(ALLOCATOR_PYMALLOC, block, 0);
    }
    return moved;
}

static void python_domain_free(PyMemAllocatorEx *wrapped, void *block)
{
    int busy = recorder_thread_busy;
    if (block && !busy && recorder_is_active()) {
        python_domain_record_free(block);
    }
    recorder_thread_busy = 1;
    wrapped->free(wrapped->ctx, block);
    recorder_thread_busy = busy;
}

/* The four functions installed for one domain, bound to its saved original. */
#define DOMAIN_WRAPPERS(prefix, saved)                                                   \
    static void *prefix##_malloc(void *context, size_t size)                              \
    {                                                                                     \
        (void)context;                                                                    \
        return python_domain_malloc(&saved, size);                                        \
    }                                                                                     \
    static void *prefix##_calloc(void *context, size_t count, size_t size)                \
    {                                                                                     \
        (void)context;                                                                    \
        return python_domain_calloc(&saved, count, size);                                 \
    }                                                                                     \
    static void *prefix##_realloc(void *context, void *block, size_t size)                \
    {                                                                                     \
        (void)context;                                                                    \
        return python_domain_realloc(&saved, block, size);                                \
    }                                                                                     \
    static void prefix##_free(void *context, void *block)                                 \
    {                                                                                     \
        (void)context;                                                                    \
        python_domain_free(&saved, block);                                                \
    }
DOMAIN_WRAPPERS(memory_domain, original_memory_domain)
DOMAIN_WRAPPERS(object_domain, original_object_domain)
#undef DOMAIN_WRAPPERS

static void python_domains_wrap(void)
{
    PyMem_GetAllocator(PYMEM_DOMAIN_MEM, &original_memory_domain);
    PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &original_object_domain);
    /* Our functions ignore their context; the originals' keeps a torn copy
     * (our function, its context, or the reverse) valid either way. */
    PyMemAllocatorEx memory = {original_memory_domain.ctx, memory_domain_malloc,
                               memory_domain_calloc, memory_domain_realloc, memory_domain_free};
    PyMemAllocatorEx object = {original_object_domain.ctx, object_domain_malloc,
                               object_domain_calloc, object_domain_realloc, object_domain_free};
    PyMem_SetAllocator(PYMEM_DOMAIN_MEM, &memory);
    PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &object);
}

/* --- install and uninstall -------------------------------------------------- */

struct address_search {
    uintptr_t address;
    int found;
};

/* dl_iterate_phdr callback for the first object only, the executable:
 * whether the address is in one of its loaded segments. */
static int executable_holds(struct dl_phdr_info *info, size_t size, void *opaque)
{
    (void)size;
    struct address_search *search = opaque;
    for (ElfW(Half) index = 0; index < info->dlpi_phnum; index++) {
        const ElfW(Phdr) *segment = &info->dlpi_phdr[index];
        uintptr_t start = (uintptr_t)info->dlpi_addr + segment->p_vaddr;
        if (segment->p_type == PT_LOAD && search->address >= start &&
            search->address - start < segment->p_memsz) {
            search->found = 1;
        }
    }
    return 1;
}

/* Nonzero when address is a non-PIE executable's canonical PLT entry for a
 * function it does not define: calling it would come back to our hook
 * through the executable's (patched) GOT. */
static int is_executable_plt_stub(void *address)
{
    /* dladdr1 looks through every symbol of the object for the nearest one
     * (~90,000 instructions in libc, for each hooked function at every
     * start): ask only about addresses in the executable. */
    struct address_search search = {(uintptr_t)address, 0};
    dl_iterate_phdr(executable_holds, &search);
    if (!search.found) {
        return 0;
    }
    Dl_info info;
    const ElfW(Sym) *symbol = NULL;
    if (!dladdr1(address, &info, (void **)&symbol, RTLD_DL_SYMENT) || !symbol) {
        return 0;
    }
    return symbol->st_shndx == SHN_UNDEF;
}

struct definition_search {
    const char *name;
    void *found;
};

/* dl_iterate_phdr callback: the first object after the executable whose
 * scope defines the name, in load order (so a preloaded allocator wins). */
static int find_definition(struct dl_phdr_info *info, size_t size, void *opaque)
{
    (void)size;
    struct definition_search *search = opaque;
    if (!info->dlpi_name || !info->dlpi_name[0]) {
        return 0;
    }
    void *handle = dlopen(info->dlpi_name, RTLD_LAZY | RTLD_NOLOAD);
    if (!handle) {
        return 0;
    }
    void *address = dlsym(handle, search->name);
    dlclose(handle);
    if (address && !is_executable_plt_stub(address)) {
        search->found = address;
        return 1;
    }
    return 0;
}

/* The function the dynamic linker binds name to, never a PLT stub. */
static void *resolve_real_function(const char *name)
{
    void *address = dlsym(RTLD_DEFAULT, name);
    if (address && !is_executable_plt_stub(address)) {
        return address;
    }
    struct definition_search search = {name, NULL};
    dl_iterate_phdr(find_definition, &search);
    return search.found;
}

static int resolve_originals(char *error, size_t error_size)
{
#define RESOLVE_ORIGINAL(name, result, parameters, arguments)                               \
    if (!original.name) {                                                                    \
        original.name = (result(*) parameters)resolve_real_function(#name);                 \
        if (!original.name) {                                                                \
            snprintf(error, error_size, "cannot find the real %s", #name);                  \
            return -1;                                                                       \
        }                                                                                    \
    }
    HOOKED_FUNCTIONS(RESOLVE_ORIGINAL)
#undef RESOLVE_ORIGINAL
    return 0;
}

int allocation_hooks_install(int python_allocators, char *error, size_t error_size)
{
    if (resolve_originals(error, error_size) < 0) {
        return -1;
    }
    if (got_patcher_install(hook_table, sizeof hook_table / sizeof hook_table[0],
                            (const void *)allocation_hooks_install, error, error_size) < 0) {
        return -1;
    }
    __atomic_store_n(&hooks_installed, 1, __ATOMIC_RELEASE);
    if (python_allocators) {
        python_domains_wrap();
        python_domains_wrapped = 1;
    }
    return 0;
}

void allocation_hooks_uninstall(void)
{
    if (python_domains_wrapped) {
        PyMem_SetAllocator(PYMEM_DOMAIN_MEM, &original_memory_domain);
        PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &original_object_domain);
        python_domains_wrapped = 0;
    }
    if (__atomic_exchange_n(&hooks_installed, 0, __ATOMIC_ACQ_REL)) {
        got_patcher_uninstall();
    }
}
