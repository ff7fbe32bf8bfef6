"""Who changed what, and when: the audit trail in the database.

Why in the database: the dashboard and the CLI (cron) share the file, so one table answers "who
deleted the prod integration?" whichever way it was done. Each state-changing action writes one
row, in the same place that makes the change (``Store`` methods, the sync, price overrides, the
demo data), so no caller can forget it. The actor is the signed-in user when sign-in is on,
otherwise the OS user running the CLI or the dashboard, with how (``cli``, ``dashboard``,
``schedule``).
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

from bedrock_explorer.access import Role

#: The actions recorded (the words shown in the trail).
SYNC_STARTED = "sync started"
INTEGRATION_ADDED = "integration added"
INTEGRATION_EDITED = "integration edited"
INTEGRATION_RENAMED = "integration renamed"
INTEGRATION_DELETED = "integration deleted"
SCHEDULE_CHANGED = "sync schedule changed"
PRICE_SET = "price set"
PRICES_REFRESHED = "prices refreshed"
BILL_IMPORTED = "bill imported"
BILL_SYNCED = "bill synced"
DEMO_LOADED = "demo data loaded"
DEMO_REMOVED = "demo data removed"
SIGNED_IN = "signed in"
SIGN_IN_REFUSED = "sign-in refused"


@dataclass(frozen=True)
class Actor:
    """Who acts (a user name or e-mail), through what (cli, dashboard, schedule), and with
    which role (the OS user, the only user without sign-in, is an admin)."""

    name: str
    via: str
    role: Role = Role.ADMIN


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return f"uid {os.getuid()}"


def os_actor(via: str) -> Actor:
    """The OS user running this process (the CLI, or a dashboard without sign-in)."""
    return Actor(os_user(), via)


def record(
    con: duckdb.DuckDBPyConnection,
    actor: Actor,
    action: str,
    target: str | None = None,
    detail: str | None = None,
) -> None:
    con.execute(
        "INSERT INTO audit_log VALUES (current_timestamp AT TIME ZONE 'UTC', ?, ?, ?, ?, ?)",
        [actor.name, actor.via, action, target, detail],
    )


def trail(
    con: duckdb.DuckDBPyConnection,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """The trail, newest first, between ``start`` (inclusive) and ``end`` (exclusive), UTC."""
    sql = "SELECT logged_at, actor, via, action, target, detail FROM audit_log WHERE true"
    params: list[Any] = []
    if start is not None:
        sql += " AND logged_at >= ?"
        params.append(start.replace(tzinfo=None))
    if end is not None:
        sql += " AND logged_at < ?"
        params.append(end.replace(tzinfo=None))
    sql += " ORDER BY logged_at DESC, rowid DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return con.execute(sql, params).df()
