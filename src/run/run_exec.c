/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One input through a planned pipeline: each pass one pipeline-engine run over the input,
 * its actions as sinks (QC, measurements, the transcriber's tap, encoders) through the
 * chains known so far; what a pass measured completes the chains of the next; then the
 * captions are muxed and written, and every output is in place. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/error.h>
#include <libavutil/frame.h>

#include "ops/ops_int.h"
#include "pipeline/sink.h"
#include "run/run_int.h"
#include "subs/asr.h"
#include "util/internal.h"

typedef struct Item {
    const VpRunPipeline *pl;
    const char *in;
    const VpRunOpts *o;
    VpFailure *fail;
    VpRunResult *res;
    char tmp[600];                      /* the item's temporary folder, or "" */
    char *chains[VPI_RUN_MAX_PARTS];    /* each part's filter, once known */
    char *captions;                     /* the captions as an SRT file in tmp, or NULL */
    VpSubs *subs;
    char **outs;                        /* final paths: media outputs, then the captions */
    size_t nb_outs;
    char *encoded[VPI_RUN_MAX_PRESETS]; /* where each media output is encoded */
    int pass;                           /* the pass running (0-based) */
} Item;

void vp_run_default_opts(VpRunOpts *o)
{
    memset(o, 0, sizeof(*o));
    o->out_dir = "out";
}

/* ---- failures ----------------------------------------------------------------------------- */

static int fail_at(Item *it, int input, const char *path, int err, const char *fmt, ...)
    VPI_PRINTF(5, 6);
static int fail_at(Item *it, int input, const char *path, int err, const char *fmt, ...)
{
    VpFailure *f = it->fail;
    if (f && !f->code) {
        char msg[700];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        f->code = err;
        f->input = input;
        vpi_strlcpy(f->path, path, sizeof(f->path));
        snprintf(f->message, sizeof(f->message), "%.400s: %.600s", path, msg);
    }
    return err;
}

static const char *step_label(const VpiStep *s, char buf[48])
{
    snprintf(buf, 48, "%s (step %d)", s->name, s->number);
    return buf;
}

/* ---- what the steps need of the input ---------------------------------------------------- */

static int check_source(const VpRunPipeline *pl, const char *in, const VpSourceInfo *src,
                        Item *it)
{
    char l[48];
    for (int i = 0; i < pl->nb_steps; i++) {
        const VpiStep *s = &pl->steps[i];
        int audio = s->kind == VPI_STEP_LOUDNORM || s->kind == VPI_STEP_SUBTITLES;
        int video = (s->kind == VPI_STEP_CLEANUP && (s->cleanup.stabilize || s->cleanup.eq)) ||
                    (s->kind == VPI_STEP_SUBTITLES && s->burn_in) ||
                    s->kind == VPI_STEP_EXPORT || s->kind == VPI_STEP_THUMB;
        if (audio && !src->has_audio)
            return fail_at(it, 0, in, VP_ERR_NO_AUDIO, "%s needs audio: %s",
                           step_label(s, l), vp_strerror(VP_ERR_NO_AUDIO));
        if (video && !src->has_video)
            return fail_at(it, 0, in, VP_ERR_NO_VIDEO, "%s needs video: %s",
                           step_label(s, l), vp_strerror(VP_ERR_NO_VIDEO));
    }
    return 0;
}

static void pass_progress(void *opaque, double done_s, double total_s)
{
    Item *it = opaque;
    it->o->progress(it->o->opaque, it->in, it->pass + 1, it->pl->nb_passes, done_s, total_s);
}

static int open_input(Item *it, VpPipeline **p)
{
    VpPipelineOpts po;
    vp_pipeline_default_opts(&po);
    po.logger = it->o->logger;
    po.cancel = it->o->cancel;
    po.decode_threads = it->o->decode_threads;
    if (it->o->progress && it->res) {
        po.progress = pass_progress;
        po.opaque = it;
    }
    int ret = vp_pipeline_open(it->in, &po, p);
    if (ret < 0)
        return fail_at(it, 0, it->in, ret, "%s", vp_strerror(ret));
    return check_source(it->pl, it->in, vp_pipeline_source(*p), it);
}

int vp_run_check_input(const VpRunPipeline *pl, const char *input, const VpRunOpts *opts,
                       VpFailure *fail)
{
    VpRunOpts def;
    VpPipeline *p = NULL;
    if (!opts) {
        vp_run_default_opts(&def);
        opts = &def;
    }
    if (fail) {
        memset(fail, 0, sizeof(*fail));
        fail->input = -1;
    }
    Item it = { .pl = pl, .in = input, .o = opts, .fail = fail };
    int ret = open_input(&it, &p);
    vp_pipeline_close(&p);
    return ret;
}

/* ---- chains ------------------------------------------------------------------------------- */

/* The filters of @p parts joined by commas, or NULL for none; malloc'd into *out. */
static int join_chain(Item *it, const int *parts, int nb, char **out)
{
    size_t n = 0;
    *out = NULL;
    for (int i = 0; i < nb; i++)
        n += strlen(it->chains[parts[i]]) + 1;
    if (!n)
        return 0;
    if (!(*out = malloc(n)))
        return AVERROR(ENOMEM);
    (*out)[0] = 0;
    for (int i = 0; i < nb; i++) {
        if (i)
            strcat(*out, ",");
        strcat(*out, it->chains[parts[i]]);
    }
    return 0;
}

/* The part of @p kind that step @p step adds. */
static int part_of(const VpRunPipeline *pl, int step, VpiPartKind kind)
{
    for (int i = 0; i < pl->nb_parts; i++)
        if (pl->parts[i].step == step && pl->parts[i].kind == kind)
            return i;
    return -1;
}

/* The filters known before any pass: eq and the denoiser. */
static int fixed_chains(Item *it)
{
    const VpRunPipeline *pl = it->pl;
    char vf[512], af[256];
    for (int i = 0; i < pl->nb_parts; i++) {
        const VpiPart *p = &pl->parts[i];
        if (p->kind != VPI_PART_EQ && p->kind != VPI_PART_DENOISE)
            continue;
        VpCleanupOpts c = pl->steps[p->step].cleanup;
        c.eq = p->kind == VPI_PART_EQ;
        c.denoise_audio = p->kind == VPI_PART_DENOISE;
        vpi_cleanup_chains(&c, NULL, vf, sizeof(vf), af, sizeof(af));
        if (!(it->chains[i] = strdup(p->video ? vf : af)))
            return AVERROR(ENOMEM);
    }
    return 0;
}

/* ---- one pass ----------------------------------------------------------------------------- */

typedef struct ActRun {
    VpiSink *sink;                      /* QC, measurements */
    VpiTranscriber *tr;
    char trf[700];                      /* vid.stab's transforms */
    char *vf, *af;
} ActRun;

typedef struct PassRun {
    Item *it;
    const VpiPass *pass;
    VpPipeline *p;
    ActRun acts[VPI_RUN_MAX_ACTS];
} PassRun;

static int tap_audio(void *opaque, const AVFrame *f)
{
    return vpi_transcriber_frame(opaque, f);
}

/* Every QC of the pass judged, before any output of it takes its name. */
static int gate(void *opaque)
{
    PassRun *pr = opaque;
    Item *it = pr->it;
    char l[48];
    for (int i = 0; i < pr->pass->nb_acts; i++) {
        const VpiAct *a = &pr->pass->acts[i];
        if (a->kind != VPI_ACT_QC)
            continue;
        const VpiStep *s = &it->pl->steps[a->step];
        VpQcReport *r = NULL;
        int ret = vpi_qc_report_make(pr->p, pr->acts[i].sink, it->in, &s->qc, &r);
        if (ret < 0)
            return fail_at(it, -1, it->in, ret, "%s: %s", step_label(s, l), vp_strerror(ret));
        if (it->o->on_qc)
            it->o->on_qc(it->o->opaque, it->in, s->number, s->qc_stop, r);
        const VpQcCheck *first = NULL;
        for (int k = 0; k < r->nb_checks && !first; k++)
            if (r->checks[k].verdict == VP_QC_FAIL)
                first = &r->checks[k];
        if (!first) {
            vpi_log(&it->o->logger, VP_LOG_VERBOSE, "%s: %s passed (%d checks)", it->in,
                    step_label(s, l), r->nb_checks);
        } else if (s->qc_stop) {
            it->res->stop_step = s->number;
            vpi_strlcpy(it->res->stop_check, first->name, sizeof(it->res->stop_check));
            fail_at(it, 0, it->in, VP_ERR_QC_FAILED, "%s failed: %s: %s%s", step_label(s, l),
                    first->name, first->message, r->nb_failed > 1 ? " (and more)" : "");
            vp_qc_report_free(&r);
            return VP_ERR_QC_FAILED;
        } else {
            it->res->qc_warnings += r->nb_failed;
            vpi_log(&it->o->logger, VP_LOG_WARNING, "%s: %s: %s: %s (\"fail\": \"warn\": "
                    "going on)", it->in, step_label(s, l), first->name, first->message);
        }
        vp_qc_report_free(&r);
    }
    return 0;
}

static const char *iso639_2(const char *lang)
{
    static const char *const map[][2] = {
        { "en", "eng" }, { "fr", "fra" }, { "de", "deu" }, { "es", "spa" }, { "it", "ita" },
        { "pt", "por" }, { "nl", "nld" }, { "ru", "rus" }, { "zh", "zho" }, { "ja", "jpn" },
    };
    for (size_t i = 0; lang && i < sizeof(map) / sizeof(map[0]); i++)
        if (!strncmp(lang, map[i][0], 2) && (!lang[2] || lang[2] == '-' || lang[2] == '_'))
            return map[i][1];
    return "und";
}

/* The output a pass's encode act writes, and its encoder settings. */
static int add_encode(PassRun *pr, const VpiAct *a, ActRun *ar, int index)
{
    Item *it = pr->it;
    const VpRunPipeline *pl = it->pl;
    VpEncodeOpts eo;
    const char *path = it->encoded[index];
    if (a->preset >= 0) {
        const VpiStep *s = &pl->steps[a->step];
        vp_preset_encode_opts(s->presets[a->preset], path, &eo);
        eo.hw = s->enc.hw;
    } else {
        vp_encode_default_opts(&eo);
        eo.path = path;
        /* The last step that says how to encode: cleanup's or burned captions' CRF and
         * preset, cleanup's or loudnorm's audio bit rate. */
        for (int i = 0; i < pl->nb_steps; i++) {
            const VpiStep *s = &pl->steps[i];
            if (s->kind == VPI_STEP_CLEANUP) {
                eo.crf = s->cleanup.crf;
                eo.x264_preset = s->cleanup.x264_preset;
                eo.audio_bitrate = s->cleanup.audio_bitrate;
            } else if (s->kind == VPI_STEP_SUBTITLES && s->burn_in) {
                eo.crf = s->burn.crf;
                eo.x264_preset = s->burn.x264_preset;
            } else if (s->kind == VPI_STEP_LOUDNORM) {
                eo.audio_bitrate = s->loudnorm.audio_bitrate;
            }
        }
        /* A picture no step touched is copied, as loudnorm copies it. */
        eo.copy_video = !ar->vf;
        eo.keep_audio_codec = 1;
        eo.keep_depth = 1;
        eo.keep_timing = 1;
    }
    eo.video_filters = ar->vf;
    eo.audio_filters = ar->af;
    int ret = vp_pipeline_add_encode(pr->p, &eo);
    if (ret < 0) {
        VpFailure pf;
        vp_pipeline_failure(pr->p, &pf);
        return fail_at(it, pf.input == 0 ? 0 : -1, pf.input == 0 ? it->in : path, ret, "%s",
                       vp_strerror(ret));
    }
    return 0;
}

static int make_parent(Item *it, const char *path);

/* A still through the video chain of the steps before it, put in place with the pass's
 * outputs. */
static int add_still(PassRun *pr, const VpiAct *a, const ActRun *ar)
{
    Item *it = pr->it;
    const VpRunPipeline *pl = it->pl;
    VpThumbOpts to = pl->steps[a->step].thumb;
    int k = 0;
    while (k < pl->nb_stills && pl->stills[k] != a->step)
        k++;
    to.path = it->outs[pl->stills_at + k];
    to.video_filters = ar->vf;
    int ret = make_parent(it, to.path);
    if (ret >= 0 && (ret = vp_pipeline_add_thumb(pr->p, &to)) < 0) {
        VpFailure pf;
        vp_pipeline_failure(pr->p, &pf);
        return fail_at(it, pf.input == 0 ? 0 : -1, pf.input == 0 ? it->in : to.path, ret, "%s",
                       vp_strerror(ret));
    }
    return ret;
}

static int add_act(PassRun *pr, int i, int *encode_index)
{
    Item *it = pr->it;
    const VpiAct *a = &pr->pass->acts[i];
    ActRun *ar = &pr->acts[i];
    const VpiStep *s = a->step >= 0 ? &it->pl->steps[a->step] : NULL;
    int ret;
    if ((ret = join_chain(it, a->vparts, a->nb_vparts, &ar->vf)) < 0 ||
        (ret = join_chain(it, a->aparts, a->nb_aparts, &ar->af)) < 0)
        return ret;
    switch (a->kind) {
    case VPI_ACT_QC: {
        VpiQcSinkOpts so = { .spec = s->qc, .video_filters = ar->vf, .audio_filters = ar->af };
        return vpi_pipeline_add_sink(pr->p, "qc", &so, NULL, &ar->sink);
    }
    case VPI_ACT_STAB_DETECT: {
        char detect[800], *chain = NULL;
        snprintf(ar->trf, sizeof(ar->trf), "%s/stab-%d.trf", it->tmp, s->number);
        vpi_cleanup_detect_chain(&s->cleanup, ar->trf, detect, sizeof(detect));
        if (asprintf(&chain, "%s%s%s", ar->vf ? ar->vf : "", ar->vf ? "," : "", detect) < 0)
            return AVERROR(ENOMEM);
        const char *c = chain;
        ret = vpi_pipeline_add_sink(pr->p, "filter", &c, NULL, NULL);
        free(chain);
        return ret;
    }
    case VPI_ACT_LOUD_MEASURE: {
        VpiQcSinkOpts so = { .audio_filters = ar->af };
        vp_qc_default_spec(&so.spec);
        return vpi_pipeline_add_sink(pr->p, "loudness", &so, NULL, &ar->sink);
    }
    case VPI_ACT_TRANSCRIBE: {
        VpTranscribeOpts to = s->tr;
        to.logger = it->o->logger;
        to.cancel = it->o->cancel;
        if ((ret = vpi_transcriber_open(&ar->tr, it->in, &to, it->fail)) < 0)
            return ret;
        VpiTapOpts tap = { .audio_filters = ar->af, .audio = tap_audio, .opaque = ar->tr };
        return vpi_pipeline_add_sink(pr->p, "tap", &tap, NULL, NULL);
    }
    case VPI_ACT_ENCODE:
        return add_encode(pr, a, ar, (*encode_index)++);
    case VPI_ACT_THUMB:
        return add_still(pr, a, ar);
    }
    return AVERROR(EINVAL);
}

/* What a pass measured, into the chains of the passes after it. */
static int after_act(PassRun *pr, int i)
{
    Item *it = pr->it;
    const VpRunPipeline *pl = it->pl;
    const VpiAct *a = &pr->pass->acts[i];
    ActRun *ar = &pr->acts[i];
    const VpiStep *s = a->step >= 0 ? &pl->steps[a->step] : NULL;
    char buf[1400], af[8], l[48];
    int ret, part;
    switch (a->kind) {
    case VPI_ACT_STAB_DETECT: {
        VpCleanupOpts c = s->cleanup;
        c.eq = c.denoise_audio = 0;
        vpi_cleanup_chains(&c, ar->trf, buf, sizeof(buf), af, sizeof(af));
        part = part_of(pl, a->step, VPI_PART_STAB);
        return (it->chains[part] = strdup(buf)) ? 0 : AVERROR(ENOMEM);
    }
    case VPI_ACT_LOUD_MEASURE: {
        VpLoudnormResult lr;
        if ((ret = vpi_loudnorm_chain(&s->loudnorm, vpi_sink_qc_data(ar->sink), &lr, buf,
                                      sizeof(buf))) < 0)
            return fail_at(it, 0, it->in, ret, "%s: %s", step_label(s, l), vp_strerror(ret));
        vpi_log(&it->o->logger, VP_LOG_VERBOSE, "%s: %s: %.1f LUFS, %.1f dBTP measured: %s",
                it->in, step_label(s, l), lr.in_i, lr.in_tp, lr.linear ? "one gain" :
                "dynamic");
        part = part_of(pl, a->step, VPI_PART_LOUDNORM);
        return (it->chains[part] = strdup(buf)) ? 0 : AVERROR(ENOMEM);
    }
    case VPI_ACT_TRANSCRIBE: {
        VpTranscribeStats st;
        if ((ret = vpi_transcriber_finish(ar->tr, &it->subs, &st, it->fail)) < 0)
            return ret;
        it->res->cues = st.nb_cues;
        if (!st.nb_cues)
            vpi_log(&it->o->logger, VP_LOG_WARNING, "%s: %s: no speech found: no captions",
                    it->in, step_label(s, l));
        /* What libass and the muxer read: SRT, or for no captions an ASS file of its header
         * alone (FFmpeg refuses an empty SRT). */
        if (!(it->captions = malloc(strlen(it->tmp) + 16)))
            return AVERROR(ENOMEM);
        sprintf(it->captions, "%s/captions.%s", it->tmp, st.nb_cues ? "srt" : "ass");
        VpFailure wf;
        if ((ret = vp_subs_write(it->subs, it->captions, st.nb_cues ? VP_SUBS_SRT : VP_SUBS_ASS,
                                 &wf)) < 0)
            return fail_at(it, -1, it->captions, ret, "%s", vp_strerror(ret));
        if ((part = part_of(pl, a->step, VPI_PART_BURN)) >= 0) {
            snprintf(buf, sizeof(buf), "subtitles=filename=%s%s%s%s", it->captions,
                     s->burn.style ? ":force_style='" : "", s->burn.style ? s->burn.style : "",
                     s->burn.style ? "'" : "");
            return (it->chains[part] = strdup(buf)) ? 0 : AVERROR(ENOMEM);
        }
        return 0;
    }
    default:
        return 0;
    }
}

static int run_pass(Item *it, int k)
{
    PassRun pr = { .it = it, .pass = &it->pl->passes[k] };
    int ret, encode_index = 0;
    /* encode acts are numbered across passes: only the last pass has them */
    if ((ret = open_input(it, &pr.p)) < 0)
        goto end;
    for (int i = 0; i < pr.pass->nb_acts && ret >= 0; i++)
        ret = add_act(&pr, i, &encode_index);
    if (ret < 0) {
        if (!it->fail || !it->fail->code)
            fail_at(it, -1, it->in, ret, "%s", vp_strerror(ret));
        goto end;
    }
    vpi_pipeline_set_gate(pr.p, gate, &pr);
    if ((ret = vp_pipeline_run(pr.p)) < 0) {
        if (ret != VP_ERR_QC_FAILED) {
            VpFailure pf;
            vp_pipeline_failure(pr.p, &pf);
            fail_at(it, pf.input == 0 ? 0 : -1, pf.input == 0 || !pf.path[0] ? it->in : pf.path,
                    ret, "%s", vp_strerror(ret));
        }
        goto end;
    }
    it->res->passes++;
    for (int i = 0; i < pr.pass->nb_acts && ret >= 0; i++)
        ret = after_act(&pr, i);
end:
    for (int i = 0; i < pr.pass->nb_acts; i++) {
        vpi_transcriber_free(&pr.acts[i].tr);
        free(pr.acts[i].vf);
        free(pr.acts[i].af);
    }
    vp_pipeline_close(&pr.p);
    return ret;
}

/* ---- the item ------------------------------------------------------------------------------ */

static const char *tmp_root(void)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir || strspn(dir, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "0123456789/_.-") != strlen(dir) || strlen(dir) > 400)
        dir = "/tmp";
    return dir;
}

