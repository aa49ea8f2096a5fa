#!/usr/bin/env python3
"""The upstream path at scale: one Seedgate (release build) in front of many fake Ark accounts.

Started by bench/scale, which builds Seedgate and passes its binary. For each run (a store, a number
of tasks in flight, callbacks on or off) it starts bench/fakeark.py with --channels accounts, starts
Seedgate on them, fills the accounts with --tasks tasks through POST /v1/videos/generations (each with
a callback_url to a receiver here), and lets upstream finish them at a steady --rate while new tasks
replace the finished ones. Over a --window of seconds in that steady state it measures:

  upstream calls (list and get) per second, tasks per call, and calls per pass over every task;
  database statements per second, per task check and per finished task;
  the gateway's CPU (of one core) and per finished task; its resident memory;
  how long after upstream finished a task its client heard `completed` (the webhook) p50/p99;
  then a burst: --burst tasks finished at once, copied into the blob store: MB per second.
"""
import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--bin", required=True)
parser.add_argument("--store", default="sqlite")
parser.add_argument("--database", default="")
parser.add_argument("--tasks", type=int, default=10000)
parser.add_argument("--channels", type=int, default=50)
parser.add_argument("--rate", type=float, default=10, help="tasks upstream finishes per second")
parser.add_argument("--window", type=float, default=60)
parser.add_argument("--burst", type=int, default=100)
parser.add_argument("--callbacks", action="store_true")
parser.add_argument("--video", required=True)
args = parser.parse_args()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url):
    with urllib.request.urlopen(url, timeout=30) as answer:
        return json.load(answer)


work = tempfile.mkdtemp(prefix="seedgate-scale-")
fake_port, port, hook_port, metrics_port = free_port(), free_port(), free_port(), free_port()
processes = []


def stop_all(*_):
    for p in processes:
        p.terminate()
    for p in processes:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()


signal.signal(signal.SIGTERM, lambda *_: (stop_all(), sys.exit(1)))

# The client's webhook receiver: when each task's `completed` arrived.
heard = {}
heard_lock = threading.Lock()
heard_event = threading.Condition(heard_lock)


class Hook(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        now = time.time()
        text = body.decode(errors="replace")
        match = re.search(r'"(task_[0-9A-Z]+)"', text)
        if match and '"completed"' in text:
            with heard_event:
                heard.setdefault(match.group(1), now)
                heard_event.notify_all()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


hook_server = ThreadingHTTPServer(("127.0.0.1", hook_port), Hook)
hook_server.daemon_threads = True
threading.Thread(target=hook_server.serve_forever, daemon=True).start()

# The accounts, and Seedgate on them.
fake = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__), "fakeark.py"), "--port", str(fake_port),
                         "--channels", str(args.channels), "--rate", str(args.rate), "--video", args.video]
                        + (["--callbacks"] if args.callbacks else []))
