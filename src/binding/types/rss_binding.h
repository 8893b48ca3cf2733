/* This process's resident set size for the binding's tracers (rss_binding.c). */
#ifndef MEMLYZE_RSS_BINDING_H
#define MEMLYZE_RSS_BINDING_H

#include <stdint.h>

/* Current RSS in bytes from the binding's kept-open /proc/self/statm (one
 * pread; reopened after fork), 0 when unreadable. Call with the GIL held. */
uint64_t binding_rss_current(void);
/* Peak RSS in bytes: the larger of getrusage's high-water mark and the
 * largest RSS binding_rss_current has returned (it reads the RSS now too). */
uint64_t binding_rss_peak(void);

#endif
