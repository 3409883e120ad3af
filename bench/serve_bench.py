#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The measuring half of bench/serve.sh (stdlib only, but for the Celery peer).

  serve_bench.py throughput BASE FILE...
      Upload each FILE whole (POST /api/v1/videos?filename=..., one after the other, as
      clients arriving) to a running `vidpipe serve`, then poll every job until it is
      finished. Prints {"seconds" (first byte sent to last job finished), "completed",
      "failed", "job_ids", "video_ids", "upload_seconds"}.
  serve_bench.py latency BASE --jobs ID,ID,... [--clients 200] [--seconds 20] [--procs 2]
      CLIENTS polling clients (threads spread over PROCS processes), each on its own
      keep-alive connection, GET /api/v1/jobs/{id} back to back for SECONDS. Prints
      {"requests", "per_s", "p50_ms", "p99_ms", "max_ms", "errors", "reconnects"}.
  serve_bench.py celery --jobs 10000 --workers 2 --work DIR
      The peer of the queue overhead: Celery 5 with a Redis broker and result backend
      (redis-server started on a free loopback port in DIR, stopped by its PID), a prefork
      worker of WORKERS processes, JOBS empty tasks; Celery's defaults, or with
      --seed-config acks_late and prefetch 1 as the seed runs it (kombu's Redis transport
      then waits for its next poll, up to 1 s, between tasks: use a few hundred jobs). Prints {"enqueue_per_s", "claim_complete_per_s" (from the tasks' own
      start times: first to last), "seconds"}. Exit 77 when celery or redis-server is
      missing.
