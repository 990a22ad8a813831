"""Cheap, exact column facts gathered from Arrow data in bounded chunks.

These are what `pipeline.gates.proofs` uses to prove that an expectation passes without running
it. Everything here is exact (counts, min/max, distinct sets, row-key duplicates); where a fact
would be too costly or inexact (very many distinct strings, NaN in a float column) it is left as
None and the expectation goes to GX.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

# Above this many distinct values a string column's set is not tracked (in_set goes to GX).
MAX_DISTINCT = 10_000
CHUNK_ROWS = 1_000_000
_NULL_KEY = np.uint64(0x9E3779B97F4A7C15)


@dataclass
class ColumnStats:
    arrow_type: str
    nulls: int = 0
    nans: int = 0
    minimum: Any = None
    maximum: Any = None
    distinct: set[Any] | None = field(default_factory=set)


@dataclass
class TableStats:
    columns: list[str]
    rows: int
    columns_stats: dict[str, ColumnStats]
    duplicate_rows: int | None  # rows whose full-row key was seen before; None when not computed

    def column(self, name: str) -> ColumnStats | None:
        return self.columns_stats.get(name)


def _update_column(stats: ColumnStats, array: pa.ChunkedArray | pa.Array) -> None:
    stats.nulls += array.null_count
    if pa.types.is_floating(array.type):
        stats.nans += int(pc.sum(pc.is_nan(array)).as_py() or 0)
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type):
        mm = pc.min_max(array)
        lo, hi = mm["min"].as_py(), mm["max"].as_py()
        if lo is not None:
            stats.minimum = lo if stats.minimum is None else min(stats.minimum, lo)
            stats.maximum = hi if stats.maximum is None else max(stats.maximum, hi)
        stats.distinct = None
    elif stats.distinct is not None:
        stats.distinct.update(v for v in pc.unique(array).to_pylist() if v is not None)
        if len(stats.distinct) > MAX_DISTINCT:
            stats.distinct = None


class _StringCodes:
    """Codes for a string column that stay the same across chunks: a value keeps the code it got first."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.values = pa.array([], type=pa.string())

    def encode(self, array: pa.Array) -> np.ndarray | None:
        new = [v for v in pc.unique(array).to_pylist() if v is not None and v not in self.codes]
        if new:
            if len(self.codes) + len(new) > MAX_DISTINCT:
                return None
            for value in new:
                self.codes[value] = len(self.codes)
            self.values = pa.array(list(self.codes), type=pa.string())
        positions = pc.index_in(array.cast(pa.string()), value_set=self.values)
        return positions.fill_null(0).to_numpy(zero_copy_only=False).astype(np.uint64) + np.uint64(1)


def _column_key(array: pa.Array, codes: _StringCodes | None) -> np.ndarray | None:
    """A uint64 per row that is equal for equal values (nulls share one key)."""
    if pa.types.is_floating(array.type) or pa.types.is_integer(array.type):
        values = array.cast(pa.float64()).fill_null(0.0).to_numpy(zero_copy_only=False)
        if np.isnan(values).any():
            return None  # NaN has many bit patterns but compares equal for duplicates: let GX decide
        key = (values + 0.0).view(np.uint64).copy()  # + 0.0 folds -0.0 into 0.0
    elif codes is not None:
        encoded = codes.encode(array)
        if encoded is None:
            return None
        key = encoded
    else:
        return None
    if array.null_count:
        key[array.is_null().to_numpy(zero_copy_only=False)] = _NULL_KEY
    return key


def _row_keys(batch: pa.RecordBatch, codes: dict[str, _StringCodes]) -> np.ndarray | None:
    combined = np.zeros(batch.num_rows, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for name, array in zip(batch.schema.names, batch.columns, strict=True):
            key = _column_key(array, codes.get(name))
            if key is None:
                return None
            # splitmix64-style mixing: collisions only cost a GX run, never a wrong verdict.
            combined = (combined ^ key) * np.uint64(0xBF58476D1CE4E5B9)
            combined ^= combined >> np.uint64(31)
    return combined


def _chunks(source: pa.Table | ds.Dataset, chunk_rows: int) -> Iterable[pa.RecordBatch]:
    if isinstance(source, pa.Table):
        return source.to_batches(max_chunksize=chunk_rows)
    return source.to_batches(batch_size=chunk_rows)


def collect(source: pa.Table | ds.Dataset, chunk_rows: int | None = None, row_keys: bool = True) -> TableStats:
    """Gather exact facts in one pass over the data, chunk by chunk. With a dataset (files on disk)
    memory is O(chunk + distinct values + 8 bytes per row for duplicate detection)."""
    chunk_rows = chunk_rows or CHUNK_ROWS
    schema = source.schema
    stats = {name: ColumnStats(arrow_type=str(schema.field(name).type)) for name in schema.names}
    codes = {n: _StringCodes() for n in schema.names
             if pa.types.is_string(schema.field(n).type) or pa.types.is_large_string(schema.field(n).type)}
    keys: list[np.ndarray] | None = [] if row_keys else None
    rows = 0
    for batch in _chunks(source, chunk_rows):
        rows += batch.num_rows
        for name, array in zip(batch.schema.names, batch.columns, strict=True):
            _update_column(stats[name], array)
        if keys is not None:
            chunk_keys = _row_keys(batch, codes)
            keys = None if chunk_keys is None else [*keys, chunk_keys]
    duplicates: int | None = None
    if keys is not None and rows:
        all_keys = np.concatenate(keys)
        all_keys.sort()  # equal keys become neighbours; an order of magnitude faster than np.unique here
        duplicates = int(np.count_nonzero(all_keys[1:] == all_keys[:-1]))
    return TableStats(columns=list(schema.names), rows=rows, columns_stats=stats, duplicate_rows=duplicates)
