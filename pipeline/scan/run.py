"""`pipeline scan`: run or read every scanner, apply scan-policy.yaml, write the reports.

Reports are written whatever the verdict, so a blocked run still leaves its evidence: findings.json
(the normalized list and verdict), scan.md, scan.sarif and, with an image, sbom.cdx.json. The command
turns a failed verdict into exit 1.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.errors import DataError
from pipeline.gates import scan as gate
from pipeline.gates import scan_report
from pipeline.gates.scan import ScanFinding
from pipeline.gates.scan_policy import ScanPolicy
from pipeline.gates.verdict import Verdict
from pipeline.io import replaced_together
from pipeline.paths import Paths
from pipeline.scan import engine, facts, hadolint, reports, sbom, secrets
from pipeline.scan.layers import read_saved
from pipeline.scan.policy import load_policy

FINDINGS, MARKDOWN, SARIF, SBOM = "findings.json", "scan.md", "scan.sarif", "sbom.cdx.json"


@dataclass(frozen=True)
class ScanRequest:
    policy: Path
    out_dir: Path
    today: date
    image: str | None = None
    dockerfile: Path | None = None
    trivy_report: Path | None = None
    pip_audit_report: Path | None = None
    allow_missing: tuple[str, ...] = ()


@dataclass
class ImageScan:
    image_id: str
    findings: list[ScanFinding]
    notes: list[str]
    sbom_json: str
    sbom_components: int


@dataclass
class ScanResult:
    verdict: Verdict
    markdown: str
    written: list[Path] = field(default_factory=list)
    image_id: str = ""
    sbom_components: int | None = None


def open_image(ref: str) -> Any:
    return engine.get_image(engine.connect(), ref)


def scan_image(ref: str, policy: ScanPolicy, image: Any = None) -> ImageScan:
    """Facts, secrets and SBOM of one local image, from the Engine API alone (no container is run)."""
    image = image if image is not None else open_image(ref)
    try:
        return _scan(ref, policy, image)
    finally:
        image.client.close()


def _scan(ref: str, policy: ScanPolicy, image: Any) -> ImageScan:
    config: dict[str, Any] = image.attrs.get("Config") or {}
    diff_ids = list((image.attrs.get("RootFS") or {}).get("Layers") or [])
    steps = engine.history(image)
    candidates = secrets.Candidates(policy.secrets)

    def keep(path: str, size: int) -> bool:
        return sbom.wanted(path) or candidates(path, size)

    with tempfile.TemporaryDirectory(prefix="pipeline-scan-") as tmp:
        layers = read_saved(engine.save(image), diff_ids, keep, Path(tmp))
        final = layers.final_files
        count = len(layers.layers)
        to_scan = [
            secrets.LayerFile(path, copy, layer.index, count, layer.diff_id, final.get(path) != layer.index)
            for layer in layers.layers
            for path, copy in layer.kept.items()
            if candidates(path, 0)
        ]
        found = [
            *facts.image_facts(config, steps, final.keys(), policy.required_labels),
            *secrets.scan_files(to_scan),
            *secrets.scan_env(config.get("Env") or []),
        ]
        metadata = {
            path: layers.layers[index].kept[path].read_bytes()
            for path, index in final.items()
            if sbom.wanted(path) and path in layers.layers[index].kept
        }
    notes = []
    if candidates.too_large:
        notes.append(
            f"secrets: {len(candidates.too_large)} file(s) over secrets.max_file_bytes were not scanned "
            f"(e.g. {', '.join(sorted(set(candidates.too_large))[:3])})"
        )
    text, components = sbom.build(ref, image.id, metadata, __version__)
    return ImageScan(image.id, found, notes, text, components)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _dedupe(findings: list[ScanFinding]) -> list[ScanFinding]:
    """pip-audit and Trivy often report the same advisory for the same package: keep Trivy's (it rates it)."""
    rated = {(f.id, _canonical(f.package), f.installed) for f in findings if f.scanner == "trivy"}
    return [
        f
        for f in findings
        if not (f.scanner == "pip-audit" and (f.id, _canonical(f.package), f.installed) in rated)
    ]


def run(req: ScanRequest, paths: Paths) -> ScanResult:
    policy = load_policy(req.policy)
    findings: list[ScanFinding] = []
    ran: set[str] = set()
    notes: list[str] = []
    trivy: reports.Read | None = None

    dockerfile_shown = "Dockerfile"
    if req.dockerfile is not None:
        dockerfile_shown = paths.rel(req.dockerfile)
        findings += hadolint.run(req.dockerfile, dockerfile_shown)
        ran.add("hadolint")
    if req.trivy_report is not None:
        read = reports.read_trivy(req.trivy_report)
        findings += read.findings
        notes += read.notes
        trivy = read
        ran.add("trivy")
    if req.pip_audit_report is not None:
        read = reports.read_pip_audit(req.pip_audit_report)
        findings += read.findings
        notes += read.notes
        ran.add("pip-audit")

    image_scan = None
    if req.image:
        image = open_image(req.image)
        layers = list((image.attrs.get("RootFS") or {}).get("Layers") or [])
        same = trivy.describes(image.id, layers) if trivy else True
        if same is False:
            assert trivy is not None and req.trivy_report is not None
            raise DataError(
                f"{paths.rel(req.trivy_report)}: the Trivy report is for image {trivy.image_id[:19] or '?'} "
                f"but {req.image} is {image.id[:19]} (different layers too); run Trivy on the image you "
                "scan and ship"
            )
        if same is None:
            notes.append("the Trivy report names no image id or layers: it could not be matched to --image")
        image_scan = scan_image(req.image, policy, image)
        findings += image_scan.findings
        notes += image_scan.notes
        ran.update({"image", "secrets"})

    verdict = gate.evaluate(
        _dedupe(findings), policy, ran, req.today, source=paths.rel(req.policy), notes=notes,
        allow_missing=req.allow_missing,
    )
    findings_path = req.out_dir / FINDINGS
    markdown = scan_report.to_markdown(verdict, findings_path=paths.rel(findings_path))
    record = {
        **verdict.to_dict(),
        "inputs": {
            "image": req.image,
            "image_id": image_scan.image_id if image_scan else None,
            "dockerfile": dockerfile_shown if req.dockerfile else None,
            "trivy_report": paths.rel(req.trivy_report) if req.trivy_report else None,
            "pip_audit_report": paths.rel(req.pip_audit_report) if req.pip_audit_report else None,
            "policy": paths.rel(req.policy),
            "today": req.today.isoformat(),
        },
    }
    sarif = scan_report.to_sarif(verdict, dockerfile=dockerfile_shown, tool_version=__version__)
    sbom_path = req.out_dir / SBOM
    texts = {
        findings_path: json.dumps(record, indent=2, sort_keys=True, default=str) + "\n",
        req.out_dir / MARKDOWN: markdown,
        req.out_dir / SARIF: json.dumps(sarif, indent=2) + "\n",
    }
    if image_scan:
        texts[sbom_path] = image_scan.sbom_json
    # All or nothing: a failure half-way must not leave new findings beside an older SARIF.
    with replaced_together(*texts) as temps:
        for tmp, text in zip(temps, texts.values(), strict=True):
            tmp.write_text(text, encoding="utf-8")
    if not image_scan:
        sbom_path.unlink(missing_ok=True)  # a previous run's SBOM would describe some other image
    written = list(texts)

    return ScanResult(
        verdict,
        markdown,
        written,
        image_scan.image_id if image_scan else "",
        image_scan.sbom_components if image_scan else None,
    )
