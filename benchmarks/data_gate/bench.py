"""Data gate benchmark: our gate vs a plain GX 1.x checkpoint vs the same checks in plain pandas.

Usage (from the repo root, inside the venv):  python -m benchmarks.data_gate.bench --rows 1000000 10000000
The synthetic data (penguins rows resampled with noise, fixed seed) is written once to a parquet
file; each engine runs in its own subprocess and its time and memory include reading that file,
as the validate stage does. Prints a Markdown table and writes JSON results.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
REPO = Path(__file__).resolve().parents[2]
ENGINES = ("gate", "gx_checkpoint", "pandas")


def synthetic(rows: int, seed: int = 0) -> Any:
    import numpy as np
    import palmerpenguins

    numeric = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    base = palmerpenguins.load_penguins().dropna(subset=numeric)
    rng = np.random.default_rng(seed)
    frame = base.iloc[rng.integers(0, len(base), rows)].reset_index(drop=True)
    # Noise fine enough that resampled rows stay distinct (the suite checks row uniqueness),
    # and sparse missing values like the real data's.
    for col in numeric:
        frame[col] = (frame[col] + rng.normal(0, 0.5, rows)).round(4)
        frame.loc[rng.random(rows) < 0.005, col] = np.nan
    return frame


def suites(workdir: Path, rows: int) -> tuple[Path, Path]:
    """The repo's suites, with the row-count bound widened to fit the synthetic size."""
    data = json.loads((REPO / "gx/expectations/data.json").read_text())
    for exp in data["expectations"]:
        if exp["type"] == "expect_table_row_count_to_be_between":
            exp["kwargs"]["max_value"] = rows * 2
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "data.json").write_text(json.dumps(data))
    (workdir / "drift.json").write_text((REPO / "gx/expectations/drift.json").read_text())
    return workdir / "data.json", workdir / "drift.json"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def plain_gx(source: Path, data_suite: Path, drift_suite: Path) -> dict[str, bool]:
    """What a user writes from the GX 1.x docs: suites, batch definitions, a checkpoint, defaults."""
    import great_expectations as gx
    import pandas as pd
    from great_expectations.core.expectation_suite import ExpectationSuite

    frame = pd.read_parquet(source)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}  # type: ignore[assignment]
    datasource = context.data_sources.add_pandas("bench")
    verdicts: dict[str, bool] = {}
    for name, path in (("data", data_suite), ("train", drift_suite)):
        doc = json.loads(path.read_text())
        suite = context.suites.add(ExpectationSuite(name=doc["name"], expectations=doc["expectations"]))
        batch = datasource.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
        vd = context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=suite))
        checkpoint = context.checkpoints.add(gx.Checkpoint(name=f"cp_{name}", validation_definitions=[vd]))
        result = checkpoint.run(batch_parameters={"dataframe": frame})
        for run in result.run_results.values():
            for res in run.results:
                cfg = res.expectation_config
                verdicts[key(name, cfg.type, cfg.kwargs.get("column"))] = bool(res.success)
    return verdicts


def key(batch: str, kind: str, column: str | None) -> str:
    return f"{batch}:{kind}:{column or ''}"


def our_gate(source: Path, data_suite: Path, drift_suite: Path) -> dict[str, bool]:
    from pipeline.expectations import Batch, run_checkpoint

    results = run_checkpoint([Batch.from_parquet("data", [source], data_suite),
                              Batch.from_parquet("train", [source], drift_suite)], None, 5)
    return {key(r["batch"], r["expectation"], r["column"]): r["success"] for r in results}


def pandas_checks(source: Path, data_suite: Path, drift_suite: Path) -> dict[str, bool]:
    """The data suite's checks written directly in pandas (no drift: that needs KL code of its own)."""
    import pandas as pd

    frame = pd.read_parquet(source)
    doc = json.loads(data_suite.read_text())
    out: dict[str, bool] = {}
    for exp in doc["expectations"]:
        kind, kw = exp["type"], exp["kwargs"]
        col = frame[kw["column"]] if "column" in kw else None
        if kind == "expect_table_columns_to_match_ordered_list":
            ok = list(frame.columns) == kw["column_list"]
        elif kind == "expect_table_row_count_to_be_between":
            ok = kw["min_value"] <= len(frame) <= kw["max_value"]
        elif kind == "expect_compound_columns_to_be_unique":
            ok = not frame.duplicated(subset=kw["column_list"]).any()
        elif kind == "expect_column_values_to_be_of_type":
            ok = str(col.dtype) == kw["type_"]
        elif kind == "expect_column_values_to_not_be_null":
            ok = col.notna().mean() >= kw.get("mostly", 1.0)
        elif kind == "expect_column_values_to_be_in_set":
            nonnull = col.dropna()
            ok = nonnull.isin(kw["value_set"]).mean() >= kw.get("mostly", 1.0) if len(nonnull) else True
        elif kind == "expect_column_values_to_be_between":
            nonnull = col.dropna()
            ok = nonnull.between(kw["min_value"], kw["max_value"]).mean() >= kw.get("mostly", 1.0)
        else:
            continue
        out[key("data", kind, kw.get("column"))] = bool(ok)
    return out


