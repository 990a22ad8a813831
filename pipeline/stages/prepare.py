"""prepare: parse the raw CSV strictly against the data contract, handle missing values, split.

Structural problems (encoding, delimiter, field counts, unparsable numbers, missing columns) stop
here with a one-line error naming the file, line and column. Content problems (ranges, unseen
categories, nulls, duplicates, drift) are left to the GX data gate, which reports them all at once.
"""

from __future__ import annotations

import csv
import io
import reprlib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from model_server.contract import DataContract, load_contract
from pipeline.errors import ConfigError, DataError
from pipeline.io import atomic_write
from pipeline.params import Params
from pipeline.paths import Paths

MAX_LISTED = 3
_INVISIBLE = " \t\ufeff\u200b\u00a0"
# Integers beyond 2**53 are not exact as float64 and overflow int64 past 2**63: no count or measurement is that big.
_MAX_EXACT_INT = 2**53
# A bad value is quoted in the one-line error, but a 200 KB field must not become a 200 KB line.
_SHOWN = reprlib.Repr()
_SHOWN.maxstring = 60


def require_columns(params: Params, contract: DataContract) -> None:
    """data.target and data.features must be columns of the contract (else a KeyError deep in pandas)."""
    unknown = [c for c in (params.data.target, *params.data.features) if c not in contract.names]
    if unknown:
        raise ConfigError(
            f"params.yaml: data.target/data.features name {unknown}, which {contract.source} does not define; "
            f"use columns of the contract: {list(contract.names)}"
        )
    if params.data.target in params.data.features:
        raise ConfigError(f"params.yaml: data.features includes the target {params.data.target!r}; remove it")


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
    # Old Mac (CR-only) and Windows (CRLF) line endings are both line endings: read them as LF.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _check_structure(text: str, where: str, contract: DataContract, delimiter: str) -> list[str]:
    """Check header and per-line field counts; return the header."""
    # strict: a quote still open at the end of the file is an error, not one field swallowing the rest.
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    start = 1  # the line the record being read starts on: where an unterminated quote was opened

    def records() -> Iterator[tuple[int, list[str]]]:
        nonlocal start
        while True:
            start = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            yield start, fields

    try:
        return _fields_checked(records(), where, contract, delimiter)
    except csv.Error as exc:
        problem = str(exc)
        if "field larger than field limit" in problem:
            problem = (f"a field is longer than {csv.field_size_limit()} characters; look for an unterminated "
                       "quote or a wrong data.delimiter")
        elif "unexpected end of data" in problem:
            problem = "a quote opened on this line is never closed; close it or remove it"
        else:
            problem = f"cannot parse the CSV ({problem}); fix the quoting on this line"
        raise DataError(f"{where}:{start}: {problem}") from None


def _fields_checked(
    records: Iterator[tuple[int, list[str]]], where: str, contract: DataContract, delimiter: str
) -> list[str]:
    _, header = next(records)
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise DataError(f"{where}:1: column {repeated[0]!r} appears {header.count(repeated[0])} times in the header; "
                        "give each column its own name")
    missing = [c for c in contract.names if c not in header]
    if missing:
        hint = ""
        invisible = [h for h in header if h not in contract.names and h.strip(_INVISIBLE) in missing]
        if len(header) == 1 and any(sep in header[0] for sep in ";\t|,"):
            hint = f" (the header is one field {header[0][:60]!r}: is data.delimiter {delimiter!r} right?)"
        elif invisible:
            hint = (f" (the header has {', '.join(repr(h) for h in invisible[:MAX_LISTED])}: remove the spaces, "
                    "byte-order marks or other invisible characters around the names)")
        raise DataError(f"{where}:1: missing columns {missing}{hint}; the contract in {contract.source} needs them")
    bad: list[str] = []
    rows = 0
    for line, fields in records:
        rows += 1
        if len(fields) != len(header) and fields and len(bad) < MAX_LISTED:
            bad.append(f"line {line} has {len(fields)} fields")
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
                f"{where}:{int(first) + 2}: column {col.name!r} expects {col.dtype}, got {_SHOWN.repr(raw[first])} "
                f"({int(bad.sum())} such values); fix the values or the type in {contract.source}"
            )
        if col.is_integer and values.notna().all():
            huge = values.abs() > _MAX_EXACT_INT
            if huge.any():
                first = huge.idxmax()
                raise DataError(
                    f"{where}:{int(first) + 2}: column {col.name!r} expects whole numbers, "
                    f"got {_SHOWN.repr(raw[first])}, "
                    f"which is beyond {_MAX_EXACT_INT}; fix the value"
                )
            if (values % 1 != 0).any():
                first = (values % 1 != 0).idxmax()
                raise DataError(
                    f"{where}:{int(first) + 2}: column {col.name!r} expects whole numbers, "
                    f"got {_SHOWN.repr(raw[first])}"
                )
            values = values.astype("int64")
        else:
            values = values.astype("float64")
        frame[col.name] = values
    return frame


def read_raw(path: Path, params: Params, contract: DataContract, where: str) -> pd.DataFrame:
    text = _decode(path, where)
    _check_structure(text, where, contract, params.data.delimiter)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=params.data.delimiter,
            dtype=str,
            keep_default_na=False,
            na_values=list(params.data.na_values),
        )
    except (pd.errors.ParserError, ValueError) as exc:  # what the structure check above did not foresee
        raise DataError(f"{where}: cannot parse the CSV ({str(exc).splitlines()[0][:200]}); "
                        "fix the quoting or data.delimiter") from None
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
    if len(counts) < 2:
        # A one-class model passes every later check until onnxruntime aborts the process on export.
        found = f"every labelled row has {params.data.target!r} = {counts.index[0]!r}" if len(counts) else (
            f"no row has a {params.data.target!r} label")
        raise DataError(
            f"{where}: {found} ({len(frame)} rows); a classifier needs at least two classes: "
            f"add rows of the other classes or check data.target in params.yaml"
        )
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
    require_columns(params, contract)
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
