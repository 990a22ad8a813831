"""The start-up half of pipeline/dvc_guard.py, copied by `make install` into the venv's site-packages as
`_mlops_ci_dvc_guard.py` and imported there by `mlops_ci_dvc_guard.pth` when any Python of the venv starts.

It imports nothing of the project at start (a tool that analyses a copy of the code, such as lint-imports, must
not find `pipeline` already imported from the install): only when DVC imports its YAML module does it load
`pipeline.dvc_guard` and hand over. If the project is gone, DVC imports its module unguarded, never an error.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

TARGET = "dvc.utils.serialize._yaml"


class Bootstrap:
    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname != TARGET:
            return None
        try:
            from pipeline.dvc_guard import guarded_spec
        except Exception:
            return None
        return guarded_spec(fullname, path)


if not any(type(finder).__name__ == "Bootstrap" for finder in sys.meta_path):
    sys.meta_path.insert(0, Bootstrap())
