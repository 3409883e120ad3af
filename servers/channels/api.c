/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The JSON API: the channels, what each plays now and next, its schedule, and the ad-list
 * update. vp_channels_set_ads() validates and conforms every new file before it switches
 * (seconds), so it runs on a worker thread per request; the worker hands its result back
 * to the loop thread through an event, and the reply is sent from there. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <libavutil/error.h>

#include "helpers.h"
#include "internal.h"
#include "json_text.h"

/* Ad-list updates at once; more are refused (503) rather than queued behind conforming. */
#define CHS_MAX_JOBS 4
#define CHS_MAX_HOURS 168

static json_t *time_value(int64_t us)
{
    char buf[48];
    chs_iso_time(us, buf);
    return json_string(buf);
}

static json_t *channel_json(ChServer *s, struct evhttp_request *req, const VpChannelInfo *ci)
{
    char base[300], url[360];
    json_t *o = json_object();
    if (!o)
        return NULL;
    chs_base_url(s, req, base, sizeof(base));
    json_object_set_new(o, "number", json_integer(ci->number));
    vpi_json_set_text(o, "name", ci->name);
    json_object_set_new(o, "ready", json_boolean(ci->ready));
    json_object_set_new(o, "running", json_boolean(ci->running));
    json_object_set_new(o, "viewers", json_integer(ci->viewers));
    json_object_set_new(o, "bytes_out", json_integer(ci->bytes_out));
    json_object_set_new(o, "bitrate", json_real(isfinite(ci->bitrate) ? ci->bitrate : 0));
    snprintf(url, sizeof(url), "%s/iptv/channel/%d.ts", base, ci->number);
    json_object_set_new(o, "stream", json_string(url));
    snprintf(url, sizeof(url), "%s/iptv/channel/%d.m3u8", base, ci->number);
    json_object_set_new(o, "hls", json_string(url));
    return o;
}

void chs_api_list(ChServer *s, struct evhttp_request *req, const int64_t *args)
{
    (void)args;
    json_t *list = json_array();
    for (int i = 0, n = vp_channels_count(s->ch); list && i < n; i++) {
        VpChannelInfo ci;
        if (vp_channels_info(s->ch, i, &ci) >= 0 &&
            json_array_append_new(list, channel_json(s, req, &ci)) < 0) {
            json_decref(list);
            list = NULL;
        }
    }
    chs_reply_json(req, 200, list ? json_pack("{so}", "channels", list) : NULL);
}

static const char *kind_name(int kind)
{
    return kind == VP_PROG_AD ? "ad" : "episode";
}

/* The channel's index, or a 404 sent. */
static int find_or_404(ChServer *s, struct evhttp_request *req, int64_t arg)
{
    int number = chs_channel_arg(arg);
    int idx = number < 0 ? -1 : vp_channels_find(s->ch, number);
    if (idx < 0)
        chs_reply_error(req, 404, "no channel %lld", (long long)arg);
    return idx;
}

void chs_api_channel(ChServer *s, struct evhttp_request *req, const int64_t *args)
{
    VpChannelInfo ci;
    int idx = find_or_404(s, req, args[0]);
    if (idx < 0)
        return;
    if (vp_channels_info(s->ch, idx, &ci) < 0) {
        chs_reply_error(req, 404, "no channel %lld", (long long)args[0]);
        return;
    }
    json_t *o = channel_json(s, req, &ci);
    if (!o) {
        chs_reply_error(req, 500, "out of memory");
        return;
    }
    VpProgramme now, next;
    int64_t t = vp_channels_now_us(s->ch);
    int r = vp_channel_now(s->ch, ci.number, t, &now, &next);
    if (r == AVERROR(ENOENT)) {
        json_decref(o);
        chs_reply_error(req, 404, "no channel %d", ci.number);
        return;
    }
    if (r < 0) {
        /* not on air yet (EAGAIN): nothing plays, nothing is next */
        json_object_set_new(o, "now", json_null());
        json_object_set_new(o, "next_break", json_null());
        chs_reply_json(req, 200, o);
        return;
    }
    json_t *jn = json_object();
    json_object_set_new(jn, "kind", json_string(kind_name(now.kind)));
    vpi_json_set_text(jn, "title", now.title);
    vpi_json_set_text(jn, "file", now.file);
    json_object_set_new(jn, "position", json_real(now.from + (t - now.start_us) / 1e6));
    json_object_set_new(jn, "started_at", time_value(now.start_us));
    json_object_set_new(jn, "ends_at", time_value(now.stop_us));
    json_object_set_new(o, "now", jn);
    if (next.kind < 0) {
        json_object_set_new(o, "next_break", json_null());
    } else {
        /* "at": when the break starts (a time, as every time here); "cut_at": where in
         * the episode's file playout cuts (the keyframe at or before "break_point", the
         * configured point), in seconds as every position here */
        json_t *jb = json_object();
        vpi_json_set_text(jb, "title", next.title);
        vpi_json_set_text(jb, "file", next.file);
        json_object_set_new(jb, "at", time_value(next.stop_us));
        json_object_set_new(jb, "cut_at", json_real(next.to));
        json_object_set_new(jb, "break_point", next.break_at >= 0 ? json_real(next.break_at)
                                                                  : json_real(next.to));
        json_object_set_new(o, "next_break", jb);
    }
    chs_reply_json(req, 200, o);
}

