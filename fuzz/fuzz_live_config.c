/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: the channels config file is written by hand and re-read on SIGHUP; parsing
 * it must not crash, hang or leak, a refusal must say why in one line naming the file, and
 * an accepted config must hold what the rest of the server relies on. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

#include "live/live.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_item(const VpiLiveItemCfg *it, int ad)
{
    if (!it->file || !it->file[0] || !it->path || !it->title)
        abort();
    if (ad && (it->nb_breaks || it->breaks_auto))
        abort();
    for (int i = 0; i < it->nb_breaks; i++)
        if (!(it->breaks[i] > 0) || (i && !(it->breaks[i] > it->breaks[i - 1])))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    VpiLiveConfig cfg;
    char why[512];
    int ret = vpi_live_config_parse("fuzz/ch.json", (const char *)data, size, &cfg, why,
                                    sizeof(why));
    if (ret < 0) {
        if (ret != VP_ERR_BAD_CONFIG && ret != AVERROR(ENOMEM))
            abort();
        if (strncmp(why, "fuzz/ch.json: ", 14) || strchr(why, '\n') || cfg.channels)
            abort();
        return 0;
    }
    if (cfg.nb_channels < 1 || strcmp(cfg.dir, "fuzz"))
        abort();
    for (int c = 0; c < cfg.nb_channels; c++) {
        const VpiChannelCfg *ch = &cfg.channels[c];
        if (ch->number < 1 || ch->number > 9999 || !ch->name || !ch->name[0] ||
            ch->nb_items < 1 || ch->ads_per_break < 0 || ch->ads_per_break > 20 ||
            ch->nb_ads < 0 || (ch->format.set && (ch->format.fps_den <= 0 ||
                                                  ch->format.fps_num <= 0)))
            abort();
        for (int k = 0; k < c; k++)
            if (cfg.channels[k].number == ch->number)
                abort();
        for (int i = 0; i < ch->nb_items; i++)
            check_item(&ch->items[i], 0);
        for (int i = 0; i < ch->nb_ads; i++)
            check_item(&ch->ads[i], 1);
    }
    vpi_live_config_free(&cfg);
    return 0;
}
