"""`pipeline serve`: run the model-serving app (settings from the environment; see docs/serving.md)."""

from __future__ import annotations

import argparse

from pipeline.commands.base import Context, Outcome


def _serve(ctx: Context) -> Outcome:
    from model_server import server
    from model_server.settings import load_settings

    settings = load_settings().resolved(ctx.paths.root)
    server.run(settings)
    return Outcome(["server stopped"])


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the model over HTTP on 0.0.0.0:$PORT (env: PORT, WEB_CONCURRENCY, MODEL_DIR, ...)",
        description="Serve the verified model. Configuration comes from environment variables: "
        "PORT, WEB_CONCURRENCY, MODEL_DIR, CONTRACT_PATH, MAX_BODY_BYTES, MAX_BATCH, GRACEFUL_TIMEOUT, "
        "LOG_LEVEL, METRICS_TOKEN, GIT_COMMIT (see docs/serving.md).",
    )
    p.set_defaults(handler=_serve)
