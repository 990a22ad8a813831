"""Deploy benchmark on heroku-local, warm image cache: how long until a release is *verified* healthy,
and how long a rollback takes, next to the unverified baseline measured in the same run.

ours      `pipeline deploy` / `pipeline rollback` as a user runs them (a fresh CLI process each time):
          push, release, wait for every dyno up, smoke test (/ready + /predict); exit 0 = verified.
baseline  what `heroku container:push web && heroku container:release web` does, i.e. push + formation
          PATCH, done when the API answers (nothing verified); rollback = the POST alone. For both we
          also measure when the router actually serves the new version, polling web_url every 50 ms.
failure   `pipeline deploy` of an image that never binds $PORT: R10 after the boot timeout, then the
          automatic rollback, until the command exits with the old release verified again.

Usage: python benchmarks/deploy/run.py [--rounds 5] [--boot-timeout 5]
Writes benchmarks/deploy/results.json and prints the Markdown table used in benchmarks/README-deploy.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import docker
import requests
from pydantic import SecretStr

from heroku_local.runtime import RuntimeRules
from heroku_local.server import HerokuLocal, LocalConfig
from pipeline.deploy.deadline import Deadline
from pipeline.deploy.http import HerokuAPI
from pipeline.deploy.registry import Registry
from pipeline.deploy.settings import Target

ROOT = Path(__file__).resolve().parents[2]
STANDIN = ROOT / "tests" / "e2e" / "deploy" / "standin"
WORK = ROOT / "benchmarks" / ".work" / "deploy"
KEY = "hk-bench-0123456789abcdef"


def build_images(client: Any) -> dict[str, str]:
    model = json.loads((ROOT / "models" / "model.json").read_text())["sha256"]
    tags = {}
    for name, mode, version in [("v1", "good", "1"), ("v2", "good", "2"), ("noport", "noport", "9")]:
        tag = f"deploytest/bench-{name}:{os.getpid()}"
        client.images.build(
            path=str(STANDIN),
            tag=tag,
            rm=True,
            buildargs={"MODE": mode, "VERSION": version, "MODEL_SHA256": model},
        )
        tags[name] = tag
    return tags


def serving(web_url: str) -> str | None:
    try:
        resp = requests.get(web_url + "version", timeout=2)
        return resp.json()["version"] if resp.status_code == 200 else None
    except (requests.RequestException, ValueError):
        return None


def until_serving(web_url: str, version: str, started: float, limit: float = 120.0) -> float:
    while time.perf_counter() - started < limit:
        if serving(web_url) == version:
            return time.perf_counter() - started
        time.sleep(0.05)
    raise RuntimeError(f"{web_url} never served version {version}")


def cli(local: HerokuLocal, *args: str) -> float:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "HEROKU_"))},
        "HEROKU_API_KEY": KEY,
        "HEROKU_LOCAL_HOME": str(local.config.home),
    }
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "-C",
            str(ROOT),
            *args,
            "--target",
            "local",
            "--poll",
            "0.5",
            "--record-dir",
            str(WORK / "records"),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise RuntimeError(f"pipeline {' '.join(args)} exited {result.returncode}: {result.stderr[-500:]}")
    return elapsed


def recorded(action: str, app: str) -> float:
    """The deployer's own clock for the last run (the record's `seconds`): CLI start-up excluded."""
    return float(json.loads((WORK / "records" / f"{action}-{app}.json").read_text())["seconds"])


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
        "n": len(values),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--boot-timeout", type=float, default=5.0, help="heroku-local boot timeout (R10) in s"
    )
    args = parser.parse_args()

    client = docker.from_env(timeout=600)
    images = build_images(client)
    config = LocalConfig(
        home=WORK / "home",
        api_key=SecretStr(KEY),
        rules=RuntimeRules(boot_timeout=args.boot_timeout),
        apps=("bench-ours", "bench-base"),
    )
    samples: dict[str, list[float]] = {
        k: []
        for k in (
            "cli_startup",
            "ours_deploy_verified",
            "ours_deploy_in_process",
            "base_deploy_api_returned",
            "base_deploy_serving",
            "ours_rollback_verified",
            "base_rollback_api_returned",
            "base_rollback_serving",
            "ours_failed_deploy_rolled_back",
        )
    }
    with HerokuLocal(config) as local:
        target = Target("local", local.api_url, local.registry_host, SecretStr(KEY))
        api = HerokuAPI(target, Deadline(3600))
        registry = Registry(target, Deadline(3600))
        web = {app: api.app(app)["web_url"] for app in ("bench-ours", "bench-base")}
        # Warm-up: the base layer goes into the registry once; later pushes move only new blobs.
        cli(local, "deploy", "--app", "bench-ours", "--image", images["v1"])
        pushed = registry.push(images["v1"], "bench-base", "web")
        api.update_formation("bench-base", [{"type": "web", "docker_image": pushed.config_digest}])
        until_serving(web["bench-base"], "1", time.perf_counter())

        for round_ in range(args.rounds):
            new, old = ("v2", "v1") if round_ % 2 == 0 else ("v1", "v2")
            samples["ours_deploy_verified"].append(
                cli(local, "deploy", "--app", "bench-ours", "--image", images[new])
            )
            samples["ours_deploy_in_process"].append(recorded("deploy", "bench-ours"))
            assert serving(web["bench-ours"]) == new[1]
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "pipeline", "--version"], capture_output=True, check=True)
            samples["cli_startup"].append(time.perf_counter() - started)

            started = time.perf_counter()
            pushed = registry.push(images[new], "bench-base", "web")
            api.update_formation("bench-base", [{"type": "web", "docker_image": pushed.config_digest}])
            samples["base_deploy_api_returned"].append(time.perf_counter() - started)
            samples["base_deploy_serving"].append(until_serving(web["bench-base"], new[1], started))

            samples["ours_rollback_verified"].append(cli(local, "rollback", "--app", "bench-ours"))
            assert serving(web["bench-ours"]) == old[1]
            # Put `new` back so the next round deploys a change again.
            cli(local, "rollback", "--app", "bench-ours")

            started = time.perf_counter()
            previous = api.releases("bench-base", 2)[1]
            api.rollback("bench-base", previous["id"])
            samples["base_rollback_api_returned"].append(time.perf_counter() - started)
            samples["base_rollback_serving"].append(until_serving(web["bench-base"], old[1], started))
            api.rollback("bench-base", api.releases("bench-base", 2)[1]["id"])
            until_serving(web["bench-base"], new[1], time.perf_counter())

            samples["ours_failed_deploy_rolled_back"].append(
                cli(local, "deploy", "--app", "bench-ours", "--image", images["noport"])
            )
            assert serving(web["bench-ours"]) == new[1]
            local.wait_settled("bench-ours")
            local.wait_settled("bench-base")
    for tag in images.values():
        client.images.remove(tag)

    results = {
        "machine": f"{host.machine()} {os.cpu_count()} CPUs, Docker {client.version()['Version']}",
        "rounds": args.rounds,
        "boot_timeout_s": args.boot_timeout,
        "seconds": {name: summary(values) for name, values in samples.items()},
    }
    (ROOT / "benchmarks" / "deploy" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print("| measure | median s | min s | max s |\n|---|---|---|---|")
    for name, stats in results["seconds"].items():
        print(f"| {name} | {stats['median']} | {stats['min']} | {stats['max']} |")


if __name__ == "__main__":
    main()
