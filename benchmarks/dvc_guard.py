"""What the venv's DVC guard (pipeline/dvc_guard.py) costs: DVC's YAML parser with the guard in front, against
the same parser without it (`parse_yaml.__wrapped__`), side by side in one run, on the project's own files and on
an alias-heavy but legitimate document; plus a bomb, which DVC's parser reads quickly and DVC then hangs on while
building its templating context (`dvc status` grew about 60 MB/s until killed), and the guard refuses.

Usage (repo root, after `make install`): python -m benchmarks.dvc_guard --repeat 50
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dvc.utils.serialize._yaml as dvc_yaml

REPO = Path(__file__).resolve().parents[1]


def _aliases(levels: int, width: int = 10) -> str:
    """`width ** levels` values through nested aliases: within the guard's bound up to 6 levels of 10."""
    lines = [f"x0: &a0 [{', '.join(['v'] * width)}]"]
    lines += [f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _ms(parse: Callable[[str, str], Any], text: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        with contextlib.suppress(dvc_yaml.YAMLError):  # the bomb row times the refusal itself
            parse(text, "doc.yaml")
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    guarded = dvc_yaml.parse_yaml
    plain = getattr(guarded, "__wrapped__", None)
    if plain is None:
        raise SystemExit("DVC's parser is not guarded in this interpreter: run `make install` first")
    docs = {name: (REPO / name).read_text(encoding="utf-8") for name in ("params.yaml", "dvc.yaml", "dvc.lock")}
    docs["10**5 values via aliases"] = _aliases(5)
    print("| document | bytes | DVC's parser (ms) | with the guard (ms) | added (ms) |")
    print("|---|---:|---:|---:|---:|")
    for name, text in docs.items():
        # Fewer rounds for the expanding document: DVC builds its 100,000 values each time.
        rounds = max(3, args.repeat // 10) if "alias" in name else args.repeat
        base, with_guard = _ms(plain, text, rounds), _ms(guarded, text, rounds)
        print(f"| {name} | {len(text)} | {base:.2f} | {with_guard:.2f} | {with_guard - base:+.2f} |")
    # ruamel parses a bomb quickly (aliases are shared objects); what hangs is DVC's templating context copying
    # every aliased value after the parse. With the guard the parse is refused, so DVC never gets there.
    bomb = _aliases(9)
    print(f"| alias bomb (10**9 values): parsed, then DVC hangs / refused | {len(bomb)} | "
          f"{_ms(plain, bomb, 5):.2f} | {_ms(guarded, bomb, 5):.2f} | |")


if __name__ == "__main__":
    main()
