"""Feedback evidence: sentiment, triage, personal data and themes of user comments.

The per-comment work happens once, when a feedback batch lands, not on every page view:

* :func:`annotate_feedback` (called by ingest, in its scratch, before the batch's rows are written out
  as they stay) stores, for each comment of the batch, its VADER compound sentiment (-1..1), its
  triage class with the words that decided it, and whether it contains personal data
  (readiness.security.privacy's detector, the one that masks).
* :func:`recompute_themes` (called when a pilot's feedback changes) finds themes with TF-IDF + NMF and
  replaces the pilot's rows in ``feedback_themes`` and ``feedback_theme_rows`` (each comment's theme).

Triage is rule-based and transparent: the keyword lists below are the whole model. Operational issues
(things the service must get right before it can run in operations) are kept apart from feature
requests (things users would like added), as the seed advises. A comment is triaged as follows:

1. If it matches any operational list, the operational class with the most distinct matches wins;
   ties go to the earlier class in :data:`OPERATIONAL_CLASSES` (data, access, reliability, speed,
   support: the more serious first).
2. Otherwise, a match on :data:`FEATURE_REQUEST_TERMS` makes it a ``feature_request``.
3. Otherwise, a match on :data:`PRAISE_TERMS` with sentiment above -0.05 makes it ``praise`` (so
   "not great" is not praise). Sentiment alone never makes praise: VADER reads "positive amount" or
   "approved" as positive.
4. Otherwise it is ``other``.

``triage_reason`` names what decided it, e.g. ``mentions 'timeout', 'failed'``.

The evidence functions take ``(con, pilot, filters)`` and return a DataFrame or small dataclass, or
:class:`~analysis.common.Empty` saying why there is nothing to show; they never raise for missing data.
Every text they return (verbatims, examples, theme labels, reasons) has personal data masked
(:func:`readiness.security.privacy.mask_frame`), unless an audited reveal is asked for (``reveal_as``).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from analysis.common import (
    NO_FILTERS,
    Empty,
    Filters,
    frame,
    local_ts_sql,
    local_week_sql,
    no_match,
    table_columns,
    where,
)
from analysis.language import language
from readiness.catalog import Pilot
from readiness.security import privacy
from readiness.security.access import Actor
from readiness.store import Connection, lake

# --- triage lexicon ------------------------------------------------------------------------------
# Each entry is a regular expression matched case-insensitively on word boundaries; plain words and
# phrases are the common case. The reason quotes the text each entry matched.

OPERATIONAL_TERMS: dict[str, tuple[str, ...]] = {
    # data protection and data quality: exposure of someone else's data, stale or wrong master data
    "operational:data": (
        r"(master|supplier|customer|personal|reference) data", r"data (leak|breach|protection|quality)",
        r"privacy", r"gdpr", r"confidential", r"leak(s|ed|ing)?", r"expos(ed|es|ing|ure)",
        r"bank details", r"sort code", r"personal (email|details|information|info)", r"customer email",
        r"phone number", r"(another|a different|other|someone else)'?s? (supplier|customer|user|person|team)'?s?",
        r"someone'?s", r"isn'?t ours", r"not ours", r"out of date", r"outdated", r"stale", r"old address",
        r"refreshed", r"retired",
        r"(wrong|bad|incorrect|missing|inconsistent|corrupt(ed)?|garbled|mismatched|duplicated?) (data|figures|numbers|"
        r"totals?|amounts?|values|records|fields|entries)",
        r"data (is|was|looks|seems) (wrong|off|missing|incomplete|incorrect)", r"(don'?t|do not|doesn'?t|does not) add up",
    ),
    # getting in and staying in: sign-in, sessions, permissions
    "operational:access": (
        r"access", r"log ?in", r"logged out", r"log(ging)? me out", r"sign(ed)? ?in", r"signed out",
        r"password", r"permissions?", r"locked out", r"sso", r"session expired", r"new starter", r"unauthori[sz]ed",
    ),
    # doing the job correctly: errors, failures, crashes, wrong outputs
    "operational:reliability": (
        r"errors?", r"fail(s|ed|ing|ure|ures)?", r"crash(es|ed|ing)?", r"broken", r"bugs?", r"timeouts?",
        r"timed out", r"time ?out", r"blank screen", r"exceptions?", r"wrong", r"incorrect", r"inaccurate",
        r"mistakes?", r"lost", r"should be", r"not working", r"(doesn'?t|does not|didn'?t|won'?t|can'?t|cannot) work",
        r"(isn'?t|aren'?t|not) (parsed|recogni[sz]ed|saved|read)", r"glitch(es|y)?", r"outage", r"risky", r"unsafe",
        r"duplicate of itself", r"(came|comes) through as", r"misread", r"read the [\w ]{1,30}? as", r"hadn'?t checked",
        r"not using it again", r"unreliable", r"unstable", r"flaky", r"buggy", r"unusable",
        r"keeps? (crashing|failing|breaking)",
    ),
    # doing it fast enough
    "operational:speed": (
        r"slow(er|ly|ness)?", r"takes? ages", r"ages", r"lag(s|gy|ging)?", r"sluggish", r"hang(s|ing)?",
        r"freez(e|es|ing)", r"frozen", r"unresponsive", r"latency", r"performance",
        r"takes? \d+\+? ?(s|secs?|seconds|mins?|minutes)", r"\d+\+? ?(s|secs?|seconds) (each|per|to)",
        r"(a|one|two|several) minutes? or more", r"loading forever", r"spinning",
    ),
    # getting help: who to ask, tickets, training and documentation
    "operational:support": (
        r"helpdesk", r"help desk", r"service desk", r"support (team|desk|ticket|staff)", r"(contact|raise|raised|call|email) support",
        r"tickets?", r"no (reply|response|answer)", r"who (do|should|can) (i|we) (contact|ask|call)",
        r"how (do|can) (i|we)", r"where (can|do) (i|we) find", r"can i use", r"training", r"documentation",
        r"user guide", r"manual", r"onboarding", r"why does",
        r"does (it|the \w+( \w+)?) (take|use|support|work)", r"which \w+( \w+)? does it use",
        r"support (never|doesn'?t|does not|didn'?t|did not|won'?t|ignores?|ignored)",
        r"never (answers?|answered|replies|replied|responds?|responded|gets? back|got back|heard back)",
        r"(nobody|no one|no-one|noone) (answers?|answered|replies|replied|responds?|responded|helps?|helped|knows|"
        r"gets? back|got back)",
        r"(still )?waiting (for|on) (a |an )?(reply|response|answer|support|help)", r"(who|whom) to (ask|contact|call)",
        r"(asked|contacted|emailed|called|chased) support", r"(no idea|not sure|unsure|don'?t know|do not know) (how|who|where|what)",
    ),
}
OPERATIONAL_CLASSES = tuple(OPERATIONAL_TERMS)  # tie-break order: the more serious first

FEATURE_REQUEST_TERMS: tuple[str, ...] = (
    r"would love", r"would be (great|nice|good|useful|helpful)", r"(it )?would help", r"would like",
    r"please (add|support|allow|let|make|give|include|show)", r"(could|can) (we|you|i) (get|have|add|see)",
    r"(can|could) (it|this|\w+ \w+) (show|add|support|remember)", r"feature request", r"\bwish\b",
    r"option to", r"ability to", r"let us", r"add (a|an)", r"support for", r"dark mode", r"keyboard shortcuts?",
    r"undo", r"it would be", r"(?:^|(?<=[.:!,] ))(show|add|allow|include|give) (the|a|an|us|me)",
)

PRAISE_TERMS: tuple[str, ...] = (
    r"great", r"love", r"excellent", r"awesome", r"fantastic", r"amazing", r"brilliant", r"spot on",
    r"accurate", r"saves?", r"saved", r"faster", r"quicker", r"easier", r"calmer", r"better", r"helpful",
    r"thanks", r"thank you", r"really like", r"just works", r"works well", r"game changer", r"caught",
    r"good", r"well done", r"impressed", r"big fan", r"used to take", r"right \d+% of the time",
)

TRIAGE_CLASSES = (*OPERATIONAL_CLASSES, "feature_request", "praise", "other")
NEGATIVE_SENTIMENT = -0.05   # VADER's usual threshold: compound <= -0.05 is negative
NOT_ENGLISH = "not analysed: written in "  # triage_reason of a comment in another language (sentiment NULL)
MIN_FOR_SHARE = 5            # CSAT, NPS and the negative share are given over at least this many rows

# --- personal data: one shared definition in readiness.security.privacy ---------------------------------
PERSONAL_DATA_PATTERNS = privacy.PERSONAL_DATA_PATTERNS
has_personal_data = privacy.has_personal_data
redact = privacy.mask


# --- sentiment and triage ------------------------------------------------------------------------

# Words VADER's lexicon lacks, or reads in another sense, in feedback on a tool: VADER alone scores
# "Crashes often, unreliable" 0.00 and "The export crashed again" not negative. Scores are on VADER's scale
# (-4..4), set beside its own ("crash" -1.7, "broken" -2.1, "useless" -1.8).
DOMAIN_SENTIMENT: dict[str, float] = {
    "crashes": -1.7, "crashed": -1.7, "crashing": -1.7, "unreliable": -1.8, "unstable": -1.5, "buggy": -1.6,
    "bug": -1.2, "bugs": -1.2, "flaky": -1.3, "unusable": -2.2, "glitchy": -1.3, "glitch": -1.1, "outage": -1.6,
    "laggy": -1.2, "sluggish": -1.1, "slow": -1.0, "timeout": -1.0, "timeouts": -1.0, "clunky": -1.2,
    "support": 0.0,  # the helpdesk, not approval: VADER's +1.7 makes "Support never answers" read +0.40
}


@lru_cache(maxsize=1)
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(DOMAIN_SENTIMENT)
    return analyzer


def sentiment(text: str) -> float:
    """VADER compound sentiment of ``text``, -1 (most negative) to 1 (most positive)."""
    return float(_analyzer().polarity_scores(text)["compound"])


def _compile(terms: tuple[str, ...]) -> list[re.Pattern[str]]:
    return [re.compile(rf"(?<![\w'])(?:{t})(?![\w'])", re.IGNORECASE) for t in terms]


_OPERATIONAL_RE = {cls: _compile(terms) for cls, terms in OPERATIONAL_TERMS.items()}
_FEATURE_RE = _compile(FEATURE_REQUEST_TERMS)
_PRAISE_RE = _compile(PRAISE_TERMS)


def _matches(patterns: list[re.Pattern[str]], text: str) -> list[str]:
    """Distinct matched texts (lower-cased, spaces collapsed), in order of first appearance in the text."""
    found: dict[str, int] = {}
    for p in patterns:
        m = p.search(text)
        if m:
            word = " ".join(m.group(0).lower().split()).strip(" .:!")
            found.setdefault(word, m.start())
    # drop a match contained in a longer one ('ages' inside 'takes ages')
    words = [w for w in found if not any(w != o and w in o for o in found)]
    return sorted(words, key=lambda w: (found[w], w))


def _mentions(words: list[str]) -> str:
    return "mentions " + ", ".join(f"'{w}'" for w in words[:4])


def triage(text: str, compound: float | None = None) -> tuple[str, str]:
    """Triage one comment: ``(class, reason)``; ``compound`` is its sentiment (computed when None)."""
    if compound is None:
        compound = sentiment(text)
    best, best_words = None, []
    for cls in OPERATIONAL_CLASSES:
        words = _matches(_OPERATIONAL_RE[cls], text)
        if len(words) > len(best_words):
            best, best_words = cls, words
    if best:
        return best, _mentions(best_words)
    words = _matches(_FEATURE_RE, text)
    if words:
        return "feature_request", _mentions(words)
    words = _matches(_PRAISE_RE, text)
    if words and compound > NEGATIVE_SENTIMENT:
        return "praise", f"{_mentions(words)}; sentiment {compound:+.2f}"
    return "other", "no triage words matched" + (f" (mentions {', '.join(repr(w) for w in words)} but sentiment "
                                                 f"{compound:+.2f})" if words else "")


def _has_comment_sql(alias: str = "") -> str:
    a = f"{alias}." if alias else ""
    return f"{a}comment IS NOT NULL AND trim({a}comment) <> ''"


# Sentiment and triage read a comment's first 10,000 characters: a pasted 1 MB text takes the triage
# patterns seconds per comment; personal data is still looked for in all of it.
ANALYSED_CHARS = 10_000


def annotate_feedback(con: Connection, pilot_id: int, batch_id: int) -> int:
    """Store sentiment, triage, triage_reason and personal_data for the batch's comments; return how many.

    Writes the local table of the connection's feedback (ingest's scratch, where the batch is
    read before its rows are written out); rows without a comment are left NULL.
    """
    rows = con.execute(
        f"SELECT src_row, comment FROM feedback WHERE pilot_id = ? AND batch_id = ? AND {_has_comment_sql()}",
        [pilot_id, batch_id]).fetchall()
    if not rows:
        return 0
    src, sent, cls, why, pdata = [], [], [], [], []
    for src_row, text in rows:
        head = text[:ANALYSED_CHARS]
        lang = language(head)
        if lang:  # VADER and the triage words read English: another language would read as noise
            s, c, r = None, None, f"{NOT_ENGLISH}{lang}"
        else:
            s = sentiment(head)
            c, r = triage(head, s)
        src.append(src_row)
        sent.append(s)
        cls.append(c)
        why.append(r)
        pdata.append(has_personal_data(text))
    ann = pd.DataFrame({"src_row": np.array(src, dtype="int64"), "sentiment": pd.array(sent, dtype="Float64"),
                        "triage": np.array(cls, dtype=object), "triage_reason": np.array(why, dtype=object),
                        "personal_data": np.array(pdata, dtype=bool)})
    view = f"_fb_ann_{uuid.uuid4().hex[:12]}"
    con.register(view, ann)
    try:
        con.execute(
            f"UPDATE {lake.local('feedback')} f SET sentiment = a.sentiment, triage = a.triage, "
            f"triage_reason = a.triage_reason, personal_data = a.personal_data FROM {view} a "
            f"WHERE f.pilot_id = ? AND f.batch_id = ? AND f.src_row = a.src_row",
            [pilot_id, batch_id])
    finally:
        con.unregister(view)
    return len(rows)


# --- themes --------------------------------------------------------------------------------------
MIN_THEME_COMMENTS = 10
# Words common in any feedback that say nothing about its subject (on top of scikit-learn's English list).
THEME_STOP_WORDS = ("please", "thanks", "thank", "cheers", "fyi", "honestly", "ok", "okay", "overall", "really",
                    "just", "week", "update", "happened", "around", "today", "time", "fix", "great", "good",
                    "like", "love", "big", "fan", "hi", "hello", "lol", "chrome", "edge", "firefox")
TOP_TERMS = 8
EXAMPLES = 3


def theme_count(n_comments: int) -> int:
    """How many themes for ``n_comments``: one per ten comments, between 2 and 8."""
    return max(2, min(8, n_comments // 10))


@dataclass
class Themes:
    """A pilot's themes as computed from its comments of ``batches`` (what :func:`store_themes` writes)."""
    batches: list[int]
    topics: list[dict] = field(default_factory=list)  # in theme order: label, top_terms, size, means, examples
    members: pd.DataFrame | None = None                # batch_id, src_row, theme_id


