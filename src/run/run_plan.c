/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pipeline files: read (jansson), every step's options set through its command's option
 * table, checked, and planned into passes (run_int.h says what a plan is). */
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavutil/error.h>

#include "options/options_json.h"
#include "run/run_int.h"
#include "util/internal.h"
#include "util/json.h"

static const char *const kind_names[] = {
    [VPI_STEP_QC] = "qc", [VPI_STEP_CLEANUP] = "cleanup", [VPI_STEP_LOUDNORM] = "loudnorm",
    [VPI_STEP_SUBTITLES] = "subtitles", [VPI_STEP_EXPORT] = "export",
    [VPI_STEP_DELIVER] = "deliver", [VPI_STEP_THUMB] = "thumb",
};
#define NB_KINDS ((int)(sizeof(kind_names) / sizeof(kind_names[0])))

/* ---- messages -------------------------------------------------------------------------- */

typedef struct Reader {
    VpRunPipeline *pl;
    VpFailure *fail;
    const VpiStep *step;                /* the step being read, or NULL */
} Reader;

static int bad(Reader *r, const char *fmt, ...) VPI_PRINTF(2, 3);
static int bad(Reader *r, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* One line, whatever the file holds: its control characters (a key with a newline)
     * are shown as '?'. */
    for (char *c = msg; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    if (r->fail) {
        r->fail->code = VP_ERR_BAD_CONFIG;
        r->fail->input = -1;
        vpi_strlcpy(r->fail->path, r->pl->name, sizeof(r->fail->path));
        if (r->step)
            snprintf(r->fail->message, sizeof(r->fail->message), "%.300s: step %d (%s): %s",
                     r->pl->name, r->step->number, r->step->name, msg);
        else
            snprintf(r->fail->message, sizeof(r->fail->message), "%.300s: %s", r->pl->name,
                     msg);
    }
    return VP_ERR_BAD_CONFIG;
}

/* A path of the file, relative to its folder: malloc'd. */
static char *resolve(const VpRunPipeline *pl, const char *p)
{
    char *out = NULL;
    if (p[0] == '/' || !strcmp(pl->base, "."))
        return strdup(p);
    return asprintf(&out, "%s/%s", pl->base, p) < 0 ? NULL : out;
}

/* ---- options --------------------------------------------------------------------------- */

/* "max-chars" as "max_chars": the CLI's spelling of a key is the table's. */
static void key_norm(char *dst, size_t size, const char *key)
{
    vpi_strlcpy(dst, key, size);
    for (char *c = dst; *c; c++)
        if (*c == '-')
            *c = '_';
}

/* Option @p key of @p obj through table @p t: 0, 1 when the table has no such option, or
 * an error already said. */
static int set_opt(Reader *r, const VpiOptTable *t, void *obj, const char *key, const json_t *v)
{
    char why[300];
    VpiValue val = vpi_value_of_json(v);
    /* `--preset` of the commands is their table's x264_preset */
    if (!strcmp(key, "preset") && vpi_opt_find(t, "x264_preset"))
        key = "x264_preset";
    int ret = vpi_opt_set_value(t, obj, key, &val, why, sizeof(why));
    if (ret == AVERROR_OPTION_NOT_FOUND)
        return 1;
    return ret < 0 ? bad(r, "%s", why) : 0;
}

static int check_opts(Reader *r, const VpiOptTable *t, const void *obj)
{
    char why[300];
    return vpi_opt_check(t, obj, why, sizeof(why)) < 0 ? bad(r, "%s", why) : 0;
}

static int unknown(Reader *r, const char *key)
{
    return bad(r, "unknown option '%s' (see 'vidpipe run --list-steps')", key);
}

static int want_string(Reader *r, const char *key, const json_t *v, const char **out)
{
    if (!json_is_string(v) || !json_string_length(v))
        return bad(r, "%s: must be a non-empty string", key);
    *out = json_string_value(v);
    return 0;
}

static int load_spec(void *obj, const char *path, char *err, size_t size)
{
    return vp_qc_spec_load(path, obj, err, size);
}

static int load_presets(void *obj, const char *path, char *err, size_t size)
{
    return vp_preset_set_load(obj, path, err, size);
}

/* The file that option @p key of @p o names (relative to the pipeline's folder), read into
 * @p obj by @p load: 0 when the option is absent or the file read, else the error said. */
static int load_file(Reader *r, const json_t *o, const char *key,
                     int (*load)(void *obj, const char *path, char *err, size_t size), void *obj)
{
    json_t *v = json_object_get(o, key);
    const char *p = NULL;
    char why[300];
    int ret;
    if (!v)
        return 0;
    if ((ret = want_string(r, key, v, &p)) < 0)
        return ret;
    char *path = resolve(r->pl, p);
    if (!path)
        return AVERROR(ENOMEM);
    if ((ret = load(obj, path, why, sizeof(why))) < 0)
        bad(r, "%s: %s: %s", key, path, ret == AVERROR_INVALIDDATA ? why : vp_strerror(ret));
    free(path);
    return ret < 0 ? VP_ERR_BAD_CONFIG : 0;
}

static int read_qc(Reader *r, VpiStep *s, const json_t *o)
{
    char key[64];
    const char *k;
    json_t *v;
    vp_qc_default_spec(&s->qc);
    s->qc_stop = 1;
    /* The spec file first: the step's own keys override it. */
    int ret = load_file(r, o, "spec", load_spec, &s->qc);
    if (ret < 0)
        return ret;
    json_object_foreach((json_t *)o, k, v) {
        key_norm(key, sizeof(key), k);
        if (!strcmp(key, "spec"))
            continue;
        if (!strcmp(key, "fail")) {
            const char *f = json_is_string(v) ? json_string_value(v) : "";
            if (strcmp(f, "stop") && strcmp(f, "warn"))
                return bad(r, "fail: must be \"stop\" or \"warn\"");
            s->qc_stop = !strcmp(f, "stop");
        } else if ((ret = set_opt(r, &vpi_qc_spec_options, &s->qc, key, v)) != 0) {
            return ret < 0 ? ret : unknown(r, k);
        }
    }
    return check_opts(r, &vpi_qc_spec_options, &s->qc);
}

/* A step whose options are one table's, all of them (cleanup, loudnorm). */
static int read_table(Reader *r, const VpiOptTable *t, void *obj, const json_t *o)
{
    char key[64];
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        key_norm(key, sizeof(key), k);
        int ret = set_opt(r, t, obj, key, v);
        if (ret)
            return ret < 0 ? ret : unknown(r, k);
    }
    return check_opts(r, t, obj);
}

