"""Runs versioned GX 1.x suites through a checkpoint and builds Data Docs.

This is the I/O side of the data gate: it owns the GX context, the checkpoint and the Data Docs
site, and hands plain dictionaries to the pure verdict logic in `pipeline.gates.data`.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.column_stats import collect
from pipeline.contract import read_suite
from pipeline.errors import ConfigError
from pipeline.gates.proofs import needs_row_keys, provable, prove

# GX phones home unless told not to; CI machines have no route out anyway.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


@dataclass(frozen=True)
class Batch:
    """One table validated against one suite."""

    name: str
    table: pa.Table
    suite_path: Path

    @classmethod
    def from_frame(cls, name: str, frame: pd.DataFrame, suite_path: Path) -> Batch:
        return cls(name, pa.Table.from_pandas(frame, preserve_index=False), suite_path)

    def frame(self, columns: list[str] | None = None) -> pd.DataFrame:
        return (self.table.select(columns) if columns is not None else self.table).to_pandas()


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


def _plain_result(res: Any, batch: Batch, frame: pd.DataFrame, max_examples: int) -> dict[str, Any]:
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
        "examples": [] if res.success else _example_rows(frame, column, unexpected, max_examples),
        "evaluated_by": "great_expectations",
    }


def _proven_result(expectation: dict[str, Any], proof: dict[str, Any], batch: Batch) -> dict[str, Any]:
    kwargs = _plain(dict(expectation.get("kwargs", {})))
    return {
        "batch": batch.name, "suite": batch.suite_path.name, "expectation": expectation["type"],
        "column": kwargs.get("column"), "kwargs": kwargs, "success": True,
        "observed": proof.get("observed"), "unexpected_count": proof.get("unexpected_count"),
        "unexpected_percent": 0.0 if proof.get("unexpected_count") == 0 else None,
        "unexpected_values": [], "details": None, "error": None, "examples": [],
        "evaluated_by": "column facts",
    }


def _columns_needed(expectations: list[dict[str, Any]], all_columns: list[str]) -> list[str]:
    needed: list[str] = []
    for exp in expectations:
        kw = exp.get("kwargs", {})
        names = [kw["column"]] if "column" in kw else list(kw.get("column_list") or [])
        if not names or exp["type"].startswith("expect_table_"):
            return all_columns  # table-level expectations look at the whole table
        needed += [n for n in names if n in all_columns and n not in needed]
    return needed


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


def _run(checkpoint: Any, frame: pd.DataFrame) -> list[Any]:
    # GX's KL-divergence code divides by the non-null count and lets numpy warn when a column
    # is empty; the expectation still fails and says so, the warning only adds noise.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        outcome = checkpoint.run(batch_parameters={"dataframe": frame})
    return [res for run_result in outcome.run_results.values() for res in run_result.results]


def run_checkpoint(batches: list[Batch], docs_dir: Path | None, max_examples: int) -> list[dict[str, Any]]:
    """Validate every batch; return one plain result per expectation, in suite order."""
    import great_expectations as gx

    _quiet_gx_logging()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}  # type: ignore[assignment]
    source = context.data_sources.add_pandas("pipeline")
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

    def gx_results(batch: Batch, doc: dict[str, Any], frame: pd.DataFrame) -> dict[int, Any]:
        """Run `doc` through a checkpoint; results keyed by the expectation's index in the suite."""
        suite = context.suites.add(_gx_suite(doc, batch.suite_path))
        batch_definition = source.add_dataframe_asset(batch.name).add_batch_definition_whole_dataframe(batch.name)
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name=batch.name, data=batch_definition, suite=suite)
        )
        # One checkpoint per batch: a checkpoint passes the same batch parameters (dataframe)
        # to all its validation definitions, and each batch here is a different dataframe.
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name=f"gate_{batch.name}", validation_definitions=[validation], actions=actions,
            result_format=result_format))
        return {int(res.expectation_config.meta["pipeline_index"]): res for res in _run(checkpoint, frame)}

    results: list[dict[str, Any]] = []
    for batch in batches:
        doc = read_suite(batch.suite_path)
        indexed = [{**e, "meta": {**(e.get("meta") or {}), "pipeline_index": i}}
                   for i, e in enumerate(doc["expectations"])]
        proofs: list[dict[str, Any] | None] = [None] * len(indexed)
        if batch.table.num_rows > DETAIL_ROW_LIMIT and provable(indexed):
            stats = collect(batch.table, row_keys=needs_row_keys(indexed))
            proofs = [prove(e, stats) for e in indexed]
        pending = [e for e, proof in zip(indexed, proofs, strict=True) if proof is None]
        frame = batch.frame(_columns_needed(pending, batch.table.schema.names)) if pending else pd.DataFrame()
        # Suite names are unique per context; the drift suite is validated against two batches.
        sub_suite = {**doc, "name": f"{doc['name']}.{batch.name}", "expectations": pending}
        evaluated = gx_results(batch, sub_suite, frame) if pending else {}
        for i, (exp, proof) in enumerate(zip(indexed, proofs, strict=True)):
            results.append(_proven_result(exp, proof, batch) if proof is not None
                           else _plain_result(evaluated[i], batch, frame, max_examples))
    return results