def recompute_themes(con: Connection, pilot_id: int) -> int:
    """Recompute the pilot's themes (TF-IDF + NMF); replace its rows of feedback_themes and feedback_theme_rows.

    Returns the number of themes (0, and no themes stored, when the pilot has fewer than 10 comments or
    too few shared words). Deterministic: the same comments give the same themes. Runs in the caller's
    transaction when there is one.
    """
    return store_themes(con, pilot_id, compute_themes(con, pilot_id))


def compute_themes(con: Connection, pilot_id: int, source: str = "feedback") -> Themes:
    """The pilot's themes from its comments in ``source`` (a table or subquery with the columns of
    feedback; by default the pilot's feedback as the connection reads it), written nowhere."""
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

    batches = [r[0] for r in con.execute(f"SELECT DISTINCT batch_id FROM {source} WHERE pilot_id = ? ORDER BY 1",
                                         [pilot_id]).fetchall()]
    rows = con.execute(
        f"SELECT batch_id, src_row, comment, sentiment, rating FROM {source} WHERE pilot_id = ? AND {_has_comment_sql()} "
        f"ORDER BY batch_id, src_row", [pilot_id]).fetchall()
    if len(rows) < MIN_THEME_COMMENTS:
        return Themes(batches)
    texts = [redact(r[2]) for r in rows]  # masked: no email or number becomes a theme word
    stop = sorted(ENGLISH_STOP_WORDS.union(THEME_STOP_WORDS))
    vec = TfidfVectorizer(stop_words=stop, token_pattern=r"(?u)\b[a-zA-Z]{2,}\b(?![-_]?\d)", lowercase=True,
                          min_df=2, max_df=min(0.5, 2 / theme_count(len(rows))), sublinear_tf=True)
    # a word in more comments than about two themes' share does not tell themes apart (max_df)
    try:
        x = vec.fit_transform(texts)
    except ValueError:  # no word occurs in two comments
        return Themes(batches)
    terms = vec.get_feature_names_out()
    k = min(theme_count(len(rows)), x.shape[1])
    if k < 2:
        return Themes(batches)
    model = NMF(n_components=k, init="nndsvd", random_state=0, max_iter=1000)
    w = model.fit_transform(x)
    h = model.components_
    has_words = w.sum(axis=1) > 0
    assign = np.where(has_words, w.argmax(axis=1), -1)

    topics = []
    for t in range(k):
        members = np.flatnonzero(assign == t)
        if len(members) == 0:
            continue
        order = np.argsort(-h[t], kind="stable")
        top = [str(terms[i]) for i in order[:TOP_TERMS] if h[t, i] > 0]
        best = members[np.lexsort((members, -w[members, t]))][:EXAMPLES]
        sents = [rows[i][3] for i in members if rows[i][3] is not None]
        ratings = [rows[i][4] for i in members if rows[i][4] is not None]
        topics.append({"topic": t, "members": members, "top_terms": top, "label": " / ".join(top[:3]),
                       "size": int(len(members)),
                       "mean_sentiment": float(np.mean(sents)) if sents else None,
                       "mean_rating": float(np.mean(ratings)) if ratings else None,
                       "examples": [texts[i] for i in best]})
    topics.sort(key=lambda d: (-d["size"], d["label"]))  # theme 1 is the largest
    theme_of = np.full(len(rows), -1, dtype="int64")
    for theme_id, d in enumerate(topics, start=1):
        theme_of[d["members"]] = theme_id
    keep = theme_of > 0
    members = pd.DataFrame({"batch_id": np.array([r[0] for r in rows], dtype="int64")[keep],
                            "src_row": np.array([r[1] for r in rows], dtype="int64")[keep],
                            "theme_id": theme_of[keep].astype("int32")})
    return Themes(batches, topics, members)