static int read_subtitles(Reader *r, VpiStep *s, const json_t *o)
{
    char key[64];
    const char *k;
    json_t *v;
    vpi_opt_defaults(&vpi_transcribe_options, &s->tr);
    vp_subs_burn_default_opts(&s->burn);
    s->sidecar = VP_SUBS_SRT;
    json_object_foreach((json_t *)o, k, v) {
        int ret;
        key_norm(key, sizeof(key), k);
        if (!strcmp(key, "burn")) {
            if (!json_is_boolean(v))
                return bad(r, "burn: must be true or false");
            s->burn_in = json_is_true(v);
        } else if (!strcmp(key, "format")) {
            const char *f = json_is_string(v) ? json_string_value(v) : "";
            if (strcmp(f, "srt") && strcmp(f, "vtt"))
                return bad(r, "format: must be \"srt\" or \"vtt\"");
            s->sidecar = !strcmp(f, "srt") ? VP_SUBS_SRT : VP_SUBS_VTT;
        } else if ((ret = set_opt(r, &vpi_transcribe_options, &s->tr, key, v)) != 0 &&
                   (ret < 0 || (ret = set_opt(r, &vpi_subs_burn_options, &s->burn, key, v)))) {
            return ret < 0 ? ret : unknown(r, k);
        }
    }
    int ret = check_opts(r, &vpi_transcribe_options, &s->tr);
    return ret < 0 ? ret : check_opts(r, &vpi_subs_burn_options, &s->burn);
}

/* One preset name of an export step. */
static int add_preset(Reader *r, VpiStep *s, const char *name, size_t len)
{
    char n[64];
    if (!len || len >= sizeof(n))
        return bad(r, "presets: '%.*s' is not a preset name", (int)(len < 64 ? len : 64), name);
    memcpy(n, name, len);
    n[len] = 0;
    const VpPreset *p = vp_preset_set_find(r->pl->preset_set, n);
    if (!p)
        return bad(r, "presets: no preset called '%s' (see 'vidpipe export --list-presets')",
                   n);
    for (int i = 0; i < s->nb_presets; i++)
        if (s->presets[i] == p)
            return bad(r, "presets: '%s' is named twice", n);
    if (s->nb_presets == VPI_RUN_MAX_PRESETS)
        return bad(r, "presets: more than %d", VPI_RUN_MAX_PRESETS);
    s->presets[s->nb_presets++] = p;
    return 0;
}

static int read_export(Reader *r, VpiStep *s, const json_t *o)
{
    char key[64];
    const char *k;
    json_t *v;
    vp_encode_default_opts(&s->enc);
    /* `vidpipe export --presets FILE`: more presets, before the names are looked up. */
    int ret = load_file(r, o, "preset_file", load_presets, r->pl->preset_set);
    if (ret < 0)
        return ret;
    json_object_foreach((json_t *)o, k, v) {
        key_norm(key, sizeof(key), k);
        if (!strcmp(key, "preset_file"))
            continue;
        if (!strcmp(key, "presets") && json_is_array(v)) {
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e) {
                if (!json_is_string(e))
                    return bad(r, "presets: must be names (strings)");
                if ((ret = add_preset(r, s, json_string_value(e), json_string_length(e))) < 0)
                    return ret;
            }
        } else if (!strcmp(key, "presets") || !strcmp(key, "preset")) {
            /* `vidpipe export --preset a,b` */
            if (!json_is_string(v))
                return bad(r, "%s: must be a list of names or \"a,b\"", k);
            const char *p = json_string_value(v);
            while (*p) {
                size_t n = strcspn(p, ",");
                if ((ret = add_preset(r, s, p, n)) < 0)
                    return ret;
                p += n + (p[n] == ',');
            }
        } else if (!strcmp(key, "hw")) {
            if ((ret = set_opt(r, &vpi_encode_options, &s->enc, key, v)) != 0)
                return ret;
        } else {
            return unknown(r, k);
        }
    }
    if (!s->nb_presets)
        return bad(r, "presets: name at least one (see 'vidpipe export --list-presets')");
    return 0;
}

/* A delivery template: {name} and {preset} only, {name} required. */
static int check_template(Reader *r, const char *key, const char *t, int need_preset)
{
    int has_name = 0, has_preset = 0;
    for (const char *c = strchr(t, '{'); c; c = strchr(c + 1, '{')) {
        if (!strncmp(c, "{name}", 6))
            has_name = 1;
        else if (!strncmp(c, "{preset}", 8))
            has_preset = 1;
        else
            return bad(r, "%s: unknown placeholder in '%s' (there are {name} and {preset})",
                       key, t);
    }
    if (!has_name)
        return bad(r, "%s: '%s' has no {name}: every input would write the same file", key, t);
    if (need_preset && !has_preset)
        return bad(r, "%s: '%s' has no {preset}: every preset would write the same file",
                   key, t);
    return 0;
}

/* A still: the options of 'vidpipe thumb', "format" (jpg, png, webp) and "name", what its
 * file is named after ("thumb" for a frame, "sheet" for a contact sheet). */
