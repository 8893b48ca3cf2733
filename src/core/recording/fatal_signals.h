/*
 * Deaths by signal that lose nothing: while a recording runs, memlyze's
 * handler stands in front of every signal whose default action ends the
 * process, and the program's own dispositions are kept aside.
 *
 * On delivery the handler calls the program's handler exactly as the kernel
 * would have (the kernel already applied the program's mask and flags, which
 * ours copies); when the program's disposition is the default, it seals the
 * capture (recorder_seal), puts SIG_DFL back and raises the signal again, so
 * that the process dies by it with the same status and core dump. A program
 * that sets a disposition later (through the sigaction and signal hooks)
 * changes what is kept aside; SIG_IGN is applied for real; queries answer
 * with the program's own. With --ring (recorder_ring_active), SIGUSR2 asks
 * for a ring dump first, then goes to the program's handler; with the
 * default disposition, or SIG_IGN, it does nothing more (the process lives
 * on). Plain C; no Python.h.
 */
#ifndef MEMLYZE_FATAL_SIGNALS_H
#define MEMLYZE_FATAL_SIGNALS_H

#include <signal.h>

/* Takes over the terminating signals (SIGHUP, SIGINT, SIGQUIT, SIGILL,
 * SIGABRT, SIGBUS, SIGFPE, SIGUSR1, SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM,
 * SIGTERM, SIGXCPU, SIGXFSZ, SIGSYS) that the program does not ignore.
 * Idempotent; thread-safe. */
void fatal_signals_take_over(void);

/* Gives every signal back the disposition the program last set for it.
 * Idempotent; thread-safe. */
void fatal_signals_release(void);

/* What sigaction(2) does, as the program sees it: for a signal taken over,
 * action becomes the program's disposition (SIG_IGN for real, anything else
 * kept aside behind our handler) and previous receives the program's
 * previous one; other signals, and other processes sharing this memory (a
 * vfork child), go straight to sigaction. Async-signal-safe. */
int fatal_signals_sigaction(int signal_number, const struct sigaction *action,
                            struct sigaction *previous);

/* What signal(3) does (glibc's BSD semantics: SA_RESTART, the signal blocked
 * in its handler), through fatal_signals_sigaction. */
void (*fatal_signals_signal(int signal_number, void (*handler)(int)))(int);

/* Nonzero while the signals are taken over in this process. */
int fatal_signals_taken_over(void);

#endif
