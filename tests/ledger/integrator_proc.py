"""Run an integrator in its own process until killed (used by the crash test)."""

from __future__ import annotations

import sys

from ledger.db.engine import make_engine
from ledger.integrator import Integrator

if __name__ == "__main__":
    url, origin, table, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    integrator = Integrator(make_engine(url), origin=origin, events_table=table, batch=batch)
    print("ready", flush=True)
    integrator.run(lambda: False, idle_sleep=0.005)
