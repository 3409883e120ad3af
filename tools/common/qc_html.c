/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/base64.h>
#include <libavutil/error.h>

#include "qc_html.h"
#include "toolbox.h"

static void esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static const char *vname(VpQcVerdict v)
{
    return v == VP_QC_PASS ? "pass" : v == VP_QC_FAIL ? "FAIL" : "n/a";
}

/* Momentary loudness over time, with the integrated value and the spec's band. */
static void loudness_svg(FILE *f, const VpQcReport *r)
{
    const int W = 900, H = 200;
    if (!r->nb_momentary) {
        fputs("<p>No audio was measured.</p>\n", f);
        return;
    }
    double lo = -60, hi = 0;
    fprintf(f, "<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "style=\"background:#fafafa;border:1px solid #ccc\">\n", W, H + 20, W, H + 20);
    for (int db = -60; db <= 0; db += 10) {
        double y = (hi - db) / (hi - lo) * H;
        fprintf(f, "<line x1=\"30\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                   "<text x=\"0\" y=\"%.1f\" font-size=\"10\">%d</text>\n", W, y, y, y + 3, db);
    }
    if (isfinite(r->loudness)) {
        double y = (hi - r->loudness) / (hi - lo) * H;
        fprintf(f, "<line x1=\"30\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#c60\" "
                   "stroke-dasharray=\"4\"/>\n", W, y, y);
    }
    fputs("<polyline fill=\"none\" stroke=\"#06c\" stroke-width=\"1\" points=\"", f);
    int n = r->nb_momentary, stride = n > 2000 ? n / 2000 : 1;
    for (int i = 0; i < n; i += stride) {
        double v = r->momentary[i];
        if (!(v > lo))
            v = lo;
        if (v > hi)
            v = hi;
        fprintf(f, "%.1f,%.1f ", 30 + (double)i / n * (W - 30), (hi - v) / (hi - lo) * H);
    }
    fprintf(f, "\"/>\n<text x=\"30\" y=\"%d\" font-size=\"11\">0 s</text>"
               "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%.1f s</text>\n"
               "</svg>\n", H + 15, W, H + 15, n / 10.0);
}

/* Black, silent, frozen and corrupt stretches on one time axis. */
static void timeline_svg(FILE *f, const VpQcReport *r)
{
    const int W = 900;
    double dur = r->source.duration;
    if (!(dur > 0))
        dur = r->video_duration > 0 ? r->video_duration : 1;
    struct { const char *name, *color; const VpQcStretch *v; int nb; } rows[] = {
        { "corrupt", "#c00", r->corrupt, r->nb_corrupt },
        { "black", "#222", r->black, r->nb_black },
        { "silence", "#888", r->silence, r->nb_silence },
        { "freeze", "#36c", r->freeze, r->nb_freeze },
    };
    fprintf(f, "<svg width=\"%d\" height=\"%d\" style=\"border:1px solid #ccc\">\n", W, 4 * 22 + 4);
    for (int i = 0; i < 4; i++) {
        int y = 4 + i * 22;
        fprintf(f, "<text x=\"0\" y=\"%d\" font-size=\"11\">%s</text>\n", y + 13, rows[i].name);
        for (int k = 0; k < rows[i].nb; k++) {
            double x0 = 60 + rows[i].v[k].start / dur * (W - 60);
            double x1 = 60 + rows[i].v[k].end / dur * (W - 60);
            fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"16\" fill=\"%s\">"
                       "<title>%s %.2f-%.2f s</title></rect>\n", x0, y, x1 - x0 < 1 ? 1 : x1 - x0,
                    rows[i].color, rows[i].name, rows[i].v[k].start, rows[i].v[k].end);
        }
    }
    fputs("</svg>\n", f);
}

