"""The few exception classes the library raises; the CLI maps each to an exit code.

Exit codes (STYLE habit 3): 0 ok, 1 a gate said no, 2 usage, 3 bad config or data,
4 a fault outside us (network, Docker, Heroku).
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base class. Its message is one line that says what, where and how to fix."""

    exit_code = 4


class GateFailed(PipelineError):
    """A gate evaluated the evidence and said no. Carries its Markdown report for the job summary."""

    exit_code = 1

    def __init__(self, message: str, markdown: str | None = None) -> None:
        super().__init__(message)
        self.markdown = markdown


class UsageError(PipelineError):
    exit_code = 2


class ConfigError(PipelineError):
    """params.yaml, a suite, a policy or an environment variable is wrong."""

    exit_code = 3


class DataError(PipelineError):
    """Input data cannot be read or does not have the shape the contract requires."""

    exit_code = 3


class ModelError(PipelineError):
    """The model artifact is missing, tampered with or does not match its metadata."""

    exit_code = 3


class ExternalError(PipelineError):
    """Something outside us failed: network, Docker engine, registry, Heroku."""

    exit_code = 4
