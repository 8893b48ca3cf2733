/*
 * How long does a free take to learn that its block was not sampled?
 * Remembers 10,000 sampled blocks, then asks about 100 million others and
 * prints the time per question (and, for contrast, per positive answer).
 *
 *   meson setup build-bench -Dtests=true -Dpython_module=false
 *   ninja -C build-bench && ./build-bench/benchmarks/c/sampled_lookup
 */
#include <stdio.h>
#include <time.h>

#include "core/recording/sampler.h"

#define REMEMBERED 10000
#define QUESTIONS 100000000ULL

static double seconds_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

int main(void)
{
    sampler_configure(SAMPLER_BY_BYTES, 512.0 * 1024, 1, 1);
    for (uintptr_t index = 0; index < REMEMBERED; index++) {
        sampler_remember(0x7f0000000000 + index * 4096);
    }
    uint64_t found = 0;
    double started = seconds_now();
    for (uint64_t index = 0; index < QUESTIONS; index++) {
        /* Heap-like addresses, 16-byte aligned, never remembered. */
        found += (uint64_t)sampler_forget(0x5600000000 + index * 48);
    }
    double negative = (seconds_now() - started) / (double)QUESTIONS;
    uint64_t filter_hits = 0;
    for (uint64_t index = 0; index < QUESTIONS / 100; index++) {
        filter_hits += sampler_filter[sampler_filter_slot(0x5600000000 + index * 48)] != 0;
    }
    started = seconds_now();
    for (uintptr_t index = 0; index < REMEMBERED; index++) {
        found += (uint64_t)sampler_forget(0x7f0000000000 + index * 4096);
    }
    double positive = (seconds_now() - started) / REMEMBERED;
    printf("negative answer: %.2f ns per free (%llu questions, %d sampled blocks live)\n",
           negative * 1e9, QUESTIONS, REMEMBERED);
    printf("positive answer: %.1f ns per free (lock + exact set)\n", positive * 1e9);
    printf("wrong answers: %llu; questions that passed the filter to the exact set: %.2f%%\n",
           (unsigned long long)(found - REMEMBERED), 100.0 * (double)filter_hits /
           (double)(QUESTIONS / 100));
    return found >= REMEMBERED ? 0 : 1;
}
