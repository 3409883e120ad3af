/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: the HLS playlists vidpipe batch --hls reads back from its output folder (the
 * report's bytes, the folder a replaced playlist lists) are files anyone could have put
 * there. Every path handed on must stay inside the folder: relative, not empty, no ".."
 * component, no scheme; the callback's stop is honoured. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "join/join_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct Seen {
    int n, stop_at;
} Seen;

static int check(void *ctx, const char *rel)
{
    Seen *s = ctx;
    size_t n = strlen(rel);
    int bad = !n || rel[0] == '/' || strstr(rel, "://") || !strcmp(rel, "..") ||
              !strncmp(rel, "../", 3) || strstr(rel, "/../") ||
              (n >= 3 && !strcmp(rel + n - 3, "/..")) || n >= 4096;
    if (bad) {
        fprintf(stderr, "a path that leaves the folder was handed on: \"%s\"\n", rel);
        abort();
    }
    if (s->stop_at && s->n == s->stop_at) {
        fprintf(stderr, "called again after it asked to stop\n");
        abort();
    }
    return ++s->n == s->stop_at;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    for (int stop = 0; stop < 2; stop++) {
        memcpy(text, data, size);
        text[size] = 0;
        Seen s = { 0, stop ? 2 : 0 };
        int ret = vpi_hls_playlist_parse(text, check, &s);
        if (ret > 0 && s.n != s.stop_at) {
            fprintf(stderr, "stopped (%d) without being asked\n", ret);
            abort();
        }
    }
    free(text);
    return 0;
}
