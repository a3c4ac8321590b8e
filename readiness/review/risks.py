"""The risk register: signals accepted as risks (or dismissed with a reason), manual risks, history.

A risk has a class (data, customer impact, compliance, operational dependency), likelihood and
impact on 1-5 scales (score = likelihood x impact; high from 15, medium from 8), an owner, a
mitigation, a due date and a status (open, mitigated, accepted). A dismissed signal is kept as a
row with status ``dismissed`` and its reason, so it is not raised again silently. Every change
adds a history row (before / after) and an audit record in the same transaction.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from readiness.catalog import Pilot
from readiness.errors import ReadinessError
from readiness.security import audit
from readiness.security.access import Actor, require
from readiness.store import Connection, next_id, transaction

CLASSES = ("data", "customer_impact", "compliance", "operational_dependency")
STATUSES = ("open", "mitigated", "accepted")
HIGH_SCORE, MEDIUM_SCORE = 15, 8
FIELDS = ("risk_class", "title", "likelihood", "impact", "owner", "mitigation", "due", "status")
EXPORT_COLUMNS = ["pilot", "risk_id", "signal_key", "risk_class", "title", "likelihood", "impact", "score",
                  "severity", "owner", "mitigation", "due", "status", "overdue", "dismiss_reason", "updated_by",
                  "updated_at"]


class RiskError(ReadinessError, ValueError):
    """A register change that cannot be made as asked; the message says why."""


def _now() -> datetime:
    return datetime.now(UTC)


def severity(likelihood: int, impact: int) -> str:
    score = likelihood * impact
    return "high" if score >= HIGH_SCORE else "medium" if score >= MEDIUM_SCORE else "low"


# A signal taken into the register with the form's defaults keeps its severity: a high signal's
# defaults score high (4 x 4 = 16; 3 x 4 = 12 would score medium).
DEFAULT_RATING = {"high": (4, 4), "medium": (3, 3), "low": (2, 2)}


def default_rating(signal_severity: str) -> tuple[int, int]:
    """(likelihood, impact) to offer for a signal of this severity: their product scores the same."""
    return DEFAULT_RATING.get(signal_severity, (3, 3))


def _check_scale(name: str, value: int) -> int:
    if not isinstance(value, int) or not 1 <= value <= 5:
        raise RiskError(f"{name.capitalize()} is a whole number from 1 to 5, not {value!r}.")
    return value


def _insert(con, actor: Actor, pilot: Pilot, row: dict[str, Any]) -> int:
    now = _now()
    risk_id = next_id(con, "risk_id_seq")
    con.execute(
        """INSERT INTO risks (risk_id, pilot_id, signal_key, risk_class, title, likelihood, impact, owner, mitigation, due,
                              status, dismiss_reason, created_by, created_at, updated_by, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [risk_id, pilot.pilot_id, row.get("signal_key"), row["risk_class"], row["title"], row.get("likelihood"),
         row.get("impact"), row.get("owner"), row.get("mitigation"), row.get("due"), row["status"],
         row.get("dismiss_reason"), actor.name, now, actor.name, now])
    con.execute("INSERT INTO risk_history VALUES (?, ?, ?, NULL, ?)",
                [risk_id, now, actor.name, json.dumps(row, default=str)])
    return risk_id


def _validated(risk_class: str, title: str, likelihood: int, impact: int, owner: str, mitigation: str | None,
               due: date | None) -> dict[str, Any]:
    if risk_class not in CLASSES:
        raise RiskError(f"Risk class must be one of {', '.join(CLASSES)}, not {risk_class!r}.")
    if not (title or "").strip():
        raise RiskError("A risk needs a title.")
    if not (owner or "").strip():
        raise RiskError("A risk needs an owner.")
    return {"risk_class": risk_class, "title": title.strip(), "likelihood": _check_scale("likelihood", likelihood),
            "impact": _check_scale("impact", impact), "owner": owner.strip(), "mitigation": mitigation, "due": due,
            "status": "open"}


