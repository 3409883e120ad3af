/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <time.h>

#include "helpers.h"

int64_t vpi_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
