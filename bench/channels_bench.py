#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""channels_bench.py MEDIA_DIR WORK_DIR VIDPIPE : the measurements behind bench/channels.sh
(read that file's header). Environment: RUNS, WINDOW, WARMUP, VIEWERS, CHANNELS,
SEED_STEPS."""
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TUNEIN = os.path.join(HERE, "..", "tests", "live", "tunein.py")
VIEWERS_PY = os.path.join(HERE, "channels_viewers.py")
TCK = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1

RUNS = int(os.environ.get("RUNS", "3"))
WINDOW = float(os.environ.get("WINDOW", "10"))
WARMUP = float(os.environ.get("WARMUP", "5"))
VIEWERS = [int(x) for x in os.environ.get("VIEWERS", "1,10,100,500").split(",")]
CHANNELS = int(os.environ.get("CHANNELS", "50"))
SEED_STEPS = [int(x) for x in os.environ.get("SEED_STEPS", "1,2,4,10,100,500").split(",")]

# The schedule both sides play: episode 1 cut at 30 s, two ads, the rest; episode 2 cut at
# 30 s, two ads, the rest; repeated.
BREAK = 30.0


def seed_list(media, path):
    ads = ["ad1.mp4", "ad2.mp4", "ad3.mp4"]
    lines, k = [], 0
    for ep in ("ep1.mp4", "ep2.mp4"):
        lines += ["file '%s/%s'" % (media, ep), "outpoint %g" % BREAK]
        for _ in range(2):
            lines.append("file '%s/%s'" % (media, ads[k % 3]))
            k += 1
        lines += ["file '%s/%s'" % (media, ep), "inpoint %g" % BREAK]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def seed_cmd(listfile, progress=None):
    """The seed's per-viewer command (/work/shared/seeds/002_*, "FFmpeg Command Structure"),
    output to stdout as the seed pipes it to its web server."""
    cmd = ("ffmpeg -nostdin -hide_banner -nostats -loglevel error "
           "-fflags +genpts+discardcorrupt+igndts -readrate 1.0 -re -stream_loop -1 "
           "-f concat -safe 0 -protocol_whitelist file,http,tcp,https,tcp,tls -probesize 32 "
           "-i %s -map 0:v:0 -map 0:a:0 -sn -dn "
           "-c:v libx264 -preset veryfast -tune zerolatency -profile:v main -pix_fmt yuv420p "
           "-g 60 -keyint_min 60 -sc_threshold 0 -c:a aac -b:a 128k -ac 2 -ar 48000 "
           "-movflags +faststart -flags cgop -bf 0 -muxpreload 0 -muxdelay 0 "
           "-f mpegts -mpegts_flags +initial_discontinuity" % listfile).split()
    if progress:
        cmd += ["-progress", progress, "-stats_period", "0.1"]
    return cmd + ["pipe:1"]


def config(media, path, nch):
    chans = []
    for n in range(1, nch + 1):
        chans.append({"number": n, "name": "Bench %d" % n,
                      "items": [{"file": media + "/ep1.mp4", "title": "Episode 1", "breaks": [BREAK]},
                                {"file": media + "/ep2.mp4", "title": "Episode 2", "breaks": [BREAK]}],
                      "ads": [media + "/ad1.mp4", media + "/ad2.mp4", media + "/ad3.mp4"],
                      "ads_per_break": 2, "on_demand": True, "stop_after": 5})
    with open(path, "w") as f:
        json.dump({"channels": chans}, f)


def cpu_ticks(pids):
    t = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            t += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return t


def rss_mb(pids):
    kb = 0
    for p in pids:
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        kb += int(line.split()[1])
        except OSError:
            pass
    return kb / 1024


def cpu_percent(pids, seconds):
    c0, t0 = cpu_ticks(pids), time.monotonic()
    time.sleep(seconds)
    c1, t1 = cpu_ticks(pids), time.monotonic()
    return 100.0 * (c1 - c0) / TCK / (t1 - t0)


def out_time(progress):
    try:
        with open(progress) as f:
            vals = [line.split("=", 1)[1] for line in f if line.startswith("out_time_us=")]
        return int(vals[-1]) / 1e6 if vals and vals[-1].strip().isdigit() else 0.0
    except OSError:
        return 0.0


def seed_step(listfile, work, n):
    procs, progs = [], []
    for i in range(n):
        pg = os.path.join(work, "progress%d.txt" % i)
        if os.path.exists(pg):
            os.unlink(pg)
        progs.append(pg)
        procs.append(subprocess.Popen(seed_cmd(listfile, pg), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL))
    try:
        time.sleep(WARMUP)
        o0 = [out_time(p) for p in progs]
        t0 = time.monotonic()
        cpu = cpu_percent([p.pid for p in procs], WINDOW)
        mem = rss_mb([p.pid for p in procs])
        dt = time.monotonic() - t0
        speeds = [(out_time(p) - a) / dt for p, a in zip(progs, o0)]
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
    return {"cpu": cpu, "rss_mb": mem, "speed_min": min(speeds),
            "speed_median": statistics.median(speeds)}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, vidpipe, cfg, work):
        self.port = free_port()
        self.log = open(os.path.join(work, "server.log"), "w")
        self.proc = subprocess.Popen([vidpipe, "channels", cfg, "--listen",
                                      "127.0.0.1:%d" % self.port, "--cache",
                                      os.path.join(work, "cache")],
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        self.base = "http://127.0.0.1:%d" % self.port
        end = time.monotonic() + 120
        while time.monotonic() < end:
            with open(self.log.name) as f:
                if "listening on " + self.base in f.read():
                    break
            if self.proc.poll() is not None:
                raise SystemExit("bench: vidpipe channels exited: see %s" % self.log.name)
            time.sleep(0.1)
        else:
            raise SystemExit("bench: vidpipe channels not listening after 120 s")

    def on_air(self, n, timeout=300):
        """wait until every channel 1..n is on air (ingest done): its API says what plays
        "now" (null while the channel is still ingesting)"""
        import urllib.request
        end = time.monotonic() + timeout
        for ch in range(1, n + 1):
            while True:
                try:
                    with urllib.request.urlopen("%s/api/channels/%d" % (self.base, ch),
                                                timeout=5) as r:
                        if json.load(r).get("now"):
                            break
                except (OSError, ValueError):
                    pass
                if time.monotonic() > end:
                    raise SystemExit("bench: channel %d not on air after %d s" % (ch, timeout))
                time.sleep(0.5)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def vidpipe_step(server, urls):
    v = subprocess.Popen([sys.executable, VIEWERS_PY, str(WARMUP + WINDOW + 1)] + urls,
                         stdout=subprocess.PIPE, text=True)
    time.sleep(WARMUP)
    cpu = cpu_percent([server.proc.pid], WINDOW)
    mem = rss_mb([server.proc.pid])
    out = json.loads(v.communicate()[0])
    out.update({"cpu": cpu, "rss_mb": mem})
    return out


def tunein(args):
    r = subprocess.run([sys.executable, TUNEIN] + args, capture_output=True, text=True)
    try:
        return json.loads(r.stdout)["median_ms"]
    except (ValueError, KeyError):
        return None


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def main():
    media, work, vidpipe = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    listfile = os.path.join(work, "list.txt")
    seed_list(media, listfile)
    have_vidpipe = subprocess.run([vidpipe, "channels", "--help"], capture_output=True).returncode == 0
    res = {"seed": {}, "vidpipe": {}}
    print("bench: %d cores, load %s; %d runs, %g s windows after %g s warm-up" %
          (CORES, open("/proc/loadavg").read().split()[:3], RUNS, WINDOW, WARMUP), flush=True)

    # ---- the seed: one transcode per viewer, doubling until it no longer keeps real time
    seed = {}
    for run in range(RUNS):
        for n in SEED_STEPS:
            r = seed_step(listfile, work, n)
            seed.setdefault(n, []).append(r)
            print("seed   %3d viewers: CPU %6.1f %%, RSS %7.1f MB, speed min %.2f median %.2f"
                  % (n, r["cpu"], r["rss_mb"], r["speed_min"], r["speed_median"]), flush=True)
            # past the step where a transcode no longer keeps real time, more only thrash
            if r["speed_min"] < 0.95:
                break
    seed_tune = med([tunein(["--cmd", " ".join(seed_cmd(listfile)), "--runs", "3"])
                     for _ in range(RUNS)])
    print("seed   tune-in: %s ms" % seed_tune, flush=True)

    vid = {}
    vid_tune = None
    vid50 = []
    if have_vidpipe:
        cfg1 = os.path.join(work, "one.json")
        config(media, cfg1, 1)
        cfg50 = os.path.join(work, "many.json")
        config(media, cfg50, CHANNELS)
        for run in range(RUNS):
            srv = Server(vidpipe, cfg1, work)
            try:
                srv.on_air(1)
                # the first viewer of an idle on-demand channel: its producer starts now
                t = tunein([srv.base + "/iptv/channel/1.ts", "--runs", "1"])
                print("vidpipe tune-in, producer idle: %s ms" % t, flush=True)
                res.setdefault("vid_cold", []).append(t)
                time.sleep(1)
                for n in VIEWERS:
                    r = vidpipe_step(srv, [srv.base + "/iptv/channel/1.ts"] * n)
                    vid.setdefault(n, []).append(r)
                    print("vidpipe %3d viewers: CPU %6.1f %%, RSS %7.1f MB, per viewer %.0f..%.0f "
                          "kB/s, ended early %d, failed %d" %
                          (n, r["cpu"], r["rss_mb"], r["bytes_min"] / 1024 / r["seconds"],
                           r["bytes_median"] / 1024 / r["seconds"], r["ended_early"],
                           r["failed_connects"]), flush=True)
                t = tunein([srv.base + "/iptv/channel/1.ts", "--runs", "5"])
                print("vidpipe tune-in: %s ms" % t, flush=True)
                vid_tune = t if vid_tune is None else vid_tune
                res.setdefault("vid_tunes", []).append(t)
            finally:
                srv.stop()
            srv = Server(vidpipe, cfg50, work)
            try:
                srv.on_air(CHANNELS)
                r = vidpipe_step(srv, ["%s/iptv/channel/%d.ts" % (srv.base, c)
                                       for c in range(1, CHANNELS + 1)])
                vid50.append(r)
                print("vidpipe %d channels x 1 viewer: CPU %6.1f %%, RSS %7.1f MB, per viewer "
                      "%.0f..%.0f kB/s, ended early %d, failed %d" %
                      (CHANNELS, r["cpu"], r["rss_mb"], r["bytes_min"] / 1024 / r["seconds"],
                       r["bytes_median"] / 1024 / r["seconds"], r["ended_early"],
                       r["failed_connects"]), flush=True)
            finally:
                srv.stop()
        vid_tune = med(res.get("vid_tunes", []))

    # ---- the table
    def cell(rows, key):
        if not rows:
            return None
        return med([r[key] for r in rows])

    seed_saturated = any(med([r["speed_min"] for r in rs]) < 0.95 for rs in seed.values())
    seed_max_rt = max([n for n, rs in seed.items() if med([r["speed_min"] for r in rs]) >= 0.95],
                      default=0)
    print()
    print("| viewers | seed CPU % | vidpipe CPU % | ratio |")
    print("|---|---|---|---|")
    for n in VIEWERS:
        s = cell(seed.get(n), "cpu")
        v = cell(vid.get(n), "cpu")
        rt = med([r["speed_min"] for r in seed.get(n, [])])
        if s is None and seed_saturated:
            s_txt = "not run: saturated (real time up to %d viewers)" % seed_max_rt
        elif s is None:
            s_txt = "not run (SEED_STEPS)"
        elif rt < 0.95:
            s_txt = "%.1f (saturated: slowest viewer at %.2fx real time)" % (s, rt)
        else:
            s_txt = "%.1f" % s
        v_txt = "%.1f" % v if v is not None else "not built"
        if vid.get(n):
            # every viewer must have got the stream at the 1-viewer rate (10 % slack)
            rate1 = med([r["bytes_median"] for r in vid[min(vid)]])
            slow = med([r["bytes_min"] for r in vid[n]])
            lost = med([r["ended_early"] + r["failed_connects"] for r in vid[n]])
            if slow < 0.9 * rate1 or lost:
                v_txt += " (viewers starved: slowest got %.0f%% of one viewer's bytes, %d lost)" % (
                    100.0 * slow / rate1 if rate1 else 0, lost)
        ratio = "%.0fx" % (s / v) if s is not None and v else "-"
        print("| %d | %s | %s | %s |" % (n, s_txt, v_txt, ratio))
    s1 = cell(seed.get(1), "cpu")
    seed_vpc = 100.0 / s1 if s1 else None
    vmax = max(vid) if vid else None
    vid_vpc = vmax / (cell(vid[vmax], "cpu") / 100.0) if vmax and cell(vid[vmax], "cpu") else None
    print()
    print("viewers per core: seed %s (from 1 viewer's CPU; keeps real time up to %d viewers on %d "
          "cores), vidpipe %s (from %s viewers' CPU)" %
          ("%.1f" % seed_vpc if seed_vpc else "-", seed_max_rt, CORES,
           "%.0f" % vid_vpc if vid_vpc else "not built", vmax))
    if vid50:
        # every channel's viewer must have got its stream at the 1-viewer rate (10 % slack)
        starved = ""
        rate1 = med([r["bytes_median"] for r in vid[min(vid)]]) if vid else None
        slow = med([r["bytes_min"] for r in vid50])
        lost = med([r["ended_early"] + r["failed_connects"] for r in vid50])
        if rate1 and (slow < 0.9 * rate1 or lost):
            starved = " (viewers starved: slowest got %.0f%% of one viewer's bytes, %d lost)" % (
                100.0 * slow / rate1, lost)
        print("%d channels x 1 viewer: vidpipe CPU %.1f %%, RSS %.1f MB%s; seed: %d transcodes "
              "(real time up to %d here)" % (CHANNELS, med([r["cpu"] for r in vid50]),
                                             med([r["rss_mb"] for r in vid50]), starved,
                                             CHANNELS, seed_max_rt))
    else:
        s_rss = cell(seed.get(1), "rss_mb")
        print("%d channels x 1 viewer: vidpipe not built; seed RSS %.1f MB per transcode" %
              (CHANNELS, s_rss or 0))
    vid_cold = med(res.get("vid_cold", []))
    print("tune-in (connect to PAT + PMT + a whole IDR, median): seed %s, vidpipe %s%s; "
          "vidpipe when the channel's producer is idle (on demand, first viewer) %s" %
          ("%.0f ms" % seed_tune if seed_tune else "-", "%.0f ms" % vid_tune if vid_tune else "not built",
           " (%.0fx)" % (seed_tune / vid_tune) if seed_tune and vid_tune else "",
           "%.0f ms" % vid_cold if vid_cold else "-"))


if __name__ == "__main__":
    main()
