"""Make the bad-input corpus: files a pilot's owners really send, broken in the ways files break.

    python tests/samples/bad/make_bad.py            # (re)writes the small files beside this script

The small files are committed; the large ones (a 2 MB line, a 5,000-column header, a gzip bomb,
a 1 MB field) are made by :func:`make_large` into a temporary folder by the test fixture, to keep
the repository small. Output is deterministic (seeded, fixed times), so a re-run changes nothing.
The expected outcome of each file is in tests/test_bad_input.py.
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
USAGE_HEAD = "timestamp,user_id,event,duration_ms\n"


def _usage_rows(n: int, start: int = 0) -> str:
    return "".join(f"2026-03-02T10:{(start + i) % 60:02d}:00Z,user{i % 7},open,{100 + i}\n" for i in range(n))


def _gzip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as f:  # mtime 0: the same bytes on every run
        f.write(data)
    return buf.getvalue()


def _parquet(rows: int) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"timestamp": [f"2026-03-02T10:{i % 60:02d}:00Z" for i in range(rows)],
                      "user_id": [f"user{i % 7}" for i in range(rows)], "event": ["open"] * rows})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def _xlsx() -> bytes:
    """A minimal Office Open XML workbook, as Excel would save it (what gets renamed to .csv)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in {
            "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                                   'package/2006/content-types"/>',
            "xl/workbook.xml": '<?xml version="1.0"?><workbook/>',
            "xl/worksheets/sheet1.xml": '<?xml version="1.0"?><worksheet><sheetData><row><c t="inlineStr">'
                                        '<is><t>timestamp</t></is></c></row></sheetData></worksheet>',
        }.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 3, 2, 10, 0, 0))
            z.writestr(info, text)
    return buf.getvalue()


