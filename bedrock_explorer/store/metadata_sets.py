"""The metadata set of an invocation: one small integer for its whole ``requestMetadata`` map.

Why: reading the map column is most of what the Explorer's two metadata questions cost — the
keys and pairs of a selection (every map unnested) and the cost by one key (a lookup in every
map). With the distinct maps in a small table (``metadata_sets``), both read one integer per
invocation and look at each distinct map once: at 10M invocations and a 30-day view, the keys
and pairs went from 134 ms to 17 ms and the cost by a key from 154 ms to 91 ms
(``bench/explorer.py``, same hour). The set is exact — the table holds the maps themselves,
not a hash — and the writer fills it in the same transaction that stores the rows, like the
price key (``store/price_keys.py``), so no reader sees a row with a map but without its set.

Two maps with the same pairs in another order are two sets: harmless, since every question
reads the values inside the maps.

Why a cap: when nearly every map is different (a key such as a trace id or a user id), the sets
are as many as the invocations and only cost — each batch's lookup reads the whole table (with
200k sets a 1,000-line batch took 57 ms instead of 30). Past :data:`CAP` sets the store turns
*direct* for good (a flag in ``settings``): no more sets are made or looked up, and every
metadata question reads the maps themselves, as before the sets existed.
"""

from __future__ import annotations

import duckdb

from bedrock_explorer.store import probe

_NOW = "current_timestamp AT TIME ZONE 'UTC'"

#: Past this many sets the store stops making them and reads the maps directly.
CAP = 50_000

_DIRECT_KEY = "metadata_sets.direct"


def direct(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether this store reads every map directly (its sets passed :data:`CAP`)."""
    return bool(
        con.execute("SELECT count(*) FROM settings WHERE key = ?", [_DIRECT_KEY]).fetchall()[0][0]
    )


def go_direct(con: duckdb.DuckDBPyConnection) -> None:
    """Stop making and reading sets, for good (see the module's docstring)."""
    con.execute("INSERT OR REPLACE INTO settings VALUES (?, '1')", [_DIRECT_KEY])


def insert_parts(con: duckdb.DuckDBPyConnection, rows: str) -> tuple[str, str]:
    """What the writer's insert selects as ``metadata_set`` and joins to get it, for parsed rows
    (alias ``rows``): the set of a map already known (NULL for a map this batch brings first:
    :func:`assign_new` registers those before the commit), or NULL in a direct store."""
    if direct(con):
        return "CAST(NULL AS INTEGER)", ""
    join = f"LEFT JOIN metadata_sets ms ON ms.request_metadata = {rows}.request_metadata"
    return "ms.set_id", join


def assign_new(cur: duckdb.DuckDBPyConnection) -> int:
    """Register the maps this transaction's rows brought first and set them on those rows.
    Returns how many sets were new (usually 0: then no row is touched). Past :data:`CAP` the
    store turns direct instead."""
    if direct(cur):
        return 0
    added = _assign(cur, f"i.ingested_at = {_NOW} AND {_WITHOUT}", always=False)
    if added and cur.execute("SELECT count(*) FROM metadata_sets").fetchall()[0][0] > CAP:
        go_direct(cur)
    return added


def assign_missing(con: duckdb.DuckDBPyConnection) -> int:
    """Give every row with a map but no set its set (rows inserted by SQL outside the writer:
    the benchmarks build their stores that way). Returns how many sets were new."""
    if direct(con):
        return 0
    return _assign(con, _WITHOUT, always=True)


_WITHOUT = "i.metadata_set IS NULL AND i.request_metadata IS NOT NULL"


def _assign(con: duckdb.DuckDBPyConnection, rows: str, *, always: bool) -> int:
    if not always and not probe.any_invocation(con, rows):  # the common batch: nothing new
        return 0
    added = con.execute(
        f"""
        INSERT INTO metadata_sets (set_id, request_metadata)
        SELECT CAST((SELECT coalesce(max(set_id), 0) FROM metadata_sets)
                    + row_number() OVER (ORDER BY CAST(m AS VARCHAR)) AS INTEGER), m
        FROM (
            SELECT DISTINCT i.request_metadata AS m FROM invocations i WHERE {rows}
            EXCEPT SELECT request_metadata FROM metadata_sets
        )
        """
    ).fetchall()[0][0]
    # Rows of a map known before this batch already have their set from the insert's lookup
    # (unless inserted by SQL outside the writer: ``always``), so only new sets need the update.
    if added or always:
        con.execute(
            f"UPDATE invocations i SET metadata_set = s.set_id FROM metadata_sets s "
            f"WHERE {rows} AND s.request_metadata = i.request_metadata"
        )
    return int(added)
