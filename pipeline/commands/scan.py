"""`pipeline scan`: the container scan gate over hadolint, Trivy, pip-audit, secrets, image facts and SBOM."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime
from pathlib import Path

from pipeline.ci import github
from pipeline.commands.base import Context, Outcome
from pipeline.container import record
from pipeline.errors import GateFailed
from pipeline.gates.verdict import Verdict

# GitHub shows at most 10 error annotations per step; the SARIF upload carries the rest.
MAX_ANNOTATIONS = 10


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2030-01-31, got {text!r}") from None


def _annotate(verdict: Verdict, dockerfile: str | None) -> None:
    if not github.in_actions():
        return
    for finding in verdict.blocking[:MAX_ANNOTATIONS]:
        d = finding.detail
        in_file = d["kind"] == "lint" and d["location"]
        print(
            github.annotation(
                "error",
                f"{finding.where}: {finding.message}",
                file=d["location"] if in_file else dockerfile,
                line=d["line"] if in_file else None,
                title=f"{finding.rule} ({d['scanner']})",
            )
        )


def _scan(ctx: Context) -> Outcome:
    from pipeline.scan.run import ScanRequest, run

    args, root = ctx.args, ctx.paths.root

    def at(value: str | None) -> Path | None:
        return None if value is None else (root / value).resolve()

    dockerfile = at(args.dockerfile)
    if dockerfile is None and (root / "Dockerfile").is_file():
        dockerfile = root / "Dockerfile"
    request = ScanRequest(
        policy=at(args.policy) or root / "scan-policy.yaml",
        out_dir=at(args.out) or ctx.paths.reports / "scan",
        today=args.today or datetime.now(UTC).date(),
        image=args.image or (last["id"] if (last := record.read(ctx.paths)) else None),
        dockerfile=dockerfile,
        trivy_report=at(args.trivy_report),
        pip_audit_report=at(args.pip_audit_report),
        allow_missing=tuple(args.allow_missing or ()),
    )
    result = run(request, ctx.paths)
    s = result.verdict.summary
    outputs = {
        "scan_passed": str(result.verdict.passed).lower(),
        "scan_blocking": str(s["blocking"]),
        "scan_sarif": ctx.paths.rel(request.out_dir / "scan.sarif"),
    }
    if result.image_id:
        outputs["image_id"] = result.image_id
    _annotate(result.verdict, ctx.paths.rel(dockerfile) if dockerfile else None)
    if not result.verdict.passed:
        # The SARIF upload step runs on failure too and needs its path.
        for key, value in outputs.items():
            github.set_output(key, value)
        raise GateFailed(
            f"{result.verdict.headline()}; see {ctx.paths.rel(request.out_dir / 'scan.md')}", result.markdown
        )
    lines = [
        f"{result.verdict.headline()}: {s['findings']} findings, {s['waived']} waived, "
        f"scanners {', '.join(s['scanners']['ran']) or 'none'}"
    ]
    lines += [f"note: {note}" for note in s["notes"]]
    lines.append("wrote " + ", ".join(ctx.paths.rel(p) for p in result.written))
    return Outcome(lines, summary_md=result.markdown, outputs=outputs)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser(
        "scan",
        help="container scan gate: hadolint, Trivy/pip-audit reports, secrets, image facts, SBOM",
        description="Apply scan-policy.yaml to every scanner's findings; exit 1 when one blocks the image.",
    )
    p.add_argument(
        "--image",
        help="local image to inspect (facts, secrets in every layer, SBOM); default: the last `pipeline image build`",
    )
    p.add_argument(
        "--dockerfile", help="Dockerfile to lint with hadolint (default: ./Dockerfile when present)"
    )
    p.add_argument(
        "--trivy-report", metavar="PATH", help="Trivy JSON report of the image (trivy image -f json)"
    )
    p.add_argument(
        "--allow-missing", action="append", metavar="SCANNER",
        help="accept, for this run only, that a required scanner did not run (reported, not blocking); "
        "for local runs without Trivy, never in the workflows"
    )
    p.add_argument("--pip-audit-report", metavar="PATH", help="pip-audit JSON report (pip-audit -f json)")
    p.add_argument("--policy", metavar="PATH", help="scan policy (default: scan-policy.yaml)")
    p.add_argument("--out", metavar="DIR", help="report directory (default: reports/scan)")
    p.add_argument(
        "--today",
        type=_date,
        metavar="YYYY-MM-DD",
        help="judge waiver expiry as of this date (default: today, UTC)",
    )
    p.set_defaults(handler=_scan)
