/*
 * The terminating signals while recording (see fatal_signals.h).
 *
 * The program's dispositions sit in one table behind a spin lock that is
 * only ever taken with every signal blocked: a handler that takes it can
 * never have interrupted its own thread inside it, and another thread holds
 * it for a few instructions only. Handlers and hooks are async-signal-safe.
 */
#include "core/recording/fatal_signals.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "core/recording/recorder.h"

static const int taken_signals[] = {
    SIGHUP,  SIGINT,  SIGQUIT, SIGILL,  SIGABRT, SIGBUS,  SIGFPE,  SIGUSR1,
    SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGXCPU, SIGXFSZ, SIGSYS,
};
#define TAKEN_SIGNAL_COUNT (sizeof taken_signals / sizeof taken_signals[0])

static struct {
    int lock;       /* spin lock, taken with all signals blocked */
    int owner_pid;  /* atomic: the process these dispositions are of */
    int taken_over; /* atomic writes under lock: our handler is in front */
    /* the program's disposition of each taken signal; guarded by lock */
    struct sigaction program[NSIG];
} table;

static pthread_once_t fork_handlers_once = PTHREAD_ONCE_INIT;

static int is_taken_signal(int number)
{
    for (size_t index = 0; index < TAKEN_SIGNAL_COUNT; index++) {
        if (taken_signals[index] == number) {
            return 1;
        }
    }
    return 0;
}

/* Blocks every signal (saving the mask in saved) and takes the lock. */
static void table_lock(sigset_t *saved)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, saved);
    while (__atomic_exchange_n(&table.lock, 1, __ATOMIC_ACQUIRE)) {
        sched_yield();
    }
}

static void table_unlock(const sigset_t *saved)
{
    __atomic_store_n(&table.lock, 0, __ATOMIC_RELEASE);
    pthread_sigmask(SIG_SETMASK, saved, NULL);
}

static int is_handler(void (*handler)(int))
{
    return handler != SIG_DFL && handler != SIG_IGN;
}

static void fatal_signal_handler(int number, siginfo_t *info, void *context);

/* With --ring, SIGUSR2 asks for a dump: memlyze's handler stands in front
 * of it even when the program ignores it, and it never ends the process. */
static int dumps_on(int number)
{
    return number == SIGUSR2 && recorder_ring_active();
}

/* Puts, for real, what stands for the program's disposition of number:
 * SIG_IGN itself, or our handler with the program's mask and the flags that
 * make the kernel deliver as it would to the program's handler; in front of
 * the default action, with every signal blocked while the capture is sealed,
 * on the alternate stack when there is one (a stack overflow). Lock held. */
static int install_front_locked(int number, const struct sigaction *program)
{
    struct sigaction front;
    memset(&front, 0, sizeof front);
    if (program->sa_handler == SIG_IGN && !dumps_on(number)) {
        front = *program;
    } else if (is_handler(program->sa_handler)) {
        front.sa_sigaction = fatal_signal_handler;
        front.sa_mask = program->sa_mask;
        front.sa_flags = SA_SIGINFO | (program->sa_flags & (SA_ONSTACK | SA_RESTART | SA_NODEFER));
    } else {
        front.sa_sigaction = fatal_signal_handler;
        sigfillset(&front.sa_mask);
        front.sa_flags = SA_SIGINFO | SA_ONSTACK;
    }
    return sigaction(number, &front, NULL);
}

/* Copies the program's disposition of number into out; a handler with
 * SA_RESETHAND is reset to SIG_DFL on the way, as the kernel resets it on
 * delivery. Returns 0, or -1 when the signals are not taken over. */
static int take_program_disposition(int number, struct sigaction *out)
{
    sigset_t saved;
    table_lock(&saved);
    int result = -1;
    if (__atomic_load_n(&table.taken_over, __ATOMIC_RELAXED)) {
        *out = table.program[number];
        result = 0;
        struct sigaction *kept = &table.program[number];
        if ((kept->sa_flags & SA_RESETHAND) && is_handler(kept->sa_handler) &&
            __atomic_load_n(&table.owner_pid, __ATOMIC_RELAXED) == (int)getpid()) {
            kept->sa_handler = SIG_DFL; /* Linux keeps the flags */
            install_front_locked(number, kept);
        }
    }
    table_unlock(&saved);
    return result;
}

/* Dies by number as without memlyze: SIG_DFL for real, then the signal
 * again. It is blocked in this handler (unless SA_NODEFER let it in), so it
 * ends the process as the handler returns, once the interrupted state (for a
 * fault, at the faulting instruction) is back: what a core dump shows. */
static void die_by(int number)
{
    struct sigaction default_action;
    memset(&default_action, 0, sizeof default_action);
    default_action.sa_handler = SIG_DFL;
    sigaction(number, &default_action, NULL);
    raise(number);
}

