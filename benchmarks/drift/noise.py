"""How large drift reads when nothing drifted: windows of records drawn (with replacement) from the prepared
splits, scored against the model's shipped reference (models/serving.json), as the app scores them.

    .venv/bin/python -m benchmarks.drift.noise            # a few seconds

For each window size, 200 windows: the worst feature's PSI and JS per window (median, 95th percentile, max) and
how many windows would cross the alert line PSI > 0.25. The train split is the reference's own data; the test
split is a small independent sample (69 penguins), closer to what live traffic is.
"""

from __future__ import annotations

import math
import random

import pandas as pd

from model_server.drift import DriftWindow
from model_server.model_meta import ServingMeta
from tests.monitoring_stack import ROOT

WINDOWS = 200


def main() -> None:
    meta = ServingMeta.read(ROOT / "models" / "serving.json")
    assert meta.drift_reference is not None, "models/serving.json has no drift reference; run `dvc repro export`"
    features = list(meta.model.features)
    print("| split (rows) | window | worst PSI median | p95 | max | windows over 0.25 | worst JS median | p95 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for split in ("train", "test"):
        frame = pd.read_parquet(ROOT / "data" / "prepared" / f"{split}.parquet", columns=features)
        rows = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
                for r in frame.to_dict("records")]
        rng = random.Random(0)
        for size in (100, 200, 500, 1000):
            psis, jss = [], []
            for _ in range(WINDOWS):
                window = DriftWindow(meta.drift_reference, features, size)
                for _ in range(size):
                    window.add(rng.choice(rows), meta.model.classes[0])
                snap = window.snapshot()
                psis.append(max(f.psi for f in snap.features if f.psi is not None))
                jss.append(max(f.js for f in snap.features if f.js is not None))
            psis.sort()
            jss.sort()
            p95 = int(WINDOWS * 0.95)
            print(f"| {split} ({len(rows)}) | {size} | {psis[WINDOWS // 2]:.3f} | {psis[p95]:.3f} | {psis[-1]:.3f} | "
                  f"{sum(p > 0.25 for p in psis)}/{WINDOWS} | {jss[WINDOWS // 2]:.3f} | {jss[p95]:.3f} |")


if __name__ == "__main__":
    main()
