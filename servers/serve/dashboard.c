/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /: the dashboard page (dashboard.html, embedded at build time), with the URL of the
 * video list written in: signed, with a token, so the page works from a signed link alone. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char placeholder[] = "__VIDPIPE_VIDEOS_URL__";

void sv_dashboard(SvServer *s, SvRequest *r)
{
    char link[1200], attr[1400];
    const char *html = (const char *)sv_dashboard_html;
    const char *at = strstr(html, placeholder);
    /* the list's link lasts as long as the page's own: the page works until it expires */
    int64_t expires = r->link_expires ? r->link_expires : sv_link_expiry(s, r, SV_LINK_TTL);
    if (!at || sv_link(s, "/api/v1/videos", expires, link, sizeof(link)) < 0) {
        sv_reply_error(r, 500, "the dashboard page has no place for the API's URL (a bug)");
        return;
    }
    /* an attribute value: '&' as &amp; (the link's query), nothing else needs it */
    size_t n = 0;
    for (const char *p = link; *p && n < sizeof(attr) - 6; p++) {
        if (*p == '&') {
            memcpy(attr + n, "&amp;", 5);
            n += 5;
        } else {
            attr[n++] = *p;
        }
    }
    attr[n] = 0;
    size_t head = (size_t)(at - html), tail = sv_dashboard_html_size - head -
                  (sizeof(placeholder) - 1);
    size_t len = head + n + tail;
    char *page = malloc(len + 1);
    if (!page) {
        sv_reply(r, 500, NULL);
        return;
    }
    memcpy(page, html, head);
    memcpy(page + head, attr, n);
    memcpy(page + head + n, at + sizeof(placeholder) - 1, tail);
    page[len] = 0;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, page,
                                                                MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(page);
    } else {
        MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
        MHD_add_response_header(resp, "Cache-Control", "no-store");
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'none'; connect-src 'self'; img-src 'self'; "
                                "style-src 'unsafe-inline'; script-src 'unsafe-inline'");
    }
    sv_reply(r, 200, resp);
}
