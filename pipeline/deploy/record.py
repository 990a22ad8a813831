"""The deploy record: what went where, proven how. JSON for artifacts, Markdown for the job summary.

Nothing secret goes in: the record holds names, versions, digests and the smoke result only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.io import write_json, write_text

OUTCOMES = {
    "deployed": "deployed and verified",
    "noop": "already live, nothing to do",
    "rolled_back": "failed verification, rolled back",
    "failed": "failed",
    "rollback": "rolled back on request",
}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def watch_line(watch: dict[str, Any]) -> str:
    """The watch window in one cell: verdict, duration, source, the figures it judged."""
    if watch.get("verdict") == "blind":
        return f"metrics unreadable: {watch.get('problem')}"
    figures = watch.get("figures") or {}

    def show(value: Any, unit: str = "") -> str:
        return "n/a" if value is None else f"{value:g}{unit}"

    drift = show(figures.get("drift_psi_max"))
    if figures.get("drift_feature"):
        drift += f" ({figures['drift_feature']})"
    return (
        f"{watch.get('verdict')} after {watch.get('seconds')} of {watch.get('planned_seconds')} s, "
        f"{watch.get('reads')} reads of {watch.get('source')}: {figures.get('requests')} requests, "
        f"error rate {show(figures.get('error_rate'))}, p99 {show(figures.get('p99_seconds'), ' s')}, "
        f"drift PSI {drift}, prediction shift {show(figures.get('prediction_shift_psi'))} "
        f"over {show(figures.get('drift_records'))} records"
    )


@dataclass
class DeployRecord:
    action: str  # deploy | promote | rollback
    app: str
    target: str
    outcome: str = "failed"
    started_at: str = field(default_factory=now)
    finished_at: str | None = None
    seconds: float | None = None
    release: dict[str, Any] | None = None  # {id, version, status}
    previous_release: dict[str, Any] | None = None
    rolled_back_to: dict[str, Any] | None = None
    images: list[dict[str, str]] = field(default_factory=list)
    source_app: str | None = None
    model_sha256: str | None = None
    git_commit: str | None = None
    smoke: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None  # {step, code, message}
    watch: dict[str, Any] | None = None  # the watch window: source, seconds, verdict, figures, breaches
    notes: list[str] = field(default_factory=list)

    @property
    def web_image(self) -> dict[str, str] | None:
        return next((i for i in self.images if i.get("process_type") == "web"), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def headline(self) -> str:
        version = f" v{self.release['version']}" if self.release else ""
        text = f"{self.action} {self.app}{version}: {OUTCOMES.get(self.outcome, self.outcome)}"
        if self.rolled_back_to:
            text += f" (now on v{self.rolled_back_to['version']})"
        return text

    def to_markdown(self) -> str:
        icon = "✅" if self.outcome in {"deployed", "noop", "rollback"} else "❌"
        rows: list[tuple[str, str]] = [("app", f"`{self.app}` ({self.target})")]
        if self.source_app:
            rows.append(("promoted from", f"`{self.source_app}`"))
        if self.release:
            rows.append(("release", f"v{self.release['version']} ({self.release.get('status', '?')})"))
        if self.previous_release:
            rows.append(("previous release", f"v{self.previous_release['version']}"))
        if self.rolled_back_to:
            rows.append(("rolled back to", f"v{self.rolled_back_to['version']}"))
        for image in self.images:
            rows.append(
                (
                    f"image ({image['process_type']})",
                    f"`{image['config_digest'][:19]}…` manifest `{image['manifest_digest'][:19]}…`",
                )
            )
        rows.append(("model sha256", f"`{self.model_sha256[:12]}`" if self.model_sha256 else "unknown"))
        rows.append(("git commit", f"`{self.git_commit[:12]}`" if self.git_commit else "unknown"))
        if self.smoke:
            verdict = "passed" if self.smoke.get("passed") else f"failed: {self.smoke.get('problem')}"
            rows.append(
                (
                    "smoke test",
                    f"{verdict} (/ready {self.smoke.get('ready_status')}, "
                    f"/predict {self.smoke.get('predict_status')})",
                )
            )
        if self.watch:
            rows.append(("watch window", watch_line(self.watch)))
        if self.failure:
            code = f" [{self.failure['code']}]" if self.failure.get("code") else ""
            rows.append(("failed at", f"{self.failure['step']}{code}: {self.failure['message']}"))
        if self.seconds is not None:
            rows.append(("duration", f"{self.seconds:.1f} s"))
        lines = [f"### {icon} {self.headline()}", "", "| | |", "|---|---|"]
        lines += [f"| {k} | {v.replace('|', '/')} |" for k, v in rows]
        lines += [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"

    def write(self, directory: Path) -> tuple[Path, Path]:
        stem = f"{self.action}-{self.app}"
        json_path, md_path = directory / f"{stem}.json", directory / f"{stem}.md"
        write_json(json_path, self.to_dict())
        write_text(md_path, self.to_markdown())
        return json_path, md_path
