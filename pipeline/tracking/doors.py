"""Tracking at the pipeline's doors: after `dvc repro` (log the run), on a staging deploy (register a version,
alias `staging`), on promotion (alias `production` to that same version) and on rollback (alias moved back).

Each function returns the lines to print. Every network call goes through `guard.guarded`: without a
reachable server the deploy itself has already happened and stands; the lines say tracking was skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import ConfigError
from pipeline.params import Params
from pipeline.paths import Paths
from pipeline.tracking import run_inputs
from pipeline.tracking.guard import guarded, protect_logs
from pipeline.tracking.settings import TrackingSettings

if TYPE_CHECKING:
    from pipeline.deploy.record import DeployRecord
    from pipeline.tracking.mlflow_store import MlflowStore, VersionMetrics

DEFAULT_ALIASES = {"deploy": "staging", "promote": "production", "rollback": "production"}


def _store(settings: TrackingSettings) -> MlflowStore:
    protect_logs(settings)
    from pipeline.tracking.mlflow_store import MlflowStore

    try:
        return MlflowStore(settings)
    except ImportError:
        # Tracking configured on a core install: a tracking failure like any other (warning, or exit 4).
        raise RuntimeError("mlflow is not installed; install the extra: pip install "
                           "'mlops-ci-pipeline[tracking]'") from None


def log_run(settings: TrackingSettings, params: Params, paths: Paths, git_commit: str | None) -> list[str]:
    run = run_inputs.collect(params, paths, git_commit)  # a stale dvc.lock is refused before any network call
    logged = guarded(settings, "logging the pipeline run", lambda: _store(settings).log_run(run))
    if logged is None:
        return ["tracking: run not logged (see the warning above)"]
    if logged.created:
        return [f"tracking: logged run {logged.run_id} ({len(run.metrics)} metrics, {len(run.params)} params): "
                f"{logged.url}"]
    return [f"tracking: run {logged.run_id} already logged for these inputs (run key {run.run_key[:12]}); "
            f"nothing new: {logged.url}"]


def _deploy_tags(record: DeployRecord) -> dict[str, str]:
    web = record.web_image or {}
    tags = {
        "image_digest": web.get("config_digest", ""),
        "manifest_digest": web.get("manifest_digest", ""),
        "release": str((record.release or {}).get("version", "")),
        "commit": record.git_commit or "",
        "app": record.app,
    }
    return {k: v for k, v in tags.items() if v}


def after_deploy(settings: TrackingSettings, root: Path, record: DeployRecord, alias: str) -> list[str]:
    """A verified deploy of this checkout: register the model of its tracked run and point `alias` at it."""
    def register() -> str:
        key = _run_key(root)
        store = _store(settings)
        run = store.find_run(key)
        if run is None:
            raise LookupError(f"no tracked run for this commit's pipeline (run key {key[:12]}); run "
                                "`pipeline track log` after `dvc repro` in the build job")
        version, created = store.register(run.run_id, _deploy_tags(record))
        move = store.move_alias(alias, version)
        verb = "registered" if created else "reused"
        return (f"tracking: {verb} {settings.model_name} version {version} (run {run.run_id}); alias "
                f"{alias!r} now on version {version}" + (f" (was {move.previous})" if move.previous else ""))

    return _one_line(settings, f"registering the deployed model as {alias!r}", register)


def after_promote(settings: TrackingSettings, record: DeployRecord, alias: str) -> list[str]:
    """The promoted image is the one staging verified: move `alias` to the version registered for its digest."""
    digest = (record.web_image or {}).get("config_digest", "")
    if not digest:
        return ["tracking: the promotion recorded no image digest; no alias moved"]

    def promote() -> str:
        store = _store(settings)
        version = store.version_with_tag("image_digest", digest)
        if version is None:
            raise LookupError(f"no version of {settings.model_name} carries image digest {digest[:19]}; "
                                "was its staging deploy tracked?")
        release = str((record.release or {}).get("version", ""))
        if release:
            store.client.set_model_version_tag(settings.model_name, version, f"release.{record.app}", release)
        move = store.move_alias(alias, version)
        return (f"tracking: alias {alias!r} of {settings.model_name} now on version {version}"
                + (f" (was {move.previous})" if move.previous else ""))

    return _one_line(settings, f"moving alias {alias!r}", promote)


def after_rollback(settings: TrackingSettings, alias: str) -> list[str]:
    def roll_back() -> str:
        move = _store(settings).roll_back_alias(alias)
        return f"tracking: alias {alias!r} of {settings.model_name} moved back to version {move.version} " \
               f"(from {move.previous})"

    return _one_line(settings, f"moving alias {alias!r} back", roll_back)


def _run_key(root: Path) -> str:
    # A deploy has already happened when this runs: a missing or odd dvc.lock is a tracking problem (warning or
    # error per tracking.required), not a reason to fail the deploy as bad config.
    try:
        return run_inputs.run_key(run_inputs.read_lock(root))
    except ConfigError as exc:
        raise LookupError(str(exc)) from None


def _one_line(settings: TrackingSettings, action: str, call: Any) -> list[str]:
    line = guarded(settings, action, call)
    return [line] if line is not None else [f"tracking: skipped {action} (see the warning above)"]


def report_inputs(settings: TrackingSettings, root: Path) -> tuple[str | None, VersionMetrics | None] | None:
    """The URL of this checkout's tracked run (None if not logged) and the `production` version's metrics."""
    def look_up() -> tuple[str | None, VersionMetrics | None]:
        store = _store(settings)
        try:
            run = store.find_run(_run_key(root))
        except LookupError:  # no complete dvc.lock: nothing of this checkout can have been logged
            run = None
        return (run.url if run else None), store.alias_metrics("production")

    return guarded(settings, "reading the run and the production version", look_up)