static int read_thumb(Reader *r, VpiStep *s, const json_t *o)
{
    VpRunPipeline *pl = r->pl;
    char key[64];
    const char *k;
    json_t *v;
    vp_thumb_default_opts(&s->thumb);
    s->ext = "jpg";
    json_object_foreach((json_t *)o, k, v) {
        int ret;
        key_norm(key, sizeof(key), k);
        if (!strcmp(key, "format")) {
            const char *f = json_is_string(v) ? json_string_value(v) : "";
            if (strcmp(f, "jpg") && strcmp(f, "png") && strcmp(f, "webp"))
                return bad(r, "format: must be \"jpg\", \"png\" or \"webp\"");
            s->ext = f;
        } else if (!strcmp(key, "name")) {
            if ((ret = want_string(r, "name", v, &s->still)) < 0)
                return ret;
            if (strpbrk(s->still, "/\\{}") || s->still[0] == '.')
                return bad(r, "name: '%s' is not a plain name (no '/', braces or leading dot)",
                           s->still);
        } else if ((ret = set_opt(r, &vpi_thumb_options, &s->thumb, key, v))) {
            return ret < 0 ? ret : unknown(r, k);
        }
    }
    if (!s->still)
        s->still = s->thumb.cols * s->thumb.rows > 1 ? "sheet" : "thumb";
    /* the file is named per input; a name with its extension stands in for the check */
    s->thumb.path = s->ext;
    int ret = check_opts(r, &vpi_thumb_options, &s->thumb);
    s->thumb.path = NULL;
    if (ret < 0)
        return ret;
    for (int i = 0; i < pl->nb_stills; i++)
        if (!strcmp(pl->steps[pl->stills[i]].still, s->still))
            return bad(r, "name: '%s' is the name of step %d's still too (give each its "
                       "own \"name\")", s->still, pl->steps[pl->stills[i]].number);
    if (pl->nb_stills == VPI_RUN_MAX_STILLS)
        return bad(r, "more than %d thumb steps", VPI_RUN_MAX_STILLS);
    pl->stills[pl->nb_stills++] = (int)(s - pl->steps);
    return 0;
}

static int read_deliver(Reader *r, VpiStep *s, const json_t *o)
{
    char key[64];
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        int ret;
        key_norm(key, sizeof(key), k);
        if (!strcmp(key, "to")) {
            if ((ret = want_string(r, "to", v, &s->to)) < 0)
                return ret;
        } else if (!strcmp(key, "subtitles")) {
            if ((ret = want_string(r, "subtitles", v, &s->subs_to)) < 0)
                return ret;
        } else if (!strcmp(key, "stills")) {
            if ((ret = want_string(r, "stills", v, &s->stills_to)) < 0)
                return ret;
        } else {
            return unknown(r, k);
        }
    }
    if (!s->to && !s->subs_to && !s->stills_to)
        return bad(r, "to: say where the outputs go (\"out/{preset}/{name}.mp4\")");
    return 0;
}

/* ---- planning ---------------------------------------------------------------------------- */

/* Each act goes into the first pass where every filter it goes through is known: a part
 * measured in pass k is usable from pass k + 1, and an act only goes through the parts of
 * the media it sees (a loudness measurement waits for loudnorm, not for burned captions). */
typedef struct Planner {
    VpRunPipeline *pl;
    int vparts[VPI_RUN_MAX_PARTS], nb_v;
    int aparts[VPI_RUN_MAX_PARTS], nb_a;
    int avail[VPI_RUN_MAX_PARTS];       /* the first pass (0-based) a part can be used in */
    int min_pass;                       /* no act goes into an earlier pass */
} Planner;

static const char *part_label(const VpRunPipeline *pl, const VpiPart *p)
{
    return p->kind == VPI_PART_BURN ? "subtitles-burn" : pl->steps[p->step].name;
}

static void label(VpiPass *pass, const char *l)
{
    for (int i = 0; i < pass->nb_labels; i++)
        if (!strcmp(pass->labels[i], l))
            return;
    if (pass->nb_labels < VPI_RUN_MAX_ACTS)
        vpi_strlcpy(pass->labels[pass->nb_labels++], l, sizeof(pass->labels[0]));
}

/* Add an act seeing the video chain (@p video) and the audio chain (@p audio) as they are
 * now; returns the pass it went to, or a negative error. */
static int add_act(Planner *pn, VpiActKind kind, int step, int preset, int video, int audio,
                   const char *l)
{
    VpRunPipeline *pl = pn->pl;
    int at = pn->min_pass;
    for (int i = 0; video && i < pn->nb_v; i++)
        at = pn->avail[pn->vparts[i]] > at ? pn->avail[pn->vparts[i]] : at;
    for (int i = 0; audio && i < pn->nb_a; i++)
        at = pn->avail[pn->aparts[i]] > at ? pn->avail[pn->aparts[i]] : at;
    if (at >= VPI_RUN_MAX_PASSES)
        return AVERROR(E2BIG);
    while (pl->nb_passes <= at)
        memset(&pl->passes[pl->nb_passes++], 0, sizeof(pl->passes[0]));
    VpiPass *p = &pl->passes[at];
    if (p->nb_acts == VPI_RUN_MAX_ACTS)
        return AVERROR(E2BIG);
    VpiAct *a = &p->acts[p->nb_acts++];
    *a = (VpiAct){ .kind = kind, .step = step, .preset = preset };
    if (video) {
        memcpy(a->vparts, pn->vparts, sizeof(a->vparts));
        a->nb_vparts = pn->nb_v;
    }
    if (audio) {
        memcpy(a->aparts, pn->aparts, sizeof(a->aparts));
        a->nb_aparts = pn->nb_a;
    }
    for (int i = 0; i < a->nb_vparts; i++)
        label(p, part_label(pl, &pl->parts[a->vparts[i]]));
    for (int i = 0; i < a->nb_aparts; i++)
        label(p, part_label(pl, &pl->parts[a->aparts[i]]));
    label(p, l);
    return at;
}

/* A filter of step @p step, usable from pass @p avail on. */
static int add_part(Planner *pn, VpiPartKind kind, int video, int step, int avail)
{
    VpRunPipeline *pl = pn->pl;
    if (pl->nb_parts == VPI_RUN_MAX_PARTS)
        return AVERROR(E2BIG);
    pl->parts[pl->nb_parts] = (VpiPart){ kind, video, step };
    pn->avail[pl->nb_parts] = avail;
    if (video)
        pn->vparts[pn->nb_v++] = pl->nb_parts;
    else
        pn->aparts[pn->nb_a++] = pl->nb_parts;
    pl->nb_parts++;
    return 0;
}

