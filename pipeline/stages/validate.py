"""validate: the data-quality gate on the prepared data (GX 1.x), with reports and Data Docs.

Writes the JSON report, its Markdown summary and Data Docs whether the gate passes or not,
then raises GateFailed on failure so DVC stops before training: the last good model stays.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from pipeline.errors import DataError, GateFailed
from pipeline.expectations import Batch, run_checkpoint
from pipeline.gates import data as data_gate
from pipeline.gates.verdict import Verdict
from pipeline.io import write_json, write_text
from pipeline.params import Params
from pipeline.paths import Paths


def _read(path: Path, paths: Paths) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{paths.rel(path)}: prepared data not found; run `dvc repro prepare` first")
    return pd.read_parquet(path)


def run(params: Params, paths: Paths, build_docs: bool = True) -> Verdict:
    train = _read(paths.train, paths)
    test = _read(paths.test, paths)
    full = pd.concat([train, test], ignore_index=True)
    suite = paths.root / params.gates.data.suite
    drift = paths.root / params.gates.data.drift_suite
    batches = [Batch("data", full, suite), Batch("train", train, drift), Batch("test", test, drift)]
    docs = paths.data_docs if build_docs else None
    if docs is not None and docs.exists():
        shutil.rmtree(docs)  # stale pages from an earlier run would mislead readers
    results = run_checkpoint(batches, docs, params.gates.data.max_examples)
    verdict = data_gate.evaluate(results)
    write_json(paths.data_gate_json, {**verdict.to_dict(), "results": results})
    markdown = data_gate.to_markdown(verdict, params.gates.data.max_examples)
    write_text(paths.data_gate_md, markdown)
    if not verdict.passed:
        # Prefixed with the raw file so the one-line error (and its CI annotation) names the input.
        raise GateFailed(f"{paths.rel(paths.root / params.data.raw)}: {verdict.headline()}", markdown)
    return verdict
