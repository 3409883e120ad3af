/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The channels config file (docs/channels.md, "Config file"): read with jansson, validated
 * key by key. A config is written by hand and reloaded on SIGHUP while viewers watch, so a
 * typo must stop it with one line naming the key (never a silent default), and nothing of a
 * half-read config may survive. The scalar knobs of a channel and its "format" go through
 * option tables (options/options.h), so their ranges and messages are those of every other
 * settings struct. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

#include "live.h"
#include "options/options.h"
#include "options/options_json.h"
#include "util/json.h"

#define O(...) VPI_OPT_ROW(VpiChannelCfg, __VA_ARGS__)
static const VpiOption channel_options[] = {
    O(number, INT, 0, 1, 9999, "channel number (tvg-chno, /iptv/channel/N.ts), unique"),
    O(ads_per_break, INT, 2, 0, 20, "ads played in each break (0: no breaks)"),
    O(loudness, DOUBLE, -23, -70, -5, "target integrated loudness of every item, LUFS"),
    O(on_demand, BOOL, 1, 0, 1, "run the producer only while someone watches"),
    O(stop_after, DOUBLE, 30, 0, 86400, "seconds after the last viewer before it stops"),
    { NULL },
};
#undef O
static const VpiOptTable channel_table = { "channel", channel_options, NULL };

/* "format" as the table reads it; copied into VpiLiveFormat (fps as two ints there). */
typedef struct FormatOpts {
    int width, height;
    VpRational fps;
    int sample_rate, channels;
} FormatOpts;

#define O(...) VPI_OPT_ROW(FormatOpts, __VA_ARGS__)
static const VpiOption format_options[] = {
    O(width, INT, 0, 16, 8192, "picture width", .flags = VPI_OPT_EVEN),
    O(height, INT, 0, 16, 8192, "picture height", .flags = VPI_OPT_EVEN),
    O(fps, RATIONAL, 0, 1, 240, "frame rate: 25, \"30000/1001\", 29.97"),
    O(sample_rate, INT, 0, 8000, 192000, "audio sample rate, Hz"),
    O(channels, INT, 0, 1, 8, "audio channels"),
    { NULL },
};
#undef O
static const VpiOptTable format_table = { "format", format_options, NULL };

static const char *const top_keys[] = { "channels", NULL };
static const char *const channel_keys[] = {
    "number", "name", "start", "items", "ads", "ads_per_break", "loudness", "on_demand",
    "stop_after", "format", NULL,
};
static const char *const item_keys[] = { "file", "title", "breaks", NULL };

typedef struct Parse {
    const char *path;
    char *why;
    size_t why_size;
} Parse;

/* Messages quote the file (jansson's "near '...'", a bad "fps" value): a newline or other
 * control byte in them must not split the one line. */
static void one_line(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

/* One line: "PATH: KEY: reason". Returns VP_ERR_BAD_CONFIG. */
static int VPI_PRINTF(3, 4) bad(Parse *p, const char *key, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (p->why && p->why_size) {
        snprintf(p->why, p->why_size, "%s: %s%s%s", p->path, key, *key ? ": " : "", msg);
        one_line(p->why);
    }
    return VP_ERR_BAD_CONFIG;
}

/* Text from the file quoted in a message: one line, bounded, control bytes shown as '?'. */
static const char *shown(const char *s, char *buf, size_t size)
{
    size_t n = 0;
    for (; *s && n + 4 < size; s++)
        buf[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
    if (*s)
        buf[n++] = '.', buf[n++] = '.', buf[n++] = '.';
    buf[n] = 0;
    return buf;
}

static int is_one_of(const char *key, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(key, names[i]))
            return 1;
    return 0;
}

/* Every key of @p obj must be one of @p names: a misspelt "ads_per_brake" would otherwise
 * leave the default in force without a word. */
static int check_keys(Parse *p, const char *where, const json_t *obj, const char *const *names)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        if (is_one_of(key, names))
            continue;
        char known[256] = "", k[80], at[300];
        size_t n = 0;
        for (int i = 0; names[i] && n < sizeof(known); i++)
            n += snprintf(known + n, sizeof(known) - n, "%s%s", i ? ", " : "", names[i]);
        snprintf(at, sizeof(at), "%s%s%s", where, *where ? "." : "", shown(key, k, sizeof(k)));
        return bad(p, at, "unknown key (known: %s)", known);
    }
    return 0;
}

