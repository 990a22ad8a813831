"""`pipeline deploy`, `pipeline promote`, `pipeline rollback` (--target heroku|local)."""

from __future__ import annotations

import argparse
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from model_server.model_meta import ModelMeta
from model_server.safe_load import ParseError, load_json
from pipeline.ci import github
from pipeline.commands.base import Context, Outcome
from pipeline.errors import ConfigError, PipelineError

if TYPE_CHECKING:  # the modules themselves load inside the commands: `pipeline --help` stays fast
    from pipeline.deploy.deployer import Deployer
    from pipeline.deploy.record import DeployRecord
    from pipeline.deploy.settings import Redactor, Target

log = logging.getLogger("pipeline.deploy")
_APP_NAME = re.compile(r"^[a-z][a-z0-9-]{1,28}[a-z0-9]$")


def _protect_logs(redact: Redactor) -> None:
    from pipeline.deploy.settings import RedactingFilter

    scrub = RedactingFilter(redact)
    for handler in logging.getLogger().handlers:
        handler.addFilter(scrub)
    logging.getLogger("pipeline").addFilter(scrub)


def _model_meta(ctx: Context) -> ModelMeta | None:
    """This checkout's trained model, when there is a readable one: promote and rollback need none."""
    from model_server.safe_load import read_json_object_or_none

    return ModelMeta.parse_or_none(read_json_object_or_none(ctx.paths.model_meta))


def _setup(ctx: Context, expect_model: bool) -> tuple[Target, Deployer, ModelMeta | None]:
    from model_server.contract import load_contract
    from pipeline.deploy.deadline import Deadline
    from pipeline.deploy.deployer import Deployer, Probe, Waits
    from pipeline.deploy.http import HerokuAPI
    from pipeline.deploy.registry import Registry
    from pipeline.deploy.settings import resolve_target
    from pipeline.deploy.smoke import sample_record

    args = ctx.args
    if args.timeout <= 0 or args.poll <= 0 or args.boot_wait <= 0:
        raise ConfigError("--timeout, --poll and --boot-wait must be positive numbers of seconds")
    target = resolve_target(args.target)
    _protect_logs(target.redactor())
    contract = load_contract(ctx.paths.root / ctx.params.gates.data.suite)
    meta = _model_meta(ctx)
    probe = Probe(
        sample_record(contract, ctx.params.data.features),
        list(meta.classes) if meta else None,
        meta.sha256 if meta and expect_model else None,
    )
    # The watch window is on top of --timeout, which keeps covering the deploy and a rollback after it.
    deadline = Deadline(args.timeout + (getattr(args, "watch", None) or 0.0))
    deployer = Deployer(
        HerokuAPI(target, deadline),
        Registry(target, deadline),
        probe,
        Waits(poll=args.poll, boot=args.boot_wait, ready=args.ready_wait),
    )
    return target, deployer, meta


def _record(ctx: Context, action: str, app: str, target: Target, meta: ModelMeta | None) -> DeployRecord:
    from pipeline.deploy.record import DeployRecord
    from pipeline.git import head_commit

    return DeployRecord(
        action, app, target.name, model_sha256=meta.sha256 if meta else None, git_commit=head_commit(ctx.paths.root)
    )


def _finish(ctx: Context, record: DeployRecord, error: PipelineError | None = None) -> Outcome:
    from pipeline.deploy.deployer import raise_for

    directory = Path(ctx.args.record_dir) if ctx.args.record_dir else ctx.paths.reports / "deploy"
    json_path, md_path = record.write(directory if directory.is_absolute() else ctx.paths.root / directory)
    if error is not None:
        github.append_summary(record.to_markdown())
        raise error
    raise_for(record)
    web = record.web_image or {}
    outputs = {
        "outcome": record.outcome,
        "app": record.app,
        "release_version": str((record.release or {}).get("version", "")),
        "image_digest": web.get("config_digest", ""),
        "manifest_digest": web.get("manifest_digest", ""),
        "record": ctx.paths.rel(json_path),
    }
    lines = [
        record.headline(),
        *record.notes,
        f"record: {ctx.paths.rel(json_path)} and {ctx.paths.rel(md_path)}",
        *_track(ctx, record),
    ]
    return Outcome(lines, summary_md=record.to_markdown(), outputs=outputs)


