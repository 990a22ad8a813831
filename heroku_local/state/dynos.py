"""A dyno as the platform's state records it: what runs, from which release, and how it is doing.

The lifecycle that boots, watches and stops it is heroku_local/dynos.py; keeping the record here
lets an app's state name its dynos without importing that lifecycle (no state <-> dynos cycle).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from heroku_local.state.ids import new_id, stamp
from heroku_local.state.releases import Release


@dataclass
class Dyno:
    name: str
    type: str
    release: Release
    size: str
    state: str = "starting"
    command: str = ""
    id: str = field(default_factory=new_id)
    created_at: str = field(default_factory=stamp)
    updated_at: str = field(default_factory=stamp)
    container: Any = None
    host_port: int | None = None
    stopping: bool = False
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def number(self) -> int:
        """The N of `web.N`; 0 for a one-off name such as `release.1234`."""
        tail = self.name.rsplit(".", 1)[-1]
        return int(tail) if tail.isdigit() and self.type != "release" else 0
