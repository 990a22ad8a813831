"""The floor for any Python server on the slim base: no framework, no model, no imports beyond the
standard library; POST /predict answers a constant in the shape of ours. Its cold start is what
`docker run` plus starting CPython costs, which no Python app of the model can undercut."""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWER = json.dumps({"predictions": [{"label": "Adelie", "probabilities": {"Adelie": 1.0}}]}).encode()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(ANSWER)))
        self.end_headers()
        self.wfile.write(ANSWER)

    def log_message(self, *args: object) -> None:
        pass


ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8000"))), Handler).serve_forever()
