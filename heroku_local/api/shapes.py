"""The JSON each resource is answered with, in the shape of Heroku's Platform API schema (the fields the
official CLI and the deployer read, with nulls where this target has no such thing)."""

from __future__ import annotations

from typing import Any

from heroku_local.platform import Platform
from heroku_local.state.apps import App
from heroku_local.state.dynos import Dyno
from heroku_local.state.formation import Formation
from heroku_local.state.ids import stable_id
from heroku_local.state.releases import Release


def named(name: str) -> dict[str, str]:
    return {"id": stable_id(name), "name": name}


def app_ref(app: App) -> dict[str, str]:
    return {"id": app.id, "name": app.name}


def account_json(platform: Platform) -> dict[str, Any]:
    return {
        "allow_tracking": False,
        "beta": False,
        "created_at": "2026-01-01T00:00:00Z",
        "email": platform.email,
        "federated": False,
        "id": platform.user_id,
        "last_login": None,
        "name": "heroku-local",
        "sms_number": None,
        "suspended_at": None,
        "delinquent_at": None,
        "two_factor_authentication": False,
        "updated_at": "2026-01-01T00:00:00Z",
        "verified": True,
    }


def owner_json(platform: Platform) -> dict[str, str]:
    return {"email": platform.email, "id": platform.user_id}


def app_json(platform: Platform, app: App) -> dict[str, Any]:
    stack = named(app.stack)
    return {
        "acm": False,
        "archived_at": None,
        "buildpack_provided_description": None,
        "build_stack": stack,
        "create_status": "complete",
        "created_at": app.created_at,
        "generation": named("cedar"),
        "git_url": f"https://git.heroku.com/{app.name}.git",
        "id": app.id,
        "internal_routing": None,
        "maintenance": app.maintenance,
        "name": app.name,
        "owner": owner_json(platform),
        "organization": None,
        "team": None,
        "region": named("us"),
        "released_at": app.released_at,
        "repo_size": None,
        "slug_size": None,
        "space": None,
        "stack": stack,
        "updated_at": app.updated_at,
        "web_url": app.web_url,
    }


def collaborator_json(platform: Platform, app: App) -> dict[str, Any]:
    """The app's one collaborator: its owner, the account every key acts as."""
    return {
        "app": app_ref(app),
        "created_at": app.created_at,
        "id": stable_id(f"{app.id}/{platform.user_id}"),
        "permissions": [],
        "role": "owner",
        "updated_at": app.created_at,
        "user": {**owner_json(platform), "federated": False},
    }


def release_json(platform: Platform, app: App, release: Release, base: str) -> dict[str, Any]:
    return {
        "addon_plan_names": [],
        "artifacts": [],
        "app": app_ref(app),
        "created_at": release.created_at,
        "description": release.description,
        "id": release.id,
        "updated_at": release.updated_at,
        "slug": None,
        "status": release.status,
        "user": owner_json(platform),
        "version": release.version,
        "current": app.current is release,
        "output_stream_url": f"{base}/streams/{release.id}" if release.output is not None else None,
        "eligible_for_rollback": release.status == "succeeded",
    }


def formation_json(app: App, formation: Formation, docker_variant: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "app": app_ref(app),
        "command": formation.command,
        "created_at": formation.created_at,
        "dyno_size": {"id": stable_id(formation.size.lower()), "name": formation.size},
        "id": formation.id,
        "quantity": formation.quantity,
        "size": formation.size,
        "type": formation.type,
        "updated_at": formation.updated_at,
    }
    if docker_variant and app.current and formation.type in app.current.images:
        out["docker_image"] = app.current.images[formation.type].config_digest
    return out


def dyno_json(app: App, dyno: Dyno) -> dict[str, Any]:
    return {
        "attach_url": None,
        "command": dyno.command,
        "created_at": dyno.created_at,
        "id": dyno.id,
        "name": dyno.name,
        "release": {"id": dyno.release.id, "version": dyno.release.version},
        "app": app_ref(app),
        "size": dyno.size,
        "state": dyno.state,
        "type": dyno.type,
        "updated_at": dyno.updated_at,
    }
