"""`pipeline init --source CSV --target COLUMN`: point the project at the user's own data.

Drafts the data contract from the file (pipeline/drafting.py) and sets params.yaml's data section (source, raw
snapshot, target, features, delimiter), comments and everything else in params.yaml kept. It never replaces an
existing contract without --force, and writes both files or neither.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from pathlib import Path
from typing import Any

from pipeline.commands.base import Context, Outcome
from pipeline.errors import ConfigError, DataError

# The draft is made from at most this many rows: enough for types, ranges and category sets, and bounded memory on
# a file of any size (the data gate checks every row later).
MAX_ROWS = 1_000_000


def _read(source: Path, where: str, delimiter: str, na_values: list[str]) -> Any:
    import pandas as pd

    try:
        with source.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle, delimiter=delimiter), [])
        frame = pd.read_csv(source, sep=delimiter, encoding="utf-8-sig", nrows=MAX_ROWS, keep_default_na=False,
                            na_values=na_values)
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such file; pass the path of your CSV to --source") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{where}: not valid UTF-8 (byte at offset {exc.start}); re-save the file as UTF-8") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error, ValueError) as exc:
        raise DataError(f"{where}: cannot parse the CSV ({str(exc).splitlines()[0][:200]}); check --delimiter "
                        "and the quoting") from None
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise DataError(f"{where}:1: the header names {twice} more than once; give every column its own name")
    if len(header) < 2:
        raise DataError(f"{where}:1: the header has {len(header)} column(s) with --delimiter {delimiter!r}; "
                        "is that the file's delimiter?")
    return frame, len(frame) == MAX_ROWS


def _flow(values: list[str]) -> Any:
    from ruamel.yaml.comments import CommentedSeq

    seq = CommentedSeq(values)
    seq.fa.set_flow_style()  # `features: [a, b]`, as the file has it
    return seq


def _edit_params(text: str, data: dict[str, Any]) -> str:
    """params.yaml with the data keys set, every comment and other key kept (ruamel's round trip)."""
    import io

    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.width = 4096  # one line per key, however long the feature list
    yaml.preserve_quotes = True
    # `null` stays `null` (ruamel's default writes nothing after the colon)
    yaml.representer.add_representer(type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    doc = yaml.load(text)
    for key, value in data.items():
        doc["data"][key] = _flow(value) if isinstance(value, list) else value
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def _snapshot_name(source: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", source.stem).strip("._-") or "data"
    return f"data/raw/{stem}.csv"


def _init(ctx: Context) -> Outcome:
    from pipeline.drafting import draft_contract
    from pipeline.io import replaced_together
    from pipeline.params import load_params

    root, args = ctx.paths.root, ctx.args
    source = Path(args.source).expanduser().resolve()  # a relative path is the current directory's
    where = args.source
    if len(args.delimiter) != 1:
        raise ConfigError(f"--delimiter must be one character, got {args.delimiter!r}")
    params = ctx.params  # the current file, through the bounded loader: a hostile params.yaml stops here
    contract = root / params.gates.data.suite
    if contract.exists() and not args.force:
        raise ConfigError(f"{ctx.paths.rel(contract)} exists: pass --force to replace it with a draft from "
                          f"{where} (params.yaml's data section is rewritten too)")
    frame, sampled = _read(source, where, args.delimiter, list(params.data.na_values))
    try:
        draft = draft_contract(frame, args.target)
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None
    in_repo = source.is_relative_to(root)
    data = {"source": str(source.relative_to(root)) if in_repo else str(source), "raw": _snapshot_name(source),
            "target": args.target, "features": draft.features, "delimiter": args.delimiter}
    params_text = _edit_params(ctx.paths.params.read_text(encoding="utf-8"), data)
    contract.parent.mkdir(parents=True, exist_ok=True)
    with replaced_together(contract, ctx.paths.params) as (tmp_contract, tmp_params):
        tmp_contract.write_text(json.dumps(draft.suite, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp_params.write_text(params_text, encoding="utf-8")
        load_params(tmp_params)  # what was written must load as the stages will read it, or nothing is replaced
    lines = [
        f"wrote {ctx.paths.rel(contract)}: {len(frame.columns)} columns, {len(draft.suite['expectations'])} "
        f"expectations" + (f" (drafted from the first {len(frame)} rows)" if sampled else ""),
        f"set params.yaml data: source {data['source']}, raw {data['raw']}, target {args.target!r} "
        f"({len(draft.labels)} classes: {draft.labels[:10]}{' ...' if len(draft.labels) > 10 else ''}), "
        f"{len(draft.features)} features",
        *(f"review: {note}" for note in draft.notes),
        "next: `dvc repro prepare && pipeline profile` (the drift reference of your data), then `make run`",
    ]
    return Outcome(lines)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="draft the data contract and params.yaml's data section from your own CSV")
    p.add_argument("--source", required=True, help="your CSV (relative to the current directory, or absolute)")
    p.add_argument("--target", required=True, help="the label column the model predicts")
    p.add_argument("--delimiter", default=",", help="the CSV's field delimiter (default ',')")
    p.add_argument("--force", action="store_true", help="replace an existing contract and data section")
    p.set_defaults(handler=_init)
