"""`pipeline heroku-local`: run the local Heroku-compatible target in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from pathlib import Path
from types import FrameType

from pipeline.commands.base import Context, Outcome
from pipeline.errors import ConfigError

log = logging.getLogger("pipeline.heroku_local")


def _run(ctx: Context) -> Outcome:
    from pydantic import SecretStr

    from pipeline.deploy.settings import KEY_VAR, local_home
    from pipeline.heroku_local.runtime import RuntimeRules
    from pipeline.heroku_local.server import HerokuLocal, LocalConfig

    args = ctx.args
    key = os.environ.get(KEY_VAR, "").strip()
    if len(key) < 8:
        raise ConfigError(
            f"{KEY_VAR} must be set (8+ characters) before starting heroku-local: it is the key the "
            "API and registry accept; export the same value where you run `pipeline deploy --target local`"
        )
    for name in ("boot_timeout", "stop_timeout", "release_timeout"):
        if getattr(args, name) <= 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be a positive number of seconds")
    rules = RuntimeRules(
        boot_timeout=args.boot_timeout, stop_timeout=args.stop_timeout, release_timeout=args.release_timeout
    )
    home = Path(args.home).expanduser() if args.home else local_home()
    config = LocalConfig(
        home=home,
        api_key=SecretStr(key),
        api_port=args.port,
        registry_port=args.registry_port,
        rules=rules,
        rate_capacity=args.rate_limit,
        apps=tuple(args.app or ()),
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with HerokuLocal(config) as local:
            log.info(
                "heroku-local ready: API %s, registry %s, apps %s; endpoints in %s (Ctrl-C stops)",
                local.api_url,
                local.registry_host,
                ", ".join(config.apps) or "none (POST /apps)",
                home,
            )
            while not stop.wait(0.5):
                pass
            api, registry = local.api_url, local.registry_host
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return Outcome([f"heroku-local stopped (API was {api}, registry {registry})"])


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "heroku-local", help="run a local Heroku-compatible target (API, registry, dynos on Docker)"
    )
    p.add_argument(
        "--home",
        help="state directory: registry storage and endpoint.json "
        "(default $HEROKU_LOCAL_HOME or ~/.cache/heroku-local)",
    )
    p.add_argument(
        "--port", type=int, default=5005, help="Platform API port on 127.0.0.1 (default 5005; 0 = any)"
    )
    p.add_argument(
        "--registry-port", type=int, default=0, help="registry port on 127.0.0.1 (default: any free)"
    )
    p.add_argument("--app", action="append", help="create this app (container stack) at start; repeatable")
    p.add_argument(
        "--boot-timeout", type=float, default=60.0, help="seconds a web dyno has to bind $PORT (R10)"
    )
    p.add_argument("--stop-timeout", type=float, default=30.0, help="seconds between SIGTERM and SIGKILL")
    p.add_argument("--release-timeout", type=float, default=3600.0, help="seconds the release phase may run")
    p.add_argument("--rate-limit", type=int, default=4500, help="API token bucket size (refills at 75/min)")
    p.set_defaults(handler=_run)
