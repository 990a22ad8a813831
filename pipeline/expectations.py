"""Runs versioned GX 1.x suites through a checkpoint and builds Data Docs.

This is the I/O side of the data gate: it owns the GX context, the checkpoint and the Data Docs
site, and hands plain dictionaries to the pure verdict logic in `pipeline.gates.data`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from model_server.contract import read_suite
from pipeline.column_stats import collect
from pipeline.errors import ConfigError
from pipeline.gates.proofs import needs_row_keys, provable, prove

# GX phones home unless told not to; CI machines have no route out anyway.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
# GX imports pyspark whenever it is installed (the spark extra), even for the pandas engine, and pyspark warns
# at import about pandas 3: noise on the CLI's stderr. The gate never converts between pandas and Spark.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)


@dataclass(frozen=True)
class Batch:
    """One table validated against one suite: in memory, or parquet files read only as needed."""

    name: str
    source: pa.Table | ds.Dataset
    suite_path: Path

    @classmethod
    def from_frame(cls, name: str, frame: pd.DataFrame, suite_path: Path) -> Batch:
        return cls(name, pa.Table.from_pandas(frame, preserve_index=False), suite_path)

    @classmethod
    def from_parquet(cls, name: str, files: list[Path], suite_path: Path) -> Batch:
        return cls(name, ds.dataset([str(f) for f in files], format="parquet"), suite_path)

    @property
    def columns(self) -> list[str]:
        return list(self.source.schema.names)

    @property
    def num_rows(self) -> int:
        return self.source.num_rows if isinstance(self.source, pa.Table) else self.source.count_rows()

    def frame(self, columns: list[str] | None = None) -> pd.DataFrame:
        if isinstance(self.source, pa.Table):
            return (self.source.select(columns) if columns is not None else self.source).to_pandas()
        return self.source.to_table(columns=columns).to_pandas()


@dataclass(frozen=True)
class SparkBatch:
    """One Spark DataFrame (lazy: files on a cluster's storage) validated against one suite."""

    name: str
    frame: Any  # pyspark.sql.DataFrame; Any so that this module imports without pyspark
    suite_path: Path

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)


# The suites name pandas dtypes (what the contract and the serving schema are written in); GX's Spark engine
# compares Spark type names. One suite, two engines: the type is translated on the way in and the observed type
# on the way out, so the reports read the same. A name not listed (already a Spark type) passes through.
SPARK_TYPES = {"str": "StringType", "object": "StringType", "float64": "DoubleType", "float32": "FloatType",
               "int64": "LongType", "int32": "IntegerType", "bool": "BooleanType"}
_SUITE_TYPES = {"StringType": "str", "DoubleType": "float64", "FloatType": "float32", "LongType": "int64",
                "IntegerType": "int32", "BooleanType": "bool"}


def _for_spark(expectation: dict[str, Any]) -> dict[str, Any]:
    kw = expectation.get("kwargs", {})
    if expectation["type"] != "expect_column_values_to_be_of_type" or kw.get("type_") not in SPARK_TYPES:
        return expectation
    return {**expectation, "kwargs": {**kw, "type_": SPARK_TYPES[kw["type_"]]}}


def _from_spark(result: dict[str, Any], expectation: dict[str, Any]) -> dict[str, Any]:
    """A Spark-engine result in the suite's own vocabulary."""
    if result["expectation"] != "expect_column_values_to_be_of_type":
        return result
    observed = result.get("observed")
    return {**result, "kwargs": {**result["kwargs"], "type_": expectation["kwargs"].get("type_")},
            "observed": _SUITE_TYPES.get(observed, observed) if isinstance(observed, str) else observed}


