/* Random streams of allocations, frees, mappings and partial unmaps from
 * several threads, against a brute-force model: the analysis (what `stats`
 * reads) and the report collection (what every other report reads) must
 * both give the model's peak snapshot and leaks, stack by stack. */
#include <string.h>

#include "core/analysis/capture_analysis.h"
#include "core/reports/report_collection.h"
#include "tests/c/analysis/analysis_fixture.h"
#include "tests/c/capture_builder.h"
#include "tests/c/test_harness.h"

#define MODEL_STACKS 6
#define MODEL_SLOTS 48
#define MODEL_PAGES 64

/* The model: malloc blocks by address slot; mappings as a page map where
 * each mmap gives its pages a new piece number, and a live mapping block is
 * a run of adjacent pages with one piece number. */
struct model {
    int block_live[MODEL_SLOTS];
    uint64_t block_size[MODEL_SLOTS];
    uint32_t block_stack[MODEL_SLOTS];
    int page_owner[MODEL_PAGES];   /* stack + 1, 0 when unmapped */
    int page_piece[MODEL_PAGES];   /* pieces differ across mapping boundaries */
    int next_piece;
    uint64_t heap;
    uint64_t peak;
    uint64_t peak_bytes[MODEL_STACKS];
    uint64_t peak_count[MODEL_STACKS];
};

/* Bytes and live blocks of each stack now. Mapping pieces are runs of
 * pages with one piece number. */
static void model_figures(const struct model *model, uint64_t *bytes, uint64_t *count)
{
    memset(bytes, 0, MODEL_STACKS * sizeof *bytes);
    memset(count, 0, MODEL_STACKS * sizeof *count);
    for (int slot = 0; slot < MODEL_SLOTS; slot++) {
        if (model->block_live[slot]) {
            bytes[model->block_stack[slot]] += model->block_size[slot];
            count[model->block_stack[slot]]++;
        }
    }
    for (int page = 0; page < MODEL_PAGES; page++) {
        int owner = model->page_owner[page];
        if (owner) {
            bytes[owner - 1] += PAGE;
            int continues = page > 0 && model->page_owner[page - 1] &&
                            model->page_piece[page - 1] == model->page_piece[page];
            count[owner - 1] += !continues;
        }
    }
}

static void model_after_change(struct model *model)
{
    uint64_t bytes[MODEL_STACKS], count[MODEL_STACKS];
    model_figures(model, bytes, count);
    uint64_t heap = 0;
    for (int stack = 0; stack < MODEL_STACKS; stack++) {
        heap += bytes[stack];
    }
    model->heap = heap;
    if (heap > model->peak) {
        model->peak = heap;
        memcpy(model->peak_bytes, bytes, sizeof bytes);
        memcpy(model->peak_count, count, sizeof count);
    }
}

/* Unmaps pages [first, last). A mapping cut in the middle needs no
 * renumbering: its two sides are no longer adjacent, so they count as two
 * runs. */
static void model_unmap(struct model *model, int first, int last)
{
    for (int page = first; page < last; page++) {
        model->page_owner[page] = 0;
    }
}

static uint64_t model_random_state = 0x2545F4914F6CDD1DULL;

static uint64_t model_random(void)
{
    model_random_state ^= model_random_state << 13;
    model_random_state ^= model_random_state >> 7;
    model_random_state ^= model_random_state << 17;
    return model_random_state;
}

#define SLOT_ADDRESS(slot) (0x10000u + (uint64_t)(slot) * 64u)
#define PAGE_ADDRESS(page) (0x40000000u + (uint64_t)(page) * PAGE)

/* One random event, applied to both the model and the builder, from one of
 * three threads (the model needs none: its figures are per stack). */
static void random_event(struct model *model, struct capture_builder *builder)
{
    builder_switch_thread(builder, 1 + model_random() % 3);
    uint64_t choice = model_random() % 10;
    uint32_t stack = (uint32_t)(model_random() % MODEL_STACKS);
    if (choice < 4) {
        int slot = (int)(model_random() % MODEL_SLOTS);
        uint64_t size = model_random() % 1000;
        builder_alloc(builder, choice == 0 ? ALLOCATOR_CALLOC : ALLOCATOR_MALLOC,
                      SLOT_ADDRESS(slot), size, stack < 5 ? stack : 0);
        model->block_live[slot] = 1;
        model->block_size[slot] = size;
        model->block_stack[slot] = stack < 5 ? stack : 0;
    } else if (choice < 7) {
        int slot = (int)(model_random() % MODEL_SLOTS);
        builder_free(builder, SLOT_ADDRESS(slot));
        model->block_live[slot] = 0;
    } else if (choice < 8) {
        int first = (int)(model_random() % MODEL_PAGES);
        int length = 1 + (int)(model_random() % 8);
        int last = first + length > MODEL_PAGES ? MODEL_PAGES : first + length;
        builder_alloc(builder, ALLOCATOR_MMAP, PAGE_ADDRESS(first), (uint64_t)(last - first) * PAGE,
                      stack < 5 ? stack : 0);
        model_unmap(model, first, last);
        int piece = ++model->next_piece;
        for (int page = first; page < last; page++) {
            model->page_owner[page] = (int)(stack < 5 ? stack : 0) + 1;
            model->page_piece[page] = piece;
        }
    } else {
        int first = (int)(model_random() % MODEL_PAGES);
        int length = 1 + (int)(model_random() % 12);
        int last = first + length > MODEL_PAGES ? MODEL_PAGES : first + length;
        builder_munmap(builder, PAGE_ADDRESS(first), (uint64_t)(last - first) * PAGE);
        model_unmap(model, first, last);
    }
    model_after_change(model);
}

