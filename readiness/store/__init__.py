"""The store seam: open a unit of work, run queries on it, commit it as one transaction.

Everything outside this package reaches the database through these names: ``open_store`` (a
connection for one unit of work), ``transaction`` (BEGIN … COMMIT with after-commit callbacks),
``Connection`` and ``DatabaseError`` (the types to name), and the migrations. The embedded backend
(one DuckDB file, :mod:`readiness.store.embedded`) is the only one today; a second backend is
added behind these names, not in the code that calls them.
"""

from readiness.store.embedded import (
    ENGINE_VERSION,
    busy_message,
    close,
    connect,
    forget_migrated,
    held_open,
    open_store,
    pid_alive,
    restrict_file_access,
    scratch,
)
from readiness.store.migrations import migrate, schema_version
from readiness.store.transactions import (
    Connection,
    DatabaseError,
    StoreBusy,
    StoreError,
    after_commit,
    file_of,
    held_still,
    in_transaction,
    transaction,
)

__all__ = [
    "ENGINE_VERSION", "Connection", "DatabaseError", "StoreBusy", "StoreError", "after_commit", "file_of", "busy_message", "close",
    "connect", "forget_migrated", "held_open", "held_still", "in_transaction", "migrate", "open_store",
    "pid_alive", "restrict_file_access", "schema_version", "scratch", "transaction",
]
