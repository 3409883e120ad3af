#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A fault-injecting HTTP proxy in front of an S3 server (s3rver) for vidpipe's S3 tests.

Every request is checked before it is forwarded: its SigV4 signature by an independent
implementation (the 'aws4' npm package, through tests/s3/sigv4_verify.js), Content-MD5 and a
signed x-amz-content-sha256 against the body. A request that fails a check is counted and
answered 403/400, so the client sees it fail too. Faults, set through /__ctl/faults?...:
  every503=N    answer 503 SlowDown to every Nth request (after reading its body)
  drop_get=N    cut every Nth GET answer with a body halfway through and close the link
  drop_put=N    read half of every Nth PUT body, then close the link without an answer
  fail_next=S   answer the next request with status S (a 4xx: must not be retried)
  stall_next=T  hold the next request T seconds before it is answered (a timeout)
It also does what S3 does and s3rver does not: CompleteMultipartUpload is refused
(400 InvalidPart) when a part's ETag is not the one UploadPart answered, and a PUT with
If-None-Match: * of a key that exists is refused (412 PreconditionFailed).
/__ctl/stats gives the counters as JSON, /__ctl/reset zeroes them and the faults.
"""
import base64
import hashlib
import http.client
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
       "upgrade", "expect"}


class Verifier:
    """One node process running sigv4_verify.js; one request at a time."""

    def __init__(self, npm_dir, key, secret):
        env = dict(os.environ, VP_NPM_DIR=npm_dir, VP_S3_KEY=key, VP_S3_SECRET=secret)
        here = os.path.dirname(os.path.abspath(__file__))
        self.proc = subprocess.Popen(["node", os.path.join(here, "sigv4_verify.js")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                     text=True)
        self.lock = threading.Lock()

    def check(self, method, target, headers):
        line = json.dumps({"method": method, "target": target, "headers": headers})
        with self.lock:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
            answer = self.proc.stdout.readline()
        if not answer:
            return "the verifier died"
        r = json.loads(answer)
        return None if r["ok"] else r["why"]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def s3_error(code, message):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
            '</Error>' % (code, message)).encode()


class Proxy(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, listen_port, upstream_port, verifier):
        super().__init__(("127.0.0.1", listen_port), Handler)
        self.upstream_port = upstream_port
        self.verifier = verifier
        self.lock = threading.Lock()
        self.conditional = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.faults = {"every503": 0, "drop_get": 0, "drop_put": 0, "fail_next": 0,
                           "stall_next": 0}
            self.stats = {"requests": 0, "verified": 0, "bad_signatures": 0, "bad_bodies": 0,
                          "injected_503": 0, "dropped_get": 0, "dropped_put": 0,
                          "injected_status": 0, "stalled": 0, "range_requests": 0, "presigned": 0,
                          "invalid_part": 0, "precondition_failed": 0, "methods": {},
                          "bad": []}
            self.part_etags = {}
            self.n_all = self.n_get = self.n_put = 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if os.environ.get("VP_S3_PROXY_LOG"):
            sys.stderr.write("proxy: " + fmt % args + "\n")

    def reply(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def control(self):
        srv = self.server
        u = urllib.parse.urlsplit(self.path)
        if u.path == "/__ctl/faults":
            with srv.lock:
                for k, v in urllib.parse.parse_qsl(u.query):
                    srv.faults[k] = int(v)
            body = json.dumps(srv.faults).encode()
        elif u.path == "/__ctl/reset":
            srv.reset()
            body = b"{}"
        else:
            with srv.lock:
                body = json.dumps(srv.stats).encode()
        self.reply(200, body, [("Content-Type", "application/json")])

    def handle_any(self):
        if self.path.startswith("/__ctl/"):
            return self.control()
        srv = self.server
        length = int(self.headers.get("Content-Length") or 0)
        with srv.lock:
            srv.stats["requests"] += 1
            srv.stats["methods"][self.command] = srv.stats["methods"].get(self.command, 0) + 1
            srv.n_all += 1
            n_all = srv.n_all
            if self.command == "PUT" and length:
                srv.n_put += 1
            n_put = srv.n_put
            f = dict(srv.faults)
            if f["fail_next"]:
                srv.faults["fail_next"] = 0
            if f["stall_next"]:
                srv.faults["stall_next"] = 0
        if f["drop_put"] and self.command == "PUT" and length > 1 and n_put % f["drop_put"] == 0:
            self.rfile.read(length // 2)
            with srv.lock:
                srv.stats["dropped_put"] += 1
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        why = srv.verifier.check(self.command, self.path, headers)
        if "x-amz-signature=" in self.path.lower():
            with srv.lock:
                srv.stats["presigned"] += 1
        if why:
            with srv.lock:
                srv.stats["bad_signatures"] += 1
                srv.stats["bad"].append("%s %s: %s" % (self.command, self.path, why))
            return self.reply(403, s3_error("SignatureDoesNotMatch", "proxy: " + why))
        md5 = headers.get("content-md5")
        sha = headers.get("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
        bad_body = None
        if md5 and base64.b64encode(hashlib.md5(body).digest()).decode() != md5:
            bad_body = "Content-MD5 does not match the body"
        elif sha != "UNSIGNED-PAYLOAD" and hashlib.sha256(body).hexdigest() != sha:
            bad_body = "x-amz-content-sha256 does not match the body"
        if bad_body:
            with srv.lock:
                srv.stats["bad_bodies"] += 1
                srv.stats["bad"].append("%s %s: %s" % (self.command, self.path, bad_body))
            return self.reply(400, s3_error("BadDigest", "proxy: " + bad_body))
        with srv.lock:
            srv.stats["verified"] += 1
            if "range" in headers:
                srv.stats["range_requests"] += 1
        if f["stall_next"]:
            with srv.lock:
                srv.stats["stalled"] += 1
            time.sleep(f["stall_next"])
            self.close_connection = True
            try:
                self.reply(503, s3_error("SlowDown", "proxy: stalled"))
            except OSError:
                pass                # the client gave up: that was the point
            return
        if f["fail_next"]:
            with srv.lock:
                srv.stats["injected_status"] += 1
            return self.reply(f["fail_next"], s3_error("InvalidRequest", "proxy: injected"))
        if f["every503"] and n_all % f["every503"] == 0:
            with srv.lock:
                srv.stats["injected_503"] += 1
            return self.reply(503, s3_error("SlowDown", "proxy: injected"))

        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query,
                                            keep_blank_values=True))
        if self.command == "POST" and "uploadId" in query:
            wrong = self.wrong_parts(query["uploadId"], body)
            if wrong:
                with srv.lock:
                    srv.stats["invalid_part"] += 1
                return self.reply(400, s3_error("InvalidPart", "proxy: " + wrong))

        fwd = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        fwd["Content-Length"] = str(len(body))
        if self.command == "PUT" and headers.get("if-none-match") == "*":
            with srv.conditional:       # the check and the write as one
                up = http.client.HTTPConnection("127.0.0.1", srv.upstream_port, timeout=60)
                up.request("HEAD", urllib.parse.urlsplit(self.path).path)
                exists = up.getresponse().status == 200
                up.close()
                if exists:
                    with srv.lock:
                        srv.stats["precondition_failed"] += 1
                    return self.reply(412, s3_error("PreconditionFailed", "proxy: exists"))
                r, data = self.forward(fwd, body)
        else:
            r, data = self.forward(fwd, body)
        out = [(k, v) for k, v in r.getheaders()
               if k.lower() not in HOP and k.lower() != "content-length"]
        if self.command == "PUT" and "uploadId" in query and r.status == 200:
            with srv.lock:
                srv.part_etags[(query["uploadId"], query.get("partNumber"))] = \
                    (r.getheader("ETag") or "").strip('"')
        if self.command == "GET" and len(data) > 1 and 200 <= r.status < 300:
            with srv.lock:
                srv.n_get += 1
                cut = f["drop_get"] and srv.n_get % f["drop_get"] == 0
                if cut:
                    srv.stats["dropped_get"] += 1
            if cut:
                self.send_response(r.status)
                for k, v in out:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[:len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
        self.reply(r.status, data, out)

    def forward(self, fwd, body):
        up = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=60)
        up.request(self.command, self.path, body=body, headers=fwd)
        r = up.getresponse()
        data = r.read()
        up.close()
        return r, data

    def wrong_parts(self, upload_id, body):
        """Why CompleteMultipartUpload's part list is not what UploadPart answered, or None."""
        import xml.etree.ElementTree as ET
        try:
            root = ET.fromstring(body)
        except ET.ParseError as e:
            return "unreadable part list (%s)" % e
        for part in root.iter():
            if not part.tag.endswith("Part"):
                continue
            number = etag = None
            for c in part:
                if c.tag.endswith("PartNumber"):
                    number = c.text
                elif c.tag.endswith("ETag"):
                    etag = (c.text or "").strip('"')
            with self.server.lock:
                want = self.server.part_etags.get((upload_id, number))
            if want != etag:
                return "part %s has ETag %s, UploadPart answered %s" % (number, etag, want)
        return None

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream", type=int, required=True)
    ap.add_argument("--npm-dir", default=os.path.expanduser("~/.cache/vidpipe-npm"))
    ap.add_argument("--key", default=os.environ.get("AWS_ACCESS_KEY_ID", "S3RVER"))
    ap.add_argument("--secret", default=os.environ.get("AWS_SECRET_ACCESS_KEY", "S3RVER"))
    a = ap.parse_args()
    v = Verifier(a.npm_dir, a.key, a.secret)
    Proxy(a.port, a.upstream, v).serve_forever()


if __name__ == "__main__":
    main()
