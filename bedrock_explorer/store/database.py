"""The DuckDB file: opening it safely, integrations, checkpoints and summary figures.

Why opening retries: DuckDB lets one process hold a file read-write, and while it does no other
process can open the file at all (not even read-only). The dashboard and a cron ``sync`` therefore
use short-lived connections and wait for each other a little, and if the wait runs out the user gets
a sentence naming the other process instead of a lock error.

Threads: one connection object must not be used from several threads at once; use
:meth:`Store.cursor` per thread.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from bedrock_explorer import access, audit
from bedrock_explorer.config import private_files
from bedrock_explorer.errors import (
    DatabaseBusyError,
    IntegrationExistsError,
    IntegrationNotFoundError,
    UserFacingError,
    safe_text,
)
from bedrock_explorer.pricing import points
from bedrock_explorer.raw import BatchResult, RawBatch
from bedrock_explorer.sources.registry import KIND_NAMES
from bedrock_explorer.store import schema, writer
from bedrock_explorer.store.transaction import transaction

#: Every source kind, and the labelled demo data.
INTEGRATION_KINDS = (*KIND_NAMES, "demo")
_LOCK_PID = re.compile(r"PID (\d+)")


@dataclass(frozen=True)
class Integration:
    """A named place logs come from. Credentials are never stored, only how to obtain them."""

    id: int
    name: str
    kind: str
    config: dict[str, Any]
    is_demo: bool
    created_at: datetime
    last_sync_started_at: datetime | None
    last_sync_finished_at: datetime | None
    last_sync_status: str | None
    last_sync_message: str | None
    last_sync_host: str | None = None
    last_sync_pid: int | None = None
    last_success_at: datetime | None = None
    last_success_message: str | None = None
    #: How far the last successful sync read (the newest minutes come with the next sync).
    last_success_read_to: datetime | None = None
    #: The in-app schedule (``None``: only when asked, or by cron).
    sync_every_minutes: int | None = None

    @property
    def sync_process_gone(self) -> bool:
        """A sync marked running whose process on this machine no longer exists (killed)."""
        if self.last_sync_status != "running" or not self.last_sync_pid:
            return False
        if self.last_sync_host != socket.gethostname():
            return False  # another machine's process: cannot tell
        try:
            os.kill(self.last_sync_pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


_INTEGRATION_COLS = (
    "id, name, kind, config, is_demo, created_at, last_sync_started_at, last_sync_finished_at, "
    "last_sync_status, last_sync_message, last_sync_host, last_sync_pid, last_success_at, "
    "last_success_message, last_success_read_to, sync_every_minutes"
)


def _integration(row: tuple[Any, ...]) -> Integration:
    values = list(row)
    values[3] = json.loads(values[3]) if values[3] else {}
    return Integration(*values)


def _open(path: Path, read_only: bool, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    started = time.monotonic()
    deadline = started + wait_seconds
    delay = 0.02
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as err:
            text = safe_text(err)
            if "lock" not in text.lower():
                raise UserFacingError(
                    f"Cannot open the database file {path}: {text}",
                    "check the path and its permissions, or choose another file with --db",
                ) from err
            if time.monotonic() >= deadline:
                pid = _LOCK_PID.search(text)
                who = f"process {pid.group(1)}" if pid else "another process"
                waited = time.monotonic() - started
                raise DatabaseBusyError(
                    f"The database {path} is in use by {who} (a sync or another dashboard); "
                    f"waited {waited:.0f} s for it",
                    "wait for it to finish and try again, or point one of them at another file "
                    "with --db / BEDROCK_EXPLORER_DB",
                ) from err
            # Poll often: a dashboard lets go of the file for moments between reruns.
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


def _make_private_folder(folder: Path) -> None:
    """Create the database's folder (and missing parents) readable by this user only."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        new.mkdir(mode=0o700, exist_ok=True)
        os.chmod(new, 0o700)  # mkdir's mode is filtered by the umask


