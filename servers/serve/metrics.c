/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /metrics: the Prometheus text exposition format (version 0.0.4) from
 * vp_service_metrics() and the server's own request counts. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct Text {
    char *buf;
    size_t len, cap;
    int failed;
} Text;

static void add(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(Text *t, const char *fmt, ...)
{
    va_list ap;
    if (t->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0, fmt,
                          ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if (t->buf && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 4096;
        while (cap <= t->len + (size_t)n)
            cap *= 2;
        char *b = realloc(t->buf, cap);
        if (!b) {
            t->failed = 1;
            return;
        }
        t->buf = b;
        t->cap = cap;
    }
}

static void family(Text *t, const char *name, const char *type, const char *help)
{
    add(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void sv_metrics(SvServer *s, SvRequest *r)
{
    static const char *const states[5] = {
        "pending", "running", "completed", "failed", "cancelled",
    };
    static const char *const outcomes[3] = { "completed", "failed", "retried" };
#define SV_CODE_NAME(c) #c,
    static const char *const codes[SV_NB_CODES] = { SV_CODES(SV_CODE_NAME) "other" };
#undef SV_CODE_NAME
    VpServiceMetrics m;
    memset(&m, 0, sizeof(m));
    int err = vp_service_metrics(s->svc, &m);
    if (err < 0) {
        sv_reply_service_error(r, err, NULL);
        return;
    }
    Text t = { 0 };
    family(&t, "vidpipe_jobs", "gauge", "Jobs in the store by state.");
    for (int i = 0; i < 5; i++)
        add(&t, "vidpipe_jobs{state=\"%s\"} %" PRId64 "\n", states[i], m.jobs[i]);
    family(&t, "vidpipe_queue_depth", "gauge", "Pending jobs ready to be claimed.");
    add(&t, "vidpipe_queue_depth %" PRId64 "\n", m.queue_depth);
    family(&t, "vidpipe_videos", "gauge", "Videos stored.");
    add(&t, "vidpipe_videos %" PRId64 "\n", m.videos);
    family(&t, "vidpipe_uploads_open", "gauge", "Resumable uploads not complete.");
    add(&t, "vidpipe_uploads_open %" PRId64 "\n", m.uploads_open);
    family(&t, "vidpipe_upload_bytes_total", "counter",
           "Request body bytes received and kept since the start.");
    add(&t, "vidpipe_upload_bytes_total %" PRId64 "\n", m.upload_bytes);
    family(&t, "vidpipe_jobs_finished_total", "counter",
           "Attempts this process's workers finished, by outcome.");
    for (int i = 0; i < 3; i++)
        add(&t, "vidpipe_jobs_finished_total{outcome=\"%s\"} %" PRId64 "\n", outcomes[i],
            m.jobs_finished[i]);
    family(&t, "vidpipe_job_duration_seconds", "histogram",
           "Run time of the jobs this process completed.");
    for (int i = 0; i < VP_SERVICE_DURATION_BUCKETS; i++)
        add(&t, "vidpipe_job_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
            vp_service_duration_bounds[i], m.duration_counts[i]);
    add(&t, "vidpipe_job_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n",
        m.duration_counts[VP_SERVICE_DURATION_BUCKETS]);
    add(&t, "vidpipe_job_duration_seconds_sum %.6f\n", m.duration_sum);
    add(&t, "vidpipe_job_duration_seconds_count %" PRIu64 "\n",
        m.duration_counts[VP_SERVICE_DURATION_BUCKETS]);
    family(&t, "vidpipe_workers", "gauge", "Worker threads.");
    add(&t, "vidpipe_workers %d\n", m.workers);
    family(&t, "vidpipe_workers_busy", "gauge", "Worker threads running a job now.");
    add(&t, "vidpipe_workers_busy %d\n", m.workers_busy);
    family(&t, "vidpipe_draining", "gauge", "1 once SIGTERM started the drain.");
    add(&t, "vidpipe_draining %d\n", m.draining || atomic_load(&s->draining));
    family(&t, "vidpipe_http_requests_total", "counter",
           "HTTP requests answered since the start, by status.");
    for (int i = 0; i < SV_NB_CODES; i++)
        add(&t, "vidpipe_http_requests_total{code=\"%s\"} %lld\n", codes[i],
            (long long)atomic_load(&s->http_requests[i]));
    if (t.failed) {
        free(t.buf);
        sv_reply_error(r, 500, "out of memory");
        return;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(t.len, t.buf,
                                                                MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(t.buf);
    } else {
        MHD_add_response_header(resp, "Content-Type",
                                "text/plain; version=0.0.4; charset=utf-8");
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    }
    sv_reply(r, 200, resp);
}
