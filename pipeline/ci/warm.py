"""Warm the DVC cache before `dvc repro`: pull what the remote has, including the run-cache.

Pulling only saves time: `dvc repro` rebuilds whatever is missing. So an unreachable remote (a fork's
pull request has no secrets, a laptop has no credentials) is a warning, not a failure, unless `strict` is
asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ExternalError


@dataclass(frozen=True)
class Pulled:
    ok: bool
    fetched: int
    problem: str = ""


def pull(root: Path, *, strict: bool = False) -> Pulled:
    from dvc.repo import Repo

    try:
        with Repo(str(root)) as repo:
            stats = repo.pull(run_cache=True, allow_missing=True)
    # Broad on purpose: a missing remote plugin (ImportError), absent credentials (the storage SDK's own
    # errors) and DVC's errors all mean the same here, "nothing to warm the cache with".
    except Exception as exc:
        problem = " ".join(str(exc).split())[:300] or type(exc).__name__
        if strict:
            raise ExternalError(
                f"dvc pull failed: {problem}; check the DVC remote and its credentials"
            ) from None
        return Pulled(ok=False, fetched=0, problem=problem)
    fetched = int((stats or {}).get("stats", {}).get("fetched", 0)) if isinstance(stats, dict) else 0
    return Pulled(ok=True, fetched=fetched)
