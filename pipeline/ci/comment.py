"""The one sticky pull-request comment: its body (pure) and the create-or-update call.

Everything read here comes from an artifact that pull-request code produced, so it is data, never code:
the PR number must be a plain integer, the Markdown is size-capped, @-mentions are defused, and image links
(which would need a third-party host) become a list that points at the run's artifact instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.ci.api import GitHub
from pipeline.errors import DataError

MARKER = "<!-- mlops-ci-pipeline:pr-report -->"
BOT_LOGIN = "github-actions[bot]"
# GitHub rejects comment bodies over 65536 characters; keep room for the header and footer.
MAX_BODY = 65_000
_PR_NUMBER = re.compile(r"^[1-9][0-9]{0,9}$")
_IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]+)\)")
_MENTION = re.compile(r"(?<![\w`])@(?=[A-Za-z0-9][A-Za-z0-9-]*)")
_SHA = re.compile(r"^[0-9a-f]{40}$")


def read_pr_number(path: Path) -> int:
    """The PR number the pull-request workflow saved; anything but a small positive integer is refused."""
    try:
        raw = path.read_bytes()[:64]
    except FileNotFoundError:
        raise DataError(
            f"{path}: PR number file not found; the pull-request workflow writes it with "
            "`pipeline ci pr-number`"
        ) from None
    text = raw.decode("ascii", errors="replace").strip()
    if not _PR_NUMBER.match(text):
        raise DataError(f"{path}: expected a pull-request number, got {text[:20]!r}; refusing to comment")
    return int(text)


def read_section(path: Path) -> str:
    """A Markdown file from the artifact, read no further than a comment can hold, whatever its size."""
    with path.open("rb") as fh:
        raw = fh.read(MAX_BODY * 4)  # UTF-8 needs at most 4 bytes a character
    return raw.decode("utf-8", errors="replace")[:MAX_BODY]


def _defuse(markdown: str) -> str:
    # A zero-width joiner after '@' keeps the text readable without notifying anyone.
    return _MENTION.sub("@\u200d", markdown)


def _images_to_names(markdown: str) -> tuple[str, list[str]]:
    """Image links would need a public image host; name the files instead."""
    found: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = Path(match.group("src")).name
        found.append(name)
        return f"`{name}`"

    return _IMAGE.sub(replace, markdown), found


def render(
    sections: list[str],
    *,
    run_url: str | None,
    artifact: str,
    marker: str = MARKER,
    commit: str | None = None,
    limit: int = MAX_BODY,
) -> str:
    """The comment body: the marker, the report sections, and where the plots and full report live."""
    text, plots = _images_to_names("\n\n".join(s.strip() for s in sections if s.strip()))
    text = _defuse(text.replace(marker, ""))
    where = f"[this run]({run_url})" if run_url else "this run"
    footer = [""]
    if plots:
        footer.append(
            f"**Plots** ({', '.join(f'`{p}`' for p in plots)}), the JSON reports and the GX Data "
            f"Docs are in the `{artifact}` artifact of {where}."
        )
    else:
        footer.append(f"The full report is in the `{artifact}` artifact of {where}.")
    if commit and _SHA.match(commit):
        footer.append(f"<sub>Commit {commit[:12]} · updated in place on every push</sub>")
    tail = "\n".join(footer)
    budget = limit - len(marker) - len(tail) - 80
    if len(text) > budget:
        text = text[:budget].rsplit("\n", 1)[0] + "\n\n_… report truncated; read the rest in the artifact._"
    return f"{marker}\n{text}\n{tail}\n"


@dataclass(frozen=True)
class Posted:
    action: str  # created | updated | unchanged
    url: str
    comment_id: int


def find_sticky(
    comments: list[dict[str, Any]], *, marker: str = MARKER, author: str = BOT_LOGIN
) -> dict[str, Any] | None:
    """Our earlier comment: written by the workflow's bot and starting with the marker."""
    for comment in comments:
        user = comment.get("user") or {}
        if user.get("login") == author and str(comment.get("body", "")).startswith(marker):
            return comment
    return None


def head_matches(gh: GitHub, pr: int, head_sha: str) -> tuple[bool, str]:
    """Whether PR `pr` is at `head_sha`: ties the artifact's claim to the run GitHub says produced it."""
    pull = gh.json("GET", f"{gh.repo_path}/pulls/{pr}")
    actual = str((pull.get("head") or {}).get("sha", ""))
    return actual == head_sha, actual


def upsert(gh: GitHub, pr: int, body: str, *, marker: str = MARKER, author: str = BOT_LOGIN) -> Posted:
    comments = list(gh.paginate(f"{gh.repo_path}/issues/{pr}/comments"))
    existing = find_sticky(comments, marker=marker, author=author)
    if existing is None:
        made = gh.json("POST", f"{gh.repo_path}/issues/{pr}/comments", json={"body": body})
        return Posted("created", str(made.get("html_url", "")), int(made["id"]))
    if existing.get("body") == body:
        return Posted("unchanged", str(existing.get("html_url", "")), int(existing["id"]))
    made = gh.json("PATCH", f"{gh.repo_path}/issues/comments/{existing['id']}", json={"body": body})
    return Posted("updated", str(made.get("html_url", "")), int(made["id"]))
