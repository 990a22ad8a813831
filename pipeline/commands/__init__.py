"""Command modules: each parses its arguments and calls the library. `cli` collects them."""
