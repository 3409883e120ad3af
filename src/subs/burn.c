/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Burned-in subtitles: libass (FFmpeg's `subtitles` filter) in the pipeline's encode sink,
 * then the source's audio packets copied beside the new video.
 *
 * The encode sink encodes audio or nothing: it has no stream-copy path for audio. So the one
 * decode writes the video alone to a temporary file, and a remux (packets only, no decode)
 * puts it and the source's audio into the atomic output. The remux reads each packet once
 * and costs a few per cent of the encode (bench/subtitles_burn.sh). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>

#include "encode/encoder.h"
#include "options/options.h"
#include "pipeline/sink.h"
#include "subs.h"

#define O(...) VPI_OPT_ROW(VpSubsBurnOpts, __VA_ARGS__)

static const VpiOption burn_options[] = {
    O(style, CSTRING, 0, 0, 0, "ASS style overrides: KEY=VALUE,... (FontSize=24,Outline=2)"),
    O(crf, INT, 23, 0, 51, "x264 CRF"),
    O(x264_preset, CSTRING, 0, 0, 0, "x264 preset", .def_str = "medium",
      .names = vpi_x264_presets),
    { NULL },
};
#undef O

/* The fields of an ASS [V4+ Styles] line that libass's force_style sets (it compares names
 * without case). Name is left out: it picks the style, it is not one of its looks. */
static const char *const style_keys[] = {
    "Fontname", "Fontsize", "PrimaryColour", "SecondaryColour", "OutlineColour", "BackColour",
    "Bold", "Italic", "Underline", "StrikeOut", "ScaleX", "ScaleY", "Spacing", "Angle",
    "BorderStyle", "Outline", "Shadow", "Alignment", "MarginL", "MarginR", "MarginV",
    "Encoding", NULL,
};

/* Values go into a filter graph description inside quotes: letters, digits, spaces and the
 * marks colours and numbers need (&H00FFFFFF, -1.5) are enough and need no escaping. */
static int value_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == ' ' || c == '&' || c == '.' || c == '-' || c == '+' || c == '_';
}

static int check_style(const char *style, char *err, size_t err_size)
{
    const char *p = style;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (!eq || eq == p || eq == p + n - 1) {
            snprintf(err, err_size, "style: '%.*s' is not KEY=VALUE (FontSize=24,Outline=2)",
                     (int)(n > 200 ? 200 : n), p);
            return VP_ERR_BAD_OPTION;
        }
        size_t kn = eq - p;
        int known = 0;
        for (int i = 0; style_keys[i] && !known; i++)
            known = strlen(style_keys[i]) == kn && !strncasecmp(style_keys[i], p, kn);
        if (!known) {
            snprintf(err, err_size, "style: unknown key '%.*s' (Fontname, Fontsize, "
                     "PrimaryColour, OutlineColour, BackColour, Bold, Italic, Outline, Shadow, "
                     "Alignment, MarginV, ...)", (int)(kn > 100 ? 100 : kn), p);
            return VP_ERR_BAD_OPTION;
        }
        for (const char *v = eq + 1; v < p + n; v++) {
            if (!value_char_ok(*v)) {
                snprintf(err, err_size, "style: %.*s: '%c' is not allowed in a value "
                         "(letters, digits, spaces, & . - + _)", (int)kn, p, *v);
                return VP_ERR_BAD_OPTION;
            }
        }
        p += n;
        if (*p == ',' && !*++p) {
            snprintf(err, err_size, "style: ends with ','");
            return VP_ERR_BAD_OPTION;
        }
    }
    return 0;
}

static int check_burn(const void *obj, char *err, size_t err_size)
{
    const VpSubsBurnOpts *o = obj;
    return o->style ? check_style(o->style, err, err_size) : 0;
}

const VpiOptTable vpi_subs_burn_options = { "subs_burn", burn_options, check_burn };

void vp_subs_burn_default_opts(VpSubsBurnOpts *o)
{
    memset(o, 0, sizeof(*o));
    vpi_opt_defaults(&vpi_subs_burn_options, o);
    o->style = NULL;
    o->pipeline = NULL;
}


