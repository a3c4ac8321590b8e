"""Recognise a log file from its content and describe how DuckDB should read it.

Formats: CSV/TSV of any delimiter and quoting (DuckDB's sniffer), JSON Lines, a JSON array,
Parquet, and gzip of each (decompressed to a temporary file, with a size cap).
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from readiness import settings

HEAD_BYTES = 256 * 1024
JSON_LINE_DELIM = "\x1f\x1e\x1d"  # never in valid JSON text (raw control characters must be escaped)
MAX_LINE_BYTES = 32 * 1024 * 1024


class UnusableFile(ValueError):
    """The file cannot be loaded; the message names the file, what is wrong and what to do."""


@dataclass
class SourceFile:
    path: Path            # as given by the user
    data_path: Path       # what DuckDB reads (a decompressed copy for .gz)
    format: str           # csv | jsonl | json | parquet
    compression: str | None = None
    encoding: str = "utf-8"
    delimiter: str | None = None
    quote: str | None = None
    escape: str | None = None
    columns: list[str] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)

    def staged(self, column: str) -> str:
        """The name a source column has in the staging table (c1, c2, ...), immune to clashes
        with names such as ``rowid``; JSON keys are read from the line instead."""
        return f"c{self.columns.index(column) + 1}"

    def describe(self) -> str:
        """A one-line description, e.g. 'CSV (delimiter ';', quote '"'), gzip'."""
        text = {"csv": "CSV", "jsonl": "JSON Lines", "json": "JSON array", "parquet": "Parquet"}[self.format]
        if self.format == "csv":
            shown = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(self.delimiter or "", repr(self.delimiter))
            text += f" ({shown}-delimited"
            text += f", quote {self.quote}" if self.quote else ", no quoting"
            text += f", {self.encoding})" if self.encoding != "utf-8" else ")"
        if self.compression:
            text += f", {self.compression}-compressed"
        return text


def decompress_gzip(path: Path, out_dir: Path, cap_bytes: int | None = None) -> Path:
    """Decompress ``path`` into ``out_dir``; raise UnusableFile past ``cap_bytes`` of output."""
    cap = cap_bytes if cap_bytes is not None else settings.get("max_decompressed_mb") * 1024 * 1024
    out = out_dir / (path.name[:-3] if path.name.endswith(".gz") else path.name + ".out")
    written = 0
    try:
        with gzip.open(path, "rb") as src, out.open("wb") as dst:
            while chunk := src.read(4 * 1024 * 1024):
                written += len(chunk)
                if written > cap:
                    raise UnusableFile(
                        f"{path.name}: decompresses to more than {cap // (1024 * 1024)} MB, the limit "
                        f"(READINESS_MAX_DECOMPRESSED_MB). Split the file or raise the limit."
                    )
                dst.write(chunk)
    except (OSError, EOFError, zlib.error) as err:
        if isinstance(err, UnusableFile):
            raise
        raise UnusableFile(f"{path.name}: looks like gzip but cannot be decompressed ({err}). "
                           f"Re-export or re-compress the file.") from None
    return out


def scratch_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection for reading a file outside the store (no progress bar)."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    return con


_MAGIC = {b"PK\x03\x04": "a ZIP archive or Excel workbook (save it as CSV)", b"%PDF": "a PDF document",
          b"\x89PNG": "a PNG image", b"\x7fELF": "a program", b"\xd0\xcf\x11\xe0": "an old Excel/Office file (save it as CSV)",
          b"SQLite format 3": "an SQLite database", b"BZh": "bzip2-compressed (use gzip or no compression)",
          b"\xfd7zXZ": "xz-compressed (use gzip or no compression)", b"(\xb5/\xfd": "zstd-compressed (use gzip)"}


