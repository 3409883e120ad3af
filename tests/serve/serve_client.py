#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A small client of `vidpipe serve` for its end-to-end tests (tests/serve/), stdlib only.

    serve_client.py --base URL [--token T] COMMAND ...

Commands (each prints one JSON object on stdout; exit 1 with one line on stderr on a fault):
  upload FILE [--name N] [--part-size B] [--drop-part K] [--options Q] [--sha-at-create]
      The resumable upload: create, PUT every part (part K, when given, is sent only half
      and its connection dropped, after the others), GET the upload and check that it lists
      exactly the parts received whole, resend only the missing ones, complete with the
      SHA-256. Prints {upload_id, video_id, job_id, parts_count, listed_after_drop,
      resent, create, complete}.
  create FILE [--name N] [--part-size B]     POST /api/v1/uploads; prints its answer
  put UPLOAD_ID FILE N [--part-size B] [--drop]  one part (--drop: half of it, then close)
  resume UPLOAD_ID FILE                      GET the upload, send the missing parts, complete
  complete UPLOAD_ID FILE [--sha256 HEX]     complete with the parts the upload lists
  wait JOB [--until terminal|STATE] [--timeout S]  poll GET /api/v1/jobs/JOB
  paginate [--limit N] [--status S] [--add FILE --add-count M]
      Page through GET /api/v1/videos; after the first page, upload M more videos (POST
      /api/v1/videos) so they are added while paging. Prints {ids, pages, added, cursors}.
  objects-check DIR
      Every file under DIR must be, byte for byte, the original, proxy or thumbnail that
      the API serves for a listed video. Prints what it matched; exit 1 naming the others.
  slowloris [--conns N] [--seconds S]
      N connections each send a request's headers one byte a second for S seconds; the
      main thread meanwhile times GET /healthz on fresh connections. Prints {requests,
      failures, max_latency_s, slow_answered} (slow_answered: slow connections the server
      answered or closed, e.g. with 408, before their headers were whole).