static int plan(VpRunPipeline *pl)
{
    Planner pn = { pl };
    int ret = 0, last_part_step = -1;
    int stills_v[VPI_RUN_MAX_STILLS][VPI_RUN_MAX_PARTS], stills_nv[VPI_RUN_MAX_STILLS];
    int nb_stills = 0;
    for (int i = 0; i < pl->nb_steps && ret >= 0; i++) {
        VpiStep *s = &pl->steps[i];
        switch (s->kind) {
        case VPI_STEP_QC:
            ret = add_act(&pn, VPI_ACT_QC, i, -1, 1, 1, "qc");
            break;
        case VPI_STEP_CLEANUP:
            /* the camera path is known only once every picture was seen */
            if (s->cleanup.stabilize &&
                ((ret = add_act(&pn, VPI_ACT_STAB_DETECT, i, -1, 1, 0, "stabilize-detect")) < 0 ||
                 (ret = add_part(&pn, VPI_PART_STAB, 1, i, ret + 1)) < 0))
                break;
            if (s->cleanup.eq && (ret = add_part(&pn, VPI_PART_EQ, 1, i, 0)) < 0)
                break;
            if (s->cleanup.denoise_audio)
                ret = add_part(&pn, VPI_PART_DENOISE, 0, i, 0);
            last_part_step = i;
            break;
        case VPI_STEP_LOUDNORM:
            /* the gain follows from the loudness of the whole input */
            if ((ret = add_act(&pn, VPI_ACT_LOUD_MEASURE, i, -1, 0, 1, "loudnorm-measure")) >= 0)
                ret = add_part(&pn, VPI_PART_LOUDNORM, 0, i, ret + 1);
            last_part_step = i;
            break;
        case VPI_STEP_SUBTITLES:
            if ((ret = add_act(&pn, VPI_ACT_TRANSCRIBE, i, -1, 0, 1, "subtitles")) < 0)
                break;
            if (s->burn_in) {
                /* captions are drawn once they are all known */
                ret = add_part(&pn, VPI_PART_BURN, 1, i, ret + 1);
                last_part_step = i;
            } else {
                pl->soft_subs = 1;
            }
            break;
        case VPI_STEP_EXPORT:
            for (int k = 0; k < s->nb_presets && ret >= 0; k++) {
                char l[48];
                snprintf(l, sizeof(l), "export %s", s->presets[k]->name);
                ret = add_act(&pn, VPI_ACT_ENCODE, i, k, 1, 1, l);
            }
            pl->media_outputs = s->nb_presets;
            break;
        case VPI_STEP_DELIVER:
            break;
        case VPI_STEP_THUMB:
            /* the chain as it is here; placed once every pass is known (below) */
            memcpy(stills_v[nb_stills], pn.vparts, sizeof(pn.vparts));
            stills_nv[nb_stills++] = pn.nb_v;
            break;
        }
    }
    if (ret >= 0 && pl->export_step < 0 && pl->nb_parts) {
        /* what the transforms made, in the input's format where the container allows */
        ret = add_act(&pn, VPI_ACT_ENCODE, -1, -1, 1, 1, "encode");
        pl->media_outputs = 1;
        pl->out_suffix = pl->steps[last_part_step].name;
    } else if (ret >= 0 && pl->export_step < 0 && pl->soft_subs) {
        pl->mux_only = 1;
        pl->media_outputs = 1;
        pl->out_suffix = "subtitles";
    }
    /* Stills are made in the last pass (the one of the outputs, after every QC's verdict),
     * each through the video chain of the steps before it. */
    pn.min_pass = pl->nb_passes ? pl->nb_passes - 1 : 0;
    for (int i = 0; i < nb_stills && ret >= 0; i++) {
        memcpy(pn.vparts, stills_v[i], sizeof(pn.vparts));
        pn.nb_v = stills_nv[i];
        ret = add_act(&pn, VPI_ACT_THUMB, pl->stills[i], -1, 1, 0,
                      pl->steps[pl->stills[i]].still);
        /* a still whose chain needs a later pass takes the others (and the outputs) along */
        if (ret > pn.min_pass)
            ret = AVERROR_BUG;
    }
    /* the order the outputs are put in place (see run_int.h) */
    int muxed = pl->soft_subs && pl->media_outputs;
    pl->stills_at = muxed ? 0 : pl->media_outputs;
    pl->media_at = muxed ? pl->nb_stills : 0;
    return ret < 0 ? ret : 0;
}

/* ---- the file ------------------------------------------------------------------------------ */

static int read_step(Reader *r, const json_t *e, int index)
{
    VpRunPipeline *pl = r->pl;
    r->step = NULL;
    if (!json_is_object(e) || json_object_size(e) != 1)
        return bad(r, "step %d: must be an object with one key, the step's name "
                   "({\"qc\": {...}})", index + 1);
    const char *k = json_object_iter_key(json_object_iter((json_t *)e));
    json_t *o = json_object_get(e, k);
    int kind = -1;
    for (int i = 0; i < NB_KINDS; i++)
        if (!strcmp(k, kind_names[i]))
            kind = i;
    if (kind < 0)
        return bad(r, "step %d: unknown step '%s' (there are qc, cleanup, loudnorm, "
                   "subtitles, thumb, export and deliver)", index + 1, k);
    if (!json_is_object(o))
        return bad(r, "step %d (%s): its options must be an object ({} for none)", index + 1,
                   k);
    VpiStep *s = &pl->steps[pl->nb_steps++];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->number = index + 1;
    s->name = kind_names[kind];
    r->step = s;
    /* The order of steps: one export, one subtitles step, deliver last. */
    if (pl->deliver_step >= 0)
        return bad(r, "comes after deliver: deliver is the last step");
    if (pl->export_step >= 0 && kind != VPI_STEP_DELIVER && kind != VPI_STEP_THUMB)
        return bad(r, "comes after export: only thumb and deliver may follow it");
    if (kind == VPI_STEP_SUBTITLES && pl->subs_step >= 0)
        return bad(r, "a second subtitles step: one is allowed");
    switch (kind) {
    case VPI_STEP_QC:        return read_qc(r, s, o);
    case VPI_STEP_CLEANUP:
        vp_cleanup_default_opts(&s->cleanup);
        return read_table(r, &vpi_cleanup_options, &s->cleanup, o);
    case VPI_STEP_LOUDNORM:
        vp_loudnorm_default_opts(&s->loudnorm);
        return read_table(r, &vpi_loudnorm_options, &s->loudnorm, o);
    case VPI_STEP_SUBTITLES:
        pl->subs_step = pl->nb_steps - 1;
        return read_subtitles(r, s, o);
    case VPI_STEP_EXPORT:
        pl->export_step = pl->nb_steps - 1;
        return read_export(r, s, o);
    case VPI_STEP_THUMB:
        return read_thumb(r, s, o);
    default:
        pl->deliver_step = pl->nb_steps - 1;
        return read_deliver(r, s, o);
    }
}