/* Key @p key of @p obj through @p t (when present). The table's message starts with the
 * key's name, so the prefix makes it "channels[0].ads_per_break: value 25 is out of ...". */
static int table_key(Parse *p, const char *where, const VpiOptTable *t, void *dst,
                     const json_t *obj, const char *key)
{
    const json_t *j = json_object_get(obj, key);
    char msg[256];
    if (!j)
        return 0;
    VpiValue v = vpi_value_of_json(j);
    if (vpi_opt_set_value(t, dst, key, &v, msg, sizeof(msg)) < 0) {
        return bad(p, "", "%s.%s", where, msg);
    }
    return 0;
}

static int dup_str(const char *s, char **out)
{
    if (!(*out = strdup(s)))
        return AVERROR(ENOMEM);
    return 0;
}

/* A non-empty string at @p key of @p obj, copied; *out stays NULL when absent. */
static int string_key(Parse *p, const char *where, const json_t *obj, const char *key,
                      char **out)
{
    const json_t *j = json_object_get(obj, key);
    char at[300];
    if (!j)
        return 0;
    if (!json_is_string(j) || !json_string_length(j)) {
        snprintf(at, sizeof(at), "%s.%s", where, key);
        return bad(p, at, "must be a non-empty string");
    }
    return dup_str(json_string_value(j), out);
}

/* "file name without folder and extension": "ads/a1.mp4" -> "a1", ".intro" stays. */
static char *title_of(const char *file)
{
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    if (!*base)
        base = file;
    const char *dot = strrchr(base, '.');
    size_t len = dot && dot > base ? (size_t)(dot - base) : strlen(base);
    char *t = malloc(len + 1);
    if (t) {
        memcpy(t, base, len);
        t[len] = 0;
    }
    return t;
}

/* ---- "start": ISO 8601 in UTC ------------------------------------------------------------- */

static int digits(const char **s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++, (*s)++) {
        if (**s < '0' || **s > '9')
            return -1;
        *v = *v * 10 + (**s - '0');
    }
    return 0;
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar: count in 400-year eras
 * that start on March 1st, so the leap day is the last day of its era-year. */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.250Z", "2026-01-01T01:00:00+01:00". Leap
 * seconds (:60) are refused: the channel clock is POSIX time. */
static int parse_utc(const char *s, int64_t *us)
{
    static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
    int64_t frac = 0;
    if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) || *s++ != '-' ||
        digits(&s, 2, &d))
        return -1;
    if (*s != 'T' && *s != 't')
        return -1;
    s++;
    if (digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi) || *s++ != ':' ||
        digits(&s, 2, &sec))
        return -1;
    if (*s == '.') {
        int n = 0;
        for (s++; *s >= '0' && *s <= '9'; s++, n++)
            if (n < 6)
                frac = frac * 10 + (*s - '0');
        if (!n)
            return -1;
        for (; n < 6; n++)
            frac *= 10;
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        sign = *s++ == '-' ? -1 : 1;
        if (digits(&s, 2, &oh) || *s++ != ':' || digits(&s, 2, &om) || oh > 23 || om > 59)
            return -1;
    } else {
        return -1;
    }
    if (*s || y < 1970 || mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 59)
        return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d < 1 || d > mdays[mo - 1] + (mo == 2 && leap))
        return -1;
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    t -= sign * (oh * 3600 + om * 60);
    *us = t * 1000000 + frac;
    return 0;
}

/* ---- items ---------------------------------------------------------------------------------- */

static void item_free(VpiLiveItemCfg *it)
{
    free(it->file);
    free(it->path);
    free(it->title);
    free(it->breaks);
    memset(it, 0, sizeof(*it));
}

/* file, path and title from @p file. */
static int item_init(VpiLiveItemCfg *it, const char *dir, const char *file)
{
    if (!(it->file = strdup(file)) || !(it->path = vpi_live_resolve(dir, file)) ||
        !(it->title = title_of(file)))
        return AVERROR(ENOMEM);
    return 0;
}

