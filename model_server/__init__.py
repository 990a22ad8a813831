"""The serving core: what the production image holds. It loads the verified ONNX model with its contract and
serves it over HTTP; it imports nothing of the `pipeline` tool (the import contracts in pyproject.toml say so)."""

__version__ = "0.1.0"
