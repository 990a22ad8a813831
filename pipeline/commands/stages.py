"""`pipeline check|ingest|prepare|validate|train|export|evaluate|profile|report` and `pipeline gate data|metrics`."""

from __future__ import annotations

import argparse

from pipeline.commands.base import Context, Outcome


def _check(ctx: Context) -> Outcome:
    # DVC parses params.yaml itself (ruamel, no alias bounds) before any stage runs, so a file that
    # would hang it must be refused by our bounded loader first: `make run` and `make repro` run this.
    from pipeline.scan.policy import load_policy

    lines = [f"{ctx.paths.rel(ctx.paths.params)}: ok ({len(type(ctx.params).model_fields)} sections)"]
    policy = ctx.paths.root / "scan-policy.yaml"
    if policy.is_file():
        load_policy(policy)
        lines.append(f"{ctx.paths.rel(policy)}: ok")
    return Outcome(lines)


def _ingest(ctx: Context) -> Outcome:
    from pipeline.stages import ingest

    dest = ingest.run(ctx.params, ctx.paths)
    return Outcome([f"ingested {ctx.params.data.source} -> {ctx.paths.rel(dest)}"])


def _prepare(ctx: Context) -> Outcome:
    from pipeline.stages import prepare

    train, test = prepare.run(ctx.params, ctx.paths)
    return Outcome([f"prepared {ctx.paths.rel(train)} and {ctx.paths.rel(test)}"])


def _validate(ctx: Context) -> Outcome:
    from pipeline.gates.data import to_markdown
    from pipeline.stages import validate

    verdict = validate.run(ctx.params, ctx.paths, build_docs=not ctx.args.no_docs)
    return Outcome(
        [f"{verdict.headline()}: {verdict.summary['expectations']} expectations, "
         f"report {ctx.paths.rel(ctx.paths.data_gate_md)}"],
        summary_md=to_markdown(verdict),
    )


def _data_gate(ctx: Context) -> Outcome:
    """`pipeline gate data`: the verdict `dvc repro` recorded when the validate stage's inputs are unchanged."""
    from model_server.safe_load import ParseError, load_json, load_yaml
    from pipeline.errors import GateFailed
    from pipeline.stage_lock import changed_since_repro

    params = ctx.params  # checked before anything else reads params.yaml
    if ctx.args.fresh:
        return _validate(ctx)
    tree = load_yaml(ctx.paths.params.read_text(encoding="utf-8"))
    if changed_since_repro(ctx.paths.root, "validate", tree) is not None:
        return _validate(ctx)
    try:
        recorded = load_json(ctx.paths.data_gate_json.read_bytes())
        passed, summary = recorded["passed"], recorded["summary"]
        markdown = ctx.paths.data_gate_md.read_text(encoding="utf-8")
    except (OSError, ParseError, UnicodeDecodeError, KeyError, TypeError):
        return _validate(ctx)
    if passed is not True:
        raise GateFailed(f"{ctx.paths.rel(ctx.paths.root / params.data.raw)}: data gate failed "
                         f"(recorded in {ctx.paths.rel(ctx.paths.data_gate_json)})", markdown)
    lines = [f"data gate passed: {summary.get('expectations', '?')} expectations, reused the verdict `dvc repro` "
             f"recorded in {ctx.paths.rel(ctx.paths.data_gate_md)} (inputs unchanged; --fresh re-validates)"]
    # Data Docs are not in dvc.lock (GX stamps every page with the run time): only a validation builds them, so
    # where DVC skipped the stage (a fresh clone, a restored cache) there are none. Say so rather than pay a
    # validation for pages of data that did not change.
    if not ctx.args.no_docs and not (ctx.paths.data_docs / "index.html").is_file():
        lines.append(f"note: no Data Docs at {ctx.paths.rel(ctx.paths.data_docs)} (the data did not change); "
                     "`pipeline gate data --fresh` builds them")
    return Outcome(lines, summary_md=markdown)


def _train(ctx: Context) -> Outcome:
    from pipeline.stages import train

    meta = train.run(ctx.params, ctx.paths)
    return Outcome([f"trained {meta.model} on {meta.train_rows} rows -> "
                    f"{ctx.paths.rel(ctx.paths.model)} (sha256 {meta.sha256[:12]})"])


def _export(ctx: Context) -> Outcome:
    from pipeline.stages import export

    meta = export.run(ctx.params, ctx.paths)
    proof = meta.parity
    return Outcome([f"exported {ctx.paths.rel(ctx.paths.model)} -> {ctx.paths.rel(ctx.paths.onnx_model)} "
                    f"(sha256 {meta.sha256[:12]}): same labels on all {proof['rows']} checked rows, "
                    f"probabilities within {proof['max_probability_difference']:.1e}"
                    + (f" ({proof['tied_rows']} rows with tied top classes got the other of them)"
                       if proof.get("tied_rows") else "")])