void chs_api_schedule(ChServer *s, struct evhttp_request *req, const int64_t *args)
{
    int idx = find_or_404(s, req, args[0]);
    if (idx < 0)
        return;
    double hours = 24;
    struct evkeyvalq q = { 0 };
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    if (query && evhttp_parse_query_str(query, &q) == 0) {
        const char *h = evhttp_find_header(&q, "hours");
        char *end = NULL;
        if (h) {
            hours = strtod(h, &end);
            if (end == h || *end || !(hours > 0 && hours <= CHS_MAX_HOURS)) {
                chs_reply_error(req, 400, "hours: '%.40s' is not a number of hours in (0, %d]",
                                h, CHS_MAX_HOURS);
                evhttp_clear_headers(&q);
                return;
            }
        }
        evhttp_clear_headers(&q);
    }
    int number = chs_channel_arg(args[0]);
    VpProgramme *items = NULL;
    int nb = 0;
    int64_t from = vp_channels_now_us(s->ch);
    int r = vp_channel_schedule(s->ch, number, from, from + (int64_t)(hours * 3600e6), &items,
                                &nb);
    if (r == AVERROR(ENOENT)) {
        chs_reply_error(req, 404, "no channel %d", number);
        return;
    }
    json_t *list = json_array();
    for (int i = 0; r >= 0 && list && i < nb; i++) {
        const VpProgramme *p = &items[i];
        json_t *o = json_object();
        if (!o || json_array_append_new(list, o) < 0)
            break;
        json_object_set_new(o, "kind", json_string(kind_name(p->kind)));
        vpi_json_set_text(o, "title", p->title);
        vpi_json_set_text(o, "file", p->file);
        json_object_set_new(o, "start", time_value(p->start_us));
        json_object_set_new(o, "stop", time_value(p->stop_us));
        json_object_set_new(o, "from", json_real(p->from));
        json_object_set_new(o, "to", json_real(p->to));
        /* a part cut at a break: where the cut is in the file (the keyframe at or before
         * the configured point); null for a whole file */
        json_object_set_new(o, "cut_at", p->break_at >= 0 ? json_real(p->to) : json_null());
        json_object_set_new(o, "break_at", p->break_at >= 0 ? json_real(p->break_at)
                                                           : json_null());
    }
    free(items);
    /* not on air yet (EAGAIN): an empty schedule */
    chs_reply_json(req, 200, list ? json_pack("{si so}", "number", number, "items", list) : NULL);
}

/* ---- PUT /api/channels/N/ads ----------------------------------------------------------------- */

struct ChsAdsJob {
    ChServer *s;
    ChsAdsJob *next;
    struct evhttp_request *req;
    struct event *done;
    pthread_t thread;
    int started;
    int number;
    char **files;
    int nb;
    int ret;
    VpFailure fail;
};

static void job_free(ChsAdsJob *j)
{
    ChsAdsJob **pp = &j->s->jobs;
    while (*pp && *pp != j)
        pp = &(*pp)->next;
    if (*pp)
        *pp = j->next;
    if (j->started)
        pthread_join(j->thread, NULL);
    if (j->done)
        event_free(j->done);
    for (int i = 0; i < j->nb; i++)
        free(j->files[i]);
    free(j->files);
    free(j);
}

static void *job_run(void *arg)
{
    ChsAdsJob *j = arg;
    j->ret = vp_channels_set_ads(j->s->ch, j->number, (const char *const *)j->files, j->nb,
                                 &j->fail);
    /* event_active is the handover: the loop thread sees ret and fail after it */
    event_active(j->done, EV_READ, 0);
    return NULL;
}