/* What the report collection of the same capture gives stack_id under a
 * selection: the sum of its contexts, as every report adds them up. */
static struct analysis_figures report_stack_sum(const struct report_collection *collection,
                                                uint32_t stack_id,
                                                enum analysis_selection selection)
{
    struct analysis_figures sum = {0, 0};
    size_t count;
    const struct analysis_context_view *contexts = report_collection_contexts(collection, &count);
    for (size_t index = 0; index < count; index++) {
        if (contexts[index].stack_id == stack_id) {
            sum.bytes += contexts[index].selected[selection].bytes;
            sum.count += contexts[index].selected[selection].count;
        }
    }
    return sum;
}

/* The reports' view of the capture holds the model's figures too. */
static void check_reports_agree(const struct fixture *fixture, const struct model *model,
                                const uint64_t *bytes, const uint64_t *count)
{
    struct capture_error error;
    struct capture_reader *reader = capture_reader_open_memory(
        fixture->builder.file.data, fixture->builder.file.size, &error);
    struct analysis_options options;
    analysis_options_init(&options);
    options.temporal = 1;
    struct report_collection *collection = reader ? report_collect(reader, &options, &error) : NULL;
    CHECK(collection != NULL);
    if (collection) {
        CHECK_EQ_U64(report_collection_summary(collection)->peak_bytes, model->peak);
        for (uint32_t stack = 0; stack < 5; stack++) {
            struct analysis_figures peak = report_stack_sum(collection, stack, ANALYSIS_SELECT_PEAK);
            struct analysis_figures leaks =
                report_stack_sum(collection, stack, ANALYSIS_SELECT_LEAKS);
            CHECK_EQ_U64(peak.bytes, model->peak_bytes[stack]);
            CHECK_EQ_U64(peak.count, model->peak_count[stack]);
            CHECK_EQ_U64(leaks.bytes, bytes[stack]);
            CHECK_EQ_U64(leaks.count, count[stack]);
        }
    }
    report_collection_free(collection);
    capture_reader_close(reader);
}

/* Runs one random stream and compares the peak snapshot and leaks, in the
 * analysis `stats` reads and in the collection every other report reads. */
static void random_stream_round(int events)
{
    static struct model model;
    memset(&model, 0, sizeof model);
    struct fixture fixture;
    fixture_begin(&fixture, 0);
    for (uint64_t thread = 1; thread <= 3; thread++) {
        builder_thread(&fixture.builder, thread, 100 + thread, 1);
    }
    for (int event = 0; event < events; event++) {
        random_event(&model, &fixture.builder);
        if (event % 500 == 499) {
            builder_flush_chunk(&fixture.builder);
        }
    }
    if (fixture_analyse(&fixture, 0) == 0) {
        CHECK_EQ_U64(fixture.summary->peak_bytes, model.peak);
        uint64_t bytes[MODEL_STACKS], count[MODEL_STACKS];
        model_figures(&model, bytes, count);
        for (uint32_t stack = 0; stack < 5; stack++) {
            check_stack(fixture.analysis, ANALYSIS_STACKS_AT_PEAK, stack, model.peak_bytes[stack],
                        model.peak_count[stack]);
            check_stack(fixture.analysis, ANALYSIS_STACKS_LEAKED, stack, bytes[stack],
                        count[stack]);
        }
        CHECK_EQ_U64(fixture.summary->leaked_bytes, model.heap);
        check_reports_agree(&fixture, &model, bytes, count);
    }
    fixture_end(&fixture);
}

static void test_random_streams_against_model(void)
{
    for (int round = 0; round < 60; round++) {
        random_stream_round(50 + round * 40);
    }
}

int main(void)
{
    RUN_TEST(test_random_streams_against_model);
    return test_harness_exit_code();
}
