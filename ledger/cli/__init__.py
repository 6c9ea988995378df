"""The ledger's command line moved to the composition root: `hromada` (`python -m hromada`, hromada/cli/)."""
