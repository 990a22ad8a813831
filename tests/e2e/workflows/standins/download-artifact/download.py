"""download-artifact stand-in: from this run's stand-in store, or (run-id) through the GitHub API as the real one."""

import io
import json
import os
import shutil
import sys
import urllib.request
import zipfile
from pathlib import Path

name, dest = os.environ["NAME"], Path(os.environ["DEST"] or ".")
run_id = os.environ.get("RUN_ID", "")
if not run_id:
    src = Path(os.environ["STANDIN_ARTIFACTS"]) / name
    if not src.is_dir():
        print(f"::error::download-artifact stand-in: no artifact {name!r} in this run")
        sys.exit(1)
    shutil.copytree(src, dest, dirs_exist_ok=True)
    print(f"download-artifact stand-in: {name!r} from this run into {dest}")
    sys.exit(0)
api, repo = os.environ["GITHUB_API_URL"].rstrip("/"), os.environ["GITHUB_REPOSITORY"]
headers = {"Authorization": f"Bearer {os.environ['TOKEN']}", "Accept": "application/vnd.github+json"}


def get(url: str) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as response:
        return response.read()


listing = json.loads(get(f"{api}/repos/{repo}/actions/runs/{int(run_id)}/artifacts?name={name}"))
found = [a for a in listing.get("artifacts", []) if a.get("name") == name]
if not found:
    print(f"::error::download-artifact stand-in: run {run_id} has no artifact {name!r}")
    sys.exit(1)
blob = get(f"{api}/repos/{repo}/actions/artifacts/{int(found[0]['id'])}/zip")
dest.mkdir(parents=True, exist_ok=True)
with zipfile.ZipFile(io.BytesIO(blob)) as archive:
    for member in archive.namelist():
        if member.startswith("/") or ".." in Path(member).parts:
            print(f"::error::download-artifact stand-in: unsafe member {member!r}")
            sys.exit(1)
    archive.extractall(dest)
print(f"download-artifact stand-in: {name!r} of run {run_id} into {dest}")
