"""Spark data gate benchmark: the gate on Spark (local[2]) vs the gate on pandas, rows/s and driver memory.

Usage (from the repo root, inside the venv):  python -m benchmarks.spark_gate.bench --rows 1000000 3000000
Synthetic penguin-shaped rows are generated *by Spark* (spark.range and seeded rand per partition, written as
parquet in partitions: never held in one process's memory) into a work directory, once per size. Each engine then
runs in its own process over those files, as `pipeline validate` does with data.spark.source set:

- **spark** — `run_checkpoint` on SparkBatches (GX's Spark engine; above 100k rows the expectations proven by
  one Spark aggregation pass are spared GX's own jobs);
- **spark_gx_only** — the same with the column-facts path off, everything by GX on Spark: whether the proofs pay;
- **pandas** — `run_checkpoint` on the parquet files with the pandas engine (its Arrow column-facts path).

Memory: the Python driver's peak RSS (ru_maxrss) and the driver JVM's peak RSS (VmHWM of the java process
spark-submit started, read just before it stops). The JVM heap is capped by spark.driver.memory.
Prints a Markdown table and writes JSON results.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
REPO = Path(__file__).resolve().parents[2]
ENGINES = ("spark", "spark_gx_only", "pandas")
CONF = {"spark.driver.memory": "1g", "spark.sql.shuffle.partitions": 8}


def _settings() -> Any:
    from pipeline.params import SparkParams
    from pipeline.spark_engine import SparkSettings

    return SparkSettings.from_params(SparkParams(master="local[2]", conf=CONF), env={})


def generate(rows: int, out: Path, seed: int = 7) -> None:
    """Penguin-shaped rows made in Spark partitions of ~1M rows, 0.5 % missing values in the measurements."""
    from pyspark.sql import functions as F

    from pipeline.spark_engine import session

    spark = session(_settings())

    def pick(values: list[str], k: int) -> Any:
        return F.element_at(F.array(*[F.lit(v) for v in values]), (F.floor(F.rand(seed + k) * len(values)) + 1)
                            .cast("int"))

    def measure(lo: float, hi: float, k: int) -> Any:
        value = F.round(F.lit(lo) + F.rand(seed + k) * (hi - lo), 4)
        return F.when(F.rand(seed + 100 + k) < 0.005, F.lit(None).cast("double")).otherwise(value)

    frame = spark.range(0, rows, numPartitions=max(2, rows // 1_000_000)).select(
        pick(["Adelie", "Chinstrap", "Gentoo"], 1).alias("species"),
        pick(["Biscoe", "Dream", "Torgersen"], 2).alias("island"),
        measure(32.1, 59.6, 3).alias("bill_length_mm"),
        measure(13.1, 21.5, 4).alias("bill_depth_mm"),
        measure(172.0, 231.0, 5).alias("flipper_length_mm"),
        measure(2700.0, 6300.0, 6).alias("body_mass_g"),
        F.when(F.rand(seed + 8) < 0.03, F.lit(None)).otherwise(pick(["female", "male"], 7)).alias("sex"),
        (F.lit(2007) + F.floor(F.rand(seed + 9) * 3)).cast("long").alias("year"),
    )
    frame.write.mode("overwrite").parquet(str(out))
    spark.stop()


def suites(workdir: Path, rows: int) -> tuple[Path, Path]:
    """The repo's suites, with the row-count bound widened to fit the synthetic size."""
    data = json.loads((REPO / "gx/expectations/data.json").read_text())
    for exp in data["expectations"]:
        if exp["type"] == "expect_table_row_count_to_be_between":
            exp["kwargs"]["max_value"] = rows * 2
    (workdir / "data.json").write_text(json.dumps(data))
    (workdir / "drift.json").write_text((REPO / "gx/expectations/drift.json").read_text())
    return workdir / "data.json", workdir / "drift.json"


def _jvm_peak_mb(root_pid: int) -> float:
    """Largest VmHWM among the process and its descendants (spark-submit execs java; be safe about wrappers)."""
    peak, todo = 0.0, [root_pid]
    while todo:
        pid = todo.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]) / 1024)
        todo += [int(c) for c in children]
    return peak


