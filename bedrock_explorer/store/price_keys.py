"""The price key of an invocation: one small integer for what decides its rates — model id,
source region and tier, and for an image request its quality and size.

Why: every grouped cost query first sums invocations per price key (prices are constant for a
key within a price period), then prices those few sums. Grouping 10M rows by three strings cost
~1.6x a token-only query; by one integer it costs about the same as the tokens alone
(``bench/pricing.py``). The key is exact — a table of the distinct values, not a hash — and the
writer fills it in the same transaction that stores the rows, so no reader ever sees a row
without one.
"""

from __future__ import annotations

import duckdb

from bedrock_explorer.store import probe

_NOW = "current_timestamp AT TIME ZONE 'UTC'"


def _match(rows: str) -> str:
    """How a row (alias ``rows``) meets its key (alias ``k``). The image quality and size are
    part of the key (Nova Canvas and Titan Image bill by them); '' and 0 when not asked."""
    return (
        f"k.model_id = {rows}.model_id AND k.region = coalesce({rows}.region, '') "
        f"AND k.tier = {rows}.performance_tier "
        f"AND k.image_quality = coalesce({rows}.image_quality, '') "
        f"AND k.image_pixels = coalesce({rows}.image_pixels, 0)"
    )


def lookup_join(rows: str) -> str:
    """``LEFT JOIN`` of parsed rows (alias ``rows``) to the keys already known: the writer's
    insert takes ``k.price_key`` from it, NULL for a key this batch brings for the first time
    (:func:`assign_new` gives those theirs before the commit)."""
    return f"LEFT JOIN price_keys k ON {_match(rows)}"


def assign_new(cur: duckdb.DuckDBPyConnection) -> int:
    """Register the keys this transaction's rows brought first and set them on those rows.
    Returns how many keys were new (usually 0: then no row is touched)."""
    return _assign(cur, f"i.ingested_at = {_NOW} AND i.price_key IS NULL", always=False)


def assign_missing(con: duckdb.DuckDBPyConnection) -> int:
    """Give every row without a price key its key (rows inserted by SQL outside the writer: the
    benchmarks build their stores that way). Returns how many keys were new."""
    return _assign(con, "i.price_key IS NULL", always=True)


def _assign(con: duckdb.DuckDBPyConnection, rows: str, *, always: bool) -> int:
    if not always and not probe.any_invocation(con, rows):  # the common batch: nothing new
        return 0
    added = con.execute(
        f"""
        INSERT INTO price_keys (price_key, model_id, region, tier, image_quality, image_pixels)
        SELECT CAST((SELECT coalesce(max(price_key), 0) FROM price_keys)
                    + row_number() OVER (
                        ORDER BY model_id, region, tier, image_quality, image_pixels
                    ) AS INTEGER), *
        FROM (
            SELECT DISTINCT i.model_id, coalesce(i.region, '') AS region,
                i.performance_tier AS tier, coalesce(i.image_quality, '') AS image_quality,
                coalesce(i.image_pixels, 0) AS image_pixels
            FROM invocations i WHERE {rows}
            EXCEPT SELECT model_id, region, tier, image_quality, image_pixels FROM price_keys
        )
        """
    ).fetchall()[0][0]
    if added or always:
        # Only a batch that brought a new key has rows without one (the insert's lookup gave
        # every other row its key), so the common batch updates nothing.
        con.execute(
            f"UPDATE invocations i SET price_key = k.price_key FROM price_keys k "
            f"WHERE {rows} AND {_match('i')}"
        )
    return int(added)
