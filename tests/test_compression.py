"""Ingest: a log compressed with gzip, bzip2, xz or zstd, or alone in a ZIP archive, reads like the log itself.

Each codec is recognised by its magic bytes (whatever the name), decompressed with a cap on the output
(READINESS_MAX_DECOMPRESSED_MB), and a damaged stream, an archive of several files, an Excel workbook,
an encrypted member or a tar archive is refused with what to do.
"""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard
from helpers import ingest_one, make_pilot, query, snapshot

from readiness.ingest import load as ingest
from readiness.ingest.formats import UnusableFile

ROWS = 50
USAGE_CSV = "timestamp,user_id,event\n" + "".join(
    f"2026-07-06T{9 + i // 60:02d}:{i % 60:02d}:00Z,user{i},{('open', 'search', 'close')[i % 3]}\n"
    for i in range(ROWS))
BOMB_CSV = "timestamp,user_id,event\n" + "2026-07-06T10:00:00Z,user,open\n" * 80_000  # about 2.5 MB


def _zip(data: bytes, name: str = "usage.csv") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, data)
    return buf.getvalue()


def _zip_of(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


CODECS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "zstd": zstandard.ZstdCompressor().compress,
    "zip": _zip,
}
SUFFIX = {"gzip": ".gz", "bzip2": ".bz2", "xz": ".xz", "zstd": ".zst", "zip": ".zip"}
LOOKS_LIKE = {"gzip": "gzip", "bzip2": "bzip2", "xz": "xz", "zstd": "zstd", "zip": "a ZIP archive"}


def _compressed(tmp_path: Path, codec: str, text: str = USAGE_CSV, name: str | None = None) -> Path:
    path = tmp_path / (name or f"usage.csv{SUFFIX[codec]}")
    path.write_bytes(CODECS[codec](text.encode()))
    return path


def _assert_loaded(db: Path, result: ingest.IngestResult, codec: str) -> None:
    assert result.error is None, result.error
    assert result.format == f"CSV (comma-delimited, no quoting), {codec}-compressed"
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (ROWS, ROWS, 0)
    assert query(db, "SELECT count(*), count(DISTINCT user_id), min(user_id) FROM usage_events") == [
        (ROWS, ROWS, "user0")]


def _assert_refused(db: Path, path: Path, *needles: str, pilot: str = "pilot") -> str:
    """Ingest ``path``: refused with every needle in the message, the store unchanged."""
    make_pilot(db, pilot)
    before = snapshot(db)
    result = ingest_one(db, path, pilot=pilot)
    assert result.error, "expected a refusal"
    for needle in needles:
        assert needle in result.error, result.error
    assert result.rows_loaded == 0 and snapshot(db) == before
    return result.error


# --- each codec reads like the plain file ------------------------------------------------------------------

@pytest.mark.parametrize("codec", CODECS)
def test_preview_reads_each_codec(tmp_path: Path, codec: str) -> None:
    pv = ingest.preview(_compressed(tmp_path, codec), "usage")
    assert pv.format == f"CSV (comma-delimited, no quoting), {codec}-compressed"
    assert pv.columns == ["timestamp", "user_id", "event"]
    assert (pv.rows_checked, pv.rows_rejected) == (ROWS, 0)
    assert [r["user_id"] for r in pv.parsed[:3]] == ["user0", "user1", "user2"]
    assert pv.parsed[0]["timestamp"].isoformat() == "2026-07-06T09:00:00+00:00"


@pytest.mark.parametrize("codec", CODECS)
def test_each_codec_loads_every_row(db: Path, tmp_path: Path, codec: str) -> None:
    _assert_loaded(db, ingest_one(db, _compressed(tmp_path, codec)), codec)


@pytest.mark.parametrize("codec", CODECS)
def test_codec_recognised_by_content_not_name(db: Path, tmp_path: Path, codec: str) -> None:
    # named .dat (or .csv, as a renamed upload would be): the magic bytes decide
    _assert_loaded(db, ingest_one(db, _compressed(tmp_path, codec, name="export.dat")), codec)
    pv = ingest.preview(_compressed(tmp_path, codec, name="usage.csv"), "usage")
    assert pv.format.endswith(f"{codec}-compressed")


