/* Threads of the core's own (the writer, the live server) never take the
 * program's signals: a signal meant for the program must reach one of its
 * threads, whose handlers expect it there. */
#ifndef MEMLYZE_CORE_BASE_SIGNAL_FREE_THREAD_H
#define MEMLYZE_CORE_BASE_SIGNAL_FREE_THREAD_H

#include <pthread.h>

/* pthread_create() with every signal blocked in the new thread. Returns
 * pthread_create()'s result. */
int signal_free_thread_start(pthread_t *thread, void *(*thread_main)(void *), void *argument);

#endif
