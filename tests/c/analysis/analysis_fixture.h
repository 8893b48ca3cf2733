/* A small capture built in memory and analysed: the fixture the analysis
 * tests share (analysis_fixture.c). */
#ifndef MEMLYZE_TESTS_ANALYSIS_FIXTURE_H
#define MEMLYZE_TESTS_ANALYSIS_FIXTURE_H

#include "core/analysis/capture_analysis.h"
#include "tests/c/capture_builder.h"

#define PAGE 4096u

/* A capture being built, then analysed. */
struct fixture {
    struct capture_builder builder;
    struct capture_reader *reader;
    struct capture_analysis *analysis;
    const struct analysis_summary *summary;
};

/* Starts a capture with strings, frames and stacks:
 *   stack 1: alpha a.py:10
 *   stack 2: beta b.py:20   <- alpha a.py:10
 *   stack 3: alpha a.py:10  <- beta b.py:20 <- alpha a.py:10
 *   stack 4: alpha a.py:11
 * Stacks 1 and 3 share the location alpha a.py:10. */
void fixture_begin(struct fixture *fixture, uint64_t flags);
/* Closes the capture (unless truncated is set) and analyses it. Returns 0,
 * or -1 (a failed CHECK says why). */
int fixture_analyse(struct fixture *fixture, int truncated);
void fixture_end(struct fixture *fixture);

/* The figures of stack_id in a view, 0/0 when it is not listed. */
void stack_figures(const struct capture_analysis *analysis, enum analysis_stack_view view,
                   uint32_t stack_id, uint64_t *bytes, uint64_t *count);
/* CHECKs that stack_id has these figures in the view. */
void check_stack(const struct capture_analysis *analysis, enum analysis_stack_view view,
                 uint32_t stack_id, uint64_t bytes, uint64_t count);

#endif
