"""A ``.tar.gz`` bundle from a stranger: read once, forward, whatever its member order; damaged, cut short or padded
with garbage is refused (``CorruptArchive``), so is a member no bundle holds (``UnsafeMember``, naming it) and an
archive past the bounds of verifier.limits (``InputLimitExceeded``, naming the limit). Archives are written here
byte by byte (tests/verifier/hostile.py), so they can hold what tarfile would not write."""

from __future__ import annotations

import gzip
import io
import tarfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from tests.verifier import factory, hostile
from verifier.archive import read_archive
from verifier.audit import run_audit
from verifier.bundle import TarBundle, open_bundle
from verifier.errors import CorruptArchive, InputLimitExceeded, UnreadableInput, UnsafeMember
from verifier.limits import MAX_OTHER_MEMBERS
from verifier.note import parse_verifier_key

N = 40


@pytest.fixture
def bundle(tmp_path: Path) -> factory.BundleInfo:
    return factory.write_bundle(tmp_path / "bundle", n=N, checkpoint_sizes=range(1, N + 1))


def pack(
    info: factory.BundleInfo,
    out: Path,
    *,
    members: tuple[dict[str, Any], ...] | list[dict[str, Any]] = (),
    **archive: Any,
) -> Path:
    """The bundle directory as an archive written by tests/verifier/hostile.py (``archive``: its pack options)."""
    files = hostile.base_files(info.path)
    stream = hostile.coalesce(
        hostile.tar_stream(hostile.members_of(files, {**archive, "members": list(members)}), files)
    )
    data = b"".join(stream)
    out.write_bytes(gzip.compress(data) if out.name.endswith(".gz") else data)
    return out


def audit(info: factory.BundleInfo, path: Path) -> Any:
    return run_audit(path, parse_verifier_key(info.key))


def test_a_lawful_archive_in_any_member_order_passes(bundle: factory.BundleInfo, tmp_path: Path) -> None:
    for order in ("sorted", "reversed", ["log.json", "checkpoints/*"], ["events.jsonl"]):
        report = audit(bundle, pack(bundle, tmp_path / "b.tar.gz", order=order))
        assert report.verified, order
        assert report.events == N


@pytest.mark.parametrize("cut", [i / 33 for i in range(1, 33)])
def test_cut_short_plus_garbage_is_refused_never_a_traceback(
    bundle: factory.BundleInfo, tmp_path: Path, cut: float
) -> None:
    good = factory.make_tar(bundle.path, tmp_path / "good.tar.gz").read_bytes()
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(good[: int(len(good) * cut)] + hostile.content({"random": 4096, "seed": 7}, {}).bytes())
    with pytest.raises(CorruptArchive):
        audit(bundle, bad)


@pytest.mark.parametrize("cut", [0.01, 0.3, 0.6, 0.9, 0.999])
def test_cut_short_is_refused(bundle: factory.BundleInfo, tmp_path: Path, cut: float) -> None:
    good = factory.make_tar(bundle.path, tmp_path / "good.tar.gz").read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(good[: int(len(good) * cut)])
    with pytest.raises(CorruptArchive, match="cut short"):
        audit(bundle, tmp_path / "cut.tar.gz")


def test_garbage_after_the_gzip_stream_and_data_after_the_tar_end_are_refused(
    bundle: factory.BundleInfo, tmp_path: Path
) -> None:
    good = factory.make_tar(bundle.path, tmp_path / "good.tar.gz").read_bytes()
    (tmp_path / "tail.tar.gz").write_bytes(good + b"garbage")
    with pytest.raises(CorruptArchive, match="7 bytes after the end of the gzip stream"):
        audit(bundle, tmp_path / "tail.tar.gz")
    plain = gzip.decompress(good)
    (tmp_path / "after.tar").write_bytes(plain + b"a hidden second archive")
    with pytest.raises(CorruptArchive, match="after the tar archive's end-of-archive marker"):
        audit(bundle, tmp_path / "after.tar")
    (tmp_path / "no-end.tar").write_bytes(plain[: plain.rindex(b"\n") + 1] + bytes(-plain.rindex(b"\n") % 512))
    with pytest.raises(CorruptArchive):
        audit(bundle, tmp_path / "no-end.tar")


