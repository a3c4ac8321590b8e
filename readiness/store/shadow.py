"""Read the store through views that stand in for some of its tables (reading "as of" a past state).

A view made here is a temporary view on a connection of its own: it shadows the table of the same
name for that connection only, so the code that reads (written against the table names) runs
unchanged, and every other connection, the caller's included, still sees the tables.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from readiness.store.transactions import Connection, derived, forget, ident, organisation


def table_of(con: Connection, name: str) -> str:
    """The fully qualified name of the store's own ``name`` (table or view), for a view body that
    reads the real table under a view that shadows it."""
    if organisation(con):
        from readiness.store import lake

        if name in lake.LAKE_TABLES:  # a view of this connection only: its body, as a subquery
            return f"({lake.view_body(con, name)})"
    db, schema = con.execute("SELECT current_database(), current_schema()").fetchone()
    return f"{ident(db)}.{ident(schema)}.{ident(name)}"


def id_list(ids) -> str:
    """A list of integer ids as an SQL literal (``[1, 2]::BIGINT[]``): a view keeps no bound
    parameters, so its ids are written into it, each checked to be an integer."""
    items = []
    for v in ids:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"an id must be an integer, not {v!r}")
        items.append(str(v))
    return "[" + ", ".join(items) + "]::BIGINT[]"


@contextlib.contextmanager
def shadowed(con: Connection, views: Mapping[str, str]) -> Iterator[Connection]:
    """A connection to the same store on which each ``views`` name reads its SELECT instead of the
    table. View bodies name real tables through :func:`table_of`. The connection and its views end
    with the block; it sees what was committed when it opened."""
    cur = derived(con)
    try:
        for name, select in views.items():
            cur.execute(f"CREATE OR REPLACE TEMP VIEW {ident(name)} AS {select}")
        yield cur
    finally:
        forget(cur)
        cur.close()
