"""``hromada-verify monitor``: follow a live ledger round by round (see verifier/monitor/follow.py)."""