static int read_root(Reader *r)
{
    VpRunPipeline *pl = r->pl;
    const char *k;
    json_t *v;
    if (!json_is_object(pl->root))
        return bad(r, "must be a JSON object with \"steps\" (and \"inputs\")");
    json_object_foreach(pl->root, k, v) {
        if (!strcmp(k, "steps")) {
            continue;
        } else if (!strcmp(k, "inputs")) {
            int ok = json_is_string(v) && json_string_length(v);
            if (json_is_array(v) && json_array_size(v)) {
                size_t i;
                json_t *e;
                ok = 1;
                json_array_foreach(v, i, e)
                    ok &= json_is_string(e) && json_string_length(e);
            }
            if (!ok)
                return bad(r, "inputs: must be a pattern, a folder or a list file (a string), "
                           "or an array of them");
        } else if (!strcmp(k, "description") || !strcmp(k, "name")) {
            if (!json_is_string(v))
                return bad(r, "%s: must be a string", k);
        } else {
            return bad(r, "unknown key '%s' (there are inputs, steps, name, description)", k);
        }
    }
    json_t *steps = json_object_get(pl->root, "steps");
    if (!json_is_array(steps) || !json_array_size(steps))
        return bad(r, "steps: must be a non-empty array of steps");
    if (json_array_size(steps) > VPI_RUN_MAX_STEPS)
        return bad(r, "steps: more than %d", VPI_RUN_MAX_STEPS);
    size_t i;
    json_t *e;
    json_array_foreach(steps, i, e) {
        int ret = read_step(r, e, (int)i);
        if (ret < 0)
            return ret;
    }
    r->step = NULL;
    int ret = plan(pl);
    if (ret < 0)
        return bad(r, "steps: too many for one plan (%d passes, %d filters, %d outputs a "
                   "pass at most)", VPI_RUN_MAX_PASSES, VPI_RUN_MAX_PARTS, VPI_RUN_MAX_ACTS);
    if (pl->deliver_step >= 0) {
        VpiStep *d = &pl->steps[pl->deliver_step];
        r->step = d;
        if (d->to && !pl->media_outputs)
            return bad(r, "to: nothing to deliver (no export, no step that changes the media)");
        if (d->subs_to && pl->subs_step < 0)
            return bad(r, "subtitles: there is no subtitles step");
        if (d->stills_to && !pl->nb_stills)
            return bad(r, "stills: there is no thumb step");
        if (d->stills_to && (ret = check_template(r, "stills", d->stills_to,
                                                  pl->nb_stills > 1)) < 0)
            return ret;
        if ((d->to && (ret = check_template(r, "to", d->to, pl->media_outputs > 1)) < 0) ||
            (d->subs_to && (ret = check_template(r, "subtitles", d->subs_to, 0)) < 0))
            return ret;
        if (!d->to && pl->media_outputs)
            return bad(r, "to: say where the outputs go (\"out/{preset}/{name}.mp4\")");
    }
    return 0;
}

static int parse(const char *name, const char *text, size_t len, const char *path,
                 const char *base, VpRunPipeline **out, VpFailure *fail)
{
    VpRunPipeline *pl = calloc(1, sizeof(*pl));
    Reader r = { pl, fail, NULL };
    char why[300];
    int ret;

    *out = NULL;
    if (fail) {
        memset(fail, 0, sizeof(*fail));
        fail->input = -1;
    }
    if (!pl || !(pl->name = strdup(name)) || !(pl->base = strdup(base && *base ? base : ".")) ||
        (ret = vp_preset_set_new(&pl->preset_set)) < 0) {
        vp_run_pipeline_free(&pl);
        return AVERROR(ENOMEM);
    }
    pl->export_step = pl->deliver_step = pl->subs_step = -1;
    ret = path ? vpi_json_read_file(path, &pl->root, why, sizeof(why))
               : vpi_json_parse(text, len, &pl->root, why, sizeof(why));
    if (ret < 0) {
        if (fail) {
            fail->code = ret == AVERROR_INVALIDDATA ? VP_ERR_BAD_CONFIG : ret;
            fail->input = 0;
            vpi_strlcpy(fail->path, name, sizeof(fail->path));
            snprintf(fail->message, sizeof(fail->message), "%.400s: %.500s", name,
                     ret == AVERROR_INVALIDDATA ? why : vp_strerror(ret));
        }
        vp_run_pipeline_free(&pl);
        return ret == AVERROR_INVALIDDATA ? VP_ERR_BAD_CONFIG : ret;
    }
    if ((ret = read_root(&r)) < 0 ||
        (!(pl->settings = json_dumps(pl->root, JSON_SORT_KEYS | JSON_COMPACT)) &&
         (ret = AVERROR(ENOMEM)))) {
        vp_run_pipeline_free(&pl);
        return ret;
    }
    *out = pl;
    return 0;
}

int vp_run_pipeline_load(const char *path, VpRunPipeline **out, VpFailure *fail)
{
    const char *slash = strrchr(path, '/');
    char *base = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : NULL;
    if (slash && !base)
        return AVERROR(ENOMEM);
    int ret = parse(path, NULL, 0, path, base, out, fail);
    free(base);
    return ret;
}

int vp_run_pipeline_parse(const char *name, const char *text, size_t len, const char *base_dir,
                          VpRunPipeline **out, VpFailure *fail)
{
    return parse(name, text, len, NULL, base_dir, out, fail);
}