"""
import argparse
import hashlib
import http.client
import json
import os
import socket
import sys
import threading
import time
import urllib.parse


class Api:
    def __init__(self, base, token=None, timeout=30):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port or 80
        self.token = token
        self.timeout = timeout

    def conn(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def headers(self, extra=None):
        h = {}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        h.update(extra or {})
        return h

    def request(self, method, path, body=None, headers=None):
        """(status, headers, body bytes) on a fresh connection."""
        c = self.conn()
        try:
            c.request(method, path, body=body, headers=self.headers(headers))
            r = c.getresponse()
            data = r.read()
            return r.status, r.headers, data
        finally:
            c.close()

    def json(self, method, path, obj=None, want=200):
        body = None if obj is None else json.dumps(obj).encode()
        h = {"Content-Type": "application/json"} if body is not None else {}
        status, _, data = self.request(method, path, body, h)
        try:
            j = json.loads(data) if data else None
        except ValueError:
            j = None
        if want is not None and status != want:
            die("%s %s: HTTP %d, expected %d: %s" % (method, path, status, want,
                                                     data[:300].decode("utf-8", "replace")))
        return status, j


def die(msg):
    print("serve_client: " + msg, file=sys.stderr)
    sys.exit(1)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def part_bytes(path, n, part_size):
    with open(path, "rb") as f:
        f.seek((n - 1) * part_size)
        return f.read(part_size)


def create(api, path, name=None, part_size=None, sha_at_create=False, options=None):
    spec = {"filename": name or os.path.basename(path), "size": os.path.getsize(path)}
    if part_size:
        spec["part_size"] = part_size
    if sha_at_create:
        spec["sha256"] = sha256_file(path)
    q = "?" + options if options else ""
    _, j = api.json("POST", "/api/v1/uploads" + q, spec)
    for k in ("upload_id", "video_id", "part_size", "expires_at"):
        if k not in j:
            die("POST /api/v1/uploads: no %r in %s" % (k, j))
    return j


def parts_count(size, part_size):
    return max(1, (size + part_size - 1) // part_size)


def put_part(api, upload_id, path, n, part_size):
    data = part_bytes(path, n, part_size)
    status, _, body = api.request("PUT", "/api/v1/uploads/%s/parts/%d" % (upload_id, n), data,
                                  {"Content-Type": "application/octet-stream"})
    if status != 200:
        die("PUT part %d: HTTP %d: %s" % (n, status, body[:300].decode("utf-8", "replace")))
    j = json.loads(body)
    if j.get("part_number") != n or j.get("size") != len(data) or not j.get("etag"):
        die("PUT part %d answered %s (sent %d bytes)" % (n, j, len(data)))
    return j


def put_part_dropped(api, upload_id, path, n, part_size):
    """Send the headers and half of part n's body, then drop the connection, as a client
    whose network failed mid-part."""
    data = part_bytes(path, n, part_size)
    c = api.conn()
    c.putrequest("PUT", "/api/v1/uploads/%s/parts/%d" % (upload_id, n))
    for k, v in api.headers({"Content-Type": "application/octet-stream",
                             "Content-Length": str(len(data))}).items():
        c.putheader(k, v)
    c.endheaders()
    c.send(data[:len(data) // 2])
    time.sleep(0.3)
    c.sock.shutdown(socket.SHUT_RDWR)
    c.close()
    time.sleep(0.5)   # the server notices the closed connection and aborts the body


def get_upload(api, upload_id):
    _, j = api.json("GET", "/api/v1/uploads/%s" % upload_id)
    return j


def complete(api, upload_id, path, listed=None, sha=None):
    u = listed or get_upload(api, upload_id)
    parts = [{"part_number": p["part_number"], "etag": p["etag"]} for p in u["parts"]]
    status, j = api.json("POST", "/api/v1/uploads/%s/complete" % upload_id,
                         {"parts": parts, "sha256": sha or sha256_file(path)})
    if not isinstance(j, dict) or "video_id" not in j or "job_id" not in j:
        die("complete answered %s" % j)
    return j


def send_missing(api, upload_id, path):
    u = get_upload(api, upload_id)
    have = {p["part_number"] for p in u["parts"]}
    resent = []
    for n in range(1, parts_count(u["size"], u["part_size"]) + 1):
        if n not in have:
            put_part(api, upload_id, path, n, u["part_size"])
            resent.append(n)
    return u, resent


def cmd_upload(api, a):
    size = os.path.getsize(a.file)
    c = create(api, a.file, a.name, a.part_size, a.sha_at_create, a.options)
    ps = c["part_size"]
    if a.part_size and ps != a.part_size:
        die("asked part_size %d, got %d" % (a.part_size, ps))
    n_parts = parts_count(size, ps)
    if c.get("parts_count", n_parts) != n_parts:
        die("parts_count %s, expected %d" % (c.get("parts_count"), n_parts))
    for n in range(1, n_parts + 1):
        if n != a.drop_part:
            put_part(api, c["upload_id"], a.file, n, ps)
    listed = None
    if a.drop_part:
        put_part_dropped(api, c["upload_id"], a.file, a.drop_part, ps)
        u = get_upload(api, c["upload_id"])
        listed = [p["part_number"] for p in u["parts"]]
        want = [n for n in range(1, n_parts + 1) if n != a.drop_part]
        if listed != want:
            die("after the dropped part %d, the upload lists parts %s, expected %s"
                % (a.drop_part, listed, want))
        for p in u["parts"]:
            exp = min(ps, size - (p["part_number"] - 1) * ps)
            if p["size"] != exp:
                die("part %d listed with size %s, expected %d" % (p["part_number"], p["size"],
                                                                   exp))
    _, resent = send_missing(api, c["upload_id"], a.file)
    done = complete(api, c["upload_id"], a.file)
    print(json.dumps({"upload_id": c["upload_id"], "video_id": done["video_id"],
                      "job_id": done["job_id"], "parts_count": n_parts,
                      "listed_after_drop": listed, "resent": resent, "create": c,
                      "complete": done}))


def cmd_create(api, a):
    print(json.dumps(create(api, a.file, a.name, a.part_size)))


def cmd_put(api, a):
    ps = a.part_size or get_upload(api, a.upload_id)["part_size"]
    if a.drop:
        put_part_dropped(api, a.upload_id, a.file, a.n, ps)
        print(json.dumps({"dropped": a.n}))
    else:
        print(json.dumps(put_part(api, a.upload_id, a.file, a.n, ps)))


def cmd_resume(api, a):
    u, resent = send_missing(api, a.upload_id, a.file)
    done = complete(api, a.upload_id, a.file)
    print(json.dumps({"listed": [p["part_number"] for p in u["parts"]], "resent": resent,
                      "video_id": done["video_id"], "job_id": done["job_id"]}))


def cmd_complete(api, a):
    print(json.dumps(complete(api, a.upload_id, a.file, sha=a.sha256)))


TERMINAL = ("completed", "failed", "cancelled")


def cmd_wait(api, a):
    t_end = time.monotonic() + a.timeout
    j = None
    while True:
        status, j = api.json("GET", "/api/v1/jobs/%s" % a.job, want=None)
        if status != 200:
            die("GET /api/v1/jobs/%s: HTTP %d: %s" % (a.job, status, j))
        st = j.get("status")
        if (a.until == "terminal" and st in TERMINAL) or st == a.until:
            print(json.dumps(j))
            return
        if a.until != "terminal" and st in TERMINAL:
            print(json.dumps(j))
            die("job %s is %s, waited for %s" % (a.job, st, a.until))
        if time.monotonic() > t_end:
            print(json.dumps(j))
            die("job %s still %s after %.0f s (waited for %s)" % (a.job, st, a.timeout, a.until))
        time.sleep(0.1)


def upload_whole(api, path, name):
    with open(path, "rb") as f:
        data = f.read()
    status, _, body = api.request("POST", "/api/v1/videos?filename=" + urllib.parse.quote(name),
                                  data, {"Content-Type": "application/octet-stream"})
    if status != 200:
        die("POST /api/v1/videos?filename=%s: HTTP %d, expected 200: %s" % (name, status,
                                                                         body[:300]))
    return json.loads(body)


def cmd_paginate(api, a):
    ids, cursors, added = [], [], []
    cursor, pages = None, 0
    while True:
        q = {"limit": str(a.limit)}
        if a.status:
            q["status"] = a.status
        if cursor is not None:
            q["cursor"] = cursor
        _, j = api.json("GET", "/api/v1/videos?" + urllib.parse.urlencode(q))
        pages += 1
        if not isinstance(j.get("videos"), list) or "next_cursor" not in j:
            die("GET /api/v1/videos answered %s" % j)
        if len(j["videos"]) > a.limit:
            die("page %d has %d videos, limit %d" % (pages, len(j["videos"]), a.limit))
        ids += [v["video_id"] for v in j["videos"]]
        cursor = j["next_cursor"]
        cursors.append(cursor)
        if pages == 1 and a.add:
            for i in range(a.add_count):
                added.append(upload_whole(api, a.add, "added-%d.mp4" % i)["video_id"])
        if cursor is None:
            break
        if not isinstance(cursor, str) or not cursor:
            die("next_cursor is %r" % (cursor,))
        if pages > 10000:
            die("more than 10000 pages")
    print(json.dumps({"ids": ids, "pages": pages, "added": added, "cursors": cursors}))


def list_all(api):
    out, cursor = [], None
    while True:
        q = {"limit": "100"}
        if cursor:
            q["cursor"] = cursor
        _, j = api.json("GET", "/api/v1/videos?" + urllib.parse.urlencode(q))
        out += j["videos"]
        cursor = j["next_cursor"]
        if cursor is None:
            return out


def cmd_objects_check(api, a):
    served = {}
    for v in list_all(api):
        for kind in ("original", "proxy", "thumbnail"):
            status, _, data = api.request("GET", "/api/v1/videos/%s/%s" % (v["video_id"], kind))
            if status == 200:
                served[hashlib.sha256(data).hexdigest()] = "video %s %s" % (v["video_id"], kind)
    matched, stray = [], []
    for root, _, files in os.walk(a.dir):
        for f in files:
            p = os.path.join(root, f)
            h = sha256_file(p)
            if h in served:
                matched.append("%s = %s" % (os.path.relpath(p, a.dir), served[h]))
            else:
                stray.append("%s (%d bytes)" % (os.path.relpath(p, a.dir), os.path.getsize(p)))
    print(json.dumps({"matched": matched, "stray": stray}))
    if stray:
        die("; ".join(stray))


def cmd_slowloris(api, a):
    slow_answered = [0]
    lock = threading.Lock()
    stop = time.monotonic() + a.seconds
    req = ("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris\r\n"
           "X-Padding: " + "a" * 200 + "\r\n\r\n").encode()

    def slow():
        s = socket.create_connection((api.host, api.port), timeout=a.seconds + 5)
        try:
            for b in req:
                if time.monotonic() > stop:
                    return
                s.sendall(bytes([b]))
                time.sleep(1.0)
        except OSError:
            with lock:
                slow_answered[0] += 1
        finally:
            s.close()

    threads = [threading.Thread(target=slow, daemon=True) for _ in range(a.conns)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    lat, failures = [], []
    while time.monotonic() < stop:
        t0 = time.monotonic()
        try:
            c = http.client.HTTPConnection(api.host, api.port, timeout=5)
            c.request("GET", "/healthz", headers=api.headers())
            r = c.getresponse()
            r.read()
            c.close()
            if r.status != 200:
                failures.append("HTTP %d" % r.status)
        except OSError as e:
            failures.append(str(e))
        lat.append(time.monotonic() - t0)
        time.sleep(0.2)
    for t in threads:
        t.join(timeout=2)
    print(json.dumps({"requests": len(lat), "failures": failures,
                      "max_latency_s": round(max(lat), 3) if lat else None,
                      "slow_answered": slow_answered[0]}))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", required=True)
    p.add_argument("--token")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("upload")
    s.add_argument("file")
    s.add_argument("--name")
    s.add_argument("--part-size", type=int)
    s.add_argument("--drop-part", type=int)
    s.add_argument("--options")
    s.add_argument("--sha-at-create", action="store_true")
    s = sub.add_parser("create")
    s.add_argument("file")
    s.add_argument("--name")
    s.add_argument("--part-size", type=int)
    s = sub.add_parser("put")
    s.add_argument("upload_id")
    s.add_argument("file")
    s.add_argument("n", type=int)
    s.add_argument("--part-size", type=int)
    s.add_argument("--drop", action="store_true")
    s = sub.add_parser("resume")
    s.add_argument("upload_id")
    s.add_argument("file")
    s = sub.add_parser("complete")
    s.add_argument("upload_id")
    s.add_argument("file")
    s.add_argument("--sha256")
    s = sub.add_parser("wait")
    s.add_argument("job")
    s.add_argument("--until", default="terminal")
    s.add_argument("--timeout", type=float, default=40)
    s = sub.add_parser("paginate")
    s.add_argument("--limit", type=int, default=2)
    s.add_argument("--status")
    s.add_argument("--add")
    s.add_argument("--add-count", type=int, default=0)
    s = sub.add_parser("objects-check")
    s.add_argument("dir")
    s = sub.add_parser("slowloris")
    s.add_argument("--conns", type=int, default=20)
    s.add_argument("--seconds", type=float, default=8)
    a = p.parse_args()
    api = Api(a.base, a.token)
    try:
        globals()["cmd_" + a.cmd.replace("-", "_")](api, a)
    except (OSError, http.client.HTTPException) as e:
        die("%s: %s" % (a.base, e))


if __name__ == "__main__":
    main()