processes.append(fake)
channels = [{"name": f"ark-{n}", "type": "ark", "base_url": f"http://127.0.0.1:{fake_port}/c{n}/api/v3", "api_key": f"key-{n}",
             "models": {"doubao-seedance-2.0": "doubao-seedance-2-0-260128"}, "max_in_flight": 2 * args.tasks // args.channels + 10}
            for n in range(args.channels)]
with open(f"{work}/channels.json", "w") as f:
    json.dump({"channels": channels}, f)
database = ["--database", args.database] if args.database else []
made = subprocess.run([args.bin, "keys", "create", "--data-dir", f"{work}/data", *database, "--name", "scale", "--credits", "1000000000000",
                       "--rpm", "100000000", "--max-in-flight", "100000000", "--json"], check=True, capture_output=True, text=True)
key = json.loads(made.stdout)["key"]
# Sixteen submission loops unless the caller says otherwise (the figures in the README were taken so).
environment = {"SEEDGATE_UPSTREAM_SUBMITTERS": "16", **os.environ, "SEEDGATE_LOG_LEVEL": "error"}
server = subprocess.Popen([args.bin, "serve", "--port", str(port), "--data-dir", f"{work}/data", *database, "--channels", f"{work}/channels.json",
                           "--allow-private-urls", "--public-url", f"http://127.0.0.1:{port}", "--metrics-port", str(metrics_port),
                           "--upstream-callbacks" if args.callbacks else "--no-upstream-callbacks"],
                          env=environment, stdout=open(f"{work}/server.log", "w"), stderr=subprocess.STDOUT)
processes.append(server)
base = f"http://127.0.0.1:{port}"
for _ in range(300):
    try:
        get_json(f"{base}/health")
        get_json(f"http://127.0.0.1:{fake_port}/_stats")
        break
    except Exception:
        time.sleep(0.1)


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def statements():
    """Statements the gateway has sent to its database (seedgate_store_statements_total)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=30) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith("seedgate_store_statements_total "):
                return float(line.split()[1])
    return float("nan")


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0


submitted = 0
submit_lock = threading.Lock()
tags = {}   # Seedgate task id -> the tag its prompt carried upstream (how the fake names it without a callback)


def body(tag):
    return json.dumps({"model": "doubao-seedance-2.0", "prompt": f"scale #{tag}", "duration": 5, "resolution": "720p",
                       "callback_url": f"http://127.0.0.1:{hook_port}/hook"})


def submitter(count):
    """Submits `count` tasks on one keep-alive connection."""
    global submitted
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(count):
        with submit_lock:
            submitted += 1
            tag = f"tag-{submitted}"
        connection.request("POST", "/v1/videos/generations", body(tag), {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        answer = connection.getresponse()
        text = answer.read()
        if answer.status != 200:
            raise SystemExit(f"submission answered {answer.status}")
        with submit_lock:
            tags[json.loads(text)["data"][0]["task_id"]] = tag


def submit(count, threads=8):
    workers = [threading.Thread(target=submitter, args=(count // threads + (1 if i < count % threads else 0),)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def replenisher(stop):
    """Keeps --tasks in flight: one new task for each one the client heard finish."""
    while not stop.is_set():
        with heard_lock:
            missing = args.tasks - (submitted - len(heard))
        if missing > 0:
            submit(missing, threads=min(4, missing))
        time.sleep(0.5)


started = time.time()
submit(args.tasks)
filled = time.time() - started
while get_json(f"http://127.0.0.1:{fake_port}/_stats")["create"] < args.tasks:
    time.sleep(0.5)
accepted = time.time() - started
get_json(f"http://127.0.0.1:{fake_port}/_start")   # upstream begins finishing tasks, --rate a second
stop = threading.Event()
threading.Thread(target=replenisher, args=(stop,), daemon=True).start()
time.sleep(min(30, args.window / 2))                 # into the steady state

before = get_json(f"http://127.0.0.1:{fake_port}/_stats")
statements0 = statements()
cpu0, t0 = cpu_seconds(server.pid), time.time()
with heard_lock:
    heard0 = len(heard)
peak = 0
while time.time() - t0 < args.window:
    time.sleep(1)
    peak = max(peak, rss_mib(server.pid))
cpu1, t1 = cpu_seconds(server.pid), time.time()
statements1 = statements()
after = get_json(f"http://127.0.0.1:{fake_port}/_stats")
with heard_lock:
    finished = len(heard) - heard0
    with submit_lock:
        upstream_name = {t: t if t in after["finished_at"] else tags.get(t) for t in heard}
    ended = {t: after["finished_at"][n] for t, n in upstream_name.items() if n in after["finished_at"]}
    latencies = sorted(heard[t] - ended[t] for t in ended if t0 <= ended[t] < t1 - 5)
stop.set()

# The burst: --burst tasks finished upstream at once; how fast their results land in the blob store.
time.sleep(1)
bytes0 = get_json(f"http://127.0.0.1:{fake_port}/_stats")["result_bytes"]
with heard_lock:
    heard_before = len(heard)
burst_at = time.time()
get_json(f"http://127.0.0.1:{fake_port}/_finish_now?count={args.burst}")
with heard_event:
    heard_event.wait_for(lambda: len(heard) - heard_before >= args.burst, timeout=300)
    landed = len(heard) - heard_before
burst_seconds = time.time() - burst_at
burst_bytes = get_json(f"http://127.0.0.1:{fake_port}/_stats")["result_bytes"] - bytes0
stop_all()

seconds = t1 - t0
calls = (after["list"] - before["list"]) + (after["get"] - before["get"])
checks = (after["listed_ids"] - before["listed_ids"]) + (after["get"] - before["get"])


def pct(values, p):
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


mode = "callbacks" if args.callbacks else "polling"
print(f"{args.store:<10} {args.tasks} in flight over {args.channels} channels, {mode}: filled in {filled:.0f} s (all accepted upstream at {accepted:.0f} s)")
print(f"{args.store:<10}   upstream: {calls / seconds:.1f} calls/s for {checks / seconds:.0f} task checks/s: {checks / max(calls, 1):.1f} tasks per call, "
      f"{args.tasks / max(checks / max(calls, 1), 1):.0f} calls per pass over every task (target: a pass at most {args.tasks // 20})")
sent = statements1 - statements0
print(f"{args.store:<10}   database: {sent / seconds:.0f} statements/s, {sent / max(checks, 1):.2f} per task check, "
      f"{sent / max(finished, 1):.1f} per finished task (each metrics scrape adds a few)")
print(f"{args.store:<10}   gateway CPU: {100 * (cpu1 - cpu0) / seconds:.0f}% of a core, {1000 * (cpu1 - cpu0) / max(finished, 1):.1f} ms per finished task "
      f"({finished / seconds:.1f} finished/s); resident memory {peak:.0f} MiB")
if latencies:
    print(f"{args.store:<10}   completed heard by the client after upstream finished: p50 {pct(latencies, 0.5):.2f} s, p99 {pct(latencies, 0.99):.2f} s "
          f"({len(latencies)} tasks; includes the copy of a {os.path.getsize(args.video) / 1e6:.1f} MB result and the webhook)")
else:
    print(f"{args.store:<10}   completed heard by the client after upstream finished: no task finished in the window was heard")
print(f"{args.store:<10}   burst: {landed} results finished at once were copied and heard in {burst_seconds:.1f} s: "
      f"{burst_bytes / 1e6 / burst_seconds:.0f} MB/s into the blob store")
