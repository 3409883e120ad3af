/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Access (--token-file): the API wants "Authorization: Bearer TOKEN"; a browser, which
 * cannot send that header from an <img> or a <video>, gets short-lived signed links:
 * PATH?expires=T&sig=HMAC-SHA256(key, PATH "\n" T), good for GET and HEAD of PATH until T.
 * The key is derived from the token, so a new token voids every link made before it. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libavutil/error.h>
#include <libavutil/hmac.h>

#include "internal.h"
#include "json_text.h"

static const char key_label[] = "vidpipe serve: signed link key, version 1";

static int hmac(const uint8_t *key, size_t key_len, const void *msg, size_t len,
                uint8_t out[SV_KEY_SIZE])
{
    AVHMAC *h = av_hmac_alloc(AV_HMAC_SHA256);
    if (!h)
        return AVERROR(ENOMEM);
    int n = av_hmac_calc(h, msg, (unsigned)len, key, (unsigned)key_len, out, SV_KEY_SIZE);
    av_hmac_free(h);
    return n == SV_KEY_SIZE ? 0 : AVERROR_BUG;
}

/* Equal in time that does not depend on where the bytes differ. */
static int same(const uint8_t *a, const uint8_t *b, size_t n)
{
    volatile uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= a[i] ^ b[i];
    return d == 0;
}

int sv_auth_init(SvServer *s, const char *token)
{
    int ret;
    s->has_token = token != NULL;
    if (!token)
        return 0;
    if ((ret = hmac((const uint8_t *)token, strlen(token), key_label, strlen(key_label),
                    s->link_key)) < 0)
        return ret;
    return hmac(s->link_key, SV_KEY_SIZE, token, strlen(token), s->token_mac);
}

static int link_mac(SvServer *s, const char *path, int64_t expires, uint8_t out[SV_KEY_SIZE])
{
    char msg[1100];
    int n = snprintf(msg, sizeof(msg), "%s\n%" PRId64, path, expires);
    if (n < 0 || (size_t)n >= sizeof(msg))
        return -1;
    return hmac(s->link_key, SV_KEY_SIZE, msg, (size_t)n, out);
}

int sv_link(SvServer *s, const char *path, int64_t expires, char *out, size_t size)
{
    uint8_t mac[SV_KEY_SIZE];
    if (!s->has_token) {
        int n = snprintf(out, size, "%s", path);
        return n < 0 || (size_t)n >= size ? -1 : 0;
    }
    if (link_mac(s, path, expires, mac) < 0)
        return -1;
    char hex[2 * SV_KEY_SIZE + 1];
    for (int i = 0; i < SV_KEY_SIZE; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    int n = snprintf(out, size, "%s?expires=%" PRId64 "&sig=%s", path, expires, hex);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int64_t sv_link_expiry(SvServer *s, SvRequest *r, int64_t ttl)
{
    (void)s;
    /* rounded up to 10 minutes: the links of a video stay the same text for that long, so
     * a page that refreshes every 2 s keeps its thumbnails from the cache */
    int64_t e = (sv_now_s() + ttl + 599) / 600 * 600;
    return r->link_expires && r->link_expires < e ? r->link_expires : e;
}

static int hex_value(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A signed link's query: 1 valid, 0 none given, -1 refused (the reply is queued). */
static int check_link(SvServer *s, SvRequest *r)
{
    const char *exp = sv_query(r, "expires"), *sig = sv_query(r, "sig");
    int64_t expires;
    uint8_t want[SV_KEY_SIZE], got[SV_KEY_SIZE];
    if (!exp && !sig)
        return 0;
    if (r->method != M_GET && r->method != M_HEAD) {
        sv_reply_error(r, 403, "a signed link is good for GET and HEAD only");
        return -1;
    }
    if (!exp || !sig || sv_parse_decimal(exp, &expires) < 0 || strlen(sig) != 2 * SV_KEY_SIZE) {
        sv_reply_error(r, 403, "a signed link needs expires=UNIX_SECONDS and sig=64 hex "
                       "digits");
        return -1;
    }
    for (int i = 0; i < SV_KEY_SIZE; i++) {
        int hi = hex_value(sig[2 * i]), lo = hex_value(sig[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            sv_reply_error(r, 403, "a signed link's sig is 64 lower-case hex digits");
            return -1;
        }
        got[i] = (uint8_t)(hi << 4 | lo);
    }
    if (link_mac(s, r->path, expires, want) < 0 || !same(want, got, SV_KEY_SIZE)) {
        sv_reply_error(r, 403, "the link's signature does not match its path and expiry");
        return -1;
    }
    if (expires < sv_now_s()) {
        char when[32];
        time_t t = (time_t)expires;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        sv_reply_error(r, 403, "the signed link expired at %s: ask for a new one", when);
        return -1;
    }
    r->link_expires = expires;
    return 1;
}

int sv_auth_check(SvServer *s, SvRequest *r)
{
    if (!s->has_token)
        return 1;
    const char *h = sv_header(r, "Authorization");
    if (h) {
        while (*h == ' ')
            h++;
        if (!strncasecmp(h, "Bearer ", 7)) {
            uint8_t mac[SV_KEY_SIZE];
            h += 7;
            while (*h == ' ')
                h++;
            size_t n = strlen(h);
            while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
                n--;
            if (hmac(s->link_key, SV_KEY_SIZE, h, n, mac) == 0 &&
                same(mac, s->token_mac, SV_KEY_SIZE))
                return 1;
            sv_reply_error(r, 401, "the Bearer token is not the server's");
            return 0;
        }
    }
    int l = check_link(s, r);
    if (l > 0)
        return 1;
    if (l == 0)
        sv_reply_error(r, 401, "this server wants \"Authorization: Bearer TOKEN\" (the "
                       "--token-file's) or a signed link (POST /api/v1/links)");
    return 0;
}

void sv_links_create(SvServer *s, SvRequest *r)
{
    char path[1024], why[512], link[1200];
    int64_t ttl;
    if (sv_parse_link_request(r->buf, r->len, path, sizeof(path), &ttl, SV_LINK_TTL,
                              SV_LINK_TTL_MAX, why, sizeof(why)) < 0) {
        sv_reply_error(r, 400, "%s", why);
        return;
    }
    int64_t expires = sv_now_s() + ttl;
    if (sv_link(s, path, expires, link, sizeof(link)) < 0) {
        sv_reply_error(r, 400, "\"path\": too long to sign");
        return;
    }
    json_t *o = json_object();
    if (o) {
        char abs[1600];
        snprintf(abs, sizeof(abs), "%s%s", s->base_url, link);
        vpi_json_set_text(o, "path", path);
        vpi_json_set_text(o, "url", link);
        vpi_json_set_text(o, "absolute_url", abs);
        json_object_set_new(o, "expires", s->has_token ? json_integer(expires) : json_null());
    }
    sv_reply_json(r, 200, o);
}
