"""Runs versioned GX 1.x suites through a checkpoint and builds Data Docs.

This is the I/O side of the data gate: it owns the GX context, the checkpoint and the Data Docs
site, and hands plain dictionaries to the pure verdict logic in `pipeline.gates.data`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    try:
        return ExpectationSuite(
            name=doc["name"],
            expectations=[{"type": e["type"], "kwargs": e.get("kwargs", {}), "meta": e.get("meta", {})}
                          for e in doc["expectations"]],
            meta=doc.get("meta") or {},
        )
    except Exception as exc:  # GX raises several unrelated classes for a malformed suite
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path}: GX rejected the suite ({first}); fix the expectation it names") from None


def _example_rows(frame: pd.DataFrame, column: str | None, values: list[Any], limit: int) -> list[dict[str, Any]]:
    """Rows whose value in `column` is one of the reported unexpected values."""
    if not column or column not in frame.columns or limit == 0:
        return []
    if values:
        mask = frame[column].isin(values)
    else:
        mask = frame[column].isna()
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


def run_checkpoint(batches: list[Batch], docs_dir: Path | None, max_examples: int) -> list[dict[str, Any]]:
    """Validate every batch in one GX checkpoint; return one plain result per expectation."""
    import logging

    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}  # type: ignore[assignment]
    source = context.data_sources.add_pandas("pipeline")
    definitions = []
    suites: dict[Path, Any] = {}
    for batch in batches:
        if batch.suite_path not in suites:
            suites[batch.suite_path] = context.suites.add(_load_suite(batch.suite_path))
        asset = source.add_dataframe_asset(batch.name)
        definition = asset.add_batch_definition_whole_dataframe(batch.name)
        definitions.append(
            context.validation_definitions.add(
                gx.ValidationDefinition(name=batch.name, data=definition, suite=suites[batch.suite_path])
            )
        )
    actions = []
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
    # Each validation definition needs its own dataframe, so run them one by one through the
    # same checkpoint definition: the results and Data Docs are those of a normal checkpoint run.
    results: list[dict[str, Any]] = []
    frames = {b.name: b for b in batches}
    for definition in definitions:
        checkpoint = gx.Checkpoint(
            name=f"gate_{definition.name}",
            validation_definitions=[definition],
            actions=actions,
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": max(max_examples, 1)},
        )
        checkpoint = context.checkpoints.add(checkpoint)
        batch = frames[definition.name]
        outcome = checkpoint.run(batch_parameters={"dataframe": batch.frame})
        for run_result in outcome.run_results.values():
            for res in run_result.results:
                config = res.expectation_config
                kwargs = _plain(dict(config.kwargs))
                column = kwargs.get("column")
                detail = _plain(dict(res.result or {}))
                error = None
                if res.exception_info and res.exception_info.get("raised_exception"):
                    error = str(res.exception_info.get("exception_message", "")).splitlines()[0][:300]
                unexpected = detail.get("partial_unexpected_list") or []
                results.append(
                    {
                        "batch": batch.name,
                        "suite": batch.suite_path.name,
                        "expectation": config.type,
                        "column": column,
                        "kwargs": kwargs,
                        "success": bool(res.success),
                        "observed": detail.get("observed_value"),
                        "unexpected_count": detail.get("unexpected_count"),
                        "unexpected_percent": detail.get("unexpected_percent"),
                        "unexpected_values": unexpected[:max_examples],
                        "details": detail.get("details"),
                        "error": error,
                        "examples": []
                        if res.success
                        else _example_rows(batch.frame, column, unexpected, max_examples),
                    }
                )
    return results
