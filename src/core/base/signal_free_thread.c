#include "core/base/signal_free_thread.h"

#include <signal.h>

int signal_free_thread_start(pthread_t *thread, void *(*thread_main)(void *), void *argument)
{
    sigset_t all;
    sigset_t previous;
    sigfillset(&all);
    /* A new thread starts with its creator's mask. */
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    int result = pthread_create(thread, NULL, thread_main, argument);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    return result;
}
