#!/usr/bin/env python3
"""A stand-in for a native LLM service (llama-server, sting-llm) in Hoist's tests.

Reads the model (a file, or the weight files of a directory) in chunks, printing a line per chunk
group, then serves HTTP 200 on /health at 127.0.0.1:<port> until killed.
"""
import argparse
import http.server
import os
import signal
import subprocess
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("--model", required=True)
p.add_argument("--port", type=int, required=True)
p.add_argument("--chunk-kib", type=int, default=1024)
p.add_argument("--delay-ms", type=int, default=0, help="sleep after each chunk")
p.add_argument("--child", action="store_true", help="start a child process (a process tree to kill)")
p.add_argument("--orphan", action="store_true", help="start a detached process (double fork: not a descendant)")
p.add_argument("--ignore-term", action="store_true", help="ignore SIGTERM (must be killed forcibly)")
p.add_argument("--percent", action="store_true", help="print 'loading NN%%' lines (service-reported progress)")
p.add_argument("--no-serve", action="store_true", help="never become healthy (sleep instead)")
p.add_argument("--chatty", type=int, default=0, help="print this many extra lines at start")
args = p.parse_args()

if args.ignore_term:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print(f"fake-llm: pid={os.getpid()}", flush=True)
if args.child:
    child = subprocess.Popen(["sleep", "300"])
    print(f"fake-llm: child={child.pid}", flush=True)
if args.orphan:
    out = subprocess.run(["sh", "-c", "sleep 300 >/dev/null 2>&1 </dev/null & echo $!"], capture_output=True, text=True)
    print(f"fake-llm: orphan={out.stdout.strip()}", flush=True)
print("fake-llm: warming up", file=sys.stderr, flush=True)
for i in range(args.chatty):
    print(f"fake-llm: chatter {i}", flush=True)

if os.path.isdir(args.model):
    files = sorted(os.path.join(args.model, f) for f in os.listdir(args.model)
                   if f.endswith((".safetensors", ".gguf")))
else:
    files = [args.model]
total = sum(os.path.getsize(f) for f in files)
print(f"fake-llm: loading {len(files)} file(s), {total} bytes", flush=True)
done = 0
chunk = args.chunk_kib * 1024
for f in files:
    with open(f, "rb", buffering=0) as fh:
        while True:
            b = fh.read(chunk)
            if not b:
                break
            done += len(b)
            if args.percent:
                print(f"loading {done * 100 // total}%", flush=True)
            if args.delay_ms:
                time.sleep(args.delay_ms / 1000)
print(f"fake-llm: read {done} of {total} bytes", flush=True)

if args.no_serve:
    while True:
        time.sleep(1)


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok\n" if self.path == "/health" else b"not found\n"
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


server = http.server.HTTPServer(("127.0.0.1", args.port), Health)
print(f"fake-llm: listening on port {args.port}", flush=True)
server.serve_forever()
