"""No-op `dvc repro` plus both gates on an unchanged repository, against `dvc repro` alone.

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
    for name, commands in STEPS.items():
        runs = [timed(commands) for _ in range(args.repeat)]
        print(f"| {name} | {statistics.median(runs):.2f} | {min(runs):.2f} | {max(runs):.2f} |")


if __name__ == "__main__":
    main()
