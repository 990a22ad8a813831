"""Where every stage reads and writes, relative to one project root.

Stages receive a `Paths` instead of hard-coding locations, so tests run them in `tmp_path`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paths:
    root: Path

    @classmethod
    def at(cls, root: str | Path = ".") -> Paths:
        return cls(Path(root).resolve())

    @property
    def params(self) -> Path:
        return self.root / "params.yaml"

    @property
    def raw_dir(self) -> Path:
        return self.root / "data" / "raw"

    @property
    def prepared_dir(self) -> Path:
        return self.root / "data" / "prepared"

    @property
    def train(self) -> Path:
        return self.prepared_dir / "train.parquet"

    @property
    def test(self) -> Path:
        return self.prepared_dir / "test.parquet"

    @property
    def suites_dir(self) -> Path:
        return self.root / "gx" / "expectations"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def model(self) -> Path:
        return self.models_dir / "model.skops"

    @property
    def model_meta(self) -> Path:
        return self.models_dir / "model.json"

    @property
    def onnx_model(self) -> Path:
        """What the serving image runs (model_server/served_model.py)."""
        return self.models_dir / "model.onnx"

    @property
    def serving_meta(self) -> Path:
        return self.models_dir / "serving.json"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def data_gate_json(self) -> Path:
        return self.reports / "data_gate.json"

    @property
    def data_gate_md(self) -> Path:
        return self.reports / "data_gate.md"

    @property
    def data_docs(self) -> Path:
        return self.reports / "data_docs"

    @property
    def metrics(self) -> Path:
        return self.reports / "metrics.json"

    @property
    def plots(self) -> Path:
        return self.reports / "plots"

    @property
    def metrics_gate_json(self) -> Path:
        return self.reports / "metrics_gate.json"

    @property
    def metrics_gate_md(self) -> Path:
        return self.reports / "metrics_gate.md"

    @property
    def report_md(self) -> Path:
        return self.reports / "report.md"

    def rel(self, path: Path) -> str:
        """A path as users see it in messages: relative to the project root when possible."""
        try:
            return str(path.resolve().relative_to(self.root))
        except ValueError:
            return str(path)