def _looks_binary(head: bytes, encoding: str) -> str | None:
    """Why ``head`` is not a text log (None when it looks like text)."""
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            return what
    if encoding == "utf-16":
        return None
    controls = sum(1 for b in head[:65536] if b < 9 or 13 < b < 32)
    if b"\x00" in head or controls > max(3, len(head[:65536]) // 100):
        return "binary content"
    return None


def _text_encoding(head: bytes) -> str:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 4:  # not just a character cut at the end of the sample
            return "latin-1"
    return "utf-8"


def detect(path: Path, work_dir: Path) -> SourceFile:
    """Recognise ``path`` by its content; return how to read it. Raises UnusableFile."""
    path = Path(path)
    if not path.exists():
        raise UnusableFile(f"{path}: no such file.")
    if path.is_dir():
        raise UnusableFile(f"{path}: is a folder; give the log files inside it.")
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    compression = None
    data_path = path
    if head[:2] == b"\x1f\x8b":
        compression = "gzip"
        data_path = decompress_gzip(path, work_dir)
        with data_path.open("rb") as f:
            head = f.read(HEAD_BYTES)
    if not head.strip():
        raise UnusableFile(f"{path.name}: the file is empty. Export the log again with its rows.")
    if head[:4] == b"PAR1":
        src = SourceFile(path, data_path, "parquet", compression)
        return _describe_parquet(src)
    encoding = _text_encoding(head)
    if _looks_binary(head, encoding):
        raise UnusableFile(
            f"{path.name}: not a recognised format ({_looks_binary(head, encoding)}). Accepted: CSV/TSV, "
            f"JSON Lines, JSON array, Parquet, or a .gz of one of these."
        )
    text = head.decode("utf-16" if encoding == "utf-16" else encoding, errors="replace").lstrip("\ufeff \t\r\n")
    if text.startswith("["):
        return _describe_json(SourceFile(path, data_path, "json", compression))
    if text.startswith("{"):
        first = text.split("\n", 1)[0].strip()
        try:
            json.loads(first)
            return _describe_json(SourceFile(path, data_path, "jsonl", compression))
        except ValueError:
            raise UnusableFile(
                f"{path.name}: starts like JSON but its first line is not a complete JSON object. "
                f"Give JSON Lines (one object per line) or a JSON array of objects."
            ) from None
    return _describe_csv(SourceFile(path, data_path, "csv", compression, encoding=encoding))


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _describe_csv(src: SourceFile) -> SourceFile:
    con = scratch_connection()
    try:
        row = con.execute(
            "SELECT Delimiter, Quote, Escape, Columns FROM sniff_csv(?, header = true, ignore_errors = true, "
            f"all_varchar = true, encoding = {_sql_str(src.encoding)}, max_line_size = {MAX_LINE_BYTES})",
            [str(src.data_path)],
        ).fetchone()
    except duckdb.Error as err:
        raise UnusableFile(f"{src.path.name}: not readable as CSV ({str(err).splitlines()[0]}).") from None
    finally:
        con.close()
    delim, quote, escape, columns = row
    src.delimiter = delim
    src.quote = None if quote in ("", "(empty)", "\x00") else quote
    src.escape = None if escape in ("", "(empty)", "\x00") else escape
    src.columns = [c["name"] for c in columns]
    src.types = {c: "VARCHAR" for c in src.columns}
    return src


def csv_reader_sql(src: SourceFile, rejects: str | None = None) -> str:
    """The read_csv(...) call for ``src``: every column as text, dialect fixed, bad rows to ``rejects``."""
    cols = "{" + ", ".join(f"{_sql_str(src.staged(c))}: 'VARCHAR'" for c in src.columns) + "}"
    opts = [
        f"delim = {_sql_str(src.delimiter or ',')}",
        f"quote = {_sql_str(src.quote or '')}",
        f"escape = {_sql_str(src.escape or '')}",
        "header = true", "auto_detect = false", f"columns = {cols}",
        f"encoding = {_sql_str(src.encoding)}", f"max_line_size = {MAX_LINE_BYTES}",
    ]
    if rejects:
        opts += ["store_rejects = true", f"rejects_table = {_sql_str(rejects)}",
                 f"rejects_scan = {_sql_str(rejects + '_scan')}"]
    return f"read_csv({_sql_str(str(src.data_path))}, {', '.join(opts)})"


def json_lines_reader_sql(src: SourceFile) -> str:
    """read_csv(...) that yields one text column ``_line`` per physical line (blank lines as NULL)."""
    return (
        f"read_csv({_sql_str(str(src.data_path))}, columns = {{'_line': 'VARCHAR'}}, header = false, "
        f"auto_detect = false, delim = {_sql_str(JSON_LINE_DELIM)}, quote = '', escape = '', "
        f"max_line_size = {MAX_LINE_BYTES}, strict_mode = false)"
    )


def json_array_reader_sql(src: SourceFile) -> str:
    """read_json(...) that yields one JSON column ``_line`` per array element."""
    return (f"(SELECT json AS _line FROM read_json({_sql_str(str(src.data_path))}, format = 'array', "
            f"records = false, maximum_object_size = {MAX_LINE_BYTES}))")


def parquet_reader_sql(src: SourceFile) -> str:
    cols = ", ".join(f'"{c.replace(chr(34), chr(34) * 2)}" AS {src.staged(c)}' for c in src.columns)
    return f"(SELECT file_row_number, {cols} FROM read_parquet({_sql_str(str(src.data_path))}, file_row_number = true))"


def _describe_json(src: SourceFile) -> SourceFile:
    """Collect the keys of the first objects (later keys still reach ``attributes``)."""
    reader = json_lines_reader_sql(src) if src.format == "jsonl" else json_array_reader_sql(src)
    con = scratch_connection()
    try:
        rows = con.execute(
            f"""SELECT k FROM (
                  SELECT unnest(json_keys(_line)) AS k, row_number() OVER () AS n
                  FROM (SELECT _line FROM {reader} WHERE json_valid(_line) AND json_type(_line) = 'OBJECT' LIMIT 5000))
                GROUP BY k ORDER BY min(n)"""
        ).fetchall()
    except duckdb.Error as err:
        raise UnusableFile(f"{src.path.name}: not readable as {src.describe()} ({str(err).splitlines()[0]}).") from None
    finally:
        con.close()
    src.columns = [r[0] for r in rows]
    if not src.columns:
        raise UnusableFile(f"{src.path.name}: no JSON objects found in the first rows; each row must be an object "
                           f"like {{\"timestamp\": ..., \"message\": ...}}.")
    src.types = {c: "VARCHAR" for c in src.columns}
    return src


def _describe_parquet(src: SourceFile) -> SourceFile:
    con = scratch_connection()
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM read_parquet({_sql_str(str(src.data_path))})").fetchall()
    except duckdb.Error as err:
        raise UnusableFile(f"{src.path.name}: a damaged Parquet file ({str(err).splitlines()[0]}).") from None
    finally:
        con.close()
    src.columns = [r[0] for r in rows]
    src.types = {r[0]: r[1] for r in rows}
    return src
