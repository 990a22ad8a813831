"""Live drift: the last N served records, binned as the reference profile bins them, compared with it.

Memory is fixed when the app starts: the window holds at most `size` records, each kept only as one small bin
index per feature plus the predicted class's index (never the values themselves), and the running counts have
one slot per reference bin. Nothing a client sends can grow either: an unseen category falls in one shared
"other" bin, a value outside the reference range in one of two tail bins.

Measures, per feature, of the window's distribution P against the reference Q over the same bins:
- PSI, sum (p - q) ln(p / q): the industry's drift score, with the usual reading (< 0.1 stable, 0.1-0.25 a
  moderate shift, > 0.25 a major one). Both sides are floored at EPSILON first, or one empty bin makes it infinite.
- Jensen-Shannon distance, sqrt of the JS divergence in bits: symmetric, always finite without any floor, and
  bounded in [0, 1], so one alert threshold means the same for every feature whatever its number of bins.
Missing values are kept out of both (they are the missing rate's business) and the predicted classes are compared
with the served model's predictions on the test split by PSI.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from model_server.model_meta import DriftReference, FeatureReference

# Floor for PSI's shares: 1e-4 is the common choice; it caps one empty bin's share of the PSI at about 0.9 * p.
EPSILON = 1e-4
MISSING = -1


def psi(counts: Sequence[int], reference: Sequence[float]) -> float:
    total = sum(counts)
    value = 0.0
    for count, ref in zip(counts, reference, strict=True):
        p = max(count / total, EPSILON)
        q = max(ref, EPSILON)
        value += (p - q) * math.log(p / q)
    return value


def js_distance(counts: Sequence[int], reference: Sequence[float]) -> float:
    total = sum(counts)
    ref_total = sum(reference)
    divergence = 0.0
    for count, ref in zip(counts, reference, strict=True):
        p, q = count / total, ref / ref_total
        m = (p + q) / 2
        if p > 0:
            divergence += 0.5 * p * math.log2(p / m)
        if q > 0:
            divergence += 0.5 * q * math.log2(q / m)
    return math.sqrt(max(divergence, 0.0))  # rounding can leave -1e-17


@dataclass(frozen=True)
class Binning:
    """Maps one feature's values to bin indices, and holds the reference share of every bin."""

    feature: str
    reference: tuple[float, ...]
    edges: tuple[float, ...] = ()
    index: Mapping[str, int] | None = None  # categorical: value -> bin; any other value -> the last bin

    @classmethod
    def of(cls, ref: FeatureReference) -> Binning:
        if ref.kind == "numeric":
            assert ref.edges is not None  # checked by FeatureReference
            # Bins: below the first edge, the reference's own bins, above the last edge. The tails get the share
            # the data gate holds out for them (GX's tail_weight_holdout), so live and gate agree.
            half = ref.tail_weight / 2
            inner = tuple(w * (1 - ref.tail_weight) for w in ref.weights)
            return cls(ref.feature, (half, *inner, half), edges=ref.edges)
        assert ref.values is not None
        return cls(ref.feature, (*ref.weights, 0.0), index={v: i for i, v in enumerate(ref.values)})

    def bin(self, value: Any) -> int:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return MISSING
        if self.index is not None:
            return self.index.get(str(value), len(self.reference) - 1)
        edges = self.edges
        if value < edges[0]:
            return 0
        if value > edges[-1]:
            return len(self.reference) - 1
        # bisect_right - 1 is the reference bin of value; the last edge belongs to the last bin (np.histogram).
        return 1 + min(bisect_right(edges, value) - 1, len(edges) - 2)


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float | None  # None: every value in the window is missing
    js: float | None
    missing_rate: float


@dataclass(frozen=True)
class Snapshot:
    records: int
    features: tuple[FeatureDrift, ...]
    prediction_psi: float


class DriftWindow:
    """The last `size` records' bins and their running counts; add() and snapshot() cost O(features + bins)."""

    def __init__(self, reference: DriftReference, features: Sequence[str], size: int) -> None:
        by_name = {f.feature: f for f in reference.features}
        missing = [f for f in features if f not in by_name]
        if missing:
            raise ValueError(f"the drift reference has no profile for features {missing[:3]}")
        self.binnings = tuple(Binning.of(by_name[f]) for f in features)
        self.classes = {c: i for i, c in enumerate(reference.predictions.classes)}
        # Predictions of a class the reference never saw share one extra bin.
        self.class_reference = (*reference.predictions.weights, 0.0)
        self.size = size
        self._rows: deque[tuple[int, ...]] = deque(maxlen=size)
        # Per feature: one count per bin, then the missing count.
        self._counts = [[0] * (len(b.reference) + 1) for b in self.binnings]
        self._class_counts = [0] * len(self.class_reference)

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, row: Mapping[str, Any], label: str) -> None:
        other = len(self.class_reference) - 1
        bins = (*[b.bin(row.get(b.feature)) for b in self.binnings], self.classes.get(label, other))
        if len(self._rows) == self.size:
            self._count(self._rows[0], -1)  # the oldest record leaves as the deque drops it
        self._rows.append(bins)
        self._count(bins, 1)

    def _count(self, bins: tuple[int, ...], step: int) -> None:
        for counts, b in zip(self._counts, bins, strict=False):
            counts[b] += step  # MISSING (-1) is the last slot
        self._class_counts[bins[-1]] += step

    def snapshot(self) -> Snapshot:
        n = len(self._rows)
        features = []
        for binning, counts in zip(self.binnings, self._counts, strict=True):
            present = counts[:-1]
            seen = n - counts[-1]
            features.append(FeatureDrift(
                binning.feature,
                psi=psi(present, binning.reference) if seen else None,
                js=js_distance(present, binning.reference) if seen else None,
                missing_rate=counts[-1] / n if n else 0.0,
            ))
        shift = psi(self._class_counts, self.class_reference) if n else 0.0
        return Snapshot(records=n, features=tuple(features), prediction_psi=shift)
