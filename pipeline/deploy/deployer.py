"""The deploy flow: release an image, prove it healthy, or put the previous release back.

    preflight  the app exists and is on the container stack
    push       web (and release, when the project has a release-phase image) -> registry, v2 manifest
    release    PATCH /apps/{app}/formation with the config digests (same images -> no release: a no-op)
    release-phase   follow the release (stream its output) until succeeded or failed
    boot       every dyno up on the new version (crashed -> R10/H10/... read from the platform's logs)
    smoke      /ready, then one real /predict from the data contract: response shape and model hash

Any failure once the release exists -> roll back to the release that was serving before
(POST /apps/{app}/releases {"release": id}), wait until it is healthy again, report the step and
Heroku's error code. A failed release phase needs no rollback: Heroku never made that release live.
The `DeployRecord` passed in is filled as the flow goes, so the caller can write it whatever happens.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from pipeline.deploy.http import AmbiguousResult, Answer, HerokuAPI
from pipeline.deploy.record import DeployRecord, now
from pipeline.deploy.registry import Image, Registry
from pipeline.deploy.smoke import Probe, SmokeResult, smoke_test
from pipeline.deploy.watch import WatchBlind, WatchResult
from pipeline.errors import ConfigError, ExternalError, GateFailed, PipelineError
from pipeline.gates.watch import reason

log = logging.getLogger("pipeline.deploy")

_R_CODE = re.compile(r"Error (R\d{2}) \(([^)]*)\)(?: -> (.*))?")
_H_CODE = re.compile(r'code=(H\d{2}) desc="([^"]*)"')
_EXIT = re.compile(r"Process exited with status (\d+)")
_DEPLOYED = re.compile(r"([-\w]{1,128}) \(([0-9a-f]{12})\)")
_ROLLBACK_TO = re.compile(r"Rollback to v(\d+)")


@dataclass(frozen=True)
class Waits:
    poll: float = 2.0  # between status polls; each poll spends one API token
    boot: float = 120.0  # dynos up within this (Heroku's own boot timeout is 60 s)
    ready: float = 30.0  # /ready answers 200 within this once the dynos are up


class VerificationFailed(Exception):
    def __init__(
        self, step: str, code: str, message: str, rollback: bool = True, smoke: SmokeResult | None = None
    ) -> None:
        super().__init__(message)
        self.step, self.code, self.message, self.rollback = step, code, message, rollback
        self.smoke = smoke

    def as_dict(self) -> dict[str, str]:
        return {"step": self.step, "code": self.code, "message": self.message}


def brief(release: dict[str, Any] | None) -> dict[str, Any] | None:
    if not release:
        return None
    return {k: release.get(k) for k in ("id", "version", "status", "description")}


def diagnose(lines: Sequence[str], dyno: str | None = None) -> tuple[str, str] | None:
    """Heroku's error code and words for a dyno, from platform log lines (newest wins)."""
    mine = [ln for ln in lines if dyno is None or f"[{dyno}]" in ln]
    for line in reversed(mine):
        if m := _R_CODE.search(line):
            detail = f"{m.group(2)}: {m.group(3)}" if m.group(3) else m.group(2)
            return m.group(1), detail
    for line in reversed(mine):
        if m := _EXIT.search(line):
            return "H10", f"App crashed: {dyno or 'a dyno'} exited with status {m.group(1)}"
    for line in reversed(lines):
        if m := _H_CODE.search(line):
            return m.group(1), m.group(2)
    return None


