#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`vidpipe serve --storage s3://...` end to end against a real s3rver behind the checking,
fault-injecting proxy (tests/s3/s3_env.py): a resumable upload in 3 parts, interrupted and
resumed, a wrong checksum refused, then completed; the worker fetches the original and
stores proxy and thumbnail while S3 answers 503 to every 4th request, cuts every 3rd
download halfway and every 4th upload; the media are served (302 to presigned URLs,
fetched again where a fault cut them); deleting the video leaves
nothing in the bucket; no request of vidpipe's has a signature the 'aws4' package disagrees
with. Exit 77 only when npm cannot install s3rver or aws4.

usage: serve_s3_test.py   (VIDPIPE: the vidpipe executable)
"""
import hashlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3_env  # noqa: E402


class Api:
    def __init__(self, port):
        self.base = "http://127.0.0.1:%d/api/v1" % port

    def call(self, method, path, body=None, as_json=True):
        req = urllib.request.Request(self.base + path, data=body, method=method)
        if as_json and body is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def media(self, path):
        """GET a video's media: a 302 to a presigned URL of the proxy (urllib follows it),
        fetched again, as a client would, when the proxy's faults cut or refuse it."""
        for _ in range(5):
            try:
                st, body = self.call("GET", path)
            except (http.client.HTTPException, OSError):
                continue
            if st < 500:
                return st, body
        return st, body

    def json(self, method, path, obj=None):
        status, body = self.call(method, path, None if obj is None else json.dumps(obj).encode())
        return status, json.loads(body) if body else None


