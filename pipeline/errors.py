"""The tool's error vocabulary: the serving core's classes (one definition, in `model_server.errors`, because
the image holds the core only) plus the refusal only the tool's gates raise. The CLI maps each to an exit code.
"""

from __future__ import annotations

from model_server.errors import ConfigError, DataError, ExternalError, ModelError, PipelineError, UsageError

__all__ = ["ConfigError", "DataError", "ExternalError", "GateFailed", "ModelError", "PipelineError", "UsageError"]


class GateFailed(PipelineError):
    """A gate evaluated the evidence and said no. Carries its Markdown report for the job summary."""

    exit_code = 1

    def __init__(self, message: str, markdown: str | None = None) -> None:
        super().__init__(message)
        self.markdown = markdown
