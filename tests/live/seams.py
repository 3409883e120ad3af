#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""seams.py CAPTURE.ts SCHEDULE.json SIGNALS.json [--max-offset-ms 5] [--max-dip-db 6]
           [--max-ad-louder-db 1.5] [--min-boundaries N]

The audio seams of a channel capture, measured the way tests/cli/join_measure.c measures a
join (docs/join.md), with the times of the boundaries taken from the schedule API.

Every test file carries the signal s(T) of tests/live/make_media.sh, T = BASE + position in
the file (SIGNALS.json: {"ep1.mp4": {"base": 0}, ...}; base null: no audio). SCHEDULE.json is
the answer of GET /api/channels/N/schedule: items in order with "kind", "file", "start",
"stop" (ISO 8601 UTC) and "cut_at" (where an episode part is cut, seconds into its file); an
episode part resumes where the previous part of the same file was cut.

The capture's audio is decoded by FFmpeg (mono, 48 kHz, sample 0 at the first audio PTS);
its video PTS and keyframes come from ffprobe. The schedule's wall clock is tied to the
capture's PTS by trying every keyframe as the start of every item and keeping the mapping
under which the audio matches the expected signal best over all items (the capture needs no
help from the server for this). Then, for every item: the A/V offset (lag of the audio
against s(T), +-15 ms search, 30-130 ms after its first frame and before its end), its gain
against s(T) (dB; an ad must not be louder than the episodes), silence where the file has no
audio; for every boundary: whether the video has a keyframe there, the deepest level over
5 ms windows from 40 ms before to 40 ms after it (output against expected energy, each
side at its own gain and lag), and the worst signal-to-residual ratio.

