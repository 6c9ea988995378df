"""A free TCP port on 127.0.0.1 for a server a test starts.

Not the OS's `bind(0)`: that hands out a port from the ephemeral range (32768-60999 on Linux), the same range the
kernel draws from for every outgoing connection, so between this call and the server's own bind another xdist
worker, or any client socket on the machine, may take it (CI saw `address already in use` that way). Instead each
xdist worker owns a block of ports below the ephemeral range and walks it, never handing out the same port twice
in one process; a port is only returned if it binds now.
"""

from __future__ import annotations

import itertools
import os
import socket

_BASE = 20000
_BLOCK = 1000  # ports per xdist worker; 12 workers fit below 32768


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    digits = worker.removeprefix("gw")
    return int(digits) % 12 if digits.isdigit() else 0


_start = _BASE + _worker_index() * _BLOCK
_next = itertools.cycle(range(_start + os.getpid() % 97, _start + _BLOCK))


def free_port() -> int:
    for _ in range(_BLOCK):
        port = next(_next)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_start}..{_start + _BLOCK}")
