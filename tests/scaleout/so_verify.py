#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What a scale-out test leaves, checked from the outside: the jobs table (PostgreSQL, read
with psql) against the bucket (s3rver, read on its own port, not through vidpipe).

  - every video's latest job is completed, and each video has exactly one completed job
    (--videos N: exactly N videos); no job is pending, running or failed;
  - every object a result names is in the bucket with the size the result records (the
    original: the video's size; the proxy and thumbnail: their metadata's file_size_bytes);
  - no other key under PREFIX: no orphan of a dead or fenced attempt, of a deleted video, of
    an upload (.uploads/);
  - --sample N results: the proxy downloaded and decoded by ffprobe (its size and duration
    as the metadata says), the thumbnail decoded;
  - --deleted IDS: those videos have no row and no key.
Prints one summary line (JSON), then one line per problem; exit 1 when there is one.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import so_s3  # noqa: E402


def sql_json(db, query):
    out = subprocess.run(["psql", "-X", "-A", "-t", "-q", db, "-c",
                          "SELECT coalesce(json_agg(t), '[]') FROM (%s) t" % query],
                         capture_output=True, text=True, timeout=60)
    if out.returncode:
        raise SystemExit("so_verify: psql: " + out.stderr.strip())
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--s3-port", type=int, required=True)
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--videos", type=int, default=-1)
    ap.add_argument("--sample", type=int, default=0)
    ap.add_argument("--deleted", default="")
    a = ap.parse_args()
    problems = []
    base = "http://127.0.0.1:%d/%s/%s/" % (a.s3_port, a.bucket, a.prefix)

    videos = sql_json(a.db, "SELECT id, size, job_id FROM videos ORDER BY id")
    jobs = sql_json(a.db, "SELECT id, video_id, status, attempts, worker, lease_id, result "
                          "FROM jobs ORDER BY id")
    by_video = {}
    for j in jobs:
        by_video.setdefault(j["video_id"], []).append(j)
        if j["status"] != "completed":
            problems.append("job %d (video %d) is %s after %d attempt(s)"
                            % (j["id"], j["video_id"], j["status"], j["attempts"]))
    if a.videos >= 0 and len(videos) != a.videos:
        problems.append("%d videos in the table, expected %d" % (len(videos), a.videos))

    expected = {}                   # key -> size
    results = []
    for v in videos:
        done = [j for j in by_video.get(v["id"], []) if j["status"] == "completed"]
        if len(done) != 1:
            problems.append("video %d has %d completed jobs, not 1" % (v["id"], len(done)))
        latest = [j for j in by_video.get(v["id"], []) if j["id"] == v["job_id"]]
        if not latest or latest[0]["status"] != "completed":
            problems.append("video %d: its latest job is %s" % (v["id"], latest and
                                                               latest[0]["status"]))
            continue
        r = json.loads(latest[0]["result"])
        meta = r["metadata"]
        expected[r["original_path"]] = v["size"]
        expected[r["proxy_path"]] = meta["proxy"]["file_size_bytes"]
        if r.get("thumbnail_path"):
            expected[r["thumbnail_path"]] = meta["thumbnail"]["file_size_bytes"]
        want = "videos/%d/j%d-%d/" % (v["id"], latest[0]["id"], latest[0]["lease_id"])
        if not r["proxy_path"].startswith(want):
            problems.append("video %d: the result names %s, not the keys of the lease that "
                            "completed it (%s)" % (v["id"], r["proxy_path"], want))
        results.append((v, latest[0], r))

    keys = set(k[len(a.prefix) + 1:] for k in so_s3.Lister(a.s3_port).list_bucket(a.prefix + "/"))
    for k, size in sorted(expected.items()):
        if k not in keys:
            problems.append("missing object %s" % k)
            continue
        req = urllib.request.Request(base + k, method="HEAD")
        with urllib.request.urlopen(req, timeout=30) as resp:
            got = int(resp.headers.get("Content-Length", -1))
        if size is not None and got != size:
            problems.append("object %s has %d bytes, the result says %s" % (k, got, size))
    orphans = sorted(keys - set(expected))
    for k in orphans:
        problems.append("orphan object %s" % k)

    for vid in [int(x) for x in a.deleted.split(",") if x]:
        if any(v["id"] == vid for v in videos) or vid in by_video:
            problems.append("deleted video %d still has rows" % vid)
        left = [k for k in keys if k.startswith("videos/%d/" % vid)]
        if left:
            problems.append("deleted video %d still has objects: %s" % (vid, left[:3]))

    rnd = random.Random(15)
    sample = rnd.sample(results, min(a.sample, len(results)))
    with tempfile.TemporaryDirectory() as tmp:
        for v, j, r in sample:
            meta = r["metadata"]
            path = os.path.join(tmp, "p.mp4")
            with urllib.request.urlopen(base + r["proxy_path"], timeout=30) as resp, \
                    open(path, "wb") as f:
                f.write(resp.read())
            p = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0",
                                "-show_entries", "stream=width,height:format=duration",
                                "-of", "json", path], capture_output=True, text=True,
                               timeout=30)
            try:
                info = json.loads(p.stdout)
                st = info["streams"][0]
                dur = float(info["format"]["duration"])
            except (ValueError, KeyError, IndexError):
                problems.append("video %d: ffprobe cannot read the proxy: %s"
                                % (v["id"], p.stderr.strip()[:200]))
                continue
            if (st["width"], st["height"]) != (meta["proxy"]["width"], meta["proxy"]["height"]):
                problems.append("video %d: the proxy is %dx%d, its metadata says %dx%d"
                                % (v["id"], st["width"], st["height"], meta["proxy"]["width"],
                                   meta["proxy"]["height"]))
            if abs(dur - meta["original"]["duration_seconds"]) > 0.5:
                problems.append("video %d: the proxy lasts %.2f s, the original %.2f s"
                                % (v["id"], dur, meta["original"]["duration_seconds"]))
            if r.get("thumbnail_path"):
                tp = os.path.join(tmp, "t.jpg")
                with urllib.request.urlopen(base + r["thumbnail_path"], timeout=30) as resp, \
                        open(tp, "wb") as f:
                    f.write(resp.read())
                p = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                                    "stream=codec_name", "-of", "csv=p=0", tp],
                                   capture_output=True, text=True, timeout=30)
                if p.stdout.strip() != "mjpeg":
                    problems.append("video %d: the thumbnail is not a JPEG (%s)"
                                    % (v["id"], (p.stdout + p.stderr).strip()[:200]))

    print(json.dumps({"videos": len(videos), "jobs": len(jobs),
                      "completed": sum(j["status"] == "completed" for j in jobs),
                      "objects": len(keys), "expected_objects": len(expected),
                      "orphans": len(orphans), "probed": len(sample),
                      "problems": len(problems)}))
    for p in problems[:50]:
        print("problem: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
