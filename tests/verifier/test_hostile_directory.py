"""A bundle directory from a stranger: its files must be regular files (a symbolic link could make the report quote
any file of the auditor's machine, a FIFO or /dev/zero would never end), and checkpoints/ is listed no further than
log.json's tree size allows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.verifier import factory
from verifier.audit import run_audit
from verifier.errors import InputLimitExceeded, UnsafeMember
from verifier.limits import max_checkpoint_files
from verifier.note import parse_verifier_key

N = 30


@pytest.fixture
def bundle(tmp_path: Path) -> factory.BundleInfo:
    return factory.write_bundle(tmp_path / "bundle", n=N, checkpoint_sizes=[10, 20])


def audit(info: factory.BundleInfo) -> object:
    return run_audit(info.path, parse_verifier_key(info.key))


@pytest.mark.parametrize("name", ["state.json", "events.jsonl", "log.json", "anchors.jsonl", "checkpoints/20"])
def test_a_symbolic_link_is_refused_by_name(bundle: factory.BundleInfo, tmp_path: Path, name: str) -> None:
    secret = tmp_path / "secret"
    secret.write_text("a file of the auditor's\n")
    target = bundle.path / name
    target.rename(tmp_path / "moved")
    target.symlink_to(secret)
    with pytest.raises(UnsafeMember, match=f"{name} is a symbolic link") as caught:
        audit(bundle)
    assert caught.value.member == name


def test_a_link_to_dev_zero_is_refused(bundle: factory.BundleInfo) -> None:
    (bundle.path / "events.jsonl").unlink()
    (bundle.path / "events.jsonl").symlink_to("/dev/zero")
    with pytest.raises(UnsafeMember, match=r"events\.jsonl is a symbolic link"):
        audit(bundle)


def test_a_fifo_is_refused_without_waiting_for_a_writer(bundle: factory.BundleInfo) -> None:
    (bundle.path / "events.jsonl").unlink()
    os.mkfifo(bundle.path / "events.jsonl")
    with pytest.raises(UnsafeMember, match=r"events\.jsonl is a FIFO"):
        audit(bundle)


def test_a_linked_checkpoints_directory_is_refused(bundle: factory.BundleInfo, tmp_path: Path) -> None:
    (bundle.path / "checkpoints").rename(tmp_path / "elsewhere")
    (bundle.path / "checkpoints").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UnsafeMember, match="checkpoints is a symbolic link"):
        audit(bundle)


def test_a_device_among_the_checkpoints_is_refused(bundle: factory.BundleInfo) -> None:
    os.mkfifo(bundle.path / "checkpoints" / "25")
    with pytest.raises(UnsafeMember, match="checkpoints/25 is a FIFO"):
        audit(bundle)


def test_more_checkpoint_files_than_the_tree_size_allows_are_refused_before_reading(
    bundle: factory.BundleInfo,
) -> None:
    note = (bundle.path / "checkpoints" / "20").read_bytes()
    bound = max_checkpoint_files(N)
    for i in range(bound):  # with the bundle's 3, more than allowed
        (bundle.path / "checkpoints" / f"20.copy{i}").write_bytes(note)
    with pytest.raises(InputLimitExceeded, match=f"more than {bound:,} checkpoint files") as caught:
        audit(bundle)
    assert caught.value.limit == "max_checkpoint_files"


def test_as_many_as_allowed_are_read(bundle: factory.BundleInfo) -> None:
    note = (bundle.path / "checkpoints" / "20").read_bytes()
    for i in range(max_checkpoint_files(N) - 3):
        (bundle.path / "checkpoints" / f"20.copy{i}").write_bytes(note)
    report = run_audit(bundle.path, parse_verifier_key(bundle.key))
    assert report.verified
