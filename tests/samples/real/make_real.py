"""Make the real-shapes corpus: exports in the shapes real tools write, with their known truth.

    python tests/samples/real/make_real.py          # (re)writes the data files and truth.json beside this script

Twelve small files (150-400 rows each) for tests of automatic column mapping and time recognition:
a survey-tool export with blank ratings, a smart-speaker review TSV, a fine-food review CSV with epoch
times, an NPS survey with US dates, a test lab's fault export, a pm4py/Celonis event log with XES
names, a usage file whose DD/MM dates cannot be told from MM/DD, a product-analytics JSON Lines export
a feedback file whose columns are named "Col A/B/C", Qualtrics and SurveyMonkey survey exports
with their extra header rows, and a Microsoft Forms workbook (.xlsx; writing it needs openpyxl). README.md beside this script lists each file,
its quirk and its expected mapping.

truth.json holds, per file, the kind, the expected mapping {canonical: source column}, the row count,
the rows to reject (none) and the figures, counted here with plain Python from the very rows written
(the project's ``readiness`` and ``analysis`` packages are deliberately not imported). Figures:

- feedback: count, rated (1-5 rating present), mean_rating, csat (share of rated rows rating >= 4),
  scored (0-10 score present), nps (100 * (promoters 9-10 - detractors 0-6) / scored, null without
  scores), comments (comment non-blank once trimmed);
- usage: events, users, sessions (distinct user + session pairs; the event log also has
  distinct_session_ids);
- exceptions: count;
- every file: first_ts / last_ts, ISO 8601 in UTC (times without a zone are read as UTC).

Optional keys: forbid_mapping {canonical: source column it must NOT come from}, ambiguous (the
product must ask for the day/month order rather than guess), note. Floats are rounded to 6 decimals.
Output is deterministic (one seeded random.Random per file, fixed times), so a re-run changes nothing.
"""

from __future__ import annotations

import csv
import io
import json
import random
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]  # not locale's %b

# ---------------------------------------------------------------------------------------------- word bank
# 40 sentence templates: (sentiment, domains or None for all, text). Slots: {thing}, {feature}, {who}, {n}.
TEMPLATES: list[tuple[str, tuple[str, ...] | None, str]] = [
    ("pos", None, "Really happy with {thing}, it does exactly what I need."),
    ("pos", None, "The {feature} is excellent and saves me about {n} minutes a day."),
    ("pos", None, "Love it! The {feature} works perfectly."),
    ("pos", ("tool", "speaker"), "Setup took less than {n} minutes, which was a nice surprise."),
    ("pos", ("speaker", "food"), "Great value for the price; I’d buy it again."),
    ("pos", None, "My {who} uses it every day and calls it “a game changer”."),
    ("pos", None, "Works as described, no complaints so far."),
    ("pos", None, "Much better than what we had before, especially the {feature}."),
    ("pos", None, "Five stars from me — simple, quick, and reliable."),
    ("pos", None, "I was sceptical at first, but after {n} weeks I’m convinced."),
    ("pos", ("tool", "speaker"), "Support answered within the hour, très bien."),
    ("pos", None, 'The {feature} is intuitive, even for someone who isn\'t "techy".'),
    ("pos", None, "Does the job, and does it well."),
    ("pos", None, "Would recommend {thing} to anyone, honestly."),
    ("pos", ("food",), "Tastes fresh, not too sweet, and the texture is just right."),
    ("neg", None, "The {feature} stopped working after {n} days."),
    ("neg", ("tool", "speaker"), "Too slow, and the {feature} keeps freezing."),
    ("neg", None, "Not worth the money, sorry."),
    ("neg", ("tool", "speaker"), "I had to restart it {n} times this week alone."),
    ("neg", None, "Disappointed: the {feature} is confusing and the help page is out of date."),
    ("neg", ("tool", "speaker"), 'It says "ready" but nothing happens.'),
    ("neg", ("speaker", "food"), "Returned it after {n} days, it just didn’t suit us."),
    ("neg", ("tool", "speaker"), "Support kept me waiting for {n} days, then closed the ticket."),
    ("neg", ("tool", "speaker"), "Stopped syncing, lost my settings, had to start over."),
    ("neg", None, "The {feature} is a step backwards compared to the old one."),
    ("neg", ("tool",), "Why does it need {n} clicks to do something so simple?"),
    ("neg", ("speaker", "food"), "Arrived damaged, and the replacement wasn’t much better."),
    ("neg", ("food",), "Stale, bland, and far too expensive for {n} ounces."),
    ("neu", None, "It’s okay, nothing special."),
    ("neu", None, "Mostly fine, although the {feature} could be better."),
    ("neu", ("tool",), "Good idea, but it needs more polish before everyone uses it."),
    ("neu", ("tool", "speaker"), "Would be nice to have the {feature} on my phone too."),
    ("neu", None, "Does what it says; the {feature} took some getting used to."),
    ("neu", None, "Average. Some days it’s great, some days it’s not."),
    ("neu", ("tool",), "Please add an export to Excel, or at least to CSV."),
    ("neu", None, "Hard to say yet, I’ve only tried it {n} times."),
    ("neu", None, "The {feature} is fine, the rest is hit and miss."),
    ("neu", ("tool", "speaker"), "Decent, but the manual, in French and English only, is thin."),
    ("neu", ("speaker", "food"), "I like it; the café-style look fits our kitchen."),
    ("neu", None, "Not bad, though my {who} prefers the older one."),
]