static int parse_breaks(Parse *p, const char *where, const json_t *j, VpiLiveItemCfg *it)
{
    char at[300];
    snprintf(at, sizeof(at), "%s.breaks", where);
    if (json_is_string(j) && !strcmp(json_string_value(j), "auto")) {
        it->breaks_auto = 1;
        return 0;
    }
    if (!json_is_array(j))
        return bad(p, at, "must be a list of seconds or \"auto\"");
    size_t n = json_array_size(j);
    if (!n)
        return 0;
    if (!(it->breaks = malloc(n * sizeof(*it->breaks))))
        return AVERROR(ENOMEM);
    for (size_t i = 0; i < n; i++) {
        const json_t *b = json_array_get(j, i);
        snprintf(at, sizeof(at), "%s.breaks[%zu]", where, i);
        if (!json_is_number(b))
            return bad(p, at, "must be a number of seconds (the list: seconds or \"auto\")");
        double s = json_number_value(b);
        if (!(s > 0))
            return bad(p, at, "%g is not after the start; break points are seconds > 0", s);
        if (i && !(s > it->breaks[i - 1]))
            return bad(p, at, "%g is not after the previous break point (%g); break points "
                       "must be strictly ascending", s, it->breaks[i - 1]);
        it->breaks[it->nb_breaks++] = s;
    }
    return 0;
}

static int parse_item(Parse *p, const char *where, const char *dir, const json_t *j,
                      VpiLiveItemCfg *it)
{
    char at[300], *file = NULL, *title = NULL;
    int ret;
    if (!json_is_object(j))
        return bad(p, where, "must be an object {\"file\": ..., \"title\": ..., \"breaks\": ...}");
    if ((ret = check_keys(p, where, j, item_keys)) < 0)
        return ret;
    if (!json_object_get(j, "file")) {
        snprintf(at, sizeof(at), "%s.file", where);
        return bad(p, at, "missing (the media file: absolute, or relative to the config's "
                   "folder)");
    }
    if ((ret = string_key(p, where, j, "file", &file)) < 0 ||
        (ret = string_key(p, where, j, "title", &title)) < 0 ||
        (ret = item_init(it, dir, file)) < 0)
        goto end;
    if (title) {
        free(it->title);
        it->title = title;
        title = NULL;
    }
    const json_t *b = json_object_get(j, "breaks");
    if (b)
        ret = parse_breaks(p, where, b, it);
end:
    free(file);
    free(title);
    return ret;
}

static int parse_ads(Parse *p, const char *where, const char *dir, const json_t *j,
                     VpiChannelCfg *ch)
{
    char at[300];
    snprintf(at, sizeof(at), "%s.ads", where);
    if (!json_is_array(j))
        return bad(p, at, "must be a list of files");
    size_t n = json_array_size(j);
    if (!n)
        return 0;
    if (!(ch->ads = calloc(n, sizeof(*ch->ads))))
        return AVERROR(ENOMEM);
    for (size_t i = 0; i < n; i++) {
        const json_t *a = json_array_get(j, i);
        snprintf(at, sizeof(at), "%s.ads[%zu]", where, i);
        if (!json_is_string(a) || !json_string_length(a))
            return bad(p, at, "must be a file name (a non-empty string)");
        ch->nb_ads++;
        int ret = item_init(&ch->ads[i], dir, json_string_value(a));
        if (ret < 0)
            return ret;
    }
    return 0;
}

