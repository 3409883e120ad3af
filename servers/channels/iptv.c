/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What IPTV players and media servers read: the M3U channel list, the XMLTV guide, and the
 * HDHomeRun emulation through which Plex, Jellyfin and Emby add the channels as a tuner.
 * Every URL is absolute, built from the Host the client used to reach us. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "helpers.h"
#include "internal.h"
#include "json_text.h"

#define CHS_GUIDE_HOURS 24

/* Text from the config (names, titles) inside a quoted M3U attribute: a quote or a line
 * break would end the attribute or the entry. */
static void m3u_text(struct evbuffer *b, const char *s)
{
    for (; *s; s++)
        evbuffer_add(b, *s == '"' ? "'" : (*s == '\n' || *s == '\r' || *s == ',') ? " " : s, 1);
}

static void send_buffer(struct evhttp_request *req, const char *ctype, struct evbuffer *b)
{
    chs_media_headers(req, ctype);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-cache");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

void chs_iptv_m3u(ChServer *s, struct evhttp_request *req, const int64_t *args)
{
    char base[300];
    struct evbuffer *b = evbuffer_new();
    (void)args;
    if (!b) {
        chs_reply_error(req, 500, "out of memory");
        return;
    }
    chs_base_url(s, req, base, sizeof(base));
    evbuffer_add_printf(b, "#EXTM3U url-tvg=\"%s/iptv/xmltv.xml\" "
                           "x-tvg-url=\"%s/iptv/xmltv.xml\"\n", base, base);
    for (int i = 0, n = vp_channels_count(s->ch); i < n; i++) {
        VpChannelInfo ci;
        if (vp_channels_info(s->ch, i, &ci) < 0)
            continue;
        evbuffer_add_printf(b, "#EXTINF:-1 tvg-id=\"%d\" tvg-chno=\"%d\" tvg-name=\"", ci.number,
                            ci.number);
        m3u_text(b, ci.name);
        evbuffer_add_printf(b, "\" group-title=\"vidpipe\",");
        m3u_text(b, ci.name);
        evbuffer_add_printf(b, "\n%s/iptv/channel/%d.ts\n", base, ci.number);
    }
    send_buffer(req, "audio/x-mpegurl", b);
}

/* XML character data or attribute value: the five entities escaped, characters XML 1.0
 * forbids (controls other than tab and line breaks) dropped, bytes that are not UTF-8
 * replaced with '?', so the guide always parses. */
static void xml_text(struct evbuffer *b, const char *s)
{
    int utf8 = vpi_utf8_valid(s);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': evbuffer_add(b, "&amp;", 5); break;
        case '<': evbuffer_add(b, "&lt;", 4); break;
        case '>': evbuffer_add(b, "&gt;", 4); break;
        case '"': evbuffer_add(b, "&quot;", 6); break;
        case '\'': evbuffer_add(b, "&apos;", 6); break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
                break;
            evbuffer_add(b, !utf8 && c >= 0x80 ? "?" : s, 1);
        }
    }
}

static void xmltv_time(int64_t us, char buf[32])
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y%m%d%H%M%S +0000", &tm);
}

/* One <programme>: an episode part, or a whole ad break (its ads, consecutive, merged). */
static void programme(struct evbuffer *b, int number, const VpProgramme *p, int nb_ads,
                      int64_t stop_us)
{
    char start[32], stop[32];
    xmltv_time(p[0].start_us, start);
    xmltv_time(stop_us, stop);
    evbuffer_add_printf(b, "  <programme start=\"%s\" stop=\"%s\" channel=\"%d\">\n"
                           "    <title>", start, stop, number);
    if (nb_ads) {
        evbuffer_add_printf(b, "Ad: ");
        for (int i = 0; i < nb_ads; i++) {
            if (i)
                evbuffer_add(b, ", ", 2);
            xml_text(b, p[i].title);
        }
        evbuffer_add_printf(b, "</title>\n    <category>Advertisement</category>\n");
    } else {
        xml_text(b, p->title);
        evbuffer_add_printf(b, "</title>\n");
    }
    evbuffer_add_printf(b, "  </programme>\n");
}

