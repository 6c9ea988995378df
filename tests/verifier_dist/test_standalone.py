"""hromada-verify as its own distribution (packaging/verifier), installed alone, as an auditor would.

The wheel is built from this source tree with pip (isolated build, hatchling), must hold the `verifier` package
and nothing else, and must require exactly what verifier/ imports at runtime. It is then installed into a fresh
virtual environment without the system's or the project's site-packages, whose `hromada-verify` audits a real
bundle written by `hromada demo` + `hromada export` (exit 0), and the same bundle with one byte of one event
changed (exit 1); `import ledger` fails there.

To stay fast and offline after the first run, the build backend and the runtime dependencies (at the versions
of requirements/lock.txt) are downloaded from PyPI once into .build/wheelhouse-<hash> (gitignored); the build
and the install then use only that directory (`--no-index --find-links`).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tomllib
import uuid
import zipfile
from email.parser import Parser
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from typer.testing import CliRunner

from hromada.cli import app as hromada

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging" / "verifier"
VERIFIER = ROOT / "verifier"
LOCK = ROOT / "requirements" / "lock.txt"
BUILD = ROOT / ".build"
THE_LEDGER = ("ledger", "domain", "api", "anchoring")
# the ledger's own stack, none of which the standalone install may pull in (typer 0.29 does bring pydantic)
HEAVY = ("web3", "sqlalchemy", "eventsourcing", "eventsourcing-sqlalchemy", "fastapi", "psycopg", "alembic", "uvicorn")

# One xdist group so the module's fixtures (wheel, venv, bundle) are built once. Should the tests still land on two
# workers, each builds its own in its own tmp dir; the shared wheelhouse is created atomically.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("verifier_dist"), pytest.mark.timeout(300)]


def toml(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def lock_pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[canonicalize_name(Requirement(name).name)] = version.strip()
    return pins


def is_type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports() -> set[str]:
    """Top-level modules outside the standard library that verifier/ imports (not under `if TYPE_CHECKING`)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if is_type_checking(node):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    for path in VERIFIER.rglob("*.py"):
        visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return found - set(sys.stdlib_module_names) - {"__future__", "verifier"}


def shipped_sources() -> set[str]:
    """What the wheel must hold of verifier/: every .py file and py.typed (no caches)."""
    return {
        f"verifier/{p.relative_to(VERIFIER).as_posix()}"
        for p in VERIFIER.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and (p.suffix == ".py" or p.name == "py.typed")
    }


def clean_env() -> dict[str, str]:
    """No PYTHONPATH/PYTHONHOME/VIRTUAL_ENV of the project leaks into the standalone install."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_")) and k != "VIRTUAL_ENV"}


def run(args: list[str | Path], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=240, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


def pip(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args], cwd)


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build backend and the runtime dependencies as wheels, fetched from PyPI once per requirement set."""
    project = toml(PACKAGING / "pyproject.toml")
    build_requires: list[str] = project["build-system"]["requires"]
    runtime: list[str] = project["project"]["dependencies"]
    key = hashlib.sha256(
        json.dumps(
            [build_requires, runtime, LOCK.read_text(encoding="utf-8"), sys.version_info[:2], platform.machine()]
        ).encode()
    ).hexdigest()[:12]
    house = BUILD / f"wheelhouse-{key}"
    if house.is_dir():
        return house
    BUILD.mkdir(exist_ok=True)
    partial = BUILD / f".wheelhouse-{uuid.uuid4().hex}"
    cwd = tmp_path_factory.mktemp("download")
    try:
        pip("download", "-q", "--only-binary", ":all:", "--dest", partial, *build_requires, cwd=cwd)
        pip("download", "-q", "--only-binary", ":all:", "--dest", partial, "-c", LOCK, *runtime, cwd=cwd)
        try:
            partial.rename(house)  # atomic: a concurrent run either wins or finds it complete
        except OSError:
            if not house.is_dir():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return house


