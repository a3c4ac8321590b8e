"""Seeded, deterministic generator for the "Invoice triage assistant" demo pilot.

Writes three real files (gzip CSV usage log, JSON Lines feedback, Parquet
exceptions) that are ingested through the normal user path. All people,
domains and numbers are fictional (``.example`` domains, Ofcom drama numbers).
"""
from __future__ import annotations

import gzip
import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

DEMO_PILOT: dict = {
    "name": "Invoice triage assistant",
    "capability": "Reads incoming supplier invoices, extracts key fields, suggests GL codes, "
                  "flags likely duplicates and routes each invoice for approval before ERP posting.",
    "sponsor": "Helen Okafor, Director of Finance Operations",
    "owner": "Tom Brennan",
    "start_date": "2026-07-06",
    "end_date": "2026-09-13",
    "risk_tier": "medium",
    "time_zone": "Europe/London",
    "work_days": "Mon-Fri",
    "work_start": "08:00",
    "work_end": "18:00",
    "validated_by": "Aisha Rahman, Internal Audit (Data & Analytics)",
    "validated_on": "2026-06-19",
    "validation_method": "Back-tested on 2,000 historical Q1 2026 invoices against the coding chosen by senior AP clerks.",
    "validation_result": "GL suggestions matched the clerks on 91% of invoices. Field extraction was 97% accurate "
                         "on single-page PDFs and 88% on multi-page PDFs.",
}

_START = date(2026, 7, 6)
_DAYS = 70
_TZ = ZoneInfo("Europe/London")
_BASE_EPOCH = int(datetime(2026, 7, 6, tzinfo=UTC).timestamp())  # local midnight, read as UTC
_DOMAIN = "northwind-finance.example"
_TEAMS = ("Accounts Payable", "Procurement", "Finance Ops", "Shared Services")
_FEATURES = ("auto-triage", "field-extraction", "gl-code-suggestion", "duplicate-check", "erp-export", "bulk-approve")
_EVENTS = ("open_invoice", "run_triage", "accept_suggestion", "override_suggestion", "search", "export",
           "extract_fields", "edit_field", "check_duplicates", "bulk_approve", "select_invoices")
# P(event | feature); rows follow _FEATURES, columns follow _EVENTS.
_EVENT_P = np.array([
    [.25, .35, .30, .10, 0, 0, 0, 0, 0, 0, 0],
    [.35, 0, 0, 0, 0, 0, .40, .25, 0, 0, 0],
    [0, 0, .55, .30, .15, 0, 0, 0, 0, 0, 0],
    [.25, 0, 0, 0, .15, 0, 0, 0, .60, 0, 0],
    [.20, 0, 0, 0, 0, .80, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, .60, .40],
])
_FEATURE_P = np.array([.32, .22, .18, .12, .16])  # session mix (bulk-approve is injected separately)
_FAIL_P = np.array([.04, .06, .12, .02, .05, .15])
_DUR_MEDIAN_MS = np.array([1800, 6500, 1200, 800, 3000, 4500])
_DUR_SIGMA = np.array([.5, .7, .5, .4, .6, .6])
_VERSIONS = ("1.4.2", "1.4.3", "1.5.0")
_RELEASE_DAYS = (14, 42)  # 1.4.3 and 1.5.0 (server deploys on the same days)
_SPIKE_WEEKS = (6, 7)  # zero-based: pilot weeks 7-8
_FIRST = ["Priya", "Tom", "Aisha", "James", "Olivia", "Mohammed", "Sophie", "Daniel", "Chloe", "Kwame", "Emily",
          "Liam", "Fatima", "Oliver", "Hannah", "Ravi", "Grace", "Connor", "Amara", "Lucy", "Jakub", "Megan", "Ethan",
          "Zara", "Sean", "Isla", "Tariq", "Rebecca", "Harry", "Niamh", "Wei", "Charlotte", "Marcus", "Anjali",
          "George", "Eleanor", "Kofi", "Ruth", "Callum", "Yasmin", "Ben", "Maria", "Dominic", "Leah", "Ibrahim",
          "Freya", "Patrick", "Sana", "Owen", "Katie", "Lukas", "Imogen", "Arjun", "Rosie", "Femi", "Gemma",
          "Stefan", "Holly", "Nikhil", "Abigail", "Rory", "Mei"]
_LAST = ["Shah", "Clarke", "Khan", "Wilson", "Patel", "Evans", "Murphy", "Okafor", "Thompson", "Nowak", "Hughes",
         "Campbell", "Begum", "Roberts", "Walsh", "Singh", "Morgan", "Ahmed", "Bennett", "Kowalski", "Lewis", "Chen",
         "O'Brien", "Mensah", "Turner", "Hussain", "Fraser", "Davies", "Reid", "Iqbal", "Price", "Adeyemi",
         "Harrison", "MacLeod", "Gallagher", "Baker", "Sharma", "Kelly", "Wright", "Lindqvist", "Osei", "Barnes",
         "Nguyen", "Fitzgerald", "Rahman", "Cooper", "Jones", "Ward", "Ali", "Stewart", "Doyle", "Morris",
         "Kaur", "Parry", "Edwards", "Haddad", "Bell", "Hall", "Young", "Quinn", "Watts", "Byrne"]