void chs_iptv_xmltv(ChServer *s, struct evhttp_request *req, const int64_t *args)
{
    struct evbuffer *b = evbuffer_new();
    (void)args;
    if (!b) {
        chs_reply_error(req, 500, "out of memory");
        return;
    }
    int n = vp_channels_count(s->ch);
    evbuffer_add_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                           "<!DOCTYPE tv SYSTEM \"xmltv.dtd\">\n"
                           "<tv generator-info-name=\"vidpipe %s\">\n", vp_version());
    /* the DTD puts every <channel> before the first <programme> */
    for (int i = 0; i < n; i++) {
        VpChannelInfo ci;
        if (vp_channels_info(s->ch, i, &ci) < 0)
            continue;
        evbuffer_add_printf(b, "  <channel id=\"%d\">\n    <display-name>", ci.number);
        xml_text(b, ci.name);
        evbuffer_add_printf(b, "</display-name>\n    <display-name>%d</display-name>\n"
                               "  </channel>\n", ci.number);
    }
    int64_t now = vp_channels_now_us(s->ch);
    for (int i = 0; i < n; i++) {
        VpChannelInfo ci;
        VpProgramme *items = NULL;
        int nb = 0;
        if (vp_channels_info(s->ch, i, &ci) < 0 ||
            vp_channel_schedule(s->ch, ci.number, now, now + CHS_GUIDE_HOURS * 3600000000LL,
                                &items, &nb) < 0) {
            free(items);
            continue;     /* not on air yet: a guide without its programmes */
        }
        for (int k = 0; k < nb;) {
            int ads = 0;
            while (k + ads < nb && items[k + ads].kind == VP_PROG_AD)
                ads++;
            int len = ads ? ads : 1;
            programme(b, ci.number, &items[k], ads, items[k + len - 1].stop_us);
            k += len;
        }
        free(items);
    }
    evbuffer_add_printf(b, "</tv>\n");
    send_buffer(req, "application/xml; charset=utf-8", b);
}

/* ---- HDHomeRun ------------------------------------------------------------------------------ */

void chs_hdhr_discover(ChServer *s, struct evhttp_request *req, const int64_t *args)
{
    char base[300], lineup[340];
    (void)args;
    chs_base_url(s, req, base, sizeof(base));
    snprintf(lineup, sizeof(lineup), "%s/lineup.json", base);
    int n = vp_channels_count(s->ch);
    /* Plex lets as many streams play at once as the tuner count: one per channel, at
     * least 4, as a viewer costs no tuner here */
    chs_reply_json(req, 200, json_pack("{ss ss ss ss ss ss ss ss ss si}",
        "FriendlyName", "vidpipe channels", "Manufacturer", "vidpipe",
        "ModelNumber", "HDTC-2US", "FirmwareName", "hdhomeruntc_atsc",
        "FirmwareVersion", vp_version(), "DeviceID", s->device_id,
        "DeviceAuth", s->device_id, "BaseURL", base, "LineupURL", lineup,
        "TunerCount", n > 4 ? n : 4));
}

/* The UPnP device description some clients read after discover.json. */
void chs_hdhr_device(ChServer *s, struct evhttp_request *req, const int64_t *args)
{
    char base[300];
    struct evbuffer *b = evbuffer_new();
    (void)args;
    if (!b) {
        chs_reply_error(req, 500, "out of memory");
        return;
    }
    chs_base_url(s, req, base, sizeof(base));
    evbuffer_add_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<root xmlns=\"urn:schemas-upnp-org:device-1-0\">\n"
        "  <specVersion><major>1</major><minor>0</minor></specVersion>\n  <URLBase>");
    xml_text(b, base);
    evbuffer_add_printf(b, "</URLBase>\n  <device>\n"
        "    <deviceType>urn:schemas-upnp-org:device:MediaServer:1</deviceType>\n"
        "    <friendlyName>vidpipe channels</friendlyName>\n"
        "    <manufacturer>vidpipe</manufacturer>\n"
        "    <modelName>HDTC-2US</modelName>\n    <modelNumber>HDTC-2US</modelNumber>\n"
        "    <serialNumber>%s</serialNumber>\n    <UDN>uuid:%s</UDN>\n"
        "  </device>\n</root>\n", s->device_id, s->device_id);
    send_buffer(req, "application/xml; charset=utf-8", b);
}

void chs_hdhr_lineup(ChServer *s, struct evhttp_request *req, const int64_t *args)
{
    char base[300], url[360], num[16];
    (void)args;
    json_t *list = json_array();
    chs_base_url(s, req, base, sizeof(base));
    for (int i = 0, n = vp_channels_count(s->ch); list && i < n; i++) {
        VpChannelInfo ci;
        if (vp_channels_info(s->ch, i, &ci) < 0)
            continue;
        json_t *o = json_object();
        snprintf(num, sizeof(num), "%d", ci.number);
        snprintf(url, sizeof(url), "%s/iptv/channel/%d.ts", base, ci.number);
        if (!o || json_array_append_new(list, o) < 0) {
            json_decref(list);
            list = NULL;
            break;
        }
        json_object_set_new(o, "GuideNumber", json_string(num));
        vpi_json_set_text(o, "GuideName", ci.name);
        json_object_set_new(o, "URL", json_string(url));
    }
    chs_reply_json(req, 200, list);
}

void chs_hdhr_status(ChServer *s, struct evhttp_request *req, const int64_t *args)
{
    (void)s;
    (void)args;
    chs_reply_json(req, 200, json_pack("{si si ss s[s]}", "ScanInProgress", 0, "ScanPossible", 1,
                                       "Source", "Cable", "SourceList", "Cable"));
}

/* POST /lineup.post?scan=start: Plex asks for a channel scan; the lineup is always known. */
void chs_hdhr_scan(ChServer *s, struct evhttp_request *req, const int64_t *args)
{
    (void)s;
    (void)args;
    chs_reply_json(req, 200, json_object());
}