"""
import argparse
import http.client
import json
import multiprocessing
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse


def hostport(base):
    u = urllib.parse.urlsplit(base)
    return u.hostname, u.port


def request(host, port, method, path, body=None, headers=None, timeout=60):
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def cmd_throughput(a):
    host, port = hostport(a.base)
    t0 = time.monotonic()
    jobs, videos = [], []
    for i, f in enumerate(a.files):
        with open(f, "rb") as fh:
            data = fh.read()
        name = "%03d-%s" % (i, os.path.basename(f))
        status, body = request(host, port, "POST",
                               "/api/v1/videos?filename=" + urllib.parse.quote(name), data,
                               {"Content-Type": "application/octet-stream"})
        if status not in (200, 201):
            sys.exit("serve_bench: upload %s: HTTP %d: %s" % (f, status, body[:200]))
        j = json.loads(body)
        jobs.append(j["job_id"])
        videos.append(j["video_id"])
    t_up = time.monotonic()
    left = set(jobs)
    done = {}
    c = http.client.HTTPConnection(host, port, timeout=60)
    while left:
        for jid in sorted(left):
            c.request("GET", "/api/v1/jobs/%d" % jid)
            r = c.getresponse()
            j = json.loads(r.read())
            if j["status"] in ("completed", "failed", "cancelled"):
                done[jid] = j["status"]
                left.discard(jid)
        if left:
            time.sleep(0.05)
        if time.monotonic() - t0 > a.timeout:
            sys.exit("serve_bench: %d jobs not finished after %d s" % (len(left), a.timeout))
    t1 = time.monotonic()
    c.close()
    print(json.dumps({"seconds": round(t1 - t0, 3), "upload_seconds": round(t_up - t0, 3),
                      "completed": sum(1 for s in done.values() if s == "completed"),
                      "failed": sum(1 for s in done.values() if s != "completed"),
                      "job_ids": jobs, "video_ids": videos}))


def poller(host, port, paths, stop_at, out, errors, reconnects):
    c = None
    rng = random.Random()
    while True:
        now = time.monotonic()
        if now >= stop_at:
            break
        if c is None:
            c = http.client.HTTPConnection(host, port, timeout=30)
        t = time.perf_counter()
        try:
            c.request("GET", rng.choice(paths))
            r = c.getresponse()
            r.read()
            if r.status != 200:
                errors.append("HTTP %d" % r.status)
            out.append(time.perf_counter() - t)
            if r.getheader("Connection", "").lower() == "close":
                c.close()
                c = None
                reconnects.append(1)
        except (OSError, http.client.HTTPException) as e:
            errors.append(type(e).__name__ + ": " + str(e))
            c.close()
            c = None
            reconnects.append(1)
            time.sleep(0.01)
    if c:
        c.close()


def latency_proc(host, port, paths, clients, start_at, stop_at, q):
    while time.monotonic() < start_at:
        time.sleep(0.001)
    lat, errors, reconnects = [], [], []
    th = [threading.Thread(target=poller, args=(host, port, paths, stop_at, lat, errors,
                                                reconnects)) for _ in range(clients)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    q.put((lat, errors[:20], len(errors), len(reconnects)))


def pct(sorted_v, p):
    if not sorted_v:
        return None
    return sorted_v[min(len(sorted_v) - 1, int(round(p / 100.0 * (len(sorted_v) - 1))))]


def cmd_latency(a):
    host, port = hostport(a.base)
    paths = ["/api/v1/jobs/%s" % j for j in a.jobs.split(",") if j]
    q = multiprocessing.Queue()
    start_at = time.monotonic() + 1.0
    stop_at = start_at + a.seconds
    per = [a.clients // a.procs + (1 if i < a.clients % a.procs else 0) for i in range(a.procs)]
    ps = [multiprocessing.Process(target=latency_proc,
                                  args=(host, port, paths, n, start_at, stop_at, q))
          for n in per]
    for p in ps:
        p.start()
    lat, errs, nerr, nrec = [], [], 0, 0
    for _ in ps:
        l, e, ne, nr = q.get()
        lat += l
        errs += e
        nerr += ne
        nrec += nr
    for p in ps:
        p.join()
    lat.sort()
    ms = lambda v: None if v is None else round(v * 1000, 2)
    print(json.dumps({"clients": a.clients, "seconds": a.seconds, "requests": len(lat),
                      "per_s": round(len(lat) / a.seconds), "p50_ms": ms(pct(lat, 50)),
                      "p99_ms": ms(pct(lat, 99)), "max_ms": ms(lat[-1] if lat else None),
                      "errors": nerr, "error_samples": errs[:5], "reconnects": nrec}))


CELERY_APP = r'''
import time
from celery import Celery
app = Celery("vpbench", broker="redis://127.0.0.1:%(port)d/0",
             backend="redis://127.0.0.1:%(port)d/1")
app.conf.update(%(seedconf)s task_time_limit=3600,
                result_expires=3600, worker_hijack_root_logger=False,
                broker_connection_retry_on_startup=True)

@app.task(name="noop")
def noop(i):
    return time.time()
'''


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cmd_celery(a):
    redis = shutil.which("redis-server")
    try:
        import celery  # noqa: F401
        import redis as _redis  # noqa: F401
    except ImportError as e:
        print(json.dumps({"skipped": "python3-celery / python3-redis: %s" % e}))
        sys.exit(77)
    if not redis:
        print(json.dumps({"skipped": "redis-server is not installed"}))
        sys.exit(77)
    os.makedirs(a.work, exist_ok=True)
    port = free_port()
    rs = subprocess.Popen([redis, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                           "--appendonly", "no", "--dir", a.work],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        with open(os.path.join(a.work, "vpbench.py"), "w") as f:
            f.write(CELERY_APP % {"port": port, "seedconf": "task_acks_late=True, "
                                  "worker_prefetch_multiplier=1," if a.seed_config else ""})
        # The producer is a process of its own that exits once the tasks are queued: a
        # producer holding thousands of pending AsyncResults subscribes to each one's
        # result channel, which stalled the worker's result publishing here.
        env = dict(os.environ, PYTHONPATH=a.work)
        ids_path = os.path.join(a.work, "ids.txt")
        prod = subprocess.run(
            [sys.executable, "-c", "import json, sys, time, vpbench\n"
             "t0 = time.monotonic()\n"
             "ids = [vpbench.noop.delay(i).id for i in range(%d)]\n"
             "t1 = time.monotonic()\n"
             "open(sys.argv[1], 'w').write('\\n'.join(ids))\n"
             "print(t1 - t0)\n" % a.jobs, ids_path],
            cwd=a.work, env=env, capture_output=True, text=True)
        if prod.returncode != 0:
            sys.exit("serve_bench: celery producer: " + prod.stderr.strip()[-500:])
        enqueue_s = float(prod.stdout.split()[-1])
        ids = open(ids_path).read().split()
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "vpbench", "worker", "-P", "prefork",
             "-c", str(a.workers), "--loglevel", "WARNING", "--without-gossip",
             "--without-mingle", "--without-heartbeat"],
            cwd=a.work, env=env, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(a.work, "worker.log"), "w"))
        # Waiting on each AsyncResult subscribes to each task's key (slow with thousands):
        # count the stored results instead, then read them all at once.
        import redis as redis_client
        db = redis_client.Redis(host="127.0.0.1", port=port, db=1)
        t_end = time.monotonic() + a.timeout
        while db.dbsize() < a.jobs:
            if os.environ.get("VP_BENCH_DEBUG"):
                print("celery: %d done" % db.dbsize(), file=sys.stderr)
            if time.monotonic() > t_end:
                sys.exit("serve_bench: celery: %d of %d tasks done after %d s"
                         % (db.dbsize(), a.jobs, a.timeout))
            time.sleep(0.1)
        keys = ["celery-task-meta-" + i for i in ids]
        stamps = []
        for i in range(0, len(keys), 1000):
            for v in db.mget(keys[i:i + 1000]):
                m = json.loads(v)
                if m.get("status") != "SUCCESS":
                    sys.exit("serve_bench: celery: a task ended %s" % m.get("status"))
                stamps.append(m["result"])
        stamps.sort()
        span = stamps[-1] - stamps[0]
        print(json.dumps({"workers": a.workers, "jobs": a.jobs, "seed_config": a.seed_config,
                          "enqueue_per_s": round(a.jobs / enqueue_s),
                          "claim_complete_per_s": round((a.jobs - 1) / span) if span > 0 else None,
                          "seconds": round(span, 3)}))
    finally:
        if worker:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        rs.terminate()
        rs.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("throughput")
    s.add_argument("base")
    s.add_argument("files", nargs="+")
    s.add_argument("--timeout", type=int, default=1800)
    s = sub.add_parser("latency")
    s.add_argument("base")
    s.add_argument("--jobs", required=True)
    s.add_argument("--clients", type=int, default=200)
    s.add_argument("--seconds", type=float, default=20)
    s.add_argument("--procs", type=int, default=2)
    s = sub.add_parser("celery")
    s.add_argument("--jobs", type=int, default=10000)
    s.add_argument("--workers", type=int, default=2)
    s.add_argument("--work", required=True)
    s.add_argument("--timeout", type=int, default=600)
    s.add_argument("--seed-config", action="store_true",
                   help="acks_late and prefetch 1, as the seed's worker runs")
    a = p.parse_args()
    globals()["cmd_" + a.cmd](a)


if __name__ == "__main__":
    main()
