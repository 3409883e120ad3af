/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vidpipe probe: what each file is, from the container and packets. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/commands.h"
#include "json_text.h"

typedef struct ProbeJob {
    char **paths;
    VpMediaInfo **infos;
    int *errs;
    VpProbeOpts opts;
    CliProgress progress;
    int done;
    int total;
} ProbeJob;

static void probe_one(void *ctx, int i)
{
    ProbeJob *job = ctx;
    job->errs[i] = vp_probe_file(job->paths[i], &job->opts, &job->infos[i]);
    __atomic_fetch_add(&job->done, 1, __ATOMIC_RELAXED);
    cli_progress_update(&job->progress, __atomic_load_n(&job->done, __ATOMIC_RELAXED),
                        job->total);
}

static void q_str(char *buf, size_t size, VpRational q, char sep)
{
    if (!q.den)
        snprintf(buf, size, "0%c1", sep);
    else
        snprintf(buf, size, "%d%c%d", q.num, sep, q.den);
}

static void json_tri(CliJson *j, const char *key, int v)
{
    if (v < 0)
        cj_null(j, key);
    else
        cj_bool(j, key, v);
}

static void json_tags(CliJson *j, const VpTag *tags, int nb)
{
    cj_obj_begin(j, "tags");
    for (int i = 0; i < nb; i++) {
        /* A tag name is bytes from the file, and jansson refuses a member name that is not
         * UTF-8 (the whole document would fail): such a name gets U+FFFD for its bad bytes. */
        json_t *name = vpi_utf8_valid(tags[i].key) ? NULL : vpi_json_text(tags[i].key);
        const char *key = name ? json_string_value(name) : tags[i].key;
        cj_str(j, key ? key : "", tags[i].value);
        json_decref(name);
    }
    cj_obj_end(j);
}

static void json_stream(CliJson *j, const VpStreamInfo *s)
{
    char buf[64];

    cj_obj_begin(j, NULL);
    cj_int(j, "index", s->index);
    cj_str(j, "codec_type", vp_stream_type_name(s->type));
    cj_str(j, "codec_name", s->codec);
    cj_str(j, "codec_tag_string", s->codec_tag);
    cj_str(j, "profile", *s->profile ? s->profile : NULL);
    if (s->type == VP_STREAM_VIDEO) {
        if (s->level != -99)
            cj_int(j, "level", s->level);
        else
            cj_null(j, "level");
        cj_int(j, "width", s->width);
        cj_int(j, "height", s->height);
        if (s->sar.num) {
            q_str(buf, sizeof(buf), s->sar, ':');
            cj_str(j, "sample_aspect_ratio", buf);
            q_str(buf, sizeof(buf), s->dar, ':');
            cj_str(j, "display_aspect_ratio", buf);
        } else {
            cj_null(j, "sample_aspect_ratio");
            cj_null(j, "display_aspect_ratio");
        }
        cj_str(j, "pix_fmt", *s->pix_fmt ? s->pix_fmt : NULL);
        cj_str(j, "field_order", *s->field_order ? s->field_order : NULL);
        cj_str(j, "color_range", *s->color_range ? s->color_range : NULL);
        cj_str(j, "color_space", *s->color_space ? s->color_space : NULL);
        cj_str(j, "color_primaries", *s->color_primaries ? s->color_primaries : NULL);
        cj_str(j, "color_transfer", *s->color_transfer ? s->color_transfer : NULL);
        q_str(buf, sizeof(buf), s->r_frame_rate, '/');
        cj_str(j, "r_frame_rate", buf);
        q_str(buf, sizeof(buf), s->avg_frame_rate, '/');
        cj_str(j, "avg_frame_rate", buf);
        cj_num(j, "rotation", s->rotation);
    }
    if (s->type == VP_STREAM_AUDIO) {
        cj_int(j, "sample_rate", s->sample_rate);
        cj_int(j, "channels", s->channels);
        cj_str(j, "channel_layout", *s->channel_layout ? s->channel_layout : NULL);
        cj_str(j, "sample_fmt", *s->sample_fmt ? s->sample_fmt : NULL);
        cj_int(j, "frame_size", s->frame_size);
        if (s->priming_samples >= 0)
            cj_int(j, "priming_samples", s->priming_samples);
        else
            cj_null(j, "priming_samples");
        if (s->padding_samples >= 0)
            cj_int(j, "padding_samples", s->padding_samples);
        else
            cj_null(j, "padding_samples");
    }
    q_str(buf, sizeof(buf), s->time_base, '/');
    cj_str(j, "time_base", buf);
    if (s->start_pts != VP_UNKNOWN)
        cj_int(j, "start_pts", s->start_pts);
    else
        cj_null(j, "start_pts");
    cj_num(j, "start_time", s->start_time);
    cj_num(j, "duration", s->duration);
    if (s->bit_rate > 0)
        cj_int(j, "bit_rate", s->bit_rate);
    else
        cj_null(j, "bit_rate");
    if (s->nb_frames >= 0)
        cj_int(j, "nb_frames", s->nb_frames);
    else
        cj_null(j, "nb_frames");
    cj_bool(j, "nb_frames_counted", s->nb_frames_counted);
    if (s->nb_packets >= 0)
        cj_int(j, "nb_packets", s->nb_packets);
    else
        cj_null(j, "nb_packets");
    cj_str(j, "language", *s->language ? s->language : NULL);
    cj_bool(j, "default", s->disposition_default);
    json_tags(j, s->tags, s->nb_tags);
    if (s->type == VP_STREAM_VIDEO) {
        cj_obj_begin(j, "gop");
        json_tri(j, "starts_with_idr", s->starts_with_idr);
        cj_int(j, "keyframes", s->nb_keyframes);
        cj_int(j, "keyint_min", s->keyint_min);
        cj_int(j, "keyint_max", s->keyint_max);
        json_tri(j, "b_frames", s->has_bframes);
        cj_int(j, "video_delay", s->video_delay);
        json_tri(j, "open_gop", s->open_gop);
        cj_str(j, "parameter_sets", vp_param_sets_name(s->param_sets));
        cj_obj_end(j);
    }
    cj_obj_end(j);
}

