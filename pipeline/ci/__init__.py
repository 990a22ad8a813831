"""Speaking GitHub Actions: annotations, step summary, outputs. Only the CLI imports this."""
