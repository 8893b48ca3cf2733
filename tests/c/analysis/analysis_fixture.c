/* The analysis tests' fixture: see analysis_fixture.h. */
#include "tests/c/analysis/analysis_fixture.h"

#include <stdio.h>
#include <string.h>

#include "tests/c/test_harness.h"

void fixture_begin(struct fixture *fixture, uint64_t flags)
{
    memset(fixture, 0, sizeof *fixture);
    struct capture_builder *builder = &fixture->builder;
    builder_init(builder);
    builder_default_header(builder, flags);
    builder_string(builder, "alpha");
    builder_string(builder, "beta");
    builder_string(builder, "a.py");
    builder_string(builder, "b.py");
    builder_frame(builder, 1, 3, 10, 0);
    builder_frame(builder, 2, 4, 20, 0);
    builder_frame(builder, 1, 3, 11, 0);
    builder_stack(builder, 0, 1);
    builder_stack(builder, 1, 2);
    builder_stack(builder, 2, 1);
    builder_stack(builder, 0, 3);
}

int fixture_analyse(struct fixture *fixture, int truncated)
{
    struct capture_builder *builder = &fixture->builder;
    builder_flush_chunk(builder);
    if (!truncated) {
        builder_finish(builder, 1000000, 12345);
    }
    struct capture_error error;
    fixture->reader = capture_reader_open_memory(builder->file.data, builder->file.size, &error);
    CHECK(fixture->reader != NULL);
    if (!fixture->reader) {
        return -1;
    }
    fixture->analysis = capture_analysis_run(fixture->reader, &error);
    if (!fixture->analysis) {
        fprintf(stderr, "analysis failed: %s\n", error.message);
        return -1;
    }
    fixture->summary = capture_analysis_summary(fixture->analysis);
    return 0;
}

void fixture_end(struct fixture *fixture)
{
    capture_analysis_free(fixture->analysis);
    capture_reader_close(fixture->reader);
    builder_release(&fixture->builder);
}

void stack_figures(const struct capture_analysis *analysis, enum analysis_stack_view view,
                   uint32_t stack_id, uint64_t *bytes, uint64_t *count)
{
    struct analysis_stack_entry *entries;
    size_t total;
    *bytes = *count = 0;
    CHECK(capture_analysis_stack_entries(analysis, view, &entries, &total) == 0);
    for (size_t index = 0; index < total; index++) {
        if (entries[index].stack_id == stack_id) {
            *bytes = entries[index].bytes;
            *count = entries[index].count;
        }
    }
    capture_analysis_stack_entries_free(entries, total);
}

void check_stack(const struct capture_analysis *analysis, enum analysis_stack_view view,
                 uint32_t stack_id, uint64_t bytes, uint64_t count)
{
    uint64_t actual_bytes, actual_count;
    stack_figures(analysis, view, stack_id, &actual_bytes, &actual_count);
    CHECK_EQ_U64(actual_bytes, bytes);
    CHECK_EQ_U64(actual_count, count);
}

