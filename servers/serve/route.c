/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "route.h"

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_token_char(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '_';
}

int sv_route_match(const char *pattern, const char *path, int64_t nums[2],
                   char token[SV_TOKEN_MAX + 1])
{
    int n = 0, tokens = 0;
    while (*pattern) {
        if (*pattern == '#') {
            int digits = 0;
            int64_t v = 0;
            while (is_digit(*path)) {
                if (++digits > 18)
                    return 0;
                v = v * 10 + (*path++ - '0');
            }
            if (!digits || n >= 2)
                return 0;
            nums[n++] = v;
            pattern++;
        } else if (*pattern == '*') {
            size_t len = 0;
            while (is_token_char(path[len]))
                if (++len > SV_TOKEN_MAX)
                    return 0;
            if (!len || tokens++)
                return 0;
            memcpy(token, path, len);
            token[len] = 0;
            path += len;
            pattern++;
        } else if (*pattern++ != *path++) {
            return 0;
        }
    }
    return !*path;
}
