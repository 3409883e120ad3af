#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The S3 side of the scale-out tests (tests/scaleout/scaleout_lib.sh): tests/s3/s3_env.py's
s3rver behind its signature-checking, fault-injecting proxy, kept up as a process of its own
so that shell tests can start several vidpipe processes against it.

    so_s3.py serve DIR     start s3rver (folder DIR/s3) and the proxy; write DIR/s3.env
                           (S3_ENDPOINT=the proxy's URL, S3_PORT=s3rver's own port) once
                           both answer; run until SIGTERM, then stop both. Exit 77 when npm
                           cannot install s3rver and aws4.
    so_s3.py list PORT PREFIX   every key under PREFIX, one a line, straight from s3rver
    so_s3.py stats ENDPOINT     the proxy's counters (JSON)

Faults are switched at run time through the proxy: GET ENDPOINT/__ctl/faults?every503=4...
"""
import json
import os
import signal
import sys
import threading
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "s3"))
import s3_env  # noqa: E402


class Lister(s3_env.S3Env):
    """list_bucket() without starting anything: s3rver is already on PORT."""

    def __init__(self, port):
        self.s3_port = port


def serve(work):
    if not s3_env.npm_install():
        print("so_s3: npm could not install s3rver and aws4 into %s" % s3_env.NPM_DIR,
              file=sys.stderr)
        return 77
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    signal.signal(signal.SIGINT, lambda *a: done.set())
    with s3_env.S3Env(work) as env:
        why = env.check_refuses_bad_signature()
        if why:
            print("so_s3: " + why, file=sys.stderr)
            return 1
        tmp = os.path.join(work, "s3.env.tmp")
        with open(tmp, "w") as f:
            f.write("S3_ENDPOINT=%s\nS3_PORT=%d\n" % (env.endpoint, env.s3_port))
        os.rename(tmp, os.path.join(work, "s3.env"))
        while not done.wait(1):
            pass
        env.report(sys.stderr)
    return 0


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = sys.argv[1]
    if cmd == "serve":
        return serve(sys.argv[2])
    if cmd == "list" and len(sys.argv) == 4:
        for k in Lister(int(sys.argv[2])).list_bucket(sys.argv[3]):
            print(k)
        return 0
    if cmd == "stats":
        with urllib.request.urlopen(sys.argv[2] + "/__ctl/stats") as r:
            print(json.dumps(json.load(r)))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
