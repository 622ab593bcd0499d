#!/usr/bin/env python3
"""Runs one load through Hoist's REST API and measures it from the operation's own timeline.

  hoist_op.py --base http://127.0.0.1:PORT --pid PID --model bench/big [--stop-at loading]

POSTs /api/llm/load, polls GET /api/llm/progress/{id} every 100 ms over one kept-alive connection,
and samples the Hoist process's CPU time (utime + stime from /proc/PID/stat) every 20 ms, so the CPU
spent inside a stage's window (from the timeline's timestamps, same wall clock) can be read off
afterwards. With --stop-at loading the operation is cancelled as soon as it reaches the load stage
(a download benchmark needs nothing after that). Prints one JSON object.

The harness shares the machine with what it measures, and curl, the download's reference, has no
such company: so it stays light (one connection, not one per poll; CPU samples 20 ms apart, which
moves a window's CPU by at most a few hundredths of a second at each end). Times come from Hoist's
own timeline, not from when a poll saw a change; polls stay 100 ms apart so that --stop-at cancels
before a 2 GiB load stage is over.
"""
import argparse
import json
import os
import re
import sys
import threading
import time
from datetime import datetime
from http.client import HTTPConnection
from urllib.parse import urlsplit

TICK = os.sysconf("SC_CLK_TCK")
FINISHED = ("completed", "error", "cancelled")


class Api:
    """Hoist's REST API over one kept-alive connection (a new one only if the server closed it)."""

    def __init__(self, base):
        self.netloc = urlsplit(base).netloc
        self.conn = HTTPConnection(self.netloc, timeout=30)

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                payload = r.read()
                break
            except (ConnectionError, OSError):
                self.conn.close()
                self.conn = HTTPConnection(self.netloc, timeout=30)
                if attempt == 2:
                    raise
        return r.status, json.loads(payload or b"null")


def cpu_seconds(fd):
    fields = os.pread(fd, 1024, 0).decode().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14 and 15)


class Sampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.fd, self.samples, self.running = os.open(f"/proc/{pid}/stat", os.O_RDONLY), [], True

    def run(self):
        while self.running:
            self.samples.append((time.time(), cpu_seconds(self.fd)))
            time.sleep(0.02)
        os.close(self.fd)

    def at(self, t):
        """CPU seconds at wall time t, interpolated between the samples around it."""
        s = self.samples
        if not s:
            return None
        if t <= s[0][0]:
            return s[0][1]
        for (t0, c0), (t1, c1) in zip(s, s[1:]):
            if t0 <= t <= t1:
                return c0 + (c1 - c0) * ((t - t0) / (t1 - t0) if t1 > t0 else 0)
        return s[-1][1]


def when(op, status):
    """Epoch seconds of the last time the timeline entered STATUS."""
    t = None
    for step in op.get("timeline", []):
        if step["status"] == status:
            t = epoch(step["at"])
    return t


def epoch(iso):
    """An Instant's ISO-8601 text (0 to 9 fraction digits, 'Z') as epoch seconds."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$", iso)
    base = datetime.fromisoformat(m.group(1) + "+00:00").timestamp()
    return base + (float("0." + m.group(2)) if m.group(2) else 0.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--stop-at", default=None, help="cancel once this status is reached")
    ap.add_argument("--timeout", type=float, default=900)
    a = ap.parse_args()

    sampler = Sampler(a.pid)
    sampler.start()
    time.sleep(0.05)
    api = Api(a.base)
    status, started = api.call("POST", "/api/llm/load", {"model_name": a.model})
    if status != 202:
        sys.exit(f"POST /api/llm/load answered {status}: {started}")
    op_id = started["operation_id"]
    deadline = time.time() + a.timeout
    op, cancelled = None, False
    while time.time() < deadline:
        _, op = api.call("GET", f"/api/llm/progress/{op_id}")
        if a.stop_at and not cancelled and op["status"] not in FINISHED and when(op, a.stop_at):
            status, answer = api.call("POST", f"/api/llm/progress/{op_id}/cancel")
            # 409: it finished meanwhile
            op = answer if status < 300 else api.call("GET", f"/api/llm/progress/{op_id}")[1]
            cancelled = True
        if op["status"] in FINISHED:
            break
        time.sleep(0.1)
    time.sleep(0.05)
    sampler.running = False
    sampler.join()

    def span(a_status, b_status):
        t0, t1 = when(op, a_status), when(op, b_status)
        if t0 is None or t1 is None or t1 < t0:
            return None, None
        c0, c1 = sampler.at(t0), sampler.at(t1)
        return t1 - t0, (c1 - c0 if c0 is not None and c1 is not None else None)

    dl_s, dl_cpu = span("downloading", "loading")
    ld_s, ld_cpu = span("loading", "finalizing")
    out = {
        "operation_id": op_id,
        "status": op["status"],
        "error": op.get("error"),
        "bytes": sum(f.get("size", 0) for f in op.get("files", [])),
        "download_s": dl_s, "download_cpu_s": dl_cpu,
        "load_s": ld_s, "load_cpu_s": ld_cpu,
        "timeline": op.get("timeline"),
    }
    print(json.dumps(out))
    ok = op["status"] == "completed" or (cancelled and op["status"] == "cancelled")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