def _track(ctx: Context, record: DeployRecord) -> list[str]:
    """The registry follows the doors, only after a verified release (off unless tracking is configured).

    Here rather than in the deployer: the deployer knows Heroku, this knows which door was used. A tracking
    failure after a good deploy is a warning (or, with tracking.required, exit 4); the release stands.
    """
    from pipeline.tracking import doors
    from pipeline.tracking.settings import resolve

    settings = resolve(ctx.params.tracking)
    if settings is None or record.outcome not in {"deployed", "rollback", "noop"}:
        return []
    alias = ctx.args.track_alias or doors.DEFAULT_ALIASES[record.action]
    if record.action == "deploy":
        return doors.after_deploy(settings, ctx.paths.root, record, alias)
    if record.action == "promote":
        return doors.after_promote(settings, record, alias)
    return doors.after_rollback(settings, alias)


def _watcher(ctx: Context, app: str) -> Callable[[Deployer, DeployRecord], object] | None:
    """The watch window after a verified release (`--watch`), or None without one. Its source is checked
    here, before anything is released: a Prometheus that cannot be queried would roll back every deploy."""
    seconds = ctx.args.watch
    if not seconds:
        if ctx.args.prometheus_url:
            # Not an error: a workflow may share one PROMETHEUS_URL between apps that watch and apps that do not.
            log.warning("--prometheus-url is only read by the watch window, and there is none (no --watch)")
        return None
    from pipeline.deploy import watch

    thresholds = ctx.params.watch
    prometheus: watch.PrometheusMetrics | None = None
    if ctx.args.prometheus_url:
        prometheus = watch.PrometheusMetrics(ctx.args.prometheus_url, ctx.args.prometheus_job or app,
                                             thresholds.route)
        prometheus.preflight()

    # The app's METRICS_TOKEN (when its /metrics is protected) comes from the environment, never a flag.
    token = os.environ.get("METRICS_TOKEN") or None

    def run(web_url: str) -> watch.WatchResult:
        source: watch.MetricsSource = prometheus or watch.AppMetrics(
            web_url, thresholds.route, token=SecretStr(token) if token else None)
        log.info("watching %s for %.0f s through %s", app, seconds, source.description)
        return watch.watch(source, thresholds, seconds)

    return lambda deployer, record: deployer.watch(record, run, seconds)


def _release_then_watch(ctx: Context, deployer: Deployer, record: DeployRecord,
                        release: Callable[[], object]) -> Outcome:
    """Deploy and promote alike: release, then the watch window when `--watch` asks for one."""
    watching = _watcher(ctx, record.app)  # its source is checked before anything is released

    def operation() -> None:
        release()
        if watching:
            watching(deployer, record)

    return _run(ctx, deployer, record, operation)


def _deploy(ctx: Context) -> Outcome:
    # The image must serve the model this checkout's pipeline produced (models/model.json).
    target, deployer, meta = _setup(ctx, expect_model=True)
    record = _record(ctx, "deploy", ctx.args.app, target, meta)
    return _release_then_watch(ctx, deployer, record,
                               lambda: deployer.deploy(record, ctx.args.image, ctx.args.release_image))


def _run(ctx: Context, deployer: Deployer, record: DeployRecord, operation: Callable[[], object]) -> Outcome:
    """Run one deployer operation; its record is written and reported whether it succeeds or fails."""
    try:
        operation()
    except PipelineError as exc:
        return _finish(ctx, record, exc)
    finally:
        deployer.api.close()
    return _finish(ctx, record)


def _digests_from(ctx: Context) -> dict[str, str] | None:
    args = ctx.args
    if args.digest:
        types = args.process_types
        if len(args.digest) != len(types):
            raise ConfigError(
                f"--digest was given {len(args.digest)} time(s) for process types {types}; give one "
                "manifest digest per type, in the same order"
            )
        return dict(zip(types, args.digest, strict=True))
    if args.record:
        path = Path(args.record)
        try:
            staged = load_json(path.read_bytes())
        except (OSError, ParseError) as exc:
            raise ConfigError(
                f"{path}: cannot read the deploy record ({exc}); pass the JSON `pipeline deploy` "
                "wrote for the source app"
            ) from None
        if not isinstance(staged, dict):
            raise ConfigError(f"{path}: the deploy record is not a JSON object; pass the JSON `pipeline deploy` "
                              "wrote for the source app")
        if staged.get("app") != args.source or staged.get("outcome") not in {"deployed", "noop"}:
            raise ConfigError(
                f"{path}: the record is for {staged.get('app')!r} with outcome "
                f"{staged.get('outcome')!r}; promotion needs a verified deploy of {args.source!r}"
            )
        return {i["process_type"]: i["manifest_digest"] for i in staged.get("images", [])}
    return None


def _promote(ctx: Context) -> Outcome:
    # The digest proves what runs; the model is whatever staging verified, recorded as reported.
    target, deployer, meta = _setup(ctx, expect_model=False)
    digests = _digests_from(ctx)
    record = _record(ctx, "promote", ctx.args.app, target, meta)
    record.model_sha256 = None  # filled from what the promoted app reports
    return _release_then_watch(ctx, deployer, record,
                               lambda: deployer.promote(record, ctx.args.source, digests, ctx.args.process_types))


