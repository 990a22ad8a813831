"""Serving fixtures (defined in tests/servekit.py)."""

from tests.servekit import contract, make_app, make_settings, model_files, tampered_dir  # noqa: F401
