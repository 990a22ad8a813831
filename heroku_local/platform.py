"""The control plane, assembled: apps, releases, formation, config vars, dynos, delivery and logs, each
in its own module, wired here once. The API routes, the router and the server use this object; what a
route needs it reaches by name (`platform.releases.get(...)`), so there is one way to each piece.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from heroku_local.delivery import Delivery
from heroku_local.dynos import DynoLifecycle, find_dyno, routable
from heroku_local.logs import LogSessions
from heroku_local.registry.index import RegistryIndex
from heroku_local.runtime import DockerRuntime, RuntimeRules
from heroku_local.state.apps import App, Apps
from heroku_local.state.config_vars import ConfigVars
from heroku_local.state.formation import FormationService
from heroku_local.state.releases import Releases


class Platform:
    def __init__(
        self,
        runtime: DockerRuntime | None,
        index: RegistryIndex,
        rules: RuntimeRules,
        email: str = "heroku-local@localhost",
    ) -> None:
        self.runtime, self.index, self.rules = runtime, index, rules
        # The one account every key acts as: Heroku's `/account`, the owner of every app.
        self.email = email
        self.user_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, email))
        self.apps = Apps()
        self.dynos = DynoLifecycle(self.apps, runtime, rules)
        self.delivery = Delivery(self.apps, self.dynos, rules.default_size)
        self.releases = Releases(self.apps, email, self.delivery.deliver)
        self.delivery.releases = self.releases
        self.formation = FormationService(self.apps, self.releases, index, rules.default_size, self.delivery.rescale)
        self.config_vars = ConfigVars(self.apps, self.releases)
        self.log_sessions = LogSessions()
        # The server opens a router per app (its web_url) and closes it with the app.
        self.on_app_created: Callable[[App], str] | None = None
        self.on_app_deleted: Callable[[App], None] | None = None

    def app(self, ident: str) -> App:
        return self.apps.get(ident)

    def create_app(self, name: str | None = None, stack: str | None = None, boot_timeout: float | None = None) -> App:
        app = self.apps.add(name, stack, boot_timeout)
        if self.on_app_created is not None:
            app.web_url = self.on_app_created(app)
        self.delivery.open(app)
        return app

    def delete_app(self, ident: str) -> App:
        app = self.apps.remove(ident)
        self.delivery.close(app)
        if self.on_app_deleted is not None:
            self.on_app_deleted(app)
        return app

    def restart(self, ident: str, ptype: str | None = None, dyno: str | None = None) -> None:
        app = self.apps.get(ident)
        if dyno is not None:
            find_dyno(self.apps, app.name, dyno)  # 404 for a dyno the app does not have
        self.delivery.restart(app, ptype, dyno)

    def routable(self, name: str) -> tuple[list[int], bool]:
        return routable(self.apps, name)

    def shutdown(self) -> None:
        for app in self.apps.all():
            self.delivery.close(app, stop_timeout=min(self.rules.stop_timeout, 2.0))