def accept_signal(con: Connection, actor: Actor, pilot: Pilot, signal_key: str, *, risk_class: str,
                  finding: str, likelihood: int, impact: int, owner: str, mitigation: str | None = None,
                  due: date | None = None) -> int:
    """Take a computed signal into the register as an open risk; audited. Returns the risk id."""
    row = {**_validated(risk_class, finding, likelihood, impact, owner, mitigation, due), "signal_key": signal_key}
    return _register_signal(con, actor, pilot, row, "risk.accept_signal")


def dismiss_signal(con: Connection, actor: Actor, pilot: Pilot, signal_key: str, *, risk_class: str,
                   finding: str, reason: str) -> int:
    """Dismiss a signal, with the reason kept (it then stays out of the open list); audited."""
    if not (reason or "").strip():
        raise RiskError("Dismissing a signal needs a reason.")
    row = {"signal_key": signal_key, "risk_class": risk_class, "title": finding, "status": "dismissed",
           "dismiss_reason": reason.strip()}
    return _register_signal(con, actor, pilot, row, "risk.dismiss_signal")


def _register_signal(con, actor: Actor, pilot: Pilot, row: dict[str, Any], action: str) -> int:
    """Insert a signal's register row once (accepted or dismissed); audited."""
    with transaction(con):
        require(con, actor, "edit_review", pilot.pilot_id)
        if con.execute("SELECT 1 FROM risks WHERE pilot_id = ? AND signal_key = ?",
                       [pilot.pilot_id, row["signal_key"]]).fetchone():
            raise RiskError(f"The signal {row['signal_key']} is already in the register.")
        risk_id = _insert(con, actor, pilot, row)
        audit.record(con, actor, action, f"pilot:{pilot.pilot_id}/risk:{risk_id}", {"after": row})
    return risk_id


def add_risk(con: Connection, actor: Actor, pilot: Pilot, *, risk_class: str, title: str,
             likelihood: int, impact: int, owner: str, mitigation: str | None = None, due: date | None = None) -> int:
    """A risk the logs cannot show (e.g. a contract ends); audited."""
    row = _validated(risk_class, title, likelihood, impact, owner, mitigation, due)
    with transaction(con):
        require(con, actor, "edit_review", pilot.pilot_id)
        risk_id = _insert(con, actor, pilot, row)
        audit.record(con, actor, "risk.add", f"pilot:{pilot.pilot_id}/risk:{risk_id}", {"after": row})
    return risk_id


