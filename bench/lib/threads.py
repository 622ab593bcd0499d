#!/usr/bin/env python3
"""threads.py PID [BEFORE_JSON] -- CPU seconds per thread group of a process (from /proc/PID/task/*/stat),
digits in thread names folded ("vert.x-eventloop-thread-3" -> "vert.x-eventloop-thread-N"). With BEFORE_JSON
(an earlier output), prints the difference: where the CPU went in between. Prints JSON."""
import json
import os
import re
import sys

tck = os.sysconf("SC_CLK_TCK")
pid = sys.argv[1]
now = {}
for t in os.listdir(f"/proc/{pid}/task"):
    try:
        with open(f"/proc/{pid}/task/{t}/stat") as f:
            s = f.read()
    except OSError:
        continue  # the thread ended meanwhile
    name = re.sub(r"\d+", "N", s[s.index("(") + 1:s.rindex(")")])
    fields = s.rsplit(")", 1)[1].split()
    now[name] = now.get(name, 0) + (int(fields[11]) + int(fields[12])) / tck
if len(sys.argv) > 2:
    before = json.loads(sys.argv[2])
    now = {k: round(v - before.get(k, 0), 2) for k, v in now.items() if v - before.get(k, 0) >= 0.005}
print(json.dumps(dict(sorted(now.items(), key=lambda kv: -kv[1]))))
