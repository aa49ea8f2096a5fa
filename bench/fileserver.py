#!/usr/bin/env python3
"""Serves files from a directory on loopback and counts the bytes it sends per path (GET /_bytes)."""
import http.server, json, os, sys, threading

root, port = sys.argv[1], int(sys.argv[2])
sent = {}
lock = threading.Lock()

class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/_bytes":
            body = json.dumps(sent).encode()
            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
            return
        path = os.path.join(root, os.path.basename(self.path))
        if not os.path.isfile(path):
            self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers(); return
        size = os.path.getsize(path)
        self.send_response(200); self.send_header("Content-Length", str(size)); self.end_headers()
        count = 0
        try:
            with open(path, "rb") as f:
                while chunk := f.read(65536):
                    self.wfile.write(chunk); count += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        with lock:
            sent[self.path] = sent.get(self.path, 0) + count

http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
