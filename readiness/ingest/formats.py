"""Recognise a log file from its content and describe how DuckDB should read it.

Formats: CSV/TSV of any delimiter and quoting (DuckDB's sniffer), JSON Lines, a JSON array,
Parquet, and each of these compressed with gzip, bzip2, xz or zstd, or alone in a ZIP archive
(recognised by magic bytes, decompressed to a work folder, with a cap on the decompressed size).
"""

from __future__ import annotations

import bz2
import contextlib
import csv
import gzip
import html
import json
import lzma
import re
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import zstandard

from readiness import settings, store
from readiness.errors import ReadinessError
from readiness.ingest import jsonschemas, linelogs
from readiness.ingest.columns import is_clef, norm
from readiness.store import DatabaseError, ident, redact

HEAD_BYTES = 256 * 1024
# DuckDB's CSV sniffer takes time quadratic in the longest line (a 2 MB line: minutes), so it reads
# a sample of the file's first lines without the long ones; the reader itself is fast on them.
SNIFF_LINE_BYTES = 32 * 1024
SNIFF_HEAD_BYTES = 8 * 1024 * 1024  # a bigger file is sniffed on its first 8 MB of lines
NEWLINES_NOTE = "mixed line endings made uniform"
JSON_LINE_DELIM = "\x1f\x1e\x1d"  # never in valid JSON text (raw control characters must be escaped)
MAX_LINE_BYTES = 32 * 1024 * 1024
ACCEPTED = ("Accepted: CSV/TSV, JSON Lines, JSON array, Parquet, each as it is, compressed (.gz, .bz2, .xz, .zst) "
            "or alone in a .zip; Excel workbooks (.xlsx).")


class UnusableFile(ReadinessError, ValueError):
    """The file cannot be loaded; the message names the file, what is wrong and what to do."""


@dataclass
class SourceFile:
    path: Path            # as given by the user
    data_path: Path       # what DuckDB reads (a decompressed copy of a compressed file)
    format: str           # csv | jsonl | json | parquet
    compression: str | None = None  # gzip | bzip2 | xz | zstd | zip
    encoding: str = "utf-8"
    delimiter: str | None = None
    quote: str | None = None
    escape: str | None = None
    columns: list[str] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)
    work_dir: Path | None = None   # where a rewritten copy may go (never beside the user's file)
    notes: list[str] = field(default_factory=list)  # what was done to read it, said in the summary
    nul_bytes: bool = False        # NUL bytes in text: the rows holding them are rejected
    nested: dict[str, str] = field(default_factory=dict)  # JSON: 'properties.plan' -> its JSON path
    questions: dict[str, str] = field(default_factory=dict)  # CSV: a survey export's question text per column
    zones: dict[str, str] = field(default_factory=dict)  # the zone a file says a time column is written in
    zones_said: str = "the zone the export's import ids give"  # ... and where it says so
    twins: dict[str, str] = field(default_factory=dict)   # JSON: a dotted top-level key also written nested
    line_format: str | None = None  # a server's line log (linelogs), read as JSON Lines of its fields
    layout: str | None = None       # app_log: the layout of its header lines (Loghub convention)
    header: bool = True             # CSV: the first line names the columns
    schema: str | None = None       # JSON in a tool's shape (jsonschemas): otlp | sentry, flattened per record
    sheet: str | None = None        # an Excel workbook's worksheet, read as CSV (data_path)
    late: set[str] = field(default_factory=set)  # JSON: keys no object of the first thousands writes
    modified: datetime | None = None  # when the user's file last changed: it dates times written without a year

    @property
    def array(self) -> bool:
        """JSON: the file is an array of rows (else one document, or JSON Lines)."""
        return self.format == "json" and self._starts_with_bracket()

    def _starts_with_bracket(self) -> bool:
        with self.data_path.open("rb") as f:
            return f.read(HEAD_BYTES).decode("utf-8", "replace").lstrip("\ufeff \t\r\n").startswith("[")

    def json_path(self, column: str) -> str:
        """The JSON path of a key: a top-level key, or a nested one named by its dotted path."""
        return self.nested.get(column) or "$." + json.dumps(column)

    def json_paths(self, column: str) -> list[str]:
        """Where a key's value may be: ECS writes 'log.level' as one key or as 'log' -> 'level'."""
        return [self.json_path(column), *([self.twins[column]] if column in self.twins else [])]

    def json_value_sql(self, column: str, obj: str = "_j") -> str:
        """SQL: the key's value in the JSON object ``obj``, as text (NULL where absent). A key in a
        list of key/value pairs (GA4's ``event_params``: ``[{"key": "ga_session_id", "value":
        {"int_value": 1709}}]``) is read from the pair with its name."""
        reads = []
        for path in self.json_paths(column):
            if path.startswith(KV_PATH):
                where, key = path[len(KV_PATH):].split(KV_SEP)
                pair = (f"list_filter(CAST(json_extract({obj}, {_sql_str(where)}) AS JSON[]), "
                        f"lambda x: json_extract_string(x, '$.key') = {_sql_str(key)})[1]")
                reads.append(f"coalesce({', '.join(f'json_extract_string({pair}, {_sql_str(v)})' for v in KV_VALUES)})")
            else:
                reads.append(f"json_extract_string({obj}, {_sql_str(path)})")
        return reads[0] if len(reads) == 1 else f"coalesce({', '.join(reads)})"

    def staged(self, column: str) -> str:
        """The name a source column has in the staging table (c1, c2, ...), immune to clashes
        with names such as ``rowid``; JSON keys are read from the line instead."""
        return f"c{self.columns.index(column) + 1}"

    def describe(self) -> str:
        """A one-line description, e.g. 'CSV (delimiter ';', quote '"'), gzip'."""
        text = {"csv": "CSV", "jsonl": "JSON Lines", "json": "JSON array", "parquet": "Parquet"}[self.format]
        if self.line_format == "app_log":
            text = f"application log ({linelogs.layout_name(self.layout)})"
        elif self.line_format:
            text = linelogs.NAMES[self.line_format]
        elif self.schema:
            text = jsonschemas.NAMES[self.schema] + (", one per line" if self.format == "jsonl" else "")
        if self.sheet is not None:
            text = f"Excel workbook, sheet {self.sheet!r}"
        elif self.format == "csv":
            shown = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(self.delimiter or "", repr(self.delimiter))
            text += f" ({shown}-delimited"
            text += f", quote {self.quote}" if self.quote else ", no quoting"
            text += f", {self.encoding})" if self.encoding != "utf-8" else ")"
        if self.compression:
            text += f", {self.compression}-compressed"
        if self.notes:
            text += "; " + "; ".join(self.notes)
        return text


def duckdb_reason(err: BaseException, src: SourceFile | None = None, name: str | None = None) -> str:
    """DuckDB's error as a short reason for a user: first line, no error class, no server paths."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    text = redact(re.sub(r"^[A-Z][A-Za-z ]*Error: ", "", text).strip())
    known = [("No magic bytes found at end of file", "the file is cut short (its Parquet footer is missing); "
              "copy or export it again"),
             ("maximum recursion depth", "JSON nested deeper than DuckDB reads (128 levels); flatten the objects"),
             ("unexpected end of data", "the JSON ends before it is complete (cut short?); export it again"),
             ("state machine reached an invalid state", "the rows cannot be split consistently (mixed line "
              "endings or stray quotes?)"),
             ("Error when sniffing file", "no consistent delimiter, quoting or line ending found"),
             ("file system operations are disabled", "Permission denied: the app reads files only from its data "
              "folder, its upload folder and the feed root")]
    for needle, said in known:
        if needle in text:
            return said
    paths = [str(p) for p in (src.data_path, src.path) if p] if src else []
    for p in sorted(set(paths), key=len, reverse=True):
        text = text.replace(p, name or Path(p).name)
    return re.sub(r"(/[^\s'\"]+)+/", "", text)  # any other absolute folder: left out


# Magic bytes at the start of a compressed file or archive, and the codec they mean.
_CODECS = {b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz", b"(\xb5/\xfd": "zstd",
           b"PK\x03\x04": "zip", b"PK\x05\x06": "zip"}  # PK 5 6: an archive holding nothing
_SUFFIXES = {"gzip": ".gz", "bzip2": ".bz2", "xz": ".xz", "zstd": ".zst", "zip": ".zip"}
_OPENERS = {"gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open}
_CODEC_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError, zipfile.BadZipFile,
                 NotImplementedError)
ZIP_MEMBERS_SHOWN = 5


def compression_of(head: bytes) -> str | None:
    """The codec whose magic bytes start ``head`` (bzip2: "BZh" and a block size 1-9); None: none."""
    for magic, codec in _CODECS.items():
        if head.startswith(magic) and (codec != "bzip2" or head[3:4] in b"123456789"):
            return codec
    return None


def decompress(path: Path, out_dir: Path, codec: str, cap_bytes: int | None = None) -> Path:
    """Decompress ``path`` (``codec`` as from compression_of) into ``out_dir``, streaming; raise
    UnusableFile past ``cap_bytes`` of output (default: the max_decompressed_mb setting), counted as
    written whatever the file's headers claim, or when the stream is damaged or cut short."""
    cap = cap_bytes if cap_bytes is not None else settings.get("max_decompressed_mb") * 1024 * 1024
    if codec == "zip" and (parts := _json_parts(path)):
        return _joined_parts(path, out_dir, parts, cap)
    suffix = _SUFFIXES[codec]
    stem = path.name[:-len(suffix)] if path.name.lower().endswith(suffix) else ""
    out = out_dir / (stem or path.name + ".out")
    written = 0
    try:
        with _decompressed(path, codec) as src, out.open("wb") as dst:
            while chunk := src.read(4 * 1024 * 1024):
                written += len(chunk)
                if written > cap:
                    raise UnusableFile(
                        f"{path.name}: decompresses to more than {cap // (1024 * 1024)} MB, the limit "
                        f"(READINESS_MAX_DECOMPRESSED_MB). Split the file or raise the limit."
                    )
                dst.write(chunk)
        if codec == "zstd" and not _zstd_whole(path):
            raise EOFError("it ends inside a zstd frame: cut short?")
    except _CODEC_ERRORS as err:
        if isinstance(err, OSError) and err.errno is not None:
            raise  # the system's error (disk full, permissions), not the stream's
        what = "a ZIP archive" if codec == "zip" else codec
        raise UnusableFile(f"{path.name}: looks like {what} but cannot be decompressed ({_codec_reason(err)}). "
                           f"Re-export or re-compress the file.") from None
    return out