class Deployer:
    def __init__(self, api: HerokuAPI, registry: Registry, probe: Probe, waits: Waits = Waits()) -> None:
        self.api = api
        self.registry = registry
        self.probe = probe
        self.waits = waits
        self.deadline = api.deadline
        self.step = "preflight"
        # Older releases (rollbacks) run older models: for them only the shape is checked.
        self._any_model = replace(probe, model_sha256=None)

    # -- the three commands --------------------------------------------------------------------

    def deploy(self, record: DeployRecord, web_image: str, release_image: str | None = None) -> DeployRecord:
        with self._tracked(record):
            app = self._preflight(record.app)
            self.step = "push"
            images = [self.registry.push(web_image, record.app, "web")]
            if release_image:
                images.append(self.registry.push(release_image, record.app, "release"))
            record.images = [i.to_dict() for i in images]
            return self._release_and_verify(record, app, images)

    def promote(
        self,
        record: DeployRecord,
        source_app: str,
        digests: dict[str, str] | None,
        process_types: Sequence[str] = ("web",),
    ) -> DeployRecord:
        record.source_app = source_app
        with self._tracked(record):
            self._preflight(source_app)
            app = self._preflight(record.app)
            self.step = "copy"
            wanted = digests or self._live_digests(source_app, process_types)
            missing = [t for t in process_types if t not in wanted]
            if missing:
                raise ConfigError(f"no digest given for process type(s) {missing}; pass one per type")
            images = [self.registry.copy(source_app, record.app, t, wanted[t]) for t in process_types]
            record.images = [i.to_dict() for i in images]
            return self._release_and_verify(record, app, images)

    def rollback(self, record: DeployRecord, to: str | None = None) -> DeployRecord:
        with self._tracked(record):
            app = self._preflight(record.app)
            releases = self.api.releases(record.app, 50)
            live = next((r for r in releases if r.get("current")), None)
            if live is None:
                raise ConfigError(f"{record.app} has no current release; there is nothing to roll back from")
            target = self._rollback_target(releases, live, to)
            record.previous_release = brief(live)
            self.step = "rollback"
            try:
                release = self._roll_to(record.app, target)
                record.release = brief(release)
                smoke = self._verify(app, release, expect_model=False)
                record.smoke = smoke.to_dict()
                record.outcome = "rollback"
            except VerificationFailed as failure:
                record.failure = failure.as_dict()
                record.smoke = failure.smoke.to_dict() if failure.smoke else None
                record.outcome = "failed"
            return record

    def watch(self, record: DeployRecord, run_watch: Callable[[str], WatchResult], planned: float) -> DeployRecord:
        """After a verified deploy or promote: watch the live app for `planned` seconds (run_watch gets its
        web URL), and on a breach roll back to the release that was serving before, as a failed smoke test
        would. Metrics that cannot be read mid-window also roll back (the release was not shown healthy),
        and end as an ExternalError (exit 4) rather than a breach (exit 1)."""
        if record.outcome != "deployed":
            return record  # nothing new is live (noop) or it already failed and was handled
        deployed_in = record.seconds or 0.0
        try:
            return self._watch(record, run_watch, planned)
        finally:  # the record's duration stays the whole command's, deploy and window together
            record.seconds = round(deployed_in + (record.seconds or 0.0), 2)

    def _watch(self, record: DeployRecord, run_watch: Callable[[str], WatchResult], planned: float) -> DeployRecord:
        with self._tracked(record):
            app = self._preflight(record.app)
            self.step = "watch"
            try:
                result = run_watch(app["web_url"])
            except WatchBlind as exc:
                record.watch = {"verdict": "blind", "planned_seconds": planned, "problem": str(exc)}
                record.failure = {"step": "watch", "code": "metrics_unreadable", "message": str(exc)}
                record.outcome = "failed"
                self._recover(record, app, record.previous_release, str(exc))
                raise ExternalError(failure_message(record)) from None
            record.watch = result.to_dict(planned)
            if result.breached:
                why = f"{reason(result.verdict)} after {result.seconds:.0f} s"
                first = result.verdict.findings[0]
                record.failure = {"step": "watch", "code": f"breach:{first.rule}", "message": why}
                record.outcome = "failed"
                self._recover(record, app, record.previous_release, why)
            return record

    # -- steps ---------------------------------------------------------------------------------

    @contextmanager
    def _tracked(self, record: DeployRecord) -> Iterator[None]:
        """Every operation records how it ended: a failure's step and error, the finish time, the duration."""
        started = time.monotonic()
        try:
            yield
        except PipelineError as exc:
            if record.failure is None:
                record.failure = {"step": self.step, "code": type(exc).__name__, "message": str(exc)}
            if record.outcome not in {"rolled_back"}:
                record.outcome = "failed"
            raise
        finally:
            record.finished_at = now()
            record.seconds = round(time.monotonic() - started, 2)

    def _preflight(self, name: str) -> dict[str, Any]:
        app = self.api.app(name)
        stacks = {(app.get("stack") or {}).get("name"), (app.get("build_stack") or {}).get("name")}
        if "container" not in stacks:
            raise ConfigError(
                f"app {name!r} is on the {(app.get('stack') or {}).get('name')!r} stack; "
                f"container deploys need `heroku stack:set container --app {name}`"
            )
        if not app.get("web_url"):
            raise ConfigError(f"app {name!r} has no web_url; the smoke test needs one")
        return app

    def _release_and_verify(
        self, record: DeployRecord, app: dict[str, Any], images: list[Image]
    ) -> DeployRecord:
        name = record.app
        before = self.api.releases(name, 10)
        live = next((r for r in before if r.get("current")), None)
        record.previous_release = brief(live)
        updates = [{"type": i.process_type, "docker_image": i.config_digest} for i in images]
        self.step = "release"
        answers: list[Answer] = []

        def release_images() -> Answer:
            answers.append(self.api.update_formation(name, updates))
            return answers[-1]

        release = self._create_release(name, before[0] if before else None, release_images)
        if release is None:
            record.outcome = "noop"
            record.release = brief(live)
            warning = next((a.warning for a in answers if a.warning), None)
            record.notes.append(
                f"image {images[0].config_digest[:19]} is already live"
                + (f" as v{live['version']}" if live else "")
                + (f" (Heroku: {warning})" if warning else "")
                + "; nothing to do"
            )
            return record
        record.release = brief(release)
        log.info("released %s v%s (%s)", name, release["version"], release.get("status"))
        try:
            smoke = self._verify(app, release)
            record.smoke = smoke.to_dict()
            record.model_sha256 = smoke.model_sha256 or record.model_sha256
            record.release = brief(self.api.release(name, release["id"]))
            record.outcome = "deployed"
        except VerificationFailed as failure:
            record.failure = failure.as_dict()
            record.smoke = failure.smoke.to_dict() if failure.smoke else None
            record.outcome = "failed"
            if failure.rollback:
                self._recover(record, app, live, failure.message)
            elif live is not None:
                still = smoke_test(
                    app["web_url"], self._any_model, self.deadline, ready_within=self.waits.ready
                )
                record.notes.append(
                    f"v{live['version']} is still live: smoke test "
                    + ("passed" if still.passed else f"failed ({still.problem})")
                )
        except PipelineError as exc:
            # The platform or the network failed mid-verification: still put the old release back.
            record.failure = {"step": self.step, "code": type(exc).__name__, "message": str(exc)}
            record.outcome = "failed"
            self._recover(record, app, live, str(exc))
        return record

    def _recover(
        self, record: DeployRecord, app: dict[str, Any], live: dict[str, Any] | None, why: str
    ) -> None:
        if live is None:
            record.notes.append("no earlier release to roll back to; the app stays on the failed release")
            return
        try:
            rolled = self._roll_to(record.app, live)
            self._verify(app, rolled, expect_model=False)
        except (VerificationFailed, PipelineError) as exc:
            message = exc.message if isinstance(exc, VerificationFailed) else str(exc)
            record.notes.append(f"rollback to v{live['version']} also failed: {message}")
            raise ExternalError(
                f"deploy of {record.app} failed ({why}) and the rollback to v{live['version']} failed too "
                f"({message}); run `pipeline rollback --app {record.app} --to v{live['version']}`"
            ) from None
        record.rolled_back_to = {**(brief(rolled) or {}), "to_version": live["version"]}
        record.outcome = "rolled_back"

    def _create_release(
        self, app: str, newest_before: dict[str, Any] | None, action: Callable[[], Answer | None]
    ) -> dict[str, Any] | None:
        """Run an action that may create a release and return that release, or None when the platform
        made none. A broken connection is reconciled through the releases list, never by re-sending
        blindly; an answer without a release is re-checked for a few seconds before it counts as none
        (unless the platform said why: "already running the specified docker image")."""
        floor = int(newest_before["version"]) if newest_before else 0

        def newer() -> dict[str, Any] | None:
            newest = self.api.releases(app, 1)
            return newest[0] if newest and int(newest[0]["version"]) > floor else None

        for _ in range(3):
            try:
                answer = action()
            except AmbiguousResult as exc:
                log.info("%s; checking whether it was applied", exc)
                if (found := newer()) is not None:
                    return found
                continue
            for attempt in range(4):
                if (found := newer()) is not None:
                    return found
                if (answer is not None and answer.warning) or attempt == 3:
                    return None
                self.deadline.sleep(1.0)
        raise ExternalError(
            f"Heroku API: could not create a release on {app} after 3 broken connections; "
            "nothing was released, re-run the deploy"
        )

    def _follow(self, app: str, release: dict[str, Any]) -> dict[str, Any]:
        url = release.get("output_stream_url")
        if release.get("status") == "pending" and url:
            log.info("running the release phase of v%s", release["version"])
            for line in self.api.stream_release_output(url):
                log.info("release v%s | %s", release["version"], line)
        while release.get("status") == "pending":
            self.deadline.check(f"the release phase of v{release['version']}")
            self.deadline.sleep(self.waits.poll)
            release = self.api.release(app, release["id"])
        return release

    def _wait_dynos(self, app: str, version: int) -> list[dict[str, Any]]:
        give_up = time.monotonic() + self.waits.boot
        while True:
            self.deadline.check(f"waiting for the dynos of v{version}")
            dynos = [d for d in self.api.dynos(app) if d.get("type") not in {"release", "run"}]
            fresh = [d for d in dynos if int((d.get("release") or {}).get("version", 0)) >= version]
            crashed = [d for d in fresh if d.get("state") == "crashed"]
            if crashed:
                dyno = crashed[0]["name"]
                code, words = diagnose(self.api.recent_logs(app), dyno) or ("crashed", f"{dyno} crashed")
                raise VerificationFailed("boot", code, f"{dyno} crashed on v{version}: {code} {words}")
            if (
                any(d.get("type") == "web" for d in dynos)
                and len(fresh) == len(dynos)
                and all(d.get("state") == "up" for d in dynos)
            ):
                return dynos
            if time.monotonic() >= give_up:
                states = (
                    ", ".join(
                        f"{d['name']} {d.get('state')} (v{(d.get('release') or {}).get('version')})"
                        for d in dynos
                    )
                    or "no web dynos (scale with `heroku ps:scale web=1`)"
                )
                # Heroku restarts a crashed dyno at once, so polls can miss the crash: ask the logs.
                found = diagnose(self.api.recent_logs(app), "web.1")
                code, words = found if found else ("timeout", "no error in the platform log")
                raise VerificationFailed(
                    "boot",
                    code,
                    f"dynos not all up on v{version} after {self.waits.boot:.0f} s: {states}; {code} {words}",
                )
            self.deadline.sleep(self.waits.poll)

    def _verify(self, app: dict[str, Any], release: dict[str, Any], expect_model: bool = True) -> SmokeResult:
        self.step = "release-phase"
        release = self._follow(app["name"], release)
        if release.get("status") == "failed":
            raise VerificationFailed(
                "release-phase",
                "release_failed",
                f"the release command failed on v{release['version']}; Heroku did not make "
                "it live, the previous release keeps serving",
                rollback=False,
            )
        self.step = "boot"
        self._wait_dynos(app["name"], int(release["version"]))
        self.step = "smoke"
        probe = self.probe if expect_model else self._any_model
        smoke = smoke_test(app["web_url"], probe, self.deadline, ready_within=self.waits.ready)
        if not smoke.passed:
            code = "smoke_mismatch" if smoke.predict_status == 200 else "smoke_failed"
            if smoke.ready_status == 503:
                found = diagnose(self.api.recent_logs(app["name"]))
                code = found[0] if found else code
            raise VerificationFailed("smoke", code, f"v{release['version']} {smoke.problem}", smoke=smoke)
        log.info("v%s is healthy: /ready 200, /predict answered %s", release["version"], smoke.prediction)
        return smoke

    def _roll_to(self, app: str, target: dict[str, Any]) -> dict[str, Any]:
        log.info("rolling %s back to v%s", app, target["version"])
        newest = self.api.releases(app, 1)

        def roll() -> None:
            self.api.rollback(app, target["id"])

        release = self._create_release(app, newest[0] if newest else None, roll)
        if release is None:
            raise ExternalError(
                f"Heroku API: the rollback of {app} to v{target['version']} created no release"
            )
        return release

    @staticmethod
    def _rollback_target(
        releases: list[dict[str, Any]], live: dict[str, Any], to: str | None
    ) -> dict[str, Any]:
        if to:
            wanted = to.lstrip("v")
            found = next((r for r in releases if str(r["version"]) == wanted or r["id"] == to), None)
            if found is None:
                raise ConfigError(
                    f"release {to!r} is not among the last {len(releases)} releases; "
                    "pass a version such as v12 (see `heroku releases`)"
                )
            if found.get("status") != "succeeded" or found.get("eligible_for_rollback") is False:
                raise ConfigError(
                    f"release v{found['version']} is {found.get('status')} and cannot be rolled back "
                    "to; pick a succeeded release"
                )
            return found
        for release in releases:
            if (
                int(release["version"]) < int(live["version"])
                and release.get("status") == "succeeded"
                and release.get("eligible_for_rollback", True)
            ):
                return release
        raise ConfigError(f"no earlier succeeded release than v{live['version']} to roll back to")

    def _live_digests(self, app: str, process_types: Sequence[str]) -> dict[str, str]:
        """Manifest digests of what `app` runs now, proven by its release descriptions.

        The registry's `latest` may hold an image whose deploy failed and was rolled back, so it is
        only trusted when the live release says it deployed that very image ("Deployed web (<id>)").
        """
        releases = {int(r["version"]): r for r in self.api.releases(app, 50)}
        live = next((r for r in releases.values() if r.get("current")), None)
        hops = 0
        while live is not None and (m := _ROLLBACK_TO.search(live.get("description") or "")) and hops < 50:
            live, hops = releases.get(int(m.group(1))), hops + 1
        short_ids = dict(_DEPLOYED.findall((live or {}).get("description") or ""))
        digests: dict[str, str] = {}
        for process_type in process_types:
            manifest, digest = self.registry.manifest(app, process_type, "latest")
            config = manifest["config"]["digest"]
            if short_ids.get(process_type) != config[7:19]:
                raise ConfigError(
                    f"cannot prove that {app}'s {process_type} image {config[:19]} is the one it runs "
                    f"(live release says {(live or {}).get('description')!r}); pass --digest or --record "
                    f"from the {app} deploy"
                )
            digests[process_type] = digest
        return digests


def failure_message(record: DeployRecord) -> str:
    failure = record.failure or {}
    text = f"{record.action} of {record.app} failed at {failure.get('step')}: {failure.get('message')}"
    if record.rolled_back_to:
        text += (
            f"; rolled back to v{record.rolled_back_to['to_version']} "
            f"(now v{record.rolled_back_to['version']}), which passed the smoke test again"
        )
    elif failure.get("step") == "release-phase" and record.previous_release:
        text += f" (v{record.previous_release['version']} still live)"
    return text


def raise_for(record: DeployRecord) -> None:
    """Turn a finished record into the CLI's outcome: a failed verification is a gate that said no."""
    if record.outcome in {"failed", "rolled_back"}:
        raise GateFailed(failure_message(record), markdown=record.to_markdown())
