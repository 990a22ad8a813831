"""What the DVC remote (with run-cache) saves an unchanged pull request: the workflow's `pipeline ci pull` +
`make repro` steps on a fresh clone, cold (no remote) and warm (outputs pushed, dvc.lock committed).

Run from the repository root with the project installed: `python benchmarks/ci_cache.py [--repeat 3]`.
Both variants run in the same process, one after the other, on the same machine; medians are printed as a
Markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {
    **os.environ,
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    "GX_ANALYTICS_ENABLED": "False",
}


def sh(cwd: Path, *argv: str) -> str:
    out = subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, text=True, check=True)
    return out.stdout


def timed(cwd: Path) -> tuple[float, float, int]:
    start = time.perf_counter()
    sh(cwd, "pipeline", "ci", "pull")
    pulled = time.perf_counter()
    log = sh(cwd, "dvc", "repro")
    done = time.perf_counter()
    return pulled - start, done - pulled, log.count("Running stage")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ci-cache-") as tmp:
        work = Path(tmp)
        seed = work / "seed"
        sh(work, "git", "clone", "--quiet", str(ROOT), str(seed))
        sh(seed, "dvc", "remote", "add", "--default", "--force", "warm", str(work / "storage"))
        sh(seed, "dvc", "repro")
        sh(seed, "dvc", "push", "--run-cache")
        sh(seed, "git", "add", "-A")
        sh(seed, "git", "-c", "user.name=b", "-c", "user.email=b@example.invalid", "commit", "-qm", "seed")
        rows: dict[str, list[tuple[float, float, int]]] = {
            "cold (no remote)": [],
            "warm (remote + run-cache)": [],
        }
        for i in range(args.repeat):
            cold = work / f"cold{i}"
            sh(work, "git", "clone", "--quiet", str(ROOT), str(cold))
            sh(cold, "dvc", "remote", "add", "--default", "--force", "none", str(work / "empty"))
            rows["cold (no remote)"].append(timed(cold))
            warm = work / f"warm{i}"
            sh(work, "git", "clone", "--quiet", str(seed), str(warm))
            rows["warm (remote + run-cache)"].append(timed(warm))
    print("| variant | pull s | repro s | total s | stages run | runs |\n|---|---|---|---|---|---|")
    for name, samples in rows.items():
        pull = statistics.median(s[0] for s in samples)
        repro = statistics.median(s[1] for s in samples)
        stages = statistics.median(s[2] for s in samples)
        print(f"| {name} | {pull:.1f} | {repro:.1f} | {pull + repro:.1f} | {stages:.0f} | {len(samples)} |")


if __name__ == "__main__":
    main()