def store_themes(con: Connection, pilot_id: int, themes: Themes) -> int:
    """Replace the pilot's rows of feedback_themes and feedback_theme_rows with ``themes``; returns
    the number of themes. Runs in the caller's transaction when there is one."""
    con.execute("DELETE FROM feedback_themes WHERE pilot_id = ?", [pilot_id])
    con.execute("DELETE FROM feedback_theme_rows WHERE pilot_id = ?", [pilot_id])
    for theme_id, d in enumerate(themes.topics, start=1):
        con.execute(
            "INSERT INTO feedback_themes (pilot_id, theme_id, label, top_terms, size, mean_sentiment, mean_rating, "
            "examples, computed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())",
            [pilot_id, theme_id, d["label"], d["top_terms"], d["size"], d["mean_sentiment"], d["mean_rating"],
             d["examples"]])
    if themes.members is not None and len(themes.members):
        view = f"_fb_theme_{uuid.uuid4().hex[:12]}"
        con.register(view, themes.members)
        try:
            con.execute(f"INSERT INTO feedback_theme_rows SELECT ?, batch_id, src_row, theme_id FROM {view}", [pilot_id])
        finally:
            con.unregister(view)
    return len(themes.topics)


# --- evidence ------------------------------------------------------------------------------------

def _scope(con: Connection, pilot: Pilot, filters: Filters) -> tuple[str, list] | Empty:
    """WHERE clause for the pilot's feedback under ``filters``, or Empty when there is none."""
    clause, params = where(pilot, filters, table_columns(con, "feedback"))
    if con.execute(f"SELECT count(*) FROM feedback WHERE {clause}", params).fetchone()[0]:
        return clause, params
    loaded = con.execute("SELECT count(*) FROM feedback WHERE pilot_id = ?", [pilot.pilot_id]).fetchone()[0]
    if not loaded:
        return Empty(f"No feedback has been loaded for {pilot.name}.")
    return Empty(no_match("feedback entries", loaded, filters))


