"""How long the image part of `pipeline scan` takes, next to the bare export it is built on.

Baseline: stream `docker save` of the image through the Engine API and discard it (the I/O floor).
Measured: `pipeline.scan.run.scan_image` (the same stream, read as tar layers, plus image facts,
detect-secrets over the kept files and the CycloneDX SBOM). Runs alternate, so both see the same
engine load. Usage: python benchmarks/scan_image.py [IMAGE] [REPEATS]
"""

from __future__ import annotations

import statistics
import sys
import time

import docker

from pipeline.gates.scan_policy import ScanPolicy
from pipeline.scan.run import scan_image


def export_only(client: docker.DockerClient, ref: str) -> int:
    total = 0
    for chunk in client.images.get(ref).save(chunk_size=1 << 20, named=False):
        total += len(chunk)
    return total


def main() -> None:
    ref = sys.argv[1] if len(sys.argv) > 1 else "local/python-base:3.11"
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    client = docker.from_env(timeout=300)
    policy = ScanPolicy()
    scan_image(ref, policy)  # warm-up: imports (detect-secrets, cyclonedx) and the engine's page cache
    base, full, size, components = [], [], 0, 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        size = export_only(client, ref)
        base.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        result = scan_image(ref, policy)
        full.append(time.perf_counter() - t0)
        components = result.sbom_components
    print(f"image {ref}: {size / 1e6:.0f} MB exported, {components} SBOM components, {repeats} runs each")
    for label, runs in (("docker save only", base), ("scan_image", full)):
        low, mid, high = min(runs), statistics.median(runs), max(runs)
        print(f"{label:<17}: median {mid:.2f} s (min {low:.2f}, max {high:.2f})")


if __name__ == "__main__":
    main()
