"""The pull-request pipeline job under act: a cold run against a pull request that changes nothing the model uses.

Usage (repo root, after `make install` and `sudo make engine`): python -m benchmarks.unchanged_pr --rounds 2

Each round makes a fresh repository and an empty cache store, runs pr.yml for a first push (cold: no DVC cache,
no layer archive), then for a second push that only edits a comment in params.yaml (what a typo fix in a PR is
to the model: nothing). The second run restores the caches the first saved (the cache stand-in restores by
exact key or `restore-keys` prefix, as actions/cache does), `make repro` checks outputs out of the DVC cache, and
the data gate reuses the verdict the repro recorded. Times are the sums of act's step durations for the
pipeline job ("Data, model and container gates"); the Docker engine's own layer cache is warm for both, so the
cold figure is lower than on a fresh GitHub runner and the ratio is conservative.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path

from tests.e2e.workflows.harness import Act, git, make_repository, pull_request_event
from tests.github_standin import TOKEN, GitHubStandIn

JOB = "Data, model and container gates"
STEP = re.compile(r"\[[^\]]*" + re.escape(JOB) + r"\]\s+✅\s+Success - Main (.+?) \[([\d.]+)(ms|s)\]")
VARS = {"PIPELINE_TESTS": "false", "IMAGE_BUILD_ARGS": "PYTHON_IMAGE=local/python-base:3.11-ca",
        "IMAGE_BUILD_NETWORK": "host"}


def step_seconds(output: str) -> dict[str, float]:
    steps: dict[str, float] = defaultdict(float)
    for name, value, unit in STEP.findall(output):
        # act prints composite sub-steps too; their parent step's duration already includes them.
        if name.startswith(("python3 ", "echo ")):
            continue
        steps[name] += float(value) / (1000 if unit == "ms" else 1)
    return dict(steps)


def one_round(work: Path) -> tuple[dict[str, float], dict[str, float]]:
    repo = make_repository(work / "repo")
    git(repo, "checkout", "-q", "-b", "feature")
    params = repo / "params.yaml"
    runs = []
    with GitHubStandIn("octo-org/octo-model", TOKEN) as github:
        act = Act(work, github.api_url, TOKEN, vars=VARS)
        for label in ("first push", "typo fix"):
            params.write_text(params.read_text() + f"# {label}\n")
            git(repo, "commit", "-qam", label)
            result = act.run(repo, "pull_request", pull_request_event(7, git(repo, "rev-parse", "HEAD")), "pr.yml")
            if result.returncode != 0:
                raise SystemExit(f"{label}: act exited {result.returncode}\n{result.tail()}")
            runs.append(step_seconds(result.output))
    return runs[0], runs[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    cold, warm = [], []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="unchanged-pr-") as tmp:
            first, second = one_round(Path(tmp))
        cold.append(first)
        warm.append(second)
    totals = [(sum(c.values()), sum(w.values())) for c, w in zip(cold, warm, strict=True)]
    print(f"| run | pipeline job s (median of {args.rounds}) | vs cold |")
    print("|---|---:|---:|")
    c, w = statistics.median(t[0] for t in totals), statistics.median(t[1] for t in totals)
    print(f"| cold pull request | {c:.1f} | 1.00x |")
    print(f"| unchanged pull request | {w:.1f} | {w / c:.2f}x |")
    print()
    print("| step | cold s | unchanged s |")
    print("|---|---:|---:|")
    for step in cold[0]:
        cs = statistics.median(r.get(step, 0.0) for r in cold)
        ws = statistics.median(r.get(step, 0.0) for r in warm)
        print(f"| {step} | {cs:.1f} | {ws:.1f} |")


if __name__ == "__main__":
    main()