def test_concatenated_gzip_members_are_one_stream(bundle: factory.BundleInfo, tmp_path: Path) -> None:
    plain = gzip.decompress(factory.make_tar(bundle.path, tmp_path / "good.tar.gz").read_bytes())
    half = len(plain) // 2
    (tmp_path / "two.tar.gz").write_bytes(gzip.compress(plain[:half]) + gzip.compress(plain[half:]))
    assert audit(bundle, tmp_path / "two.tar.gz").verified


@pytest.mark.parametrize(
    ("member", "says"),
    [
        ({"name": "../x", "content": "x"}, "'../x' leaves the bundle"),
        ({"name": "./checkpoints/../../x", "content": "x"}, "leaves the bundle"),
        ({"name": "/etc/cron.d/x", "content": "x"}, "'/etc/cron.d/x' has an absolute path"),
        ({"name": "./notes", "type": "symlink", "target": "/etc/passwd"}, "is a symbolic link (to '/etc/passwd')"),
        ({"name": "./checkpoints/41", "type": "hardlink", "target": "./checkpoints/40"}, "is a hard link"),
        ({"name": "./zero", "type": "chr"}, "'./zero' is a character device"),
        ({"name": "./disk", "type": "blk"}, "is a block device"),
        ({"name": "./pipe", "type": "fifo"}, "is a FIFO"),
        ({"name": "./events.jsonl", "content": "{}\n"}, "'./events.jsonl' is in the archive twice"),
        ({"name": "./checkpoints", "type": "dir"}, "'./checkpoints' is in the archive twice"),
        ({"name": "./holes", "type": "raw_header", "typeflag": "S"}, "'./holes' is a sparse file"),
        ({"name": "./volume", "type": "raw_header", "typeflag": "V"}, "has the unsupported type"),
    ],
)
def test_members_no_bundle_holds_are_refused_by_name(
    bundle: factory.BundleInfo, tmp_path: Path, member: dict[str, Any], says: str
) -> None:
    path = pack(bundle, tmp_path / "b.tar.gz", members=[member])
    with pytest.raises(UnsafeMember, match=says.replace("(", r"\(").replace(")", r"\)")) as caught:
        audit(bundle, path)
    assert caught.value.member == member["name"]
    assert caught.value.to_json()["code"] == "unsafe_member"


def test_a_member_before_the_bundle_files_is_refused_as_well(bundle: factory.BundleInfo, tmp_path: Path) -> None:
    path = pack(bundle, tmp_path / "b.tar.gz", members=[{"name": "../../x", "content": "x", "at": "start"}])
    with pytest.raises(UnsafeMember):
        audit(bundle, path)


def test_a_huge_extended_header_is_not_read(bundle: factory.BundleInfo, tmp_path: Path) -> None:
    member = {"name": "././@PaxHeader", "type": "raw_header", "typeflag": "x", "content": {"zeros": 1 << 20}}
    with pytest.raises(CorruptArchive, match=r"extended .* header of 1,048,576 bytes"):
        audit(bundle, pack(bundle, tmp_path / "b.tar.gz", members=[member]))


def test_long_names_in_pax_headers_are_read(bundle: factory.BundleInfo, tmp_path: Path) -> None:
    path = pack(bundle, tmp_path / "b.tar.gz", top="d" * 120)
    assert audit(bundle, path).verified


def test_a_decompression_bomb_is_refused_by_its_header(bundle: factory.BundleInfo, tmp_path: Path) -> None:
    member = {"name": "./padding", "content": {"zeros": 1 << 30}}
    files = hostile.base_files(bundle.path)
    out = tmp_path / "bomb.tar.gz"
    with out.open("wb") as f:
        stream = hostile.tar_stream(hostile.members_of(files, {"members": [member]}), files)
        for chunk in hostile.gzip_stream(hostile.coalesce(stream), level=1):
            f.write(chunk)
    with pytest.raises(InputLimitExceeded, match="decompression bomb") as caught:
        audit(bundle, out)
    assert caught.value.limit == "max_inflation"


def test_the_inflation_bound_holds_whatever_the_headers_say(tmp_path: Path) -> None:
    """A tar header holds its size, but the decompressor counts too (tarfile reads extended headers itself)."""
    from verifier.archive import _Inflate

    data = gzip.compress(bytes(64 << 20), 9)
    inflate = _Inflate(io.BytesIO(data), "bomb.tar.gz", len(data))
    with pytest.raises(InputLimitExceeded):
        while inflate.read(1 << 20):
            pass
    assert inflate.made <= inflate.limit + (1 << 20)


