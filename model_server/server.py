"""Run the app the way a Heroku dyno expects.

Binds 0.0.0.0:$PORT; on SIGTERM stops accepting, lets in-flight requests finish for up to
GRACEFUL_TIMEOUT seconds (Heroku sends SIGKILL at 30 s), then exits. Logs are JSON lines on stdout.

The model is verified and loaded once, in this process, before the port is bound. With one
worker (WEB_CONCURRENCY=1, the default) uvicorn then serves it right here. With more, gunicorn
forks the uvicorn workers from this process: they start in the time one takes, instead of each
importing the libraries and loading the model again on the same CPU, and they share the model's
memory pages. A worker that dies is forked again just as fast.
"""

from __future__ import annotations

import functools
import gc
import logging.config
import os
import tempfile
from typing import Any, ClassVar

from model_server.contract import load_contract
from model_server.logs import log_config
from model_server.settings import Settings

log = logging.getLogger("model_server")


def run(settings: Settings) -> None:
    # A broken image (no contract) fails here with one line and exit 3, before anything starts.
    load_contract(settings.contract_path)
    config = log_config(settings.log_level)
    logging.config.dictConfig(config)
    if settings.web_concurrency > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker writes its samples here; set before prometheus_client is imported.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="prometheus-")
    log.info(
        "serving on %s:%d with %d worker(s)", settings.host, settings.port, settings.web_concurrency,
        extra={"fields": {"event": "start", "port": settings.port, "workers": settings.web_concurrency,
                          "git_commit": settings.git_commit}},
    )
    if settings.web_concurrency == 1:
        _serve_here(settings, config)
    else:
        _serve_forked(settings, config)


def load_app(settings: Settings) -> Any:
    """The app around the verified model; each server calls this once, from its own app-loading
    hook (uvicorn's factory, gunicorn's preload), before it binds the port.

    Importing the web stack and the ONNX runtime and loading the model create many objects that
    live as long as the process. The cyclic collector is off meanwhile (it measured 0.2 s less CPU
    under --cpus 1 when the image still imported scikit-learn); `gc.freeze` then keeps later
    collections from walking them again and forked workers from dirtying the pages they share.

    Where this runs matters on CPython 3.11: a loop that keeps calling across a boundary of the
    interpreter's 16 KiB frame-stack chunks maps and unmaps a chunk on every call (CPython issue
    gh-142183, fixed from 3.13). Loading from inside the servers' hooks measured half the page faults
    and 0.5 s less CPU than loading at the top of `run` (benchmarks/README-serving.md).
    """
    gc.disable()
    try:
        from model_server.app import create_app
        from model_server.loader import load_serving_model

        app = create_app(settings, load_serving_model(settings))
        gc.freeze()
    finally:
        gc.enable()
    return app


# Heroku's router terminates TLS and sets X-Forwarded-*; there is no other proxy in front.
_UVICORN: dict[str, Any] = {
    "proxy_headers": True, "forwarded_allow_ips": "*", "server_header": False, "access_log": False,
}


def _protocol(settings: Settings) -> type:
    """httptools with bounds on header size, header count and slow clients (model_server/http_limits.py)."""
    from model_server.http_limits import Limits, bounded_protocol

    return bounded_protocol(Limits(max_header_bytes=settings.max_header_bytes, max_headers=settings.max_headers,
                                   request_timeout=settings.request_timeout))


def _serve_here(settings: Settings, config: dict[str, Any]) -> None:
    import uvicorn

    uvicorn.run(functools.partial(load_app, settings), factory=True, host=settings.host, port=settings.port,
                log_config=config, timeout_graceful_shutdown=int(settings.graceful_timeout),
                http=_protocol(settings), **_UVICORN)


def _mark_dead(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def _serve_forked(settings: Settings, config: dict[str, Any]) -> None:
    from gunicorn.app.base import BaseApplication
    from uvicorn_worker import UvicornWorker

    class Worker(UvicornWorker):
        CONFIG_KWARGS: ClassVar[dict[str, Any]] = {**UvicornWorker.CONFIG_KWARGS, **_UVICORN,
                         "timeout_graceful_shutdown": int(settings.graceful_timeout),
                         "http": _protocol(settings)}

    options = {
        "bind": f"{settings.host}:{settings.port}",
        "workers": settings.web_concurrency,
        "worker_class": Worker,
        "preload_app": True,  # load() runs here, once, before the workers are forked
        "graceful_timeout": int(settings.graceful_timeout),
        "keepalive": 5,  # uvicorn's default, as with one worker
        "forwarded_allow_ips": "*",
        "logconfig_dict": config,
        "accesslog": None,  # our middleware logs each request, with its id
        # No runtime management socket in a container (and no writable $HOME for a random uid).
        "control_socket_disable": True,
        # A dead worker's live gauges (its drift window's values) leave /metrics with it.
        "child_exit": _mark_dead,
    }

    class Preforked(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return load_app(settings)

    Preforked().run()
