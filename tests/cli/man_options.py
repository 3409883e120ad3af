#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The man pages' option lists agree with the library's option tables: for every option of
a command whose --help line comes from a table ("(RANGE, default X)"), docs/vidpipe-CMD.1
documents that option and states the same default in its paragraph."""
import os
import re
import subprocess
import sys

VIDPIPE = os.environ["VIDPIPE"]
SRC = os.environ["VP_SRCDIR"]
COMMANDS = ["encode-raw", "proxy", "export", "loudnorm", "cleanup", "replace-audio", "thumb",
            "probe", "check", "qc", "batch", "run"]
failures = checks = 0


def fail(msg):
    global failures
    failures += 1
    print("FAIL: " + msg, file=sys.stderr)


def man_paragraphs(path):
    """{"--name": paragraph text} from the page's .TP entries, troff escapes undone."""
    text = open(path, encoding="utf-8").read().replace("\\-", "-").replace("\\fI", "") \
        .replace("\\fR", "").replace("\\fB", "")
    out = {}
    for entry in re.split(r"^\.TP\s*$", text, flags=re.M)[1:]:
        entry = re.split(r"^\.S[HS]\b", entry, flags=re.M)[0]
        lines = entry.strip().split("\n", 1)
        for name in re.findall(r"--[a-z][a-z0-9-]*", lines[0]):
            out[name] = lines[1] if len(lines) > 1 else ""
    return out


for cmd in COMMANDS:
    page = os.path.join(SRC, "docs", "vidpipe-%s.1" % cmd)
    help_text = subprocess.run([VIDPIPE, cmd, "--help"], capture_output=True, text=True,
                               check=True).stdout
    documented = man_paragraphs(page)
    table_opts = 0
    for line in help_text.splitlines():
        # The table's form, "(0..51, default 23)", "(h264|hevc, default h264)"; hand-written
        # help says "(default 1; 0: ...)" or "(default OUT/report.jsonl)".
        m = re.match(r"\s+(?:-\w, )?(--[a-z][a-z0-9-]*).*\(([^()]*), default ([^();:]*)\)$",
                     line)
        if not m:
            continue
        name, default = m.group(1), m.group(3)
        table_opts += 1
        checks += 1
        if name not in documented:
            fail("%s: %s (from the option table) is not in vidpipe-%s.1" % (cmd, name, cmd))
            continue
        if default == "none":
            continue
        checks += 1
        para = documented[name]
        if not re.search(r"(?<![\w.])%s(?![\w.])" % re.escape(default), para):
            fail("%s: vidpipe-%s.1 does not give %s's default %s: %r" %
                 (cmd, cmd, name, default, para))
    checks += 1
    if not table_opts:
        fail("%s: no option of its --help comes from an option table" % cmd)

# The QC spec's fields (JSON members, not command-line options): vidpipe-qc.1's SPEC section
# against `vidpipe qc --show-spec`, which prints the "qc_spec" table.
shown = subprocess.run([VIDPIPE, "qc", "--show-spec"], capture_output=True, text=True,
                       check=True).stdout
text = open(os.path.join(SRC, "docs", "vidpipe-qc.1"), encoding="utf-8").read().replace("\\-", "-")
spec = text.split(".SH SPEC", 1)[1].split("\n.SH ", 1)[0]
entries = {}
for entry in re.split(r"^\.TP\s*$", spec, flags=re.M)[1:]:
    head, _, body = entry.strip().partition("\n")
    for name in re.findall(r"[a-z_]+", head.replace(".B", "")):
        entries[name] = body
fields = re.findall(r"^  ([a-z_]+)\s+(\S+)\s", shown, flags=re.M)
checks += 1
if len(fields) < 20:
    fail("qc --show-spec lists %d fields" % len(fields))
for name, default in fields:
    checks += 1
    if name not in entries:
        fail("qc: spec field %s is not in vidpipe-qc.1's SPEC section" % name)
        continue
    body = entries[name]
    numbers = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", body)]
    ok = float(default) in numbers or \
        (name == "require_audio" and ("true" if default == "1" else "false") in body)
    checks += 1
    if not ok:
        fail("qc: vidpipe-qc.1 does not give spec field %s's default %s: %r" %
             (name, default, body))

print("%d checks, %d failed" % (checks, failures))
sys.exit(1 if failures else 0)
