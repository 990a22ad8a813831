"""Heroku's `Range` header on lists: `version ..; max=10, order=desc` (206 + Next-Range when cut)."""

from __future__ import annotations

import re
from typing import Any

from heroku_local.errors import PlatformError
from heroku_local.state.releases import Release

_RANGE = re.compile(
    r"^\s*(?P<field>id|version)\s*(?P<start>[^.\s]*)\s*\.\.\s*(?P<end>[^;\s]*)\s*(?:;\s*(?P<opts>.*))?$"
)


def select_range(releases: list[Release], header: str | None) -> tuple[list[Release], dict[str, str], int]:
    """Apply a Heroku `Range` header to a release list: (page, headers, status)."""
    field, order, limit, start, end = "version", "asc", 200, "", ""
    if header:
        match = _RANGE.match(header)
        if match is None:
            raise PlatformError(
                416,
                "requested_range_not_satisfiable",
                f"Range {header!r} is not valid; use e.g. `version ..; max=10, order=desc`",
            )
        field, start, end = match["field"], match["start"], match["end"]
        for option in filter(None, (o.strip() for o in (match["opts"] or "").split(","))):
            name, _, value = option.partition("=")
            if name == "max" and value.isdigit() and 0 < int(value) <= 1000:
                limit = int(value)
            elif name == "order" and value in {"asc", "desc"}:
                order = value
            else:
                raise PlatformError(
                    416, "requested_range_not_satisfiable", f"Range option {option!r} is not valid"
                )

    def key(r: Release) -> Any:
        return r.version if field == "version" else r.id

    def bound(text: str) -> Any:
        try:
            return int(text) if field == "version" else text
        except ValueError:
            raise PlatformError(
                416, "requested_range_not_satisfiable", f"{text!r} is not a version"
            ) from None

    def after(r: Release, edge: Any, inclusive: bool) -> bool:
        # "After" in the requested order: larger when ascending, smaller when descending.
        if key(r) == edge:
            return inclusive
        return (key(r) > edge) == (order == "asc")

    ordered = sorted(releases, key=key, reverse=order == "desc")
    if start.lstrip("]"):
        edge = bound(start.lstrip("]"))
        ordered = [r for r in ordered if after(r, edge, inclusive=not start.startswith("]"))]
    if end:
        edge = bound(end)
        ordered = [r for r in ordered if not after(r, edge, inclusive=False)]
    page = ordered[:limit]
    headers = {"Accept-Ranges": "id, version"}
    if page:
        headers["Content-Range"] = f"{field} {key(page[0])}..{key(page[-1])}"
    if len(ordered) > limit:
        headers["Next-Range"] = f"{field} ]{key(page[-1])}..; max={limit}, order={order}"
        return page, headers, 206
    return page, headers, 200
