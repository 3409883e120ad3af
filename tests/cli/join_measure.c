/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Measures the joins of a decoded output (raw mono f32le PCM, e.g. from `ffmpeg -ac 1 -f
 * f32le`) whose segments carry a known signal: s(T) below, T = offset + time in segment.
 *
 *   join_measure PCM RATE START:OFFSET[:ALEN] [START:OFFSET[:ALEN]|START:silent ...]
 *
 * START is where the segment's first video frame is presented in the output (seconds, from
 * ffprobe), OFFSET the signal time at the segment's start, ALEN the length of its audio
 * (silence after it; default: to the next segment). For every segment it prints the
 * A/V offset at its start and end (the lag of the audio against the video, found by
 * cross-correlation with the expected signal), and for every join the deepest level drop
 * over 5 ms windows (output RMS against the expected RMS) and the worst signal-to-residual
 * ratio. Used by the tests and by docs/join.md's measurements of the peers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double sig(double T)
{
    const double tau = 2 * M_PI;
    return 0.25 * sin(tau * 440.7 * T) + 0.2 * sin(tau * 97.3 * T) + 0.15 * sin(tau * 31.7 * T) +
           0.1 * sin(tau * 1234.5 * T);
}

typedef struct Seg {
    double start, offset;
    double alen;   /* the segment's audio length in seconds; after it, silence */
    int silent;
} Seg;

static float *pcm;
static long nb;
static double sr;

/* Expected sample at output index n for segment s with the audio shifted by lag samples. */
static double expect(const Seg *s, long n, long lag)
{
    double t = (double)(n - lag) / sr - s->start;
    if (s->silent || t >= s->alen)
        return 0;
    return sig(s->offset + t);
}

/* Lag (samples) in [-maxlag, maxlag] that best matches segment s over [n0, n1). */
static long best_lag(const Seg *s, long n0, long n1, long maxlag, double *corr)
{
    long best = 0;
    double bestv = -1e30;
    if (n0 < 0)
        n0 = 0;
    if (n1 > nb)
        n1 = nb;
    if (n1 <= n0)
        return 0;
    /* e[i] = expected at output index n0 - maxlag + i with no lag */
    long len = n1 - n0 + 2 * maxlag;
    double *e = malloc((size_t)len * sizeof(*e));
    if (!e)
        exit(2);
    for (long i = 0; i < len; i++)
        e[i] = expect(s, n0 - maxlag + i, 0);
    for (long lag = -maxlag; lag <= maxlag; lag++) {
        double c = 0, ee = 0;
        const double *el = e + maxlag - lag - n0;
        for (long n = n0; n < n1; n++) {
            c += pcm[n] * el[n];
            ee += el[n] * el[n];
        }
        c = ee > 0 ? c / sqrt(ee) : 0;
        if (c > bestv) {
            bestv = c;
            best = lag;
        }
    }
    free(e);
    *corr = bestv;
    return best;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: join_measure PCM RATE START:OFFSET...\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    fseek(f, 0, SEEK_END);
    nb = ftell(f) / 4;
    fseek(f, 0, SEEK_SET);
    pcm = malloc((size_t)(nb ? nb : 1) * sizeof(float));
    if (!pcm || fread(pcm, 4, (size_t)nb, f) != (size_t)nb) {
        fprintf(stderr, "%s: read error\n", argv[1]);
        return 2;
    }
    fclose(f);
    sr = atof(argv[2]);
    int ns = argc - 3;
    Seg *segs = calloc((size_t)ns, sizeof(*segs));
    long *lag_start = calloc((size_t)ns, sizeof(long)), *lag_end = calloc((size_t)ns, sizeof(long));
    for (int i = 0; i < ns; i++) {
        char *colon = strchr(argv[3 + i], ':');
        if (!colon)
            return 2;
        segs[i].start = atof(argv[3 + i]);
        segs[i].silent = !strncmp(colon + 1, "silent", 6);
        segs[i].offset = segs[i].silent ? 0 : atof(colon + 1);
        char *alen = strchr(colon + 1, ':');
        segs[i].alen = alen ? atof(alen + 1) : 1e9;
    }
    long maxlag = (long)(sr * 0.015);
    long w = (long)(sr * 0.1), guard = (long)(sr * 0.03);
    double worst_lag = 0, worst_dip = 0, worst_snr = 1e9;
    for (int i = 0; i < ns; i++) {
        long s0 = (long)llround(segs[i].start * sr);
        long s1 = i + 1 < ns ? (long)llround(segs[i + 1].start * sr) : nb;
        double c;
        if (segs[i].silent)
            continue;
        lag_start[i] = best_lag(&segs[i], s0 + guard, s0 + guard + w, maxlag, &c);
        long a1 = s0 + (long)llround(segs[i].alen * sr);
        long e1 = s1 < a1 ? s1 : a1;
        lag_end[i] = best_lag(&segs[i], e1 - guard - w, e1 - guard, maxlag, &c);
        printf("segment %d at %.4f s: A/V offset %+.2f ms at its start, %+.2f ms at its end\n",
               i, segs[i].start, lag_start[i] * 1000 / sr, lag_end[i] * 1000 / sr);
        worst_lag = fmax(worst_lag, fabs(lag_start[i] * 1000 / sr));
        worst_lag = fmax(worst_lag, fabs(lag_end[i] * 1000 / sr));
    }
    /* Level at each join: 5 ms windows from 40 ms before to 40 ms after. */
    long win = (long)(sr * 0.005);
    for (int i = 1; i < ns; i++) {
        long j = (long)llround(segs[i].start * sr);
        double dip = 0, snr = 1e9;
        for (long n0 = j - 8 * win; n0 < j + 8 * win; n0 += win) {
            if (n0 < 0 || n0 + win > nb)
                continue;
            int k = n0 + win / 2 < j ? i - 1 : i;
            long lag = n0 + win / 2 < j ? lag_end[k] : lag_start[k];
            if (segs[k].silent)
                continue;
            double eo = 0, ee = 0, er = 0;
            for (long n = n0; n < n0 + win; n++) {
                double e = expect(&segs[k], n, lag);
                eo += (double)pcm[n] * pcm[n];
                ee += e * e;
                er += (pcm[n] - e) * (pcm[n] - e);
            }
            if (ee <= 0)
                continue;
            double lvl = 10 * log10((eo + 1e-12) / ee);
            double s = 10 * log10(ee / (er + 1e-12));
            dip = fmin(dip, lvl);
            snr = fmin(snr, s);
        }
        printf("join %d at %.4f s: level %+.1f dB (deepest 5 ms window), SNR %.1f dB\n", i,
               segs[i].start, dip, snr);
        worst_dip = fmin(worst_dip, dip);
        worst_snr = fmin(worst_snr, snr);
    }
    printf("summary: max |A/V offset| %.2f ms, deepest dip %.1f dB, worst SNR %.1f dB\n",
           worst_lag, worst_dip, worst_snr);
    free(segs);
    free(lag_start);
    free(lag_end);
    free(pcm);
    return 0;
}