def _utc_offsets() -> np.ndarray:
    """UTC offset (seconds) of Europe/London at noon on each pilot day."""
    return np.array([int(datetime.combine(_START + timedelta(d), datetime.min.time().replace(hour=12),
                                          _TZ).utcoffset().total_seconds()) for d in range(_DAYS)])


def _roster(rng: np.random.Generator, n: int = 60) -> dict[str, np.ndarray]:
    """Users with email, team, join day (first active day), activity level, dormancy and holidays."""
    fi = np.concatenate([[0], 1 + rng.permutation(len(_FIRST) - 1)[: n - 1]])
    li = np.concatenate([[0], 1 + rng.permutation(len(_LAST) - 1)[: n - 1]])
    emails = np.array([f"{_FIRST[a]}.{_LAST[b]}@{_DOMAIN}".lower().replace("'", "") for a, b in zip(fi, li)])
    activity = rng.lognormal(0.0, 0.6, n)
    power = np.concatenate([[0], 1 + rng.choice(n - 1, 3, replace=False)])
    activity[power] *= 5.0
    weekdays = np.array([d for d in range(1, 33) if d % 7 < 5])
    join = rng.choice(weekdays, n) * (rng.random(n) < 0.85)  # ~15% are day-one champions
    champions = np.concatenate([power, rng.choice(n, 6, replace=False)])
    join[champions] = 0
    days = np.arange(_DAYS)
    avail = days[None, :] >= join[:, None]
    sleepers = rng.choice(np.setdiff1d(np.arange(n), champions), 10, replace=False)
    for i, u in enumerate(sleepers):  # dormancy; the first three come back later
        start = min(join[u] + int(rng.integers(12, 30)), _DAYS - 7)
        end = start + int(rng.integers(8, 20)) if i < 3 else _DAYS
        avail[u, start:end] = False
    for u in rng.choice(n, 24, replace=False):  # summer holidays of one or two weeks
        start = int(rng.choice(weekdays)) + 14
        avail[u, start:start + int(rng.choice([7, 14]))] = False
    # greedy, activity-weighted team assignment so Accounts Payable carries ~45% of the events
    load, team, target = np.zeros(4), np.zeros(n, int), np.array([.45, .19, .19, .17])
    weight = activity * avail.sum(axis=1) * rng.uniform(0.8, 1.25, n)
    for u in np.argsort(-weight, kind="stable"):
        team[u] = int(np.argmax(target - load / max(load.sum(), 1e-9)))
        load[team[u]] += weight[u]
    return {"emails": emails, "team": team, "join": join, "activity": activity, "avail": avail}