# An export in parts: JSON Lines files, each gzip-compressed or not (Amplitude's export API: a ZIP of
# hourly .json.gz files in a folder)
_JSON_PART = re.compile(r"\.(?:json|jsonl|ndjson)(?:\.gz)?$", re.IGNORECASE)
_JSON_LINES = re.compile(r"\.(?:jsonl|ndjson)$", re.IGNORECASE)


def _members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """An archive's files, folders and macOS extras (``__MACOSX/``, ``._*``, ``.DS_Store``) aside."""
    return [i for i in archive.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX/")
            and not Path(i.filename).name.startswith("._") and Path(i.filename).name != ".DS_Store"]


def _json_parts(path: Path) -> list[str]:
    """The names of a ZIP archive's JSON Lines parts, in their natural order ('…_9#0' before
    '…_10#0'), when every file it holds is one and it holds several or a compressed one; else []."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = _members(archive)
    except (zipfile.BadZipFile, OSError):
        return []  # decompressing says what is wrong
    names = [i.filename for i in members if not i.flag_bits & 0x1]
    if len(names) != len(members) or not names or not all(_JSON_PART.search(n) for n in names):
        return []
    if not (all(n.lower().endswith(".gz") for n in names) or all(_JSON_LINES.search(n) for n in names)):
        return []  # plain .json files may be whole documents (arrays, a manifest): not parts of one export
    if len(names) == 1 and not names[0].lower().endswith(".gz"):
        return []  # one plain file: read as any archive's
    return sorted(names, key=lambda n: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", n)])


def _joined_parts(path: Path, out_dir: Path, parts: list[str], cap: int) -> Path:
    """The parts, each decompressed, one after another as one JSON Lines file (a line break between)."""
    out = out_dir / (path.stem + ".jsonl")
    written = 0
    try:
        with zipfile.ZipFile(path) as archive, out.open("wb") as dst:
            for name in parts:
                with archive.open(name) as member, (gzip.open(member) if name.lower().endswith(".gz")
                                                    else contextlib.nullcontext(member)) as src:
                    last = b"\n"
                    while chunk := src.read(4 * 1024 * 1024):
                        written += len(chunk)
                        if written > cap:
                            raise UnusableFile(
                                f"{path.name}: decompresses to more than {cap // (1024 * 1024)} MB, the limit "
                                f"(READINESS_MAX_DECOMPRESSED_MB). Split the file or raise the limit.")
                        dst.write(chunk)
                        last = chunk[-1:]
                    if last != b"\n":
                        dst.write(b"\n")
    except _CODEC_ERRORS as err:
        if isinstance(err, OSError) and err.errno is not None:
            raise
        raise UnusableFile(f"{path.name}: a part of the ZIP archive cannot be decompressed ({_codec_reason(err)}). "
                           f"Re-export the file.") from None
    return out


def _codec_reason(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return {"File is not a zip file": "its table of contents at the end is missing: cut short?"}.get(text, text)


@contextmanager
def _decompressed(path: Path, codec: str) -> Iterator[BinaryIO]:
    """A reader of the decompressed bytes of ``path`` (of the one file in it, for a ZIP archive)."""
    if codec == "zip":
        with zipfile.ZipFile(path) as archive, archive.open(_zip_member(path, archive)) as member:
            yield member
    elif codec == "zstd":  # frames with or without a content size, one after another
        with path.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True) as reader:
            yield reader
    else:
        with _OPENERS[codec](path, "rb") as stream:
            yield stream


def _zip_member(path: Path, archive: zipfile.ZipFile) -> zipfile.ZipInfo:
    """The one file an archive holds, folders and macOS extras (``__MACOSX/``, ``._*``, ``.DS_Store``)
    aside. Raises UnusableFile for an Excel workbook, no file or several, or an encrypted one."""
    names = archive.namelist()
    if "[Content_Types].xml" in names or any(n.startswith("xl/") for n in names):
        raise UnusableFile(f"{path.name}: is an Excel workbook that cannot be read (damaged?). Save it again "
                           f"from Excel, or as CSV. {ACCEPTED}")
    members = _members(archive)
    if len(members) != 1:
        shown = ", ".join(i.filename for i in members[:ZIP_MEMBERS_SHOWN])
        more = f" and {len(members) - ZIP_MEMBERS_SHOWN} more" if len(members) > ZIP_MEMBERS_SHOWN else ""
        held = f"holds {len(members)} files ({shown}{more})" if members else "holds no file"
        raise UnusableFile(f"{path.name}: the ZIP archive {held}. Give one file per archive (or the files "
                           f"themselves).")
    if members[0].flag_bits & 0x1:
        raise UnusableFile(f"{path.name}: {members[0].filename} in the ZIP archive is encrypted (password-"
                           f"protected). Give the file itself, or a ZIP archive made without a password.")
    return members[0]


def _zstd_whole(path: Path) -> bool:
    """True when ``path`` is whole zstd frames end to end (the stream reader takes a file cut inside a
    frame for a shorter one): each frame's blocks are walked by their headers, nothing decompressed."""
    size = path.stat().st_size
    with path.open("rb") as f:
        while (start := f.tell()) < size:
            head = f.read(18)  # the longest frame header
            if 0x184D2A50 <= int.from_bytes(head[:4], "little") <= 0x184D2A5F:  # skippable: length, data
                f.seek(start + 8 + int.from_bytes(head[4:8], "little"))
                continue
            try:
                checksum = zstandard.get_frame_parameters(head).has_checksum
                f.seek(start + zstandard.frame_header_size(head))
            except zstandard.ZstdError:
                return False
            last = False
            while not last:
                block = f.read(3)
                if len(block) < 3:
                    return False
                value = int.from_bytes(block, "little")  # bit 0: last block; bits 1-2: type; then size
                last, kind, length = bool(value & 1), value >> 1 & 3, value >> 3
                f.seek(1 if kind == 1 else length, 1)  # an RLE block holds one byte
            f.seek(4 if checksum else 0, 1)
        return f.tell() == size


_MAGIC = {b"%PDF": "a PDF document", b"\x89PNG": "a PNG image", b"\x7fELF": "a program",
          b"\xd0\xcf\x11\xe0": "an old Excel/Office file (save it as CSV)", b"SQLite format 3": "an SQLite database"}


