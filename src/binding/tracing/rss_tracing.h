/* Nesting depth shared by the cpymemtrace contexts (rss_tracing.c). */
#ifndef MEMLYZE_RSS_TRACING_H
#define MEMLYZE_RSS_TRACING_H

/* Counts a context in; returns the depth it runs at (0 outermost). */
int rss_tracing_enter_context(void);
/* Counts a context out. */
void rss_tracing_leave_context(void);

#endif
