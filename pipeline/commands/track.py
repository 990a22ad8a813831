"""`pipeline track log`: log this pipeline run to MLflow (run after `dvc repro`); `pipeline track status`.

The registry side (register on a staging deploy, move `production` on promotion and rollback) runs inside
`pipeline deploy`, `promote` and `rollback` (pipeline/commands/deploy.py), the commands the workflows call.
"""

from __future__ import annotations

import argparse

from pipeline.commands.base import Context, Outcome


def _log(ctx: Context) -> Outcome:
    from pipeline.git import head_commit
    from pipeline.tracking import doors
    from pipeline.tracking.settings import resolve

    settings = resolve(ctx.params.tracking)
    if settings is None:
        return Outcome(["tracking: off (set MLFLOW_TRACKING_URI or tracking.uri in params.yaml to turn it on)"])
    return Outcome(doors.log_run(settings, ctx.params, ctx.paths, head_commit(ctx.paths.root)))


def _status(ctx: Context) -> Outcome:
    from pipeline.tracking.settings import resolve

    settings = resolve(ctx.params.tracking)
    if settings is None:
        return Outcome(["tracking: off (set MLFLOW_TRACKING_URI or tracking.uri in params.yaml to turn it on)"])
    return Outcome([f"tracking: on, {settings!r}"])


def register(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("track", help="MLflow tracking: log this pipeline run (off unless MLFLOW_TRACKING_URI is set)")
    actions = t.add_subparsers(dest="track_command", required=True, metavar="ACTION")
    lg = actions.add_parser("log", help="log the run `dvc repro` left (params, metrics, plots, hashes, models); "
                                        "once per distinct set of inputs")
    lg.set_defaults(handler=_log)
    st = actions.add_parser("status", help="say whether tracking is on and where to (credentials hidden)")
    st.set_defaults(handler=_status)
