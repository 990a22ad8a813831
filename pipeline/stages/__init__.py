"""DVC stages: each module has one `run(params, paths)` that reads and writes files."""
