"""A `hromada serve` killed with SIGKILL while clients hold connections leaves the port's connections in
TIME_WAIT/FIN_WAIT on the server side. `hromada serve --fronts 2` started again at once on that port must serve:
the writer's port reservation (bound, never listening) needs SO_REUSEADDR as well as SO_REUSEPORT, or bind() is
refused for about a minute ("Address already in use") while connections of a socket without SO_REUSEPORT (the
one-process server's, uvicorn's own) wait out TIME_WAIT."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import httpx
import pytest

from tests.api import served as srv
from tests.processes import alive, wait_until


def _open_connections(port: int, n: int) -> list[socket.socket]:
    """`n` keep-alive connections that each had an answer (so the fronts hold them open)."""
    conns = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200"), "the front did not answer"
        conns.append(s)
    return conns


@pytest.mark.timeout(240)
@pytest.mark.parametrize("killed_fronts", [2, 0], ids=["fronts-2-killed", "one-process-killed"])
def test_serve_with_fronts_restarts_at_once_after_sigkill_with_open_connections(
    tmp_path: Path, killed_fronts: int
) -> None:
    first = srv.start(tmp_path, fronts=killed_fronts)
    conns: list[socket.socket] = []
    try:
        with httpx.Client(base_url=first.url) as client:  # busy: requests on many connections
            for _ in range(50):
                assert client.get("/v1/log").status_code == 200
        conns = _open_connections(first.port, 20)
        victims = [first.proc.pid, *srv.children(first.proc.pid)]
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        first.proc.wait(timeout=30)
        wait_until(lambda: not any(alive(p) for p in victims), 30, poll=0.1)
    finally:
        srv.stop(first)
    assert first.proc.returncode == -signal.SIGKILL
    # the port now has server-side connections waiting to time out (the fronts closed first)
    second = srv.start(tmp_path, fronts=2, port=first.port)
    try:
        assert second.alive()
        with httpx.Client(base_url=second.url) as client:
            assert client.get("/v1/log").status_code == 200
    finally:
        srv.stop(second)
        for s in conns:
            s.close()
