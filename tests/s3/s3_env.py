# SPDX-License-Identifier: LGPL-2.1-or-later
"""A real S3 server for vidpipe's tests: s3rver (npm, installed into ~/.cache/vidpipe-npm,
never into the tree) on a loopback port with a temporary folder, behind s3_proxy.Proxy
(independent SigV4 checks with the 'aws4' npm package, injected faults). Stopped by PID.

    with S3Env(work_dir) as env:      # env is None-safe: S3Env.available() first
        env.endpoint                   # the proxy's URL: give this to vidpipe
        env.faults(every503=3)         # see s3_proxy.py
        env.stats()                    # the proxy's counters
        env.list_bucket("prefix/")     # keys, straight from s3rver
"""
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import s3_proxy

NPM_DIR = os.environ.get("VP_NPM_DIR") or os.path.expanduser("~/.cache/vidpipe-npm")
BUCKET = "vidpipe-test"
KEY = SECRET = "S3RVER"         # s3rver's own account (it does not check signatures)


def npm_install():
    """The path of s3rver's CLI, installing s3rver and aws4 once; None when npm cannot."""
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


class S3Env:
    def __init__(self, work):
        self.work = work
        self.server = self.proxy = self.verifier = None
        self.s3_port, self.proxy_port = free_port(), free_port()
        self.endpoint = "http://127.0.0.1:%d" % self.proxy_port
        self.ctl = self.endpoint + "/__ctl"

    def __enter__(self):
        s3rver = npm_install()
        if not s3rver:
            raise RuntimeError("npm could not install s3rver and aws4 into " + NPM_DIR)
        os.makedirs(os.path.join(self.work, "s3"), exist_ok=True)
        self.log = os.path.join(self.work, "s3rver.log")
        self.server = subprocess.Popen(
            ["node", s3rver, "-d", os.path.join(self.work, "s3"), "-a", "127.0.0.1", "-p",
             str(self.s3_port), "--configure-bucket", BUCKET],
            stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        if not wait_port(self.s3_port, self.server):
            self.close()
            raise OSError("s3rver did not start (%s)" % self.log)
        self.verifier = s3_proxy.Verifier(NPM_DIR, KEY, SECRET)
        self.proxy = s3_proxy.Proxy(self.proxy_port, self.s3_port, self.verifier)
        threading.Thread(target=self.proxy.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.proxy:
            self.proxy.shutdown()
            self.proxy.server_close()
            self.proxy = None
        if self.verifier:
            self.verifier.close()
            self.verifier = None
        if self.server and self.server.poll() is None:
            os.kill(self.server.pid, signal.SIGTERM)
            try:
                self.server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.server.pid, signal.SIGKILL)
                self.server.wait()
        self.server = None

    def env(self):
        """What vidpipe needs in its environment (and nothing that would point elsewhere)."""
        e = dict(os.environ, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET,
                 AWS_REGION="us-east-1")
        for k in ("AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
                  "AWS_PROFILE"):
            e.pop(k, None)
        return e

    def faults(self, **kw):
        q = urllib.parse.urlencode(kw)
        urllib.request.urlopen(self.ctl + "/faults?" + q).read()

    def reset(self):
        urllib.request.urlopen(self.ctl + "/reset").read()

    def stats(self):
        with urllib.request.urlopen(self.ctl + "/stats") as r:
            return json.load(r)

    def check_refuses_bad_signature(self):
        """The verifier can say no: a request signed with another secret is refused (403)
        and counted. Returns None, or what went wrong."""
        bad = urllib.request.Request("%s/%s?list-type=2" % (self.endpoint, BUCKET))
        bad.add_header("x-amz-date", time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
        bad.add_header("x-amz-content-sha256",
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        bad.add_header("Authorization", "AWS4-HMAC-SHA256 Credential=%s/%s/us-east-1/s3/"
                       "aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
                       "Signature=%s" % (KEY, time.strftime("%Y%m%d", time.gmtime()), "0" * 64))
        before = self.stats()["bad_signatures"]
        try:
            urllib.request.urlopen(bad)
            return "a request with a wrong signature was let through"
        except urllib.error.HTTPError as e:
            if e.code != 403:
                return "a wrong signature got %d, not 403" % e.code
        if self.stats()["bad_signatures"] != before + 1:
            return "the proxy did not count the wrong signature"
        self.reset()
        return None

    def list_bucket(self, prefix):
        """Every key under prefix, straight from s3rver (not through vidpipe)."""
        keys, token = [], None
        while True:
            q = "list-type=2&prefix=" + urllib.parse.quote(prefix, safe="")
            if token:
                q += "&continuation-token=" + urllib.parse.quote(token, safe="")
            with urllib.request.urlopen("http://127.0.0.1:%d/%s?%s"
                                        % (self.s3_port, BUCKET, q)) as r:
                root = ET.fromstring(r.read())
            ns = {"s": root.tag.split("}")[0].strip("{")} if root.tag.startswith("{") else {}
            pre = "s:" if ns else ""
            keys += [e.text for e in root.findall("%sContents/%sKey" % (pre, pre), ns)]
            t = root.find("%sNextContinuationToken" % pre, ns)
            if root.findtext("%sIsTruncated" % pre, "false", ns) != "true" or t is None:
                return keys
            token = t.text

    def report(self, out):
        st = self.stats()
        print("proxy: %s" % json.dumps({k: v for k, v in st.items() if k != "bad"}), file=out)
        for b in st["bad"]:
            print("bad request: " + b, file=out)
        return st
