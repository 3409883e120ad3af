/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: request paths, as any client on the network may send them, against the
 * channel server's route patterns. Matching must never read past the path, overflow a
 * number or accept a path that is not the pattern with digits where it has '#'. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const patterns[] = {
    "/iptv/channels.m3u", "/iptv/channel/#.ts", "/iptv/channel/#/#.ts",
    "/api/channels/#/schedule", "#", "##", "/#/#",
};

/* The path is the pattern with 1..18 digits where it has '#', nothing else. */
static int shaped(const char *pattern, const char *path)
{
    while (*pattern) {
        if (*pattern == '#') {
            int d = 0;
            while (*path >= '0' && *path <= '9')
                path++, d++;
            if (d < 1 || d > 18)
                return 0;
            pattern++;
        } else if (*pattern++ != *path++) {
            return 0;
        }
    }
    return !*path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *path = malloc(size + 1);
    if (!path)
        return 0;
    memcpy(path, data, size);
    path[size] = 0;
    for (size_t i = 0; i < sizeof(patterns) / sizeof(*patterns); i++) {
        int64_t args[2] = { -1, -1 };
        int m = chs_route_match(patterns[i], path, args);
        if (m != 1 && m != 0)
            abort();
        /* "##" can never match: two numbers with nothing between them are one number */
        int want = shaped(patterns[i], path) && strcmp(patterns[i], "##");
        if (m != want)
            abort();
        for (int k = 0; m && k < 2; k++)
            if (args[k] < -1 || args[k] >= 1000000000000000000LL)
                abort();
    }
    free(path);
    return 0;
}
