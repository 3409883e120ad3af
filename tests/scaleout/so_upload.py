#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A resumable upload in S3 mode, interrupted and resumed, as a client on a bad network
would send it (tests/scaleout/so_s3faults.sh):

    so_upload.py BASE FILE PART_SIZE

POST /uploads; the first part PUT to its presigned URL but cut mid-body (the connection
closed after half of it); the other parts PUT whole; fresh URLs (GET /uploads/ID?urls=1)
for the parts without an ETag (the client keeps S3's answers: the API lists only parts sent
through it), which are sent; complete with the parts' ETags and the file's SHA-256. S3
answering 503 or dropping the connection (the proxy's faults) is retried with backoff, 8
times at most, as a client should. Prints
{"video_id", "job_id", "had_after_cut", "resent", "client_retries"}; exit 1 on failure.
"""
import hashlib
import http.client
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

retries = 0


def api(base, method, path, obj=None):
    data = None if obj is None else json.dumps(obj).encode()
    req = urllib.request.Request(base + "/api/v1" + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def put(url, body, cut=False):
    """PUT body to a presigned URL; the ETag, or None when cut. Retries 5xx and drops."""
    global retries
    u = urllib.parse.urlsplit(url)
    for attempt in range(9):
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        try:
            c.putrequest("PUT", u.path + "?" + u.query, skip_accept_encoding=True)
            c.putheader("Content-Length", str(len(body)))
            c.endheaders()
            if cut:
                c.send(body[:len(body) // 2])
                c.sock.shutdown(socket.SHUT_RDWR)
                return None
            c.send(body)
            r = c.getresponse()
            r.read()
            if r.status == 200:
                return r.getheader("ETag").strip('"')
            if r.status < 500:
                raise SystemExit("so_upload: PUT part: HTTP %d" % r.status)
        except (OSError, http.client.HTTPException):
            pass
        finally:
            c.close()
        retries += 1
        time.sleep(0.05 * 2 ** attempt)
    raise SystemExit("so_upload: PUT part: no success in 9 tries")


def main():
    base, path, part_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    data = open(path, "rb").read()
    st, up = api(base, "POST", "/uploads", {"filename": os.path.basename(path),
                                            "size": len(data), "part_size": part_size})
    if st not in (200, 201) or "parts" not in up:
        raise SystemExit("so_upload: initiate: %s %s" % (st, up))
    ps, uid = up["part_size"], up["upload_id"]
    etags = {}
    for p in up["parts"]:
        n = p["part_number"]
        body = data[(n - 1) * ps:n * ps]
        if n == 1:
            put(p["url"], body, cut=True)
        else:
            etags[n] = put(p["url"], body)
    had = sorted(etags)
    st, fresh = api(base, "GET", "/uploads/%s?urls=1" % uid)
    if st != 200:
        raise SystemExit("so_upload: GET upload URLs: %s %s" % (st, fresh))
    resent = []
    for p in fresh["parts"]:
        n = p["part_number"]
        if n not in etags:
            etags[n] = put(p["url"], data[(n - 1) * ps:n * ps])
            resent.append(n)
    parts = [{"part_number": n, "etag": e} for n, e in sorted(etags.items())]
    st, done = api(base, "POST", "/uploads/%s/complete" % uid,
                   {"parts": parts, "sha256": hashlib.sha256(data).hexdigest()})
    if st not in (200, 201):
        raise SystemExit("so_upload: complete: %s %s" % (st, done))
    print(json.dumps({"video_id": done["video_id"], "job_id": done["job_id"],
                      "had_after_cut": had, "resent": resent,
                      "client_retries": retries}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
