/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A tiny assertion header: failed comparisons print both sides and carry on, and the test
 * exits non-zero at the end. Exit 77 means "skipped" to meson. */
#ifndef VIDPIPE_TESTS_TEST_H
#define VIDPIPE_TESTS_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;
static int test_checks;

#define T_FAIL(...)                                                        \
    do {                                                                   \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                    \
        fprintf(stderr, __VA_ARGS__);                                      \
        fputc('\n', stderr);                                               \
        test_failures++;                                                   \
    } while (0)

#define CHECK(cond)                                                        \
    do {                                                                   \
        test_checks++;                                                     \
        if (!(cond))                                                       \
            T_FAIL("CHECK(%s) failed", #cond);                             \
    } while (0)

#define CHECK_INT(a, op, b)                                                \
    do {                                                                   \
        long long a_ = (long long)(a), b_ = (long long)(b);                \
        test_checks++;                                                     \
        if (!(a_ op b_))                                                   \
            T_FAIL("%s %s %s: %lld vs %lld", #a, #op, #b, a_, b_);         \
    } while (0)
#define CHECK_EQ(a, b) CHECK_INT(a, ==, b)

#define CHECK_STR(a, b)                                                    \
    do {                                                                   \
        const char *a_ = (a), *b_ = (b);                                   \
        test_checks++;                                                     \
        if (!a_ || !b_ || strcmp(a_, b_))                                  \
            T_FAIL("%s == %s: \"%s\" vs \"%s\"", #a, #b, a_ ? a_ : "(null)", \
                   b_ ? b_ : "(null)");                                    \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                              \
    do {                                                                   \
        double a_ = (a), b_ = (b);                                         \
        test_checks++;                                                     \
        if (!(fabs(a_ - b_) <= (tol)))                                     \
            T_FAIL("%s ~= %s: %g vs %g (tolerance %g)", #a, #b, a_, b_,    \
                   (double)(tol));                                         \
    } while (0)

#define TEST_SKIP(...)                                                     \
    do {                                                                   \
        fprintf(stderr, "skipped: " __VA_ARGS__);                          \
        fputc('\n', stderr);                                               \
        exit(77);                                                          \
    } while (0)

#define TEST_END()                                                         \
    do {                                                                   \
        fprintf(stderr, "%d checks, %d failed\n", test_checks, test_failures); \
        return test_failures ? 1 : 0;                                      \
    } while (0)

/* Run a shell command (test media generation); returns its exit status. */
static inline int t_sh(const char *cmd)
{
    int r = system(cmd);
    return r == -1 ? -1 : (r >> 8) & 0xff;
}

#endif