/* A temporary file with @p suffix whose name needs no escaping in a filter graph. */
static int make_temp(char *buf, size_t size, const char *suffix)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir || strspn(dir, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "0123456789/_.-") != strlen(dir))
        dir = "/tmp";
    if (snprintf(buf, size, "%s/vidpipe-burn-XXXXXX%s", dir, suffix) >= (int)size)
        return AVERROR(ENAMETOOLONG);
    int fd = mkstemps(buf, (int)strlen(suffix));
    if (fd < 0) {
        buf[0] = 0;
        return AVERROR(errno);
    }
    close(fd);
    return 0;
}

static int write_all(const char *path, const char *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return AVERROR(errno);
    size_t n = fwrite(data, 1, size, f);
    int ret = n == size ? 0 : AVERROR(EIO);
    if (fclose(f) && !ret)
        ret = AVERROR(EIO);
    return ret;
}

/* What libass is given: an SRT written from the model for SRT and WebVTT (libass has no
 * WebVTT reader; the model's tags are SRT's), the file's own bytes for ASS (its styles and
 * positions are the point of it). Both in a temporary file, so no path needs escaping. */
static int write_libass_input(const char *subs_path, const VpSubs *s, char *tmp, size_t size)
{
    int ass = vp_subs_source_format(s) == VP_SUBS_ASS;
    /* FFmpeg's SRT demuxer refuses an empty file (invalid data): no cues go to libass as
     * an ASS file of the header alone, which it reads as nothing to draw. */
    int empty = !ass && !vp_subs_count(s);
    char *buf = NULL;
    size_t n = 0;
    int ret;
    if ((ret = make_temp(tmp, size, ass || empty ? ".ass" : ".srt")) < 0)
        return ret;
    if (ass) {
        FILE *f = fopen(subs_path, "rb");
        long len = -1;
        if (!f)
            return AVERROR(errno);
        /* vp_subs_read() has just held the file to 64 MiB */
        if (!fseek(f, 0, SEEK_END) && (len = ftell(f)) >= 0 && !fseek(f, 0, SEEK_SET)) {
            n = (size_t)len;
            if (!(buf = av_malloc(n + 1)))
                ret = AVERROR(ENOMEM);
            else if (fread(buf, 1, n, f) != n)
                ret = AVERROR(EIO);
        } else {
            ret = AVERROR(EIO);
        }
        fclose(f);
    } else {
        ret = vp_subs_write_buffer(s, empty ? VP_SUBS_ASS : VP_SUBS_SRT, &buf, &n);
    }
    if (ret >= 0)
        ret = write_all(tmp, buf, n);
    av_free(buf);
    return ret;
}

/* ---- the font libass picks ----------------------------------------------------------- */

typedef struct FontNote {
    char asked[128], got[128];
} FontNote;

/* "Arial" and "Arial-Bold", "DejaVu Sans" and "DejaVuSans" name the same family. */
static int same_family(const char *a, const char *b)
{
    for (;;) {
        while (*a == ' ' || *a == '-')
            a++;
        while (*b == ' ' || *b == '-')
            b++;
        if (!*a || !*b)
            return 1;   /* one is a prefix of the other: "Arial" of "ArialMT" */
        if ((*a | 0x20) != (*b | 0x20))
            return 0;
        a++, b++;
    }
}

/* libass says each font it selects, at INFO through FFmpeg's log:
 * "fontselect: (Arial, 400, 0) -> /usr/share/fonts/.../DejaVuSans.ttf, 0, DejaVuSans"
 * (libass ass_fontselect.c: family, weight, italic -> file, face index, PostScript name);
 * a family other than the one asked for is fontconfig's fallback. */
static void font_log(void *opaque, int level, const char *line)
{
    FontNote *n = opaque;
    const char *p = strstr(line, "fontselect: ");
    char asked[128], got[128];
    (void)level;
    if (!p || n->asked[0])
        return;
    p += strlen("fontselect: ");
    if (!strncmp(p, "Using default font family: ", 27))
        p += 27;
    if (sscanf(p, "(%127[^,], %*d, %*d) -> %*[^,], %*d, %127[^\n]", asked, got) != 2)
        return;
    if (!same_family(asked, got)) {
        snprintf(n->asked, sizeof(n->asked), "%s", asked);
        snprintf(n->got, sizeof(n->got), "%s", got);
    }
}

