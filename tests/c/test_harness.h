/*
 * A tiny test harness: CHECK records a failure and goes on; a test program's
 * main runs its tests with RUN_TEST and returns test_harness_exit_code().
 */
#ifndef MEMLYZE_TEST_HARNESS_H
#define MEMLYZE_TEST_HARNESS_H

#include <stdio.h>

extern int test_harness_failures;
extern int test_harness_checks;

#define CHECK(condition)                                                                  \
    do {                                                                                  \
        test_harness_checks++;                                                            \
        if (!(condition)) {                                                               \
            test_harness_failures++;                                                      \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
        }                                                                                 \
    } while (0)

#define CHECK_EQ_U64(actual, expected)                                                     \
    do {                                                                                   \
        unsigned long long check_actual = (unsigned long long)(actual);                    \
        unsigned long long check_expected = (unsigned long long)(expected);                \
        test_harness_checks++;                                                             \
        if (check_actual != check_expected) {                                              \
            test_harness_failures++;                                                       \
            fprintf(stderr, "%s:%d: %s is %llu, expected %llu\n", __FILE__, __LINE__,      \
                    #actual, check_actual, check_expected);                                \
        }                                                                                  \
    } while (0)

#define RUN_TEST(function)                            \
    do {                                              \
        int failures_before = test_harness_failures; \
        function();                                   \
        fprintf(stderr, "%s %s\n",                   \
                test_harness_failures == failures_before ? "ok  " : "FAIL", #function); \
    } while (0)

/* Prints the closing line and returns the process exit code. */
int test_harness_exit_code(void);

#endif
