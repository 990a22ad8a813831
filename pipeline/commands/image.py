"""`pipeline image build` / `pipeline image run`: the serving image through the Docker Engine API."""

from __future__ import annotations

import argparse
import socket
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline import git
from pipeline.commands.base import Context, Outcome
from pipeline.container import record
from pipeline.errors import GateFailed, UsageError

if TYPE_CHECKING:
    from pipeline.deploy.smoke import SmokeResult


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    """KEY=VALUE pairs; one value may hold several, one per line (a multi-line workflow input), blanks skipped."""
    out = {}
    for item in (line.strip() for value in values or [] for line in value.splitlines()):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{flag} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _build(ctx: Context) -> Outcome:
    from pipeline.container import image

    context = Path(ctx.args.context).resolve() if ctx.args.context else ctx.paths.root
    spec = image.BuildSpec(
        context=context,
        repository=ctx.args.repository,
        dockerfile=ctx.args.dockerfile,
        git_commit=ctx.args.git_commit or git.head_commit(context) or "unknown",
        build_args=_pairs(ctx.args.build_arg, "--build-arg"),
        # An empty --network (a workflow input left blank) means the engine's default.
        network_mode=ctx.args.network or None,
        platform=ctx.args.platform,
        pull=ctx.args.pull,
        # An empty --cache-from (a workflow input left blank) means no cache.
        cache_from=tuple(ref for ref in ctx.args.cache_from or [] if ref),
        source=image.source_url(context),
    )
    built = image.build(image.connect(), spec, progress=_progress if not ctx.args.quiet else lambda _l: None)
    written = record.write(ctx.paths, {"id": built.id, "tags": list(built.tags), "size": built.size,
                                       "model_sha256": built.model_sha256, "git_commit": spec.git_commit})
    lines = [f"image {built.id}", f"size {built.size_mb:.1f} MB", *(f"tag {t}" for t in built.tags),
             f"recorded in {ctx.paths.rel(written)}"]
    outputs = {"image": built.id, "image_id": built.id, "image_tag": built.tags[0],
               "model_sha256": built.model_sha256}
    return Outcome(lines, outputs=outputs)


def _run(ctx: Context) -> Outcome:
    from pipeline.container import image

    name = ctx.args.name or f"mlops-serve-{uuid.uuid4().hex[:8]}"
    # A smoke test must not collide with whatever already listens on 8000.
    port = ctx.args.port or (_free_port() if ctx.args.smoke else 8000)
    spec = image.RunSpec(
        image=record.image_or_last_built(ctx.paths, ctx.args.image),
        name=name,
        port=port,
        host_port=ctx.args.host_port,
        environment=_pairs(ctx.args.env, "--env"),
        user=ctx.args.user,
        cpus=ctx.args.cpus,
        memory=ctx.args.memory,
    )
    container = image.run(image.connect(), spec)
    url = f"http://127.0.0.1:{spec.host_port or spec.port}"
    if not ctx.args.smoke:
        seconds = image.wait_ready(url, container, timeout=ctx.args.timeout)
        return Outcome([f"ready in {seconds:.1f}s at {url} (container {name}); stop with `docker stop {name}`"],
                       outputs={"container": name, "url": url})
    try:
        seconds = image.wait_ready(url, container, timeout=ctx.args.timeout)
        result = _smoke(ctx, url)
    finally:
        # A smoke test leaves nothing running, pass or fail.
        container.remove(force=True)
    if not result.passed:
        raise GateFailed(f"container smoke test failed on {spec.image[:19]}: {result.problem}")
    return Outcome([f"smoke test passed: ready in {seconds:.1f}s, /predict answered {result.prediction!r:.120}"],
                   outputs={"smoke": "passed"})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _smoke(ctx: Context, url: str) -> SmokeResult:
    """The same probe a deploy runs on web_url: /ready, then one real /predict from the data contract."""
    from model_server.contract import load_contract
    from pipeline import model as model_io
    from pipeline.deploy.deadline import Deadline
    from pipeline.deploy.smoke import Probe, sample_record, smoke_test

    meta = model_io.verify(ctx.paths.model, ctx.paths.model_meta)
    contract = load_contract(ctx.paths.root / ctx.params.gates.data.suite)
    probe = Probe(sample=sample_record(contract, list(meta.features)), classes=list(meta.classes),
                  model_sha256=meta.sha256)
    return smoke_test(url, probe, Deadline(ctx.args.timeout), ready_within=ctx.args.timeout)


def register(sub: argparse._SubParsersAction) -> None:
    img = sub.add_parser("image", help="build or run the serving image (Docker Engine API)")
    ops = img.add_subparsers(dest="image_command", required=True, metavar="{build,run}")

    b = ops.add_parser("build", help="build the Dockerfile, tag it with the git commit and model hash")
    b.add_argument("--context", help="build context (default: the project root)")
    b.add_argument("--dockerfile", default="Dockerfile", help="path inside the context (default: Dockerfile)")
    b.add_argument("--repository", default="mlops-model", help="image repository name (default: mlops-model)")
    b.add_argument("--git-commit", help="commit to record (default: git rev-parse HEAD)")
    b.add_argument("--build-arg", action="append", metavar="KEY=VALUE",
                   help="e.g. PYTHON_IMAGE=local/python-base:3.11-ca on machines without Docker Hub "
                        "(repeatable; one value may hold several, one per line)")
    b.add_argument("--network", help="build network mode, e.g. host (needed behind some proxies)")
    b.add_argument("--platform", default="linux/amd64", help="target platform (default: linux/amd64, Heroku's)")
    b.add_argument("--pull", action="store_true", help="always pull a newer base image")
    b.add_argument("--cache-from", action="append", metavar="REF",
                   help="image to use as layer cache (repeatable; empty means none)")
    b.add_argument("-q", "--quiet", action="store_true", help="no build progress on stderr")
    b.set_defaults(handler=_build)

    r = ops.add_parser("run", help="start the image detached with $PORT set and wait for /ready")
    r.add_argument("image", nargs="?", help="image id or tag (default: the last `pipeline image build`)")
    r.add_argument("--name", help="container name (default: mlops-serve-<random>)")
    r.add_argument("--port", type=int, help="$PORT inside the container (default 8000; a free port with --smoke)")
    r.add_argument("--host-port", type=int, help="port on 127.0.0.1 (default: same as --port)")
    r.add_argument("--env", action="append", metavar="KEY=VALUE", help="extra environment, e.g. WEB_CONCURRENCY=2")
    r.add_argument("--user", help="uid[:gid] to run as (Heroku uses a random non-root uid)")
    r.add_argument("--cpus", type=float, help="CPU limit, e.g. 1")
    r.add_argument("--memory", help="memory limit, e.g. 512m")
    r.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for /ready (default 60)")
    r.add_argument("--smoke", action="store_true",
                   help="smoke test: /ready and one real /predict from the data contract, then remove the container")
    r.set_defaults(handler=_run)
