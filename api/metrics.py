"""Prometheus text exposition (format 0.0.4) without a client library: counters and latency histograms of
requests, plus gauges read from the ledger when scraped."""

from __future__ import annotations

import threading
from collections import defaultdict

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.latency: dict[tuple[str, str], list[int]] = {}
        self.latency_sum: dict[tuple[str, str], float] = defaultdict(float)
        self.latency_count: dict[tuple[str, str], int] = defaultdict(int)
        self.events_written: dict[str, int] = defaultdict(int)
        self.group_commits = 0
        self.group_committed_writes = 0

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, route, str(status))] += 1
            key = (method, route)
            counts = self.latency.get(key)
            if counts is None:
                counts = self.latency[key] = [0] * len(BUCKETS)
            for i, b in enumerate(BUCKETS):
                if seconds <= b:
                    counts[i] += 1
            self.latency_sum[key] += seconds
            self.latency_count[key] += 1

    def wrote(self, event_type: str, n: int = 1) -> None:
        with self._lock:
            self.events_written[event_type] += n

    def batch(self, writes: int) -> None:
        with self._lock:
            self.group_commits += 1
            self.group_committed_writes += writes

    def render(self, gauges: dict[str, tuple[str, float | None]]) -> str:
        out: list[str] = []
        with self._lock:
            out += [
                "# HELP hromada_http_requests_total HTTP requests by method, route and status.",
                "# TYPE hromada_http_requests_total counter",
            ]
            for (m, r, s), n in sorted(self.requests.items()):
                out.append(f'hromada_http_requests_total{{method="{m}",route="{_esc(r)}",status="{s}"}} {n}')
            out += [
                "# HELP hromada_http_request_duration_seconds Request latency.",
                "# TYPE hromada_http_request_duration_seconds histogram",
            ]
            for (m, r), counts in sorted(self.latency.items()):
                lbl = f'method="{m}",route="{_esc(r)}"'
                for b, c in zip(BUCKETS, counts, strict=True):
                    out.append(f'hromada_http_request_duration_seconds_bucket{{{lbl},le="{b}"}} {c}')
                out.append(
                    f'hromada_http_request_duration_seconds_bucket{{{lbl},le="+Inf"}} {self.latency_count[(m, r)]}'
                )
                out.append(f"hromada_http_request_duration_seconds_sum{{{lbl}}} {self.latency_sum[(m, r)]:.6f}")
                out.append(f"hromada_http_request_duration_seconds_count{{{lbl}}} {self.latency_count[(m, r)]}")
            out += [
                "# HELP hromada_events_written_total Events written through this API process, by type.",
                "# TYPE hromada_events_written_total counter",
            ]
            for t, n in sorted(self.events_written.items()):
                out.append(f'hromada_events_written_total{{type="{_esc(t)}"}} {n}')
            out += [
                "# HELP hromada_group_commits_total Write transactions committed by the group committer.",
                "# TYPE hromada_group_commits_total counter",
                f"hromada_group_commits_total {self.group_commits}",
                "# HELP hromada_group_commit_writes_total Writes committed by the group committer.",
                "# TYPE hromada_group_commit_writes_total counter",
                f"hromada_group_commit_writes_total {self.group_committed_writes}",
            ]
        for name, (help_, value) in gauges.items():
            out += [f"# HELP {name} {help_}", f"# TYPE {name} gauge"]
            out.append(f"{name} {'NaN' if value is None else repr(float(value))}")
        return "\n".join(out) + "\n"