DOMAINS = {
    "tool": {"thing": ["the new tool", "the pilot", "this assistant", "the app"],
             "feature": ["search", "export", "dashboard", "report builder", "sign-in", "summary view", "autocomplete"],
             "who": ["team lead", "manager", "whole team", "colleague"]},
    "speaker": {"thing": ["this Echo", "Alexa", "the Dot", "this speaker"],
                "feature": ["sound quality", "voice recognition", "alarm", "Spotify integration", "screen",
                            "Bluetooth pairing", "smart plug setup"],
                "who": ["wife", "husband", "son", "mum", "grandmother", "daughter"]},
    "food": {"thing": ["this coffee", "these cookies", "this tea", "the dog food", "this hot sauce"],
             "feature": ["flavour", "packaging", "texture", "aroma", "price per ounce", "bag"],
             "who": ["kids", "dog", "husband", "office", "cat"]},
}


def sentence(rng: random.Random, domain: str, mood: str) -> str:
    choices = [t for m, d, t in TEMPLATES if m == mood and (d is None or domain in d)]
    vocab = DOMAINS[domain]
    text = rng.choice(choices)
    return text.format(thing=rng.choice(vocab["thing"]), feature=rng.choice(vocab["feature"]),
                       who=rng.choice(vocab["who"]), n=rng.randint(2, 30))


def paragraph(rng: random.Random, domain: str, mood: str, lo: int, hi: int) -> str:
    """lo..hi sentences, mostly of the given mood, no sentence twice."""
    out: list[str] = []
    for _ in range(rng.randint(lo, hi)):
        s = sentence(rng, domain, mood if rng.random() < 0.75 else "neu")
        if s not in out:
            out.append(s)
    return " ".join(out)


def mood_of(stars: int) -> str:
    return "pos" if stars >= 4 else "neg" if stars <= 2 else "neu"


