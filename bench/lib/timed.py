#!/usr/bin/env python3
"""timed.py CMD ARGS... -- runs CMD, prints {"seconds": wall, "cpu_s": user+system of CMD and its children,
"exit": code} as JSON on stdout (CMD's own output goes to stderr). Like /usr/bin/time, with more digits."""
import json
import os
import subprocess
import sys
import time

t0 = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=sys.stderr)
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - t0
code = os.waitstatus_to_exitcode(status)
print(json.dumps({"seconds": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "exit": code}))
sys.exit(code)
