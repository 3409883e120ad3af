/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: the job service's list cursor comes back from any client as a query
 * parameter. Parsing must never read past it, and what it accepts must be exactly what the
 * store writes: printing the numbers back gives the same text. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *c = malloc(size + 1);
    if (!c)
        return 0;
    memcpy(c, data, size);
    c[size] = 0;
    int64_t created = 0, id = 0;
    int ret = vpi_store_cursor_parse(c, &created, &id);
    if (ret == 0 && c[0]) {
        /* accepted: both non-negative, and the text is theirs up to leading zeros */
        if (created < 0 || id < 0)
            abort();
        char back[40];
        snprintf(back, sizeof(back), "%" PRIx64 ".%" PRIx64, created, id);
        int64_t c2, i2;
        if (vpi_store_cursor_parse(back, &c2, &i2) < 0 || c2 != created || i2 != id)
            abort();
        for (const char *p = c; *p; p++)
            if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || *p == '.'))
                abort();
    } else if (ret != 0 && ret >= 0) {
        abort();
    }
    free(c);
    return 0;
}