def child(engine: str, data_dir: Path, workdir: Path) -> None:
    from pipeline import expectations
    from pipeline.expectations import Batch, SparkBatch, run_checkpoint

    data_suite, drift_suite = workdir / "data.json", workdir / "drift.json"
    started = time.perf_counter()
    jvm = 0.0
    if engine == "pandas":
        files = sorted(data_dir.glob("*.parquet"))
        results = run_checkpoint([Batch.from_parquet("data", files, data_suite),
                                  Batch.from_parquet("train", files, drift_suite)], None, 5)
    else:
        from pyspark import SparkContext

        from pipeline.spark_engine import read_parquet, session

        if engine == "spark_gx_only":
            expectations.DETAIL_ROW_LIMIT = 10**12
        spark = session(_settings())
        frame = read_parquet(spark, [str(data_dir)])
        results = run_checkpoint([SparkBatch("data", frame, data_suite), SparkBatch("train", frame, drift_suite)],
                                 None, 5)
        gateway = SparkContext._gateway
        jvm = _jvm_peak_mb(gateway.proc.pid) if gateway is not None else 0.0  # type: ignore[attr-defined]
    seconds = time.perf_counter() - started
    print(json.dumps({
        "seconds": seconds,
        "python_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "jvm_peak_mb": jvm,
        "verdicts": {f"{r['batch']}/{r['expectation']}/{r['column']}": r["success"] for r in results},
        "proven": sum(r["evaluated_by"] == "column facts" for r in results),
    }))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 3_000_000])
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--workdir", default="/tmp/spark-gate-bench")
    parser.add_argument("--child", choices=ENGINES)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(REPO / "benchmarks/spark_gate/results.json"))
    args = parser.parse_args()
    workdir = Path(args.workdir)
    if args.child:
        child(args.child, Path(args.data), workdir)
        return
    out = Path(args.out)
    results: list[dict[str, Any]] = json.loads(out.read_text()) if out.is_file() else []
    for rows in args.rows:
        workdir.mkdir(parents=True, exist_ok=True)
        data_dir = workdir / f"rows_{rows}"
        started = time.perf_counter()
        generate(rows, data_dir)
        print(f"{rows:,} rows generated by Spark in {time.perf_counter() - started:.1f} s "
              f"({sum(f.stat().st_size for f in data_dir.glob('*.parquet')) / 2**20:.0f} MiB parquet)", flush=True)
        suites(workdir, rows)
        verdicts: dict[str, dict[str, bool]] = {}
        for engine in args.engines:
            proc = subprocess.run([sys.executable, "-m", "benchmarks.spark_gate.bench", "--child", engine,
                                   "--data", str(data_dir), "--workdir", str(workdir)],
                                  cwd=REPO, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                print(f"{engine} failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
                continue
            measured = json.loads(proc.stdout.strip().splitlines()[-1])
            verdicts[engine] = measured.pop("verdicts")
            row = {"rows": rows, "engine": engine, **measured, "rows_per_s": rows / measured["seconds"],
                   "checks": len(verdicts[engine]),
                   "verdict_equal_pandas": None}
            results.append(row)
            print(json.dumps(row), flush=True)
        for row in results:
            if row["rows"] == rows and row["engine"] in verdicts and "pandas" in verdicts:
                row["verdict_equal_pandas"] = verdicts[row["engine"]] == verdicts["pandas"]
        out.write_text(json.dumps(results, indent=2) + "\n")
        shutil.rmtree(data_dir, ignore_errors=True)
    print("| rows | engine | seconds | rows/s | Python driver peak RSS MB | driver JVM peak RSS MB | proven | "
          "verdicts = pandas |")
    print("|---:|---|---:|---:|---:|---:|---:|---|")
    for r in results:
        print(f"| {r['rows']:,} | {r['engine']} | {r['seconds']:.1f} | {r['rows_per_s']:,.0f} | "
              f"{r['python_peak_mb']:.0f} | {r['jvm_peak_mb']:.0f} | {r['proven']} | {r['verdict_equal_pandas']} |")


if __name__ == "__main__":
    main()
