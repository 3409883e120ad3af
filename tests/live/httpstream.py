# SPDX-License-Identifier: LGPL-2.1-or-later
"""The body of a streaming HTTP/1.1 GET, for the channel tests' own clients (tunein.py,
pacing.py): the status line and headers are checked, and a chunked body (what evhttp and
libmicrohttpd send for a response of unknown length) is decoded, so the MPEG-TS parsers
see the stream's bytes only."""
import socket
import urllib.parse


class HttpError(Exception):
    pass


class Body:
    """Feed it what the socket gives; it returns the body's bytes so far."""

    def __init__(self, url):
        self.url = url
        self.buf = b""
        self.head = True
        self.chunked = False
        self.left = 0           # bytes left in the current chunk
        self.done = False

    def feed(self, data):
        self.buf += data
        out = b""
        if self.head:
            k = self.buf.find(b"\r\n\r\n")
            if k < 0:
                return b""
            head = self.buf[:k].decode("latin1").split("\r\n")
            self.buf = self.buf[k + 4:]
            self.head = False
            if " 200" not in head[0]:
                raise HttpError("%s: %s" % (self.url, head[0]))
            for h in head[1:]:
                name, _, value = h.partition(":")
                if name.strip().lower() == "transfer-encoding" and "chunked" in value.lower():
                    self.chunked = True
        if not self.chunked:
            out, self.buf = self.buf, b""
            return out
        while self.buf and not self.done:
            if self.left == 0:
                k = self.buf.find(b"\r\n")
                if k < 0:
                    break
                line = self.buf[:k].split(b";")[0].strip()
                if not line:            # the CRLF that ends the previous chunk
                    self.buf = self.buf[k + 2:]
                    continue
                self.left = int(line, 16)
                self.buf = self.buf[k + 2:]
                if self.left == 0:
                    self.done = True
                    break
            take = self.buf[:self.left]
            out += take
            self.left -= len(take)
            self.buf = self.buf[len(take):]
        return out


def connect(url, timeout=5):
    """(socket, Body) for a GET of url, request sent"""
    u = urllib.parse.urlsplit(url)
    s = socket.create_connection((u.hostname, u.port or 80), timeout=timeout)
    path = u.path + ("?" + u.query if u.query else "")
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" %
               (path, u.netloc)).encode())
    return s, Body(url)