static void remove_dir(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    char p[1200];
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(path);
}

/* The folders of runs killed before they could remove theirs (kill -9, a crash), named
 * after their process: removed once per process, the first time an input runs. */
static void remove_stale_tmp(void)
{
    const char *root = tmp_root();
    DIR *d = opendir(root);
    struct dirent *e;
    char p[1200];
    while (d && (e = readdir(d))) {
        struct stat sb;
        char *end;
        if (strncmp(e->d_name, "vidpipe-run-", 12))
            continue;
        long pid = strtol(e->d_name + 12, &end, 10);
        snprintf(p, sizeof(p), "%s/%s", root, e->d_name);
        if (pid > 0 && *end == '-' && pid != getpid() && kill((pid_t)pid, 0) < 0 &&
            errno == ESRCH && !lstat(p, &sb) && S_ISDIR(sb.st_mode) && sb.st_uid == getuid())
            remove_dir(p);
    }
    if (d)
        closedir(d);
}

/* A temporary folder whose path needs no escaping inside a filter graph, named after the
 * process so that a later run can tell a dead one's. */
static int make_tmp(Item *it)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, remove_stale_tmp);
    snprintf(it->tmp, sizeof(it->tmp), "%s/vidpipe-run-%ld-XXXXXX", tmp_root(), (long)getpid());
    if (!mkdtemp(it->tmp)) {
        int err = AVERROR(errno);
        fail_at(it, -1, it->tmp, err, "cannot make a temporary folder: %s", vp_strerror(err));
        it->tmp[0] = 0;
        return err;
    }
    return 0;
}

