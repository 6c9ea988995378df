"""Anchoring signed checkpoint roots on an EVM chain."""
