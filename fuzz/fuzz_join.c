/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: a hostile file joined after itself (vp_joiner_run) must give an output or
 * one reason, without crashing, hanging or leaking, and leave nothing behind on failure.
 * Everything happens in a fresh temporary folder, removed afterwards. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vidpipe/join.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Number of entries in @p dir other than . and .., after removing them if @p remove. */
static int entries(const char *dir, int remove)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    char p[4200];
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        n++;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        if (remove)
            unlink(p);
    }
    if (d)
        closedir(d);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    const char *tmp = getenv("TMPDIR");
    char dir[4096], seg[4200], out[4200];
    VpFailure fail;
    VpJoiner *j = NULL;
    VpJoinStats st;

    if (!init) {
        vp_set_log_callback(NULL, NULL, 0);
        init = 1;
    }
    snprintf(dir, sizeof(dir), "%s/vpfuzz_join.XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return 0;
    snprintf(seg, sizeof(seg), "%s/seg.mp4", dir);
    snprintf(out, sizeof(out), "%s/out.mp4", dir);
    FILE *f = fopen(seg, "wb");
    if (f) {
        size_t w = fwrite(data, 1, size, f);
        if (fclose(f) == 0 && w == size && vp_joiner_new(NULL, &j) == 0) {
            const char *const segs[2] = { seg, seg };
            int r = vp_joiner_run(j, out, segs, 2, &st, &fail);
            if (r < 0 && (!fail.message[0] || entries(dir, 0) != 1))
                abort(); /* a failure names its reason and leaves only the input */
            if (r == 0 && access(out, R_OK) != 0)
                abort();
            vp_joiner_free(&j);
        }
    }
    entries(dir, 1);
    rmdir(dir);
    return 0;
}