static void remove_tmp(Item *it)
{
    if (it->tmp[0])
        remove_dir(it->tmp);
}

static int make_parent(Item *it, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    char *dir = strndup(path, (size_t)(slash - path));
    int ret = dir ? vpi_mkdir_p(dir) : AVERROR(ENOMEM);
    free(dir);
    if (ret < 0)
        return fail_at(it, -1, path, ret, "cannot create its folder: %s", vp_strerror(ret));
    return 0;
}

/* Captions into each output as a track (no decode), then the captions file, last. */
static int finish_outputs(Item *it)
{
    const VpRunPipeline *pl = it->pl;
    int ret;
    if (pl->soft_subs && pl->media_outputs) {
        const char *langs[1] = { iso639_2(pl->steps[pl->subs_step].tr.lang) };
        VpSubsMuxOpts mo;
        vp_subs_mux_default_opts(&mo);
        mo.langs = langs;
        mo.logger = it->o->logger;
        mo.cancel = it->o->cancel;
        for (int k = 0; k < pl->media_outputs; k++) {
            const char *video = pl->mux_only ? it->in : it->encoded[k];
            const char *caps = it->captions;
            VpFailure mf;
            const char *out = it->outs[pl->media_at + k];
            if ((ret = make_parent(it, out)) < 0)
                return ret;
            if ((ret = vp_subs_mux(video, &caps, 1, out, &mo, &mf)) < 0) {
                if (it->fail && !it->fail->code) {
                    *it->fail = mf;
                    if (mf.input == 0 && pl->mux_only)
                        it->fail->input = 0;
                    else if (mf.input >= 0)
                        it->fail->input = -1;
                }
                return ret;
            }
        }
    }
    if (pl->subs_step >= 0) {
        const char *path = it->outs[it->nb_outs - 1];
        VpFailure wf;
        if ((ret = make_parent(it, path)) < 0)
            return ret;
        if ((ret = vp_subs_write(it->subs, path, pl->steps[pl->subs_step].sidecar, &wf)) < 0) {
            if (it->fail && !it->fail->code)
                *it->fail = wf;
            return ret;
        }
    }
    return 0;
}