static void on_job_done(evutil_socket_t fd, short what, void *arg)
{
    ChsAdsJob *j = arg;
    ChServer *s = j->s;
    (void)fd;
    (void)what;
    pthread_join(j->thread, NULL);
    j->started = 0;
    if (j->ret >= 0) {
        json_t *list = json_array();
        for (int i = 0; list && i < j->nb; i++)
            json_array_append_new(list, vpi_json_text(j->files[i]));
        chs_event(s, "ads_changed", json_pack("{si si}", "channel", j->number, "ads", j->nb),
                  "channel %d: ad list changed (%d ad%s)", j->number, j->nb,
                  j->nb == 1 ? "" : "s");
        chs_reply_json(j->req, 200, list ? json_pack("{si so}", "number", j->number, "ads", list)
                                         : NULL);
    } else if (j->ret == AVERROR(ENOENT) && !*j->fail.path) {
        chs_reply_error(j->req, 404, "no channel %d", j->number);
    } else {
        const char *msg = *j->fail.message ? j->fail.message : vp_strerror(j->ret);
        int code = *j->fail.path || j->ret == AVERROR(EINVAL) || j->ret == VP_ERR_BAD_CONFIG
                   ? 400 : 500;
        json_t *o = json_object();
        if (o) {
            vpi_json_set_text(o, "error", msg);
            if (*j->fail.path)
                vpi_json_set_text(o, "file", j->fail.path);
        }
        chs_event(s, "ads_refused", json_pack("{si ss}", "channel", j->number, "error", msg),
                  "channel %d: ad list not changed: %s", j->number, msg);
        chs_reply_json(j->req, code, o);
    }
    job_free(j);
    chs_stop_progress(s);
}

/* The body: a JSON list of file names. 0, or a 400 sent. */
static int read_files(struct evhttp_request *req, ChsAdsJob *j)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    json_error_t err;
    const char *text = (const char *)evbuffer_pullup(in, -1);
    json_t *doc = text ? json_loadb(text, len, 0, &err) : NULL;
    if (!doc) {
        chs_reply_error(req, 400, "body: %s", len ? err.text : "empty, expected a list of files");
        return -1;
    }
    if (!json_is_array(doc)) {
        json_decref(doc);
        chs_reply_error(req, 400, "body: expected a list of files");
        return -1;
    }
    size_t n = json_array_size(doc);
    if (n > 10000 || !(j->files = calloc(n ? n : 1, sizeof(*j->files)))) {
        json_decref(doc);
        chs_reply_error(req, 400, "body: too many files");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *f = json_string_value(json_array_get(doc, i));
        if (!f || !*f) {
            json_decref(doc);
            chs_reply_error(req, 400, "body[%zu]: expected a file name", i);
            return -1;
        }
        if (!(j->files[j->nb] = strdup(f))) {
            json_decref(doc);
            chs_reply_error(req, 500, "out of memory");
            return -1;
        }
        j->nb++;
    }
    json_decref(doc);
    return 0;
}

void chs_api_put_ads(ChServer *s, struct evhttp_request *req, const int64_t *args)
{
    if (find_or_404(s, req, args[0]) < 0)
        return;
    if (chs_api_jobs(s) >= CHS_MAX_JOBS) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "5");
        chs_reply_error(req, 503, "%d ad-list updates are already running", CHS_MAX_JOBS);
        return;
    }
    ChsAdsJob *j = calloc(1, sizeof(*j));
    if (!j) {
        chs_reply_error(req, 500, "out of memory");
        return;
    }
    j->s = s;
    j->req = req;
    j->number = chs_channel_arg(args[0]);
    j->next = s->jobs;
    s->jobs = j;
    if (read_files(req, j) < 0) {
        job_free(j);
        return;
    }
    if (!(j->done = event_new(s->base, -1, 0, on_job_done, j)) ||
        pthread_create(&j->thread, NULL, job_run, j)) {
        job_free(j);
        chs_reply_error(req, 500, "cannot start the update");
        return;
    }
    j->started = 1;
}

int chs_api_jobs(const ChServer *s)
{
    int n = 0;
    for (const ChsAdsJob *j = s->jobs; j; j = j->next)
        n++;
    return n;
}

void chs_api_free_all(ChServer *s)
{
    /* the workers end on their own (the update runs to its end); their requests go with
     * evhttp_free */
    while (s->jobs)
        job_free(s->jobs);
}
