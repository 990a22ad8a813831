"""The exception classes both packages raise; the `pipeline` CLI and the server map each to an exit code.

Exit codes (STYLE habit 3): 0 ok, 1 a gate said no, 2 usage, 3 bad config or data,
4 a fault outside us (network, Docker, Heroku). The gate's own refusal (exit 1) belongs to the tool:
see `pipeline.errors.GateFailed`.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base class. Its message is one line that says what, where and how to fix."""

    exit_code = 4


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