def permission_warnings(path: Path) -> list[str]:
    """What about the database's permissions lets other users read it (nothing is changed).

    The folder counts only when it is the user's own: a shared one such as ``/tmp`` (sticky)
    lets others see names, not read a 0600 file.
    """
    found = []
    for target, what, fix in ((path, "database file", "600"), (path.parent, "folder", "700")):
        try:
            info = target.stat()
        except OSError:
            continue
        if target == path.parent and (info.st_uid != os.getuid() or info.st_mode & 0o1000):
            continue
        if info.st_mode & 0o077:
            found.append(
                f"the {what} {target} can be read by other users (mode "
                f"{info.st_mode & 0o777:o}) and it holds account ids and identity ARNs: "
                f"chmod {fix} {target}"
            )
    return found


class Store:
    """An open Bedrock Explorer database. Use as a context manager; closing releases the file."""

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        wait_seconds: float = 30.0,
        today: date | None = None,
    ) -> None:
        """``today`` (tests) dates a package upgrade's new rates when their data has no date."""
        self.path = Path(path)
        #: Who the changes made through this store are recorded as (audit.py).
        self.actor = audit.os_actor("script")
        #: Sentences for the user about the file (e.g. readable by other users), not errors.
        self.warnings: list[str] = []
        if not read_only:
            # Whoever opens the store (CLI, dashboard, a script), the file, its write-ahead log
            # (re-created by DuckDB whenever it writes) and its folder are this user's only.
            private_files()
            _make_private_folder(self.path.parent)
            self.warnings = permission_warnings(self.path)
        elif not self.path.exists():
            raise UserFacingError(
                f"There is no database at {self.path}",
                "import logs or load the demo data first (python -m bedrock_explorer demo)",
            )
        self.con = _open(self.path, read_only, wait_seconds)
        try:
            # Times are UTC everywhere; DuckDB's own progress bar would write into our stdout.
            self.con.execute("SET TimeZone = 'UTC'")
            self.con.execute("SET enable_progress_bar = false")
            if not read_only:
                schema.migrate(self.con)
                # Prices follow the package: changed built-in rates re-price history here,
                # once, so no reader needs to remember a rebuild.
                points.keep_current(self.con, today or datetime.now(UTC).date())
        except BaseException:
            # A file this version cannot use (newer schema, a failed migration) is let go at
            # once: a half-made Store kept the file locked for the rest of the process.
            self.con.close()
            raise

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for one thread (DuckDB connections are not shared between threads)."""
        cur = self.con.cursor()
        cur.execute("SET TimeZone = 'UTC'")
        cur.execute("SET enable_progress_bar = false")
        return cur

    def view(self) -> Store:
        """The same database through a new cursor, for one thread or browser session.

        Everything a :class:`Store` does works on the view; closing it closes only its cursor.
        """
        other = Store.__new__(Store)
        other.path = self.path
        other.actor = self.actor
        other.warnings = self.warnings
        other.con = self.cursor()
        return other

    def transaction(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """``with store.transaction() as con:`` — one transaction on the store's connection,
        rolled back on any failure with the original error kept (see ``transaction.py``)."""
        return transaction(self.con)

    def invocation_count(self, integration_id: int) -> int:
        """How many invocations an integration holds (what removing it deletes)."""
        row = self.con.execute(
            "SELECT count(*) FROM invocations WHERE integration_id = ?", [integration_id]
        ).fetchall()[0]
        return int(row[0])

    def audit_trail(
        self, start: datetime | None = None, end: datetime | None = None, limit: int | None = None
    ) -> pd.DataFrame:
        """Who changed what and when, newest first (``audit.trail`` on this store)."""
        return audit.trail(self.con, start, end, limit)

    def query_df(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        """Run a parameterised query (positional ``?`` or named ``$name``), return a DataFrame."""
        return self.con.execute(sql, params or []).df()

    # -- integrations --------------------------------------------------------------------------
    def add_integration(
        self, name: str, kind: str, config: dict[str, Any] | None = None, *, is_demo: bool = False
    ) -> Integration:
        self.authorize(audit.DEMO_LOADED if is_demo else audit.INTEGRATION_ADDED)
        name = name.strip()
        if not name:
            raise UserFacingError("An integration needs a name", "give it a short descriptive name")
        if kind not in INTEGRATION_KINDS:
            raise UserFacingError(
                f"Unknown integration kind {kind!r}", f"use one of {', '.join(INTEGRATION_KINDS)}"
            )
        if self.find_integration(name) is not None:
            raise IntegrationExistsError(
                f"An integration named {name!r} already exists", "choose another name"
            )
        with self.transaction():
            self.con.execute(
                "INSERT INTO integrations (name, kind, config, is_demo, created_at) "
                "VALUES (?, ?, ?, ?, current_timestamp AT TIME ZONE 'UTC')",
                [name, kind, json.dumps(config or {}), is_demo],
            )
            if not is_demo:  # demo data is audited as one action (demo.py)
                self.audit(audit.INTEGRATION_ADDED, name, kind)
        return self.get_integration(name)

    def audit(self, action: str, target: str | None = None, detail: str | None = None) -> None:
        """Record a change in the audit trail, as this store's actor."""
        audit.record(self.con, self.actor, action, target, detail)

    def authorize(self, action: str) -> None:
        """Refuse ``action`` (an audit action, e.g. "integration deleted") unless this store's
        actor is an admin: the server-side check every state-changing path makes first."""
        access.require_admin(self.actor.role, action)

    def find_integration(self, name: str) -> Integration | None:
        rows = self.con.execute(
            f"SELECT {_INTEGRATION_COLS} FROM integrations WHERE name = ?", [name]
        ).fetchall()
        return _integration(rows[0]) if rows else None

    def get_integration(self, name: str) -> Integration:
        found = self.find_integration(name)
        if found is None:
            known = ", ".join(i.name for i in self.list_integrations()) or "none yet"
            raise IntegrationNotFoundError(
                f"There is no integration named {name!r}", f"known integrations: {known}"
            )
        return found

    def list_integrations(self) -> list[Integration]:
        rows = self.con.execute(
            f"SELECT {_INTEGRATION_COLS} FROM integrations ORDER BY name"
        ).fetchall()
        return [_integration(r) for r in rows]

    def remove_integration(self, name: str) -> int:
        """Delete an integration with its invocations, quarantine and checkpoints.

        Returns how many invocations went with it.
        """
        self.authorize(audit.INTEGRATION_DELETED)
        integ = self.get_integration(name)
        with self.transaction():
            gone = self.con.execute(
                "DELETE FROM invocations WHERE integration_id = ?", [integ.id]
            ).fetchall()[0][0]
            for table in (
                "quarantine",
                "sync_checkpoints",
                "coverage_regions",
                "measured_usage",
                "bill_sources",
                "bill_lines",
                "bill_ce_days",
            ):
                self.con.execute(f"DELETE FROM {table} WHERE integration_id = ?", [integ.id])
            self.con.execute("DELETE FROM integrations WHERE id = ?", [integ.id])
            if not integ.is_demo:
                self.audit(audit.INTEGRATION_DELETED, name, f"{gone:,} stored invocations")
        return gone

    def set_sync_status(
        self,
        integration_id: int,
        status: str,
        message: str | None = None,
        *,
        read_to: datetime | None = None,
    ) -> None:
        """Record the start (``running``) or the end (``ok`` / ``error``) of a sync or import.

        An ``ok`` end is also kept as the last *successful* sync (with how far it read), which
        a later failure does not overwrite.
        """
        if status == "running":
            self.con.execute(
                "UPDATE integrations SET last_sync_status = 'running', last_sync_message = ?, "
                "last_sync_started_at = current_timestamp AT TIME ZONE 'UTC', "
                "last_sync_host = ?, last_sync_pid = ? WHERE id = ?",
                [message, socket.gethostname(), os.getpid(), integration_id],
            )
        elif status == "ok":
            self.con.execute(
                "UPDATE integrations SET last_sync_status = 'ok', last_sync_message = ?, "
                "last_sync_finished_at = current_timestamp AT TIME ZONE 'UTC', "
                "last_success_at = current_timestamp AT TIME ZONE 'UTC', "
                "last_success_message = ?, last_success_read_to = ? WHERE id = ?",
                [
                    message,
                    message,
                    read_to.astimezone(UTC).replace(tzinfo=None) if read_to else None,
                    integration_id,
                ],
            )
        else:
            self.con.execute(
                "UPDATE integrations SET last_sync_status = ?, last_sync_message = ?, "
                "last_sync_finished_at = current_timestamp AT TIME ZONE 'UTC' WHERE id = ?",
                [status, message, integration_id],
            )

    def set_schedule(self, name: str, every_minutes: int | None) -> Integration:
        """Sync this integration from the dashboard every so many minutes (``None``: never)."""
        self.authorize(audit.SCHEDULE_CHANGED)
        integ = self.get_integration(name)
        if every_minutes is not None and every_minutes < 1:
            raise UserFacingError(
                f"A sync schedule of {every_minutes} minutes is not possible",
                "choose every 15 minutes, every hour or every day",
            )
        with self.transaction():
            self.con.execute(
                "UPDATE integrations SET sync_every_minutes = ? WHERE id = ?",
                [every_minutes, integ.id],
            )
            self.audit(
                audit.SCHEDULE_CHANGED,
                name,
                f"every {every_minutes} minutes" if every_minutes else "off",
            )
        return self.get_integration(name)

    def has_invocations(self, integration_id: int) -> bool:
        return bool(
            self.con.execute(
                "SELECT count(*) FROM (SELECT 1 FROM invocations WHERE integration_id = ? LIMIT 1)",
                [integration_id],
            ).fetchall()[0][0]
        )

    def forget_file_problems(self, integration_id: int, under: list[str], ref: str) -> int:
        """Delete quarantine rows with locator ``ref`` for sources at or below the ``under`` paths.

        Why: "could not be read" is a fact about the last attempt, not about the content; the
        import that tries those files again records it again if it still holds.
        """
        gone = 0
        for prefix in under:
            gone += self.con.execute(
                "DELETE FROM quarantine WHERE integration_id = ? AND ref = ? "
                "AND (source = ? OR starts_with(source, ?))",
                [integration_id, ref, prefix, prefix.rstrip("/") + "/"],
            ).fetchall()[0][0]
        return gone

    # -- settings ------------------------------------------------------------------------------
    def get_setting(self, key: str) -> str | None:
        rows = self.con.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchall()
        return rows[0][0] if rows else None

    def set_setting(self, key: str, value: str) -> None:
        self.con.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", [key, value])

    # -- checkpoints and writing ---------------------------------------------------------------
    def get_checkpoint(self, integration_id: int, key: str) -> str | None:
        rows = self.con.execute(
            "SELECT cursor_value FROM sync_checkpoints WHERE integration_id = ? AND cursor_key = ?",
            [integration_id, key],
        ).fetchall()
        return rows[0][0] if rows else None

    def checkpoints(self, integration_id: int, prefix: str = "") -> dict[str, str]:
        """Every checkpoint of an integration whose key starts with ``prefix``."""
        rows = self.con.execute(
            "SELECT cursor_key, cursor_value FROM sync_checkpoints "
            "WHERE integration_id = ? AND starts_with(cursor_key, ?)",
            [integration_id, prefix],
        ).fetchall()
        return dict(rows)

    def forget_checkpoints(
        self, integration_id: int, prefix: str, key_pattern: str, before: str
    ) -> int:
        """Delete checkpoints under ``prefix`` whose key's first ``key_pattern`` group sorts
        before ``before`` (keys the pattern does not match are kept); returns how many."""
        return self.con.execute(
            "DELETE FROM sync_checkpoints WHERE integration_id = ? AND starts_with(cursor_key, ?) "
            "AND regexp_extract(cursor_key, ?, 1) <> '' AND regexp_extract(cursor_key, ?, 1) < ?",
            [integration_id, prefix, key_pattern, key_pattern, before],
        ).fetchall()[0][0]

    def replace_checkpoints(
        self, integration_id: int, values: dict[str, str], delete_prefixes: list[str]
    ) -> None:
        """Delete checkpoints by prefix and set others, in one transaction.

        Why one transaction: ending a sync run replaces its per-slice positions by the run's end
        time; a crash between the two would otherwise leave neither or both.
        """
        with self.transaction():
            for prefix in delete_prefixes:
                self.con.execute(
                    "DELETE FROM sync_checkpoints "
                    "WHERE integration_id = ? AND starts_with(cursor_key, ?)",
                    [integration_id, prefix],
                )
            for key, value in values.items():
                self.con.execute(
                    "INSERT OR REPLACE INTO sync_checkpoints "
                    "VALUES (?, ?, ?, current_timestamp AT TIME ZONE 'UTC')",
                    [integration_id, key, value],
                )

    def update_integration_config(self, name: str, config: dict[str, Any]) -> Integration:
        """Replace an integration's source settings (its data and checkpoints stay)."""
        self.authorize(audit.INTEGRATION_EDITED)
        integ = self.get_integration(name)
        if config == integ.config:
            return integ  # nothing changed: nothing to record
        with self.transaction():
            self.con.execute(
                "UPDATE integrations SET config = ? WHERE id = ?", [json.dumps(config), integ.id]
            )
            changed = sorted(
                k for k in {*config, *integ.config} if config.get(k) != integ.config.get(k)
            )
            self.audit(audit.INTEGRATION_EDITED, name, "changed: " + ", ".join(changed))
        return self.get_integration(name)

    def rename_integration(self, name: str, new_name: str) -> Integration:
        self.authorize(audit.INTEGRATION_RENAMED)
        new_name = new_name.strip()
        if not new_name:
            raise UserFacingError("An integration needs a name", "give it a short descriptive name")
        integ = self.get_integration(name)
        if new_name != name and self.find_integration(new_name) is not None:
            raise IntegrationExistsError(
                f"An integration named {new_name!r} already exists", "choose another name"
            )
        if new_name == name:
            return integ
        with self.transaction():
            self.con.execute("UPDATE integrations SET name = ? WHERE id = ?", [new_name, integ.id])
            self.audit(audit.INTEGRATION_RENAMED, new_name, f"was {name}")
        return self.get_integration(new_name)

    def write_batch(self, integration_id: int, batch: RawBatch) -> BatchResult:
        """Parse and store a batch (rows, quarantine and checkpoints in one transaction)."""
        return writer.write_batch(self.con, integration_id, batch)

    def write_files(
        self,
        integration_id: int,
        files: list[str],
        compression: str,
        checkpoints: dict[str, str],
        progress: Callable[[float], None] | None = None,
        sound: Callable[[], bool] | None = None,
    ) -> BatchResult | None:
        """Store whole NDJSON files in one go, or return ``None`` to have them read line by line.

        ``sound`` is asked before the commit; False rolls back (see ``writer.write_files``).
        """
        return writer.write_files(
            self.con, integration_id, files, compression, checkpoints, progress, sound
        )

    # -- figures -------------------------------------------------------------------------------
    def quarantine_summary(self, integration_id: int | None = None) -> pd.DataFrame:
        """Quarantined lines grouped by reason (the locators are in the quarantine table)."""
        return self.query_df(
            """
            SELECT i.name AS integration, q.reason, count(*) AS lines,
                   min(q.source || ':' || q.ref) AS example_locator
            FROM quarantine q JOIN integrations i ON i.id = q.integration_id
            WHERE ? IS NULL OR q.integration_id = ?
            GROUP BY i.name, q.reason ORDER BY lines DESC
            """,
            [integration_id, integration_id],
        )
