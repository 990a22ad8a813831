"""dvc.yaml's code dependencies are derived from the code, not remembered.

A stage whose `deps` miss a module that decides its output is not re-run when that module changes, so the
committed outputs silently stop matching the code (the data gate's proofs once decided expectations without
being a dependency of `validate`). For each stage this test finds the function its `cmd` runs (through the
real CLI parser), follows every import of ours from there (module level and inside functions, transitively,
into both packages) and requires each module in the stage's `deps`, except the plumbing listed below.
"""

from __future__ import annotations

import ast
import inspect
import shlex
import textwrap
from pathlib import Path
from types import FunctionType

import pytest
import yaml

from pipeline.cli import build_parser
from tests.conftest import REPO

PACKAGES = ("pipeline", "model_server")
# Modules that cannot change what a stage writes: error classes and their messages, where files live (those
# paths are DVC deps/outs themselves), and package markers. Everything else a stage reaches is listed.
PLUMBING = frozenset({
    "pipeline/__init__.py", "model_server/__init__.py", "pipeline/gates/__init__.py", "pipeline/stages/__init__.py",
    "pipeline/errors.py", "model_server/errors.py", "pipeline/config_errors.py", "pipeline/paths.py",
})
# Every stage reads params.yaml through the typed loader before its function runs (pipeline/commands/base.py).
PARAMS_LOADER = "pipeline.params"


def _file_of(module: str) -> Path | None:
    for candidate in (REPO / f"{module.replace('.', '/')}.py", REPO / module.replace(".", "/") / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _our_imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in PACKAGES and _file_of(name) is not None}


def _reached(start: set[str]) -> set[str]:
    """Repository-relative paths of every module of ours reachable from `start` by imports."""
    seen: set[Path] = set()
    todo = [path for path in map(_file_of, start) if path is not None]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(p for p in map(_file_of, _our_imports(ast.parse(path.read_text(encoding="utf-8")))) if p)
    return {path.relative_to(REPO).as_posix() for path in seen}


def _handler(cmd: str) -> FunctionType:
    argv = shlex.split(cmd)
    assert argv[0] == "pipeline", f"stage command {cmd!r} is not a `pipeline` command"
    handler = build_parser().parse_args(argv[1:]).handler
    assert isinstance(handler, FunctionType)
    return handler


def _stages() -> dict[str, dict[str, object]]:
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    assert isinstance(stages, dict) and stages
    return stages


@pytest.mark.parametrize("name", sorted(_stages()))
def test_every_module_a_stage_runs_is_one_of_its_deps(name: str) -> None:
    stage = _stages()[name]
    handler = _handler(str(stage["cmd"]))
    own = _our_imports(ast.parse(textwrap.dedent(inspect.getsource(handler))))
    reached = _reached(own | {PARAMS_LOADER}) - PLUMBING
    deps = {str(dep) for dep in stage["deps"]}  # type: ignore[attr-defined]
    missing = sorted(reached - deps)
    assert not missing, f"dvc.yaml stage {name!r} runs {missing} but does not list them in deps"


def test_the_derivation_sees_function_level_and_transitive_imports() -> None:
    """The check can fail: `validate` reaches the proofs only through the gate module, and `train` reaches the
    data contract from inside the stage; both must be found."""
    validate = _reached(_our_imports(ast.parse(textwrap.dedent(inspect.getsource(_handler("pipeline validate"))))))
    assert {"pipeline/stages/validate.py", "pipeline/gates/data.py", "pipeline/gates/proofs.py"} <= validate
    assert "model_server/contract.py" in _reached({"pipeline.stages.train"})
    assert "pipeline/stages/train.py" not in validate