def weighted(rng: random.Random, weights: dict[int, float]) -> int:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def ident(rng: random.Random, n: int, alphabet: str = string.ascii_uppercase + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


# ---------------------------------------------------------------------------------------------- truth helpers
def iso(dt: datetime) -> str:
    """ISO 8601 UTC with a Z; milliseconds only when there are some."""
    s = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        s += f".{dt.microsecond // 1000:03d}"
    return s + "Z"


def r6(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def span(times: list[datetime]) -> dict:
    return {"first_ts": iso(min(times)), "last_ts": iso(max(times))}


def feedback_truth(ratings: list[int | None], scores: list[int | None], comments: list[str | None],
                   times: list[datetime]) -> dict:
    rated = [r for r in ratings if r is not None]
    scored = [s for s in scores if s is not None]
    promoters = sum(1 for s in scored if s >= 9)
    detractors = sum(1 for s in scored if s <= 6)
    return {
        "count": len(times),
        "rated": len(rated),
        "mean_rating": r6(sum(rated) / len(rated)) if rated else None,
        "csat": r6(sum(1 for r in rated if r >= 4) / len(rated)) if rated else None,
        "scored": len(scored),
        "nps": r6(100 * (promoters - detractors) / len(scored)) if scored else None,
        "comments": sum(1 for c in comments if c is not None and c.strip()),
        **span(times),
    }


def usage_truth(users: list[str], sessions: list[str | None], times: list[datetime]) -> dict:
    out = {"events": len(users), "users": len(set(users))}
    if any(s is not None for s in sessions):
        out["sessions"] = len({(u, s) for u, s in zip(users, sessions, strict=True) if s is not None})
    return {**out, **span(times)}


def to_csv(header: list[str], rows: list[list], delimiter: str = ",", newline: str = "\n") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=newline, quoting=csv.QUOTE_MINIMAL)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def entry(kind: str, mapping: dict[str, str], rows: int, figures: dict, **extra) -> dict:
    return {"kind": kind, "expect_mapping": mapping, "rows": rows, "rejected": 0, **figures, **extra}


# ---------------------------------------------------------------------------------------------- the files
def feedback_mixed_rated() -> tuple[bytes, dict]:
    """Survey-tool export: ~10% comment-only rows (no rating), ~30% rating-only rows, a few blank-ish comments."""
    rng = random.Random(101)
    t = datetime(2026, 2, 2, 8, 0, 0)
    rows, ratings, comments, times = [], [], [], []
    for _ in range(300):
        t += timedelta(seconds=rng.randint(300, 7200))
        stars = weighted(rng, {5: 30, 4: 30, 3: 18, 2: 12, 1: 10})
        u = rng.random()
        rating: int | None = None if u < 0.10 else stars
        if 0.10 <= u < 0.40:
            comment = rng.choice(["", "", "", "", " ", "  "])  # rated, no comment (a few only spaces)
        else:
            comment = paragraph(rng, "tool", mood_of(stars), 1, 3)
        rows.append([t.strftime("%Y-%m-%d %H:%M:%S"), "R_" + ident(rng, 15, string.ascii_letters + string.digits),
                     "" if rating is None else rating, comment])
        ratings.append(rating)
        comments.append(comment)
        times.append(t)
    data = to_csv(["Submitted At", "Respondent ID", "Rating", "Comment"], rows)
    truth = entry("feedback", {"timestamp": "Submitted At", "rating": "Rating", "comment": "Comment"}, len(rows),
                  feedback_truth(ratings, [None] * len(rows), comments, times),
                  note="CSAT is over rated rows only; comment-only rows are loaded, not rejected")
    return data, truth


VARIATIONS = ["Charcoal Fabric ", "Black  Dot", "White  Dot", "Heather Gray Fabric ", "Black  Plus", "Black  Show",
              "White  Spot", "Black  Spot", "Sandstone Fabric ", "Configuration: Fire TV Stick", "Black", "White",
              "Oak Finish ", "Walnut Finish "]
SHORT_REVIEWS = {"pos": ["Love my Echo!", "Loved it!", "Great product", "Awesome", "Very useful", "Works great."],
                 "neu": ["Ok", "It’s fine.", "Good enough"], "neg": ["Not happy.", "Meh", "Doesn’t work"]}


def product_reviews() -> tuple[bytes, dict]:
    """Smart-speaker review TSV: 1-5 stars, %d-%b-%y dates, a 0/1 `feedback` flag that is not the comment."""
    rng = random.Random(202)
    rows, ratings, comments, times = [], [], [], []
    for _ in range(300):
        day = datetime(2018, 5, 16) + timedelta(days=min(rng.randint(0, 110), 76))  # most in late July
        stars = weighted(rng, {5: 73, 4: 14, 3: 5, 2: 3, 1: 5})
        u = rng.random()
        review = ("" if u < 0.04 else rng.choice(SHORT_REVIEWS[mood_of(stars)]) if u < 0.30
                  else paragraph(rng, "speaker", mood_of(stars), 1, 5))
        date = f"{day.day:02d}-{MONTHS[day.month - 1]}-{day.year % 100:02d}"
        rows.append([stars, date, rng.choice(VARIATIONS), review, 1 if stars >= 3 else 0])
        ratings.append(stars)
        comments.append(review)
        times.append(day)
    data = to_csv(["rating", "date", "variation", "verified_reviews", "feedback"], rows, delimiter="\t")
    truth = entry("feedback", {"rating": "rating", "comment": "verified_reviews", "timestamp": "date"}, len(rows),
                  feedback_truth(ratings, [None] * len(rows), comments, times),
                  forbid_mapping={"comment": "feedback", "score": "feedback"})
    return data, truth


SUMMARIES = {"pos": ["Great taffy", "Good Quality Dog Food", "My cats love it", "Delicious, but pricey",
                     "Best coffee I’ve had", "Yummy and so fresh!", "Perfect for the office", "Will buy again",
                     "Great value, fast delivery", "Nice and fresh"],
             "neu": ["Not bad", "OK, nothing special", "Decent for the price", "Good, not great"],
             "neg": ["Not as Advertised", "Stale on arrival", "Very disappointed", "Don’t waste your money",
                     "Tastes like cardboard"]}
PROFILES = ["delmartian", "dll pa", 'Natalia Corres "Natalia Corres"', "Karl", "Michael D. Bigham \"M. Wassir\"",
            "Twoapennything", "Smith, J.", "Zoë Lefèvre", "Pamela G. Williams", "R. James", "carmen", "Brian A. Lee",
            "Coffee Lover, Seattle", "A Customer", "Mike O’Brien", "Tracy", "jaspers mom", "Dr. Ruth K."]


def food_reviews() -> tuple[bytes, dict]:
    """Fine-food review CSV: `Score` is 1-5 stars (a rating), `Time` is Unix seconds, `Text` beats `Summary`."""
    rng = random.Random(303)
    products = ["B00" + ident(rng, 7) for _ in range(25)]
    users = [("A" + ident(rng, 13), rng.choice(PROFILES)) for _ in range(170)]
    rows, ratings, comments, times, user_ids = [], [], [], [], []
    for i in range(1, 251):
        uid, profile = rng.choice(users)
        stars = weighted(rng, {5: 64, 4: 15, 3: 8, 2: 5, 1: 8})
        den = weighted(rng, {0: 40, 1: 25, 2: 15, 3: 10, 5: 6, 9: 4})
        num = rng.randint(0, den)
        day = datetime(2008, 1, 1) + timedelta(days=rng.randint(0, 5 * 365))  # 2008-01-01 .. 2012-12-30
        epoch = int(day.replace(tzinfo=UTC).timestamp())  # midnight UTC, as the real dataset
        text = paragraph(rng, "food", mood_of(stars), 1, 4)
        if rng.random() < 0.08:
            text = text.replace(". ", ".<br /><br />", 1)  # the HTML line breaks that dataset carries
        rows.append([i, rng.choice(products), uid, profile, num, den, stars, epoch,
                     rng.choice(SUMMARIES[mood_of(stars)]), text])
        ratings.append(stars)
        comments.append(text)
        times.append(day)
        user_ids.append(uid)
    header = ["Id", "ProductId", "UserId", "ProfileName", "HelpfulnessNumerator", "HelpfulnessDenominator",
              "Score", "Time", "Summary", "Text"]
    truth = entry("feedback", {"rating": "Score", "timestamp": "Time", "user_id": "UserId", "comment": "Text"},
                  len(rows), {**feedback_truth(ratings, [None] * len(rows), comments, times),
                              "users": len(set(user_ids))},
                  forbid_mapping={"score": "Score", "comment": "Summary"})
    return to_csv(header, rows), truth


NPS_Q = "How likely are you to recommend us to a friend or colleague?"
NPS_WHY = "What is the main reason for your score?"
EMAIL_NAMES = ["anna", "ben", "chloe", "dmitri", "emeka", "fatima", "greg", "hana", "ines", "jamal", "kofi", "lena",
               "marta", "noah", "olga", "pedro", "quinn", "rosa", "sanjay", "tomas", "uma", "victor", "wen", "yusuf"]
EMAIL_DOMAINS = ["example.com", "acme.co.uk", "contoso.org", "mail.example.net"]


def nps_survey() -> tuple[bytes, dict]:
    """NPS survey (CRLF, newest first): US M/D/YYYY H:MM dates, the 0-10 answer under its question as header."""
    rng = random.Random(404)
    people = sorted({f"{rng.choice(EMAIL_NAMES)}.{rng.choice(EMAIL_NAMES)}{rng.randint(1, 99)}@"
                     f"{rng.choice(EMAIL_DOMAINS)}" for _ in range(160)})
    t = datetime(2025, 6, 2, 7, 30)
    recs = []
    for _ in range(200):
        t += timedelta(minutes=rng.randint(20, 420))  # 200 answers over about six weeks: days past 12 appear
        score = weighted(rng, {10: 22, 9: 20, 8: 16, 7: 12, 6: 8, 5: 7, 4: 4, 3: 4, 2: 3, 1: 2, 0: 2})
        mood = "pos" if score >= 9 else "neu" if score >= 7 else "neg"
        reason = "" if rng.random() < 0.2 else paragraph(rng, "tool", mood, 1, 2)
        recs.append((t, rng.choice(people), score, reason))
    recs.reverse()  # survey tools list the newest answer first
    rows = [[f"{d.month}/{d.day}/{d.year} {d.hour}:{d.minute:02d}", email, score, reason]
            for d, email, score, reason in recs]
    assert any(d.day > 12 for d, *_ in recs)
    truth = entry("feedback", {"score": NPS_Q, "comment": NPS_WHY, "timestamp": "Response Date", "user_id": "Email"},
                  len(rows), {**feedback_truth([None] * len(recs), [r[2] for r in recs], [r[3] for r in recs],
                                               [r[0] for r in recs]), "users": len({r[1] for r in recs})})
    return to_csv(["Response Date", "Email", NPS_Q, NPS_WHY], rows, newline="\r\n"), truth


FAULTS = [
    "Timeout waiting for element #{sel} after {ms} ms",
    "AssertionError: expected {a} but was {b}",
    'NoSuchElementException: Unable to locate element: {{"method":"css selector","selector":"#{sel}"}}',
    "ConnectionRefusedError: [Errno 111] Connection refused (port {port})",
    "HTTP 500 from /api/v2/{path} after {ms} ms",
    "StaleElementReferenceException: element #{sel} is not attached to the page document",
    "NullPointerException at com.shop.{cls}.handle({cls}.java:{line})",
    "Expected status 200, got {status}",
    "KeyError: '{key}'",
    "ElementClickInterceptedException: element #{sel} is not clickable at point ({x}, {y})",
    "Database deadlock detected, transaction {tx} rolled back",
    "OutOfMemoryError: Java heap space ({mb} MB used)",
    "Screenshot diff {pct}% exceeds threshold 0.5%",
    "SSL handshake failed: certificate expired on {date}",
    "Test exceeded max duration of {s} s",
    "ValueError: could not convert string to float: '{val}'",
]
SUITES = {"Checkout": ["test_guest_checkout", "test_apply_coupon", "test_card_declined", "test_address_form"],
          "Login": ["test_login_ok", "test_login_locked", "test_password_reset", "test_sso_redirect"],
          "Search": ["test_search_empty", "test_search_filters", "test_search_paging"],
          "Payments": ["test_refund", "test_partial_capture", "test_3ds_challenge"],
          "Reports": ["test_export_csv", "test_monthly_totals", "test_chart_render"]}
OWNERS = ["j.smith", "a.martin", "Aurélie Dupré", "k.nakamura", "p.okafor", "QA Bot"]


def test_faults() -> tuple[bytes, dict]:
    """Test lab's fault export: the time column is FaultDate (no time-like name), the message FaultMessage."""
    rng = random.Random(505)
    t = datetime(2026, 1, 12, 6, 0, 0)
    rows, times = [], []
    for _ in range(200):
        t += timedelta(seconds=rng.randint(20, 5400))
        suite = rng.choice(sorted(SUITES))
        msg = rng.choice(FAULTS).format(
            sel=rng.choice(["submit", "login-btn", "cart-total", "search-box", "pay-now", "user-menu"]),
            ms=rng.choice([5000, 10000, 15000, 30000, 60000]), a=rng.randint(1, 20), b=rng.randint(21, 40),
            port=rng.choice([5432, 6379, 8080, 9200]), path=rng.choice(["orders", "cart/items", "users/me"]),
            cls=rng.choice(["CartService", "OrderMapper", "TokenCache"]), line=rng.randint(40, 900),
            status=rng.choice([401, 403, 404, 500, 502, 503]), key=rng.choice(["user_id", "total", "sku"]),
            x=rng.randint(10, 1200), y=rng.randint(10, 800), tx=rng.randint(100000, 999999),
            mb=rng.choice([512, 1024, 2048]), pct=round(rng.uniform(0.6, 9.9), 1),
            date=f"2026-01-{rng.randint(1, 11):02d}", s=rng.choice([120, 300, 600]),
            val=rng.choice(["N/A", "12,50", "—", ""]))
        rows.append([suite, rng.choice(SUITES[suite]), t.strftime("%Y-%m-%d %H:%M:%S"), msg, rng.choice(OWNERS)])
        times.append(t)
    truth = entry("exceptions", {"timestamp": "FaultDate", "message": "FaultMessage"}, len(rows),
                  {"count": len(rows), **span(times)})
    return to_csv(["SuiteName", "TestName", "FaultDate", "FaultMessage", "Owner"], rows), truth


def _trace(rng: random.Random) -> list[str]:
    out = ["Create Request", "Review Request"]
    for _ in range(weighted(rng, {0: 60, 1: 30, 2: 10})):
        out += ["Request Missing Info", "Receive Info"]
    if rng.random() < 0.2:
        return out + ["Reject", "Notify Requester", "Close Case"]
    out += ["Approve", "Create Purchase Order", "Receive Goods", "Receive Invoice", "Check Invoice"]
    if rng.random() < 0.25:
        out += ["Block Invoice", "Check Invoice"]
    return out + ["Pay Invoice", "Close Case"]


def process_mining() -> tuple[bytes, dict]:
    """pm4py/Celonis event log with XES names; a case is the session, a resource the user (2-4 per case)."""
    rng = random.Random(606)
    clerks = [f"Clerk {i:02d}" for i in range(1, 13)] + ["Manager 01", "Manager 02"]
    rows, users, cases, times = [], [], [], []
    start = datetime(2025, 3, 3, 8, 0, 0)
    left, n = 350, 0
    while left:
        n += 1
        acts = _trace(rng)
        if len(acts) >= left:  # the last case is still running: cut to exactly the rows left
            acts = acts[:left]
        elif len(acts) == left - 1:  # never leave a one-event case: this one stays open one step short
            acts = acts[:-1]
        staff = rng.sample(clerks, min(rng.randint(2, 4), len(acts)))
        who = staff + [rng.choice(staff) for _ in range(len(acts) - len(staff))]
        rng.shuffle(who)
        t = start + timedelta(hours=rng.randint(0, 24 * 40), minutes=rng.randint(0, 59), seconds=rng.randint(0, 59))
        for act, res in zip(acts, who, strict=True):
            rows.append([f"C-{n:04d}", act, t.strftime("%Y-%m-%dT%H:%M:%S+00:00"), res, "complete"])
            users.append(res)
            cases.append(f"C-{n:04d}")
            times.append(t)
            t += timedelta(minutes=rng.randint(5, 60 * 30), seconds=rng.randint(0, 59))
        left -= len(acts)
    per_case = {c: {u for u, cc in zip(users, cases, strict=True) if cc == c} for c in set(cases)}
    assert all(2 <= len(s) <= 4 for s in per_case.values()), per_case
    truth = entry("usage", {"timestamp": "time:timestamp", "user_id": "org:resource", "event": "concept:name",
                            "session_id": "case:concept:name"}, len(rows),
                  {**usage_truth(users, cases, times), "distinct_session_ids": len(set(cases))})
    header = ["case:concept:name", "concept:name", "time:timestamp", "org:resource", "lifecycle:transition"]
    return to_csv(header, rows), truth


def ambiguous_dates() -> tuple[bytes, dict]:
    """Usage with DD/MM/YYYY HH:MM where every day is <= 12: day/month order cannot be read off the column."""
    rng = random.Random(707)
    people = [f"u{rng.randint(1000, 9999)}" for _ in range(18)]
    actions = ["login", "open_report", "export_csv", "search", "share_link", "logout"]
    stamps = sorted(datetime(2026, rng.choice([2, 3, 4]), rng.randint(1, 12), rng.randint(7, 19), rng.randint(0, 59))
                    for _ in range(150))
    rows, users = [], []
    for d in stamps:
        u = rng.choice(people)
        rows.append([d.strftime("%d/%m/%Y %H:%M"), u, rng.choice(actions)])
        users.append(u)
    rng.shuffle(rows)  # exported grouped by nothing in particular: row order gives no hint of the layout either
    swapped = [d.replace(month=d.day, day=d.month) for d in stamps]  # the same text read as MM/DD
    truth = entry("usage", {"timestamp": "date", "user_id": "user", "event": "action"}, len(rows),
                  {**usage_truth(users, [None] * len(users), stamps),
                   "first_ts_if_month_first": iso(min(swapped)), "last_ts_if_month_first": iso(max(swapped))},
                  ambiguous=True, note="first_ts/last_ts read the dates day-first (as written); the product "
                                       "must ask which order, not guess")
    return to_csv(["date", "user", "action"], rows), truth


def analytics_export() -> tuple[bytes, dict]:
    """Product-analytics JSON Lines (PostHog/Segment-like): the session id is nested under properties."""
    rng = random.Random(808)
    people = [rng.choice(["", "usr_"]) + ident(rng, 12, "0123456789abcdef") for _ in range(25)]
    plans = {p: rng.choice(["free", "pro", "pro", "enterprise"]) for p in people}
    events = ["$pageview", "$pageview", "$autocapture", "report_viewed", "report_exported", "filter_applied",
              "signed_in", "invite_sent", "$pageleave"]
    urls = ["/dashboard", "/reports/weekly", "/reports/monthly?region=emea", "/settings/team", "/search?q=café"]
    t = datetime(2026, 3, 2, 8, 0, 0)
    lines, users, sessions, times = [], [], [], []
    current: dict[str, str] = {}
    for _ in range(300):
        t += timedelta(seconds=rng.randint(1, 240), milliseconds=rng.randint(0, 999))
        who = rng.choice(people)
        if who not in current or rng.random() < 0.08:  # a new session now and then
            hx = "0123456789abcdef"  # a UUIDv7, as PostHog writes session ids
            current[who] = (f"0190{ident(rng, 4, hx)}-{ident(rng, 4, hx)}-7{ident(rng, 3, hx)}-"
                            f"{rng.choice('89ab')}{ident(rng, 3, hx)}-{ident(rng, 12, hx)}")
        rec = {"event": rng.choice(events), "distinct_id": who, "timestamp": iso(t),
               "properties": {"$session_id": current[who], "$current_url": "https://app.example.com"
                              + rng.choice(urls), "plan": plans[who]}}
        lines.append(json.dumps(rec, ensure_ascii=False))
        users.append(who)
        sessions.append(current[who])
        times.append(t)
    truth = entry("usage", {"timestamp": "timestamp", "user_id": "distinct_id", "event": "event"}, len(lines),
                  usage_truth(users, sessions, times),
                  note="sessions counts properties.$session_id (nested); its mapping is not asserted")
    return ("\n".join(lines) + "\n").encode("utf-8"), truth


def feedback_date_named_oddly() -> tuple[bytes, dict]:
    """Feedback whose columns are named Col A/B/C: %d %b %Y dates, 1-5 integers, free text ~60% filled."""
    rng = random.Random(909)
    days = sorted(datetime(2018, 6, 1) + timedelta(days=rng.randint(0, 90)) for _ in range(150))
    rows, ratings, comments = [], [], []
    for day in days:
        stars = weighted(rng, {5: 35, 4: 30, 3: 15, 2: 10, 1: 10})
        remark = paragraph(rng, "tool", mood_of(stars), 1, 2) if rng.random() < 0.58 else ""
        rows.append([f"{day.day} {MONTHS[day.month - 1]} {day.year}", stars, remark])
        ratings.append(stars)
        comments.append(remark)
    truth = entry("feedback", {"timestamp": "Col A", "rating": "Col B", "comment": "Col C"}, len(rows),
                  feedback_truth(ratings, [None] * len(rows), comments, days))
    return to_csv(["Col A", "Col B", "Col C"], rows), truth


SATISFACTION = {5: "Very satisfied", 4: "Somewhat satisfied", 3: "Neither satisfied nor dissatisfied",
                2: "Somewhat dissatisfied", 1: "Very dissatisfied"}
QUALTRICS_META = ["StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)", "Finished",
                  "RecordedDate", "ResponseId", "RecipientLastName", "RecipientFirstName", "RecipientEmail",
                  "ExternalReference", "LocationLatitude", "LocationLongitude", "DistributionChannel", "UserLanguage"]
QUALTRICS_IDS = {"StartDate": "startDate", "EndDate": "endDate", "Status": "status", "IPAddress": "ipAddress",
                 "Progress": "progress", "Duration (in seconds)": "duration", "Finished": "finished",
                 "RecordedDate": "recordedDate", "ResponseId": "_recordId", "RecipientLastName": "recipientLastName",
                 "RecipientFirstName": "recipientFirstName", "RecipientEmail": "recipientEmail",
                 "ExternalReference": "externalDataReference", "LocationLatitude": "locationLatitude",
                 "LocationLongitude": "locationLongitude", "DistributionChannel": "distributionChannel",
                 "UserLanguage": "userLanguage"}


def _survey_answers(rng: random.Random, n: int, start: datetime) -> list[tuple[datetime, int | None, int, str]]:
    """n answers (time, 1-5 satisfaction or None when skipped, 0-10 recommendation, comment or '')."""
    t, out = start, []
    for _ in range(n):
        t += timedelta(minutes=rng.randint(15, 600))  # about five weeks: days past 12 appear
        stars = weighted(rng, {5: 30, 4: 28, 3: 16, 2: 14, 1: 12})
        score = min(10, max(0, 2 * stars + rng.choice([-1, 0, 0, 1])))
        comment = "" if rng.random() < 0.3 else paragraph(rng, "tool", mood_of(stars), 1, 2)
        out.append((t, None if rng.random() < 0.08 else stars, score, comment))
    return out


def qualtrics_export() -> tuple[bytes, dict]:
    """Qualtrics CSV export: three header rows (names Q1..., question texts, import ids naming the time
    zone), the times written in America/Denver, NPS with its Q2_NPS_GROUP (1-3, never a rating)."""
    from zoneinfo import ZoneInfo

    rng = random.Random(606)
    denver = ZoneInfo("America/Denver")
    answers = _survey_answers(rng, 180, datetime(2026, 3, 2, 7, 0))  # spans the US DST change of 8 March
    header = [*QUALTRICS_META, "Q1", "Q2", "Q2_NPS_GROUP", "Q3"]
    questions = [*["Start Date", "End Date", "Response Type", "IP Address", "Progress", "Duration (in seconds)",
                   "Finished", "Recorded Date", "Response ID", "Recipient Last Name", "Recipient First Name",
                   "Recipient Email", "External Data Reference", "Location Latitude", "Location Longitude",
                   "Distribution Channel", "User Language"],
                 "How satisfied are you with the invoice assistant?",
                 "How likely are you to recommend the invoice assistant to a colleague?",
                 "How likely are you to recommend the invoice assistant to a colleague? - Group",
                 "What should we improve?\nPlease be as specific as you can."]
    zone = ',"timeZone":"America/Denver"'
    ids = [json.dumps({"ImportId": QUALTRICS_IDS[c]}, separators=(",", ":"))[:-1]
           + (zone if c in ("StartDate", "EndDate", "RecordedDate") else "") + "}" for c in QUALTRICS_META]
    ids += ['{"ImportId":"QID1"}', '{"ImportId":"QID2"}', '{"ImportId":"QID2_NPS_GROUP"}', '{"ImportId":"QID3_TEXT"}']
    rows, times = [questions, ids], []
    for local, stars, score, comment in answers:
        took = rng.randint(35, 400)
        end = local + timedelta(seconds=took)
        group = 3 if score >= 9 else 2 if score >= 7 else 1
        rows.append([local.strftime("%Y-%m-%d %H:%M:%S"), end.strftime("%Y-%m-%d %H:%M:%S"), "IP Address",
                     f"203.0.113.{rng.randint(1, 254)}", 100, took, "True",
                     (end + timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S"), "R_" + ident(rng, 15), "", "",
                     "", "", "39.7392", "-104.9903", "anonymous", "EN",
                     "" if stars is None else SATISFACTION[stars], score, group, comment])
        times.append(local.replace(tzinfo=denver).astimezone(UTC).replace(tzinfo=None))
    truth = entry("feedback", {"timestamp": "StartDate", "rating": "Q1", "score": "Q2", "comment": "Q3"}, len(answers),
                  feedback_truth([a[1] for a in answers], [a[2] for a in answers], [a[3] for a in answers], times),
                  forbid_mapping={"rating": "Q2_NPS_GROUP"},
                  note="times read in America/Denver, as the import ids say")
    return to_csv(header, rows, newline="\r\n"), truth


def surveymonkey_export() -> tuple[bytes, dict]:
    """SurveyMonkey CSV export: the questions as headers, a second header row of sub-headings
    ("Response", "Open-Ended Response"), US dates with AM/PM."""
    rng = random.Random(707)
    answers = _survey_answers(rng, 160, datetime(2026, 4, 6, 8, 0))
    satisfied = "How satisfied are you with the invoice assistant?"
    recommend = "How likely is it that you would recommend the invoice assistant to a friend or colleague?"
    improve = "What should we improve?"
    header = ["Respondent ID", "Collector ID", "Start Date", "End Date", "IP Address", "Email Address", "First Name",
              "Last Name", "Custom Data 1", satisfied, recommend, improve]
    rows = [["", "", "", "", "", "", "", "", "", "Response", "Response", "Open-Ended Response"]]
    for i, (t, stars, score, comment) in enumerate(answers):
        end = t + timedelta(seconds=rng.randint(35, 400))
        rows.append([str(11423567890 + i * 7), "423456789", t.strftime("%m/%d/%Y %I:%M:%S %p"),
                     end.strftime("%m/%d/%Y %I:%M:%S %p"), f"198.51.100.{rng.randint(1, 254)}", "", "", "", "",
                     "" if stars is None else SATISFACTION[stars], score, comment])
    truth = entry("feedback", {"timestamp": "Start Date", "rating": satisfied, "score": recommend, "comment": improve,
                               "user_id": "Respondent ID"}, len(answers),
                  feedback_truth([a[1] for a in answers], [a[2] for a in answers], [a[3] for a in answers],
                                 [a[0] for a in answers]))
    return to_csv(header, rows), truth


def msforms_export() -> tuple[bytes, dict]:
    """Microsoft Forms' "Open results in Excel" workbook (its only export): one sheet, Id / Start time /
    Completion time / Email / Name, then one column per question; times are Excel date cells (date
    serials formatted as dates), the rating question's answers numbers 1-5, the NPS question's 0-10,
    an anonymous form's Email "anonymous" and Name empty. Written with openpyxl, as Excel stores it."""
    from openpyxl import Workbook

    rng = random.Random(808)
    answers = _survey_answers(rng, 140, datetime(2026, 5, 4, 8, 0))
    satisfied = "How satisfied are you with the invoice assistant?"
    recommend = "How likely are you to recommend the invoice assistant to a colleague?"
    improve = "What should we improve?"
    book = Workbook()
    sheet = book.active
    sheet.title = "Sheet1"
    sheet.append(["Id", "Start time", "Completion time", "Email", "Name", satisfied, recommend, improve])
    for i, (t, stars, score, comment) in enumerate(answers, start=1):
        end = t + timedelta(seconds=rng.randint(35, 400))
        sheet.append([i, t, end, "anonymous", None, stars, score, comment or None])
    for row in sheet.iter_rows(min_row=2, min_col=2, max_col=3):
        for cell in row:
            cell.number_format = "m/d/yy h:mm:ss"
    book.properties.created = book.properties.modified = datetime(2026, 6, 9, 12, 0)  # same bytes every run
    out = io.BytesIO()
    book.save(out)
    truth = entry("feedback", {"timestamp": "Start time", "rating": satisfied, "score": recommend, "comment": improve},
                  len(answers), feedback_truth([a[1] for a in answers], [a[2] for a in answers],
                                               [a[3] for a in answers], [a[0] for a in answers]),
                  note="an Excel workbook: dates are date cells, read as Excel shows them")
    return out.getvalue(), truth


MAKERS = {
    "feedback_mixed_rated.csv": feedback_mixed_rated,
    "product_reviews.tsv": product_reviews,
    "food_reviews.csv": food_reviews,
    "nps_survey.csv": nps_survey,
    "test_faults.csv": test_faults,
    "process_mining.csv": process_mining,
    "ambiguous_dates.csv": ambiguous_dates,
    "analytics_export.jsonl": analytics_export,
    "feedback_date_named_oddly.csv": feedback_date_named_oddly,
    "qualtrics_export.csv": qualtrics_export,
    "surveymonkey_export.csv": surveymonkey_export,
    "msforms_export.xlsx": msforms_export,
}


def build() -> tuple[dict[str, bytes], dict[str, dict]]:
    """name -> content of every data file, and name -> truth."""
    files, truth = {}, {}
    for name, make in MAKERS.items():
        files[name], truth[name] = make()
    return files, truth


def main() -> None:
    files, truth = build()
    for name, data in files.items():
        (HERE / name).write_bytes(data)
    (HERE / "truth.json").write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    total = sum(len(d) for d in files.values())
    print(f"wrote {len(files)} files and truth.json, {total / 1024:.0f} KB, into {HERE}")


if __name__ == "__main__":
    main()