def test_zstd_streamed_frames_without_content_size_load(db: Path, tmp_path: Path) -> None:
    # `zstd` on a pipe writes frames without a content size; several frames follow one another
    buf = io.BytesIO()
    with zstandard.ZstdCompressor().stream_writer(buf, closefd=False) as w:
        w.write(USAGE_CSV.encode())
    assert zstandard.get_frame_parameters(buf.getvalue()).content_size == zstandard.CONTENTSIZE_UNKNOWN
    half = USAGE_CSV.index("\n", len(USAGE_CSV) // 2) + 1
    frames = b"".join(zstandard.ZstdCompressor().compress(p.encode()) for p in (USAGE_CSV[:half], USAGE_CSV[half:]))
    (tmp_path / "streamed.zst").write_bytes(buf.getvalue())
    (tmp_path / "frames.zst").write_bytes(frames)
    _assert_loaded(db, ingest_one(db, tmp_path / "streamed.zst"), "zstd")
    result = ingest_one(db, tmp_path / "frames.zst", pilot="second")
    assert (result.error, result.rows_loaded) == (None, ROWS)


def test_zip_ignores_folders_and_macos_extras(db: Path, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("export/", b"")
        z.writestr("export/usage.csv", USAGE_CSV)
        z.writestr("__MACOSX/export/._usage.csv", b"\x00\x05\x16\x07 AppleDouble")
        z.writestr("export/._usage.csv", b"\x00\x05\x16\x07 AppleDouble")
        z.writestr("export/.DS_Store", b"\x00\x00\x00\x01Bud1")
    path = tmp_path / "export.zip"
    path.write_bytes(buf.getvalue())
    _assert_loaded(db, ingest_one(db, path), "zip")


# --- archives that are not one log ------------------------------------------------------------------------

def test_zip_of_two_files_is_refused_naming_both(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "logs.zip"
    path.write_bytes(_zip_of({"usage-march.csv": USAGE_CSV.encode(), "usage-april.csv": USAGE_CSV.encode()}))
    _assert_refused(db, path, "holds 2 files", "usage-march.csv", "usage-april.csv", "one file per archive")


def test_zip_of_many_files_names_the_first_few(tmp_path: Path) -> None:
    path = tmp_path / "logs.zip"
    path.write_bytes(_zip_of({f"day{i:02d}.csv": USAGE_CSV.encode() for i in range(12)}))
    with pytest.raises(UnusableFile, match=r"holds 12 files \(day00.csv, .*day04.csv and 7 more\)") as err:
        ingest.preview(path, "usage")
    assert "day05.csv" not in str(err.value)


def test_empty_zip_is_refused(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "empty.zip"
    path.write_bytes(_zip_of({}))
    _assert_refused(db, path, "holds no file", "one file per archive")


@pytest.mark.parametrize("members", [
    {"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>", "xl/worksheets/sheet1.xml": b"<x/>",
     "xl/_rels/workbook.xml.rels": b"<Relationships/>"},
    {"[Content_Types].xml": b"<Types/>", "xl/worksheets/sheet1.xml": b"<x/>"},
])
@pytest.mark.parametrize("name", ["usage.xlsx", "usage.csv"])
def test_a_damaged_excel_workbook_is_refused_as_one(db: Path, tmp_path: Path, members: dict, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(_zip_of(members))
    error = _assert_refused(db, path, "is an Excel workbook", "Accepted: ")
    assert "one file per archive" not in error  # not told to split an archive


def test_encrypted_zip_member_is_refused(db: Path, tmp_path: Path) -> None:
    data = bytearray(_zip_of({"usage.csv": USAGE_CSV.encode()}, zipfile.ZIP_STORED))
    for magic, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # the encryption bit, as a password sets it
        at = data.index(magic) + flags_at
        data[at] |= 0x01
    path = tmp_path / "usage.zip"
    path.write_bytes(bytes(data))
    _assert_refused(db, path, "usage.csv in the ZIP archive is encrypted", "without a password")


def test_tar_archive_is_refused(db: Path, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("usage.csv")
        info.size = len(USAGE_CSV)
        tar.addfile(info, io.BytesIO(USAGE_CSV.encode()))
    (tmp_path / "logs.tar").write_bytes(buf.getvalue())
    (tmp_path / "logs.tar.gz").write_bytes(gzip.compress(buf.getvalue()))
    _assert_refused(db, tmp_path / "logs.tar", "a tar archive: give the log file itself or one .gz/.zip holding it")
    _assert_refused(db, tmp_path / "logs.tar.gz", "a tar archive", pilot="second")


def test_two_layers_of_compression_are_refused(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "usage.csv.gz.zip"
    path.write_bytes(_zip(gzip.compress(USAGE_CSV.encode()), "usage.csv.gz"))
    _assert_refused(db, path, "a ZIP archive and holds gzip-compressed data", "one layer of compression")


# --- the decompressed-size cap ------------------------------------------------------------------------------

@pytest.mark.parametrize("codec", CODECS)
def test_bomb_is_refused_past_the_cap(db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, codec: str) -> None:
    monkeypatch.setenv("READINESS_MAX_DECOMPRESSED_MB", "1")
    path = _compressed(tmp_path, codec, BOMB_CSV)
    assert path.stat().st_size < 1024 * 1024
    _assert_refused(db, path, "decompresses to more than 1 MB, the limit", "READINESS_MAX_DECOMPRESSED_MB")


@pytest.mark.parametrize("codec", CODECS)
def test_under_the_cap_loads(db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, codec: str) -> None:
    monkeypatch.setenv("READINESS_MAX_DECOMPRESSED_MB", "1")
    _assert_loaded(db, ingest_one(db, _compressed(tmp_path, codec)), codec)


def test_zip_whose_header_understates_the_size_is_refused(db: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # the member claims 100 bytes: what it really holds is read (and counted), and found not to match
    monkeypatch.setenv("READINESS_MAX_DECOMPRESSED_MB", "1")
    data = bytearray(_zip(BOMB_CSV.encode()))
    for magic, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.index(magic) + size_at
        data[at:at + 4] = (100).to_bytes(4, "little")
    path = tmp_path / "usage.zip"
    path.write_bytes(bytes(data))
    _assert_refused(db, path, "looks like a ZIP archive but cannot be decompressed", "Re-export or re-compress")


# --- damaged streams ------------------------------------------------------------------------------------------

def test_corrupt_bzip2_is_refused(db: Path, tmp_path: Path) -> None:
    data = bytearray(bz2.compress(USAGE_CSV.encode()))
    data[len(data) // 2:len(data) // 2 + 8] = b"\xff" * 8
    path = tmp_path / "usage.csv.bz2"
    path.write_bytes(bytes(data))
    _assert_refused(db, path, "looks like bzip2 but cannot be decompressed", "Re-export or re-compress the file.")
    with pytest.raises(UnusableFile, match=r"^usage\.csv\.bz2: looks like bzip2 but cannot be decompressed \("):
        ingest.preview(path, "usage")


@pytest.mark.parametrize("codec", CODECS)
def test_cut_short_stream_is_refused(db: Path, tmp_path: Path, codec: str) -> None:
    data = CODECS[codec](BOMB_CSV.encode()[:400_000])
    path = tmp_path / f"usage.csv{SUFFIX[codec]}"
    path.write_bytes(data[:len(data) * 2 // 3])
    _assert_refused(db, path, f"looks like {LOOKS_LIKE[codec]} but cannot be decompressed",
                    "Re-export or re-compress the file.")


def test_text_starting_like_a_magic_number_is_still_text(db: Path, tmp_path: Path) -> None:
    # "BZh" without a block size digit after it is not bzip2
    lines = USAGE_CSV.splitlines(keepends=True)
    path = tmp_path / "usage.csv"
    path.write_text("BZhost," + lines[0] + "".join("h1," + line for line in lines[1:]))
    result = ingest_one(db, path)
    assert result.error is None and result.rows_loaded == ROWS