def main():
    vidpipe = os.environ.get("VIDPIPE")
    if not vidpipe:
        print(__doc__, file=sys.stderr)
        return 2
    if not s3_env.npm_install():
        print("skipped: npm could not install s3rver and aws4 into %s" % s3_env.NPM_DIR,
              file=sys.stderr)
        return 77
    work = tempfile.mkdtemp(prefix="vp-serve-s3-")
    serve = None
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)
            print("FAIL: " + what, file=sys.stderr)
        return cond

    try:
        media = os.path.join(work, "in.avi")
        # raw video: a 4 s file of 11.5 MB, 3 parts of S3's smallest, 5 MiB
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                        "testsrc=size=320x240:rate=25:duration=4", "-f", "lavfi", "-i",
                        "sine=duration=4", "-c:v", "rawvideo", "-pix_fmt", "yuv420p",
                        "-c:a", "pcm_s16le", "-shortest", media], check=True, timeout=60)
        data = open(media, "rb").read()
        os.makedirs(os.path.join(work, "tmp"))
        with s3_env.S3Env(work) as s3:
            why = s3.check_refuses_bad_signature()
            if why:
                print("FAIL: " + why, file=sys.stderr)
                return 1
            port = s3_env.free_port()
            spec = "s3://%s/svc?endpoint=%s&backoff_ms=20&timeout=10" % (s3_env.BUCKET,
                                                                        s3.endpoint)
            serve = subprocess.Popen([vidpipe, "serve", "--data", os.path.join(work, "data"),
                                      "--listen", "127.0.0.1:%d" % port, "--workers", "1",
                                      "--tmp", os.path.join(work, "tmp"), "--storage", spec],
                                     env=s3.env(), stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(work, "serve.log"), "w"))
            if not check(s3_env.wait_port(port, serve), "vidpipe serve did not start (%s)"
                         % open(os.path.join(work, "serve.log")).read().strip()):
                return 1
            api = Api(port)
            s3.faults(every503=4, drop_get=3, drop_put=4)

            # a resumable upload: parts 1 and 3, the client loses its connection, asks
            # what is there, sends part 2
            st, up = api.json("POST", "/uploads", {"filename": "in.avi", "size": len(data),
                                                   "part_size": 5 << 20})
            check(st == 201 or st == 200, "initiate: %s %s" % (st, up))
            n, ps = up["parts_count"], up["part_size"]
            check(n == 3, "%d parts of a %d-byte file, not 3" % (n, len(data)))
            for i in (1, n):
                st, _ = api.call("PUT", "/uploads/%s/parts/%d" % (up["upload_id"], i),
                                 data[(i - 1) * ps:i * ps], as_json=False)
                check(st == 200, "part %d: %d" % (i, st))
            st, u = api.json("GET", "/uploads/%s" % up["upload_id"])
            have = sorted(p["part_number"] for p in u["parts"])
            check(have == [1, n], "parts listed after the interruption: %s" % have)
            for i in range(1, n + 1):
                if i not in have:
                    st, _ = api.call("PUT", "/uploads/%s/parts/%d" % (up["upload_id"], i),
                                     data[(i - 1) * ps:i * ps], as_json=False)
                    check(st == 200, "part %d: %d" % (i, st))
            st, u = api.json("GET", "/uploads/%s" % up["upload_id"])
            parts = [{"part_number": p["part_number"], "etag": p["etag"]} for p in u["parts"]]
            st, bad = api.json("POST", "/uploads/%s/complete" % up["upload_id"],
                               {"parts": parts, "sha256": "0" * 64})
            check(st == 422 and "SHA-256" in bad["error"]["message"],
                  "a wrong checksum: %s %s" % (st, bad))
            st, done = api.json("POST", "/uploads/%s/complete" % up["upload_id"],
                                {"parts": parts, "sha256": hashlib.sha256(data).hexdigest()})
            check(st == 200 or st == 201, "complete: %s %s" % (st, done))

            job = None
            for _ in range(120):
                st, job = api.json("GET", "/jobs/%d" % done["job_id"])
                if job["status"] in ("completed", "failed"):
                    break
                time.sleep(0.5)
            check(job["status"] == "completed", "the job: %s" % json.dumps(job))
            st, original = api.media("/videos/%d/original" % done["video_id"])
            check(st == 200 and original == data, "the original served is not the upload")
            st, proxy = api.media("/videos/%d/proxy" % done["video_id"])
            check(st == 200 and len(proxy) > 1000, "the proxy: %d, %d bytes" % (st, len(proxy)))
            pp = os.path.join(work, "proxy.mp4")
            open(pp, "wb").write(proxy)
            probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                                    "format=duration", "-of", "csv=p=0", pp],
                                   capture_output=True, text=True, timeout=30)
            dur = float(probe.stdout.strip() or 0)
            check(3.5 < dur < 4.5, "the proxy lasts %.2f s, not 4" % dur)
            keys = s3.list_bucket("svc/")
            check(any(k.endswith("/proxy.mp4") for k in keys) and
                  any(k.endswith("/thumbnail.jpg") for k in keys) and
                  "svc/videos/%d/original" % done["video_id"] in keys,
                  "objects in the bucket: %s" % keys)
            check(not [k for k in keys if "/.uploads/" in k], "upload parts left: %s" % keys)

            st, _ = api.call("DELETE", "/videos/%d" % done["video_id"])
            check(st == 200, "delete: %d" % st)
            left = s3.list_bucket("svc/")
            check(not left, "objects left after the delete: %s" % left)
            s3.faults(every503=0, drop_get=0, drop_put=0)

            stats = s3.report(sys.stderr)
            check(stats["bad_signatures"] == 0 and stats["bad_bodies"] == 0,
                  "requests with a bad signature or body")
            check(stats["injected_503"] >= 3, "only %d 503s" % stats["injected_503"])
            check(stats["dropped_get"] >= 1, "no download was cut")
            check(stats["dropped_put"] >= 1, "no upload was cut")
            serve.send_signal(signal.SIGTERM)
            check(serve.wait(timeout=60) == 0, "vidpipe serve exited %s" % serve.returncode)
            serve = None
        return 1 if failures else 0
    finally:
        if serve and serve.poll() is None:
            serve.kill()
            serve.wait()
        if failures and os.path.exists(os.path.join(work, "serve.log")):
            sys.stderr.write(open(os.path.join(work, "serve.log")).read()[-3000:])
        if not failures or not os.environ.get("VP_KEEP"):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