def _comment_scope(con, pilot: Pilot, filters: Filters) -> tuple[str, list] | Empty:
    """Like :func:`_scope`, restricted to analysed comments; Empty says which is missing."""
    scope = _scope(con, pilot, filters)
    if isinstance(scope, Empty):
        return scope
    clause, params = scope
    n, done = con.execute(
        f"SELECT count(*), count(sentiment) FROM feedback WHERE {clause} AND {_has_comment_sql()}", params).fetchone()
    if not n:
        return Empty("The feedback has no written comments (only ratings or scores).")
    if not done:
        other = con.execute(f"SELECT count(*), min(substr(triage_reason, {len(NOT_ENGLISH) + 1})) FROM feedback "
                            f"WHERE {clause} AND starts_with(triage_reason, ?)", [*params, NOT_ENGLISH]).fetchone()
        if other[0] == n:
            return Empty(f"The {n:,} comments are not in English ({other[1]}, for one): sentiment and triage read "
                         "English only.")
        return Empty("The comments have not been analysed yet; reload the feedback file to analyse them.")
    return f"{clause} AND {_has_comment_sql()} AND sentiment IS NOT NULL", params


@dataclass
class FeedbackSummary:
    """Headline feedback figures; a figure is None when its data is missing, and ``missing`` says why."""
    count: int                                   # feedback entries
    rated: int                                   # entries with a 1-5 rating
    rating_counts: dict[int, int]                # 1..5 -> entries (ratings rounded to whole stars)
    mean_rating: float | None
    csat: float | None                           # share of ratings 4-5, 0..1
    scored: int                                  # entries with a 0-10 score
    promoters: int
    passives: int
    detractors: int
    nps: float | None                            # promoters% - detractors%, -100..100
    comments: int                                # entries with a written comment
    negative_share: float | None                 # share of analysed comments with sentiment <= -0.05
    personal_data: int                           # comments containing personal data
    missing: dict[str, str] = field(default_factory=dict)
    analysed: int = 0                            # comments with a sentiment (the negative share's base)