/* Render the first cue once on a small blank picture, on this thread, with FFmpeg's log
 * caught, and say in one line when libass had to fall back to another font. A failure here
 * is only a note lost: the real run reports its own errors. */
static void check_fonts(const char *subs_path, const char *filter, const VpSubs *s,
                        const VpLogger *lg)
{
    FontNote note = { { 0 }, { 0 } };
    /* VERBOSE: FFmpeg's lines reach a logger from that level on; libass's are at INFO. */
    VpLogger catcher = { font_log, &note, VP_LOG_VERBOSE };
    AVFilterGraph *g = NULL;
    AVFilterInOut *in = NULL, *out = NULL;
    AVFilterContext *sink = NULL;
    AVFrame *f = NULL;
    char desc[1400];
    VpSubsCue cue;

    if (vp_subs_count(s) < 1 || vp_subs_get(s, 0, &cue) < 0)
        return;
    if (vpi_log_register(&catcher) < 0)
        return;
    const VpLogger *prev = vpi_log_scope_enter(&catcher);
    snprintf(desc, sizeof(desc), "color=c=black:s=320x240:r=1:d=1,setpts=PTS+%.3f/TB,%s",
             (cue.start_ms + cue.end_ms) / 2000.0, filter);
    if (!(g = avfilter_graph_alloc()) || !(f = av_frame_alloc()) ||
        avfilter_graph_create_filter(&sink, avfilter_get_by_name("buffersink"), "out", NULL,
                                     NULL, g) < 0 ||
        !(in = avfilter_inout_alloc()))
        goto end;
    in->name = av_strdup("out");
    in->filter_ctx = sink;
    if (avfilter_graph_parse_ptr(g, desc, &in, &out, NULL) < 0 ||
        avfilter_graph_config(g, NULL) < 0)
        goto end;
    while (av_buffersink_get_frame(sink, f) >= 0)
        av_frame_unref(f);
end:
    avfilter_inout_free(&in);
    avfilter_inout_free(&out);
    av_frame_free(&f);
    avfilter_graph_free(&g);
    vpi_log_scope_leave(prev);
    vpi_log_unregister(&catcher);
    if (note.asked[0])
        vpi_log(lg, VP_LOG_WARNING, "%s: font '%s' is not installed: libass uses '%s'",
                subs_path, note.asked, note.got);
}

/* ---- the remux: new video, source audio ---------------------------------------------- */

typedef struct Remux {
    AVFormatContext *iv, *ia, *oc;
    int ast;                    /* the source's audio stream, or -1 */
    int vst;                    /* the encoded file's video stream */
    AVPacket *pv, *pa;
    int64_t a_off;              /* source start, in the audio stream's time base */
} Remux;

static int open_in(AVFormatContext **ic, const char *path, const VpCancel *cancel,
                   const VpLogger *lg)
{
    int ret = vpi_open_input(ic, path, cancel, lg);
    return ret < 0 ? ret : avformat_find_stream_info(*ic, NULL);
}

/* The next packet of @p ic's stream @p si into @p pkt; AVERROR_EOF at the end. */
static int next_packet(AVFormatContext *ic, int si, AVPacket *pkt)
{
    for (;;) {
        int ret = av_read_frame(ic, pkt);
        if (ret < 0)
            return ret;
        if (pkt->stream_index == si)
            return 0;
        av_packet_unref(pkt);
    }
}

static int64_t packet_us(const AVPacket *pkt, const AVStream *st)
{
    int64_t t = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
    return t == AV_NOPTS_VALUE ? INT64_MIN : av_rescale_q(t, st->time_base, AV_TIME_BASE_Q);
}

