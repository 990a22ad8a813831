"""Apps: the records every other piece of state hangs off, and the one lock that guards all of it."""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from heroku_local.errors import PlatformError, invalid, not_found
from heroku_local.logs import AppLog
from heroku_local.state.ids import new_id, stamp

if TYPE_CHECKING:
    from heroku_local.state.dynos import Dyno
    from heroku_local.state.formation import Formation
    from heroku_local.state.releases import Release

# Heroku's app name rule: 3 to 30 characters, a letter first, lowercase letters, digits and dashes.
APP_NAME = re.compile(r"^[a-z][a-z0-9-]{1,28}[a-z0-9]$")


@dataclass
class App:
    name: str
    stack: str
    web_url: str = ""
    id: str = field(default_factory=new_id)
    created_at: str = field(default_factory=stamp)
    updated_at: str = field(default_factory=stamp)
    released_at: str | None = None
    maintenance: bool = False
    # Overrides the runtime's boot timeout for this app, as Heroku support can raise it per app.
    boot_timeout: float | None = None
    formation: dict[str, Formation] = field(default_factory=dict)
    config_vars: dict[str, str] = field(default_factory=dict)
    releases: list[Release] = field(default_factory=list)
    current: Release | None = None
    dynos: dict[str, Dyno] = field(default_factory=dict)
    log: AppLog = field(default_factory=AppLog)


class Apps:
    """Every app by name. `lock` (re-entrant) guards the apps and everything they hold."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._by_name: dict[str, App] = {}

    def get(self, ident: str) -> App:
        """By name or id, as Heroku's `{app_id_or_name}`; 404 `not_found` otherwise."""
        found = self.find(ident)
        if found is None:
            raise not_found("app")
        return found

    def find(self, ident: str) -> App | None:
        with self.lock:
            return self._by_name.get(ident) or next((a for a in self._by_name.values() if a.id == ident), None)

    def all(self) -> list[App]:
        with self.lock:
            return sorted(self._by_name.values(), key=lambda a: a.name)

    def __contains__(self, name: object) -> bool:
        with self.lock:
            return name in self._by_name

    def add(self, name: str | None, stack: str | None, boot_timeout: float | None = None) -> App:
        name = name or f"app-{uuid.uuid4().hex[:8]}"
        if not isinstance(name, str) or not APP_NAME.match(name):
            raise invalid(
                f"Name {name!r} must start with a letter, end with a letter or digit and can only contain "
                "lowercase letters, digits, and dashes (3 to 30 characters)."
            )
        if stack is not None and not isinstance(stack, str):
            raise invalid("Invalid params: stack must be a stack name such as container")
        with self.lock:
            if name in self._by_name:
                raise invalid("Name is already taken")
            app = App(name=name, stack=stack or "container", boot_timeout=boot_timeout)
            self._by_name[name] = app
        return app

    def update(self, ident: str, body: dict[str, Any]) -> App:
        """`build_stack` and `maintenance`, the two fields of Heroku's App Update this target models."""
        app = self.get(ident)
        stack = body.get("build_stack")
        if isinstance(stack, dict):
            stack = stack.get("name")
        if stack is not None and not isinstance(stack, str):
            raise invalid("Invalid params: build_stack must be a stack name or {\"name\": ...}")
        if "maintenance" in body and not isinstance(body["maintenance"], bool):
            raise invalid("Invalid params: maintenance must be true or false")
        with self.lock:
            if stack is not None:
                app.stack = stack
            if "maintenance" in body:
                app.maintenance = body["maintenance"]
            app.updated_at = stamp()
        return app

    def remove(self, ident: str) -> App:
        app = self.get(ident)
        with self.lock:
            if self._by_name.get(app.name) is not app:
                raise PlatformError(404, "not_found", "Couldn't find that app.", resource="app")
            del self._by_name[app.name]
        return app