def child(engine: str, rows: int, workdir: Path) -> None:
    data_suite, drift_suite = suites(workdir, rows)
    source = workdir / f"synthetic_{rows}.parquet"
    data_mb = json.loads(source.with_suffix(".json").read_text())["pandas_mb"]
    fn = {"gate": our_gate, "gx_checkpoint": plain_gx, "pandas": pandas_checks}[engine]
    import pandas  # noqa: F401  - import costs are not validation costs
    import pyarrow.parquet  # noqa: F401

    if engine != "pandas":
        import great_expectations  # noqa: F401

        import pipeline.expectations  # noqa: F401

    before = rss_mb()
    start = time.perf_counter()
    verdicts = fn(source, data_suite, drift_suite)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"engine": engine, "rows": rows, "seconds": seconds, "rows_per_s": rows / seconds,
                      "data_mb": data_mb, "rss_before_mb": before, "peak_rss_mb": peak,
                      "extra_peak_mb": max(peak - before, 0.0), "verdicts": verdicts}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--child", choices=ENGINES)
    parser.add_argument("--repeat", type=int, default=3, help="runs per engine, interleaved; medians reported")
    parser.add_argument("--out", default=str(REPO / "benchmarks/data_gate/results.json"))
    args = parser.parse_args()
    workdir = REPO / "benchmarks/.work/data_gate"
    if args.child:
        child(args.child, args.rows[0], workdir)
        return
    results = []
    for rows in args.rows:
        source = workdir / f"synthetic_{rows}.parquet"
        if not source.exists():
            suites(workdir, rows)
            frame = synthetic(rows)
            frame.to_parquet(source, index=False)
            source.with_suffix(".json").write_text(
                json.dumps({"pandas_mb": frame.memory_usage(deep=True).sum() / 1e6}))
            del frame
        runs: dict[str, list[dict[str, Any]]] = {e: [] for e in ENGINES}
        # Interleaved, so a burst of load on a shared machine hits every engine alike.
        for _ in range(args.repeat):
            for engine in ENGINES:
                proc = subprocess.run([sys.executable, "-m", "benchmarks.data_gate.bench", "--child", engine,
                                       "--rows", str(rows)], cwd=REPO, capture_output=True, text=True, check=True)
                runs[engine].append(json.loads(proc.stdout.strip().splitlines()[-1]))
        for engine in ENGINES:
            ordered = sorted(runs[engine], key=lambda r: r["seconds"])
            r = dict(ordered[len(ordered) // 2])
            r["extra_peak_mb"] = max(x["extra_peak_mb"] for x in runs[engine])  # worst case, not median
            r["all_seconds"] = [round(x["seconds"], 2) for x in runs[engine]]
            r["rows_per_s"] = rows / r["seconds"]
            results.append(r)
            print(f"{rows:>10,} {engine:14s} {r['seconds']:7.2f} s  {r['rows_per_s']:>12,.0f} rows/s  "
                  f"data {r['data_mb']:7.0f} MB  extra peak {r['extra_peak_mb']:7.0f} MB", file=sys.stderr)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"Median of {args.repeat} interleaved runs; extra peak RSS is the largest seen.\n")
    print("| rows | engine | seconds | rows/s | vs plain GX | data MB | extra peak RSS MB | peak/data | verdict = GX |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---|")
    for rows in args.rows:
        by = {r["engine"]: r for r in results if r["rows"] == rows}
        gx_r = by["gx_checkpoint"]
        for engine in ENGINES:
            r = by[engine]
            diff = [k for k, v in r["verdicts"].items() if gx_r["verdicts"].get(k) != v]
            if diff:
                print(f"{engine} differs from GX on {diff}", file=sys.stderr)
            same = "yes" if not diff else "NO"
            print(f"| {rows:,} | {engine} | {r['seconds']:.2f} | {r['rows_per_s']:,.0f} | "
                  f"{gx_r['seconds'] / r['seconds']:.1f}x | {r['data_mb']:.0f} | {r['extra_peak_mb']:.0f} | "
                  f"{r['extra_peak_mb'] / r['data_mb']:.2f} | {same} ({len(r['verdicts'])} checks) |")


if __name__ == "__main__":
    main()
