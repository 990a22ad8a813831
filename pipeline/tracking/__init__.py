"""Optional MLflow experiment tracking and model registry, off unless a tracking server is configured.

Where it lives, and why: tracking is its own command, `pipeline track log`, run after `dvc repro`, not code
inside the `train` and `evaluate` stages. A stage runs once per stage, not once per pipeline run, and a stage
DVC skips never runs at all; logging from inside them would either split one pipeline run across two MLflow runs
or need state passed between stages outside DVC's view. After `dvc repro`, `dvc.lock` describes exactly what the
pipeline produced, so the run is keyed by a hash of the lock entries of the stages it reports on
(`run_inputs.run_key`): an unchanged pipeline (every stage skipped) has the same key, the command finds the run
already logged under that key and logs nothing. The stages keep their dependencies in `dvc.yaml`
unchanged, so turning tracking on re-runs nothing.

Only `pipeline.tracking.mlflow_store` imports mlflow (an import-linter contract in pyproject.toml says so),
and only when tracking is configured: the core install and the serving image never need it.
"""