@pytest.fixture(scope="module")
def wheel(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # what `make verifier-wheel` runs, but with the backend taken from the wheelhouse
    pip("wheel", "-q", "--no-deps", "--no-index", "--find-links", wheelhouse, "--wheel-dir", out, PACKAGING, cwd=out)
    (built,) = out.glob("hromada_verify-*.whl")
    return built


@pytest.fixture(scope="module")
def standalone(wheel: Path, wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (no system or project site-packages) with only the wheel and its dependencies installed.

    Created without pip and installed into with the project's pip (`pip --python`): the same resolution as the
    venv's own pip, a few seconds faster."""
    venv = tmp_path_factory.mktemp("standalone") / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], venv.parent)
    cfg = (venv / "pyvenv.cfg").read_text(encoding="utf-8")
    assert "include-system-site-packages = false" in cfg
    python = venv / "bin" / "python"
    pip("--python", python, "install", "-q", "--no-index", "--find-links", wheelhouse, "-c", LOCK, wheel, cwd=venv)
    return venv


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A real audit bundle written by the ledger (`hromada demo`, `hromada export`) and its published key."""
    tmp = tmp_path_factory.mktemp("ledger")
    data, out, keyfile = tmp / "data", tmp / "bundle", tmp / "verifier.key"
    runner = CliRunner()
    env = {"HROMADA_CHAIN_RPC_URL": "", "HROMADA_DATABASE_URL": "", "HROMADA_DATA_DIR": str(data)}
    for args in (
        ["demo", "--data-dir", str(data), "--events", "200", "--no-chain"],
        ["export", "--data-dir", str(data), "--out", str(out)],
    ):
        result = runner.invoke(hromada, args, env=env)
        assert result.exit_code == 0, result.output
    init = runner.invoke(hromada, ["init", "--data-dir", str(data)], env=env)
    assert init.exit_code == 0, init.output
    (key,) = (line.split(None, 2)[2] for line in init.output.splitlines() if line.startswith("verifier key"))
    keyfile.write_text(key + "\n", encoding="utf-8")
    return out, keyfile


def tamper_one_byte(src: Path, dst: Path) -> int:
    """Copy the bundle and change one byte inside the `data` of the middle event (JSON stays valid)."""
    shutil.copytree(src, dst)
    events = dst / "events.jsonl"
    raw = events.read_bytes()
    lines = raw.split(b"\n")
    index = len(lines) // 2
    line = lines[index]
    start = line.index(b'"data":{')
    end = line.index(b"}", start)
    at = next(i for i in range(end - 1, start, -1) if chr(line[i]).isalnum())
    old = line[at]
    new = b"1" if old == ord("0") else b"0"
    lines[index] = line[:at] + new + line[at + 1 :]
    events.write_bytes(b"\n".join(lines))
    assert len(events.read_bytes()) == len(raw)
    assert sum(a != b for a, b in zip(events.read_bytes(), raw, strict=True)) == 1
    return index


def test_wheel_holds_the_verifier_package_and_nothing_else(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    dist_info = {n for n in names if n.startswith("hromada_verify-")}
    assert {n.split("/", 1)[1] for n in dist_info} == {"METADATA", "WHEEL", "RECORD", "entry_points.txt"}
    package = names - dist_info
    assert package == shipped_sources()
    assert "verifier/py.typed" in package and "verifier/cli.py" in package
    assert not {n.split("/", 1)[0] for n in package} & set(THE_LEDGER)
    assert not [n for n in names if n.endswith((".pyc", ".pyo")) or "__pycache__" in n]


def test_metadata_requires_exactly_what_the_verifier_imports(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        dist_info = next(n.split("/", 1)[0] for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(zf.read(f"{dist_info}/METADATA").decode())
        entry_points = zf.read(f"{dist_info}/entry_points.txt").decode()
    main = toml(ROOT / "pyproject.toml")["project"]
    assert metadata["Name"] == "hromada-verify"
    assert metadata["Version"] == main["version"]
    assert "hromada-verify = verifier.cli:app" in entry_points.splitlines()
    requires = {str(Requirement(r)) for r in metadata.get_all("Requires-Dist") or []}
    # the same specifiers as hromada-ledger's [verify] extra
    assert requires == {str(Requirement(r)) for r in main["optional-dependencies"]["verify"]}
    # exactly the distributions of the third-party modules verifier/ imports at runtime
    modules = runtime_imports()
    providers = packages_distributions()
    imported = {canonicalize_name(d) for m in modules for d in providers.get(m, [m])}
    names = {canonicalize_name(Requirement(r).name) for r in requires}
    assert names == imported, f"verifier/ imports {sorted(modules)}"
    assert not names & {canonicalize_name(h) for h in HEAVY}
    # and requirements/lock.txt's pins satisfy them
    pins = lock_pins()
    for r in map(Requirement, requires):
        assert r.specifier.contains(pins[canonicalize_name(r.name)]), (r, pins.get(r.name))


def test_standalone_install_audits_a_bundle_and_catches_one_changed_byte(
    standalone: Path, bundle: tuple[Path, Path], tmp_path: Path
) -> None:
    python, verify = standalone / "bin" / "python", standalone / "bin" / "hromada-verify"
    cwd = tmp_path  # not the repository: `python -c` puts the working directory on sys.path

    # isolation: nothing of the ledger and none of its heavy dependencies can be imported there
    for module in (*THE_LEDGER, "web3", "sqlalchemy", "eventsourcing", "fastapi"):
        done = run([python, "-c", f"import {module}"], cwd, check=False)
        assert done.returncode == 1 and "ModuleNotFoundError" in done.stderr, (module, done.stderr)
    where = run([python, "-c", "import verifier; print(verifier.__file__)"], cwd).stdout.strip()
    assert Path(where).is_relative_to(standalone), where
    listing = "import importlib.metadata as m, json; print(json.dumps({d.name: d.version for d in m.distributions()}))"
    installed = {canonicalize_name(n): v for n, v in json.loads(run([python, "-c", listing], cwd).stdout).items()}
    pins = lock_pins()
    assert installed.pop("hromada-verify") == "0.1.0"
    assert {n: pins.get(n) for n in installed} == installed, "every installed distribution at its lock.txt version"
    assert not set(installed) & {canonicalize_name(h) for h in HEAVY}

    source, keyfile = bundle
    good = run([verify, "audit", source, "--key", keyfile, "--offline", "--json"], cwd, check=False)
    assert good.returncode == 0, good.stdout + good.stderr
    report = json.loads(good.stdout)
    assert report["verified"] is True
    status = {s["number"]: s["status"] for s in report["steps"]}
    assert status[1] == status[2] == status[4] == status[5] == "passed", status
    assert status[3] == "not_run"

    index = tamper_one_byte(source, tmp_path / "tampered")
    bad = run([verify, "audit", tmp_path / "tampered", "--key", keyfile, "--offline", "--json"], cwd, check=False)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    report = json.loads(bad.stdout)
    assert report["verified"] is False
    steps = {s["number"]: s for s in report["steps"]}
    assert steps[2]["status"] == "failed", steps[2]
    # the signed root no longer matches, and the finding names a range of events holding the changed one
    mismatch = next(f for f in steps[2]["findings"] if f["code"] == "root_mismatch")
    low, high = map(int, re.findall(r"\[(\d+), (\d+)\)", mismatch["message"])[0])
    assert low <= index < high, (index, mismatch)

    # and the human summary of the standalone tool says so too
    human = run([verify, "audit", tmp_path / "tampered", "--key", keyfile, "--offline"], cwd, check=False)
    assert human.returncode == 1, human.stdout + human.stderr