int vp_run_item(const VpRunPipeline *pl, const char *input, const VpRunOpts *opts,
                VpRunResult *res, VpFailure *fail)
{
    VpRunOpts def;
    VpRunResult local;
    if (!opts) {
        vp_run_default_opts(&def);
        opts = &def;
    }
    if (!res)
        res = &local;
    memset(res, 0, sizeof(*res));
    res->cues = pl->subs_step >= 0 ? 0 : -1;
    if (fail) {
        memset(fail, 0, sizeof(*fail));
        fail->input = -1;
    }
    Item it = { .pl = pl, .in = input, .o = opts, .fail = fail, .res = res };
    const VpLogger *prev = vpi_log_scope_enter(&opts->logger);
    int ret;

    if ((ret = vp_run_item_outputs(pl, input, opts, &it.outs, &it.nb_outs)) < 0 ||
        (ret = fixed_chains(&it)) < 0)
        goto end;
    /* No output may be the input. */
    for (size_t i = 0; i < it.nb_outs; i++)
        if ((ret = vp_output_check_not_input(it.outs[i], &input, 1)) < 0) {
            fail_at(&it, -1, it.outs[i], ret, "%s", vp_strerror(ret));
            goto end;
        }
    if ((ret = make_tmp(&it)) < 0)
        goto end;
    /* Encoded outputs go straight to their names, unless captions are muxed into them. */
    for (int k = 0; k < pl->media_outputs && !pl->mux_only; k++) {
        if (pl->soft_subs) {
            if (asprintf(&it.encoded[k], "%s/encoded-%d.mp4", it.tmp, k) < 0)
                it.encoded[k] = NULL;
        } else {
            it.encoded[k] = strdup(it.outs[pl->media_at + k]);
            if (it.encoded[k] && (ret = make_parent(&it, it.encoded[k])) < 0)
                goto end;
        }
        if (!it.encoded[k]) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
    }
    for (int k = 0; k < pl->nb_passes && ret >= 0; k++) {
        it.pass = k;
        ret = run_pass(&it, k);
    }
    if (ret >= 0)
        ret = finish_outputs(&it);
    if (ret >= 0)
        for (size_t i = 0; i < it.nb_outs; i++) {
            struct stat sb;
            if (!stat(it.outs[i], &sb)) {
                res->outputs++;
                res->bytes += sb.st_size;
            }
        }
end:
    if (ret < 0 && fail && !fail->code)
        fail_at(&it, -1, input, ret, "%s", vp_strerror(ret));
    if (ret < 0 && vpi_cancelled(&opts->cancel) && fail) {
        fail->code = ret = VP_ERR_CANCELLED;
    }
    remove_tmp(&it);
    for (int i = 0; i < VPI_RUN_MAX_PARTS; i++)
        free(it.chains[i]);
    for (int k = 0; k < VPI_RUN_MAX_PRESETS; k++)
        free(it.encoded[k]);
    free(it.captions);
    vp_subs_free(&it.subs);
    vpi_paths_free(it.outs, it.nb_outs);
    vpi_log_scope_leave(prev);
    return ret;
}
