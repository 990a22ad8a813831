"""GitHub Actions helpers. Outside Actions every function is a no-op, so the CLI prints plain text."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def in_actions(env: Mapping[str, str] | None = None) -> bool:
    return (env if env is not None else os.environ).get("GITHUB_ACTIONS") == "true"


def _escape(value: str, prop: bool = False) -> str:
    # Workflow-command escaping as documented by GitHub (actions/toolkit `command.ts`).
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def annotation(level: str, message: str, file: str | None = None, line: int | None = None,
               title: str | None = None) -> str:
    props = []
    if file:
        props.append(f"file={_escape(file, True)}")
    if line:
        props.append(f"line={line}")
    if title:
        props.append(f"title={_escape(title, True)}")
    joined = " " + ",".join(props) if props else ""
    return f"::{level}{joined}::{_escape(message)}"


def append_summary(markdown: str, env: Mapping[str, str] | None = None) -> bool:
    target = (env if env is not None else os.environ).get("GITHUB_STEP_SUMMARY")
    if not target:
        return False
    with Path(target).open("a", encoding="utf-8") as fh:
        fh.write(markdown.rstrip() + "\n\n")
    return True


def set_output(name: str, value: str, env: Mapping[str, str] | None = None) -> bool:
    target = (env if env is not None else os.environ).get("GITHUB_OUTPUT")
    if not target:
        return False
    delimiter = "ghadelimiter_7f3c"  # heredoc form survives newlines in the value
    with Path(target).open("a", encoding="utf-8") as fh:
        fh.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    return True
