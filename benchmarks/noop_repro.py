"""No-op `dvc repro` plus both gates on an unchanged repository, against `dvc repro` alone and the fresh gate.

Usage (repo root, venv active, after one full `dvc repro`): python -m benchmarks.noop_repro --repeat 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

STEPS = {
    "dvc repro (no-op, baseline)": [["dvc", "repro"]],
    # What the pull-request job ran before the data gate reused verdicts: it validated again after the repro.
    "dvc repro + gate data --fresh + gate metrics": [["dvc", "repro"],
                                                     ["pipeline", "gate", "data", "--fresh", "--no-docs"],
                                                     ["pipeline", "gate", "metrics"]],
    # Today: the data gate reuses the verdict dvc.lock shows is current (pipeline/stage_lock.py).
    "dvc repro + gate data + gate metrics": [["dvc", "repro"], ["pipeline", "gate", "data", "--no-docs"],
                                             ["pipeline", "gate", "metrics"]],
}


def timed(commands: list[list[str]]) -> float:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "GX_ANALYTICS_ENABLED": "False"}
    start = time.perf_counter()
    for cmd in commands:
        subprocess.run(cmd, cwd=REPO, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("| what | median s | min s | max s |")
    print("|---|---:|---:|---:|")
    # Interleaved rounds, so load on a shared machine hits every row alike.
    runs: dict[str, list[float]] = {name: [] for name in STEPS}
    for _ in range(args.repeat):
        for name, commands in STEPS.items():
            runs[name].append(timed(commands))
    for name, times in runs.items():
        print(f"| {name} | {statistics.median(times):.2f} | {min(times):.2f} | {max(times):.2f} |")


if __name__ == "__main__":
    main()
