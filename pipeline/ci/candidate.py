"""The release candidate: which image passed staging for which commit, and fetching it back on a release tag.

The deploy workflow writes a small JSON record after a verified staging deploy and uploads it, with the
image archive, as artifacts of its run. The release workflow finds that run for the tagged commit, downloads
both, and promotes only when the record names the same commit: the digest that passed is the one that ships.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from model_server.safe_load import read_json
from pipeline.ci.api import GitHub
from pipeline.errors import DataError, GateFailed
from pipeline.io import write_json

RECORD = "candidate.json"
_IMAGE_ID = re.compile(r"^sha256:[0-9a-f]{64}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_APP = re.compile(r"^[a-z][a-z0-9-]{1,29}$")  # Heroku app names
_MAX_ARTIFACT = 4 << 30


@dataclass(frozen=True)
class Candidate:
    commit: str
    image: str
    image_id: str
    app: str
    run_url: str = ""

    def __post_init__(self) -> None:
        problems = []
        if not _COMMIT.match(self.commit):
            problems.append(f"commit must be 40 hex characters, got {self.commit[:50]!r}")
        if not _IMAGE_ID.match(self.image_id):
            problems.append(f"image_id must be sha256:<64 hex>, got {self.image_id[:80]!r}")
        if not self.image or len(self.image) > 256 or any(c.isspace() for c in self.image):
            problems.append(f"image must be an image reference, got {self.image[:80]!r}")
        if not _APP.match(self.app):
            problems.append(f"app must be a Heroku app name, got {self.app[:40]!r}")
        if problems:
            raise DataError("release candidate: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Candidate:
        if not isinstance(data, dict):
            raise DataError(f"{where}: expected a JSON object")
        known = {"commit", "image", "image_id", "app", "run_url"}
        missing = sorted({"commit", "image", "image_id", "app"} - set(data))
        if missing:
            raise DataError(
                f"{where}: missing {', '.join(missing)}; was it written by `pipeline ci candidate write`?"
            )
        return cls(**{k: str(v) for k, v in data.items() if k in known})


def write(path: Path, candidate: Candidate) -> Path:
    write_json(path, asdict(candidate))
    return path


def read(path: Path, *, commit: str | None = None) -> Candidate:
    candidate = Candidate.from_dict(read_json(path, "release candidate"), str(path))
    if commit is not None and candidate.commit != commit:
        raise GateFailed(
            f"{path}: the staged image was built from {candidate.commit[:12]}, not {commit[:12]}; "
            "tag the commit that was deployed to staging"
        )
    return candidate


def find_run(gh: GitHub, workflow: str, commit: str) -> dict[str, Any]:
    """The newest successful push run of `workflow` for `commit`."""
    runs = gh.json(
        "GET",
        f"{gh.repo_path}/actions/workflows/{workflow}/runs",
        params={"head_sha": commit, "status": "success", "event": "push", "per_page": 20},
    )
    found = [r for r in runs.get("workflow_runs", []) if r.get("head_sha") == commit]
    if not found:
        raise GateFailed(
            f"no successful {workflow} run for commit {commit[:12]}: merge to main and let it "
            "deploy to staging before tagging that commit"
        )
    return max(
        found, key=lambda r: (str(r.get("run_started_at") or r.get("created_at") or ""), r.get("id", 0))
    )


def _extract(archive: Path, dest: Path) -> list[Path]:
    """Unzip refusing absolute paths, '..', links and anything outside `dest`."""
    out: list[Path] = []
    dest = dest.resolve()
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            name = PurePosixPath(info.filename)
            if info.is_dir():
                continue
            if name.is_absolute() or ".." in name.parts or (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise DataError(f"{archive.name}: refusing unsafe member {info.filename!r}")
            target = (dest / Path(*name.parts)).resolve()
            if dest not in target.parents:
                raise DataError(f"{archive.name}: refusing member outside the destination {info.filename!r}")
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, target.open("wb") as fh:
                while chunk := src.read(1 << 20):
                    fh.write(chunk)
            out.append(target)
    return out


def download_artifact(gh: GitHub, run_id: int, name: str, dest: Path) -> list[Path]:
    listing = gh.json("GET", f"{gh.repo_path}/actions/runs/{run_id}/artifacts", params={"name": name})
    artifacts = [a for a in listing.get("artifacts", []) if a.get("name") == name and not a.get("expired")]
    if not artifacts:
        raise GateFailed(
            f"run {run_id} has no (unexpired) artifact named {name!r}; rerun the deploy workflow"
        )
    artifact = artifacts[0]
    archive = gh.download(
        f"{gh.repo_path}/actions/artifacts/{int(artifact['id'])}/zip",
        dest / f".{name}.zip",
        limit=_MAX_ARTIFACT,
    )
    try:
        return _extract(archive, dest)
    except zipfile.BadZipFile:
        raise DataError(f"artifact {name!r} of run {run_id} is not a valid zip archive") from None
    finally:
        archive.unlink(missing_ok=True)