def _usage(rng: np.random.Generator, users: dict[str, np.ndarray], target: int = 150_000) -> dict[str, np.ndarray]:
    """Session-structured usage events, sorted by local time."""
    days = np.arange(_DAYS)
    dow = days % 7
    day_w = np.where(dow < 5, 1.0, np.where(dow == 5, 0.05, 0.025))
    day_w[56] = 0.05  # Mon 31 Aug 2026: summer bank holiday
    day_w *= 1.0 - 0.15 * np.clip(days - 35, 0, None) / 35  # novelty wears off a little after week 5
    join = users["join"]
    ramp = np.where(days[None, :] - join[:, None] < 5, 0.6, 1.0)
    lam = users["activity"][:, None] * day_w[None, :] * ramp * users["avail"]
    lengths_support = np.arange(5, 61)
    len_p = np.exp(-((np.log(lengths_support) - np.log(14)) ** 2) / (2 * 0.65 ** 2)) / lengths_support
    len_p /= len_p.sum()
    counts = rng.poisson(lam * target / (lam.sum() * (lengths_support * len_p).sum()))
    counts[np.arange(len(join)), join] = np.maximum(counts[np.arange(len(join)), join], 1)
    cell = np.repeat(np.arange(counts.size), counts.ravel())
    s_user, s_day = cell // _DAYS, cell % _DAYS
    n_s = len(cell)
    weekday = s_day % 7 < 5
    hour_w = np.array([.6, 1.2, 1.3, 1.2, .8, .7, 1.1, 1.2, 1.0, .6])
    hour = np.where(weekday, rng.choice(np.arange(8, 18), n_s, p=hour_w / hour_w.sum()), rng.integers(9, 17, n_s))
    hour = np.where(weekday & (rng.random(n_s) < 0.06), rng.integers(18, 22, n_s), hour)
    s_start = s_day * 86400 + hour * 3600 + rng.integers(0, 3600, n_s)
    s_len = rng.choice(lengths_support, n_s, p=len_p)
    first = np.cumsum(s_len) - s_len
    sess = np.repeat(np.arange(n_s), s_len)
    n = len(sess)
    pos = np.arange(n) - first[sess]
    gaps = np.where(pos == 0, 0, rng.exponential(45.0, n).astype(np.int64) + 3)
    csum = np.cumsum(gaps)
    t_local = s_start[sess] + csum - csum[first][sess]
    primary = rng.choice(5, n_s, p=_FEATURE_P)
    feat = np.where(rng.random(n) < 0.55, primary[sess], rng.choice(5, n, p=_FEATURE_P))
    # bulk-approve: tried once or twice in a user's first week, then (almost) abandoned
    tried = rng.random(len(join)) < np.clip(0.9 - join / 50, 0.35, 0.9)
    for u in np.flatnonzero(tried):
        cand = np.flatnonzero((s_user == u) & (s_day >= join[u]) & (s_day < join[u] + 7))
        for s in rng.choice(cand, min(len(cand), 1 + int(rng.random() < 0.4)), replace=False):
            m = int(rng.integers(1, 4))
            p0 = first[s] + int(rng.integers(0, s_len[s] - m + 1))
            feat[p0:p0 + m] = 5
    for u in rng.choice(np.flatnonzero(tried), 2, replace=False):
        late = np.flatnonzero((s_user == u) & (s_day >= 42))
        if len(late):
            feat[first[rng.choice(late)]] = 5
    cum = np.cumsum(_EVENT_P, axis=1)
    event = (rng.random(n)[:, None] > cum[feat]).sum(axis=1)
    day = np.minimum(t_local // 86400, _DAYS - 1)  # sessions crossing midnight keep a valid day
    week = np.minimum(day // 7, 9)
    fail_mult = np.where(np.isin(week, _SPIKE_WEEKS), 1.7, 1.0)
    failure = rng.random(n) < _FAIL_P[feat] * fail_mult
    duration = rng.lognormal(np.log(_DUR_MEDIAN_MS[feat]), _DUR_SIGMA[feat]) * np.where(failure, 2.5, 1.0)
    user = s_user[sess]
    lag = rng.geometric(0.3, (2, len(join))) - 1
    version = sum((day >= r + lag[i][user]).astype(int) for i, r in enumerate(_RELEASE_DAYS))
    sid = rng.integers(0, 2 ** 40, n_s)
    while len(np.unique(sid)) < n_s:  # practically never; keeps ids unique
        _, keep = np.unique(sid, return_index=True)
        dup = np.setdiff1d(np.arange(n_s), keep)
        sid[dup] = rng.integers(0, 2 ** 40, len(dup))
    order = np.argsort(t_local, kind="stable")
    ev = {"t_local": t_local, "user": user, "sess": sess, "event": event, "feat": feat, "failure": failure,
          "blank": rng.random(n) < 0.004, "duration": duration.astype(np.int64), "version": version, "day": day}
    ev = {k: v[order] for k, v in ev.items()}
    ev["sid_text"] = np.array([f"s-{x:010x}" for x in sid])
    return ev


def _dict_col(values: tuple | np.ndarray, idx: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Decode integer codes into a plain string column."""
    indices = pa.array(idx, pa.int32(), mask=mask)
    arr = pa.DictionaryArray.from_arrays(indices, pa.array(list(values), pa.string()))
    return arr.dictionary_decode()


def _write_usage(path: Path, ev: dict[str, np.ndarray], users: dict[str, np.ndarray]) -> None:
    """Write the usage log as gzip CSV with a plain (unquoted) header."""
    n_s = len(ev["sid_text"])
    table = pa.table({
        "time": pa.array(_BASE_EPOCH + ev["t_local"], pa.timestamp("s")).cast(pa.string()),
        "user": _dict_col(users["emails"], ev["user"]),
        "session_id": _dict_col(ev["sid_text"], ev["sess"]) if n_s else pa.array([], pa.string()),
        "event": _dict_col(_EVENTS, ev["event"]),
        "feature": _dict_col(_FEATURES, ev["feat"]),
        "duration_ms": pa.array(ev["duration"]),
        "outcome": _dict_col(("success", "failure"), ev["failure"].astype(int), mask=ev["blank"]),
        "team": _dict_col(_TEAMS, users["team"][ev["user"]]),
        "client_version": _dict_col(_VERSIONS, ev["version"]),
    })
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    body = (",".join(table.column_names) + "\n").encode() + sink.getvalue().to_pybytes()
    path.write_bytes(gzip.compress(body, compresslevel=6, mtime=0))


# --- exceptions ------------------------------------------------------------------------------
_APP, _LIB = "/opt/northwind/app/triage", "/usr/local/lib/python3.11/site-packages"
_R_EXPORT = ("api/routes/export.py", 58, "post_export", "result = exporter.push(invoice_id)")
_R_EXTRACT = ("pipeline/extract.py", 77, "extract_fields", "pages = self.ocr.recognise(document)")
_R_SUGGEST = ("api/routes/suggest.py", 37, "suggest_gl", "return suggester.suggest(invoice)")
_R_INGEST = ("pipeline/ingest.py", 58, "load_document", "raw = storage.read_pdf(doc.path)")
# key: (error_type, level, component, weight, linked features, nightly share, frames); '~' marks library frames
_MODES: dict[str, tuple] = {
    "erp_timeout": ("TimeoutError", "ERROR", "erp-connector", 30, (4, 0), .08, [
        _R_EXPORT, ("erp/client.py", 131, "get_invoice", "resp = self._http.get(url, timeout=self.timeout_s)"),
        ("~httpx/_client.py", 1054, "get", "return self.request("),
        ("~httpcore/_sync/connection_pool.py", 256, "handle_request", "raise exc from None")]),
    "ocr_reset": ("ConnectionResetError", "ERROR", "extractor", 11, (1,), .03, [
        _R_EXTRACT, ("ocr/vendor_client.py", 49, "recognise", "resp = self._session.post(self.endpoint, files=files)"),
        ("~requests/sessions.py", 637, "post", 'return self.request("POST", url, data=data, json=json, **kwargs)'),
        ("~urllib3/connectionpool.py", 793, "urlopen", "response = self._make_request(")]),
    "token_expired": ("TokenExpiredError", "WARNING", "auth", 10, (0, 1, 2, 3, 4), 0, [
        ("api/middleware.py", 41, "authenticate", 'claims = verify_token(request.headers["Authorization"])'),
        ("auth/tokens.py", 88, "verify_token", "payload = jwt.decode(token, key, algorithms=[\"RS256\"])"),
        ("~jwt/api_jwt.py", 211, "decode", "decoded = self.decode_complete(jwt, key, algorithms, options)"),
        ("~jwt/api_jwt.py", 331, "_validate_exp", 'raise ExpiredSignatureError("Signature has expired")')]),
    "amount_parse": ("ValueError", "ERROR", "extractor", 9, (1,), 0, [
        _R_EXTRACT, ("extract/lines.py", 64, "parse_line", "amount = parse_amount(cells[-1], locale=self.locale)"),
        ("extract/amounts.py", 29, "parse_amount", "raise ValueError(msg)")]),
    "rate_limit": ("RateLimitError", "WARNING", "gl-suggester", 8, (2,), 0, [
        _R_SUGGEST, ("gl/model_client.py", 45, "predict", "resp.raise_for_status()"),
        ("~httpx/_models.py", 829, "raise_for_status", "raise HTTPStatusError(message, request=request, response=self)")]),
    "vat_keyerror": ("KeyError", "ERROR", "gl-suggester", 7, (2,), 0, [
        _R_SUGGEST, ("gl/suggester.py", 71, "suggest", "feats = supplier_features(record)"),
        ("gl/features.py", 52, "supplier_features", 'vat = record["vat_number"]')]),
    "dup_stale": ("StaleIndexWarning", "WARNING", "duplicate-check", 6, (3,), .25, [
        ("api/routes/duplicates.py", 22, "check_duplicates", "return checker.check(invoice)"),
        ("dedupe/checker.py", 95, "check", "self.index.ensure_fresh(max_lag=500)"),
        ("dedupe/index.py", 140, "ensure_fresh", "raise StaleIndexWarning(lag)")]),
    "perm_denied": ("PermissionError", "ERROR", "storage", 4, (1, 4), .1, [
        ("api/routes/documents.py", 31, "get_document", "return ingest.load_document(doc_id)"), _R_INGEST,
        ("storage/shared_drive.py", 33, "read_pdf", 'with open(path, "rb") as fh:')]),
    "pdf_empty": ("PdfReadError", "WARNING", "extractor", 4, (1,), 0, [
        ("api/routes/documents.py", 44, "upload", "doc = ingest.load_document(upload.id)"),
        ("pipeline/ingest.py", 71, "load_document", "n = render.page_count(raw)"),
        ("pdf/render.py", 118, "page_count", "return len(PdfReader(io.BytesIO(raw)).pages)"),
        ("~pypdf/_reader.py", 486, "_get_num_pages", "raise PdfReadError(msg)")]),
    "erp_rejected": ("ERPValidationError", "ERROR", "export", 4, (4,), 0, [
        _R_EXPORT, ("erp/client.py", 162, "post_invoice", "raise_for_erp_status(resp)"),
        ("erp/errors.py", 18, "raise_for_erp_status", "raise ERPValidationError(body[\"message\"])")]),
    "schema": ("SchemaMismatchError", "ERROR", "erp-connector", 3, (4,), .4, [
        ("jobs/erp_sync.py", 64, "sync_invoices", "rows = client.fetch_batch(since)"),
        ("erp/client.py", 205, "fetch_batch", "validate_columns(payload, expected=ERP_COLUMNS)"),
        ("erp/schema.py", 22, "validate_columns", "raise SchemaMismatchError(msg)")]),
    "db_pool": ("TimeoutError", "ERROR", "api", 2, (0, 1, 2, 3, 4), 0, [
        ("api/routes/queue.py", 29, "list_queue", "with get_session() as db:"),
        ("db/session.py", 44, "get_session", "conn = engine.connect()"),
        ("~sqlalchemy/pool/impl.py", 168, "_do_get", "raise exc.TimeoutError(")]),
    "currency": ("ValueError", "WARNING", "gl-suggester", 1.5, (2,), 0, [
        _R_SUGGEST, ("gl/suggester.py", 66, "suggest", "gross = to_gbp(invoice.total, invoice.currency)"),
        ("gl/currency.py", 19, "to_gbp", "raise ValueError(f\"Unsupported currency {code!r} on invoice {inv}\")")]),
    "bulk_memory": ("MemoryError", "ERROR", "workflow", .5, (5,), 0, [
        ("api/routes/bulk.py", 48, "bulk_approve", "return workflow.approve_batch(ids)"),
        ("workflow/bulk.py", 103, "approve_batch", "frame = invoices.merge(approvals, on=\"invoice_id\")"),
        ("~pandas/core/reshape/merge.py", 184, "merge", "return op.get_result(copy=copy)")]),
    "segfault": ("SegmentationFault", "CRITICAL", "extractor", 0, (1,), 0, [
        _R_EXTRACT, ("pdf/render.py", 61, "rasterise", "bitmap = page.render(scale=self.dpi / 72)"),
        ("~pypdfium2/_helpers/page.py", 391, "render", "ok = pdfium_c.FPDF_RenderPageBitmap(")]),
}


def _messages(key: str, r: np.random.Generator, n: int, emails: list, utc: np.ndarray) -> list[str]:
    """Error messages with varying parameters (ids, counts, values) for one failure mode."""
    inv = [f"INV-2026-{x:06d}" for x in r.integers(1, 9000, n)]
    hx = [f"{a:016x}{b:016x}" for a, b in zip(r.integers(0, 2 ** 63, n), r.integers(0, 2 ** 63, n))]
    k = r.integers(0, 1_000_000, n)
    if key == "erp_timeout":
        return [f"Timeout after {30000 if x % 5 else 60000} ms calling https://erp.{_DOMAIN}/api/v2/invoices/{i}"
                + ("/lines" if x % 7 == 0 else "") for x, i in zip(k, inv)]
    if key == "ocr_reset":
        return [f"Connection reset by peer: ocr.vendor-cloud.example:443 (attempt {x % 3 + 1}/3)" for x in k]
    if key == "token_expired":
        return [f"Token expired for user {e} (exp={t - x % 3600})" for e, t, x in zip(emails, utc, k)]
    if key == "amount_parse":
        fmt = ["{a}.{b:03d},{c:02d}", "{a} {b:03d},{c:02d}", "EUR {a}.{b:03d},{c:02d}", "{a},{b:03d}.{c:02d}-",
               "£{a},{b:03d}.{c:02d} CR", "{a}.{b:03d}.{c:02d}"]
        parts = zip(r.integers(0, 6, n), r.integers(1, 98, n), r.integers(0, 1000, n), r.integers(0, 100, n), k, inv)
        return [f"Could not parse amount '{fmt[f].format(a=a, b=b, c=c)}' in invoice {i} line {x % 23 + 1}"
                for f, a, b, c, x, i in parts]
    if key == "rate_limit":
        return [f"Rate limit exceeded (429) from gl-model endpoint, retry in {x % 28 + 2} s" for x in k]
    if key == "vat_keyerror":
        return [f"KeyError: 'vat_number' in supplier record {h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"
                for h in hx]
    if key == "dup_stale":
        return [f"Duplicate check index stale: {x % 4000 + 501} documents behind" for x in k]
    if key == "perm_denied":
        return [f"Permission denied: /mnt/shared/invoices/2026/{datetime.fromtimestamp(int(t), UTC).month:02d}"
                f"/{i}.pdf" for t, i in zip(utc, inv)]
    if key == "pdf_empty":
        return [f"PDF has 0 pages: upload {h[:12]}" for h in hx]
    if key == "erp_rejected":
        return [f"ERP rejected posting for {i}: document already posted as 5100{x:06d}" for x, i in zip(k, inv)]
    if key == "schema":
        return [f"Schema mismatch: expected 14 columns in ERP response, got {13 if x % 4 else 12}" for x in k]
    if key == "db_pool":
        return [f"QueuePool limit of size 20 overflow 10 reached, connection timed out, timeout {5 + x % 300 / 100:.2f}"
                for x in k]
    if key == "currency":
        return [f"Unsupported currency '{('CHF', 'SEK', 'PLN', 'NOK')[x % 4]}' on invoice {i}" for x, i in zip(k, inv)]
    if key == "bulk_memory":
        return [f"MemoryError while approving batch of {x % 900 + 300} invoices (limit 2048 MB)" for x in k]
    return [f"Segmentation fault in pdf renderer (worker pid {x % 60000 + 1200})" for x in k]


def _trace(key: str, deploy: int) -> str:
    """Traceback header for a mode; in-app line numbers move a little with each deploy."""
    lines = ["Traceback (most recent call last):"]
    for j, (path, line, func, code) in enumerate(_MODES[key][6]):
        if path.startswith("~"):
            full = f"{_LIB}/{path[1:]}"
        else:
            full, line = f"{_APP}/{path}", line + deploy * (2 + (j * 7 + len(key)) % 9)
        lines += [f'  File "{full}", line {line}, in {func}', f"    {code}"]
    return "\n".join(lines) + "\n"


def _exceptions(rng: np.random.Generator, ev: dict, users: dict, offsets: np.ndarray, target: int = 15_000) -> pa.Table:
    """Exceptions linked to usage events (uid/session) or to nightly batch jobs (no uid)."""
    keys = [k for k in _MODES if _MODES[k][3] > 0]
    weights = np.array([_MODES[k][3] for k in keys], float)
    counts = dict(zip(keys, rng.multinomial(target - 6, weights / weights.sum()))) | {"segfault": 6}
    utc_local = _BASE_EPOCH + ev["t_local"] - offsets[ev["day"]]
    spike = np.isin(np.minimum(ev["day"] // 7, 9), _SPIKE_WEEKS)
    cols: dict[str, list] = {c: [] for c in ("ts", "uid", "sid", "type", "msg", "trace", "level", "comp", "host")}
    for key in _MODES:
        etype, level, comp, _, feats, night_share, _ = _MODES[key]
        c = int(counts[key])
        n_night = int(rng.binomial(c, night_share)) if night_share else 0
        pool = np.flatnonzero(np.isin(ev["feat"], feats))
        w = 1.0 + 6.0 * ev["failure"][pool] * (1 + 3.0 * spike[pool] * (key == "erp_timeout"))
        pick = pool[rng.choice(len(pool), c - n_night, p=w / w.sum())]
        ndays = rng.choice(_DAYS, n_night, p=_night_day_p(key == "erp_timeout"))
        night_utc = _BASE_EPOCH + ndays * 86400 + 7200 + rng.integers(0, 2400, n_night) - offsets[ndays]
        utc = np.concatenate([utc_local[pick], night_utc])
        day = np.concatenate([ev["day"][pick], ndays])
        emails = [str(e) for e in users["emails"][ev["user"][pick]]] + [None] * n_night
        cols["ts"].append(utc * 1000 + rng.integers(20, 2500, c))
        cols["uid"] += emails
        cols["sid"] += [str(s) for s in ev["sid_text"][ev["sess"][pick]]] + [None] * n_night
        cols["msg"] += _messages(key, rng, c, emails, utc)
        deploy = (day >= _RELEASE_DAYS[0]).astype(int) + (day >= _RELEASE_DAYS[1])
        head = [_trace(key, d) for d in range(3)]
        cols["trace"] += [head[d] + (m if m.startswith(etype + ":") else f"{etype}: {m}")
                          for d, m in zip(deploy, cols["msg"][-c:])]
        cols["type"] += [etype] * c
        cols["level"] += [level] * c
        cols["comp"] += [comp] * c
        hosts = [f"triage-worker-{h}" for h in rng.integers(1, 5, c - n_night)] + ["triage-batch-1"] * n_night
        cols["host"] += hosts
    ts = np.concatenate(cols.pop("ts"))
    order = np.argsort(ts, kind="stable")
    table = pa.table({
        "@timestamp": pa.array(ts, pa.timestamp("ms", tz="UTC")),
        "uid": pa.array(cols["uid"], pa.string()), "session_id": pa.array(cols["sid"], pa.string()),
        "error_type": cols["type"], "error_message": cols["msg"], "stack_trace": cols["trace"],
        "level": cols["level"], "component": cols["comp"], "host": cols["host"],
    })
    return table.take(pa.array(order))


def _night_day_p(spike: bool) -> np.ndarray:
    """Day weights for nightly batch failures (ERP sync fails more in weeks 7-8)."""
    w = np.ones(_DAYS)
    if spike:
        w[np.isin(np.arange(_DAYS) // 7, _SPIKE_WEEKS)] = 3.0
    return w / w.sum()


# --- feedback --------------------------------------------------------------------------------
_SUPPLIERS = ["Brightwell Stationery", "Harrow & Finch Catering", "Tamworth Freight", "Kestrel IT Services",
              "Bluebell Cleaning Co", "Meridian Energy Supply", "Oakham Legal LLP", "Pennine Couriers",
              "Silverline Travel", "Castlegate Facilities", "Norland Print", "Vantage Cloud Hosting"]
_FILL = {
    "hours": ["an hour", "half an hour", "45 minutes", "two hours", "20 minutes", "an hour and a half"],
    "kind": ["utilities", "facilities", "IT hardware", "travel", "catering", "logistics", "stationery"],
    "doc": ["multi-page PDFs", "scanned invoices", "credit notes", "utility bills", "foreign-currency invoices",
            "UBL e-invoices", "self-billing statements"],
    "weekday": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
    "times": ["twice", "three times", "four times", "again"],
    "expense": ["travel", "software subscription", "catering", "courier", "legal fees", "cleaning"],
    "feature": ["auto-triage", "GL suggestions", "the duplicate check", "field extraction", "line-level coding"],
    "country": ["German", "Dutch", "French", "Spanish", "Italian", "Polish"],
    "version": ["1.4.3", "1.5.0"],
    "action": ["accept suggestions", "skip to the next invoice", "override the GL code", "open the PDF", "flag a duplicate"],
}
_TEMPLATES: dict[str, list[str]] = {
    "praise": ["Saves me about {hours} a day on triage", "GL code suggestions are right {pct}% of the time for {kind} invoices",
               "Duplicate check caught a £{amount} duplicate from {supplier} on {weekday}, we'd have paid it twice",
               "Field extraction on {doc} is really accurate now", "Cleared {n} invoices before lunch, used to take all day",
               "Auto-triage routing for {supplier} is spot on", "Much faster than the old shared mailbox process, {n} invoices done by {hh}",
               "Love that it pre-fills the cost centre, did {n} invoices this morning without touching the keyboard",
               "Month-end close was so much calmer this time, finished {small} hours early",
               "Really like the confidence score next to each suggestion on {supplier} invoices",
               "The whole of {team} uses it for everything now", "ERP export just works, posted {n} invoices in one go",
               "Override reasons are a great idea, the suggestions got better for {supplier} within a week"],
    "speed": ["Extraction takes {secs}+ seconds on multi-page PDFs", "Queue takes ages to load on Monday mornings ({n} invoices waiting)",
              "Search is slow when filtering by supplier, about {secs} s each time",
              "GL suggestions take {secs} seconds to appear after opening an invoice",
              "Export to ERP hangs for a minute or more with batches over {n}", "Very slow today, {secs} s per invoice on {doc}"],
    "error": ["Kept getting 'session expired' mid-batch, lost {n} invoices of work", "ERP export failed {times} this week",
              "Suggested GL {gl} for a {expense} invoice, it should be {gl2}", "Duplicate check flagged {inv} as a duplicate of itself",
              "Extraction read the VAT amount as the total on {supplier} invoices", "Got a blank screen after clicking accept on {inv}",
              "Credit note from {supplier} came through as a positive amount",
              "Timeout when exporting {inv}, had to key it into the ERP by hand",
              "Amounts like {euro} aren't parsed on {country} supplier invoices",
              "Logged out {times} today while triaging {supplier} invoices"],
    "bulk": ["Tried bulk approve once, it approved {n} invoices I hadn't checked. Not using it again",
             "Bulk approve is too risky without a preview of what's in the batch, nearly approved £{amount} blind",
             "Bulk approve timed out on {n} invoices and I couldn't tell which ones went through"],
    "idea": ["Would love a keyboard shortcut to {action}", "Please support {doc}",
             "Could we get {feature} for {doc}?", "It would help to see the supplier's last {small} invoices next to the suggestion",
             "Please add a filter for invoices over £{amount}", "Can bulk approve show the total value before I confirm?",
             "An undo button for overrides would be great, I mis-clicked on {inv}",
             "Would be great to export the {team} triage queue to Excel",
             "Let us set default GL codes per supplier, e.g. {supplier} is always {gl}",
             "Dark mode please, I'm staring at this {small} hours a day", "Show the PO number next to {feature} results"],
    "question": ["How do I get access for a new starter in {team}?",
                 "Who do I contact when the ERP export fails? Raised ticket INC{ticket} but no reply yet",
                 "Is supplier master data refreshed daily? {supplier} still shows their old address",
                 "Why does bulk approve need manager sign-off for {small}0+ invoices?",
                 "Can I use this for {doc} as well or only standard invoices?",
                 "Where can I find the training video mentioned at the {team} kickoff?",
                 "Does the confidence score take the PO into account for {kind} invoices?", "Lost my access after the {version} update, is that expected?",
                 "Which GL chart does it use? It suggested {gl} which we retired last year"],
    "leak": ["I could see another supplier's bank details (acct {acct}) in the preview",
             "The preview for {inv} showed a customer email ({cust}) that isn't ours",
             "Extraction pulled a phone number (+44 20 7946 0{d3}) and contact name from a different supplier's invoice",
             "Search results showed {supplier}'s sort code 40-{d2}-{d2b} and account {acct} to the whole team",
             "Comment field on {inv} has someone's personal email in it: {cust}, call them on +44 20 7946 0{d3}"],
}
_GROUP_CATEGORY = {"praise": "praise", "speed": "bug", "error": "bug", "bulk": "bug", "leak": "bug",
                   "idea": "idea", "question": "question"}
_STARS = {"praise": ([4, 5], [.35, .65]), "idea": ([3, 4, 5], [.35, .45, .2]), "question": ([2, 3, 4, 5], [.1, .35, .4, .15]),
          "speed": ([1, 2, 3, 4], [.1, .35, .4, .15]), "error": ([1, 2, 3], [.35, .45, .2]), "bulk": ([1, 2, 3], [.4, .4, .2]),
          "leak": ([1, 2], [.7, .3])}


def _comment(r: random.Random, group: str, week: int) -> str:
    """One realistic comment: a template with random fillers plus optional prefix/suffix."""
    v = {k: r.choice(opts) for k, opts in _FILL.items()}
    first, last = r.choice(_FIRST), r.choice(_LAST).lower().replace("'", "")
    v |= {"pct": r.randint(78, 98), "amount": f"{r.randint(120, 48000):,}", "n": r.randint(20, 400),
          "secs": r.randint(12, 60), "small": r.randint(3, 9), "supplier": r.choice(_SUPPLIERS), "team": r.choice(_TEAMS),
          "gl": r.choice(["6100", "6420", "7300", "5210", "6850", "7710"]), "gl2": r.choice(["6200", "6430", "7310", "5220"]),
          "inv": f"INV-2026-{r.randint(1, 8999):06d}", "ticket": r.randint(100000, 999999),
          "euro": f"{r.randint(1, 99)}.{r.randint(0, 999):03d},{r.randint(0, 99):02d}", "acct": f"{r.randint(10**7, 10**8 - 1)}",
          "cust": f"{first.lower()}.{last}@{r.choice(['acme-retail', 'bluefin-hotels', 'oakridge-health'])}.example",
          "d3": f"{r.randint(0, 999):03d}", "hh": f"{r.randint(9, 12)}:{r.choice(['00', '15', '30', '45'])}", "d2": f"{r.randint(10, 99)}", "d2b": f"{r.randint(10, 99)}"}
    text = r.choice(_TEMPLATES[group]).format(**v)
    positive = group in ("praise", "idea")
    pre = r.choice(["", "", "", "", "Honestly, ", "Big fan. ", f"Week {week} update: "] if positive
                   else ["", "", "", "", "Not great: ", "Again - ", "FYI ", "Overall ok but "])
    suf = r.choice(["", "", "", " Thanks!", " Cheers", f" ({v['team']})"] if positive
                   else ["", "", "", f" Happened around {r.randint(8, 17)}:{r.randint(0, 59):02d}.", f" See {v['inv']}.",
                         " Please fix", f" (Chrome, {v['team']})"])
    if text[1].islower() and ((pre and not pre.endswith(". ")) or r.random() < 0.2):
        text = text[0].lower() + text[1:]
    if suf and not suf.startswith(" (") and text[-1].isalnum():
        text += "."
    return pre + text + suf


def _feedback(r: random.Random, rng: np.random.Generator, ev: dict, users: dict, offsets: np.ndarray) -> list[dict]:
    """Feedback entries tied to real users and moments of use; survey replies cluster after two survey sends."""
    n = 1480 + r.randint(0, 40)
    per_user = np.bincount(ev["user"], minlength=len(users["emails"]))
    w = 1.0 / np.sqrt(per_user[ev["user"]])
    utc = _BASE_EPOCH + ev["t_local"] - offsets[ev["day"]]
    survey_pool = np.flatnonzero(((ev["day"] >= 21) & (ev["day"] < 31)) | ((ev["day"] >= 57) & (ev["day"] < 67)))
    channels = rng.choice(3, n, p=[.55, .30, .15])
    pick = np.where(channels == 1, survey_pool[rng.choice(len(survey_pool), n, p=w[survey_pool] / w[survey_pool].sum())],
                    rng.choice(len(w), n, p=w / w.sum()))
    delay = np.where(channels == 0, rng.integers(5, 600, n), rng.integers(60, 7200, n)) * (channels != 1)
    times = np.minimum(utc[pick] + delay, _BASE_EPOCH + _DAYS * 86400 - 3601)
    leak_idx = set(rng.choice(n, 10, replace=False).tolist())
    groups, gp = ["praise", "speed", "error", "bulk", "idea", "question"], np.array([.36, .10, .14, .03, .23, .14])
    entries = []
    for i in range(n):
        week = int(ev["day"][pick[i]] // 7) + 1
        p = gp * (np.array([1, 1.5, 2, 1, 1, 1]) if week in (7, 8) else 1)
        group = "leak" if i in leak_idx else groups[int(rng.choice(6, p=p / p.sum()))]
        values, probs = _STARS[group]
        stars = int(rng.choice(values, p=probs))
        chan = ("in-app", "survey", "teams-chat")[channels[i]]
        nps_null = rng.random() < {"in-app": .38, "survey": .05, "teams-chat": .6}[chan]
        nps = None if nps_null else int(np.clip(round(2 * stars - 1 + rng.normal(0, 1.2)), 0, 10))
        u = rng.random()
        comment = _comment(r, group, week) if group == "leak" or u >= .15 else (None if u < .1 else "")
        entries.append({"created_at": datetime.fromtimestamp(int(times[i]), UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "user_email": str(users["emails"][ev["user"][pick[i]]]), "stars": stars, "nps": nps,
                        "comment": comment, "channel": chan, "category": _GROUP_CATEGORY[group]})
    entries.sort(key=lambda e: e["created_at"])
    return entries


def write_demo_files(out_dir: Path, seed: int = 20260706) -> dict[str, list[Path]]:
    """Write the demo pilot's usage, feedback and exception logs into out_dir; return {'usage': [...], 'feedback': [...], 'exceptions': [...]}."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    r_users, r_usage, r_fb, r_exc = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))
    users = _roster(r_users)
    ev = _usage(r_usage, users)
    offsets = _utc_offsets()
    paths = {"usage": out_dir / "usage.csv.gz", "feedback": out_dir / "feedback.jsonl",
             "exceptions": out_dir / "exceptions.parquet"}
    _write_usage(paths["usage"], ev, users)
    entries = _feedback(random.Random(seed), r_fb, ev, users, offsets)
    paths["feedback"].write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in entries) + "\n", encoding="utf-8")
    pq.write_table(_exceptions(r_exc, ev, users, offsets), paths["exceptions"], compression="zstd")
    return {k: [p] for k, p in paths.items()}
