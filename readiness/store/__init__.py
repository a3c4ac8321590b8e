"""The store seam: open a unit of work, run queries on it, commit it as one transaction.

Everything outside this package reaches the database through these names: ``open_store`` (a
connection for one unit of work), ``transaction`` (BEGIN … COMMIT, with ``after_commit``
callbacks), ``Connection`` and ``DatabaseError`` (the types to name), ``scratch`` (a connection
outside the store, to read a file before it is loaded) and the migrations; no other module imports
the database driver (the import contract in ``.importlinter`` checks it). A ``Connection`` is a
DuckDB connection, whose ``execute`` / ``fetchall`` / ``df`` are the query interface: DuckDB is the
query engine in every deployment. The embedded backend (:mod:`readiness.store.embedded`, one
DuckDB file) is the only one today; another (records in PostgreSQL, telemetry in a lake, both
attached to DuckDB) is added behind these names, not in the code that calls them.
"""

from readiness.store.embedded import (
    ENGINE_VERSION,
    busy_message,
    close,
    connect,
    forget_migrated,
    held_open,
    next_id,
    open_store,
    pid_alive,
    restrict_file_access,
    scratch,
)
from readiness.store.migrations import migrate, schema_version
from readiness.store.shadow import id_list, shadowed, table_of
from readiness.store.transactions import (
    Connection,
    DatabaseError,
    StoreBusy,
    StoreError,
    after_commit,
    file_of,
    held_still,
    ident,
    in_transaction,
    literal,
    organisation,
    redact,
    transaction,
)

__all__ = [
    "ENGINE_VERSION", "Connection", "DatabaseError", "StoreBusy", "StoreError", "after_commit", "file_of", "busy_message", "close",
    "connect", "forget_migrated", "held_open", "held_still", "id_list", "ident", "in_transaction", "literal", "migrate", "next_id", "open_store", "organisation",
    "pid_alive", "redact", "restrict_file_access", "schema_version", "scratch", "shadowed", "table_of", "transaction",
]