def _looks_binary(head: bytes, encoding: str) -> str | None:
    """Why ``head`` is not a text log (None when it looks like text)."""
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            return what
    if encoding == "utf-16":
        return None
    sample = head[:65536]
    controls = sum(1 for b in sample if b < 9 or 13 < b < 32)  # NUL included
    if controls > max(3, len(sample) // 100) or sample.count(b"\x00") * 10 > len(sample):
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


def detect(path: Path, work_dir: Path, log_format: str | None = None) -> SourceFile:
    """Recognise ``path`` by its content; return how to read it. Raises UnusableFile.

    ``log_format``: the layout of an application log's lines in the Loghub convention
    ('<Date> <Time> <Level> <Component>: <Content>'), for a layout nothing recognises."""
    path = Path(path)
    if not path.exists():
        raise UnusableFile(f"{path}: no such file.")
    if path.is_dir():
        raise UnusableFile(f"{path}: is a folder; give the log files inside it.")
    src = _detect(path, work_dir, log_format)
    src.modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return src


def _detect(path: Path, work_dir: Path, log_format: str | None) -> SourceFile:
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    compression = compression_of(head)
    data_path = path
    if compression == "zip" and work_dir is not None and (book := _workbook(path)):
        return _from_workbook(path, work_dir, book, log_format)
    if compression:
        data_path = decompress(path, work_dir, compression)
        with data_path.open("rb") as f:
            head = f.read(HEAD_BYTES)
        if inner := compression_of(head):  # one layer is read, not a .gz in a .zip
            outer = "a ZIP archive" if compression == "zip" else f"{compression}-compressed"
            raise UnusableFile(f"{path.name}: is {outer} and holds {inner}-compressed data. Give the log file with "
                               f"one layer of compression. {ACCEPTED}")
    if head[257:262] == b"ustar":
        raise UnusableFile(f"{path.name}: is a tar archive: give the log file itself or one .gz/.zip holding it.")
    if not head.strip():
        raise UnusableFile(f"{path.name}: the file is empty. Export the log again with its rows.")
    if head[:4] == b"PAR1":
        src = SourceFile(path, data_path, "parquet", compression)
        return _describe_parquet(src)
    encoding = _text_encoding(head)
    if _looks_binary(head, encoding):
        raise UnusableFile(
            f"{path.name}: not a recognised format ({_looks_binary(head, encoding)}). {ACCEPTED}"
        )
    text = head.decode("utf-16" if encoding == "utf-16" else encoding, errors="replace").lstrip("\ufeff \t\r\n")
    if not text.strip("\x00"):
        raise UnusableFile(f"{path.name}: the file is empty. Export the log again with its rows.")
    if text[:15].lower().startswith(("<!doctype html", "<html")):
        raise UnusableFile(f"{path.name}: is a web page (HTML), not a log: an error or login page was probably "
                           f"saved instead of the export. Download the export again.")
    if encoding != "utf-16" and work_dir is not None and (container := linelogs.container_format(text.splitlines()[:60])):
        return _unwrap_container(SourceFile(path, data_path, "jsonl", compression, encoding=encoding), container,
                                 work_dir, log_format)
    if re.match(r"\[\s*[\[{\]]", text):  # an array of rows; '[Sun Dec 04 ...] [error]' is an Apache error log
        return _describe_json(SourceFile(path, data_path, "json", compression))
    if text.startswith("{"):
        first, _, rest = text.partition("\n")
        try:
            obj = json.loads(first.strip())
            schema = "otlp" if isinstance(obj, dict) and ("resourceLogs" in obj or "resourceSpans" in obj) else None
            alone = not rest.strip() and len(head) < HEAD_BYTES  # the whole file is this one object
            if not schema and alone and _lists_rows(obj) and not _is_sentry_event(obj) and work_dir is not None:
                if listed := _listed_rows(path, data_path, compression, work_dir, log_format):
                    return listed
            return _describe_json(SourceFile(path, data_path, "jsonl", compression, schema=schema))
        except ValueError:
            if jsonschemas.OTLP_START.match(text):  # one OTLP document over many lines
                return _describe_json(SourceFile(path, data_path, "json", compression, schema="otlp"))
            if _one_json_object(text) and _is_sentry_event(json.loads(text)):
                return _describe_json(SourceFile(path, data_path, "json", compression, schema="sentry"))
            if work_dir is not None and (listed := _listed_rows(path, data_path, compression, work_dir, log_format)):
                return listed
            if _one_json_object(text):
                raise UnusableFile(f"{path.name}: is one JSON object, not a list of rows. Give JSON Lines (one "
                                   f"object per line) or a JSON array of objects.") from None
            raise UnusableFile(
                f"{path.name}: starts like JSON but its first line is not a complete JSON object. "
                f"Give JSON Lines (one object per line) or a JSON array of objects."
            ) from None
    lines = text.splitlines()[:60]
    line_format, layout = None, None
    if not log_format and linelogs.is_w3c_log(lines):
        line_format = "w3c"
    elif not log_format and linelogs.is_access_log(lines):
        line_format = "access_log"
    elif not log_format and linelogs.is_elb_log(lines):
        line_format = "aws_elb"
    elif not log_format and linelogs.is_heroku_router(lines):
        line_format = "heroku_router"
    if not line_format and (layout := linelogs.recognise_app_log(lines, log_format)):
        line_format = "app_log"
    if line_format:  # a server's line log: read as JSON Lines of each line's (or record's) fields
        src = SourceFile(path, data_path, "jsonl", compression, encoding=encoding, line_format=line_format,
                         layout=layout, work_dir=work_dir)
        src.columns = list(linelogs.columns(line_format, layout))
        src.types = {c: "VARCHAR" for c in src.columns}
        if line_format == "app_log" and linelogs.timeless(layout, next(ln for ln in lines if ln.strip())):
            src.notes.append("no time is written: each record is dated by the file's last change")
        if line_format == "app_log" and (zone := _written_zone(layout, lines)):
            src.zones, src.zones_said = {"time": zone}, "the zone the log writes after its times"
        return src
    if log_format:
        raise UnusableFile(f"{path.name}: its first line is not written as --log-format {log_format!r}. Check the "
                           f"layout against the first line: {text.splitlines()[0][:200]!r}.")
    src = SourceFile(path, data_path, "csv", compression, encoding=encoding, work_dir=work_dir)
    src.nul_bytes = encoding != "utf-16" and b"\x00" in head
    if src.nul_bytes:
        src.notes.append("rows with NUL bytes are rejected")
    sep = re.match(rb"(?:\xef\xbb\xbf)?sep=(.)\r?\n", head) if encoding != "utf-16" else None
    typed = re.match(rb"(?:\xef\xbb\xbf)?#TYPE [^\r\n]*\r?\n", head) if encoding != "utf-16" else None
    if sep:  # Excel's "sep=;" first line: a hint, not the header
        rewrite(src, skip_lines=1)
        src.delimiter = sep.group(1).decode("latin-1")
        src.notes.append(f"first line {sep.group(0).decode('latin-1').strip()!r} skipped")
    elif typed:  # PowerShell's Export-Csv: '#TYPE System.Diagnostics...' above the header names the objects
        rewrite(src, skip_lines=1)
        src.notes.append("PowerShell's '#TYPE' first line skipped")
    return _survey_header_rows(_describe_csv(src))


@dataclass
class _Sheet:
    name: str
    part: str             # its XML file in the workbook, e.g. xl/worksheets/sheet1.xml
    cells: str | None     # the cells it says it uses ('A1:H41'), when it says


@dataclass
class _Workbook:
    sheets: list[_Sheet]
    date1904: bool        # dates count days from 1904-01-01 (old Mac Excel), not 1899-12-30


WORKBOOK_LIMIT = 4 * 1024 * 1024  # the workbook's own list of sheets is a few KB
_XML_ATTR = re.compile(r'([\w:]+)\s*=\s*"([^"]*)"')


def _xml_tags(xml: str, tag: str) -> list[dict[str, str]]:
    """The attributes of each ``<tag .../>`` in ``xml`` (any namespace prefix), entities as written."""
    return [dict(_XML_ATTR.findall(m.group(1)))
            for m in re.finditer(rf"<(?:\w+:)?{tag}\b([^>]*)>", xml)]


def _workbook(path: Path) -> _Workbook | None:
    """An Excel workbook's worksheets in their order (None: the ZIP archive is not a workbook).
    Raises UnusableFile for an Office file that holds no table DuckDB reads (a binary .xlsb
    workbook, an OpenDocument spreadsheet, a Word or PowerPoint file)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "xl/workbook.bin" in names:
                raise UnusableFile(f"{path.name}: is a binary Excel workbook (.xlsb). Save it as .xlsx or CSV.")
            if "mimetype" in names and b"opendocument" in archive.read("mimetype")[:200]:
                raise UnusableFile(f"{path.name}: is an OpenDocument file (LibreOffice, .ods). Save it as .xlsx "
                                   f"or CSV.")
            if "xl/workbook.xml" not in names:
                if any(n.startswith("xl/") for n in names):
                    raise UnusableFile(f"{path.name}: is an Excel workbook without its list of sheets (damaged?). "
                                       f"Save it again from Excel, or as CSV. {ACCEPTED}")
                if "[Content_Types].xml" in names:
                    raise UnusableFile(f"{path.name}: is an Office document but not an Excel workbook. {ACCEPTED}")
                return None
            book = archive.open("xl/workbook.xml").read(WORKBOOK_LIMIT).decode("utf-8", "replace")
            rels = (archive.open("xl/_rels/workbook.xml.rels").read(WORKBOOK_LIMIT).decode("utf-8", "replace")
                    if "xl/_rels/workbook.xml.rels" in names else "")
            targets = {r.get("Id"): r.get("Target", "") for r in _xml_tags(rels, "Relationship")}
            sheets = []
            for tag in _xml_tags(book, "sheet"):
                target = targets.get(next((v for k, v in tag.items() if k.endswith(":id")), None), "")
                part = target.lstrip("/") if target.startswith("/") else "xl/" + target
                if tag.get("name") and part in names and tag.get("state", "visible") == "visible":
                    sheets.append(_Sheet(html.unescape(tag["name"]), part, _used_cells(archive, part)))
            if not sheets:
                raise UnusableFile(f"{path.name}: is an Excel workbook with no worksheet (charts only?). Save "
                                   f"the table as .xlsx or CSV. {ACCEPTED}")
            return _Workbook(sheets, any(t.get("date1904") in ("1", "true") for t in _xml_tags(book, "workbookPr")))
    except (zipfile.BadZipFile, OSError, KeyError):
        return None  # read as a ZIP archive, which says what is wrong with it


def _used_cells(archive: zipfile.ZipFile, part: str) -> str | None:
    """The cells a worksheet says it uses (``<dimension ref="A1:H41"/>`` near its start)."""
    with archive.open(part) as f:
        head = f.read(64 * 1024).decode("utf-8", "replace")
    ref = next((t.get("ref") for t in _xml_tags(head, "dimension")), None)
    return ref if ref and re.fullmatch(r"[A-Z]{1,3}\d+:[A-Z]{1,3}\d+", ref) else None


_DATE_KINDS = ("TIMESTAMP", "DATE", "TIME")


def _date_columns(con, args: list, where: str, cells: str | None) -> dict[int, str]:
    """The columns (by position) whose cells Excel formats as dates or times, and as which kind:
    DuckDB's excel reader infers a column's type from its first value under a header, so the header
    is taken at each of the sheet's first five rows (a title or a survey's second header row above
    the values would hide a date column)."""
    found: dict[int, str] = {}
    start = re.match(r"([A-Z]+)(\d+):([A-Z]+)(\d+)", cells) if cells else None
    for skip in range(5 if start else 1):
        if start and int(start.group(2)) + skip >= int(start.group(4)):
            break
        ranged = ([*args[:2], f"{start.group(1)}{int(start.group(2)) + skip}:{start.group(3)}{start.group(4)}"]
                  if start else args)
        try:
            rows = con.execute(f"DESCRIBE SELECT * FROM read_xlsx(?, sheet = ?, header = true{where})", ranged).fetchall()
        except DatabaseError:
            if not skip:
                raise
            continue
        for i, (_name, kind, *_rest) in enumerate(rows):
            if (kind := str(kind).split("(")[0]) in _DATE_KINDS:
                found.setdefault(i, kind)
    return found


# The day an Excel date serial counts from: 1899-12-30 in the 1900 date system (right from March
# 1900 on, past its leap-year bug), or 1904-01-01 in a workbook saved with the 1904 date system.
_EXCEL_EPOCH = {False: "1899-12-30", True: "1904-01-01"}


def _from_workbook(path: Path, work_dir: Path, book: _Workbook, log_format: str | None) -> SourceFile:
    """An Excel workbook's first worksheet that holds cells, read by DuckDB's excel extension into
    a CSV in the work folder (every cell as its text; a cell Excel formats as a date or time as
    ISO 8601 text), which is then recognised as any CSV is. Rows keep their places (an empty row is
    an empty record), so a row's number is its row on the sheet less the header's."""
    try:
        con = store.scratch(extensions=("excel",))
    except store.StoreError as err:
        raise UnusableFile(f"{path.name}: is an Excel workbook, and reading one needs DuckDB's excel extension: "
                           f"{err}. Or save the sheet as CSV.") from None
    out = _work_file(work_dir, "sheet", ".csv")
    chosen = None
    try:
        for sheet in book.sheets:
            args = [str(path), sheet.name] + ([sheet.cells] if sheet.cells else [])
            where = ", range = ?" if sheet.cells else ", stop_at_empty = false"
            try:
                dates = _date_columns(con, args, where, sheet.cells)
                con.execute(f"CREATE OR REPLACE TEMP TABLE _sheet AS SELECT * FROM read_xlsx(?, sheet = ?, "
                            f"header = false, all_varchar = true{where})", args)
            except DatabaseError as err:
                if "empty" in str(err).lower() or "no rows" in str(err).lower():
                    continue
                raise UnusableFile(f"{path.name}: sheet {sheet.name!r} cannot be read: {duckdb_reason(err)}. Save "
                                   f"it as CSV.") from None
            if con.execute("SELECT count(*) FROM _sheet").fetchone()[0] >= 2:
                chosen = sheet
                break
        if chosen is None:
            raise UnusableFile(f"{path.name}: the Excel workbook's sheets hold no table (a header row and rows "
                               f"under it). Export the data again.")
        names = [r[0] for r in con.execute("DESCRIBE _sheet").fetchall()]
        epoch = _EXCEL_EPOCH[book.date1904]
        cells = []
        for i, name in enumerate(names):
            col = ident(name)
            if kind := dates.get(i):  # a date serial: days since the epoch, to the millisecond
                when = (f"TIMESTAMP '{epoch}' + to_milliseconds(CAST(round(TRY_CAST({col} AS DOUBLE) * 86400000) "
                        f"AS BIGINT))")
                cells.append(f"CASE WHEN TRY_CAST({col} AS DOUBLE) IS NULL THEN {col} "
                             f"ELSE CAST(CAST({when} AS {kind}) AS VARCHAR) END")
            else:
                cells.append(col)
        con.execute(f"COPY (SELECT {', '.join(cells)} FROM _sheet) TO {_sql_str(str(out))} "
                    "(FORMAT csv, HEADER false, FORCE_QUOTE *)")
    finally:
        con.close()
    src = _detect(out, work_dir, log_format)
    src.path = path
    others = [s.name for s in book.sheets if s is not chosen]
    src.sheet = chosen.name
    if others:
        src.notes.insert(0, f"{len(others)} other sheet{'s' * (len(others) > 1)} not read "
                            f"({', '.join(repr(n) for n in others[:3])}{', ...' if len(others) > 3 else ''}): "
                            f"to load one, save it as CSV")
    return src


def _written_zone(layout: str, lines: list[str]) -> str | None:
    """The zone an application log writes after its times (PHP's '[01-Mar-2024 10:42:03
    Europe/Berlin]'), when its first record names one DuckDB reads."""
    pattern, fields = linelogs.layout_regex(layout)
    if "zone" not in fields:
        return None
    m = next((m for ln in lines if (m := re.match(pattern, ln))), None)
    return _known_zone(json.dumps({"timeZone": m.group(fields.index("zone") + 1)})) if m else None


# Keys a JSON wrapper of rows names its list by; a row's own time (a wrapper has none)
ROW_LISTS = {"events", "data", "records", "items", "results", "hits", "logs", "rows", "entries", "value",
             "logevents", "errors", "issues"}
_ROW_TIMES = {"timestamp", "time", "ts", "datetime", "date", "createdat", "eventtime", "timeunixnano",
              "datecreated", "received", "receivedat"}


def _lists_rows(obj: dict) -> bool:
    """A JSON object holding a list of objects, or an object that holds one (``hits.hits``)."""
    def rows(v: object) -> bool:
        return isinstance(v, list) and bool(v) and isinstance(v[0], dict)
    return any(rows(v) or (isinstance(v, dict) and any(rows(w) for w in v.values())) for v in obj.values())


def _listed_rows(path: Path, data_path: Path, compression: str | None, work_dir: Path,
                 log_format: str | None) -> SourceFile | None:
    """One JSON document whose rows are a list in it: ``{"events": [...], "nextToken": ...}`` (AWS
    CloudWatch Logs), ``{"data": [...], "meta": ...}`` (Datadog), ``{"records": [...]}`` (Azure),
    ``{"hits": {"hits": [...]}}`` (Elasticsearch). The longest list of objects, at the top or one
    level down, is written as JSON Lines to the work folder and read as any file is. None when the
    document holds no such list (or is not one JSON document)."""
    doc = "(SELECT CAST(content AS JSON) AS j FROM read_text(?))"
    con = store.scratch()
    try:
        keys = con.execute(f"SELECT k, json_type(j -> k) FROM (SELECT unnest(json_keys(j)) AS k, j FROM {doc})",
                           [str(data_path)]).fetchall()
        timed = any(norm(k) in _ROW_TIMES for k, _ in keys)
        lists = []
        for key, kind in keys:
            at = [key]
            if kind == "OBJECT":
                inner = con.execute(f"SELECT unnest(json_keys(j -> ?)) FROM {doc}", [key, str(data_path)]).fetchall()
                at = [[key, k] for (k,) in inner]
            for where in (at if kind == "OBJECT" else [at]):
                arrow = " -> ?" * len(where)
                n = con.execute(f"SELECT CASE WHEN json_type(j{arrow} -> 0) = 'OBJECT' THEN json_array_length(j{arrow}) "
                                f"END FROM {doc}", [*where, *where, str(data_path)]).fetchone()[0]
                if n:
                    lists.append((n, where))
        if not lists:
            return None
        # the list a wrapper names for its rows, else the longest ('events' beside 'searchedLogStreams')
        _, where = max(lists, key=lambda x: (x[1][-1].lower() in ROW_LISTS, x[0]))
        first = con.execute(f"SELECT json_keys(j{' -> ?' * len(where)} -> 0) FROM {doc}", [*where, str(data_path)]).fetchone()[0]
        if timed and not any(norm(k) in _ROW_TIMES for k in first or []):
            return None  # an event with a time and an inner list (its frames, its products): one row
        out = _work_file(work_dir, "rows", ".jsonl")
        con.execute(f"CREATE TEMP TABLE _rows AS SELECT CAST(unnest(CAST(j{' -> ?' * len(where)} AS JSON[])) AS VARCHAR) "
                    f"AS r FROM {doc}", [*where, str(data_path)])
        con.execute(f"COPY _rows TO {_sql_str(str(out))} (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', "
                    "DELIMITER '\x1f')")
    except DatabaseError:
        return None
    finally:
        con.close()
    src = _detect(out, work_dir, log_format)
    src.path, src.compression = path, compression
    src.notes.insert(0, f"one JSON document: the rows of its {'.'.join(where)!r} list read")
    return src


CONTAINER_NAMES = {"docker": "Docker json-file container log", "cri": "container log (CRI: containerd, CRI-O, kubelet)"}


def _unwrap_container(wrapped: SourceFile, kind: str, work_dir: Path, log_format: str | None) -> SourceFile:
    """A container log read as the log of the program inside it: its lines unwrapped (parts of a
    long line joined) into a file in the work folder, which is then recognised as any log is. A
    program that writes no time of its own (Python's default ``ERROR:app:msg``, plain text) gets
    the runtime's time before each of its records' first lines. Rejected lines are numbered as
    lines of the program's log."""
    reader = json_lines_reader_sql(wrapped)
    con = store.scratch()
    try:
        con.execute(f"CREATE TEMP TABLE _c AS SELECT * FROM {linelogs.container_lines_sql(kind, reader)}")
        head = [r[0] for r in con.execute("SELECT _text FROM _c WHERE trim(_text) <> '' ORDER BY _n LIMIT 60").fetchall()]
        timed = [r[0] for r in con.execute("SELECT count(_time) FROM _c").fetchall()][0]
        own = _has_own_time(head) or _mostly_json(head)  # JSON lines carry their time: read as JSON Lines
        layout = None if not head or own else log_format or linelogs.recognise_app_log(head)
        line, inner = "_text", log_format
        if head and timed and not own and (layout is None or linelogs.timeless(layout, head[0])):
            # a record starts at a line its layout reads, or (no layout) at a line that is not a
            # stack trace's (a traceback's first line starts one)
            first = (f"regexp_full_match(_text, {_sql_str(linelogs.head_regex(layout))})" if layout
                     else f"trim(_text) <> '' AND (NOT regexp_matches(_text, {_sql_str(linelogs.TRACE_LINE)}) "
                          f"OR starts_with(_text, {_sql_str(linelogs.PYTHON_TRACEBACK)}))")
            line = f"CASE WHEN _time IS NOT NULL AND {first} THEN _time || ' ' || _text ELSE _text END"
            inner = linelogs.CONTAINER_TIME + (layout or "<Content>")
        out = _work_file(work_dir, "container", ".log")
        con.execute(f"COPY (SELECT {line} FROM _c ORDER BY _n) TO {_sql_str(str(out))} "
                    "(FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\x1f')")
    finally:
        con.close()
    src = _detect(out, work_dir, inner)
    src.path, src.compression = wrapped.path, wrapped.compression
    src.notes.insert(0, f"a {CONTAINER_NAMES[kind]}: the program's lines read"
                        + (", the runtime's time before each record" if inner and inner != log_format else "")
                        + "; line numbers are the program's lines")
    return src


def _mostly_json(lines: list[str]) -> bool:
    """Most of the lines are JSON objects (a program that logs JSON)."""
    return sum(_one_json_object(ln.strip()) for ln in lines if ln.lstrip().startswith("{")) * 2 > len(lines)


def _has_own_time(lines: list[str]) -> bool:
    """The program's lines are a server's log with times of its own (an access log, a W3C log)."""
    return (linelogs.is_access_log(lines) or linelogs.is_w3c_log(lines) or linelogs.is_elb_log(lines)
            or linelogs.is_heroku_router(lines))


def _work_file(work_dir: Path, stem: str, suffix: str) -> Path:
    """A new file's name in the work folder (a file may be rewritten more than once)."""
    return work_dir / f"{stem}-{len(list(work_dir.iterdir()))}{suffix}"


def rewrite(src: SourceFile, skip_lines: int = 0, newlines: bool = False) -> None:
    """Replace ``src.data_path`` by a copy in ``src.work_dir``: without its first ``skip_lines`` lines, and/or with every
    line ending (CRLF, CR) made LF, for files that mix them (DuckDB's reader expects one kind)."""
    if src.work_dir is None or src.encoding == "utf-16":
        raise UnusableFile(f"{src.path.name}: cannot be read as it is (mixed line endings?). Save it again as "
                           f"UTF-8 CSV with one kind of line ending.")
    out = _work_file(src.work_dir, "rewritten", ".csv")
    with src.data_path.open("rb") as f, out.open("wb") as dst:
        for _ in range(skip_lines):
            f.readline(MAX_LINE_BYTES)
        carry = b""
        while chunk := f.read(4 * 1024 * 1024):
            data = carry + chunk
            if newlines:
                carry = b"\r" if data.endswith(b"\r") else b""
                data = (data[:-1] if carry else data).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            dst.write(data)
        dst.write(b"\n" if carry else b"")
    src.data_path = out
    if newlines:
        src.notes.append(NEWLINES_NOTE)


def _is_sentry_event(obj: dict) -> bool:
    entries = obj.get("entries")
    return (isinstance(obj.get("exception"), dict) and "values" in obj["exception"]) or (
        isinstance(entries, list) and any(isinstance(x, dict) and x.get("type") == "exception" for x in entries))


def _one_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sniff_sample(src: SourceFile) -> Path:
    """The file to sniff: ``src.data_path`` when small; the first 8 MB of lines of a big one; when a line
    in its head is long, a sample of its first lines with the middle of each long line cut out (a
    long quoted field keeps both its quotes)."""
    if src.work_dir is None or src.encoding == "utf-16":
        return src.data_path
    with src.data_path.open("rb") as f:
        header = f.readline(MAX_LINE_BYTES)
        head = f.read(HEAD_BYTES)
    lines = head.split(b"\n")
    if all(len(line) <= SNIFF_LINE_BYTES for line in lines):
        if src.data_path.stat().st_size <= SNIFF_HEAD_BYTES:
            return src.data_path
        # the sniffer judges its first rows either way, but spends ~0.4 s on a big file's buffers
        with src.data_path.open("rb") as f:
            data = f.read(SNIFF_HEAD_BYTES)
        data = data[:data.rfind(b"\n") + 1]
        if data and max(map(len, data.split(b"\n"))) <= SNIFF_LINE_BYTES:
            sample = src.work_dir / "sniff-sample.csv"
            sample.write_bytes(data)
            return sample
    if len(head) == HEAD_BYTES:  # the last line was cut by the read: take its end from the file
        with src.data_path.open("rb") as f:
            f.seek(len(header) + len(head) - len(lines[-1]))
            rest = f.readline(MAX_LINE_BYTES)
        lines[-1] = rest.rstrip(b"\n")
    half = SNIFF_LINE_BYTES // 2
    sample = src.work_dir / "sniff-sample.csv"
    sample.write_bytes(header + b"".join((line if len(line) <= SNIFF_LINE_BYTES else line[:half] + line[-half:])
                                         + b"\n" for line in lines))
    return sample


def _sniff(src: SourceFile, quote: str | None = None) -> tuple:
    delim = f", delim = {_sql_str(src.delimiter)}" if src.delimiter else ""
    delim += f", quote = {_sql_str(quote)}" if quote else ""
    con = store.scratch()
    try:
        return con.execute(
            "SELECT Delimiter, Quote, Escape, Columns FROM sniff_csv(?, header = true, ignore_errors = true, "
            f"all_varchar = true, encoding = {_sql_str(src.encoding)}, max_line_size = {MAX_LINE_BYTES}{delim})",
            [str(_sniff_sample(src))],
        ).fetchone()
    finally:
        con.close()


def _apostrophe_quoted(src: SourceFile, delimiter: str) -> bool:
    """The file quotes with apostrophes: its header's names are in apostrophes, or a field in
    apostrophes holds the delimiter ('open, file'), in the head's lines."""
    if src.encoding == "utf-16":
        return True
    with src.data_path.open("rb") as f:
        lines = f.read(HEAD_BYTES).decode(src.encoding, errors="replace").lstrip("\ufeff").split("\n")[:200]
    d = re.escape(delimiter or ",")
    header = [c.strip() for c in lines[0].rstrip("\r").split(delimiter or ",")] if lines else []
    if header and all(len(c) > 1 and c[0] == c[-1] == "'" for c in header):
        return True
    holds = re.compile(rf"(?:^|{d})'[^'\n]*{d}[^'\n]*'(?:{d}|\r?$)")
    return any(holds.search(line) for line in lines[1:])


def has_mixed_newlines(path: Path) -> bool:
    """True when the file's head ends lines in more than one way (CRLF, LF, CR)."""
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    crlf = head.count(b"\r\n")
    return sum(n > 0 for n in (crlf, head.count(b"\n") - crlf, head.count(b"\r") - crlf)) > 1


def _describe_csv(src: SourceFile) -> SourceFile:
    try:
        if src.encoding != "utf-16" and has_mixed_newlines(src.data_path):
            rewrite(src, newlines=True)
        row = _sniff(src)
    except DatabaseError as err:
        raise UnusableFile(f"{src.path.name}: not readable as CSV: {duckdb_reason(err, src)}. Save it as a "
                           f"UTF-8 CSV with a header row and try again.") from None
    if row[1] == "'" and not _apostrophe_quoted(src, row[0]):  # Python's 'vat' in a message would lose its quotes
        try:
            double = _sniff(src, quote='"')
        except DatabaseError:
            double = None
        if double and len(double[3]) == len(row[3]):  # the double quote splits the rows alike: it is the quote
            row = double
    delim, quote, escape, columns = row
    src.delimiter = delim
    src.quote = None if quote in ("", "(empty)", "\x00") else quote
    src.escape = None if escape in ("", "(empty)", "\x00") else escape
    src.columns = [c["name"] for c in columns]
    if src.quote is None and _mostly_quoted(src):
        # one unclosed quote makes the sniffer give up quoting, and every value would keep its quotes:
        # read with quotes instead, so that only the broken record is rejected
        src.quote = src.escape = '"'
        src.columns = [c[1:-1] if len(c) > 1 and c[0] == c[-1] == '"' else c for c in src.columns]
    if unnamed := _one_field_unnamed(src):  # Windows' Event Viewer: its CSV's header leaves out the description
        if unnamed == "first":  # R's write.table: row names, unnamed, before the header's columns
            src.columns.insert(0, name := "row_name")
            src.notes.append("every row has one field more than the header names: the first (row names) is read "
                             f"as {name!r}")
        else:
            src.columns.append(name := f"column{len(src.columns) + 1}")
            src.notes.append(f"every row has one field more than the header names: the last is read as {name!r}")
    if (above := _lines_above_header(src)) and not src.notes.count(TITLE_NOTE.format(n=above)):
        rewrite(src, skip_lines=above)
        src.notes.append(TITLE_NOTE.format(n=above))
        return _describe_csv(src)
    if _header_is_data(src.columns):
        src.header = False
        src.columns = [f"column{i + 1}" for i in range(len(src.columns))]
        src.notes.append("no header row: the first line is data")
    src.types = {c: "VARCHAR" for c in src.columns}
    return src


TITLE_NOTE = "{n} line(s) above the header skipped (a report's title?)"
_GENERATED_NAME = re.compile(r"column\d+")  # DuckDB's name for a header cell left empty


def _one_field_unnamed(src: SourceFile) -> str | None:
    """Nearly every row of the head (two or more) has one field more than the header names: "last"
    (the unnamed field ends the row), or "first" when the rows start with their numbers 1, 2, 3 ...
    (R's row names); None otherwise."""
    if src.encoding == "utf-16" or not src.columns:
        return None
    with src.data_path.open("rb") as f:
        lines = f.read(HEAD_BYTES).decode(src.encoding, errors="replace").lstrip("\ufeff").split("\n")[:-1]
    try:
        rows = list(csv.reader(lines[:60], delimiter=src.delimiter or ",", quotechar=src.quote or '"'))
    except csv.Error:
        return None
    if len(rows) < 3 or len(rows[0]) != len(src.columns):
        return None
    body = [r for r in rows[1:] if r]
    if sum(len(r) == len(src.columns) + 1 for r in body) < 0.9 * len(body):
        return None
    return "first" if [r[0].strip() for r in body[:20]] == [str(i) for i in range(1, min(len(body), 20) + 1)] else "last"


def _lines_above_header(src: SourceFile) -> int:
    """Lines of a report's title above its table ('Usage report - ...', 'Generated ...', a blank
    line): its first line fills at most one of three or more columns; the header is the first of the
    next 30 lines that fills them all. 0 when the file starts with its header."""
    named = [c for c in src.columns if c.strip() and not _GENERATED_NAME.fullmatch(c)]
    if len(src.columns) < 3 or len(named) > 1 or src.encoding == "utf-16" or src.work_dir is None:
        return 0
    with src.data_path.open("rb") as f:
        lines = f.read(HEAD_BYTES).decode(src.encoding, errors="replace").lstrip("\ufeff").split("\n")[:30]
    rows = csv.reader(lines, delimiter=src.delimiter or ",", quotechar=src.quote or '"')
    try:
        for i, cells in enumerate(rows):
            filled = sum(bool(c.strip()) for c in cells)
            if i and len(cells) >= 3 and filled == len(cells):
                return i
            if filled > 1:  # a row of values before any full row: the file starts with its (sparse) header
                return 0
    except csv.Error:
        return 0
    return 0


SURVEY_SUBHEADS = ("Response", "Open-Ended Response")  # SurveyMonkey's second header row


def _survey_header_rows(src: SourceFile) -> SourceFile:
    """A survey tool's export has more header rows than one: Qualtrics writes each question's text,
    then a row of import ids (``{"ImportId":"QID1"}``) under the column names; SurveyMonkey writes
    a row of sub-headings ("Response", "Open-Ended Response") under the questions. Those rows are
    not responses: the file is read without them (a copy in the work folder; responses keep their
    numbers from 1), and Qualtrics' question texts are kept to describe and map their columns."""
    if not src.header or src.encoding == "utf-16" or src.work_dir is None or len(src.columns) < 2:
        return src
    with src.data_path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    lines = head.split(b"\n")[:-1]  # whole lines only
    used = 0

    def feed() -> Iterator[str]:
        nonlocal used
        for line in lines:
            used += 1
            yield line.decode(src.encoding, errors="replace").lstrip("\ufeff")

    reader = csv.reader(feed(), delimiter=src.delimiter or ",", quotechar=src.quote or '"',
                        quoting=csv.QUOTE_MINIMAL if src.quote else csv.QUOTE_NONE)
    try:
        next(reader)
        header_lines = used
        records = []
        for _ in range(2):
            records.append((next(reader), used))
    except (StopIteration, csv.Error):
        return src
    skip, questions, tool = 0, {}, ""
    for i, (cells, _end) in enumerate(records):
        filled = [c for c in cells if c.strip()]
        if len(filled) >= 2 and len(filled) * 2 >= len(cells) and all(_import_id(c) for c in filled):
            skip, tool = i + 1, "Qualtrics"
            src.zones = {c: z for c, cell in zip(src.columns, cells) if (z := _known_zone(cell))}
            if i == 1:
                questions = {c: q.strip() for c, q in zip(src.columns, records[0][0]) if q.strip() and q.strip() != c}
            break
    first = records[0][0]
    if not skip and len(first) >= 3 and not any(c.strip() for c in first[:2]) and any(
            c.strip() in SURVEY_SUBHEADS for c in first):
        skip, tool = 1, "SurveyMonkey"
    if not skip:
        return src
    out = _work_file(src.work_dir, "survey", ".csv")
    end = records[skip - 1][1]
    with src.data_path.open("rb") as f, out.open("wb") as dst:
        for _ in range(header_lines):
            dst.write(f.readline(MAX_LINE_BYTES))
        for _ in range(end - header_lines):
            f.readline(MAX_LINE_BYTES)
        while chunk := f.read(4 * 1024 * 1024):
            dst.write(chunk)
    src.data_path = out
    src.questions = questions
    what = {1: "the row under the header", 2: "the two rows under the header"}[skip]
    held = "question texts and import ids" if skip == 2 else "import ids" if tool == "Qualtrics" else "sub-headings"
    src.notes.append(f"{tool} export: {what} ({held}) left out, not responses")
    return src


def _known_zone(cell: str) -> str | None:
    """The time zone an import id names (``{"ImportId":"startDate","timeZone":"America/Denver"}``;
    ``Z`` is UTC), when it is a zone DuckDB reads (an IANA name, not a posix/ or right/ variant)."""
    try:
        zone = json.loads(cell).get("timeZone") if cell.strip() else None
    except (ValueError, AttributeError):
        return None
    if zone in ("Z", "UTC", "GMT"):
        return "UTC"
    if not isinstance(zone, str) or "/" not in zone or zone.startswith(("posix/", "right/")):
        return None
    try:
        return zone if ZoneInfo(zone) else None
    except (ValueError, ZoneInfoNotFoundError):
        return None


def _import_id(cell: str) -> bool:
    cell = cell.strip()
    return cell.startswith("{") and "ImportId" in cell and _one_json_object(cell)


_DATA_NAME = re.compile(r"^\s*(\d{4}-\d{1,2}-\d{1,2}([ T]\d|$)|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}(\s|$)|-?\d+([.,]\d+)?$)")


def _header_is_data(names: list[str]) -> bool:
    """The first line holds values, not names: a date or time among them, or numbers for half of them."""
    data = [bool(_DATA_NAME.match(n)) for n in names]
    dates = sum(d and not re.match(r"^\s*-?\d+([.,]\d+)?$", n) for d, n in zip(data, names))
    return len(names) > 1 and (dates >= 1 or sum(data) * 2 >= len(names))


def _mostly_quoted(src: SourceFile) -> bool:
    """True when most lines of the head have a field in double quotes (``,"x"`` or a line starting ``"``)."""
    if src.encoding == "utf-16":
        return False
    with src.data_path.open("rb") as f:
        lines = f.read(HEAD_BYTES).split(b"\n")[1:-1]
    d = (src.delimiter or ",").encode("latin-1")
    quoted = sum(1 for line in lines if line.startswith(b'"') or (d + b'"') in line)
    return len(lines) >= 2 and quoted * 2 > len(lines)


def csv_reader_sql(src: SourceFile, rejects: str | None = None, path: Path | None = None,
                   lenient: bool = False) -> str:
    """The read_csv(...) call for ``src`` (or a sample of it at ``path``): every column as text,
    dialect fixed, bad rows to ``rejects`` (``lenient``: skipped)."""
    cols = "{" + ", ".join(f"{_sql_str(src.staged(c))}: 'VARCHAR'" for c in src.columns) + "}"
    opts = [
        f"delim = {_sql_str(src.delimiter or ',')}",
        f"quote = {_sql_str(src.quote or '')}",
        f"escape = {_sql_str(src.escape or '')}",
        f"header = {str(src.header).lower()}", "auto_detect = false", f"columns = {cols}",
        f"encoding = {_sql_str(src.encoding)}", f"max_line_size = {MAX_LINE_BYTES}",
    ]
    if rejects:
        opts += ["store_rejects = true", f"rejects_table = {_sql_str(rejects)}",
                 f"rejects_scan = {_sql_str(rejects + '_scan')}"]
    if lenient:
        opts.append("ignore_errors = true")
    return f"read_csv({_sql_str(str(path or src.data_path))}, {', '.join(opts)})"


def head_sample(src: SourceFile) -> Path:
    """A file of ``src``'s first whole lines (up to SNIFF_HEAD_BYTES), or the file itself when it is
    small: what a read of its first rows is given. DuckDB's reader fills buffers sized for the
    longest line allowed before its first row: about 0.4 s on a big file, 20 ms on this sample."""
    stat = src.data_path.stat()
    if src.work_dir is None or src.encoding == "utf-16" or stat.st_size <= SNIFF_HEAD_BYTES:
        return src.data_path
    # the file may be rewritten (line breaks made one kind): a sample per version
    out = src.work_dir / f"head-{stat.st_mtime_ns}-{stat.st_size}-{src.data_path.name}"
    if not out.exists():
        with src.data_path.open("rb") as f:
            data = f.read(SNIFF_HEAD_BYTES)
        end = data.rfind(b"\n") + 1
        if not end:  # no line ends in the head: the file itself
            return src.data_path
        out.write_bytes(data[:end])
    return out


def spread_sample(src: SourceFile, chunks: int = 16, chunk_bytes: int = 64 * 1024) -> Path:
    """A file of ``src``'s first lines (a CSV's header among them) and whole lines from ``chunks``
    places spread over it (the file itself when it is small): what a time format is judged on
    without reading the whole file. A chunk that starts inside a quoted multi-line value may give
    a broken row; the sample is read leniently."""
    size = src.data_path.stat().st_size
    if src.work_dir is None or src.encoding == "utf-16" or size <= HEAD_BYTES + 2 * chunks * chunk_bytes:
        return src.data_path
    out = src.work_dir / "time-sample.csv"
    with src.data_path.open("rb") as f, out.open("wb") as dst:
        head = f.read(HEAD_BYTES)
        dst.write(head[:head.rfind(b"\n") + 1])
        for i in range(1, chunks + 1):
            f.seek(size * i // (chunks + 1))
            part = f.read(chunk_bytes)
            start, end = part.find(b"\n") + 1, part.rfind(b"\n") + 1
            if 0 < start < end:
                dst.write(part[start:end])
    return out


def parsed_sql(src: SourceFile) -> str:
    """SQL over :func:`objects_sql`'s rows: the row is an object (the line matched its format)."""
    return "_parsed" if src.line_format in linelogs.FLAGGED_FORMATS else "_j IS NOT NULL"


def objects_sql(src: SourceFile, rows: str) -> str:
    """FROM-able: ``rows`` and ``_j``, each row's object: a JSON Lines line's (NULL when it is not
    an object), or a server's line log line's (or record's) fields (NULL when it does not match;
    an access log's: ``_parsed`` says so, see :func:`parsed_sql`)."""
    if src.line_format == "access_log":
        return linelogs.access_log_rows_sql(rows)
    if src.line_format == "aws_elb":
        return linelogs.elb_rows_sql(rows)
    if src.line_format == "heroku_router":
        return linelogs.heroku_rows_sql(rows)
    if src.line_format == "app_log":  # over a record of app_log_records_sql: _line and _more
        obj = linelogs.app_log_object_sql(src.layout, src.modified)
    elif src.line_format == "w3c":  # over a line of w3c_records_sql: _line, _fields and _date
        obj = linelogs.w3c_object_sql()
    else:
        obj = f"CASE WHEN {jsonschemas.is_object_sql('_line')} THEN _line END"
    return f"(SELECT *, {obj} AS _j FROM {rows})"


def reader_sql(src: SourceFile, rejects: str | None = None, lenient: bool = False, head: bool = False) -> str:
    """The reader of ``src``'s rows in any format (a CSV's unsplittable rows to ``rejects``, or
    skipped when ``lenient``); ``head``: of a line log's or an unquoted CSV's first lines only (see
    :func:`head_sample`), for a read of its first rows (a quoted CSV value may hold line breaks: the
    sample's last row could be cut where the file's is whole)."""
    if src.format == "csv":
        sample = head_sample(src) if head and not src.quote else None
        return csv_reader_sql(src, rejects=rejects, lenient=lenient, path=sample)
    if src.schema:
        return rows_reader_sql(src)
    if src.format == "jsonl":
        return records_reader_sql(src, head=head)
    if src.format == "json":
        return json_array_reader_sql(src)
    return parquet_reader_sql(src)


def records_reader_sql(src: SourceFile, limit_lines: int | None = None, head: bool = False) -> str:
    """The reader of ``src``'s rows: an application log's records (a header line and its
    continuation lines), a W3C log's data lines with the fields their header names, else its
    lines (JSON Lines and other line logs); ``head``: of the first lines only, for a log whose line is
    its record (a record cut at the sample's end would read short); ``limit_lines``: of the first
    lines only (its last record may be cut either way)."""
    head = limit_lines or (head and src.line_format not in linelogs.RECORD_FORMATS)
    reader = json_lines_reader_sql(src, path=head_sample(src) if head else None)
    if src.line_format not in linelogs.RECORD_FORMATS:
        return reader
    if limit_lines:
        reader = f"(SELECT * FROM {reader} LIMIT {int(limit_lines)})"
    if src.line_format == "w3c":
        return linelogs.w3c_records_sql(reader)
    return linelogs.app_log_records_sql(src.layout, reader)


def json_lines_reader_sql(src: SourceFile, path: Path | None = None) -> str:
    """read_csv(...) that yields one text column ``_line`` per physical line (blank lines as NULL),
    of ``src`` or a sample of it at ``path``."""
    return (
        f"read_csv({_sql_str(str(path or src.data_path))}, columns = {{'_line': 'VARCHAR'}}, header = false, "
        f"auto_detect = false, delim = {_sql_str(JSON_LINE_DELIM)}, quote = '', escape = '', "
        f"max_line_size = {MAX_LINE_BYTES}, strict_mode = false)"
    )


def rows_reader_sql(src: SourceFile) -> str:
    """The reader of a JSON file's rows (``_line``): its lines or array elements, or the records
    of a tool's shape (jsonschemas) flattened, with ``_line_no`` the line each comes from (NULL
    when the file is one document over many lines)."""
    if not src.schema:
        return json_lines_reader_sql(src) if src.format == "jsonl" else json_array_reader_sql(src)
    if src.format == "jsonl":
        lines = f"(SELECT _line, row_number() OVER () AS _line_no FROM {json_lines_reader_sql(src)})"
    elif src.array:
        lines = f"(SELECT _line, NULL::BIGINT AS _line_no FROM {json_array_reader_sql(src)})"
    else:  # one document, over as many lines as it takes
        lines = f"(SELECT content AS _line, NULL::BIGINT AS _line_no FROM read_text({_sql_str(str(src.data_path))}))"
    if src.schema == "otlp":
        return jsonschemas.otlp_rows_sql(f"(SELECT _line AS _doc, _line_no FROM {lines} "
                                         f"WHERE NOT {linelogs.blank_sql('_line')})")
    if src.schema == "matomo":
        return jsonschemas.matomo_rows_sql(lines)
    return jsonschemas.sentry_rows_sql(lines)


def json_array_reader_sql(src: SourceFile) -> str:
    """The reader that yields one JSON text column ``_line`` per array element: its text, with no
    struct inferred, so that keys differing only in case ('Time' and 'time', Sentry's 'lineNo' and
    'lineno') both load."""
    return (f"(SELECT CAST(json AS VARCHAR) AS _line FROM read_json_objects({_sql_str(str(src.data_path))}, "
            f"format = 'array', maximum_object_size = {MAX_LINE_BYTES}))")


def parquet_reader_sql(src: SourceFile) -> str:
    cols = ", ".join(f'"{c.replace(chr(34), chr(34) * 2)}" AS {src.staged(c)}' for c in src.columns)
    return f"(SELECT file_row_number, {cols} FROM read_parquet({_sql_str(str(src.data_path))}, file_row_number = true))"


def _describe_json(src: SourceFile) -> SourceFile:
    """Collect the keys of the first objects (later keys still reach ``attributes``); Sentry events
    are recognised here, by an exception in the first objects."""
    if src.schema is None and _first_objects_hold(src, jsonschemas.is_sentry_sql("_line"), 100):
        src.schema = "sentry"
    elif src.schema is None and _first_objects_hold(src, jsonschemas.is_matomo_sql("_line"), 20):
        src.schema = "matomo"
    reader = rows_reader_sql(src)
    # keys of the first objects, then those only later lines write (an error's keys in a log whose
    # first thousands of lines are information), from lines spread over a large file (a small
    # file's every line). A JSON source has no work folder, so its spread is the whole file: a key
    # first written anywhere is found (_nested_keys walks one line per JSON structure)
    readers = [(reader, " LIMIT 5000")]
    if src.format == "jsonl" and not src.schema:
        spread = spread_sample(src)
        readers.append((json_lines_reader_sql(src, path=spread), " LIMIT 5000" if spread != src.data_path else ""))
    con = store.scratch()
    try:
        keys = " UNION ALL ".join(
            f"""SELECT unnest(keys) AS k, generate_subscripts(keys, 1) AS pos, {i} AS part, n FROM (
                  SELECT keys, min(n) AS n FROM (
                    SELECT json_keys(_line) AS keys, row_number() OVER () AS n
                    FROM (SELECT _line FROM {r} WHERE {jsonschemas.is_object_sql('_line')}{limit}))
                  GROUP BY keys)"""  # the lines that write the same keys: the first of them
            for i, (r, limit) in enumerate(readers))
        # each key where it is first written: the reader, the line, its place in the line
        rows = con.execute(f"SELECT k, min(part) FROM ({keys}) GROUP BY k ORDER BY min([part, n, pos])").fetchall()
    except DatabaseError as err:
        raise UnusableFile(f"{src.path.name}: not readable as {src.describe()}: {duckdb_reason(err, src)}.") from None
    finally:
        con.close()
    src.columns = [r[0] for r in rows]
    src.late = {k for k, part in rows if part}
    if is_clef(src.columns):  # CLEF leaves out the level, exception and rendered message of lines that have none
        src.columns += [k for k in ("@m", "@l", "@x") if k not in src.columns]
    if not src.columns:
        raise UnusableFile(f"{src.path.name}: no JSON objects found in the first rows; each row must be an object "
                           f"like {{\"timestamp\": ..., \"message\": ...}}.")
    src.nested, src.twins = _nested_keys(readers[:1], set(src.columns))  # of the objects the keys came from
    later, later_twins = _nested_keys(readers[1:], set(src.columns))
    src.late |= later.keys() - src.nested.keys()
    src.nested |= {k: v for k, v in later.items() if k not in src.nested}
    src.twins |= {k: v for k, v in later_twins.items() if k not in src.twins}
    src.columns += list(src.nested)
    src.types = {c: "VARCHAR" for c in src.columns}
    return src


def _first_objects_hold(src: SourceFile, test: str, objects: int) -> bool:
    """Whether any of the file's first ``objects`` JSON objects passes ``test`` (SQL over ``_line``)."""
    reader = json_lines_reader_sql(src) if src.format == "jsonl" else json_array_reader_sql(src)
    con = store.scratch()
    try:
        return bool(con.execute(
            f"SELECT count(*) FROM (SELECT _line FROM {reader} WHERE {jsonschemas.is_object_sql('_line')} "
            f"LIMIT {int(objects)}) WHERE {test}").fetchone()[0])
    except DatabaseError:
        return False  # the reading of the keys says what is wrong
    finally:
        con.close()


# A key in a list of key/value pairs: its path is KV_PATH + the list's path + KV_SEP + the key; its
# value is the pair's first value of these (GA4's typed values; a plain "value" too)
KV_PATH, KV_SEP = "kv:", "\x1f"
KV_VALUES = ("$.value.string_value", "$.value.int_value", "$.value.double_value", "$.value.float_value", "$.value")
# Lists of exceptions, outermost first (Elastic APM's error.exception): their last one's keys are read
EXCEPTION_LISTS = ("exception", "exceptions")
NESTED_DEPTH = 4        # Datadog's 'attributes.attributes.error.kind' is as deep as logs usually go


def _nested_keys(readers: list[tuple[str, str]], top: set[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Keys inside the nested objects of the objects ``readers`` give (each with its LIMIT), as dotted
    names ('properties.$session_id') with their JSON paths, in order of first appearance; and apart,
    the dotted names that are also a top-level key ('log.level' written flat in some lines, nested in
    others)."""
    # Lines of one JSON structure (json_structure: the same keys, nested alike, in the same order)
    # hold the same keys: the structure itself is walked, once, in order of the first line that
    # has it, which finds every key in the order a walk of every line would (a duplicate key's
    # objects merged, as DuckDB reads them; a line DuckDB reads and Python would not, its keys
    # too). Lines are walked one by one where the structure does not tell: a list of objects (the
    # keys of key/value pairs and of a list's last exception are values, or depend on the
    # element), "JSON" (an empty object, a key holding values of two kinds), or no structure.
    whole = "st IS NULL OR contains(st, '[{') OR contains(st, '\"JSON\"')"
    con = store.scratch()
    try:
        lines = [r[0] for reader, limit in readers for r in con.execute(f"""
            WITH l AS (SELECT _line, row_number() OVER () AS n FROM (  -- only an object inside one has nested keys
                         SELECT CAST(_line AS VARCHAR) AS _line FROM {reader}
                         WHERE {jsonschemas.is_object_sql('_line')} AND contains(substr(CAST(_line AS VARCHAR), 2), '{{'){limit})),
                 g AS (SELECT min(n) AS n, st, {whole} AS whole FROM (SELECT n, try(json_structure(_line)) AS st FROM l)
                       GROUP BY st, CASE WHEN {whole} THEN n END)
            SELECT CASE WHEN g.whole THEN l._line ELSE g.st END
            FROM g LEFT JOIN l ON g.whole AND l.n = g.n ORDER BY g.n""").fetchall()]
    except DatabaseError:
        return {}, {}
    finally:
        con.close()
    found: dict[str, str] = {}
    twins: dict[str, str] = {}

    def walk(obj: dict, path: tuple[str, ...], where: str = "$") -> None:
        for key, value in obj.items():
            here, at = (*path, key), f"{where}.{json.dumps(key)}"
            if path:
                (twins if ".".join(here) in top else found).setdefault(".".join(here), at)
            if isinstance(value, dict) and len(here) < NESTED_DEPTH:
                walk(value, here, at)
            elif (isinstance(value, list) and value and isinstance(value[-1], dict) and len(here) < NESTED_DEPTH
                  and key.lower() in EXCEPTION_LISTS):
                walk(value[-1], here, at + "[#-1]")  # a chain of exceptions: its last is the root cause
            elif (isinstance(value, list) and value and len(here) < NESTED_DEPTH
                  and all(isinstance(p, dict) and isinstance(p.get("key"), str) and "value" in p for p in value)):
                where = "$." + ".".join(json.dumps(k) for k in here)
                for pair in value:  # key/value pairs: each key a column of its own
                    found.setdefault(".".join((*here, pair["key"])), KV_PATH + where + KV_SEP + pair["key"])

    for line in lines:
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict):
            walk(obj, ())
    return found, twins


def _describe_parquet(src: SourceFile) -> SourceFile:
    con = store.scratch()
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM read_parquet({_sql_str(str(src.data_path))})").fetchall()
    except DatabaseError as err:
        raise UnusableFile(f"{src.path.name}: a damaged Parquet file: {duckdb_reason(err, src)}.") from None
    finally:
        con.close()
    src.columns = [r[0] for r in rows]
    src.types = {r[0]: r[1] for r in rows}
    return src
