/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Export presets: one declarative table of fields (defaults, JSON, ranges) and the built-in
 * presets as data. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>
#include <libavutil/rational.h>

#include "encode/encoder.h"
#include "options/options_json.h"
#include "util/json.h"
#include "vidpipe/export.h"

#define MAX_PRESETS 256

struct VpPresetSet {
    VpPreset *v;
    int nb;
};

static int valid_name(const char *n);

#define FN(n, t, lo, hi, h, ...) \
    { .name = #n, .help = h, .type = VPI_OPT_##t, .offset = offsetof(VpPreset, n), \
      .min = lo, .max = hi, __VA_ARGS__ }
#define FS(n, h, ...) \
    { .name = #n, .help = h, .type = VPI_OPT_STRING, .offset = offsetof(VpPreset, n), \
      .size = sizeof(((VpPreset *)0)->n), __VA_ARGS__ }

/* No defaults: a preset starts from its base (web_optimized when it names none). */
static const VpiOption preset_fields[] = {
    FS(name, "preset name, [a-z0-9_-]"),
    FS(description, "what it is for"),
    FN(width, INT, 16, 8192, "frame width the picture is fitted and padded to",
       .flags = VPI_OPT_EVEN),
    FN(height, INT, 16, 8192, "frame height", .flags = VPI_OPT_EVEN),
    FN(fps, DOUBLE, 1, 240, "frame rate"),
    FN(crf, INT, 0, 51, "x264 constant rate factor"),
    FS(x264_preset, "x264 preset, ultrafast .. placebo", .names = vpi_x264_presets),
    FN(max_bitrate, BITRATE, 0, 1e9, "video bitrate cap, bits/s (0: none)"),
    FN(audio_bitrate, BITRATE, 8000, 512000, "AAC bitrate, bits/s"),
    { NULL },
};
#undef FN
#undef FS

static int check_preset(const void *obj, char *err, size_t err_size)
{
    const VpPreset *p = obj;
    if (!valid_name(p->name)) {
        snprintf(err, err_size, "name: '%s' is not 1-31 characters of a-z, 0-9, _ and -",
                 p->name);
        return VP_ERR_BAD_OPTION;
    }
    return 0;
}

static const VpiOptTable preset_options = { "export_preset", preset_fields, check_preset };

/* The platform presets the export scripts used, and the production encoding presets. */
static const VpPreset builtin[] = {
    { "youtube", "YouTube 1080p", 1920, 1080, 30, 18, "slow", 8000000, 192000 },
    { "instagram", "Instagram, vertical", 1080, 1920, 30, 23, "medium", 5000000, 192000 },
    { "tiktok", "TikTok, vertical", 1080, 1920, 30, 23, "fast", 4000000, 192000 },
    { "twitter", "Twitter/X 720p", 1280, 720, 30, 23, "medium", 5000000, 192000 },
    { "facebook", "Facebook 720p", 1280, 720, 30, 23, "medium", 4000000, 192000 },
    { "web_optimized", "web streaming (YouTube, Vimeo)", 1920, 1080, 30, 23, "medium", 0,
      192000 },
    { "high_quality", "high quality archival", 1920, 1080, 30, 18, "slow", 0, 256000 },
    { "social_media", "social media, vertical", 1080, 1920, 30, 23, "fast", 5000000, 128000 },
    { "fast_draft", "quick preview or draft", 1280, 720, 24, 28, "ultrafast", 0, 128000 },
};

int vp_preset_set_new(VpPresetSet **out)
{
    VpPresetSet *s = calloc(1, sizeof(*s));
    *out = NULL;
    if (!s || !(s->v = malloc(sizeof(builtin)))) {
        free(s);
        return AVERROR(ENOMEM);
    }
    memcpy(s->v, builtin, sizeof(builtin));
    s->nb = (int)(sizeof(builtin) / sizeof(builtin[0]));
    *out = s;
    return 0;
}

void vp_preset_set_free(VpPresetSet **s)
{
    if (!s || !*s)
        return;
    free((*s)->v);
    free(*s);
    *s = NULL;
}

const VpPreset *vp_preset_set_find(const VpPresetSet *s, const char *name)
{
    for (int i = 0; i < s->nb; i++)
        if (!strcmp(s->v[i].name, name))
            return &s->v[i];
    return NULL;
}

int vp_preset_set_count(const VpPresetSet *s)
{
    return s->nb;
}

const VpPreset *vp_preset_set_get(const VpPresetSet *s, int i)
{
    return i >= 0 && i < s->nb ? &s->v[i] : NULL;
}

static int valid_name(const char *n)
{
    if (!*n)
        return 0;
    for (; *n; n++)
        if (!((*n >= 'a' && *n <= 'z') || (*n >= '0' && *n <= '9') || *n == '_' || *n == '-'))
            return 0;
    return 1;
}

