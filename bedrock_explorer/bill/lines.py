"""Store bill lines one source at a time, so every import is idempotent and resumable.

Why per source: a CUR 2.0 export rewrites the files of the running month in place, and Cost
Explorer revises the last days. Re-reading a source *replaces* what it gave before (in one
transaction with its ``bill_sources`` row); reading an unchanged file is skipped by its
fingerprint. An import stopped half way leaves whole sources stored and the rest to the next run.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pandas as pd

from bedrock_explorer.store import Store

#: The columns a bill frame hands to :func:`replace_source`, in the table's order.
LINE_COLUMNS = (
    "day",
    "account_id",
    "service",
    "product_code",
    "usage_type",
    "line_item_type",
    "region_code",
    "unit",
    "usage_amount",
    "unblended_cost",
    "net_unblended_cost",
)

KIND_CUR = "cur"
KIND_COST_EXPLORER = "cost_explorer"


def fingerprint_of(store: Store, integration_id: int, kind: str, ref: str) -> str | None:
    rows = store.con.execute(
        "SELECT fingerprint FROM bill_sources WHERE integration_id = ? AND kind = ? AND ref = ?",
        [integration_id, kind, ref],
    ).fetchall()
    return rows[0][0] if rows else None


def owner_of(store: Store, kind: str, ref: str, integration_id: int) -> str | None:
    """The other integration a source was already imported for (its name), if any: the same
    file under two integrations would count its dollars twice."""
    rows = store.con.execute(
        "SELECT g.name FROM bill_sources s JOIN integrations g ON g.id = s.integration_id "
        "WHERE s.kind = ? AND s.ref = ? AND s.integration_id <> ?",
        [kind, ref, integration_id],
    ).fetchall()
    return rows[0][0] if rows else None


def replace_source(
    store: Store,
    integration_id: int,
    kind: str,
    ref: str,
    frame: pd.DataFrame,
    *,
    fingerprint: str | None,
    first_day: date | None,
    last_day: date | None,
    now: datetime,
) -> None:
    """Replace every line of one source with ``frame`` (columns :data:`LINE_COLUMNS`)."""
    frame = frame[list(LINE_COLUMNS)]
    with store.transaction() as con:
        con.execute(
            "DELETE FROM bill_lines WHERE integration_id = ? AND kind = ? AND ref = ?",
            [integration_id, kind, ref],
        )
        _insert(con, integration_id, kind, ref, frame)
        _upsert_source(con, integration_id, kind, ref, fingerprint, first_day, last_day, now)


def replace_days(
    store: Store,
    integration_id: int,
    service: str,
    days: list[date],
    frame: pd.DataFrame,
    *,
    now: datetime,
) -> None:
    """Cost Explorer: replace one service's lines of ``days`` and mark those days answered."""
    frame = frame[list(LINE_COLUMNS)]
    kind, ref = KIND_COST_EXPLORER, "Cost Explorer"
    with store.transaction() as con:
        con.execute(
            "DELETE FROM bill_lines WHERE integration_id = ? AND kind = ? AND service = ? "
            "AND list_contains(?, day)",
            [integration_id, kind, service, days],
        )
        _insert(con, integration_id, kind, ref, frame)
        con.executemany(
            "INSERT OR REPLACE INTO bill_ce_days VALUES (?, ?, ?, ?)",
            [[integration_id, service, d, now] for d in days],
        )
        span = con.execute(
            "SELECT min(day), max(day) FROM bill_ce_days WHERE integration_id = ? AND service = ''",
            [integration_id],
        ).fetchall()[0]
        _upsert_source(con, integration_id, kind, ref, None, span[0], span[1], now)


def _insert(con: Any, integration_id: int, kind: str, ref: str, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    con.register("bill_frame", frame)
    try:
        con.execute(
            f"INSERT INTO bill_lines SELECT ?, ?, ?, {', '.join(LINE_COLUMNS)} FROM bill_frame",
            [integration_id, kind, ref],
        )
    finally:
        con.unregister("bill_frame")


def _upsert_source(
    con: Any,
    integration_id: int,
    kind: str,
    ref: str,
    fingerprint: str | None,
    first_day: date | None,
    last_day: date | None,
    now: datetime,
) -> None:
    con.execute(
        """
        INSERT OR REPLACE INTO bill_sources
        SELECT ?, ?, ?, ?, ?, ?, count(*), coalesce(sum(unblended_cost), 0), ?
        FROM bill_lines WHERE integration_id = ? AND kind = ? AND ref = ?
        """,
        [
            integration_id,
            kind,
            ref,
            fingerprint,
            first_day,
            last_day,
            now,
            *(integration_id, kind, ref),
        ],
    )


def sources(store: Store, integrations: tuple[str, ...] = ()) -> pd.DataFrame:
    """The bill sources stored, per integration: what they cover and how many dollars."""
    return store.query_df(
        """
        SELECT g.name AS integration, s.kind, s.ref AS source, s.first_day, s.last_day,
               s.lines, s.unblended_cost, s.imported_at
        FROM bill_sources s JOIN integrations g ON g.id = s.integration_id
        WHERE cardinality(?) = 0 OR list_contains(?, g.name)
        ORDER BY g.name, s.kind, s.ref
        """,
        [list(integrations), list(integrations)],
    )