def feedback_summary(con: Connection, pilot: Pilot, filters: Filters = NO_FILTERS) -> FeedbackSummary | Empty:
    """Count, rating distribution, mean rating, CSAT, NPS and negative-comment share.

    Each share is over the rows that carry its value: CSAT over rated rows, NPS over scored rows,
    the negative share over analysed comments. A share over fewer than :data:`MIN_FOR_SHARE` rows,
    and NPS from scores that never leave 1-5 (star ratings mapped as scores), is not given: the
    count is, and ``missing`` says why.
    """
    scope = _scope(con, pilot, filters)
    if isinstance(scope, Empty):
        return scope
    clause, params = scope
    analysed = f"{_has_comment_sql()} AND sentiment IS NOT NULL"
    row = con.execute(
        f"""SELECT count(*), count(rating), avg(rating), count(*) FILTER (WHERE rating >= 4),
                   count(score), count(*) FILTER (WHERE score >= 9), count(*) FILTER (WHERE score >= 7 AND score < 9),
                   count(*) FILTER (WHERE score < 7), count(*) FILTER (WHERE score < 1 OR score > 5),
                   count(*) FILTER (WHERE {_has_comment_sql()}),
                   count(*) FILTER (WHERE {analysed}),
                   count(*) FILTER (WHERE {analysed} AND sentiment <= {NEGATIVE_SENTIMENT}),
                   count(*) FILTER (WHERE personal_data),
                   count(*) FILTER (WHERE starts_with(triage_reason, '{NOT_ENGLISH}')),
                   min(substr(triage_reason, {len(NOT_ENGLISH) + 1})) FILTER (WHERE starts_with(triage_reason, '{NOT_ENGLISH}'))
            FROM feedback WHERE {clause}""", params).fetchone()
    (count, rated, mean_rating, satisfied, scored, pro, pas, det, beyond_stars, comments, analysed_n, neg, pdata,
     foreign, lang) = row
    dist = dict(con.execute(
        f"SELECT CAST(round(rating) AS INTEGER) AS stars, count(*) FROM feedback WHERE {clause} AND rating IS NOT NULL "
        f"GROUP BY stars", params).fetchall())
    missing = {}
    if not rated:
        missing["rating"] = "No ratings (1-5) in this feedback, so no mean rating or CSAT."
    elif rated < MIN_FOR_SHARE:
        missing["csat"] = f"Only {rated} rating{'s' * (rated != 1)}: CSAT needs at least {MIN_FOR_SHARE}."
    if not scored:
        missing["nps"] = "No 0-10 scores in this feedback, so no NPS."
    elif not beyond_stars:
        missing["nps"] = (f"All {scored:,} scores lie within 1-5: they read as star ratings, not 0-10 recommend "
                          "scores, so no NPS. Map that column as the rating.")
    elif scored < MIN_FOR_SHARE:
        missing["nps"] = f"Only {scored} score{'s' * (scored != 1)}: NPS needs at least {MIN_FOR_SHARE}."
    if not comments:
        missing["negative_share"] = "No written comments in this feedback."
    elif foreign and analysed_n < MIN_FOR_SHARE:
        missing["negative_share"] = (f"{foreign:,} of the {comments:,} comments are not in English ({lang}, for one): "
                                     "sentiment reads English only, so there is no negative share.")
    elif not analysed_n:
        missing["negative_share"] = "The comments have not been analysed yet."
    elif analysed_n < MIN_FOR_SHARE:
        missing["negative_share"] = (f"Only {analysed_n} comment{'s' * (analysed_n != 1)}: the negative share needs "
                                     f"at least {MIN_FOR_SHARE}.")
    if foreign and "negative_share" not in missing:  # given, and said over which comments
        missing["negative_share_base"] = (f"{foreign:,} of the {comments:,} comments are not in English ({lang}, for "
                                          f"one): the negative share is over the {analysed_n:,} in English.")
    shown = {k: k not in missing for k in ("csat", "nps", "negative_share")}
    return FeedbackSummary(
        count=int(count), rated=int(rated), rating_counts={s: int(dist.get(s, 0)) for s in range(1, 6)},
        mean_rating=float(mean_rating) if rated else None,
        csat=satisfied / rated if rated and shown["csat"] else None,
        scored=int(scored), promoters=int(pro), passives=int(pas), detractors=int(det),
        nps=100.0 * (pro - det) / scored if scored and shown["nps"] else None, comments=int(comments),
        negative_share=neg / analysed_n if analysed_n and shown["negative_share"] else None,
        personal_data=int(pdata), missing=missing, analysed=int(analysed_n))


