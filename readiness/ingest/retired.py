"""Rows of deleted batches that a decision's evidence was read from.

A decision freezes its evidence and lists the batches it was read from. Deleting one of those
batches takes its rows out of every current figure, but the rows are kept, in ``<table>_retired``
beside each evidence table, so that the figures as decided can still be recomputed
(:mod:`readiness.review.asof`). A batch no decision read is deleted outright.
"""

from __future__ import annotations

from readiness.store import Connection, lake, table_of

# The tables holding a batch's rows, by kind of batch (usage: the events and their rollup, the
# lake's tables); the batch record itself is kept too.
BATCH_TABLES = {"usage": lake.USAGE_TABLES, "feedback": ("feedback",), "exceptions": ("exceptions",)}
RECORD_TABLE = "ingest_batches"


def retired_name(table: str) -> str:
    return f"{table}_retired"


def pinned_by(con: Connection, batch_id: int) -> list[int]:
    """Ids of the decisions whose frozen evidence lists ``batch_id``."""
    return [r[0] for r in con.execute(
        """SELECT decision_id FROM decisions
           WHERE list_contains(CAST(json_extract(snapshot, '$.batches[*].batch_id') AS BIGINT[]), ?)
           ORDER BY decision_id""", [batch_id]).fetchall()]


def pinned_snapshots(con: Connection) -> set[int]:
    """The lake snapshots decisions' evidence was read at (the organisation deployment's lake)."""
    return {r[0] for r in con.execute(
        "SELECT DISTINCT CAST(json_extract(snapshot, '$.lake_snapshot') AS BIGINT) AS v FROM decisions "
        "WHERE v IS NOT NULL").fetchall()}


def kept_batches(con: Connection) -> set[int]:
    """The batches whose rows the lake keeps: those listed now and those a decision read."""
    read = con.execute("SELECT DISTINCT unnest(CAST(json_extract(snapshot, '$.batches[*].batch_id') AS BIGINT[])) "
                       "FROM decisions").fetchall()
    return {r[0] for r in con.execute("SELECT DISTINCT batch_id FROM lake_files").fetchall()} | {r[0] for r in read}


def retire(con: Connection, kind: str, batch_id: int) -> int:
    """Copy the batch's rows and its record into the retired tables (inside the caller's
    transaction, before it deletes them). Returns the number of evidence rows kept."""
    kept = 0
    for table in (*BATCH_TABLES[kind], RECORD_TABLE):
        _ensure_like(con, table)
        n = con.execute(f"INSERT INTO {retired_name(table)} BY NAME SELECT * FROM {table} WHERE batch_id = ?",
                        [batch_id]).fetchone()[0]
        if table != RECORD_TABLE:
            kept += n
    return kept


def _ensure_like(con: Connection, table: str) -> None:
    """Create ``<table>_retired`` with the table's columns (no constraints), or add the columns a
    later migration gave the table."""
    retired = retired_name(table)
    con.execute(f"CREATE TABLE IF NOT EXISTS {retired} AS SELECT * FROM {table_of(con, table)} LIMIT 0")
    missing = con.execute(
        """SELECT c.column_name, c.data_type FROM information_schema.columns c
           WHERE c.table_catalog = current_database() AND c.table_schema = current_schema() AND c.table_name = ?
             AND c.column_name NOT IN (SELECT column_name FROM information_schema.columns
                                      WHERE table_catalog = current_database() AND table_schema = current_schema()
                                        AND table_name = ?)
           ORDER BY c.ordinal_position""", [table, retired]).fetchall()
    for column, data_type in missing:
        con.execute(f'ALTER TABLE {retired} ADD COLUMN "{column}" {data_type}')


def retired_tables(con: Connection) -> set[str]:
    """The evidence tables that have a retired copy in this store."""
    names = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_schema = current_schema() AND table_name LIKE '%\\_retired' ESCAPE '\\'").fetchall()}
    return {n.removesuffix("_retired") for n in names}