def test_many_members_that_are_not_notes_are_refused(bundle: factory.BundleInfo, tmp_path: Path) -> None:
    members = [{"name": f"./junk/{i}", "content": ""} for i in range(MAX_OTHER_MEMBERS + 1)]
    with pytest.raises(InputLimitExceeded, match="members that are not checkpoint notes"):
        audit(bundle, pack(bundle, tmp_path / "b.tar.gz", members=members))
    empty_notes = [{"name": f"./checkpoints/e{i}", "content": ""} for i in range(MAX_OTHER_MEMBERS + 1)]
    with pytest.raises(InputLimitExceeded, match="members that are not checkpoint notes"):
        audit(bundle, pack(bundle, tmp_path / "c.tar.gz", members=empty_notes))


def test_more_notes_than_the_archive_size_allows_are_refused(bundle: factory.BundleInfo, tmp_path: Path) -> None:
    note = (bundle.path / "checkpoints" / str(N)).read_text()
    members = [{"name": f"./checkpoints/{N}.copy{i}", "content": note} for i in range(20_000)]
    with pytest.raises(InputLimitExceeded, match="checkpoint notes, more than an archive of this size") as caught:
        audit(bundle, pack(bundle, tmp_path / "b.tar.gz", members=members))
    assert caught.value.limit == "checkpoint_notes_per_archive_byte"


def test_more_checkpoint_files_than_the_tree_size_allows_are_refused(
    bundle: factory.BundleInfo, tmp_path: Path
) -> None:
    members = [{"name": f"./checkpoints/{N}.r{i}", "content": {"random": 200, "seed": i}} for i in range(1200)]
    with pytest.raises(InputLimitExceeded, match="1,240 checkpoint files, more than 1,065") as caught:
        audit(bundle, pack(bundle, tmp_path / "b.tar.gz", members=members))
    assert caught.value.limit == "max_checkpoint_files"


class _Counting:
    """zlib.decompressobj, counting what every decompressor makes."""

    made = 0

    def __init__(self, real: Any) -> None:
        self._real = real

    def decompress(self, data: bytes, *args: Any) -> bytes:
        out: bytes = self._real.decompress(data, *args)
        _Counting.made += len(out)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def test_the_archive_is_decompressed_once_whatever_the_order(
    bundle: factory.BundleInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checkpoint notes in reverse order after a large member: a reader that seeks back decompresses the gzip stream
    from its start for each one (quadratic); this one makes each byte once."""
    real = zlib.decompressobj
    monkeypatch.setattr(zlib, "decompressobj", lambda *a, **k: _Counting(real(*a, **k)))
    padding = {"name": "./padding.bin", "content": {"random": 4 << 20, "seed": 1}, "at": "start"}
    path = pack(bundle, tmp_path / "b.tar.gz", order="reversed", members=[padding])
    tar_bytes = len(gzip.decompress(path.read_bytes()))
    _Counting.made = 0
    report = audit(bundle, path)
    assert report.verified
    assert _Counting.made <= tar_bytes  # the tar's bytes once (the padding at the end of the stream is not needed)


def test_the_spool_is_private_and_removed(bundle: factory.BundleInfo, tmp_path: Path) -> None:
    path = factory.make_tar(bundle.path, tmp_path / "b.tar.gz")
    tar = open_bundle(path)
    assert isinstance(tar, TarBundle)
    spool = tar._spool
    assert spool.is_dir() and (spool.stat().st_mode & 0o077) == 0
    assert tar.worker_source is not None and Path(tar.worker_source, "events.jsonl").is_file()
    tar.close()
    assert not spool.exists()


def test_not_an_archive(tmp_path: Path) -> None:
    for name, data in [("junk.tar.gz", b"not a tar"), ("empty.tar.gz", b""), ("x.tar.bz2", b"BZh91AY&SY")]:
        (tmp_path / name).write_bytes(data)
        with pytest.raises(UnreadableInput):
            run_audit(tmp_path / name, None)


def test_the_tarfile_module_writes_archives_this_reads(bundle: factory.BundleInfo, tmp_path: Path) -> None:
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT):
        out = tmp_path / f"{fmt}.tar.gz"
        with tarfile.open(out, "w:gz", format=fmt) as tar:
            tar.add(bundle.path, arcname="bundle")
        assert audit(bundle, out).verified
        assert set(read_archive(out, _spool(tmp_path / f"s{fmt}")).files) >= {"log.json", "events.jsonl"}


def _spool(path: Path) -> Path:
    path.mkdir()
    return path
