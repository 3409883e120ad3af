/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* User files (presets, QC specs) read with jansson: untrusted input, so bounded in size,
 * strict about syntax and UTF-8, and every failure says where. Plus the declarative field
 * tables that map JSON objects onto option structs. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

#include "json.h"

#define MAX_TEXT (1 << 20)

int vpi_json_parse(const char *text, size_t len, json_t **out, char *err, size_t err_size)
{
    json_error_t je;

    *out = NULL;
    if (err && err_size)
        err[0] = 0;
    if (len > MAX_TEXT) {
        if (err)
            snprintf(err, err_size, "larger than %d bytes", MAX_TEXT);
        return AVERROR_INVALIDDATA;
    }
    /* JSON_DECODE_ANY: a top-level number is refused by the caller's type check, with the
     * caller's words ("QC spec must be a JSON object"). \u0000 stays refused (no
     * JSON_ALLOW_NUL): a C string cannot carry it. */
    json_t *root = json_loadb(text, len, JSON_DECODE_ANY, &je);
    if (!root) {
        if (!err)
            return AVERROR_INVALIDDATA;
        if (json_error_code(&je) == json_error_out_of_memory)
            return AVERROR(ENOMEM);
        if (json_error_code(&je) == json_error_invalid_utf8)
            snprintf(err, err_size, "line %d, column %d: not valid UTF-8", je.line, je.column);
        else
            snprintf(err, err_size, "line %d, column %d: %s", je.line, je.column, je.text);
        /* jansson quotes the text near the error, a line break included: one line (found
         * by libFuzzer through the pipeline file reader) */
        for (char *c = err; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                *c = '?';
        return AVERROR_INVALIDDATA;
    }
    *out = root;
    return 0;
}

int vpi_json_read_file(const char *path, json_t **out, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;
    int ret;

    *out = NULL;
    if (!f) {
        ret = AVERROR(errno);
        snprintf(err, err_size, "%s", av_err2str(ret));
        return ret;
    }
    if (!(buf = malloc(MAX_TEXT + 1))) {
        fclose(f);
        return AVERROR(ENOMEM);
    }
    n = fread(buf, 1, MAX_TEXT + 1, f);
    ret = ferror(f) ? AVERROR(EIO) : 0;
    fclose(f);
    if (ret < 0)
        snprintf(err, err_size, "read error");
    else
        ret = vpi_json_parse(buf, n, out, err, err_size);
    free(buf);
    return ret;
}
