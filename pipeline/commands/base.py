"""What every command module shares: the context a handler gets and the output it returns."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from pipeline.paths import Paths

if TYPE_CHECKING:
    from pipeline.params import Params


@dataclass
class Context:
    args: argparse.Namespace
    paths: Paths

    @cached_property
    def params(self) -> Params:
        # Imported on first use: pydantic's models cost ~70 ms to build, which `pipeline serve`
        # (it never reads params.yaml) would otherwise pay at every container start.
        from pipeline.params import load_params

        return load_params(self.paths.params)


@dataclass
class Outcome:
    """What a command hands back to the CLI: lines to print and Markdown for the job summary."""

    lines: list[str] = field(default_factory=list)
    summary_md: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Context], Outcome]
Register = Callable[[argparse._SubParsersAction], None]
