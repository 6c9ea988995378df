"""`python -m ledger.cli.main`, the CLI's old home: it says where the CLI is now (`hromada`, `python -m hromada`)
instead of printing nothing. `ledger` must not import `hromada` (the import contracts), so it points, not runs."""

from __future__ import annotations

import sys

MOVED = (
    "the ledger's command line is `hromada` now (or `python -m hromada`): e.g. `hromada serve`, `hromada demo`, "
    "`hromada --help`"
)


def main() -> int:
    print(f"ledger.cli.main: {MOVED}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