static void json_file(CliJson *j, const char *path, const VpMediaInfo *mi, int err)
{
    cj_obj_begin(j, NULL);
    cj_str(j, "input", path);
    if (err < 0) {
        cj_obj_begin(j, "error");
        cj_str(j, "code", vp_err_name(err));
        cj_str(j, "message", vp_strerror(err));
        cj_obj_end(j);
        cj_obj_end(j);
        return;
    }
    cj_null(j, "error");
    cj_obj_begin(j, "format");
    cj_str(j, "format_name", mi->format);
    cj_str(j, "format_long_name", mi->format_long);
    cj_str(j, "major_brand", *mi->major_brand ? mi->major_brand : NULL);
    cj_int(j, "size", mi->size);
    cj_num(j, "duration", mi->duration);
    cj_num(j, "start_time", mi->start_time);
    if (mi->bit_rate > 0)
        cj_int(j, "bit_rate", mi->bit_rate);
    else
        cj_null(j, "bit_rate");
    cj_int(j, "nb_streams", mi->nb_streams);
    json_tags(j, mi->tags, mi->nb_tags);
    cj_obj_end(j);
    cj_arr_begin(j, "streams");
    for (int i = 0; i < mi->nb_streams; i++)
        json_stream(j, &mi->streams[i]);
    cj_arr_end(j);
    cj_arr_begin(j, "chapters");
    for (int i = 0; i < mi->nb_chapters; i++) {
        cj_obj_begin(j, NULL);
        cj_num(j, "start_time", mi->chapters[i].start);
        cj_num(j, "end_time", mi->chapters[i].end);
        cj_str(j, "title", *mi->chapters[i].title ? mi->chapters[i].title : NULL);
        cj_obj_end(j);
    }
    cj_arr_end(j);
    cj_obj_end(j);
}

static void fmt_size(char *buf, size_t size, int64_t bytes)
{
    if (bytes >= 1 << 30)
        snprintf(buf, size, "%.2f GiB", bytes / 1073741824.0);
    else if (bytes >= 1 << 20)
        snprintf(buf, size, "%.1f MiB", bytes / 1048576.0);
    else if (bytes >= 1 << 10)
        snprintf(buf, size, "%.1f KiB", bytes / 1024.0);
    else
        snprintf(buf, size, "%lld B", (long long)bytes);
}

static void fmt_rate(char *buf, size_t size, int64_t bps)
{
    if (bps <= 0)
        snprintf(buf, size, "? kb/s");
    else if (bps >= 10000000)
        snprintf(buf, size, "%.1f Mb/s", bps / 1e6);
    else
        snprintf(buf, size, "%lld kb/s", (long long)((bps + 500) / 1000));
}