static int parse_format(Parse *p, const char *where, const json_t *j, VpiLiveFormat *f)
{
    char at[300];
    FormatOpts fo;
    int ret;
    snprintf(at, sizeof(at), "%s.format", where);
    if (!json_is_object(j))
        return bad(p, at, "must be an object {\"width\", \"height\", \"fps\", "
                   "\"sample_rate\", \"channels\"}");
    if ((ret = check_keys(p, at, j, (const char *const[]){ "width", "height", "fps",
                                                          "sample_rate", "channels",
                                                          NULL })) < 0)
        return ret;
    vpi_opt_defaults(&format_table, &fo);
    for (const VpiOption *o = format_options; o->name; o++) {
        if (!json_object_get(j, o->name)) {
            char key[320];
            snprintf(key, sizeof(key), "%s.%s", at, o->name);
            return bad(p, key, "missing (a format needs width, height, fps, sample_rate "
                       "and channels)");
        }
        if ((ret = table_key(p, at, &format_table, &fo, j, o->name)) < 0)
            return ret;
    }
    *f = (VpiLiveFormat){ .set = 1, .width = fo.width, .height = fo.height,
                          .fps_num = fo.fps.num, .fps_den = fo.fps.den,
                          .sample_rate = fo.sample_rate, .channels = fo.channels };
    return 0;
}

static int parse_channel(Parse *p, int index, const char *dir, const json_t *j,
                         VpiChannelCfg *ch)
{
    char where[64], at[300];
    const json_t *v;
    int ret;
    snprintf(where, sizeof(where), "channels[%d]", index);
    vpi_opt_defaults(&channel_table, ch);
    if (!json_is_object(j))
        return bad(p, where, "must be an object {\"number\": ..., \"name\": ..., "
                   "\"items\": [...]}");
    if ((ret = check_keys(p, where, j, channel_keys)) < 0)
        return ret;

    if (!json_object_get(j, "number")) {
        snprintf(at, sizeof(at), "%s.number", where);
        return bad(p, at, "missing (an integer from 1 to 9999)");
    }
    for (const VpiOption *o = channel_options; o->name; o++)
        if ((ret = table_key(p, where, &channel_table, ch, j, o->name)) < 0)
            return ret;

    if (!json_object_get(j, "name")) {
        snprintf(at, sizeof(at), "%s.name", where);
        return bad(p, at, "missing (a non-empty string)");
    }
    if ((ret = string_key(p, where, j, "name", &ch->name)) < 0)
        return ret;

    if ((v = json_object_get(j, "start"))) {
        char shown_buf[80];
        snprintf(at, sizeof(at), "%s.start", where);
        if (!json_is_string(v))
            return bad(p, at, "must be a UTC time like \"2026-01-01T00:00:00Z\"");
        if (parse_utc(json_string_value(v), &ch->start_us) < 0)
            return bad(p, at, "\"%s\" is not a time like \"2026-01-01T00:00:00Z\" (ISO 8601 "
                       "from 1970 on; fractional seconds and +hh:mm offsets allowed)",
                       shown(json_string_value(v), shown_buf, sizeof(shown_buf)));
        ch->has_start = 1;
    }

    v = json_object_get(j, "items");
    snprintf(at, sizeof(at), "%s.items", where);
    if (!v)
        return bad(p, at, "missing (a non-empty list of {\"file\": ...} objects)");
    if (!json_is_array(v) || !json_array_size(v))
        return bad(p, at, "must be a non-empty list of {\"file\": ...} objects");
    size_t n = json_array_size(v);
    if (!(ch->items = calloc(n, sizeof(*ch->items))))
        return AVERROR(ENOMEM);
    for (size_t i = 0; i < n; i++) {
        char item[96];
        snprintf(item, sizeof(item), "%s.items[%zu]", where, i);
        ch->nb_items++;
        if ((ret = parse_item(p, item, dir, json_array_get(v, i), &ch->items[i])) < 0)
            return ret;
    }

    if ((v = json_object_get(j, "ads")) && (ret = parse_ads(p, where, dir, v, ch)) < 0)
        return ret;
    if ((v = json_object_get(j, "format")) && (ret = parse_format(p, where, v, &ch->format)) < 0)
        return ret;
    return 0;
}

/* The folder of @p path as written: "ch.json" -> ".", "/ch.json" -> "/", "a//b.json" -> "a". */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    while (slash > path && slash[-1] == '/')
        slash--;
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

