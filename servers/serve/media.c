/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /api/v1/videos/{id}/original|proxy|thumbnail: the stored file sent from its
 * descriptor (sendfile), with ranges so a browser can seek in the proxy, and validators
 * (ETag, Last-Modified) so a dashboard's thumbnails come from its cache. Where the storage
 * has URLs of its own (S3), a 302 to a short-lived presigned URL instead: the bytes go
 * from the bucket to the client, not through this server. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "internal.h"

static void http_date(int64_t secs, char buf[40])
{
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    /* RFC 9110 5.6.7's IMF-fixdate; strftime's names follow the locale, so not %a/%b */
    static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
                                          "Aug", "Sep", "Oct", "Nov", "Dec" };
    snprintf(buf, 40, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void media_headers(struct MHD_Response *resp, const VpServiceMedia *m)
{
    char date[40];
    http_date(m->mtime, date);
    MHD_add_response_header(resp, "Content-Type", m->content_type);
    MHD_add_response_header(resp, "ETag", m->etag);
    MHD_add_response_header(resp, "Last-Modified", date);
    MHD_add_response_header(resp, "Accept-Ranges", "bytes");
    MHD_add_response_header(resp, "Content-Disposition", m->disposition);
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(resp, "Access-Control-Expose-Headers",
                            "ETag, Content-Range, Content-Length, Accept-Ranges");
    /* the file under a URL changes when the video is reprocessed: revalidate each time */
    MHD_add_response_header(resp, "Cache-Control", "private, no-cache");
}

/* An hour: a player seeks in the proxy with ranges on the URL it was sent to, so the
 * URL must outlive a viewing; each GET here signs a new one. */
#define SV_MEDIA_URL_SECONDS 3600

static void redirect(SvRequest *r, const char *url)
{
    static const char body[] = "{\"redirect\": \"presigned storage URL\"}\n";
    struct MHD_Response *resp = MHD_create_response_from_buffer(sizeof(body) - 1,
                                                                (void *)body,
                                                                MHD_RESPMEM_PERSISTENT);
    if (resp) {
        MHD_add_response_header(resp, "Location", url);
        MHD_add_response_header(resp, "Content-Type", "application/json");
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
        /* the URL expires: never reuse this answer */
        MHD_add_response_header(resp, "Cache-Control", "private, no-store");
    }
    sv_reply(r, 302, resp);
}

void sv_media(SvServer *s, SvRequest *r)
{
    VpServiceMedia m;
    VpFailure fail = { 0 };
    const char *kind_name = strrchr(r->path, '/') + 1;
    VpServiceMediaKind kind = !strcmp(kind_name, "original") ? VP_MEDIA_ORIGINAL :
                              !strcmp(kind_name, "proxy") ? VP_MEDIA_PROXY : VP_MEDIA_THUMBNAIL;
    char *url = NULL;
    int err = vp_service_media_url(s->svc, r->nums[0], kind, SV_MEDIA_URL_SECONDS, &url,
                                   &fail);
    if (err != AVERROR(ENOSYS)) {
        if (err < 0) {
            sv_reply_service_error(r, err, &fail);
            return;
        }
        redirect(r, url);
        free(url);
        return;
    }
    memset(&m, 0, sizeof(m));
    m.fd = -1;
    err = vp_service_media_open(s->svc, r->nums[0], kind, &m, &fail);
    if (err < 0) {
        if (m.fd >= 0)
            close(m.fd);
        sv_reply_service_error(r, err, &fail);
        return;
    }

    struct MHD_Response *resp;
    if (sv_etag_match(sv_header(r, "If-None-Match"), m.etag)) {
        close(m.fd);
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (resp)
            media_headers(resp, &m);
        sv_reply(r, 304, resp);
        return;
    }

    /* If-Range: the range holds only for the file the client has part of */
    const char *range = sv_header(r, "Range"), *if_range = sv_header(r, "If-Range");
    if (range && if_range && strcmp(if_range, m.etag))
        range = NULL;
    int64_t first = 0, last = m.size - 1;
    int kind_of = sv_parse_range(range, m.size, &first, &last);
    if (kind_of == SV_RANGE_UNSATISFIABLE) {
        char cr[64];
        close(m.fd);
        snprintf(cr, sizeof(cr), "bytes */%" PRId64, m.size);
        json_t *o = json_pack("{s{siss}}", "error", "status", 416, "message",
                              "the range is outside the file");
        char *text = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        json_decref(o);
        resp = text ? MHD_create_response_from_buffer(strlen(text), text,
                                                      MHD_RESPMEM_MUST_FREE) : NULL;
        if (resp) {
            MHD_add_response_header(resp, "Content-Type", "application/json");
            MHD_add_response_header(resp, "Content-Range", cr);
            MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
        } else {
            free(text);
        }
        sv_reply(r, 416, resp);
        return;
    }
    int64_t len = kind_of == SV_RANGE_PART ? last - first + 1 : m.size;
    if (len > 0) {
        /* takes the descriptor: closed when the response is destroyed */
        resp = MHD_create_response_from_fd_at_offset64((uint64_t)len, m.fd,
                                                       (uint64_t)(kind_of == SV_RANGE_PART ?
                                                                  first : 0));
        if (!resp)
            close(m.fd);
    } else {
        close(m.fd);
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (resp) {
        media_headers(resp, &m);
        if (kind_of == SV_RANGE_PART) {
            char cr[96];
            snprintf(cr, sizeof(cr), "bytes %" PRId64 "-%" PRId64 "/%" PRId64, first, last,
                     m.size);
            MHD_add_response_header(resp, "Content-Range", cr);
        }
    }
    sv_reply(r, kind_of == SV_RANGE_PART ? 206 : 200, resp);
}