def small_files() -> dict[str, bytes]:
    """name -> content of every committed file."""
    files: dict[str, bytes] = {}
    text_rows = "timestamp,user_id,event,team\n" + "".join(
        f"2026-03-02T10:0{i}:00Z,user{i},open,{team}\n" for i, team in enumerate(["Comptabilité", "Réseau", "Ærø"]))
    files["latin1.csv"] = text_rows.encode("latin-1")
    files["utf16.csv"] = text_rows.encode("utf-16")  # with its BOM, little-endian, as Excel's "Unicode text"
    files["utf16_tab.txt"] = text_rows.replace(",", "\t").encode("utf-16")
    files["utf8_bom.csv"] = b"\xef\xbb\xbf" + text_rows.encode("utf-8")
    files["ragged_rows.csv"] = (USAGE_HEAD + _usage_rows(3) + "2026-03-02T11:00:00Z,user9\n"
                                + "2026-03-02T11:01:00Z,user9,open,5,extra,more\n" + _usage_rows(2, 10)).encode()
    quoted = "".join(f'2026-03-02T10:0{i}:00Z,"user{i}","open",{i}\n' for i in range(3))
    files["unclosed_quote.csv"] = (USAGE_HEAD + quoted + '2026-03-02T11:00:00Z,"user9,open,5\n'
                                   + quoted.replace("T10:", "T12:")).encode()
    files["unclosed_quote_unquoted.csv"] = (USAGE_HEAD + _usage_rows(3) + '2026-03-02T11:00:00Z,"user9,open,5\n'
                                            + _usage_rows(3, 20)).encode()
    files["binary_junk.csv"] = bytes((i * 37 + 11) % 256 for i in range(4096))
    files["spreadsheet.csv"] = _xlsx()
    files["truncated.csv.gz"] = _gzip((USAGE_HEAD + _usage_rows(2000)).encode())[:900]
    files["truncated.parquet"] = _parquet(200)[:-300]
    files["broken_line.jsonl"] = (
        b'{"timestamp": "2026-03-02T10:00:00Z", "user_id": "a", "event": "open"}\n'
        b'{"timestamp": "2026-03-02T10:01:00Z", "user_id": "b", "event": "open"\n'
        b'{"timestamp": "2026-03-02T10:02:00Z", "user_id": "c", "event": "open"}\n')
    files["cut_short.json"] = json.dumps(
        [{"timestamp": f"2026-03-02T10:0{i}:00Z", "user_id": f"u{i}", "event": "open"} for i in range(5)]
    ).encode()[:-40]
    files["empty.csv"] = b""
    files["whitespace_only.csv"] = b"  \n\t\n   \r\n\n"
    files["header_only.csv"] = USAGE_HEAD.encode()
    files["duplicate_headers.csv"] = (
        b"timestamp,user_id,event,event,user_id\n"
        b"2026-03-02T10:00:00Z,a,open,close,b\n2026-03-02T10:01:00Z,c,save,quit,d\n")
    files["null_timestamps.csv"] = ("timestamp,user_id,event\n" + ",a,open\n" * 4 + ",,\n").encode()
    files["nul_bytes.csv"] = (USAGE_HEAD + _usage_rows(2)).encode() + b"2026-03-02T10:05:00Z,us\x00er,op\x00en,1\n"
    files["timestamps_mixed.csv"] = (
        b"timestamp,user_id,event\n"
        b"2026-03-02T10:00:00Z,a,iso-utc\n"
        b"2026-03-02T11:00:00+01:00,b,iso-offset\n"
        b"2026-03-02 10:00:00,c,zoneless\n"
        b"2026-03-02T10:00:00.123456Z,d,iso-fraction\n"
        b"\"2026-03-02 10:00:00,123\",e,comma-millis\n"
        b"1772445600,h,epoch-seconds\n"
        b"not a time,f,garbage\n"
        b"32/13/2026 99:99,g,garbage\n")
    files["epoch_and_garbage.csv"] = (
        b"timestamp,user_id,event\n1772445600,a,open\n1772445660,b,open\n1772445720,c,open\n17724456,d,open\n"
        b"soon,e,open\n")
    files["feedback_injection.csv"] = (
        b"timestamp,user_id,rating,comment\n"
        b'2026-03-02T10:00:00Z,a,1,"=HYPERLINK(""http://evil"",""x"")"\n'
        b'2026-03-02T10:01:00Z,b,2,<script>alert(1)</script>\n'
        b'2026-03-02T10:02:00Z,c,5,"+cmd|\' /C calc\'!A0"\n'
        b'2026-03-02T10:03:00Z,d,4,"**bold** [link](http://evil) <img src=x onerror=alert(2)>"\n')
    files["crlf_mixed.csv"] = (b"timestamp,user_id,event\r\n2026-03-02T10:00:00Z,a,open\r\n"
                               b"2026-03-02T10:01:00Z,b,open\n2026-03-02T10:02:00Z,c,open\r\n"
                               b"2026-03-02T10:03:00Z,d,open\r2026-03-02T10:04:00Z,e,open\n")
    files["semicolon_decimal_comma.csv"] = (
        b"timestamp;user_id;event;duration_ms\n"
        b"2026-03-02T10:00:00Z;a;open;1,5\n2026-03-02T10:01:00Z;b;open;250\n"
        b"2026-03-02T10:02:00Z;c;open;12,75\n")
    files["emoji_rtl.csv"] = (
        "timestamp,user_id,rating,comment\n"
        "2026-03-02T10:00:00Z,\u05d3\u05e0\u05d4,5,\u05e9\u05dc\u05d5\u05dd \U0001f600 works great \u202e\u202c\n"
        "2026-03-02T10:01:00Z,\u0645\u0631\u064a\u0645,4,\u0634\u0643\u0631\u0627\u064b \U0001f44d\U0001f3fd\n"
        "2026-03-02T10:02:00Z,zoë,3,\U0001f468\u200d\U0001f469\u200d\U0001f467 family emoji\n").encode()
    files["excel_sep_line.csv"] = (b"sep=;\ntimestamp;user_id;event\n2026-03-02T10:00:00Z;a;open\n"
                                   b"2026-03-02T10:01:00Z;b;open\n")
    files["json_object.json"] = json.dumps(
        {"timestamp": "2026-03-02T10:00:00Z", "user_id": "a", "event": "open", "more": {"x": 1}}, indent=2).encode()
    nested = '{"n": ' * 5000 + '"deep"' + "}" * 5000  # as text: deeper than Python's json recurses
    files["deeply_nested.json"] = ('[{"timestamp": "2026-03-02T10:00:00Z", "user_id": "a", "event": "open", '
                                   f'"payload": {nested}}}, {{"timestamp": "2026-03-02T10:01:00Z", '
                                   '"user_id": "b", "event": "open"}]').encode()
    files["html_error_page.csv"] = (b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
                                    b"<body><h1>502 Bad Gateway</h1></body></html>\n")
    files["wrong_kind.csv"] = (b"timestamp,user_id,rating,comment\n2026-03-02T10:00:00Z,a,5,fine\n")
    files["bad_ratings.csv"] = (b"timestamp,user_id,rating,comment\n2026-03-02T10:00:00Z,a,5,ok\n"
                                b"2026-03-02T10:01:00Z,b,0,zero\n2026-03-02T10:02:00Z,c,6,six\n"
                                b"2026-03-02T10:03:00Z,d,five,word\n2026-03-02T10:04:00Z,e,4,\n")
    files["jsonl_not_objects.jsonl"] = (b'{"timestamp": "2026-03-02T10:00:00Z", "user_id": "a", "event": "open"}\n'
                                        b'[1, 2, 3]\n42\n"text"\nnull\n')
    files["empty.csv.gz"] = _gzip(b"")
    files["sqlite.csv"] = b"SQLite format 3\x00" + bytes(2000)
    files["blank_header_names.csv"] = (b",,\n2026-03-02T10:00:00Z,a,open\n")
    files["parquet_no_time.parquet"] = _parquet_no_time()
    files["years_out_of_range.csv"] = (b"timestamp,user_id,event\n0001-01-01T00:00:00Z,a,open\n"
                                       b"9999-12-31T23:59:59Z,b,open\n2026-03-02T10:00:00Z,c,open\n"
                                       b"2026-02-30T10:00:00Z,d,open\n")
    return files