def _gx_suite(doc: dict[str, Any], path: Path) -> Any:
    from great_expectations.core.expectation_suite import ExpectationSuite

    wanted = [e["type"] for e in doc["expectations"]]
    try:
        suite = ExpectationSuite(
            name=doc["name"],
            expectations=[{"type": e["type"], "kwargs": e.get("kwargs", {}), "meta": e.get("meta", {})}
                          for e in doc["expectations"]],
            meta=doc.get("meta") or {},
        )
    except Exception as exc:  # GX raises several unrelated classes for a malformed suite
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path}: GX rejected the suite ({first}); fix the expectation it names") from None
    # GX logs and silently drops an expectation it cannot build (an unknown type, bad kwargs):
    # a typo must not quietly weaken the gate.
    built = [e.expectation_type for e in suite.expectations]
    dropped = [t for t in wanted if t not in built or wanted.count(t) > built.count(t)]
    if dropped:
        raise ConfigError(
            f"{path}: GX rejected the suite (could not build {sorted(set(dropped))}); "
            "fix the expectation type or its kwargs"
        )
    return suite


def _example_rows(frame: pd.DataFrame, column: str | None, values: list[Any], limit: int) -> list[dict[str, Any]]:
    """Rows whose value in `column` is one of the reported unexpected values."""
    if not column or column not in frame.columns or limit == 0:
        return []
    mask = frame[column].isin(values) if values else frame[column].isna()
    picked = frame[mask].head(limit)
    # Line numbers are not known after the split; the row content is what users need to find it.
    return [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in picked.to_dict("records")]


def _plain(value: Any) -> Any:
    """GX results carry numpy scalars; make them JSON-friendly."""
    if hasattr(value, "item") and callable(value.item):
        try:
            return value.item()
        except (ValueError, TypeError):
            return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


Examples = Callable[[str | None, list[Any], int], list[dict[str, Any]]]


def _plain_result(res: Any, batch: Batch | SparkBatch, examples: Examples, max_examples: int) -> dict[str, Any]:
    """One GX ExpectationValidationResult as a JSON-friendly dict the pure gate understands."""
    config = res.expectation_config
    kwargs = _plain(dict(config.kwargs)) if config is not None else {}
    column = kwargs.get("column")
    detail = _plain(dict(res.result or {}))
    error = None
    if res.exception_info and res.exception_info.get("raised_exception"):
        error = str(res.exception_info.get("exception_message", "")).splitlines()[0][:300]
    unexpected = detail.get("partial_unexpected_list") or []
    return {
        "batch": batch.name,
        "suite": batch.suite_path.name,
        "expectation": config.type if config is not None else "unknown",
        "column": column,
        "kwargs": kwargs,
        "success": bool(res.success),
        "observed": detail.get("observed_value"),
        "unexpected_count": detail.get("unexpected_count"),
        "unexpected_percent": detail.get("unexpected_percent"),
        "unexpected_values": unexpected[:max_examples],
        "details": detail.get("details"),
        "error": error,
        "examples": [] if res.success else _plain(examples(column, unexpected, max_examples)),
        "evaluated_by": "great_expectations",
    }


def _proven_result(expectation: dict[str, Any], proof: dict[str, Any], batch: Batch | SparkBatch) -> dict[str, Any]:
    kwargs = _plain(dict(expectation.get("kwargs", {})))
    return {
        "batch": batch.name, "suite": batch.suite_path.name, "expectation": expectation["type"],
        "column": kwargs.get("column"), "kwargs": kwargs, "success": True,
        "observed": proof.get("observed"), "unexpected_count": proof.get("unexpected_count"),
        "unexpected_percent": 0.0 if proof.get("unexpected_count") == 0 else None,
        "unexpected_values": [], "details": None, "error": None, "examples": [],
        "evaluated_by": "column facts",
    }


def _columns_read(expectation: dict[str, Any], all_columns: list[str]) -> tuple[str, ...]:
    """The columns an expectation reads. Table-level expectations, and any naming a column the table
    lacks, read the whole table."""
    kw = expectation.get("kwargs", {})
    names = tuple([kw["column"]] if "column" in kw else kw.get("column_list") or [])
    if not names or expectation["type"].startswith("expect_table_") or any(n not in all_columns for n in names):
        return tuple(all_columns)
    return names