void vp_run_pipeline_free(VpRunPipeline **p)
{
    VpRunPipeline *pl = p ? *p : NULL;
    if (!pl)
        return;
    free(pl->name);
    free(pl->base);
    free(pl->settings);
    json_decref(pl->root);
    vp_preset_set_free(&pl->preset_set);
    free(pl);
    *p = NULL;
}

void vp_run_pipeline_counts(const VpRunPipeline *pl, int *passes, int *steps)
{
    if (passes)
        *passes = pl->nb_passes;
    if (steps)
        *steps = pl->nb_steps;
}

const char *vp_run_pipeline_settings(const VpRunPipeline *pl)
{
    return pl->settings;
}

/* ---- the plan as text -------------------------------------------------------------------- */

/* Template @p t with {preset} filled in ({name} stays, as the plan shows it). */
static void fill_preset(const char *t, const char *pname, char *buf, size_t size)
{
    size_t n = 0;
    for (const char *c = t; *c && n + 1 < size; c++) {
        if (!strncmp(c, "{preset}", 8)) {
            n += (size_t)snprintf(buf + n, size - n, "%s", pname);
            c += 7;
        } else {
            buf[n++] = *c;
        }
        if (n >= size)
            n = size - 1;
    }
    buf[n] = 0;
}

static void out_template(const VpRunPipeline *pl, int preset, char *buf, size_t size)
{
    const VpiStep *d = pl->deliver_step >= 0 ? &pl->steps[pl->deliver_step] : NULL;
    const char *pname = preset >= 0 ? pl->steps[pl->export_step].presets[preset]->name
                                    : pl->out_suffix;
    if (d && d->to)
        fill_preset(d->to, pname, buf, size);
    else
        snprintf(buf, size, "OUT/{name}_%s.mp4", pname);
}

/* Where thumb step @p step's still goes, as vpi_run_still_path() decides it. */
static void still_template(const VpRunPipeline *pl, int step, char *buf, size_t size)
{
    const VpiStep *d = pl->deliver_step >= 0 ? &pl->steps[pl->deliver_step] : NULL;
    const VpiStep *s = &pl->steps[step];
    if (d && d->stills_to) {
        fill_preset(d->stills_to, s->still, buf, size);
    } else if (d && d->to && pl->media_outputs) {
        out_template(pl, pl->export_step >= 0 ? 0 : -1, buf, size);
        char *slash = strrchr(buf, '/');
        size_t n = slash ? (size_t)(slash - buf + 1) : 0;
        snprintf(buf + n, size - n, "{name}_%s.%s", s->still, s->ext);
    } else {
        snprintf(buf, size, "OUT/{name}_%s.%s", s->still, s->ext);
    }
}

char *vp_run_pipeline_plan(const VpRunPipeline *pl)
{
    char *text = NULL, line[1200];
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    for (int i = 0; i < pl->nb_passes; i++) {
        const VpiPass *p = &pl->passes[i];
        fprintf(f, "pass %d: decode IN ->", i + 1);
        for (int k = 0; k < p->nb_labels; k++)
            fprintf(f, "%s %s", k ? "," : "", p->labels[k]);
        fputc('\n', f);
    }
    if (pl->soft_subs && pl->media_outputs)
        fprintf(f, "then: mux the captions into %s as a subtitle track (no decode)\n",
                pl->mux_only ? "a copy of IN" : pl->media_outputs == 1 ? "the output"
                : "each output");
    if (pl->subs_step >= 0)
        fprintf(f, "then: write the captions beside the outputs ({name}.%s)\n",
                pl->steps[pl->subs_step].sidecar == VP_SUBS_VTT ? "vtt" : "srt");
    for (int k = 0; k < pl->media_outputs; k++) {
        out_template(pl, pl->export_step >= 0 ? k : -1, line, sizeof(line));
        fprintf(f, "%s %s\n", k ? "       " : "output:", line);
    }
    for (int k = 0; k < pl->nb_stills; k++) {
        still_template(pl, pl->stills[k], line, sizeof(line));
        fprintf(f, "%s %s\n", k ? "       " : "still: ", line);
    }
    fprintf(f, "%d pass%s for %d step%s\n", pl->nb_passes, pl->nb_passes == 1 ? "" : "es",
            pl->nb_steps, pl->nb_steps == 1 ? "" : "s");
    if (fclose(f)) {
        free(text);
        return NULL;
    }
    return text;
}

/* ---- paths --------------------------------------------------------------------------------- */

char *vpi_run_item_name(const char *in)
{
    const char *b = strrchr(in, '/');
    b = b ? b + 1 : in;
    const char *dot = strrchr(b, '.');
    return strndup(b, dot && dot != b ? (size_t)(dot - b) : strlen(b));
}

/* @p t with {name} and {preset} replaced, relative to the pipeline's folder. */
static int expand(const VpRunPipeline *pl, const char *t, const char *name, const char *preset,
                  char **out)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    if (!f)
        return AVERROR(ENOMEM);
    for (const char *c = t; *c; c++) {
        if (!strncmp(c, "{name}", 6)) {
            fputs(name, f);
            c += 5;
        } else if (!strncmp(c, "{preset}", 8)) {
            fputs(preset ? preset : "", f);
            c += 7;
        } else {
            fputc(*c, f);
        }
    }
    if (fclose(f)) {
        free(s);
        return AVERROR(ENOMEM);
    }
    *out = resolve(pl, s);
    free(s);
    return *out ? 0 : AVERROR(ENOMEM);
}

int vpi_run_output_path(const VpRunPipeline *pl, const VpRunOpts *o, const char *in, int preset,
                        char **path)
{
    char *name = vpi_run_item_name(in);
    const char *pname = preset >= 0 ? pl->steps[pl->export_step].presets[preset]->name
                                    : pl->out_suffix;
    int ret;
    *path = NULL;
    if (!name)
        return AVERROR(ENOMEM);
    if (pl->deliver_step >= 0 && pl->steps[pl->deliver_step].to)
        ret = expand(pl, pl->steps[pl->deliver_step].to, name, pname, path);
    else
        ret = asprintf(path, "%s/%s_%s.mp4", o && o->out_dir ? o->out_dir : "out", name,
                       pname) < 0 ? (*path = NULL, AVERROR(ENOMEM)) : 0;
    free(name);
    return ret;
}

