/*
 * libFuzzer target: any bytes, opened as a capture from memory, read to the
 * end and analysed, must neither crash, read out of bounds, hit undefined
 * behaviour, nor leak (the tracker heap must be back where it started).
 *
 * Inputs are whole files, or records wrapped in a valid capture
 * (fuzz_inputs.h).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <string.h>

#include "core/analysis/capture_analysis.h"
#include "fuzz/fuzz_inputs.h"
#include "core/format/capture_format.h"
#include "core/format/capture_reader.h"
#include "core/base/tracker_memory.h"

/* Uses every result the reports use, so that their code runs too. */
static void use_analysis(const struct capture_analysis *analysis)
{
    const struct analysis_location *top[8];
    for (int ranking = ANALYSIS_BY_PEAK; ranking <= ANALYSIS_LEAKS; ranking++) {
        long count = capture_analysis_top_locations(analysis, (enum analysis_ranking)ranking, 8,
                                                    top);
        for (long index = 0; index < count; index++) {
            const char *function, *file;
            size_t function_size, file_size;
            capture_analysis_location_names(analysis, top[index], &function, &function_size,
                                            &file, &file_size);
            if (!function || !file) {
                abort();
            }
        }
    }
    for (int view = ANALYSIS_STACKS_AT_PEAK; view <= ANALYSIS_STACKS_LEAKED; view++) {
        struct analysis_stack_entry *entries;
        size_t count;
        if (capture_analysis_stack_entries(analysis, (enum analysis_stack_view)view, &entries,
                                           &count) == 0) {
            capture_analysis_stack_entries_free(entries, count);
        }
    }
}

/* Walks every stack to its root, as `CaptureFile.stack()` does. */
static void use_tables(const struct capture_reader *reader)
{
    uint32_t stacks = capture_reader_stack_count(reader);
    for (uint32_t stack_id = 1; stack_id <= stacks; stack_id++) {
        const struct capture_stack *stack = capture_reader_stack(reader, stack_id);
        const struct capture_frame *frame = capture_reader_frame(reader, stack->frame_id);
        if (!frame || !capture_reader_string(reader, frame->function_sid, NULL) ||
            stack->parent_stack_id >= stack_id) {
            abort();
        }
    }
    for (size_t index = 0; index < capture_reader_thread_count(reader); index++) {
        const struct capture_thread *thread = capture_reader_thread(reader, index);
        if (!capture_reader_string(reader, thread->name_sid, NULL)) {
            abort();
        }
    }
}

/* Opens, reads, analyses and closes one capture. */
static void exercise(const uint8_t *data, size_t size)
{
    struct capture_error error;
    struct capture_reader *reader = capture_reader_open_memory(data, size, &error);
    if (reader) {
        struct capture_analysis *analysis = capture_analysis_run(reader, &error);
        if (analysis) {
            use_analysis(analysis);
            capture_analysis_free(analysis);
        }
        use_tables(reader);
        capture_reader_close(reader);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t memory_before = tracker_memory_current();
    struct capture_builder builder;
    if (fuzz_input_capture(data, size, &builder)) {
        uint64_t builder_memory = tracker_memory_current();
        exercise(builder.file.data, builder.file.size);
        fuzz_check_tracker_memory(builder_memory, "reading");
        builder_release(&builder);
    } else {
        exercise(data, size);
    }
    fuzz_check_tracker_memory(memory_before, "in all");
    return 0;
}
