"""Every hostile-input case of tests/vectors/hostile/api against a real `hromada serve --no-chain` (and with
`--fronts 2` where the case says so): the expected answer, and a server still alive and answering afterwards.
Times and memory per case are the benchmark's (bench/hostile_api.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.api import hostile
from tests.api import served as srv

CASES = hostile.load_cases()
GROUPS = hostile.server_groups(CASES)
RUNS = [(key, case) for key, cases in GROUPS.items() for case in cases]

pytestmark = [pytest.mark.xdist_group("hostile-api"), pytest.mark.timeout(300)]


def test_the_suite_has_its_cases() -> None:
    assert len(CASES) >= 12 and all(c.expect.get("status") for c in CASES)


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[int, tuple[tuple[str, str], ...]], srv.Served]]:
    """One server per group of cases (front processes, environment), started when first needed."""
    started: dict[tuple[int, tuple[tuple[str, str], ...]], srv.Served] = {}

    def get(fronts: int, env: tuple[tuple[str, str], ...]) -> srv.Served:
        key = (fronts, env)
        if key in started and not started[key].alive():  # a case killed it: the next case gets a new one
            srv.stop(started.pop(key))
        if key not in started:
            data_dir = Path(tmp_path_factory.mktemp(f"hostile-fronts{fronts}"))
            started[key] = srv.start(data_dir, fronts=fronts, **dict(env))
        return started[key]

    yield get
    for served in started.values():
        srv.stop(served)


@pytest.mark.parametrize(("group", "case"), RUNS, ids=[f"{c.name}-fronts{k[0]}" for k, c in RUNS])
def test_hostile_case(server, group, case: hostile.Case) -> None:
    served = server(*group)
    ex = hostile.exchange(served.port, case.request, served.data_dir)
    problems = hostile.failures(case, ex)
    alive = served.alive()
    answering = alive and hostile.healthy(served.port)
    assert not problems and answering, (problems, f"alive={alive} answering={answering}", served.output()[-3000:])
