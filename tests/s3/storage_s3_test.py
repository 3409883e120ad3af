#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The S3 storage (src/service/storage_s3.c) against a real S3 server: s3rver (npm, cached in
~/.cache/vidpipe-npm, never in the tree) on a loopback port with a temporary folder, behind
tests/s3/s3_proxy.py, which checks every request's SigV4 signature with the 'aws4' npm
package and injects 503s, dropped downloads and dropped uploads. Runs the C side
(tests/unit/test_storage_s3.c, given as argv[1]) and then checks what the proxy saw and what
is left in the bucket. Exit 77 only when npm cannot install s3rver or aws4.

usage: storage_s3_test.py TEST_STORAGE_S3
"""
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3_proxy  # noqa: E402

NPM_DIR = os.environ.get("VP_NPM_DIR") or os.path.expanduser("~/.cache/vidpipe-npm")
BUCKET = "vidpipe-test"
KEY = SECRET = "S3RVER"         # s3rver's own account (it does not check signatures)


def npm_install():
    s3rver = os.path.join(NPM_DIR, "node_modules", "s3rver", "bin", "s3rver.js")
    aws4 = os.path.join(NPM_DIR, "node_modules", "aws4", "aws4.js")
    if os.path.exists(s3rver) and os.path.exists(aws4):
        return s3rver
    if not shutil.which("npm") or not shutil.which("node"):
        return None
    os.makedirs(NPM_DIR, exist_ok=True)
    with open(os.path.join(NPM_DIR, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (os.path.exists(s3rver) and os.path.exists(aws4)):
            subprocess.run(["npm", "install", "--prefix", NPM_DIR, "--no-audit", "--no-fund",
                            "--silent", "s3rver@3", "aws4@1"], timeout=300,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return s3rver if os.path.exists(s3rver) and os.path.exists(aws4) else None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, seconds=20):
    end = time.time() + seconds
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def list_bucket(port, prefix):
    """Every key under prefix, straight from s3rver (not through vidpipe)."""
    keys, token = [], None
    while True:
        q = "list-type=2&prefix=" + urllib.parse.quote(prefix, safe="")
        if token:
            q += "&continuation-token=" + urllib.parse.quote(token, safe="")
        with urllib.request.urlopen("http://127.0.0.1:%d/%s?%s" % (port, BUCKET, q)) as r:
            root = ET.fromstring(r.read())
        ns = {"s": root.tag.split("}")[0].strip("{")} if root.tag.startswith("{") else {}
        pre = "s:" if ns else ""
        keys += [e.text for e in root.findall("%sContents/%sKey" % (pre, pre), ns)]
        t = root.find("%sNextContinuationToken" % pre, ns)
        if root.findtext("%sIsTruncated" % pre, "false", ns) != "true" or t is None:
            return keys
        token = t.text


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    s3rver = npm_install()
    if not s3rver:
        print("skipped: npm could not install s3rver and aws4 into %s" % NPM_DIR,
              file=sys.stderr)
        return 77
    work = tempfile.mkdtemp(prefix="vp-s3-")
    s3_port, proxy_port = free_port(), free_port()
    server = proxy = verifier = None
    ok = False
    try:
        os.makedirs(os.path.join(work, "s3"))
        os.makedirs(os.path.join(work, "tmp"))
        server = subprocess.Popen(["node", s3rver, "-d", os.path.join(work, "s3"), "-a",
                                   "127.0.0.1", "-p", str(s3_port),
                                   "--configure-bucket", BUCKET],
                                  stdout=subprocess.DEVNULL, stderr=open(
                                      os.path.join(work, "s3rver.log"), "w"))
        if not wait_port(s3_port, server):
            print("s3rver did not start (%s)" % os.path.join(work, "s3rver.log"),
                  file=sys.stderr)
            return 1
        verifier = s3_proxy.Verifier(NPM_DIR, KEY, SECRET)
        proxy = s3_proxy.Proxy(proxy_port, s3_port, verifier)
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        ctl = "http://127.0.0.1:%d/__ctl" % proxy_port

        # The verifier can say no: a request signed with another secret is refused.
        bad = urllib.request.Request("http://127.0.0.1:%d/%s?list-type=2" % (proxy_port, BUCKET))
        bad.add_header("x-amz-date", "20261129T040000Z")
        bad.add_header("x-amz-content-sha256",
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        bad.add_header("Authorization", "AWS4-HMAC-SHA256 Credential=S3RVER/20261129/us-east-1/"
                       "s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
                       "Signature=" + "0" * 64)
        try:
            urllib.request.urlopen(bad)
            print("FAIL: a request with a wrong signature was let through", file=sys.stderr)
            return 1
        except urllib.error.HTTPError as e:
            if e.code != 403:
                print("FAIL: a wrong signature got %d, not 403" % e.code, file=sys.stderr)
                return 1
        with urllib.request.urlopen(ctl + "/stats") as r:
            if json.load(r)["bad_signatures"] != 1:
                print("FAIL: the proxy did not count the wrong signature", file=sys.stderr)
                return 1
        urllib.request.urlopen(ctl + "/reset").read()

        env = dict(os.environ)
        env.update({
            "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_REGION": "us-east-1",
            "VP_S3_SPEC": "s3://%s/pfx?endpoint=http://127.0.0.1:%d&backoff_ms=10&timeout=10"
                          "&multipart_above=6M&part_size=5M&tmp=%s"
                          % (BUCKET, proxy_port, os.path.join(work, "tmp")),
            "VP_S3_CTL": ctl,
            "VP_S3_WORK": work,
        })
        env.pop("AWS_SESSION_TOKEN", None)
        env.pop("AWS_ENDPOINT_URL", None)
        env.pop("AWS_ENDPOINT_URL_S3", None)
        rc = subprocess.run([sys.argv[1]], env=env, timeout=100).returncode
        with urllib.request.urlopen(ctl + "/stats") as r:
            stats = json.load(r)
        print("proxy: %s" % json.dumps({k: v for k, v in stats.items() if k != "bad"}),
              file=sys.stderr)
        for b in stats["bad"]:
            print("bad request: " + b, file=sys.stderr)
        if rc != 0:
            print("FAIL: test_storage_s3 exited %d (VP_KEEP=1 keeps %s and s3rver.log)"
                  % (rc, work), file=sys.stderr)
            return 1
        failures = []
        if stats["bad_signatures"] or stats["bad_bodies"]:
            failures.append("requests with a bad signature or body: %d + %d"
                            % (stats["bad_signatures"], stats["bad_bodies"]))
        if stats["verified"] < 50:
            failures.append("only %d requests verified" % stats["verified"])
        left = list_bucket(s3_port, "pfx/")
        if left:
            failures.append("objects left in the bucket: %s" % left[:10])
        if os.listdir(os.path.join(work, "tmp")):
            failures.append("files left in the scratch folder: %s"
                            % os.listdir(os.path.join(work, "tmp")))
        for f in failures:
            print("FAIL: " + f, file=sys.stderr)
        ok = not failures
        return 0 if ok else 1
    finally:
        if proxy:
            proxy.shutdown()
            proxy.server_close()
        if verifier:
            verifier.close()
        if server and server.poll() is None:
            os.kill(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(server.pid, signal.SIGKILL)
                server.wait()
        if ok or not os.environ.get("VP_KEEP"):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
