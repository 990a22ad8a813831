"""Config vars: setting or removing any makes a new release with the same images (so dynos restart)."""

from __future__ import annotations

import re
from typing import Any

from heroku_local.errors import invalid
from heroku_local.state.apps import Apps
from heroku_local.state.releases import Releases

CONFIG_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ConfigVars:
    def __init__(self, apps: Apps, releases: Releases) -> None:
        self.apps, self.releases = apps, releases

    def get(self, ident: str) -> dict[str, str]:
        app = self.apps.get(ident)
        with self.apps.lock:
            return dict(app.config_vars)

    def update(self, ident: str, changes: Any) -> dict[str, str]:
        """`{"NAME": "value"}` sets, `{"NAME": null}` removes, as Heroku's Config Vars Update."""
        app = self.apps.get(ident)
        if not isinstance(changes, dict) or not changes:
            raise invalid("Invalid params: send an object of NAME: value (null removes)")
        bad = sorted(str(k) for k in changes if not CONFIG_KEY.match(k))
        if bad:
            raise invalid(f"Invalid params: config var names must match {CONFIG_KEY.pattern}, got {bad[:3]}")
        if not all(v is None or isinstance(v, str) for v in changes.values()):
            raise invalid("Invalid params: config var values must be strings or null")
        set_keys = sorted(k for k, v in changes.items() if v is not None)
        removed = sorted(k for k, v in changes.items() if v is None)
        words = [f"Set {', '.join(set_keys)}"] if set_keys else []
        words += [f"Remove {', '.join(removed)}"] if removed else []
        with self.apps.lock:
            config = {k: v for k, v in app.config_vars.items() if k not in removed}
            config.update({k: changes[k] for k in set_keys})
            app.config_vars = config
            images = dict(app.current.images) if app.current else {}
            self.releases.create(app, " and ".join(words) + " config vars", images, dict(config))
            return dict(config)
