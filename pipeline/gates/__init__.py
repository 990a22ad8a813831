"""Gates: pure functions over evidence that return verdicts. No file, network or engine I/O."""