def _rollback(ctx: Context) -> Outcome:
    target, deployer, meta = _setup(ctx, expect_model=False)
    record = _record(ctx, "rollback", ctx.args.app, target, meta)
    record.model_sha256 = None  # a rollback runs an older image, whose model this checkout does not describe
    return _run(ctx, deployer, record, lambda: deployer.rollback(record, ctx.args.to))


def _app(value: str) -> str:
    if not _APP_NAME.match(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a Heroku app name (lowercase letters, digits and dashes, 3-30 characters)"
        )
    return value


def _digest(value: str) -> str:
    if not (value.startswith("sha256:") and len(value) == 71):
        raise argparse.ArgumentTypeError(f"{value!r} is not a manifest digest such as sha256:<64 hex>")
    return value


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def _duration(value: str) -> float:
    """10m, 90s, 1h or plain seconds; empty means no watch (a workflow passes its optional input as is)."""
    text = value.strip().lower()
    if not text:
        return 0.0
    unit = _UNITS.get(text[-1:])
    number = text[:-1] if unit else text
    try:
        seconds = float(number) * (unit or 1.0)
    except ValueError:
        seconds = -1.0
    if not (0 < seconds <= 24 * 3600):  # NaN fails this too
        raise argparse.ArgumentTypeError(f"{value!r} is not a duration such as 10m, 90s or 1h (at most 24h)")
    return seconds


def _watch_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--watch", type=_duration, metavar="DURATION",
                   help="after a verified release, watch the live metrics this long (10m, 90s) against the "
                        "thresholds in params.yaml `watch:`; a breach rolls back (default: no watch)")
    p.add_argument("--prometheus-url", metavar="URL",
                   help="read the watch window's metrics from this Prometheus (HTTP API) instead of the app's "
                        "/metrics")
    p.add_argument("--prometheus-job", metavar="JOB",
                   help="the Prometheus job label of the app's scrape targets (default: the app name)")


def _types(value: str) -> list[str]:
    return [t.strip() for t in value.split(",") if t.strip()]


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--target",
        choices=["heroku", "local"],
        default="heroku",
        help="heroku (api.heroku.com) or local (a running `heroku-local`); default heroku",
    )
    p.add_argument(
        "--timeout", type=float, default=900.0, help="hard overall timeout in seconds (default 900)"
    )
    p.add_argument("--poll", type=float, default=2.0, help="seconds between status polls (default 2)")
    p.add_argument(
        "--boot-wait",
        type=float,
        default=120.0,
        help="seconds for all dynos to be up after the release (default 120)",
    )
    p.add_argument(
        "--ready-wait",
        type=float,
        default=30.0,
        help="seconds for /ready to answer 200 once the dynos are up (default 30)",
    )
    p.add_argument("--record-dir", help="where the deploy record goes (default reports/deploy)")
    p.add_argument(
        "--track-alias",
        help="MLflow registry alias this door moves when tracking is on (default: deploy staging, promote and "
             "rollback production)",
    )


def register(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("deploy", help="push the image, release it on Heroku, verify it, or roll back")
    d.add_argument("--app", type=_app, required=True, help="Heroku app name (container stack)")
    d.add_argument("--image", required=True, help="local image to release as the web process (tag or id)")
    d.add_argument("--release-image", help="local image for the release phase (process type `release`)")
    _watch_flags(d)
    _common(d)
    d.set_defaults(handler=_deploy)

    p = sub.add_parser("promote", help="release the exact image that passed on one app (staging) on another")
    p.add_argument(
        "--from", dest="source", type=_app, required=True, help="the app whose verified image is promoted"
    )
    p.add_argument("--to", dest="app", type=_app, required=True, help="the app to release it on (production)")
    p.add_argument(
        "--digest",
        action="append",
        type=_digest,
        help="manifest digest to promote, one per process type (default: what the source app runs)",
    )
    p.add_argument("--record", help="the source app's deploy record JSON, instead of --digest")
    p.add_argument(
        "--process-types",
        type=_types,
        default=["web"],
        help="comma-separated process types to promote (default web; add release if used)",
    )
    _watch_flags(p)
    _common(p)
    p.set_defaults(handler=_promote)

    r = sub.add_parser("rollback", help="roll the app back to an earlier release and verify it")
    r.add_argument("--app", type=_app, required=True, help="Heroku app name")
    r.add_argument(
        "--to", help="release version (v12) or id to roll back to (default: the one before current)"
    )
    _common(r)
    r.set_defaults(handler=_rollback)
