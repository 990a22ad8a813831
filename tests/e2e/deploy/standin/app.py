"""Stand-in for the serving app in deploy tests: a stdlib HTTP server whose behaviour the image picks.

MODE (baked into each test image): good | badshape | noport | loopback | crash | stubborn | hog |
release-ok | release-fail | spike (answers /predict like good until its /metrics is first read, which
the watch window does at its start, right after the smoke test; from then on every /predict is a 500,
counted on /metrics under the serving app's metric names). VERSION tells images apart (and gives each its own image id);
MODEL_SHA256 is the model hash the /predict answer reports, as the real serving app does.
"""

import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = os.environ.get("MODE", "good")
VERSION = os.environ.get("VERSION", "0")
CLASSES = ["Adelie", "Chinstrap", "Gentoo"]
ANSWERED = {}  # status -> /predict answers (spike mode's /metrics)
WATCHED = []  # non-empty once /metrics was read: the spike begins


def exposition():
    lines = ["# HELP http_requests_total HTTP requests", "# TYPE http_requests_total counter"]
    for status, count in sorted(ANSWERED.items()):
        lines.append(f'http_requests_total{{route="/predict",method="POST",status="{status}"}} {count}')
    return ("\n".join(lines) + "\n").encode()


class Handler(BaseHTTPRequestHandler):
    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/ready":
            self._send(200, {"status": "ready", "uid": os.getuid(), "port": os.environ.get("PORT")})
        elif self.path == "/metrics" and MODE == "spike":
            data = exposition()
            WATCHED.append(True)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif self.path == "/version":
            self._send(200, {"version": VERSION, "mode": MODE})
        else:
            self._send(404, {"detail": "not found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        record = json.loads(self.rfile.read(length) or b"{}")
        if self.path != "/predict" or not isinstance(record, dict):
            self._send(422, {"detail": "send one record"})
        elif MODE == "badshape":
            self._send(200, {"result": "Adelie"})
        elif MODE == "spike" and WATCHED:
            ANSWERED[500] = ANSWERED.get(500, 0) + 1
            self._send(500, {"detail": "internal error"})
        else:
            probabilities = {"Adelie": 0.8, "Chinstrap": 0.15, "Gentoo": 0.05}
            body = {"predictions": [{"label": "Adelie", "probabilities": probabilities}]}
            if os.environ.get("MODEL_SHA256"):
                body["model_sha256"] = os.environ["MODEL_SHA256"]
            ANSWERED[200] = ANSWERED.get(200, 0) + 1
            self._send(200, body)

    def log_message(self, fmt, *args):
        print(f"{self.command} {self.path} {args[1] if len(args) > 1 else ''}", flush=True)


def main():
    print(f"stand-in {MODE} v{VERSION} starting as uid {os.getuid()}", flush=True)
    if MODE == "release-ok":
        print("running migrations... done", flush=True)
        return 0
    if MODE == "release-fail":
        print("migration 0042 failed: column already exists", flush=True)
        return 1
    if MODE == "crash":
        print("Traceback (most recent call last): ImportError: no module named 'model'", flush=True)
        return 1
    if MODE == "noport":
        while True:
            time.sleep(3600)
    if MODE == "hog":
        hoard = b"x" * (900 * 1024 * 1024)  # well over a 512 MB dyno: the kernel OOM-kills it (R15)
        print(f"holding {len(hoard)} bytes", flush=True)
    if MODE == "stubborn":
        signal.signal(signal.SIGTERM, lambda *_: print("ignoring SIGTERM", flush=True))
    host = "127.0.0.1" if MODE == "loopback" else "0.0.0.0"
    server = ThreadingHTTPServer((host, int(os.environ["PORT"])), Handler)
    print(f"listening on {host}:{os.environ['PORT']}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