def _pack(expectations: list[dict[str, Any]], all_columns: list[str], batch: Batch
          ) -> list[tuple[list[str], list[dict[str, Any]]]]:
    """GX runs for `expectations`: grouped by the columns they read, so GX loads only those, and
    groups merged while a run holds at most GX_RUN_BYTES of (estimated) column data."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for exp in expectations:
        groups.setdefault(_columns_read(exp, all_columns), []).append(exp)
    rows = batch.num_rows
    schema = batch.source.schema

    def size(names: list[str]) -> int:
        return sum(rows * (8 if pa.types.is_primitive(schema.field(n).type) else 24) for n in names)

    runs: list[tuple[list[str], list[dict[str, Any]]]] = []
    for names, group in groups.items():
        if runs:
            merged = runs[-1][0] + [n for n in names if n not in runs[-1][0]]
            if size(merged) <= GX_RUN_BYTES:
                runs[-1] = (merged, runs[-1][1] + group)
                continue
        runs.append((list(names), list(group)))
    return runs


def _quiet_gx_logging() -> None:
    import logging

    # Some GX modules pin their own logger to INFO at import, and GX logs (then swallows) errors
    # we detect and report ourselves in one line. Its logs stay visible with `pipeline -v`.
    verbose = logging.getLogger("pipeline").isEnabledFor(logging.DEBUG)
    for name in [n for n in logging.root.manager.loggerDict if n.startswith("great_expectations")]:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.CRITICAL)


# Up to this many rows a batch is validated entirely by GX, for complete observed values and
# Data Docs at negligible cost. Above it, the gate first proves from exact column facts the
# expectations whose success is certain (pipeline.gates.proofs) and gives GX the rest -- every
# possible failure among them -- on just the columns they need.
DETAIL_ROW_LIMIT = 100_000
# Column groups are packed into one GX run up to about this much column data: each GX run has a
# fixed cost, and each loaded column costs memory. Peak memory stays near this budget plus GX's copies.
GX_RUN_BYTES = 256 * 1024 * 1024


def _run(checkpoint: Any, frame: pd.DataFrame) -> list[Any]:
    # GX's KL-divergence code divides by the non-null count and lets numpy warn when a column
    # is empty; the expectation still fails and says so, the warning only adds noise.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        outcome = checkpoint.run(batch_parameters={"dataframe": frame})
    return [res for run_result in outcome.run_results.values() for res in run_result.results]


def run_checkpoint(batches: list[Batch] | list[SparkBatch], docs_dir: Path | None, max_examples: int
                   ) -> list[dict[str, Any]]:
    """Validate every batch; return one plain result per expectation, in suite order."""
    import great_expectations as gx

    _quiet_gx_logging()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}  # type: ignore[assignment]
    # One engine per run, so one data source, named the same for both: results (batch_id) read the same.
    spark = any(isinstance(b, SparkBatch) for b in batches)
    if spark and not all(isinstance(b, SparkBatch) for b in batches):
        raise TypeError("run_checkpoint: batches of one engine at a time")
    source = context.data_sources.add_spark("pipeline") if spark else context.data_sources.add_pandas("pipeline")
    actions: list[Any] = []
    if docs_dir is not None:
        context.add_data_docs_site(
            site_name="pipeline",
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
        actions.append(gx.checkpoint.UpdateDataDocsAction(name="data_docs", site_names=["pipeline"]))
    result_format = {"result_format": "SUMMARY", "partial_unexpected_count": max(max_examples, 1)}
    used: set[str] = set()

    def gx_results(batch: Batch | SparkBatch, doc: dict[str, Any], frame: Any, part: str) -> dict[int, Any]:
        """Run `doc` through a checkpoint; results keyed by the expectation's index in the suite."""
        name = f"{batch.name}{part}"
        if name in used:  # one dataset under two suites (Spark on a single source): GX names must differ
            name = f"{name}.{batch.suite_path.stem}"
        used.add(name)
        suite = context.suites.add(_gx_suite({**doc, "name": f"{doc['name']}.{name}"}, batch.suite_path))
        batch_definition = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
        )
        # One checkpoint per dataframe: a checkpoint passes the same batch parameters (dataframe)
        # to all its validation definitions.
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name=f"gate_{name}", validation_definitions=[validation], actions=actions,
            result_format=result_format))
        return {int(res.expectation_config.meta["pipeline_index"]): res for res in _run(checkpoint, frame)}

    results: list[dict[str, Any]] = []
    for batch in batches:
        doc = read_suite(batch.suite_path)
        indexed = [{**e, "meta": {**(e.get("meta") or {}), "pipeline_index": i}}
                   for i, e in enumerate(doc["expectations"])]
        if isinstance(batch, SparkBatch):
            results.extend(_spark_batch(batch, doc, indexed, gx_results, max_examples))
            continue
        columns = batch.columns
        if batch.num_rows <= DETAIL_ROW_LIMIT:
            frame = batch.frame()
            evaluated = gx_results(batch, doc | {"expectations": indexed}, frame, "")
            examples = partial(_example_rows, frame)
            results.extend(_plain_result(evaluated[i], batch, examples, max_examples) for i in range(len(indexed)))
            continue
        stats = collect(batch.source, row_keys=needs_row_keys(indexed)) if provable(indexed) else None
        proofs = [prove(e, stats) if stats else None for e in indexed]
        by_index: dict[int, dict[str, Any]] = {
            i: _proven_result(e, p, batch) for i, (e, p) in enumerate(zip(indexed, proofs, strict=True)) if p
        }
        pending = [e for e, p in zip(indexed, proofs, strict=True) if p is None]
        runs = _pack(pending, columns, batch)
        for n, (group_columns, group) in enumerate(runs):
            frame = batch.frame(group_columns)
            evaluated = gx_results(batch, doc | {"expectations": group}, frame, f".part{n}")
            for i, res in evaluated.items():
                by_index[i] = _plain_result(res, batch, partial(_example_rows, frame), max_examples)
            del frame  # one column group in memory at a time
        results.extend(by_index[i] for i in range(len(indexed)))
    return results


