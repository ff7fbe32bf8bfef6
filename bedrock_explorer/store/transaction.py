"""One transaction on a DuckDB cursor, rolled back on any failure without hiding it.

Why a helper: nine hand-written ``BEGIN … COMMIT / ROLLBACK`` blocks each let a failed
``ROLLBACK`` (DuckDB has often ended the transaction itself, e.g. on a full disk: "cannot
rollback - no transaction is active") replace the error that caused it, so the user read the
secondary message instead of "No space left on device".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import duckdb


@contextlib.contextmanager
def transaction(
    cur: duckdb.DuckDBPyConnection, *, begun: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """``BEGIN`` … ``COMMIT``; on any exception ``ROLLBACK`` and re-raise the *original* error.

    ``begun``: the transaction was begun already (a statement ran in it first); only its end is
    left to this block.
    """
    if not begun:
        cur.execute("BEGIN TRANSACTION")
    try:
        yield cur
        cur.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            cur.execute("ROLLBACK")
        raise
