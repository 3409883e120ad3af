#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The S3 storage (src/service/storage_s3.c) against a real S3 server: s3rver (npm, cached in
~/.cache/vidpipe-npm, never in the tree) on a loopback port with a temporary folder, behind
tests/s3/s3_proxy.py, which checks every request's SigV4 signature with the 'aws4' npm
package and injects 503s, dropped downloads and dropped uploads (tests/s3/s3_env.py). Runs
the C side (tests/unit/test_storage_s3.c, given as argv[1]) and then checks what the proxy
saw and what is left in the bucket. Exit 77 only when npm cannot install s3rver or aws4.

usage: storage_s3_test.py TEST_STORAGE_S3
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3_env  # noqa: E402


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    if not s3_env.npm_install():
        print("skipped: npm could not install s3rver and aws4 into %s" % s3_env.NPM_DIR,
              file=sys.stderr)
        return 77
    work = tempfile.mkdtemp(prefix="vp-s3-")
    ok = False
    try:
        os.makedirs(os.path.join(work, "tmp"))
        with s3_env.S3Env(work) as s3:
            why = s3.check_refuses_bad_signature()
            if why:
                print("FAIL: " + why, file=sys.stderr)
                return 1
            env = s3.env()
            env.update({
                "VP_S3_SPEC": "s3://%s/pfx?endpoint=%s&backoff_ms=10&timeout=10"
                              "&multipart_above=6M&part_size=5M&tmp=%s"
                              % (s3_env.BUCKET, s3.endpoint, os.path.join(work, "tmp")),
                "VP_S3_CTL": s3.ctl,
                "VP_S3_WORK": work,
            })
            rc = subprocess.run([sys.argv[1]], env=env, timeout=100).returncode
            stats = s3.report(sys.stderr)
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
            left = s3.list_bucket("pfx/")
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
        if ok or not os.environ.get("VP_KEEP"):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
