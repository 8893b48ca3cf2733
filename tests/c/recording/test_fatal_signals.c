/*
 * fatal_signals: while taken over, the program's dispositions are kept aside
 * and answered back, its handlers run as the kernel would run them (its
 * mask, SA_SIGINFO, SA_RESETHAND, SA_NODEFER), SIG_IGN is applied for real,
 * and release gives back exactly the program's last disposition.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/recording/fatal_signals.h"
#include "tests/c/test_harness.h"

static volatile sig_atomic_t handled_count;
static volatile sig_atomic_t handled_signal;
static volatile sig_atomic_t usr2_blocked_inside;
static volatile sig_atomic_t own_blocked_inside;
static volatile sig_atomic_t info_signal;

static void note_blocked(int number)
{
    sigset_t current;
    pthread_sigmask(SIG_BLOCK, NULL, &current);
    usr2_blocked_inside = sigismember(&current, SIGUSR2);
    own_blocked_inside = sigismember(&current, number);
}

static void plain_handler(int number)
{
    handled_signal = number;
    handled_count++;
    note_blocked(number);
}

static void information_handler(int number, siginfo_t *info, void *context)
{
    (void)context;
    info_signal = info ? info->si_signo : -1;
    handled_signal = number;
    handled_count++;
    note_blocked(number);
}

static void reset_notes(void)
{
    handled_count = handled_signal = usr2_blocked_inside = own_blocked_inside = 0;
    info_signal = 0;
}

static void test_program_handler_runs_with_its_mask_and_flags(void)
{
    fatal_signals_take_over();
    CHECK(fatal_signals_taken_over());
    struct sigaction program;
    memset(&program, 0, sizeof program);
    program.sa_sigaction = information_handler;
    program.sa_flags = SA_SIGINFO;
    sigemptyset(&program.sa_mask);
    sigaddset(&program.sa_mask, SIGUSR2);
    CHECK(fatal_signals_sigaction(SIGUSR1, &program, NULL) == 0);

    struct sigaction kept;
    CHECK(fatal_signals_sigaction(SIGUSR1, NULL, &kept) == 0);
    CHECK(kept.sa_sigaction == information_handler);
    CHECK(kept.sa_flags & SA_SIGINFO);
    CHECK(sigismember(&kept.sa_mask, SIGUSR2));
    struct sigaction real;
    sigaction(SIGUSR1, NULL, &real);
    CHECK(real.sa_sigaction != information_handler); /* ours is in front */
    CHECK(sigismember(&real.sa_mask, SIGUSR2));

    reset_notes();
    raise(SIGUSR1);
    CHECK_EQ_U64(handled_count, 1);
    CHECK_EQ_U64(info_signal, SIGUSR1);
    CHECK(usr2_blocked_inside);
    CHECK(own_blocked_inside);
}

static void test_nodefer_and_resethand(void)
{
    struct sigaction program;
    memset(&program, 0, sizeof program);
    program.sa_handler = plain_handler;
    program.sa_flags = SA_NODEFER | SA_RESETHAND;
    sigemptyset(&program.sa_mask);
    CHECK(fatal_signals_sigaction(SIGUSR2, &program, NULL) == 0);
    reset_notes();
    raise(SIGUSR2);
    CHECK_EQ_U64(handled_count, 1);
    CHECK_EQ_U64(handled_signal, SIGUSR2);
    CHECK(!own_blocked_inside);
    struct sigaction kept;
    CHECK(fatal_signals_sigaction(SIGUSR2, NULL, &kept) == 0);
    CHECK(kept.sa_handler == SIG_DFL); /* reset on delivery */
}

static void test_ignore_is_applied_for_real(void)
{
    struct sigaction ignore;
    memset(&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    struct sigaction before;
    CHECK(fatal_signals_sigaction(SIGHUP, &ignore, &before) == 0);
    CHECK(before.sa_handler == SIG_DFL);
    struct sigaction real;
    sigaction(SIGHUP, NULL, &real);
    CHECK(real.sa_handler == SIG_IGN);
    raise(SIGHUP); /* would end the test if not ignored */
    CHECK(fatal_signals_signal(SIGHUP, plain_handler) == SIG_IGN);
    sigaction(SIGHUP, NULL, &real);
    CHECK(real.sa_handler != SIG_IGN && real.sa_handler != plain_handler);
    CHECK(real.sa_flags & SA_RESTART); /* signal(3)'s BSD semantics, copied */
    reset_notes();
    raise(SIGHUP);
    CHECK_EQ_U64(handled_signal, SIGHUP);
}

static void test_other_signals_pass_through(void)
{
    struct sigaction program;
    memset(&program, 0, sizeof program);
    program.sa_handler = plain_handler;
    CHECK(fatal_signals_sigaction(SIGCHLD, &program, NULL) == 0);
    struct sigaction real;
    sigaction(SIGCHLD, NULL, &real);
    CHECK(real.sa_handler == plain_handler);
    program.sa_handler = SIG_DFL;
    CHECK(fatal_signals_sigaction(SIGCHLD, &program, NULL) == 0);
    CHECK(fatal_signals_sigaction(SIGKILL, &program, NULL) == -1);
}

static void test_release_gives_back_the_last_dispositions(void)
{
    fatal_signals_release();
    CHECK(!fatal_signals_taken_over());
    struct sigaction real;
    sigaction(SIGUSR1, NULL, &real);
    CHECK(real.sa_sigaction == information_handler);
    sigaction(SIGHUP, NULL, &real);
    CHECK(real.sa_handler == plain_handler);
    sigaction(SIGUSR2, NULL, &real);
    CHECK(real.sa_handler == SIG_DFL);
    sigaction(SIGTERM, NULL, &real);
    CHECK(real.sa_handler == SIG_DFL);
    /* Not taken over any more: straight through. */
    CHECK(fatal_signals_signal(SIGHUP, SIG_DFL) == plain_handler);
    sigaction(SIGHUP, NULL, &real);
    CHECK(real.sa_handler == SIG_DFL);
}

int main(void)
{
    RUN_TEST(test_program_handler_runs_with_its_mask_and_flags);
    RUN_TEST(test_nodefer_and_resethand);
    RUN_TEST(test_ignore_is_applied_for_real);
    RUN_TEST(test_other_signals_pass_through);
    RUN_TEST(test_release_gives_back_the_last_dispositions);
    return test_harness_exit_code();
}