def _spark_batch(batch: SparkBatch, doc: dict[str, Any], indexed: list[dict[str, Any]],
                 gx_results: Callable[..., dict[int, Any]], max_examples: int) -> list[dict[str, Any]]:
    """A Spark DataFrame through GX's Spark engine, whole: Spark reads it in partitions, so there is nothing
    to chunk. Above DETAIL_ROW_LIMIT rows the expectations proven by one aggregation pass
    (pipeline.spark_stats) are spared GX's own Spark jobs."""
    from pipeline import spark_engine, spark_stats

    spark_engine.check_addressable(batch.columns, f"{batch.name} data")
    by_index: dict[int, dict[str, Any]] = {}
    pending = indexed
    if provable(indexed):
        stats = spark_stats.collect(batch.frame, detail_rows=DETAIL_ROW_LIMIT)
        if stats is not None:
            for i, expectation in enumerate(indexed):
                proof = prove(expectation, stats)
                if proof is not None:
                    by_index[i] = _proven_result(expectation, proof, batch)
            pending = [e for i, e in enumerate(indexed) if i not in by_index]
    if pending:
        evaluated = gx_results(batch, doc | {"expectations": [_for_spark(e) for e in pending]}, batch.frame, "")
        examples = partial(spark_engine.example_rows, batch.frame)
        for i, res in evaluated.items():
            by_index[i] = _from_spark(_plain_result(res, batch, examples, max_examples), indexed[i])
    return [by_index[i] for i in range(len(indexed))]
