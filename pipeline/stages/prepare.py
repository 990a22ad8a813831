"""prepare: parse the raw CSV strictly against the data contract, handle missing values, split.

Structural problems (encoding, delimiter, field counts, unparsable numbers, missing columns) stop
here with a one-line error naming the file, line and column. Content problems (ranges, unseen
categories, nulls, duplicates, drift) are left to the GX data gate, which reports them all at once.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from pipeline.contract import DataContract, load_contract
from pipeline.errors import DataError
from pipeline.io import atomic_write
from pipeline.params import Params
from pipeline.paths import Paths

MAX_LISTED = 3


def _decode(path: Path, where: str) -> str:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{where}:{line}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "re-save the file as UTF-8"
        ) from None
    if not text.strip():
        raise DataError(f"{where}: the file is empty; expected a header and at least one row")
    return text


def _check_structure(text: str, where: str, contract: DataContract, delimiter: str) -> list[str]:
    """Check header and per-line field counts; return the header."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader)
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise DataError(f"{where}:1: column {repeated[0]!r} appears {header.count(repeated[0])} times in the header; "
                        "give each column its own name")
    missing = [c for c in contract.names if c not in header]
    if missing:
        hint = ""
        if len(header) == 1 and any(sep in header[0] for sep in ";\t|,"):
            hint = f" (the header is one field {header[0][:60]!r}: is data.delimiter {delimiter!r} right?)"
        raise DataError(f"{where}:1: missing columns {missing}{hint}; the contract in {contract.source} needs them")
    bad: list[str] = []
    rows = 0
    for fields in reader:
        rows += 1
        if len(fields) != len(header) and fields and len(bad) < MAX_LISTED:
            bad.append(f"line {reader.line_num} has {len(fields)} fields")
    if rows == 0:
        raise DataError(f"{where}: has a header but no data rows")
    if bad:
        raise DataError(
            f"{where}: {'; '.join(bad)}, expected {len(header)}; "
            "fix the truncated or malformed lines (a missing value is an empty field, not a missing one)"
        )
    return header


def _coerce(frame: pd.DataFrame, contract: DataContract, where: str) -> pd.DataFrame:
    for col in contract.columns:
        if not col.is_numeric:
            continue
        raw = frame[col.name]
        values = pd.to_numeric(raw, errors="coerce")
        bad = raw.notna() & values.isna()
        if bad.any():
            first = bad.idxmax()
            raise DataError(
                f"{where}:{int(first) + 2}: column {col.name!r} expects {col.dtype}, got {raw[first]!r} "
                f"({int(bad.sum())} such values); fix the values or the type in {contract.source}"
            )
        if col.is_integer and values.notna().all():
            if (values % 1 != 0).any():
                first = (values % 1 != 0).idxmax()
                raise DataError(
                    f"{where}:{int(first) + 2}: column {col.name!r} expects whole numbers, got {raw[first]!r}"
                )
            values = values.astype("int64")
        else:
            values = values.astype("float64")
        frame[col.name] = values
    return frame


def read_raw(path: Path, params: Params, contract: DataContract, where: str) -> pd.DataFrame:
    text = _decode(path, where)
    _check_structure(text, where, contract, params.data.delimiter)
    frame = pd.read_csv(
        io.StringIO(text),
        sep=params.data.delimiter,
        dtype=str,
        keep_default_na=False,
        na_values=list(params.data.na_values),
    )
    return _coerce(frame, contract, where)


def handle_missing(frame: pd.DataFrame, params: Params, features: list[str], where: str) -> pd.DataFrame:
    target = params.data.target
    unlabeled = frame[target].isna()
    if unlabeled.any():
        if params.prepare.missing.target == "fail":
            raise DataError(
                f"{where}: {int(unlabeled.sum())} rows have no {target!r} "
                f"(first at line {int(unlabeled.idxmax()) + 2}); fill them or set prepare.missing.target: drop"
            )
        frame = frame[~unlabeled]
    if params.prepare.missing.features == "drop":
        frame = frame.dropna(subset=features)
    return frame


def check_classification_target(frame: pd.DataFrame, params: Params, contract: DataContract, where: str) -> None:
    """Refuse, in one line, a target that is a quantity rather than a label: the pipeline trains classifiers."""
    target = params.data.target
    column = contract.column(target)
    distinct = int(frame[target].nunique())
    continuous = column.is_numeric and not column.is_integer
    if continuous or (distinct > 20 and distinct > len(frame) / 2):
        kind = f"a {column.dtype} column" if continuous else "a column"
        raise DataError(
            f"{where}: data.target {target!r} is {kind} with {distinct} distinct values in {len(frame)} rows, a "
            "regression target; this pipeline trains classifiers only: choose a categorical target (or bin the "
            f"values into classes and declare the column as int64 or str in {contract.source})"
        )


def split(frame: pd.DataFrame, params: Params, where: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    target = frame[params.data.target]
    counts = target.value_counts()
    if (counts < 2).any() or len(frame) < 4:
        rare = counts[counts < 2].index.tolist()[:MAX_LISTED]
        raise DataError(
            f"{where}: cannot stratify the split, classes {rare} (of {int((counts < 2).sum())}) have fewer than 2 rows "
            f"({len(frame)} usable rows); add data or remove those classes"
        )
    try:
        train, test = train_test_split(
            frame,
            test_size=params.prepare.test_size,
            random_state=params.prepare.seed,
            stratify=target,
        )
    except ValueError as exc:
        raise DataError(f"{where}: cannot split {len(frame)} rows ({exc}); adjust prepare.test_size") from None
    return train.sort_index(), test.sort_index()


def run(params: Params, paths: Paths, contract: DataContract | None = None) -> tuple[Path, Path]:
    contract = contract or load_contract(paths.root / params.gates.data.suite)
    raw = paths.root / params.data.raw
    where = paths.rel(raw)
    if not raw.is_file():
        raise DataError(f"{where}: raw data not found; run `dvc repro ingest` or check data.raw in params.yaml")
    frame = read_raw(raw, params, contract, where)
    features = list(params.data.features)
    frame = handle_missing(frame, params, features, where)
    check_classification_target(frame, params, contract, where)
    train, test = split(frame, params, where)
    for part, dest in ((train, paths.train), (test, paths.test)):
        atomic_write(dest, part.to_parquet)
    return paths.train, paths.test