static AVStream *copy_stream(AVFormatContext *oc, const AVStream *is)
{
    AVStream *os = avformat_new_stream(oc, NULL);
    if (!os || avcodec_parameters_copy(os->codecpar, is->codecpar) < 0)
        return NULL;
    os->codecpar->codec_tag = 0;
    os->time_base = is->time_base;
    os->avg_frame_rate = is->avg_frame_rate;
    os->sample_aspect_ratio = is->sample_aspect_ratio;
    return os;
}

static int remux(const char *in, const char *video, const char *out, const VpCancel *cancel,
                 const VpLogger *lg, VpFailure *fail)
{
    Remux r = { .ast = -1 };
    VpiOutput o = { 0 };
    AVDictionary *mopts = NULL;
    int ret, eof_v = 0, eof_a = 0;

    if ((ret = open_in(&r.iv, video, cancel, lg)) < 0) {
        vpi_fail(fail, -1, video, ret, NULL);
        goto end;
    }
    if ((ret = open_in(&r.ia, in, cancel, lg)) < 0) {
        vpi_fail(fail, 0, in, ret, NULL);
        goto end;
    }
    r.vst = av_find_best_stream(r.iv, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    r.ast = av_find_best_stream(r.ia, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    if (r.vst < 0) {
        ret = vpi_fail(fail, -1, out, AVERROR_BUG, "the encoded video is missing");
        goto end;
    }
    if ((ret = avformat_alloc_output_context2(&r.oc, NULL, NULL, out)) < 0)
        goto out_fail;
    r.oc->interrupt_callback = r.iv->interrupt_callback;
    r.oc->opaque = (void *)lg;
    if (!copy_stream(r.oc, r.iv->streams[r.vst])) {
        ret = AVERROR(ENOMEM);
        goto out_fail;
    }
    if (r.ast >= 0) {
        AVStream *as = r.ia->streams[r.ast];
        if (avformat_query_codec(r.oc->oformat, as->codecpar->codec_id,
                                 FF_COMPLIANCE_NORMAL) != 1) {
            char why[200];
            snprintf(why, sizeof(why), "%s audio cannot be copied into this container: %s",
                     avcodec_get_name(as->codecpar->codec_id),
                     vp_strerror(VP_ERR_CONTAINER_CODEC));
            ret = vpi_fail(fail, -1, out, VP_ERR_CONTAINER_CODEC, why);
            goto end;
        }
        if (!copy_stream(r.oc, as)) {
            ret = AVERROR(ENOMEM);
            goto out_fail;
        }
        /* The pipeline counts video from the file's start time (0 for most MP4s): the audio
         * moves with it, so the two stay in sync as in the source. */
        r.a_off = r.ia->start_time != AV_NOPTS_VALUE
                ? av_rescale_q(r.ia->start_time, AV_TIME_BASE_Q, as->time_base) : 0;
    } else {
        eof_a = 1;
    }
    if (!(r.pv = av_packet_alloc()) || !(r.pa = av_packet_alloc())) {
        ret = AVERROR(ENOMEM);
        goto out_fail;
    }
    /* The faststart rewrite reopens oc->url: the temporary name, not the final one. */
    av_freep(&r.oc->url);
    if ((ret = vpi_output_begin(&o, out)) < 0 ||
        (ret = (r.oc->url = av_strdup(o.tmp_path)) ? 0 : AVERROR(ENOMEM)) < 0 ||
        (ret = avio_open2(&r.oc->pb, o.tmp_path, AVIO_FLAG_WRITE, &r.oc->interrupt_callback,
                          NULL)) < 0)
        goto out_fail;
    if (!strcmp(r.oc->oformat->name, "mp4") || !strcmp(r.oc->oformat->name, "mov"))
        av_dict_set(&mopts, "movflags", "+faststart", 0);
    ret = avformat_write_header(r.oc, &mopts);
    av_dict_free(&mopts);
    if (ret < 0)
        goto out_fail;
    /* Merge the two files by time, one packet ahead of each, so the muxer never holds more
     * than a packet per stream. */
    int have_v = 0, have_a = 0;
    for (;;) {
        if (vpi_cancelled(cancel)) {
            ret = VP_ERR_CANCELLED;
            goto out_fail;
        }
        if (!have_v && !eof_v) {
            ret = next_packet(r.iv, r.vst, r.pv);
            if (ret == AVERROR_EOF)
                eof_v = 1;
            else if (ret < 0)
                goto out_fail;
            else
                have_v = 1;
        }
        if (!have_a && !eof_a) {
            ret = next_packet(r.ia, r.ast, r.pa);
            if (ret == AVERROR_EOF) {
                eof_a = 1;
            } else if (ret < 0) {
                vpi_fail(fail, 0, in, ret, NULL);
                goto end;
            } else {
                have_a = 1;
                if (r.pa->pts != AV_NOPTS_VALUE)
                    r.pa->pts -= r.a_off;
                if (r.pa->dts != AV_NOPTS_VALUE)
                    r.pa->dts -= r.a_off;
            }
        }
        if (!have_v && !have_a)
            break;
        int take_v = have_v && (!have_a || packet_us(r.pv, r.iv->streams[r.vst]) <=
                                           packet_us(r.pa, r.ia->streams[r.ast]));
        AVPacket *pkt = take_v ? r.pv : r.pa;
        const AVStream *is = take_v ? r.iv->streams[r.vst] : r.ia->streams[r.ast];
        int os = take_v ? 0 : 1;
        av_packet_rescale_ts(pkt, is->time_base, r.oc->streams[os]->time_base);
        pkt->stream_index = os;
        pkt->pos = -1;
        ret = av_write_frame(r.oc, pkt);
        av_packet_unref(pkt);
        if (take_v)
            have_v = 0;
        else
            have_a = 0;
        if (ret < 0)
            goto out_fail;
    }
    if ((ret = av_write_trailer(r.oc)) < 0 || (ret = avio_closep(&r.oc->pb)) < 0 ||
        (ret = vpi_output_commit(&o)) < 0)
        goto out_fail;
    ret = 0;
    goto end;
out_fail:
    vpi_fail(fail, -1, out, ret, NULL);
end:
    if (r.oc && r.oc->pb)
        avio_closep(&r.oc->pb);
    vpi_output_abort(&o);
    av_packet_free(&r.pv);
    av_packet_free(&r.pa);
    avformat_free_context(r.oc);
    avformat_close_input(&r.iv);
    avformat_close_input(&r.ia);
    return ret;
}

/* ---- the call ------------------------------------------------------------------------ */

/* Before the encode, not after it: the output's container takes H.264 and the source's
 * audio as it is (no AAC in .webm, no FLAC in .mov). */
static int check_container(const char *out, const VpSourceInfo *src, VpFailure *fail)
{
    const AVOutputFormat *of = av_guess_format(NULL, out, NULL);
    const AVCodecDescriptor *ad = src->has_audio ? avcodec_descriptor_get_by_name(
                                                       src->audio_codec) : NULL;
    char why[300];
    if (!of)
        return vpi_fail(fail, -1, out, VP_ERR_CONTAINER_CODEC,
                       "no container for this name: use .mp4, .mov or .mkv");
    if (avformat_query_codec(of, AV_CODEC_ID_H264, FF_COMPLIANCE_NORMAL) != 1) {
        snprintf(why, sizeof(why), "%s cannot hold H.264 video: use .mp4, .mov or .mkv",
                 of->name);
        return vpi_fail(fail, -1, out, VP_ERR_CONTAINER_CODEC, why);
    }
    if (ad && avformat_query_codec(of, ad->id, FF_COMPLIANCE_NORMAL) != 1) {
        snprintf(why, sizeof(why), "%s cannot hold the source's %s audio, which is copied: "
                 "use .mkv", of->name, ad->name);
        return vpi_fail(fail, -1, out, VP_ERR_CONTAINER_CODEC, why);
    }
    return 0;
}

int vp_subs_burn(const char *in, const char *subs_path, const char *out,
                 const VpSubsBurnOpts *opts, VpFailure *fail)
{
    VpSubsBurnOpts def;
    VpPipelineOpts pdef;
    VpPipeline *p = NULL;
    VpSubs *s = NULL;
    char subs_tmp[512] = "", video_tmp[512] = "", filter[1024], why[400];
    int ret, registered = 0;

    if (!opts) {
        vp_subs_burn_default_opts(&def);
        opts = &def;
    }
    if (fail) {
        memset(fail, 0, sizeof(*fail));
        fail->input = -1;
    }
    const VpPipelineOpts *po = opts->pipeline;
    if (!po) {
        vp_pipeline_default_opts(&pdef);
        po = &pdef;
    }
    const VpLogger *lg = &po->logger;
    const VpLogger *prev = vpi_log_scope_enter(lg);
    if ((ret = vpi_opt_check(&vpi_subs_burn_options, opts, why, sizeof(why))) < 0) {
        vpi_fail(fail, -1, out, ret, why);
        goto end;
    }
    const char *inputs[2] = { in, subs_path };
    if ((ret = vp_output_check_not_input(out, inputs, 2)) < 0) {
        vpi_fail(fail, -1, out, ret, NULL);
        goto end;
    }
    /* The subtitle file first: a malformed one fails with its line before any decode. */
    if ((ret = vp_subs_read(subs_path, &s, fail)) < 0) {
        if (fail)
            fail->input = 1;
        goto end;
    }
    if (!vp_subs_count(s))
        vpi_log(lg, VP_LOG_WARNING, "%s: no cues: the video is encoded without captions",
                subs_path);
    if ((ret = write_libass_input(subs_path, s, subs_tmp, sizeof(subs_tmp))) < 0) {
        vpi_fail(fail, -1, subs_tmp[0] ? subs_tmp : "temporary folder", ret, NULL);
        goto end;
    }
    if ((ret = vpi_log_register(lg)) < 0)
        goto end;
    registered = 1;
    snprintf(filter, sizeof(filter), "subtitles=filename=%s%s%s%s", subs_tmp,
             opts->style ? ":force_style='" : "", opts->style ? opts->style : "",
             opts->style ? "'" : "");

    if ((ret = make_temp(video_tmp, sizeof(video_tmp), ".mp4")) < 0) {
        vpi_fail(fail, -1, "temporary folder", ret, NULL);
        goto end;
    }
    if ((ret = vp_pipeline_open(in, po, &p)) < 0) {
        vpi_fail(fail, 0, in, ret, NULL);
        goto end;
    }
    if (!vp_pipeline_source(p)->has_video) {
        ret = vpi_fail(fail, 0, in, VP_ERR_NO_VIDEO, NULL);
        goto end;
    }
    if ((ret = check_container(out, vp_pipeline_source(p), fail)) < 0)
        goto end;
    check_fonts(subs_path, filter, s, lg);
    VpEncodeOpts eo;
    vp_encode_default_opts(&eo);
    eo.path = video_tmp;
    eo.crf = opts->crf;
    eo.x264_preset = opts->x264_preset;
    eo.audio = 0;
    eo.faststart = 0;           /* read once by the remux: no second pass over it */
    eo.video_filters = filter;
    /* Captions change the picture, not the format: depth and timing stay the source's. */
    eo.keep_depth = 1;
    eo.keep_timing = 1;
    if ((ret = vp_pipeline_add_encode(p, &eo)) >= 0)
        ret = vp_pipeline_run(p);
    if (ret < 0) {
        VpFailure pf;
        vp_pipeline_failure(p, &pf);
        /* the source, or the temporary video (a full $TMPDIR names itself) */
        vpi_fail(fail, pf.input == 0 ? 0 : -1, pf.input == 0 ? in : pf.path[0] ? pf.path : out,
                ret, NULL);
        goto end;
    }
    vp_pipeline_close(&p);
    ret = remux(in, video_tmp, out, &po->cancel, lg, fail);
end:
    if (ret < 0 && ret != VP_ERR_CANCELLED && vpi_cancelled(&po->cancel))
        ret = vpi_fail(fail, -1, out, VP_ERR_CANCELLED, NULL);
    vp_pipeline_close(&p);
    if (video_tmp[0])
        unlink(video_tmp);
    if (subs_tmp[0])
        unlink(subs_tmp);
    vp_subs_free(&s);
    if (registered)
        vpi_log_unregister(lg);
    vpi_log_scope_leave(prev);
    return ret;
}
