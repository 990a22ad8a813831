"""The I/O side of the scan gate: run or read each scanner, normalize its findings, read the policy.

The verdict itself is pure and lives in pipeline.gates.scan.
"""
