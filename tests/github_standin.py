"""A stand-in for GitHub's REST API: real HTTP on loopback, just enough state for the calls our code makes.

Used by the unit tests of `pipeline ci` and by the workflow tier (tests/e2e/workflows), where the workflows'
steps and the download-artifact stand-in reach it through `GITHUB_API_URL`. It checks the bearer token, answers
issue comments (list with pagination, create, update), releases, workflow runs and their artifacts (downloads
redirect to a second "blob storage" host, as GitHub's do), and records every request it saw.
"""

from __future__ import annotations

import io
import json
import re
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "ghs_" + "s3cr3t" * 6
REPO = "octo/ml-app"


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class State:
    token: str = TOKEN
    repo: str = REPO
    page_size: int = 2
    heads: dict[int, str] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    releases: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    artifacts: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    blobs: dict[int, bytes] = field(default_factory=dict)
    faults: list[int] = field(default_factory=list)  # statuses to answer with before serving normally
    seen: list[Seen] = field(default_factory=list)
    blob_seen: list[Seen] = field(default_factory=list)
    blob_base: str = ""
    next_id: int = 1000

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id


def _handler(state: State, *, blob: bool = False) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

        def _send(self, status: int, data: Any = None, headers: dict[str, str] | None = None) -> None:
            payload = (
                b"" if data is None else (data if isinstance(data, bytes) else json.dumps(data).encode())
            )
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            seen = Seen(
                self.command,
                parts.path,
                parse_qs(parts.query),
                dict(self.headers),
                json.loads(raw) if raw else None,
            )
            if blob:
                state.blob_seen.append(seen)
                self._send(
                    200, state.blobs[int(parts.path.rsplit("/", 1)[-1])], {"Content-Type": "application/zip"}
                )
                return
            state.seen.append(seen)
            if self.headers.get("Authorization") != f"Bearer {state.token}":
                self._send(401, {"message": "Bad credentials"})
                return
            if state.faults:
                self._send(state.faults.pop(0), {"message": "try again"}, {"Retry-After": "0"})
                return
            self._route(seen)

        def _route(self, seen: Seen) -> None:
            path, method, q = seen.path.removeprefix(f"/repos/{state.repo}"), seen.method, seen.query
            if m := re.fullmatch(r"/pulls/(\d+)", path):
                number = int(m.group(1))
                if number not in state.heads:
                    return self._send(404, {"message": "Not Found"})
                return self._send(200, {"number": number, "head": {"sha": state.heads[number]}})
            if (m := re.fullmatch(r"/issues/(\d+)/comments", path)) and method == "GET":
                items = state.comments.setdefault(int(m.group(1)), [])
                page = int(q.get("page", ["1"])[0])
                chunk = items[(page - 1) * state.page_size : page * state.page_size]
                headers = {}
                if page * state.page_size < len(items):
                    url = f"http://{self.headers['Host']}/repos/{state.repo}{path}?per_page=100&page={page + 1}"
                    headers["Link"] = f'<{url}>; rel="next"'
                return self._send(200, chunk, headers)
            if (m := re.fullmatch(r"/issues/(\d+)/comments", path)) and method == "POST":
                made = {
                    "id": state.new_id(),
                    "body": seen.body["body"],
                    "user": {"login": "github-actions[bot]"},
                    "html_url": f"https://github.test/{state.repo}/pull/{m.group(1)}#c",
                }
                state.comments.setdefault(int(m.group(1)), []).append(made)
                return self._send(201, made)
            if (m := re.fullmatch(r"/issues/comments/(\d+)", path)) and method == "PATCH":
                for items in state.comments.values():
                    for item in items:
                        if item["id"] == int(m.group(1)):
                            item["body"] = seen.body["body"]
                            return self._send(200, item)
                return self._send(404, {"message": "Not Found"})
            if m := re.fullmatch(r"/releases/tags/(.+)", path):
                found = state.releases.get(m.group(1))
                return self._send(200, found) if found else self._send(404, {"message": "Not Found"})
            if path == "/releases" and method == "POST":
                made = {
                    "id": state.new_id(),
                    **seen.body,
                    "html_url": f"https://github.test/r/{seen.body['tag_name']}",
                }
                state.releases[seen.body["tag_name"]] = made
                return self._send(201, made)
            if (m := re.fullmatch(r"/releases/(\d+)", path)) and method == "PATCH":
                for made in state.releases.values():
                    if made["id"] == int(m.group(1)):
                        made.update(seen.body)
                        return self._send(200, made)
            if m := re.fullmatch(r"/actions/workflows/([\w.-]+)/runs", path):
                sha = q.get("head_sha", [""])[0]
                runs = [r for r in state.runs if r["head_sha"] == sha and r.get("workflow", m.group(1)) == m.group(1)]
                return self._send(200, {"workflow_runs": runs})
            if m := re.fullmatch(r"/actions/runs/(\d+)/artifacts", path):
                name = q.get("name", [""])[0]
                found = [a for a in state.artifacts.get(int(m.group(1)), []) if a["name"] == name]
                return self._send(200, {"artifacts": found})
            if m := re.fullmatch(r"/actions/artifacts/(\d+)/zip", path):
                return self._send(302, None, {"Location": f"{state.blob_base}/blob/{m.group(1)}"})
            return self._send(404, {"message": f"no route for {method} {path}"})

        do_GET = do_POST = do_PATCH = _handle

    return Handler


def zip_dir(root: Path) -> bytes:
    """The bytes of a zip of every file under root, as GitHub serves an artifact."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            zf.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()


class GitHubStandIn:
    """Both servers (API and blob storage) on free loopback ports; use as a context manager."""

    def __init__(self, repo: str = REPO, token: str = TOKEN) -> None:
        self.state = State(token=token, repo=repo)
        self._servers = [
            ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state)),
            ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state, blob=True)),
        ]
        self.api_url = f"http://127.0.0.1:{self._servers[0].server_address[1]}"
        # The artifact store is another host, as GitHub redirects downloads to blob storage.
        self.state.blob_base = f"http://localhost:{self._servers[1].server_address[1]}"

    def __enter__(self) -> GitHubStandIn:
        for server in self._servers:
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def add_run(self, workflow: str, head_sha: str, artifacts: dict[str, Path], *, event: str = "push") -> int:
        """Record a finished run of `workflow` with the given artifact directories; returns its id."""
        run_id = self.state.new_id()
        self.state.runs.append({
            "id": run_id, "workflow": workflow, "head_sha": head_sha, "event": event, "conclusion": "success",
            "run_started_at": f"2026-11-{len(self.state.runs) + 1:02d}T00:00:00Z",
            "html_url": f"https://github.test/{self.state.repo}/actions/runs/{run_id}",
        })
        listed = self.state.artifacts.setdefault(run_id, [])
        for name, root in artifacts.items():
            artifact_id = self.state.new_id()
            self.state.blobs[artifact_id] = zip_dir(root)
            listed.append({"id": artifact_id, "name": name, "expired": False})
        return run_id

    def requests_to(self, method: str, pattern: str) -> list[Seen]:
        return [s for s in self.state.seen if s.method == method and re.search(pattern, s.path)]
