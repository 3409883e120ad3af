#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""channels_viewers.py SECONDS URL [URL ...] : one viewer per URL (a URL may repeat), each an
HTTP GET whose body is read and thrown away, for SECONDS; one process with a selector
instead of hundreds of `curl -o /dev/null` (500 curls would cost the machine more memory and
CPU than the server they measure). Prints one JSON line: bytes per viewer (min, median),
viewers whose connection ended early, and failed connects."""
import json
import selectors
import socket
import statistics
import sys
import time
import urllib.parse


def main():
    seconds = float(sys.argv[1])
    urls = sys.argv[2:]
    sel = selectors.DefaultSelector()
    conns = []
    failed = 0
    for u in urls:
        p = urllib.parse.urlsplit(u)
        try:
            s = socket.create_connection((p.hostname, p.port or 80), timeout=5)
        except OSError:
            failed += 1
            continue
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (p.path, p.netloc)).encode())
        s.setblocking(False)
        c = {"sock": s, "bytes": 0, "open": True}
        conns.append(c)
        sel.register(s, selectors.EVENT_READ, c)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=0.2):
            c = key.data
            try:
                d = c["sock"].recv(262144)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                d = b""
            if not d:
                sel.unregister(c["sock"])
                c["open"] = False
                continue
            c["bytes"] += len(d)
    b = [c["bytes"] for c in conns] or [0]
    print(json.dumps({"viewers": len(conns), "failed_connects": failed,
                      "ended_early": sum(1 for c in conns if not c["open"]),
                      "bytes_min": min(b), "bytes_median": statistics.median(b),
                      "seconds": seconds}))
    for c in conns:
        c["sock"].close()


if __name__ == "__main__":
    main()