int qc_html_write(const char *path, const char *in, const VpQcReport *r)
{
    char tmp[4096];
    const char *slash = strrchr(path, '/');
    int dl = slash ? (int)(slash - path) : 1;
    /* A random suffix with O_EXCL, as mkstemp does, but created 0666 so that the kernel
     * applies the umask (a report is an ordinary file): mkstemp's 0600 would need the umask
     * read back, and reading it means setting it, a race with every other thread. */
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        uint8_t rnd[6];
        char suffix[7];
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
            return AVERROR(errno ? errno : EIO);
        for (int i = 0; i < 6; i++)
            suffix[i] = digits[rnd[i] % 36];
        suffix[6] = 0;
        if (snprintf(tmp, sizeof(tmp), "%.*s/.%s.vptmp-%s", dl, slash ? path : ".",
                     slash ? slash + 1 : path, suffix) >= (int)sizeof(tmp))
            return AVERROR(ENAMETOOLONG);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            return AVERROR(errno);
    }
    if (fd < 0)
        return AVERROR(EEXIST);
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int e = AVERROR(errno);
        close(fd);
        unlink(tmp);
        return e;
    }
    fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>QC: ", f);
    esc(f, in);
    fputs("</title><style>body{font:14px sans-serif;margin:2em}"
          ".v{font-size:28px;font-weight:bold;padding:.3em .6em;display:inline-block}"
          ".FAIL{background:#fdd;color:#900}.pass{background:#dfd;color:#060}"
          ".na{color:#888}td{padding:2px 10px}</style></head><body>\n<h1>", f);
    esc(f, in);
    fprintf(f, "</h1>\n<div class=\"v %s\">%s</div> %d of %d checks failed\n",
            r->nb_failed ? "FAIL" : "pass", r->nb_failed ? "FAIL" : "PASS", r->nb_failed,
            r->nb_checks);
    fputs("<h2>Checks</h2>\n<table>\n", f);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < r->nb_checks; i++) {
            const VpQcCheck *c = &r->checks[i];
            if ((c->verdict == VP_QC_FAIL) != (pass == 0))
                continue;
            fprintf(f, "<tr class=\"%s\"><td class=\"%s\">%s</td><td>%s</td><td>",
                    c->verdict == VP_QC_NOT_APPLICABLE ? "na" : "",
                    c->verdict == VP_QC_FAIL ? "FAIL" : c->verdict == VP_QC_PASS ? "pass" : "na",
                    vname(c->verdict), c->name);
            esc(f, c->message);
            fputs("</td></tr>\n", f);
        }
    fputs("</table>\n", f);
    if (r->sheet && r->sheet_size < (32 << 20)) {
        size_t n = AV_BASE64_SIZE(r->sheet_size);
        char *b64 = malloc(n);
        if (b64 && av_base64_encode(b64, (int)n, r->sheet, (int)r->sheet_size)) {
            fputs("<h2>Pictures</h2>\n<img alt=\"contact sheet\" src=\"data:image/jpeg;base64,", f);
            fputs(b64, f);
            fputs("\">\n", f);
        }
        free(b64);
    }
    fputs("<h2>Timeline</h2>\n", f);
    timeline_svg(f, r);
    fputs("<h2>Loudness over time (momentary, LUFS; dashed: integrated)</h2>\n", f);
    loudness_svg(f, r);
    if (r->nb_errors) {
        fputs("<h2>Decode errors</h2>\n<table>\n", f);
        for (int i = 0; i < r->nb_errors; i++) {
            fprintf(f, "<tr><td>%.3f s</td><td>", r->errors[i].time);
            esc(f, r->errors[i].what);
            fputs("</td></tr>\n", f);
        }
        fputs("</table>\n", f);
    }
    fprintf(f, "<h2>Source</h2><p>%dx%d, %.2f s, %s", r->source.width, r->source.height,
            r->source.duration, r->source.video_codec);
    if (r->source.has_audio)
        fprintf(f, ", %s %d Hz", r->source.audio_codec, r->source.sample_rate);
    fputs("</p>\n</body></html>\n", f);
    int ret = ferror(f) ? AVERROR(EIO) : 0;
    if (fclose(f) != 0 && !ret)
        ret = AVERROR(errno);
    if (!ret && rename(tmp, path) < 0)
        ret = AVERROR(errno);
    if (ret < 0)
        unlink(tmp);
    return ret;
}