int vpi_run_sidecar_path(const VpRunPipeline *pl, const VpRunOpts *o, const char *in,
                         char **path)
{
    const char *ext = pl->steps[pl->subs_step].sidecar == VP_SUBS_VTT ? "vtt" : "srt";
    char *name = vpi_run_item_name(in), *first = NULL;
    int ret = 0;
    *path = NULL;
    if (!name)
        return AVERROR(ENOMEM);
    if (pl->deliver_step >= 0 && pl->steps[pl->deliver_step].subs_to) {
        ret = expand(pl, pl->steps[pl->deliver_step].subs_to, name, NULL, path);
    } else if (pl->media_outputs && (ret = vpi_run_output_path(pl, o, in, pl->export_step >= 0
                                                                ? 0 : -1, &first)) >= 0) {
        /* beside the (first) output */
        char *slash = strrchr(first, '/');
        if (asprintf(path, "%.*s%s.%s", slash ? (int)(slash - first + 1) : 0, first, name,
                     ext) < 0)
            *path = NULL, ret = AVERROR(ENOMEM);
    } else if (ret >= 0 && asprintf(path, "%s/%s.%s", o && o->out_dir ? o->out_dir : "out",
                                    name, ext) < 0) {
        *path = NULL, ret = AVERROR(ENOMEM);
    }
    free(first);
    free(name);
    return ret;
}

void vp_run_paths_free(char **paths, size_t nb)
{
    vpi_paths_free(paths, nb);
}

static int push(char ***paths, size_t *nb, char *p)
{
    if (!p)
        return AVERROR(ENOMEM);
    for (size_t i = 0; i < *nb; i++)
        if (!strcmp((*paths)[i], p)) {
            free(p);
            return 0;
        }
    char **n = realloc(*paths, (*nb + 1) * sizeof(*n));
    if (!n) {
        free(p);
        return AVERROR(ENOMEM);
    }
    *paths = n;
    n[(*nb)++] = p;
    return 0;
}

int vpi_run_still_path(const VpRunPipeline *pl, const VpRunOpts *o, const char *in, int step,
                       char **path)
{
    const VpiStep *s = &pl->steps[step];
    const VpiStep *d = pl->deliver_step >= 0 ? &pl->steps[pl->deliver_step] : NULL;
    char *name = vpi_run_item_name(in), *first = NULL;
    int ret = 0;
    *path = NULL;
    if (!name)
        return AVERROR(ENOMEM);
    if (d && d->stills_to) {
        ret = expand(pl, d->stills_to, name, s->still, path);
    } else if (d && d->to && pl->media_outputs &&
               (ret = vpi_run_output_path(pl, o, in, pl->export_step >= 0 ? 0 : -1,
                                          &first)) >= 0) {
        /* beside the (first) output */
        char *slash = strrchr(first, '/');
        if (asprintf(path, "%.*s%s_%s.%s", slash ? (int)(slash - first + 1) : 0, first, name,
                     s->still, s->ext) < 0)
            *path = NULL, ret = AVERROR(ENOMEM);
    } else if (ret >= 0 && asprintf(path, "%s/%s_%s.%s", o && o->out_dir ? o->out_dir : "out",
                                    name, s->still, s->ext) < 0) {
        *path = NULL, ret = AVERROR(ENOMEM);
    }
    free(first);
    free(name);
    return ret;
}

int vp_run_item_outputs(const VpRunPipeline *pl, const char *input, const VpRunOpts *o,
                        char ***paths, size_t *nb)
{
    int ret = 0;
    char *p;
    *paths = NULL;
    *nb = 0;
    /* in the order they are put in place: the stills first when captions are muxed into
     * the media after the last pass (media_at > 0), else the media first */
    for (int round = 0; round < 2 && ret >= 0; round++) {
        int stills = (round == 0) == (pl->media_at > 0);
        for (int k = 0; stills && k < pl->nb_stills && ret >= 0; k++)
            if ((ret = vpi_run_still_path(pl, o, input, pl->stills[k], &p)) >= 0)
                ret = push(paths, nb, p);
        for (int k = 0; !stills && k < pl->media_outputs && ret >= 0; k++)
            if ((ret = vpi_run_output_path(pl, o, input, pl->export_step >= 0 ? k : -1,
                                           &p)) >= 0)
                ret = push(paths, nb, p);
    }
    if (ret >= 0 && pl->subs_step >= 0 && (ret = vpi_run_sidecar_path(pl, o, input, &p)) >= 0)
        ret = push(paths, nb, p);
    if (ret < 0) {
        vpi_paths_free(*paths, *nb);
        *paths = NULL;
        *nb = 0;
    }
    return ret;
}

/* ---- inputs -------------------------------------------------------------------------------- */

/* A list file: one path a line, relative to the list's folder; '#' starts a comment. */
static int read_list(const char *path, char ***paths, size_t *nb, VpFailure *fail)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    int ret = 0;
    if (!f)
        return vpi_fail(fail, -1, path, AVERROR(errno), NULL);
    const char *slash = strrchr(path, '/');
    while (ret >= 0 && getline(&line, &cap, f) >= 0) {
        line[strcspn(line, "\r\n")] = 0;
        const char *s = line + strspn(line, " \t");
        if (!*s || *s == '#')
            continue;
        char *p = NULL;
        if (*s == '/' || !slash)
            p = strdup(s);
        else if (asprintf(&p, "%.*s/%s", (int)(slash - path), path, s) < 0)
            p = NULL;
        ret = push(paths, nb, p);
    }
    free(line);
    fclose(f);
    return ret;
}

