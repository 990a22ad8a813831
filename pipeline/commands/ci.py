"""`pipeline ci ...`: the steps of the GitHub workflows that are not pipeline stages or gates.

Each sub-command is one workflow step: warm the DVC cache, save the PR number into the report artifact, post
the sticky PR comment, hand the staged image over to the release, write and publish the release notes.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from model_server.model_meta import ModelMeta
from pipeline import git
from pipeline.ci import github
from pipeline.commands.base import Context, Outcome
from pipeline.errors import ConfigError, DataError
from pipeline.io import write_text

if TYPE_CHECKING:
    from pipeline.ci.api import GitHub

PR_FILE = "pr-number.txt"
ARTIFACT = "pipeline-report"


def _commit(ctx: Context, given: str | None = None) -> str:
    if given:
        return given
    commit = git.head_commit(ctx.paths.root)
    if commit is None:
        raise ConfigError(f"{ctx.paths.root}: not a git checkout; pass --sha")
    return commit


def _warning(message: str, title: str | None = None) -> str:
    """A warning line: an annotation inside Actions, plain text elsewhere."""
    return (
        github.annotation("warning", message, title=title) if github.in_actions() else f"warning: {message}"
    )


def _pull(ctx: Context) -> Outcome:
    from pipeline.ci import warm

    pulled = warm.pull(ctx.paths.root, strict=ctx.args.strict)
    if pulled.ok:
        return Outcome([f"dvc pull: {pulled.fetched} files fetched (run-cache included)"])
    message = f"dvc pull skipped, `dvc repro` will rebuild what is missing: {pulled.problem}"
    return Outcome([_warning(message, title="DVC remote unavailable")])


def _pr_number(ctx: Context) -> Outcome:
    from pipeline.ci import event

    number = event.pull_request_number()
    out = Path(ctx.args.out)
    write_text(out, f"{number}\n")
    return Outcome([f"pull request #{number} -> {out}"], outputs={"pr": str(number)})


def _github() -> GitHub:
    from pipeline.ci.api import GitHub, GitHubSettings

    return GitHub(GitHubSettings.from_env())


def _comment(ctx: Context) -> Outcome:
    from pipeline.ci import comment, event

    pr = comment.read_pr_number(Path(ctx.args.pr_file))
    run = event.workflow_run()
    head_sha = ctx.args.head_sha or str(run.get("head_sha") or "") or None
    run_url = ctx.args.run_url or str(run.get("html_url") or "") or None
    sections = []
    for path in map(Path, ctx.args.report):
        if path.is_file():
            sections.append(comment.read_section(path))
    if not sections:
        sections = [
            "### ⚠️ The pipeline produced no report\n\nIt stopped before writing one; read the run's log."
        ]
    body = comment.render(sections, run_url=run_url, artifact=ctx.args.artifact, commit=head_sha)
    if ctx.args.dry_run:
        return Outcome(body.splitlines())
    gh = _github()
    if head_sha:
        matches, actual = comment.head_matches(gh, pr, head_sha)
        if not matches:
            # Either a newer push superseded this run (its own run will comment) or the artifact lies.
            message = (
                f"PR #{pr} is at {actual[:12] or 'unknown'}, not at the run's {head_sha[:12]}; "
                "not commenting from a stale or mismatched run"
            )
            return Outcome([_warning(message)])
    posted = comment.upsert(gh, pr, body, author=ctx.args.author)
    return Outcome(
        [f"{posted.action} the report comment on PR #{pr}: {posted.url}"], outputs={"comment_url": posted.url}
    )


def _release_notes(ctx: Context) -> Outcome:
    from model_server.safe_load import read_json_object_if_present
    from pipeline.ci import candidate, release

    tag = release.check_tag(ctx.args.tag or os.environ.get("GITHUB_REF_NAME", ""))
    staged = candidate.read(Path(ctx.args.candidate)) if ctx.args.candidate else None
    scan = Path(ctx.args.scan) if ctx.args.scan else None
    source = None
    if ctx.paths.params.is_file():
        source = ctx.params.data.source
    text = release.notes(
        tag=tag,
        commit=staged.commit if staged else _commit(ctx),
        metrics=read_json_object_if_present(ctx.paths.metrics),
        data_gate=read_json_object_if_present(ctx.paths.data_gate_json),
        model_meta=ModelMeta.read(ctx.paths.model_meta) if ctx.paths.model_meta.is_file() else None,
        scan_md=scan.read_text(encoding="utf-8") if scan and scan.is_file() else None,
        image_id=staged.image_id if staged else None,
        staging_url=(staged.run_url or None) if staged else None,
        data_source=source,
    )
    out = Path(ctx.args.out)
    write_text(out, text)
    return Outcome([f"wrote release notes for {tag} -> {out}"], summary_md=text)


def _release(ctx: Context) -> Outcome:
    from pipeline.ci import release

    tag = release.check_tag(ctx.args.tag or os.environ.get("GITHUB_REF_NAME", ""))
    notes = Path(ctx.args.notes)
    if not notes.is_file():
        raise DataError(f"{notes}: release notes not found; write them with `pipeline ci release-notes`")
    gh = _github()
    published = release.publish(gh, tag, notes.read_text(encoding="utf-8"), prerelease=ctx.args.prerelease)
    return Outcome(
        [f"{published.action} release {tag}: {published.url}"], outputs={"release_url": published.url}
    )


def _candidate_write(ctx: Context) -> Outcome:
    from pipeline.ci import candidate

    run_url = ""
    if os.environ.get("GITHUB_RUN_ID"):
        server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
        run_url = (
            f"{server}/{os.environ.get('GITHUB_REPOSITORY', '')}/actions/runs/{os.environ['GITHUB_RUN_ID']}"
        )
    record = candidate.Candidate(
        commit=_commit(ctx, ctx.args.sha),
        image=ctx.args.image,
        image_id=ctx.args.image_id,
        app=ctx.args.app,
        run_url=run_url,
    )
    out = candidate.write(Path(ctx.args.out), record)
    return Outcome(
        [f"release candidate {record.image_id} ({record.commit[:12]}, {record.app}) -> {out}"],
        outputs={"image_id": record.image_id},
    )


def _candidate_fetch(ctx: Context) -> Outcome:
    from pipeline.ci import candidate

    commit = _commit(ctx, ctx.args.sha)
    gh = _github()
    dest = Path(ctx.args.dest)
    run = candidate.find_run(gh, ctx.args.workflow, commit)
    run_id = int(run["id"])
    candidate.download_artifact(gh, run_id, ctx.args.record_artifact, dest)
    staged = candidate.read(dest / candidate.RECORD, commit=commit)
    files = candidate.download_artifact(gh, run_id, ctx.args.image_artifact, dest)
    tars = [f for f in files if f.suffix == ".tar"]
    if len(tars) != 1:
        raise DataError(
            f"artifact {ctx.args.image_artifact!r} of run {run_id} must hold one .tar image archive, "
            f"found {len(tars)}"
        )
    return Outcome(
        [f"staged image {staged.image_id} from run {run_id} ({staged.app}) -> {dest}"],
        outputs={
            "image_id": staged.image_id,
            "image": staged.image,
            "image_tar": str(tars[0]),
            "staging_app": staged.app,
            "run_id": str(run_id),
        },
    )


def _image_save(ctx: Context) -> Outcome:
    from pipeline.ci import images

    image_id, size = images.save(images.client(), ctx.args.image, Path(ctx.args.out))
    return Outcome(
        [f"saved {ctx.args.image} ({image_id[:19]}, {size / 1e6:.1f} MB) -> {ctx.args.out}"],
        outputs={"image_id": image_id},
    )


def _image_load(ctx: Context) -> Outcome:
    from pipeline.ci import images

    archive = Path(ctx.args.tar)
    if ctx.args.missing_ok and not archive.is_file():
        return Outcome(
            [f"no image archive at {archive}; building without a layer cache"], outputs={"image": ""}
        )
    image_id, tags = images.load(images.client(), archive, expect_id=ctx.args.expect_id)
    return Outcome(
        [f"loaded {', '.join(tags) or image_id} from {archive}"],
        outputs={"image_id": image_id, "image": tags[0] if tags else image_id},
    )


def register(sub: argparse._SubParsersAction) -> None:
    ci = sub.add_parser("ci", help="steps of the GitHub workflows: cache warm-up, PR comment, release")
    cmds = ci.add_subparsers(dest="ci", required=True, metavar="STEP")

    p = cmds.add_parser("pull", help="dvc pull with the run-cache; an unreachable remote is only a warning")
    p.add_argument("--strict", action="store_true", help="fail when the remote cannot be read")
    p.set_defaults(handler=_pull)

    p = cmds.add_parser(
        "pr-number", help="save the pull request's number (from the event) for the comment job"
    )
    p.add_argument("--out", default=f"reports/{PR_FILE}", help=f"file to write (default reports/{PR_FILE})")
    p.set_defaults(handler=_pr_number)

    p = cmds.add_parser("comment", help="create or update the one sticky report comment on the pull request")
    p.add_argument(
        "--report",
        action="append",
        required=True,
        help="Markdown file to include (repeatable; missing files are skipped)",
    )
    p.add_argument("--pr-file", required=True, help="file holding the PR number (from the report artifact)")
    p.add_argument("--head-sha", help="commit the report is for (default: the workflow_run event's head_sha)")
    p.add_argument(
        "--run-url", help="run that holds the artifact (default: the workflow_run event's html_url)"
    )
    p.add_argument(
        "--artifact", default=ARTIFACT, help=f"artifact name to point readers at (default {ARTIFACT})"
    )
    p.add_argument("--author", default="github-actions[bot]", help="login that owns the sticky comment")
    p.add_argument("--dry-run", action="store_true", help="print the comment body instead of posting it")
    p.set_defaults(handler=_comment)

    p = cmds.add_parser("release-notes", help="render release notes: metrics, data gate, scan, model card")
    p.add_argument("--tag", help="release tag (default: $GITHUB_REF_NAME)")
    p.add_argument("--candidate", help="release candidate record from the staging deploy")
    p.add_argument("--scan", help="scan gate Markdown summary to include")
    p.add_argument("--out", default="reports/release-notes.md", help="where to write the notes")
    p.set_defaults(handler=_release_notes)

    p = cmds.add_parser(
        "release", help="create (or update) the GitHub Release for a tag with the given notes"
    )
    p.add_argument("--tag", help="release tag (default: $GITHUB_REF_NAME)")
    p.add_argument("--notes", default="reports/release-notes.md", help="Markdown notes file")
    p.add_argument("--prerelease", action="store_true", help="mark the release as a pre-release")
    p.set_defaults(handler=_release)

    cand = cmds.add_parser("candidate", help="the record of the image that passed staging")
    steps = cand.add_subparsers(dest="candidate", required=True, metavar="{write,fetch}")
    p = steps.add_parser("write", help="record the staged image (after a verified staging deploy)")
    p.add_argument("--image", required=True, help="image reference that was deployed")
    p.add_argument("--image-id", required=True, help="its id, sha256:<64 hex> (the config digest)")
    p.add_argument("--app", required=True, help="staging app it was deployed to")
    p.add_argument("--sha", help="commit it was built from (default: $GITHUB_SHA or HEAD)")
    p.add_argument("--out", default="reports/candidate.json", help="where to write the record")
    p.set_defaults(handler=_candidate_write)
    p = steps.add_parser("fetch", help="download the record and image archive staged for this commit")
    p.add_argument("--workflow", default="deploy.yml", help="workflow file that deployed to staging")
    p.add_argument("--sha", help="commit to look for (default: $GITHUB_SHA or HEAD)")
    p.add_argument("--dest", default="staged", help="directory to download into")
    p.add_argument("--record-artifact", default="release-candidate", help="artifact holding candidate.json")
    p.add_argument("--image-artifact", default="image", help="artifact holding the image archive")
    p.set_defaults(handler=_candidate_fetch)

    p = cmds.add_parser("image-save", help="save a built image to an archive (layer cache, job hand-over)")
    p.add_argument("--image", required=True, help="image reference or id")
    p.add_argument("--out", required=True, help="archive to write")
    p.set_defaults(handler=_image_save)
    p = cmds.add_parser("image-load", help="load an image archive; optionally insist on its id")
    p.add_argument("--tar", required=True, help="archive written by image-save")
    p.add_argument("--expect-id", help="refuse the archive unless the image id is exactly this")
    p.add_argument("--missing-ok", action="store_true", help="no archive is fine (cold cache)")
    p.set_defaults(handler=_image_load)
