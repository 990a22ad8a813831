"""The guard in front of DVC's YAML parser: bombs refused with a line, the project's real files passed through."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pipeline import dvc_guard
from tests.conftest import BIN, REPO
from tests.unit.test_safe_load import billion_laughs


@pytest.mark.parametrize("name", ["params.yaml", "dvc.yaml", "dvc.lock", "scan-policy.yaml"])
def test_the_projects_own_files_pass(name: str) -> None:
    assert dvc_guard.refusal((REPO / name).read_text(encoding="utf-8")) is None


def test_globs_and_a_few_aliases_pass() -> None:
    assert dvc_guard.refusal("outs:\n  - data/*.csv\n") is None
    assert dvc_guard.refusal(billion_laughs(5, width=10)) is None  # 10**5 values: large, but DVC can build it


def test_an_alias_bomb_is_refused_with_its_line() -> None:
    problem = dvc_guard.refusal("seed: 1\n" + billion_laughs(9, width=10))
    assert problem is not None
    assert problem.startswith("line 8: expands to more than 2000000 values") and "alias bomb" in problem


def test_deep_nesting_in_flow_and_block_style_is_refused() -> None:
    assert "nested more than 64 levels" in str(dvc_guard.refusal("a: " + "[" * 10_000 + "]" * 10_000 + "\n"))
    block = "".join(f"{'  ' * i}k{i}:\n" for i in range(200)) + "  " * 200 + "v: 1\n"
    assert "nested more than 64 levels" in str(dvc_guard.refusal(block))


def test_invalid_yaml_is_left_to_dvc_to_report() -> None:
    assert dvc_guard.refusal("a: *undefined\n") is None


def test_the_venvs_python_guards_dvcs_parser_at_start() -> None:
    # `make install` wrote the .pth: a fresh interpreter of this venv, which never imports pipeline itself.
    probe = ("import dvc.utils.serialize as s, dvc.utils.strictyaml as y;"
             "print(hasattr(s.parse_yaml, '__wrapped__'), hasattr(y.parse_yaml, '__wrapped__'))")
    out = subprocess.run([str(BIN / "python"), "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == ["True", "True"], "no guard: run `make install` (it writes mlops_ci_dvc_guard.pth)"


def test_a_bomb_through_dvcs_own_loader_is_dvcs_parse_error(tmp_path: Path) -> None:
    from dvc.utils.serialize import YAMLError, load_yaml

    (tmp_path / "params.yaml").write_text(billion_laughs(9, width=10), encoding="utf-8")
    with pytest.raises(YAMLError, match=r"unable to read: '.*params\.yaml', line 7: expands to more than"):
        load_yaml(str(tmp_path / "params.yaml"))


def test_the_start_up_hook_imports_nothing_of_the_project() -> None:
    # lint-imports analyses a copy of the code (test_import_contracts_can_fail): an interpreter that had imported
    # `pipeline` from the install at start would analyse the install instead.
    probe = "import sys; print(sorted(m for m in sys.modules if m.split('.')[0] in ('pipeline', 'model_server')))"
    out = subprocess.run([str(BIN / "python"), "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