def _evaluate(ctx: Context) -> Outcome:
    from pipeline.stages import evaluate

    m = evaluate.run(ctx.params, ctx.paths)
    extra = "".join(f", {label} {m[key]:.4f}" for key, label in (("roc_auc", "ROC AUC"), ("pr_auc", "PR AUC"),
                                                                  ("f1", f"F1 of {m.get('positive_class')!r}"))
                    if isinstance(m.get(key), float))
    return Outcome([f"{m['task']}: accuracy {m['accuracy']:.4f}, macro F1 {m['macro_f1']:.4f}{extra} "
                    f"on {m['test_rows']} rows"],
                   outputs={"accuracy": f"{m['accuracy']:.4f}", "macro_f1": f"{m['macro_f1']:.4f}"})


def _metric_gate(ctx: Context) -> Outcome:
    from pipeline.gates.metrics import to_markdown
    from pipeline.stages import metric_gate

    verdict = metric_gate.run(ctx.params, ctx.paths, baseline_rev=ctx.args.baseline)
    lines = [verdict.headline()] + [f"note: {n}" for n in verdict.summary.get("notes", [])]
    return Outcome(lines, summary_md=to_markdown(verdict))


def _profile(ctx: Context) -> Outcome:
    from pipeline.stages import profile

    suite = profile.run(ctx.params, ctx.paths, bins=ctx.args.bins, threshold=ctx.args.threshold)
    return Outcome([f"wrote {len(suite['expectations'])} drift expectations to {ctx.params.gates.data.drift_suite}; "
                    "review and commit it"])


def _tracking_md(ctx: Context) -> str | None:
    """The report's MLflow section when tracking is on; None (no section) when it is off or unreachable."""
    from model_server.safe_load import read_json_object_or_none
    from pipeline.gates.report import tracking_md
    from pipeline.tracking import doors
    from pipeline.tracking.run_inputs import numeric_metrics
    from pipeline.tracking.settings import resolve

    settings = resolve(ctx.params.tracking)
    if settings is None:
        return None
    found = doors.report_inputs(settings, ctx.paths.root)
    if found is None:
        return None
    url, production = found
    current = numeric_metrics(read_json_object_or_none(ctx.paths.metrics) or {})
    return tracking_md(url, current, production.metrics if production else None,
                       production.version if production else None, list(ctx.params.gates.metrics.compare))


def _report(ctx: Context) -> Outcome:
    from pipeline.stages import report

    text = report.run(ctx.params, ctx.paths, baseline_rev=ctx.args.baseline, tracking_md=_tracking_md(ctx))
    return Outcome([f"wrote {ctx.paths.rel(ctx.paths.report_md)}"], summary_md=text if ctx.args.summary else None)


def register(sub: argparse._SubParsersAction) -> None:
    for name, handler, help_text in (
        ("check", _check, "validate params.yaml and scan-policy.yaml with the bounded loader (before `dvc repro`)"),
        ("ingest", _ingest, "copy data.source into the immutable raw snapshot"),
        ("prepare", _prepare, "parse raw data against the contract, handle missing values, split"),
        ("train", _train, "fit the model on the training split"),
        ("export", _export, "convert the trained model to ONNX for serving, proven equal on every row"),
        ("evaluate", _evaluate, "score the model; write metrics and plots"),
    ):
        sub.add_parser(name, help=help_text).set_defaults(handler=handler)

    for name in ("validate",):
        p = sub.add_parser(name, help="data-quality gate (GX 1.x) on the prepared data")
        p.add_argument("--no-docs", action="store_true", help="skip building GX Data Docs")
        p.set_defaults(handler=_validate)

    gate = sub.add_parser("gate", help="run a gate: data or metrics")
    gates = gate.add_subparsers(dest="gate", required=True, metavar="{data,metrics}")
    d = gates.add_parser("data", help="data-quality gate (`pipeline validate`, or its recorded verdict when its "
                          "inputs are unchanged since `dvc repro`)")
    d.add_argument("--no-docs", action="store_true", help="skip building GX Data Docs")
    d.add_argument("--fresh", action="store_true",
                   help="validate again even when dvc.lock shows the inputs unchanged since the last validate")
    d.set_defaults(handler=_data_gate)
    m = gates.add_parser("metrics", help="metric floors and no-regression against the baseline revision")
    m.add_argument("--baseline", help="git revision to compare with (default: gates.metrics.baseline_rev)")
    m.set_defaults(handler=_metric_gate)

    p = sub.add_parser("profile", help="write the drift suite's reference profile from the training split")
    p.add_argument("--bins", type=int, default=5, help="bins per numeric column (default 5)")
    p.add_argument("--threshold", type=float, default=0.25, help="KL divergence threshold (default 0.25)")
    p.set_defaults(handler=_profile)

    r = sub.add_parser("report", help="combine gates, params diff and plots into reports/report.md")
    r.add_argument("--baseline", help="git revision to compare params with (default: gates.metrics.baseline_rev)")
    r.add_argument("--summary", action="store_true", help="also append the report to $GITHUB_STEP_SUMMARY")
    r.set_defaults(handler=_report)
