"""Every import contract is real: a violation of it, planted in a copy of the code, breaks it.

A contract that lists the wrong modules passes by construction (the scan contract once did: it named
scan submodules one by one and left `scan.policy` out). So for every contract in pyproject.toml, each of
its source modules gets a planted import of one of its forbidden modules, every forbidden module is
planted at least once, and one real `lint-imports` run over the copy must report each planted import
under its own contract (so no ignore rule or indirect-import allowance swallows a direct violation), and
every module a contract names must exist (so no misspelt name forbids nothing). The contracts are read
from pyproject.toml, so a new contract is covered the day it is written. What this cannot prove is that a
contract names the right modules: that stays a review question (the scan contract's fix was to forbid
the whole of pipeline.scan rather than a list of its submodules).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tomllib
from itertools import cycle, islice
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pipeline", "model_server", "heroku_local")


def _contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    return list(config["contracts"])


def _pairs(contract: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, forbidden) pairs that name every source and every forbidden module at least once."""
    sources, forbidden = contract["source_modules"], contract["forbidden_modules"]
    count = max(len(sources), len(forbidden))
    return list(zip(islice(cycle(sources), count), islice(cycle(forbidden), count), strict=True))


def _plant(root: Path, source: str, target: str, tag: str) -> str:
    """Make `source` import `target` in the copy at `root`; returns the module that now holds the import.

    A package source gets a new module of its own; a module source (pipeline/params.py) gets the line
    appended, since a sibling module would not be part of it.
    """
    line = f"import {target}  # planted by {Path(__file__).name}\n"
    package = root.joinpath(*source.split("."))
    if package.is_dir():
        (package / f"{tag}.py").write_text(line, encoding="utf-8")
        return f"{source}.{tag}"
    module = package.with_suffix(".py")
    assert module.is_file(), f"contract source {source} is neither a package nor a module"
    with module.open("a", encoding="utf-8") as handle:
        handle.write("\n" + line)
    return source


def test_contracts_are_all_forbidden_kind() -> None:
    """The planting below knows forbidden contracts only; another kind must get its own proof here."""
    contracts = _contracts()
    assert contracts, "no import contracts in pyproject.toml"
    assert {c["type"] for c in contracts} == {"forbidden"}


def test_every_module_a_contract_names_exists() -> None:
    """A misspelt name (`request` for `requests`) would make a contract that forbids nothing real."""
    for contract in _contracts():
        for module in [*contract["source_modules"], *contract["forbidden_modules"]]:
            if module.split(".")[0] in PACKAGES:
                path = ROOT.joinpath(*module.split("."))
                assert path.is_dir() or path.with_suffix(".py").is_file(), f"{contract['name']!r}: no module {module}"
            else:
                assert importlib.util.find_spec(module) is not None, f"{contract['name']!r}: {module} is not installed"


@pytest.mark.timeout(300)
def test_every_contract_breaks_on_a_planted_violation(tmp_path: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    planted: dict[str, list[tuple[str, str]]] = {}
    for number, contract in enumerate(_contracts()):
        planted[contract["name"]] = [
            (_plant(tmp_path, source, target, f"_planted_violation_{number}_{i}"), target)
            for i, (source, target) in enumerate(_pairs(contract))
        ]

    # The original code keeps every contract (the unit tier's lint-imports run); the copy must break them all.
    result = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=280, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert f"Contracts: 0 kept, {len(planted)} broken." in out, out[-2000:]
    for name, pairs in planted.items():
        assert f"{name} BROKEN" in " ".join(out.split()), f"{name!r} was not broken:\n{out[-3000:]}"
        for module, target in pairs:
            assert f"{module} -> {target} " in out, f"{name!r} missed the planted {module} -> {target}"
