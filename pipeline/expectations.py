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

from pipeline.contract import read_suite
from pipeline.errors import ConfigError

# GX phones home unless told not to; CI machines have no route out anyway.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


@dataclass(frozen=True)
class Batch:
    """One dataframe validated against one suite."""

    name: str
    frame: pd.DataFrame
    suite_path: Path


def _load_suite(path: Path) -> Any:
    from great_expectations.core.expectation_suite import ExpectationSuite

    doc = read_suite(path)
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


def _plain_result(res: Any, batch: Batch, max_examples: int) -> dict[str, Any]:
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
        "examples": [] if res.success else _example_rows(batch.frame, column, unexpected, max_examples),
    }


def _quiet_gx_logging() -> None:
    import logging

    # Some GX modules pin their own logger to INFO at import, and GX logs (then swallows) errors
    # we detect and report ourselves in one line. Its logs stay visible with `pipeline -v`.
    verbose = logging.getLogger("pipeline").isEnabledFor(logging.DEBUG)
    for name in [n for n in logging.root.manager.loggerDict if n.startswith("great_expectations")]:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.CRITICAL)


# Up to this many rows a batch is validated once with full detail (observed values, examples)
# for the report and Data Docs. Above it, GX's SUMMARY format costs ~3x the verdict itself, so
# the gate first asks GX for verdicts only (BOOLEAN_ONLY: same success logic, same `mostly`
# arithmetic) and then re-runs with full detail just the expectations that failed.
DETAIL_ROW_LIMIT = 100_000


def _summary_format(max_examples: int) -> dict[str, Any]:
    return {"result_format": "SUMMARY", "partial_unexpected_count": max(max_examples, 1)}


def _run(checkpoint: Any, frame: pd.DataFrame) -> list[Any]:
    # GX's KL-divergence code divides by the non-null count and lets numpy warn when a column
    # is empty; the expectation still fails and says so, the warning only adds noise.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        outcome = checkpoint.run(batch_parameters={"dataframe": frame})
    return [res for run_result in outcome.run_results.values() for res in run_result.results]


def run_checkpoint(batches: list[Batch], docs_dir: Path | None, max_examples: int) -> list[dict[str, Any]]:
    """Validate every batch through a GX checkpoint; return one plain result per expectation."""
    import great_expectations as gx
    from great_expectations.core.expectation_suite import ExpectationSuite

    _quiet_gx_logging()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}  # type: ignore[assignment]
    source = context.data_sources.add_pandas("pipeline")
    suites: dict[Path, Any] = {}
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

    def checkpoint_for(name: str, suite: Any, result_format: dict[str, Any], with_docs: bool) -> Any:
        batch_definition = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
        )
        # One checkpoint per batch: a checkpoint passes the same batch parameters (dataframe)
        # to all its validation definitions, and each batch here is a different dataframe.
        return context.checkpoints.add(
            gx.Checkpoint(name=f"gate_{name}", validation_definitions=[validation],
                          actions=actions if with_docs else [], result_format=result_format)
        )

    results: list[dict[str, Any]] = []
    for batch in batches:
        if batch.suite_path not in suites:
            suites[batch.suite_path] = context.suites.add(_load_suite(batch.suite_path))
        suite = suites[batch.suite_path]
        if len(batch.frame) <= DETAIL_ROW_LIMIT:
            detailed = _run(checkpoint_for(batch.name, suite, _summary_format(max_examples), True), batch.frame)
            results.extend(_plain_result(res, batch, max_examples) for res in detailed)
            continue
        verdicts = _run(checkpoint_for(batch.name, suite, {"result_format": "BOOLEAN_ONLY"}, True), batch.frame)
        failed = [res.expectation_config for res in verdicts if not res.success]
        details: list[Any] = []
        if failed:
            retry = context.suites.add(ExpectationSuite(name=f"{suite.name}_failed_{batch.name}", expectations=[
                {"type": c.type, "kwargs": dict(c.kwargs), "meta": dict(c.meta or {})} for c in failed]))
            details = _run(checkpoint_for(f"{batch.name}_detail", retry, _summary_format(max_examples), False),
                           batch.frame)
        detailed_iter = iter(details)
        for res in verdicts:
            results.append(_plain_result(res if res.success else next(detailed_iter), batch, max_examples))
    return results
