"""Run the app under uvicorn the way a Heroku dyno expects.

Binds 0.0.0.0:$PORT, starts WEB_CONCURRENCY worker processes, and on SIGTERM stops accepting,
lets in-flight requests finish for up to GRACEFUL_TIMEOUT seconds (Heroku sends SIGKILL at 30 s),
then exits. Logs are JSON lines on stdout.
"""

from __future__ import annotations

import logging.config
import os
import tempfile

from pipeline.contract import load_contract
from pipeline.serve.logs import log_config
from pipeline.settings import Settings

APP = "pipeline.serve.asgi:app_from_env"


def run(settings: Settings) -> None:
    import uvicorn

    # A broken image (no contract) fails here with one line and exit 3, before any worker starts.
    load_contract(settings.contract_path)
    # Workers are fresh processes that read the environment: hand them the paths resolved here.
    os.environ.update(settings.path_env())
    config = log_config(settings.log_level)
    logging.config.dictConfig(config)
    if settings.web_concurrency > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker writes its samples here; set before the workers import prometheus_client.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="prometheus-")
    logging.getLogger("pipeline.serve").info(
        "serving on %s:%d with %d worker(s)", settings.host, settings.port, settings.web_concurrency,
        extra={"fields": {"event": "start", "port": settings.port, "workers": settings.web_concurrency,
                          "git_commit": settings.git_commit}},
    )
    uvicorn.run(
        APP,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.web_concurrency,
        log_config=config,
        access_log=False,
        timeout_graceful_shutdown=int(settings.graceful_timeout),
        # Heroku's router terminates TLS and sets X-Forwarded-*; there is no other proxy in front.
        proxy_headers=True,
        forwarded_allow_ips="*",
        server_header=False,
    )
