"""`heroku-local`: run the local Heroku-compatible target in the foreground until Ctrl-C or SIGTERM.

Exit codes as `pipeline` uses them: 0 stopped cleanly, 2 usage, 3 bad setup (no key, a port in use,
no registry binary), 4 a fault outside us (no Docker engine). Tracebacks only with -v.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from pydantic import SecretStr

from heroku_local.endpoint import FILE_NAME, HOME_VAR, default_home
from heroku_local.errors import HerokuLocalError, SetupError
from heroku_local.runtime import RuntimeRules
from heroku_local.server import HerokuLocal, LocalConfig

log = logging.getLogger("heroku_local")
KEY_VAR = "HEROKU_API_KEY"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="heroku-local",
        description="Run a local Heroku-compatible target: Platform API, registry, dynos on Docker. The key it "
        f"accepts is ${KEY_VAR}.",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show tracebacks and debug logs")
    p.add_argument(
        "--home",
        help=f"state directory: registry storage and {FILE_NAME} (default ${HOME_VAR} or ~/.cache/heroku-local)",
    )
    p.add_argument("--port", type=int, default=5005, help="Platform API port on 127.0.0.1 (default 5005; 0 = any)")
    p.add_argument("--registry-port", type=int, default=0, help="registry port on 127.0.0.1 (default: any free)")
    p.add_argument("--app", action="append", help="create this app (container stack) at start; repeatable")
    p.add_argument("--boot-timeout", type=float, default=60.0, help="seconds a web dyno has to bind $PORT (R10)")
    p.add_argument("--stop-timeout", type=float, default=30.0, help="seconds between SIGTERM and SIGKILL")
    p.add_argument("--release-timeout", type=float, default=3600.0, help="seconds the release phase may run")
    p.add_argument("--rate-limit", type=int, default=4500, help="API token bucket size (refills at 75/min)")
    return p


def config_from(args: argparse.Namespace) -> LocalConfig:
    key = os.environ.get(KEY_VAR, "").strip()
    if len(key) < 8:
        raise SetupError(
            f"{KEY_VAR} must be set (8+ characters) before starting heroku-local: it is the key the API and "
            "registry accept; export the same value where you run `pipeline deploy --target local`"
        )
    for name in ("boot_timeout", "stop_timeout", "release_timeout"):
        if getattr(args, name) <= 0:
            raise SetupError(f"--{name.replace('_', '-')} must be a positive number of seconds")
    if args.rate_limit < 1:
        raise SetupError("--rate-limit must be at least 1")
    rules = RuntimeRules(
        boot_timeout=args.boot_timeout, stop_timeout=args.stop_timeout, release_timeout=args.release_timeout
    )
    return LocalConfig(
        home=Path(args.home).expanduser() if args.home else default_home(),
        api_key=SecretStr(key),
        api_port=args.port,
        registry_port=args.registry_port,
        rules=rules,
        rate_capacity=args.rate_limit,
        apps=tuple(args.app or ()),
    )


def serve(config: LocalConfig) -> str:
    """Run until SIGINT or SIGTERM; returns the line to print on a clean stop."""
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
                config.home,
            )
            while not stop.wait(0.5):
                pass
            api, registry = local.api_url, local.registry_host
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return f"heroku-local stopped (API was {api}, registry {registry})"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("heroku_local").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        print(serve(config_from(args)))
    except HerokuLocalError as exc:
        if args.verbose:
            log.exception("heroku-local failed")
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0
