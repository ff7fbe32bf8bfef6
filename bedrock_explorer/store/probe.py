"""A cheap "is there any?" over the invocations, for the writer's per-batch registrations.

Why: most batches bring no new price key and no new metadata set; asking whether one row needs
one (stopping at the first) costs a third of the insert, where the registration itself would
scan the batch's rows, compare them with the whole dimension table and update nothing.
"""

from __future__ import annotations

import duckdb


def any_invocation(con: duckdb.DuckDBPyConnection, where: str) -> bool:
    """Whether some invocation (alias ``i``) matches ``where`` (SQL written in this package)."""
    found = con.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM invocations i WHERE {where} LIMIT 1)"
    ).fetchall()[0][0]
    return bool(found)