/* Apply one preset object of the document onto a copy of the set being built. */
static int add_one(VpPresetSet *s, const json_t *o, int index, char *err, size_t err_size)
{
    char what[64];
    VpPreset p;
    const json_t *name = json_object_get(o, "name"), *base = json_object_get(o, "base");
    const char *name_str = json_string_value(name);

    snprintf(what, sizeof(what), "preset %d", index + 1);
    if (!json_is_object(o)) {
        snprintf(err, err_size, "%s must be a JSON object", what);
        return AVERROR_INVALIDDATA;
    }
    if (!name_str || !valid_name(name_str) || strlen(name_str) >= sizeof(p.name)) {
        snprintf(err, err_size, "%s: \"name\" must be 1-31 characters of a-z, 0-9, _ and -",
                 what);
        return AVERROR_INVALIDDATA;
    }
    snprintf(what, sizeof(what), "preset \"%s\"", name_str);
    const VpPreset *from = vp_preset_set_find(s, "web_optimized");
    if (base) {
        if (!json_is_string(base) || !(from = vp_preset_set_find(s, json_string_value(base)))) {
            snprintf(err, err_size, "%s: \"base\" must name a preset defined before it", what);
            return AVERROR_INVALIDDATA;
        }
    }
    p = from ? *from : builtin[5];
    /* "base" is not a field of the preset itself: check the rest through the table. */
    json_t *rest = json_copy((json_t *)o);
    if (!rest)
        return AVERROR(ENOMEM);
    json_object_del(rest, "base");
    int ret = vpi_opt_apply_json(&preset_options, &p, rest, what, err, err_size);
    json_decref(rest);
    if (ret < 0)
        return ret;
    VpPreset *slot = (VpPreset *)vp_preset_set_find(s, p.name);
    if (!slot) {
        if (s->nb >= MAX_PRESETS) {
            snprintf(err, err_size, "more than %d presets", MAX_PRESETS);
            return AVERROR_INVALIDDATA;
        }
        VpPreset *v = realloc(s->v, (size_t)(s->nb + 1) * sizeof(*v));
        if (!v)
            return AVERROR(ENOMEM);
        s->v = v;
        slot = &s->v[s->nb++];
    }
    *slot = p;
    return 0;
}

int vp_preset_set_parse(VpPresetSet *set, const char *text, size_t len, char *err,
                        size_t err_size)
{
    json_t *root = NULL;
    VpPresetSet work = { 0 };
    char local[256];
    int ret;

    if (!err || !err_size) {
        err = local;
        err_size = sizeof(local);
    }
    if ((ret = vpi_json_parse(text, len, &root, err, err_size)) < 0)
        return ret;
    const json_t *list = json_object_get(root, "presets");
    if (!json_is_array(list)) {
        snprintf(err, err_size, "expected {\"presets\": [ ... ]}");
        ret = AVERROR_INVALIDDATA;
        goto end;
    }
    /* Build on a copy so that a bad preset leaves the set as it was. */
    if (!(work.v = malloc((size_t)(set->nb ? set->nb : 1) * sizeof(*work.v)))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    memcpy(work.v, set->v, (size_t)set->nb * sizeof(*work.v));
    work.nb = set->nb;
    for (size_t i = 0; i < json_array_size(list); i++)
        if ((ret = add_one(&work, json_array_get(list, i), (int)i, err, err_size)) < 0)
            goto end;
    free(set->v);
    *set = work;
    work.v = NULL;
    ret = 0;
end:
    free(work.v);
    json_decref(root);
    return ret;
}

int vp_preset_set_load(VpPresetSet *set, const char *path, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int ret = AVERROR(errno);
        snprintf(err, err_size, "%s", vp_strerror(ret));
        return ret;
    }
    size_t cap = 1 << 20;
    char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(f);
        return AVERROR(ENOMEM);
    }
    size_t n = fread(buf, 1, cap + 1, f);
    int rerr = ferror(f);
    fclose(f);
    int ret = rerr ? AVERROR(EIO) : vp_preset_set_parse(set, buf, n, err, err_size);
    if (rerr)
        snprintf(err, err_size, "read error");
    free(buf);
    return ret;
}

void vp_preset_encode_opts(const VpPreset *p, const char *path, VpEncodeOpts *o)
{
    vp_encode_default_opts(o);
    o->path = path;
    o->fit = VP_FIT_PAD;
    o->width = p->width;
    o->height = p->height;
    AVRational q = av_d2q(p->fps, 100000);
    o->fps = (VpRational){ q.num, q.den };
    o->crf = p->crf;
    o->x264_preset = p->x264_preset;
    o->max_bitrate = p->max_bitrate;
    o->audio_bitrate = p->audio_bitrate;
}