static void fatal_signal_handler(int number, siginfo_t *info, void *context)
{
    int saved_errno = errno;
    struct sigaction program;
    if (take_program_disposition(number, &program) < 0) {
        program.sa_handler = SIG_DFL; /* released meanwhile: the default */
        program.sa_flags = 0;
    }
    int dumped = dumps_on(number) && recorder_request_ring_dump() == 0;
    if (program.sa_handler == SIG_IGN) {
        /* set between delivery and here: what the kernel would have done */
    } else if (is_handler(program.sa_handler)) {
        errno = saved_errno;
        if (program.sa_flags & SA_SIGINFO) {
            program.sa_sigaction(number, info, context);
        } else {
            program.sa_handler(number);
        }
        saved_errno = errno;
    } else if (!dumped) {
        recorder_note_death_signal(number);
        recorder_seal();
        die_by(number);
    }
    errno = saved_errno;
}

/* --- fork ------------------------------------------------------------- */

/* A child inherits our handlers and the table, and owns them. The lock is
 * not held across fork (a thread waiting for it in a signal handler could
 * hold a lock the other fork handlers need): another thread of the parent
 * may have held it, and is not in the child. */
static void fatal_signals_after_fork_in_child(void)
{
    __atomic_store_n(&table.lock, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&table.owner_pid, (int)getpid(), __ATOMIC_RELAXED);
}

static void register_fork_handlers(void)
{
    pthread_atfork(NULL, NULL, fatal_signals_after_fork_in_child);
}

/* --- the API ---------------------------------------------------------- */

void fatal_signals_take_over(void)
{
    pthread_once(&fork_handlers_once, register_fork_handlers);
    sigset_t saved;
    table_lock(&saved);
    if (!__atomic_load_n(&table.taken_over, __ATOMIC_RELAXED)) {
        __atomic_store_n(&table.owner_pid, (int)getpid(), __ATOMIC_RELAXED);
        for (size_t index = 0; index < TAKEN_SIGNAL_COUNT; index++) {
            int number = taken_signals[index];
            if (sigaction(number, NULL, &table.program[number]) == 0) {
                install_front_locked(number, &table.program[number]);
            }
        }
        __atomic_store_n(&table.taken_over, 1, __ATOMIC_RELAXED);
    }
    table_unlock(&saved);
}

void fatal_signals_release(void)
{
    sigset_t saved;
    table_lock(&saved);
    if (__atomic_load_n(&table.taken_over, __ATOMIC_RELAXED) &&
        __atomic_load_n(&table.owner_pid, __ATOMIC_RELAXED) == (int)getpid()) {
        for (size_t index = 0; index < TAKEN_SIGNAL_COUNT; index++) {
            int number = taken_signals[index];
            sigaction(number, &table.program[number], NULL);
        }
        __atomic_store_n(&table.taken_over, 0, __ATOMIC_RELAXED);
    }
    table_unlock(&saved);
}

int fatal_signals_taken_over(void)
{
    return __atomic_load_n(&table.taken_over, __ATOMIC_RELAXED) &&
           __atomic_load_n(&table.owner_pid, __ATOMIC_RELAXED) == (int)getpid();
}

int fatal_signals_sigaction(int signal_number, const struct sigaction *action,
                            struct sigaction *previous)
{
    if (!is_taken_signal(signal_number) || !fatal_signals_taken_over()) {
        return sigaction(signal_number, action, previous);
    }
    sigset_t saved;
    table_lock(&saved);
    if (!__atomic_load_n(&table.taken_over, __ATOMIC_RELAXED)) {
        table_unlock(&saved); /* released meanwhile */
        return sigaction(signal_number, action, previous);
    }
    struct sigaction before = table.program[signal_number];
    int result = 0;
    int error_number = 0;
    /* Our own handler (read through a path that bypasses the hooks) stands
     * for the program's disposition: putting it back changes nothing. */
    if (action && action->sa_sigaction != fatal_signal_handler) {
        result = install_front_locked(signal_number, action);
        error_number = errno;
        if (result == 0) {
            table.program[signal_number] = *action;
        }
    }
    table_unlock(&saved);
    if (result < 0) {
        errno = error_number;
        return -1;
    }
    if (previous) {
        *previous = before;
    }
    return 0;
}

void (*fatal_signals_signal(int signal_number, void (*handler)(int)))(int)
{
    if (handler == SIG_ERR || !is_taken_signal(signal_number) || !fatal_signals_taken_over()) {
        return signal(signal_number, handler);
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    sigaddset(&action.sa_mask, signal_number);
    action.sa_flags = SA_RESTART;
    struct sigaction previous;
    if (fatal_signals_sigaction(signal_number, &action, &previous) < 0) {
        return SIG_ERR;
    }
    return previous.sa_handler;
}
