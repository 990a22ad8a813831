"""Data-quality verdict over GX validation results (plain dicts, see pipeline.expectations)."""

from __future__ import annotations

from typing import Any

from pipeline.gates.verdict import Finding, Verdict

_SHORT = {
    "expect_table_columns_to_match_ordered_list": "columns differ from the contract",
    "expect_table_columns_to_match_set": "columns differ from the contract",
    "expect_table_row_count_to_be_between": "row count out of bounds",
    "expect_compound_columns_to_be_unique": "duplicated rows",
    "expect_column_values_to_be_of_type": "wrong type",
    "expect_column_values_to_not_be_null": "too many missing values",
    "expect_column_values_to_be_in_set": "unexpected categories",
    "expect_column_values_to_be_between": "values out of range",
    "expect_column_kl_divergence_to_be_less_than": "distribution drift",
}


def _observed(result: dict[str, Any]) -> str:
    kind = result["expectation"]
    kw = result["kwargs"]
    if result.get("error"):
        return f"could not be evaluated: {result['error']}"
    if kind in {"expect_table_columns_to_match_ordered_list", "expect_table_columns_to_match_set"}:
        observed = result.get("observed") or []
        expected = kw.get("column_list") or []
        missing = [c for c in expected if c not in observed]
        extra = [c for c in observed if c not in expected]
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"unexpected {extra}")
        return ", ".join(parts) or f"order differs: {observed}"
    if kind == "expect_table_row_count_to_be_between":
        return f"{result.get('observed')} rows, expected {kw.get('min_value')}..{kw.get('max_value')}"
    if kind == "expect_column_values_to_be_of_type":
        return f"observed {result.get('observed')}, expected {kw.get('type_')}"
    if kind == "expect_column_kl_divergence_to_be_less_than":
        observed = result.get("observed")
        if not isinstance(observed, int | float):
            return "KL divergence could not be computed (no non-null values to compare with the reference profile)"
        return f"KL divergence {observed:.3f} >= {kw.get('threshold')} vs the reference profile"
    count = result.get("unexpected_count")
    pct = result.get("unexpected_percent")
    values = result.get("unexpected_values") or []
    text = f"{count} values" if count is not None else "failed"
    if isinstance(pct, int | float):
        text += f" ({pct:.1f}%)"
    if "mostly" in kw:
        text += f", allowed {100 * (1 - float(kw['mostly'])):.1f}%"
    if values and kind != "expect_column_values_to_not_be_null":
        text += f", e.g. {values[:3]}"
    if kind == "expect_column_values_to_be_between":
        text += f"; range {kw.get('min_value')}..{kw.get('max_value')}"
    if kind == "expect_column_values_to_be_in_set":
        text += f"; allowed {kw.get('value_set')}"
    return text


def evaluate(results: list[dict[str, Any]]) -> Verdict:
    """Turn per-expectation results into a verdict; every failed expectation blocks."""
    findings = []
    for res in results:
        if res["success"]:
            continue
        scope = "" if res["batch"] == "data" else f"{res['batch']} split, "
        where = scope + (f"column {res['column']!r}" if res.get("column") else "table")
        findings.append(
            Finding(
                rule=res["expectation"],
                message=f"{_SHORT.get(res['expectation'], res['expectation'])}: {_observed(res)}",
                where=where,
                detail={"examples": res.get("examples", []), "suite": res["suite"], "kwargs": res["kwargs"]},
            )
        )
    batches = sorted({r["batch"] for r in results})
    summary = {
        "expectations": len(results),
        "failed": len(findings),
        "batches": {b: sum(1 for r in results if r["batch"] == b and not r["success"]) for b in batches},
    }
    return Verdict(gate="data", passed=not findings and bool(results), findings=tuple(findings), summary=summary)


def to_markdown(verdict: Verdict, max_examples: int = 3) -> str:
    icon = "✅" if verdict.passed else "❌"
    lines = [
        f"### {icon} Data gate: {'passed' if verdict.passed else 'failed'}",
        "",
        f"{verdict.summary.get('expectations', 0)} expectations evaluated, "
        f"{verdict.summary.get('failed', 0)} failed.",
    ]
    if verdict.findings:
        lines += ["", "| where | expectation | observed |", "|---|---|---|"]
        for f in verdict.findings:
            lines.append(f"| `{f.where}` | `{f.rule}` | {f.message.replace('|', '/')} |")
        shown = [f for f in verdict.findings if f.detail.get("examples")]
        for f in shown[:5]:
            lines += ["", f"<details><summary>Example rows for <code>{f.where}</code></summary>", ""]
            rows = f.detail["examples"][:max_examples]
            cols = list(rows[0].keys())
            lines.append("| " + " | ".join(cols) + " |")
            lines.append("|" + "---|" * len(cols))
            for row in rows:
                lines.append("| " + " | ".join(str(row[c]) for c in cols) + " |")
            lines += ["", "</details>"]
    return "\n".join(lines) + "\n"
