"""validate: the data-quality gate on the prepared data (GX 1.x), with reports and Data Docs.

Writes the JSON report, its Markdown summary and Data Docs whether the gate passes or not,
then raises GateFailed on failure so DVC stops before training: the last good model stays.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa

from pipeline.errors import DataError, GateFailed
from pipeline.expectations import Batch, SparkBatch, run_checkpoint
from pipeline.gates import data as data_gate
from pipeline.gates.verdict import Verdict
from pipeline.io import write_json, write_text
from pipeline.params import Params
from pipeline.paths import Paths


def _check(path: Path, paths: Paths) -> Path:
    if not path.is_file():
        raise DataError(f"{paths.rel(path)}: prepared data not found; run `dvc repro prepare` first")
    return path


def _spark_batches(params: Params, paths: Paths, suite: Path, drift: Path) -> list[SparkBatch]:
    """The same batches read by Spark: the prepared splits, or one dataset at data.spark.source (a lake table
    has no splits, so the drift suite checks it whole)."""
    from pipeline import spark_engine

    settings = spark_engine.SparkSettings.from_params(params.data.spark)
    source = params.data.spark.source
    if source is None:
        train, test = _check(paths.train, paths), _check(paths.test, paths)
        spark = spark_engine.session(settings)
        return [SparkBatch("data", spark_engine.read_parquet(spark, [str(train), str(test)]), suite),
                SparkBatch("train", spark_engine.read_parquet(spark, [str(train)]), drift),
                SparkBatch("test", spark_engine.read_parquet(spark, [str(test)]), drift)]
    spark = spark_engine.session(settings)
    frame = spark_engine.read_parquet(spark, [source])
    return [SparkBatch("data", frame, suite), SparkBatch("data", frame, drift)]


def run(params: Params, paths: Paths, build_docs: bool = True) -> Verdict:
    suite = paths.root / params.gates.data.suite
    drift = paths.root / params.gates.data.drift_suite
    batches: list[Batch] | list[SparkBatch]
    if params.data.engine == "spark":
        batches = _spark_batches(params, paths, suite, drift)
    else:
        train, test = _check(paths.train, paths), _check(paths.test, paths)
        # Datasets over the files, not tables in memory: the gate reads chunks and single columns as it
        # needs them, so the splits never have to fit in memory whole.
        batches = [Batch.from_parquet("data", [train, test], suite),
                   Batch.from_parquet("train", [train], drift), Batch.from_parquet("test", [test], drift)]
    docs = paths.data_docs if build_docs else None
    if docs is not None and docs.exists():
        shutil.rmtree(docs)  # stale pages from an earlier run would mislead readers
    try:
        results = run_checkpoint(batches, docs, params.gates.data.max_examples)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"{paths.rel(paths.prepared_dir)}: prepared data cannot be read ({exc}); "
                        "run `dvc repro prepare` again") from None
    verdict = data_gate.evaluate(results)
    write_json(paths.data_gate_json, {**verdict.to_dict(), "results": results})
    markdown = data_gate.to_markdown(verdict, params.gates.data.max_examples)
    write_text(paths.data_gate_md, markdown)
    if not verdict.passed:
        # Prefixed with the raw file so the one-line error (and its CI annotation) names the input.
        spark_source = params.data.spark.source if params.data.engine == "spark" else None
        origin = spark_source or paths.rel(paths.root / params.data.raw)
        raise GateFailed(f"{origin}: {verdict.headline()}", markdown)
    return verdict