def sentiment_over_time(con: Connection, pilot: Pilot, filters: Filters = NO_FILTERS) -> pd.DataFrame | Empty:
    """Per pilot week (Monday): comments, mean sentiment, negative share."""
    scope = _comment_scope(con, pilot, filters)
    if isinstance(scope, Empty):
        return scope
    clause, params = scope
    return frame(con, f"""
        SELECT {local_week_sql(pilot)} AS week, count(*) AS comments, avg(sentiment) AS mean_sentiment,
               avg(CASE WHEN sentiment <= {NEGATIVE_SENTIMENT} THEN 1.0 ELSE 0.0 END) AS negative_share
        FROM feedback WHERE {clause} GROUP BY week ORDER BY week""", params)


def themes(con: Connection, pilot: Pilot, filters: Filters = NO_FILTERS) -> pd.DataFrame | Empty:
    """The pilot's stored themes; with filters, sizes and means are recounted within them (largest first).

    Columns: theme_id, label, top_terms, size, mean_sentiment, mean_rating, examples, computed_at (UTC).
    """
    scope = _comment_scope(con, pilot, filters)
    if isinstance(scope, Empty):
        return scope
    clause, params = scope
    stored = con.execute("SELECT count(*) FROM feedback_themes WHERE pilot_id = ?", [pilot.pilot_id]).fetchone()[0]
    if not stored:
        n = con.execute(f"SELECT count(*) FROM feedback WHERE pilot_id = ? AND {_has_comment_sql()}",
                        [pilot.pilot_id]).fetchone()[0]
        if n < MIN_THEME_COMMENTS:
            return Empty(f"Themes need at least {MIN_THEME_COMMENTS} comments; {pilot.name} has {n}.")
        return Empty("Themes have not been computed yet; reload the feedback to compute them.")
    # the stored examples are comments as written: masked, like every text shown (label and terms too)
    if filters == NO_FILTERS or filters.key() == NO_FILTERS.key():
        return privacy.mask_frame(frame(con, """
            SELECT theme_id, label, top_terms, size, mean_sentiment, mean_rating, examples,
                   timezone('UTC', computed_at) AS computed_at
            FROM feedback_themes WHERE pilot_id = ? ORDER BY size DESC, theme_id""", [pilot.pilot_id]))
    out = frame(con, f"""
        WITH fb AS (SELECT batch_id, src_row, sentiment, rating FROM feedback WHERE {clause}),
             f AS (SELECT r.theme_id, fb.sentiment, fb.rating FROM fb JOIN feedback_theme_rows r
                   ON r.pilot_id = ? AND r.batch_id = fb.batch_id AND r.src_row = fb.src_row)
        SELECT t.theme_id, t.label, t.top_terms, count(*)::INTEGER AS size, avg(f.sentiment) AS mean_sentiment,
               avg(f.rating) AS mean_rating, t.examples, timezone('UTC', t.computed_at) AS computed_at
        FROM feedback_themes t JOIN f USING (theme_id)
        WHERE t.pilot_id = ?
        GROUP BY ALL ORDER BY size DESC, t.theme_id""", [*params, pilot.pilot_id, pilot.pilot_id])
    if out.empty:
        return Empty("None of the comments in the selected dates and segment belong to a theme.")
    return privacy.mask_frame(out)