static void fmt_fps(char *buf, size_t size, VpRational q)
{
    if (!q.den || !q.num)
        snprintf(buf, size, "?");
    else if (q.den == 1)
        snprintf(buf, size, "%d", q.num);
    else
        snprintf(buf, size, "%.3f", (double)q.num / q.den);
}

static const char *tri(int v, const char *yes, const char *no)
{
    return v < 0 ? "?" : v ? yes : no;
}

/* Seconds as "%.3f s", or "unknown" where JSON says null. */
static void fmt_secs(char *buf, size_t size, double secs)
{
    if (isnan(secs))
        snprintf(buf, size, "unknown");
    else
        snprintf(buf, size, "%.3f s", secs);
}

/* A tag value is whatever bytes the file holds: a newline or escape must not break (or
 * drive) the terminal, so control characters print as '?'. */
static void put_clean(const char *s)
{
    for (; *s; s++)
        putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static void human_tags(const char *indent, const VpTag *tags, int nb)
{
    for (int i = 0; i < nb; i++) {
        printf("%stag ", indent);
        put_clean(tags[i].key);
        printf(": ");
        put_clean(tags[i].value);
        printf("\n");
    }
}

static void human_file(const VpMediaInfo *mi)
{
    char size[32], rate[32], a[32], b[32];

    fmt_size(size, sizeof(size), mi->size);
    fmt_rate(rate, sizeof(rate), mi->bit_rate);
    fmt_secs(a, sizeof(a), mi->duration);
    printf("%s\n  %-7s %s  %s  %s  %s\n", mi->path, "format", mi->format, size, a, rate);
    human_tags("          ", mi->tags, mi->nb_tags);
    for (int i = 0; i < mi->nb_chapters; i++) {
        const VpChapter *c = &mi->chapters[i];
        fmt_secs(a, sizeof(a), c->start);
        fmt_secs(b, sizeof(b), c->end);
        printf("  chapter %d  %s .. %s", i, a, b);
        if (*c->title) {
            printf("  ");
            put_clean(c->title);
        }
        printf("\n");
    }
    for (int i = 0; i < mi->nb_streams; i++) {
        const VpStreamInfo *s = &mi->streams[i];
        fmt_rate(rate, sizeof(rate), s->bit_rate);
        printf("  #%-2d %-5s %s", s->index, vp_stream_type_name(s->type), s->codec);
        if (*s->profile)
            printf(" (%s)", s->profile);
        if (s->type == VP_STREAM_VIDEO) {
            if (s->level > 0)
                printf(" L%d.%d", s->level / 10, s->level % 10);
            fmt_fps(a, sizeof(a), s->r_frame_rate);
            fmt_fps(b, sizeof(b), s->avg_frame_rate);
            printf("  %dx%d", s->width, s->height);
            if (s->sar.num)
                printf(" SAR %d:%d DAR %d:%d", s->sar.num, s->sar.den, s->dar.num, s->dar.den);
            printf("  %s %s  %s fps (avg %s)", *s->pix_fmt ? s->pix_fmt : "?",
                   *s->field_order ? s->field_order : "", a, b);
            if (s->rotation != 0)
                printf("  rotation %g", s->rotation);
        } else if (s->type == VP_STREAM_AUDIO) {
            printf("  %d Hz %s %s", s->sample_rate,
                   *s->channel_layout ? s->channel_layout : "?", s->sample_fmt);
        }
        fmt_secs(a, sizeof(a), s->start_time);
        fmt_secs(b, sizeof(b), s->duration);
        printf("\n        tb %d/%d  start %s  duration %s  %s", s->time_base.num,
               s->time_base.den, a, b, rate);
        if (s->nb_frames >= 0)
            printf("  %lld frames%s", (long long)s->nb_frames,
                   s->nb_frames_counted ? " (counted)" : "");
        if (s->nb_packets >= 0)
            printf("  %lld packets", (long long)s->nb_packets);
        if (*s->language)
            printf("  lang %s", s->language);
        printf("\n");
        if (s->type == VP_STREAM_VIDEO && (*s->color_primaries || *s->color_transfer ||
                                           *s->color_space || *s->color_range))
            printf("        colour %s/%s/%s  range %s  (primaries/transfer/matrix)\n",
                   *s->color_primaries ? s->color_primaries : "?",
                   *s->color_transfer ? s->color_transfer : "?",
                   *s->color_space ? s->color_space : "?",
                   *s->color_range ? s->color_range : "?");
        if (s->type == VP_STREAM_VIDEO) {
            printf("        GOP: %s, keyint %d..%d (%lld keyframes), B-frames %s, open GOP %s, "
                   "SPS/PPS %s\n",
                   tri(s->starts_with_idr, "starts on IDR", "does NOT start on IDR"),
                   s->keyint_min, s->keyint_max, (long long)s->nb_keyframes,
                   tri(s->has_bframes, "yes", "no"), tri(s->open_gop, "yes", "no"),
                   vp_param_sets_name(s->param_sets));
        } else if (s->type == VP_STREAM_AUDIO) {
            printf("        priming ");
            if (s->priming_samples >= 0)
                printf("%lld", (long long)s->priming_samples);
            else
                printf("?");
            printf(" samples, padding ");
            if (s->padding_samples >= 0)
                printf("%lld", (long long)s->padding_samples);
            else
                printf("?");
            printf(" samples\n");
        }
        human_tags("        ", s->tags, s->nb_tags);
    }
}

static int run_probe(int argc, char **argv)
{
    int json = 0, nb_pos = 0, no_count = 0;
    VpBatchOpts run; /* -j, through the batch table: 0 (default) is one per core */
    vp_batch_default_opts(&run);
    const char *list = NULL;
    VpProbeOpts po;
    vp_probe_default_opts(&po);
    const CliOpt opts[] = {
        { "json", 0, CLI_FLAG, &json, NULL, "one JSON document with an entry per file" },
        CLI_LIB_AS("jobs", 'j', &run, "N", vp_option_table("batch"), "jobs",
                   "probe N files at a time (0: one per core)", NULL),
        { "list", 0, CLI_STR, &list, "FILE", "read more paths from FILE, one per line (- stdin)" },
        { "no-count", 0, CLI_FLAG, &no_count, NULL,
          "do not read whole files to count packets when the container has no index" },
        CLI_LIB("timeout", 0, &po, "MS", vp_option_table("probe"), "timeout_ms"),
        { 0 },
    };
    static const CliCommand *self = &cmd_probe;
    int r = cli_parse(self, opts, argc, argv, &nb_pos);
    if (r)
        return r > 0 ? CLI_EXIT_OK : -r;

    char **paths;
    int nb, ret = CLI_EXIT_OK;
    if ((r = cli_gather_paths(NULL, nb_pos, argv + 1, list, &paths, &nb)))
        return r;
    if (!nb) {
        cli_error("probe: no input files (see 'vidpipe probe --help')");
        cli_free_paths(paths, nb);
        return CLI_EXIT_USAGE;
    }

    ProbeJob job = { .paths = paths, .total = nb };
    job.opts = po;
    job.opts.count_packets = !no_count;
    job.infos = calloc((size_t)nb, sizeof(*job.infos));
    job.errs = calloc((size_t)nb, sizeof(*job.errs));
    if (!job.infos || !job.errs) {
        free(job.infos);
        free(job.errs);
        goto oom;
    }
    cli_progress_init(&job.progress, "probed");
    cli_parallel_for(nb, run.jobs > 0 ? run.jobs : cli_default_jobs(), probe_one, &job);
    cli_progress_end(&job.progress);

    CliJson j;
    if (json) {
        cj_init(&j, stdout);
        cj_obj_begin(&j, NULL);
        cj_str(&j, "command", "probe");
        cj_arr_begin(&j, "items");
    }
    for (int i = 0; i < nb; i++) {
        if (job.errs[i] < 0) {
            cli_file_error(paths[i], "%s", vp_strerror(job.errs[i]));
            ret = CLI_EXIT_UNREADABLE;
        }
        if (json)
            json_file(&j, paths[i], job.infos[i], job.errs[i]);
        else if (job.errs[i] >= 0)
            human_file(job.infos[i]);
        vp_media_info_free(&job.infos[i]);
    }
    if (json) {
        cj_arr_end(&j);
        cj_obj_end(&j);
        cj_end(&j);
    }
    free(job.infos);
    free(job.errs);
    cli_free_paths(paths, nb);
    return ret;

oom:
    cli_error("probe: out of memory");
    cli_free_paths(paths, nb);
    return CLI_EXIT_ERROR;
}

const CliCommand cmd_probe = {
    .name = "probe",
    .summary = "describe media files: container, streams, GOP structure, audio priming",
    .usage = "[--json] [-j N] FILE...",
    .details = "Reads the container and the packets without decoding pictures. Prints a "
               "summary per file,\nor with --json one document: {\"files\": [{\"file\", "
               "\"error\", \"format\", \"streams\"}]}.\nExit status: 0 all files read, "
               "2 a file could not be read (each named on stderr).",
    .run = run_probe,
};