static int build(Parse *p, const json_t *root, VpiLiveConfig *cfg)
{
    int ret;
    if (!json_is_object(root))
        return bad(p, "", "must be a JSON object {\"channels\": [...]}");
    if ((ret = check_keys(p, "", root, top_keys)) < 0)
        return ret;
    const json_t *chs = json_object_get(root, "channels");
    if (!chs)
        return bad(p, "channels", "missing (a non-empty list of channels)");
    if (!json_is_array(chs) || !json_array_size(chs))
        return bad(p, "channels", "must be a non-empty list of channels");
    if (!(cfg->path = strdup(p->path)) || !(cfg->dir = dir_of(p->path)))
        return AVERROR(ENOMEM);
    size_t n = json_array_size(chs);
    if (!(cfg->channels = calloc(n, sizeof(*cfg->channels))))
        return AVERROR(ENOMEM);
    for (size_t i = 0; i < n; i++) {
        VpiChannelCfg *ch = &cfg->channels[i];
        cfg->nb_channels++;
        if ((ret = parse_channel(p, (int)i, cfg->dir, json_array_get(chs, i), ch)) < 0)
            return ret;
        for (size_t k = 0; k < i; k++)
            if (cfg->channels[k].number == ch->number) {
                char at[64];
                snprintf(at, sizeof(at), "channels[%zu].number", i);
                return bad(p, at, "%d is already the number of channels[%zu]; numbers must "
                           "be unique", ch->number, k);
            }
    }
    return 0;
}

static int finish(Parse *p, json_t *root, VpiLiveConfig *cfg)
{
    int ret = build(p, root, cfg);
    json_decref(root);
    if (ret < 0) {
        if (ret == AVERROR(ENOMEM) && p->why && p->why_size)
            snprintf(p->why, p->why_size, "%s: out of memory", p->path);
        vpi_live_config_free(cfg);
    }
    return ret;
}

int vpi_live_config_parse(const char *path, const char *text, size_t len, VpiLiveConfig *cfg,
                          char *why, size_t why_size)
{
    Parse p = { path ? path : "(config)", why, why_size };
    char err[256];
    json_t *root;
    memset(cfg, 0, sizeof(*cfg));
    if (why && why_size)
        why[0] = 0;
    int ret = vpi_json_parse(text, len, &root, err, sizeof(err));
    if (ret < 0) {
        bad(&p, "", "%s", ret == AVERROR(ENOMEM) ? "out of memory" : err);
        return ret == AVERROR(ENOMEM) ? ret : VP_ERR_BAD_CONFIG;
    }
    return finish(&p, root, cfg);
}

int vpi_live_config_load(const char *path, VpiLiveConfig *cfg, char *why, size_t why_size)
{
    Parse p = { path, why, why_size };
    char err[256];
    json_t *root;
    memset(cfg, 0, sizeof(*cfg));
    if (why && why_size)
        why[0] = 0;
    int ret = vpi_json_read_file(path, &root, err, sizeof(err));
    if (ret < 0) {
        /* a file that cannot be read keeps its errno code; what it holds is a config error */
        bad(&p, "", "%s", err);
        return ret == AVERROR_INVALIDDATA ? VP_ERR_BAD_CONFIG : ret;
    }
    return finish(&p, root, cfg);
}

void vpi_live_config_free(VpiLiveConfig *cfg)
{
    if (!cfg)
        return;
    for (int i = 0; i < cfg->nb_channels; i++) {
        VpiChannelCfg *ch = &cfg->channels[i];
        for (int k = 0; k < ch->nb_items; k++)
            item_free(&ch->items[k]);
        for (int k = 0; k < ch->nb_ads; k++)
            item_free(&ch->ads[k]);
        free(ch->items);
        free(ch->ads);
        free(ch->name);
    }
    free(cfg->channels);
    free(cfg->path);
    free(cfg->dir);
    memset(cfg, 0, sizeof(*cfg));
}

char *vpi_live_resolve(const char *dir, const char *file)
{
    if (file[0] == '/' || !dir || !dir[0] || !strcmp(dir, "."))
        return strdup(file);
    size_t dl = strlen(dir), fl = strlen(file);
    int sep = dir[dl - 1] != '/';
    char *out = malloc(dl + sep + fl + 1);
    if (!out)
        return NULL;
    memcpy(out, dir, dl);
    if (sep)
        out[dl] = '/';
    memcpy(out + dl + sep, file, fl + 1);
    return out;
}