def _verbatims(con, pilot: Pilot, df: pd.DataFrame, reveal_as: Actor | None, what: str) -> pd.DataFrame:
    """Mask personal data in every text column, unless ``reveal_as`` may reveal it (checked and audited).

    Every comment shown goes through the detector, whatever its ``personal_data`` flag: a flag set
    at ingest by an older detector (before phone numbers such as 555.123.4567 counted) would let it
    through, and the frames shown are small (the detector costs a regex search on text without digits).
    """
    if reveal_as is not None:
        privacy.reveal(con, reveal_as, pilot, what)
        return df
    return privacy.mask_frame(df)


def triage_table(con: Connection, pilot: Pilot, filters: Filters = NO_FILTERS) -> pd.DataFrame | Empty:
    """One row per triage class (all classes, in :data:`TRIAGE_CLASSES` order): comments, share, three examples."""
    scope = _comment_scope(con, pilot, filters)
    if isinstance(scope, Empty):
        return scope
    clause, params = scope
    counts = frame(con, f"""
        SELECT triage, count(*) AS comments,
               list(comment ORDER BY sentiment, ts, batch_id, src_row)[1:{EXAMPLES}] AS examples
        FROM feedback WHERE {clause} AND triage IS NOT NULL GROUP BY triage""", params)
    by = {r.triage: r for r in counts.itertuples()}
    total = int(counts["comments"].sum()) if len(counts) else 0
    rows = []
    for cls in TRIAGE_CLASSES:
        r = by.get(cls)
        n = int(r.comments) if r is not None else 0
        ex = list(r.examples) if r is not None else []
        rows.append({"triage": cls, "operational": cls.startswith("operational:"), "comments": n,
                     "share": n / total if total else 0.0, "examples": ex})
    return privacy.mask_frame(pd.DataFrame(rows))


