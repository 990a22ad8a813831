"""The serving core alone in the image vs the whole tool in it: size and cold start, side by side in one run.

    .venv/bin/python benchmarks/serving/core_split.py --baseline-rev a18b084   # ~3 minutes

Builds the project Dockerfile twice with the same model, base and limits: from the working tree (the image copies
`model_server/` only) and from `--baseline-rev` (an earlier commit, whose image copied all of `pipeline/`),
through the same `pipeline.container.image.build`. The model files (DVC outputs, not in git) come from the
working tree for both. Then cold starts (`docker run` -> first 200 from /predict, --cpus 1 --memory 512m),
interleaved so that load from other jobs hits both alike, reusing benchmarks/serving/run.py's measurement.
Prints a Markdown table; writes benchmarks/serving/core_split.json.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.serving import run as serving  # noqa: E402
from pipeline.container import image  # noqa: E402

HERE = Path(__file__).resolve().parent
# DVC outputs the Dockerfile copies: the same files go into both builds.
OUTPUTS = ["models", "reports/metrics.json", "dvc.lock"]


def _tree_at(rev: str, dest: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev], check=True,
                             capture_output=True, timeout=120).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    for name in OUTPUTS:
        src, target = ROOT / name, dest / name
        if src.is_dir():
            shutil.copytree(src, target, dirs_exist_ok=True)
        else:
            shutil.copy2(src, target)
    return dest


def _python_code(client: Any, image_id: str) -> dict[str, Any]:
    probe = ("import json, pathlib; root = pathlib.Path('/app'); print(json.dumps({"
             "'packages': sorted(p.name for p in root.iterdir() if (p / '__init__.py').is_file()),"
             "'py_files': sum(1 for _ in root.rglob('*.py')),"
             "'py_lines': sum(len(p.read_text().splitlines()) for p in root.rglob('*.py'))}))")
    return dict(json.loads(client.containers.run(image_id, ["python", "-c", probe], remove=True)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-rev", required=True, help="git revision whose image carried the whole tool")
    parser.add_argument("--cold-runs", type=int, default=9, help="cold starts per image (default 9)")
    parser.add_argument("--prefix", default="core-split-bench")
    args = parser.parse_args()
    client = image.connect(timeout=900)
    # The slim base only (serving.bases would also build the full one the naive image needs).
    stand_in = bool(client.images.list(name=serving.SLIM_STAND_IN))
    slim, network = (serving.SLIM_STAND_IN, "host") if stand_in else ("python:3.11-slim", None)
    built: dict[str, image.BuiltImage] = {}
    with tempfile.TemporaryDirectory() as tmp:
        contexts = {"core only (this tree)": ROOT, f"whole tool ({args.baseline_rev})": _tree_at(args.baseline_rev,
                                                                                                Path(tmp))}
        for label, context in contexts.items():
            print(f"building {label}...", file=sys.stderr)
            built[label] = image.build(client, image.BuildSpec(
                context=context, repository=args.prefix, git_commit="bench", build_args={"PYTHON_IMAGE": slim},
                network_mode=network))
    models = {b.model_sha256 for b in built.values()}
    assert len(models) == 1, f"the two images carry different models: {models}"
    cases = {label: (b.id, {"WEB_CONCURRENCY": "1"}) for label, b in built.items()}
    print("cold starts, interleaved...", file=sys.stderr)
    cold = serving.cold_starts(client, cases, args.cold_runs, args.prefix)
    results: dict[str, Any] = {"limits": "--cpus 1 --memory 512m", "base": slim, "images": {}}
    for label, b in built.items():
        totals = [run["total_s"] for run in cold[label]]
        results["images"][label] = {
            "size_mb": round(b.size / 1e6, 1),
            **_python_code(client, b.id), "cold_start_median_s": round(statistics.median(totals), 3),
            "cold_start_min_s": min(totals), "cold_start_max_s": max(totals),
            "cpu_s_median": round(statistics.median(run["cpu_s"] for run in cold[label]), 3), "runs": cold[label],
        }
    (HERE / "core_split.json").write_text(json.dumps(results, indent=2) + "\n")
    rows = ["| image | size | Python under /app | cold start median (min-max) | CPU to first answer |",
            "|---|---|---|---|---|"]
    for label, r in results["images"].items():
        rows.append(f"| {label} | {r['size_mb']} MB | {', '.join(r['packages'])}: {r['py_files']} files, "
                    f"{r['py_lines']} lines | {r['cold_start_median_s']} s ({r['cold_start_min_s']}-"
                    f"{r['cold_start_max_s']}) | {r['cpu_s_median']} s |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