def _parquet_no_time() -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table({"user_id": ["a", "b"], "event": ["open", "close"]}), buf)
    return buf.getvalue()


def make_large(out: Path) -> dict[str, Path]:
    """Write the large cases into ``out``; return name -> path. Used by the test fixture."""
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}
    files["long_line.csv"] = (USAGE_HEAD + _usage_rows(2) + "2026-03-02T10:30:00Z,user1,open,"
                              + "9" * (2 * 1024 * 1024 + 10) + "\n" + _usage_rows(2, 40)).encode()
    files["long_field.csv"] = ("timestamp,user_id,rating,comment\n2026-03-02T10:00:00Z,a,3,\""
                               + "very long comment, " * 60_000 + "\"\n2026-03-02T10:01:00Z,b,4,short\n").encode()
    names = ["timestamp", "user_id", "event"] + [f"extra_{i:04d}" for i in range(4997)]
    files["wide_5000_columns.csv"] = (",".join(names) + "\n" + "".join(
        f"2026-03-02T10:0{r}:00Z,u{r},open," + ",".join(str(i % 10) for i in range(4997)) + "\n"
        for r in range(3))).encode()
    bomb = io.BytesIO()  # 64 MB of one repeated row: about 200 KB compressed; the test caps at 1 MB
    with gzip.GzipFile(fileobj=bomb, mode="wb", mtime=0, compresslevel=9) as f:
        f.write(USAGE_HEAD.encode())
        row = b"2026-03-02T10:00:00Z,user1,open,100\n" * 29_000
        for _ in range(64):
            f.write(row)
    files["gzip_bomb.csv.gz"] = bomb.getvalue()
    paths = {}
    for name, data in files.items():
        (out / name).write_bytes(data)
        paths[name] = out / name
    return paths


def main() -> None:
    for old in HERE.iterdir():
        if old.is_file() and old.name != Path(__file__).name:
            old.unlink()
    for name, data in small_files().items():
        (HERE / name).write_bytes(data)
    total = sum(p.stat().st_size for p in HERE.iterdir())
    print(f"wrote {len(small_files())} files, {total / 1024:.0f} KB, into {HERE}")


if __name__ == "__main__":
    main()
