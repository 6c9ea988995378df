"""Standalone verifier. Imports nothing of ledger/domain/api/anchoring: it re-implements docs/formats.md."""