def update_risk(con: Connection, actor: Actor, pilot: Pilot, risk_id: int, **changes: Any) -> None:
    """Change a risk's fields or status; history and audit keep before and after."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise RiskError(f"Unknown risk fields: {', '.join(sorted(unknown))}.")
    if "status" in changes and changes["status"] not in STATUSES:
        raise RiskError(f"Status must be one of {', '.join(STATUSES)}, not {changes['status']!r}.")
    for name in ("likelihood", "impact"):
        if name in changes:
            _check_scale(name, changes[name])
    with transaction(con):
        require(con, actor, "edit_review", pilot.pilot_id)
        cur = con.execute(f"SELECT {', '.join(FIELDS)} FROM risks WHERE risk_id = ? AND pilot_id = ?",
                          [risk_id, pilot.pilot_id])
        row = cur.fetchone()
        if row is None:
            raise RiskError(f"{pilot.name} has no risk {risk_id}.")
        before = dict(zip(FIELDS, row))
        if before["status"] == "dismissed":
            raise RiskError(f"Risk {risk_id} is a dismissed signal; accept the signal as a new risk instead.")
        after = {**before, **changes}
        sets = ", ".join(f"{k} = ?" for k in changes)
        con.execute(f"UPDATE risks SET {sets}, updated_by = ?, updated_at = ? WHERE risk_id = ?",
                    [*changes.values(), actor.name, _now(), risk_id])
        con.execute("INSERT INTO risk_history VALUES (?, ?, ?, ?, ?)",
                    [risk_id, _now(), actor.name, json.dumps(before, default=str), json.dumps(after, default=str)])
        audit.record(con, actor, "risk.edit", f"pilot:{pilot.pilot_id}/risk:{risk_id}",
                     {"before": before, "after": after})


EDITABLE = ("title", "likelihood", "impact", "owner", "mitigation", "due", "status")


def _plain(value: Any) -> Any:
    """A table cell as the store keeps it: blanks and NaN/NaT as None, dates as dates, whole numbers as int."""
    import pandas as pd  # here, not at the top: the command line imports this module and needs no pandas

    if hasattr(value, "item") and not isinstance(value, (pd.Timestamp, datetime)):
        value = value.item()  # numpy scalars
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, datetime):  # also pd.Timestamp
        return value.date()
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def register_changes(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """What a table edit changed: {risk_id: {field: new value}} over the EDITABLE fields."""
    old = {r["risk_id"]: r for r in before}
    out: dict[int, dict[str, Any]] = {}
    for row in after:
        rid = int(row["risk_id"])
        if rid not in old:
            continue
        changed = {f: _plain(row[f]) for f in EDITABLE if f in row and _plain(row[f]) != _plain(old[rid].get(f))}
        if changed:
            out[rid] = changed
    return out


def edit_register(con: Connection, actor: Actor, pilot: Pilot, changes: dict[int, dict[str, Any]]) -> int:
    """Apply several risks' changes (from :func:`register_changes`) all or none; each audited. Returns how many."""
    with transaction(con):
        for risk_id, fields in changes.items():
            if "title" in fields and not fields["title"]:
                raise RiskError(f"Risk {risk_id} needs a title.")
            update_risk(con, actor, pilot, risk_id, **fields)
    return len(changes)


def list_risks(con: Connection, actor: Actor, pilot: Pilot, include_dismissed: bool = True,
               today: date | None = None) -> list[dict[str, Any]]:
    """The register with score, severity and an overdue flag (open and past its due date)."""
    require(con, actor, "read_pilot", pilot.pilot_id)
    cur = con.execute("SELECT * FROM risks WHERE pilot_id = ? AND (? OR status <> 'dismissed') ORDER BY risk_id",
                      [pilot.pilot_id, include_dismissed])
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    today = today or _now().date()
    for r in rows:
        r["pilot"] = pilot.name
        scored = r["likelihood"] is not None and r["impact"] is not None
        r["score"] = r["likelihood"] * r["impact"] if scored else None
        r["severity"] = severity(r["likelihood"], r["impact"]) if scored else None
        r["overdue"] = r["status"] == "open" and r["due"] is not None and r["due"] < today
    return rows


def open_high(con: Connection, pilot_id: int) -> int:
    """How many open risks score high (for computed conditions and the suggested outcome)."""
    return con.execute("SELECT count(*) FROM risks WHERE pilot_id = ? AND status = 'open' AND likelihood * impact >= ?",
                       [pilot_id, HIGH_SCORE]).fetchone()[0]


def untriaged(con: Connection, pilot_id: int, signals: list[dict[str, Any]] | None,
              severities: tuple[str, ...] = ("high",)) -> list[dict[str, Any]]:
    """The computed signals (as dicts) of these severities that are neither in the register nor
    dismissed (for the suggested outcome, the stepper, the Readiness page and the readout)."""
    taken = {r[0] for r in con.execute("SELECT signal_key FROM risks WHERE pilot_id = ? AND signal_key IS NOT NULL",
                                       [pilot_id]).fetchall()}
    return [s for s in signals or [] if s["severity"] in severities and s["key"] not in taken]


def history(con: Connection, actor: Actor, pilot: Pilot, risk_id: int) -> list[dict[str, Any]]:
    require(con, actor, "read_pilot", pilot.pilot_id)
    cur = con.execute("SELECT h.* FROM risk_history h JOIN risks r USING (risk_id) WHERE h.risk_id = ? AND r.pilot_id = ? "
                      "ORDER BY h.changed_at", [risk_id, pilot.pilot_id])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]
