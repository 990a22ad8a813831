"""The base-image scripts take the Debian mirror from the machine's apt configuration, never a hard-coded host."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

SCRIPT = REPO / "scripts/ci/debian-mirror.sh"
MMDEBSTRAP_SCRIPTS = [REPO / "scripts/ci/docker-engine.sh", REPO / "benchmarks/serving/full-base.sh"]


def _mirror(tmp_path: Path, sources: str | None = None, classic: str | None = None,
            **env: str) -> subprocess.CompletedProcess[str]:
    directory = tmp_path / "sources.list.d"
    directory.mkdir(exist_ok=True)
    if sources is not None:
        (directory / "debian.sources").write_text(sources)
    listing = tmp_path / "sources.list"
    if classic is not None:
        listing.write_text(classic)
    environment = {k: v for k, v in os.environ.items() if k != "DEBIAN_MIRROR"}
    environment.update(APT_SOURCES_DIR=str(directory), APT_SOURCES_LIST=str(listing), **env)
    return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=environment, timeout=30)


def test_a_deb822_source_gives_the_main_archive_not_the_security_pocket(tmp_path: Path) -> None:
    sources = ("Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n\n"
               "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\n"
               "Types: deb\nURIs: https://mirror.corp.example/debian\nSuites: bookworm bookworm-updates\n"
               "Components: main\n")
    result = _mirror(tmp_path, sources)
    assert (result.returncode, result.stdout) == (0, "https://mirror.corp.example/debian\n")


def test_a_classic_sources_list_is_read_with_options(tmp_path: Path) -> None:
    classic = ("# comment\ndeb http://sec.example/debian-security bookworm-security main\n"
               "deb [arch=amd64 signed-by=/k.gpg] http://classic.example/debian bookworm main\n")
    result = _mirror(tmp_path, classic=classic)
    assert (result.returncode, result.stdout) == (0, "http://classic.example/debian\n")


def test_debian_mirror_overrides_and_no_configuration_is_one_clear_line(tmp_path: Path) -> None:
    assert _mirror(tmp_path, DEBIAN_MIRROR="http://given.example/debian").stdout == "http://given.example/debian\n"
    missing = _mirror(tmp_path)
    assert missing.returncode == 1 and missing.stdout == ""
    assert len(missing.stderr.splitlines()) == 1 and "configure apt" in missing.stderr


@pytest.mark.parametrize("script", MMDEBSTRAP_SCRIPTS, ids=lambda p: p.name)
def test_base_image_scripts_name_no_package_registry_host(script: Path) -> None:
    text = script.read_text()
    assert "debian-mirror.sh" in text
    assert not re.findall(r"https?://[^\s\"']+", "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")))
