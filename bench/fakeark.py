#!/usr/bin/env python3
"""Ark's video task API for the scale benchmark: many accounts on one loopback port.

Channel n lives at http://127.0.0.1:PORT/cN/api/v3 with the API key key-N. A task is queued for a
second, then runs. Once GET /_start was called, tasks succeed one after another in the order they were
made, --rate a second, with a real MP4 (--video) served at /results/<id>.mp4; GET /_finish_now?count=N
finishes the next N at once. With --callbacks, each change of status (running, succeeded) is POSTed to
the task's callback_url, as Ark does. Counts every call by kind and records, per Seedgate task (named in
the callback URL Seedgate gives, or by a `#tag-N` in the prompt), when upstream finished it: GET /_stats answers them as JSON.

    python3 bench/fakeark.py --port 18940 --channels 50 --rate 10 --video clip.mp4 --callbacks
"""
import argparse
import collections
import heapq
import json
import random
import re
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--channels", type=int, default=50)
parser.add_argument("--rate", type=float, default=10)
parser.add_argument("--video", required=True)
parser.add_argument("--callbacks", action="store_true")
args = parser.parse_args()

video = open(args.video, "rb").read()
lock = threading.Lock()
tasks = {}           # id -> dict
starting = []        # heap of (time it starts running, id), for the running callback
waiting = collections.deque()   # unfinished ids, oldest first
started = [False]
stats = {"create": 0, "list": 0, "get": 0, "delete": 0, "listed_ids": 0, "result_bytes": 0, "callbacks": 0}
finished_at = {}     # Seedgate task id -> time upstream finished it
route = re.compile(r"^/c(\d+)/api/v3/contents/generations/tasks(?:/([^/?]+))?$")


def status(task, now):
    if task["finished"] is not None:
        return "succeeded"
    return "queued" if now < task["created"] + 1 else "running"


def view(task, now):
    state = status(task, now)
    done = state == "succeeded"
    return {
        "id": task["id"], "model": task["model"], "status": state,
        "content": {"video_url": f"http://127.0.0.1:{args.port}/results/{task['id']}.mp4"} if done else None,
        "usage": {"completion_tokens": 108900, "total_tokens": 108900} if done else None,
        "created_at": int(task["created"]), "updated_at": int(task["finished"] or now), "error": None,
    }


def finish(count, now):
    """Finishes the `count` oldest unfinished tasks (called with the lock held); their callbacks."""
    done = []
    while count > 0 and waiting:
        task = tasks[waiting.popleft()]
        task["finished"] = now
        if task["ours"]:
            finished_at[task["ours"]] = now
        done.append(task)
        count -= 1
    return done


def finisher():
    """Moves tasks to running after a second and, once started, finishes --rate of them a second."""
    next_finish = None
    while True:
        callbacks = []
        with lock:
            now = time.time()
            while starting and starting[0][0] <= now:
                callbacks.append(tasks[heapq.heappop(starting)[1]])
            if started[0]:
                next_finish = next_finish or now
                while next_finish <= now:
                    callbacks += finish(1, now)
                    next_finish += 1 / args.rate
            wait = min([0.05] + ([starting[0][0] - now] if starting else []))
        if args.callbacks:
            for task in callbacks:
                if task["callback"]:
                    threading.Thread(target=call_back, args=(task["callback"], task), daemon=True).start()
        time.sleep(max(0.001, wait))


def call_back(url, task):
    body = json.dumps(view(task, time.time())).encode()
    for _ in range(3):
        try:
            request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
            with urllib.request.urlopen(request, timeout=10) as answer:
                if 200 <= answer.status < 300:
                    with lock:
                        stats["callbacks"] += 1
                    return
        except Exception:
            time.sleep(0.5)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def answer(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def channel(self):
        match = route.match(urllib.parse.urlsplit(self.path).path)
        if not match:
            return None, None
        if self.headers.get("Authorization") != f"Bearer key-{match.group(1)}":
            self.answer(401, {"error": {"code": "AuthenticationError", "message": "the API key is missing or invalid"}})
            return "refused", None
        return match.group(1), match.group(2)

    def do_GET(self):
        parts = urllib.parse.urlsplit(self.path)
        if parts.path == "/_stats":
            with lock:
                return self.answer(200, {**stats, "tasks": len(tasks), "finished_at": finished_at})
        if parts.path == "/_start":
            with lock:
                started[0] = True
            return self.answer(200, {"started": True})
        if parts.path == "/_finish_now":
            count = int(urllib.parse.parse_qs(parts.query).get("count", ["1"])[0])
            with lock:
                done = finish(count, time.time())
            if args.callbacks:
                for task in done:
                    if task["callback"]:
                        threading.Thread(target=call_back, args=(task["callback"], task), daemon=True).start()
            return self.answer(200, {"finished": len(done)})
        if parts.path.startswith("/results/"):
            with lock:
                stats["result_bytes"] += len(video)
            return self.answer(200, video, "video/mp4")
        channel, task_id = self.channel()
        if channel is None:
            return self.answer(404, {"error": {"code": "NotFound", "message": "no such path"}})
        if channel == "refused":
            return
        now = time.time()
        if task_id:
            with lock:
                stats["get"] += 1
                task = tasks.get(task_id)
            if not task:
                return self.answer(404, {"error": {"code": "ResourceNotFound", "message": f"task {task_id} does not exist"}})
            return self.answer(200, view(task, now))
        query = urllib.parse.parse_qs(parts.query)
        ids = query.get("filter.task_ids", [])
        with lock:
            stats["list"] += 1
            stats["listed_ids"] += len(ids)
            found = [tasks[i] for i in ids if i in tasks]
        self.answer(200, {"total": len(found), "items": [view(t, now) for t in found]})

    def do_POST(self):
        channel, _ = self.channel()
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if channel is None:
            return self.answer(404, {"error": {"code": "NotFound", "message": "no such path"}})
        if channel == "refused":
            return
        now = time.time()
        task_id = f"cgt-{time.strftime('%Y%m%d%H%M%S')}-{random.getrandbits(40):010x}"
        callback = body.get("callback_url")
        ours = re.search(r"/upstream/ark/([^/]+)/", callback or "")
        # Without a callback URL, the client's tag in the prompt (`#tag-N`) names the task instead.
        tag = re.search(r"#(tag-\d+)", json.dumps(body.get("content", "")))
        task = {"id": task_id, "model": body.get("model", ""), "created": now, "callback": callback,
                "finished": None, "ours": ours.group(1) if ours else (tag.group(1) if tag else None)}
        with lock:
            stats["create"] += 1
            tasks[task_id] = task
            waiting.append(task_id)
            heapq.heappush(starting, (now + 1, task_id))
        self.answer(200, {"id": task_id})

    def do_DELETE(self):
        channel, task_id = self.channel()
        if channel in (None, "refused"):
            return None if channel else self.answer(404, {"error": {"code": "NotFound", "message": "no such path"}})
        with lock:
            stats["delete"] += 1
        self.answer(400, {"error": {"code": "InvalidParameter", "message": "only queued tasks can be cancelled"}})


threading.Thread(target=finisher, daemon=True).start()
server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
server.daemon_threads = True
server.serve_forever()
