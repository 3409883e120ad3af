/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "route.h"

int chs_route_match(const char *pattern, const char *path, int64_t *args)
{
    int n = 0;
    while (*pattern) {
        if (*pattern == '#') {
            int digits = 0;
            int64_t v = 0;
            while (*path >= '0' && *path <= '9') {
                if (++digits > 18)
                    return 0;
                v = v * 10 + (*path++ - '0');
            }
            if (!digits || n >= 2)
                return 0;
            args[n++] = v;
            pattern++;
        } else if (*pattern++ != *path++) {
            return 0;
        }
    }
    return !*path;
}