Prints one line per item and boundary and a JSON summary line; exits 1 when an offset,
dip, loudness or keyframe limit is broken or fewer than --min-boundaries boundaries were
measured, 2 on unusable input."""
import datetime
import json
import os
import subprocess
import sys

import numpy as np

SR = 48000


def sig(T):
    tau = 2 * np.pi
    return 0.3 * (0.25 * np.sin(tau * 440.7 * T) + 0.2 * np.sin(tau * 97.3 * T) +
                  0.15 * np.sin(tau * 31.7 * T) + 0.1 * np.sin(tau * 1234.5 * T))


def iso(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def probe_packets(path, sel):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", sel, "-show_entries",
                          "packet=pts_time,flags", "-of", "csv=p=0", path],
                         capture_output=True, text=True).stdout
    pk = []
    for line in out.split("\n"):
        f = line.split(",")
        if len(f) >= 2 and f[0] not in ("", "N/A"):
            pk.append((float(f[0]), "K" in f[1]))
    return pk


class Item:
    pass


def load_items(sched, signals):
    items, last_cut = [], {}
    prev_ep = None
    for e in sched["items"]:
        it = Item()
        it.kind, it.file = e.get("kind"), os.path.basename(e.get("file") or "")
        it.start, it.stop = iso(e["start"]), iso(e["stop"])
        it.cut_at = e.get("cut_at")
        s = signals.get(it.file)
        if s is None:
            raise SystemExit("seams: %s: no signal known for this file" % it.file)
        it.base, it.gain_db_src = s.get("base"), s.get("gain_db", 0)
        it.pos = 0.0
        if it.kind == "episode":
            if prev_ep is not None and prev_ep.file == it.file and prev_ep.cut_at is not None:
                it.pos = float(prev_ep.cut_at)
            prev_ep = it
        items.append(it)
    return items


def main():
    args = sys.argv[1:]
    opt = {"--max-offset-ms": 5.0, "--max-dip-db": 6.0, "--max-ad-louder-db": 1.5,
           "--min-boundaries": 1}
    pos = []
    while args:
        a = args.pop(0)
        if a in opt and args:
            opt[a] = float(args.pop(0))
        else:
            pos.append(a)
    if len(pos) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    cap, sched_path, sig_path = pos
    with open(sched_path) as f:
        sched = json.load(f)
    with open(sig_path) as f:
        signals = json.load(f)
    items = load_items(sched, signals)

    vpk = probe_packets(cap, "v:0")
    apk = probe_packets(cap, "a:0")
    if not vpk or not apk:
        print("seams: %s: no video or no audio packets" % cap, file=sys.stderr)
        return 2
    keys = np.array(sorted(t for t, k in vpk if k))
    vts = np.array(sorted(t for t, _ in vpk))
    frame = float(np.median(np.diff(vts))) if len(vts) > 1 else 0.04
    a0 = min(t for t, _ in apk)
    pcm = np.frombuffer(subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", cap, "-map", "0:a:0", "-ac", "1", "-ar",
         str(SR), "-f", "f32le", "-"], capture_output=True).stdout, dtype=np.float32)
    pcm = pcm.astype(np.float64)
    t_end = a0 + len(pcm) / SR
    v_first, v_last = vts[0], vts[-1] + frame

    def window(t0, t1):
        n0, n1 = int(round((t0 - a0) * SR)), int(round((t1 - a0) * SR))
        if n0 < 0 or n1 > len(pcm) or n1 <= n0:
            return None, None
        return n0, pcm[n0:n1]

    def expected(it, P, n0, n, lag=0):
        t = a0 + (np.arange(n0, n0 + n) - lag) / SR
        return sig(it.base + it.pos + (t - P))

    maxlag = int(SR * 0.015)

    def score(it, P):
        """the best normalised correlation of item it starting at P, lags within +-15 ms"""
        n0, o = window(P + 0.03 - 0.015, P + 0.13 + 0.015)
        if o is None:
            return None
        n = len(o) - 2 * maxlag
        e = expected(it, P, n0 + maxlag, n)
        c = np.correlate(o, e, "valid")
        oo = np.cumsum(np.concatenate(([0.0], o * o)))
        norm = np.sqrt((oo[n:] - oo[:-n]) * np.dot(e, e))
        return float(np.max(c / np.maximum(norm, 1e-12)))

    # The mapping wall -> PTS: P_k = start_k - w0. Try every keyframe as every item's start.
    # The schedule answers reach far past the capture (an hour): only items that can lie in
    # it (the first answer was taken as the capture started) are tried, else the search
    # grows with the square of the schedule.
    origin = items[0].start
    span = v_last - v_first
    items = [it for it in items if it.start <= origin + span + 30]
    best = (-1e9, None, 0)
    tried = set()
    for k, it in enumerate(items):
        if it.base is None:
            continue
        for p in keys:
            w0 = round(it.start - origin - p, 3)
            if w0 in tried:
                continue
            own = score(it, p)
            if own is None or own < 0.6:
                continue
            tried.add(w0)
            sc, nsc = 0.0, 0
            for jt in items:
                if jt.base is None:
                    continue
                s = score(jt, jt.start - origin - w0)
                if s is not None:
                    sc += s
                    nsc += 1
            # the sum, not the mean: a mapping that puts one item by chance on a
            # matching stretch and the rest outside the capture must not win
            if nsc and sc > best[0]:
                best = (sc, w0, sc / nsc)
    if best[1] is None:
        print("seams: %s: the schedule does not overlap the capture" % cap, file=sys.stderr)
        return 2
    w0 = best[1]
    print("anchor: schedule time %.3f s = capture PTS 0 (mean correlation %.3f)" % (w0, best[2]))
    if best[2] < 0.5:
        print("seams: the capture's audio does not match the schedule (best correlation %.2f)"
              % best[2])
        return 1
    # Each item starts at the keyframe nearest its scheduled time: the producer moves an
    # item's video by up to half an AAC frame (10.7 ms at 48 kHz) so its audio lands on the
    # stream's 1024-sample grid (docs/channels.md), and audio is measured against the
    # pictures, not against the guide.
    for it in items:
        it.P = it.start - origin - w0
        if len(keys):
            k = keys[np.argmin(np.abs(keys - it.P))]
            if abs(k - it.P) <= 0.025:
                it.P = float(k)
    for i, it in enumerate(items):
        nxt = items[i + 1] if i + 1 < len(items) else None
        if nxt is not None and abs(nxt.start - it.stop) < 1e-3:
            it.Q = nxt.P
        else:
            it.Q = it.stop - origin - w0

    def fit(it, t0, t1):
        """lag (samples) and gain at the best lag of item it over [t0, t1)"""
        n0, o = window(t0, t1)
        if o is None:
            return None
        e = expected(it, it.P, n0 - maxlag, len(o) + 2 * maxlag)
        best_l, best_c = 0, -1e30
        ee_all = None
        for lag in range(-maxlag, maxlag + 1):
            el = e[maxlag - lag: maxlag - lag + len(o)]
            ee = np.dot(el, el)
            c = np.dot(o, el) / np.sqrt(ee) if ee > 0 else 0
            if c > best_c:
                best_c, best_l, ee_all = c, lag, ee
        el = e[maxlag - best_l: maxlag - best_l + len(o)]
        g = np.dot(o, el) / ee_all if ee_all else 0.0
        return best_l, g

    report = {"items": [], "boundaries": []}
    bad = []
    lo, hi = max(a0, v_first) + 0.3, min(t_end, v_last) - 0.05
    for i, it in enumerate(items):
        if it.Q < lo or it.P > hi:
            continue
        r = {"kind": it.kind, "file": it.file, "at": round(it.P, 4), "pos": it.pos}
        if it.base is None:
            n0, o = window(max(it.P + 0.05, lo), min(it.Q - 0.05, hi))
            if o is not None and len(o):
                rms = 20 * np.log10(np.sqrt(np.mean(o * o)) + 1e-12)
                r["silence_dbfs"] = round(rms, 1)
                if rms > -50:
                    bad.append("%s at %.3f s: should be silent, level %.1f dBFS" %
                               (it.file, it.P, rms))
            print("item %s %s at %.3f s: silent file, level %s dBFS" %
                  (it.kind, it.file, it.P, r.get("silence_dbfs")))
        else:
            f_start = fit(it, it.P + 0.03, it.P + 0.13) if it.P + 0.03 >= lo else None
            f_end = fit(it, it.Q - 0.13, it.Q - 0.03) if it.Q - 0.03 <= hi else None
            for name, f in (("start", f_start), ("end", f_end)):
                if f is None:
                    continue
                off = f[0] * 1000 / SR
                r["offset_ms_" + name] = round(off, 2)
                r["gain_db"] = round(20 * np.log10(abs(f[1]) + 1e-12), 2)
                if abs(off) > opt["--max-offset-ms"]:
                    bad.append("%s at %.3f s: A/V offset %+.2f ms at its %s" %
                               (it.file, it.P, off, name))
            print("item %s %s at %.3f s (from %.3f s in the file): A/V offset %s ms at its "
                  "start, %s ms at its end, gain %s dB" %
                  (it.kind, it.file, it.P, it.pos, r.get("offset_ms_start"),
                   r.get("offset_ms_end"), r.get("gain_db")))
        it.fit = (r.get("offset_ms_start"), r.get("offset_ms_end"))
        report["items"].append(r)

    win = SR * 5 // 1000
    for i in range(1, len(items)):
        a, b = items[i - 1], items[i]
        j = b.P
        if j - 0.2 < lo or j + 0.2 > hi:
            continue
        kd = np.min(np.abs(keys - j)) if len(keys) else 1e9
        r = {"at": round(j, 4), "from": a.file, "to": b.file,
             "keyframe_off_ms": round(kd * 1000, 2)}
        if kd > frame / 2:
            bad.append("boundary %s -> %s at %.3f s: no keyframe there (nearest %.1f ms away)"
                       % (a.file, b.file, j, kd * 1000))
        dip, snr = 0.0, 1e9
        sides = {}
        for side, it, t0, t1 in (("a", a, j - 0.13, j - 0.03), ("b", b, j + 0.03, j + 0.13)):
            if it.base is not None:
                f = fit(it, t0, t1)
                if f is not None:
                    sides[side] = (it, f[0], f[1])
        n_j = int(round((j - a0) * SR))
        for n0 in range(n_j - 8 * win, n_j + 8 * win, win):
            side = "a" if n0 + win // 2 < n_j else "b"
            if side not in sides or n0 < 0 or n0 + win > len(pcm):
                continue
            it, lag, g = sides[side]
            e = g * expected(it, it.P, n0, win, lag)
            o = pcm[n0:n0 + win]
            ee, eo, er = np.dot(e, e), np.dot(o, o), np.dot(o - e, o - e)
            if ee <= 0:
                continue
            dip = min(dip, 10 * np.log10((eo + 1e-12) / ee))
            snr = min(snr, 10 * np.log10(ee / (er + 1e-12)))
        if sides:
            r["dip_db"], r["snr_db"] = round(dip, 1), round(snr, 1)
            if dip < -opt["--max-dip-db"]:
                bad.append("boundary %s -> %s at %.3f s: level dips %.1f dB" %
                           (a.file, b.file, j, dip))
        print("boundary %s -> %s at %.3f s: keyframe %.1f ms away, level %s dB (deepest 5 ms "
              "window), SNR %s dB" % (a.file, b.file, j, kd * 1000, r.get("dip_db"),
                                     r.get("snr_db")))
        report["boundaries"].append(r)

    ep_gain = [r["gain_db"] for r in report["items"] if r["kind"] == "episode" and "gain_db" in r]
    if ep_gain:
        show = float(np.median(ep_gain))
        for r in report["items"]:
            if r["kind"] == "ad" and "gain_db" in r and r["gain_db"] - show > opt["--max-ad-louder-db"]:
                bad.append("%s at %.3f s: %.1f dB louder than the episodes" %
                           (r["file"], r["at"], r["gain_db"] - show))
    nb = len(report["boundaries"])
    if nb < opt["--min-boundaries"]:
        bad.append("only %d boundaries inside the capture (want %d)" %
                   (nb, opt["--min-boundaries"]))
    offs = [abs(v) for r in report["items"] for k, v in r.items() if k.startswith("offset_ms")]
    dips = [r["dip_db"] for r in report["boundaries"] if "dip_db" in r]
    summary = {"boundaries": nb, "max_offset_ms": max(offs) if offs else None,
               "deepest_dip_db": min(dips) if dips else None, "violations": bad}
    for b in bad:
        print("VIOLATION: " + b)
    print("summary: " + json.dumps(summary))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