static int add_input(const VpRunPipeline *pl, const char *spec, char ***paths, size_t *nb,
                     VpFailure *fail)
{
    char *full = resolve(pl, spec);
    struct stat sb;
    int ret = 0;
    if (!full)
        return AVERROR(ENOMEM);
    if (strpbrk(spec, "*?[")) {
        glob_t g;
        int r = glob(full, 0, NULL, &g);
        if (r == GLOB_NOMATCH)
            ret = vpi_fail(fail, -1, spec, VP_ERR_BAD_CONFIG, "matches no file");
        else if (r)
            ret = vpi_fail(fail, -1, spec, r == GLOB_NOSPACE ? AVERROR(ENOMEM) : AVERROR(EIO),
                             NULL);
        for (size_t i = 0; !r && i < g.gl_pathc && ret >= 0; i++)
            if (stat(g.gl_pathv[i], &sb) || !S_ISDIR(sb.st_mode))
                ret = push(paths, nb, strdup(g.gl_pathv[i]));
        if (!r)
            globfree(&g);
    } else if (!stat(full, &sb) && S_ISDIR(sb.st_mode)) {
        char **list = NULL;
        size_t n = 0;
        if ((ret = vpi_media_list(full, &list, &n)) < 0)
            vpi_fail(fail, -1, full, ret, NULL);
        for (size_t i = 0; i < n && ret >= 0; i++) {
            ret = push(paths, nb, list[i]);
            list[i] = NULL;
        }
        vpi_paths_free(list, n);
    } else {
        const char *dot = strrchr(full, '.');
        if (dot && (!strcmp(dot, ".txt") || !strcmp(dot, ".list")))
            ret = read_list(full, paths, nb, fail);
        else
            ret = push(paths, nb, strdup(full));   /* a file: checked when it is read */
    }
    free(full);
    return ret;
}

int vp_run_pipeline_inputs(const VpRunPipeline *pl, char ***paths, size_t *nb, VpFailure *fail)
{
    json_t *in = json_object_get(pl->root, "inputs");
    int ret = 0;
    *paths = NULL;
    *nb = 0;
    if (fail) {
        memset(fail, 0, sizeof(*fail));
        fail->input = -1;
    }
    if (!in)
        return vpi_fail(fail, -1, pl->name, VP_ERR_BAD_CONFIG,
                          "has no \"inputs\": name them there or on the command line");
    if (json_is_string(in)) {
        ret = add_input(pl, json_string_value(in), paths, nb, fail);
    } else {
        size_t i;
        json_t *e;
        json_array_foreach(in, i, e)
            if (ret >= 0)
                ret = add_input(pl, json_string_value(e), paths, nb, fail);
    }
    if (ret < 0) {
        vpi_paths_free(*paths, *nb);
        *paths = NULL;
        *nb = 0;
    }
    return ret;
}

/* ---- --list-steps ---------------------------------------------------------------------- */

/* The rows of @p t (only the one called @p only, when not NULL). */
static void describe_table(FILE *f, const VpOptionTable *t, const char *only)
{
    VpOptionInfo info;
    for (int i = 0; vp_option_info(t, i, &info) >= 0; i++) {
        if (only && strcmp(only, info.name))
            continue;
        fprintf(f, "  %-18s %-9s %-10s %s%s%s%s\n", info.name, info.type,
                info.def[0] ? info.def : "-", info.help, info.range[0] ? " (" : "",
                info.range, info.range[0] ? ")" : "");
    }
}

char *vp_run_describe_steps(void)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    fprintf(f, "qc: the checks of 'vidpipe qc' on the media as the steps before make it\n");
    fprintf(f, "  %-18s %-9s %-10s %s\n", "fail", "enum", "stop",
            "stop: a failed check stops the input; warn: it is reported, the input goes on");
    fprintf(f, "  %-18s %-9s %-10s %s\n", "spec", "string", "-",
            "a QC spec file (vidpipe qc --spec); the keys below override it");
    describe_table(f, &vpi_qc_spec_options, NULL);
    fprintf(f, "cleanup: the filters of 'vidpipe cleanup' (crf, preset: the output when "
            "there is no export)\n");
    describe_table(f, &vpi_cleanup_options, NULL);
    fprintf(f, "loudnorm: two-pass EBU R128 normalization, as 'vidpipe loudnorm'\n");
    describe_table(f, &vpi_loudnorm_options, NULL);
    fprintf(f, "subtitles: captions from the speech, as 'vidpipe subtitles transcribe', "
            "muxed as a track or burned in\n");
    fprintf(f, "  %-18s %-9s %-10s %s\n", "burn", "bool", "0",
            "draw the captions into the picture (else a subtitle track)");
    fprintf(f, "  %-18s %-9s %-10s %s\n", "format", "enum", "srt",
            "the captions file beside the outputs: srt or vtt");
    describe_table(f, &vpi_transcribe_options, NULL);
    describe_table(f, &vpi_subs_burn_options, NULL);
    fprintf(f, "thumb: a still, as 'vidpipe thumb', of the picture as the steps before make "
            "it, made with the outputs\n");
    fprintf(f, "  %-18s %-9s %-10s %s\n", "format", "enum", "jpg", "jpg, png or webp");
    fprintf(f, "  %-18s %-9s %-10s %s\n", "name", "string", "thumb",
            "what the file is named after ({name}_thumb.jpg; a sheet: sheet)");
    describe_table(f, &vpi_thumb_options, NULL);
    fprintf(f, "export: the presets of 'vidpipe export', all from the same pass\n");
    fprintf(f, "  %-18s %-9s %-10s %s\n", "presets", "list", "-",
            "preset names ([\"youtube\", \"tiktok\"] or \"youtube,tiktok\"; also 'preset')");
    fprintf(f, "  %-18s %-9s %-10s %s\n", "preset_file", "string", "-",
            "more presets from a JSON file (vidpipe export --presets)");
    describe_table(f, &vpi_encode_options, "hw");
    fprintf(f, "deliver: where the outputs go (the last step)\n");
    fprintf(f, "  %-18s %-9s %-10s %s\n", "to", "string", "-",
            "the outputs' path: {name} (the input's), {preset} (export's or the last step's)");
    fprintf(f, "  %-18s %-9s %-10s %s\n", "subtitles", "string", "-",
            "the captions file's path ({name}); default: beside the first output");
    fprintf(f, "  %-18s %-9s %-10s %s\n", "stills", "string", "-",
            "the stills' path: {name}, {preset} (the still's name); default: beside the "
            "first output");
    if (fclose(f)) {
        free(text);
        return NULL;
    }
    return text;
}
