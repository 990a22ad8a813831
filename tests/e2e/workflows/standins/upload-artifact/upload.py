"""upload-artifact stand-in: glob the patterns, copy the files relative to their least common ancestor."""

import glob
import os
import shutil
import sys
from pathlib import Path

name, none = os.environ["NAME"], os.environ["IF_NONE"]
files: set[Path] = set()
for pattern in (line.strip() for line in os.environ["PATHS"].splitlines()):
    if not pattern:
        continue
    for match in glob.glob(pattern, recursive=True):
        path = Path(match)
        files.update(p for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file())
if not files:
    message = f"upload-artifact stand-in: no files match for artifact {name!r}"
    if none == "error":
        print(f"::error::{message}")
        sys.exit(1)
    print(f"::warning::{message}" if none == "warn" else message)
    sys.exit(0)
absolute = [p.resolve() for p in files]
root = Path(os.path.commonpath([p.parent for p in absolute]))
dest = Path(os.environ["STANDIN_ARTIFACTS"]) / name
if dest.exists():
    print(f"::error::upload-artifact stand-in: an artifact named {name!r} already exists in this run")
    sys.exit(1)
for path in absolute:
    target = dest / path.relative_to(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, target)
print(f"upload-artifact stand-in: {len(absolute)} file(s) as {name!r}")