def operational_requirements(con: Connection, pilot: Pilot, filters: Filters = NO_FILTERS,
                             reveal_as: Actor | None = None) -> pd.DataFrame | Empty:
    """Comments triaged as operational issues: class, comment, reason, ts (pilot's local time), rating, sentiment."""
    scope = _comment_scope(con, pilot, filters)
    if isinstance(scope, Empty):
        return scope
    clause, params = scope
    order = " ".join(f"WHEN '{c}' THEN {i}" for i, c in enumerate(OPERATIONAL_CLASSES))
    out = frame(con, f"""
        SELECT triage AS class, comment, triage_reason AS reason, {local_ts_sql(pilot)} AS ts, rating, sentiment,
               personal_data
        FROM feedback WHERE {clause} AND triage LIKE 'operational:%'
        ORDER BY CASE triage {order} END, ts, batch_id, src_row""", params)
    if out.empty:
        return Empty("No comments were triaged as operational issues.")
    return _verbatims(con, pilot, out, reveal_as, "operational-requirement comments")


def most_negative(con: Connection, pilot: Pilot, filters: Filters = NO_FILTERS, n: int = 10,
                  reveal_as: Actor | None = None) -> pd.DataFrame | Empty:
    """The ``n`` most negative comments: comment, sentiment, rating, ts (pilot's local time), triage."""
    scope = _comment_scope(con, pilot, filters)
    if isinstance(scope, Empty):
        return scope
    clause, params = scope
    out = frame(con, f"""
        SELECT comment, sentiment, rating, {local_ts_sql(pilot)} AS ts, triage, personal_data
        FROM feedback WHERE {clause} AND sentiment < 0
        ORDER BY sentiment, ts, batch_id, src_row LIMIT ?""", [*params, int(n)])
    if out.empty:
        return Empty("No comment has negative sentiment.")
    return _verbatims(con, pilot, out, reveal_as, "most negative comments")
