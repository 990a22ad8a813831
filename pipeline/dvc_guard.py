"""Bounds on what DVC itself parses, so that a bare `dvc repro` cannot hang on a hostile params.yaml.

DVC reads params.yaml for templating (dvc.yaml's `${data.raw}`), and dvc.yaml and dvc.lock, with ruamel.yaml, and
turns the result into its templating context, which copies every aliased value: a "billion laughs" params.yaml
(nested anchors and aliases) grew `dvc repro` by about 60 MB/s until it was killed, before any stage ran. `pipeline
check` (what `make run` and `make repro` call first) refuses such a file, but a user who types `dvc repro` skips it.

So `make install` writes a `.pth` file into the project's venv (`write_pth`): every Python started there adds one
import hook (pipeline/dvc_guard_boot.py). When DVC imports its YAML module, the hook wraps its one parser
(`dvc.utils.serialize._yaml.parse_yaml`) with the project's bounded composer (model_server.safe_load): a document
that would expand past `MAX_NODES` or nest past `MAX_DEPTH` becomes DVC's own parse error, naming the file and
line, in well under a second. A document with no `*` (so no alias) and too few brackets or too little indentation
to nest deeply is handed over after that substring check alone, so DVC's ordinary commands pay next to nothing.
Outside this venv (DVC installed some other way), nothing changes.
"""

from __future__ import annotations

import importlib.machinery
import shutil
import sysconfig
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

PTH_NAME = "mlops_ci_dvc_guard.pth"
# A dvc.lock of a large project has tens of thousands of values; an alias bomb, billions.
MAX_NODES = 2_000_000
MAX_DEPTH = 64
BOOT_MODULE = "_mlops_ci_dvc_guard"


def refusal(text: str) -> str | None:
    """Why DVC must not build this YAML document (`line N: ...`), or None when it is safe to hand over."""
    could_expand = "*" in text
    could_nest = text.count("[") + text.count("{") > MAX_DEPTH or "\n" + " " * (2 * MAX_DEPTH) in text
    if not (could_expand or could_nest):
        return None
    import yaml

    from model_server.safe_load import BoundedLoader, ParseError

    class DvcBounds(BoundedLoader):
        max_nodes = MAX_NODES
        max_depth = MAX_DEPTH

    try:
        for _ in yaml.compose_all(text, Loader=DvcBounds):  # composes only: no values are built
            pass
    except ParseError as exc:
        return str(exc)
    except (yaml.YAMLError, RecursionError):
        return None  # not ours to report: DVC's own parser says what is wrong with it
    return None


def _guard(module: ModuleType) -> None:
    parse: Callable[..., Any] = module.parse_yaml
    error: type[Exception] = module.YAMLError  # DVC's ParseError(path, message): "unable to read: '<path>', ..."

    def parse_yaml(text: str, path: str, typ: str = "safe") -> Any:
        problem = refusal(text)
        if problem is not None:
            raise error(path, problem)
        return parse(text, path, typ)

    parse_yaml.__wrapped__ = parse  # type: ignore[attr-defined]
    module.parse_yaml = parse_yaml  # type: ignore[attr-defined]


def guarded_spec(fullname: str, path: Sequence[str] | None) -> importlib.machinery.ModuleSpec | None:
    """DVC's YAML module found as Python would, set to be guarded right after it runs (before anyone imports
    from it); what the start-up hook (pipeline/dvc_guard_boot.py) returns for that module."""
    spec = importlib.machinery.PathFinder.find_spec(fullname, path)
    if spec is None or spec.loader is None:
        return spec
    run = spec.loader.exec_module

    def exec_module(module: ModuleType) -> None:
        run(module)
        _guard(module)

    spec.loader.exec_module = exec_module  # type: ignore[method-assign]
    return spec


def guarded() -> bool:
    """Whether DVC's parser, imported in this interpreter, runs behind the bounds."""
    import dvc.utils.serialize._yaml as dvc_yaml

    return hasattr(dvc_yaml.parse_yaml, "__wrapped__")


def write_pth(site_packages: Path | None = None) -> Path:
    """Make every Python of this environment guard DVC's parser (what `make install` calls): the start-up hook
    as a top-level module of site-packages, and the .pth line that imports it."""
    where = Path(site_packages or sysconfig.get_paths()["purelib"])
    shutil.copyfile(Path(__file__).with_name("dvc_guard_boot.py"), where / f"{BOOT_MODULE}.py")
    target = where / PTH_NAME
    target.write_text(f"import {BOOT_MODULE}\n", encoding="utf-8")
    return target
