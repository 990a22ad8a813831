"""scan-policy.yaml read from disk with the bounded YAML loader, into the gate's policy types
(pipeline/gates/scan_policy.py). Every problem in the file is reported together on one line, each naming its key.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from model_server.safe_load import BoundedLoader, ParseError, load_yaml
from pipeline.errors import ConfigError
from pipeline.gates.scan_policy import ScanPolicy, parse_policy


class _Loader(BoundedLoader):
    """SafeLoader that leaves dates as text, so pydantic reports a bad date with its key."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_policy(path: Path) -> ScanPolicy:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: scan policy not found; create scan-policy.yaml at the repository root or pass --policy"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the scan policy ({exc})") from None
    try:
        raw = load_yaml(text, loader=_Loader)
    except ParseError as exc:
        raise ConfigError(exc.located(path.name)) from None
    return parse_policy(raw, path.name)
