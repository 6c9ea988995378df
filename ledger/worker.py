"""`python -m ledger.worker`: the integrator/checkpointer loop (`Ledger.start_worker`) in a process of its own.

`hromada serve --fronts N` runs it beside the writer, so the writer's one interpreter spends its time deciding
writes: integrating leaves and signing checkpoints read and write only the log's own tables, and need neither
the city app nor its projections (the ledger opens them lazily and this process never does). It is a child of
the serving process and stops with it (SIGTERM, or the parent's death on Linux). Its settings are the serving
process's ledger settings, validated there and read here as JSON from stdin (never from the environment)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading


def die_with_parent(parent: int | None) -> None:
    """A child of `hromada serve` must not outlive it: ask Linux for SIGTERM when the parent dies, and stop now
    if it already did."""
    if parent is None:
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        raise SystemExit(1)


def main(argv: list[str] | None = None) -> None:
    from ledger.config import Settings
    from ledger.runtime import Ledger

    parser = argparse.ArgumentParser(description="The integrator/checkpointer of `hromada serve --fronts N`.")
    parser.add_argument("--parent", type=int, help="The serving process: this one stops when it is gone")
    args = parser.parse_args(argv)
    die_with_parent(args.parent)
    logging.basicConfig(level=logging.WARNING)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    settings = Settings.model_validate_json(sys.stdin.buffer.read())  # the parent's, validated at its start
    with Ledger(settings) as ledger:
        ledger.start_worker()
        stop.wait()
    # leaving the context stops the worker thread after its current round (nothing is lost: a round is one
    # transaction, and the next start continues from the stored tree size)


if __name__ == "__main__":  # pragma: no cover
    main()
