"""In-app sync schedules, for users who do not run cron, and how fresh each integration's data is.

Why in the app: a FinOps analyst running the dashboard on a laptop has no cron; an integration
can say "sync every hour" and the dashboard process starts that sync itself (a background job,
see ``sync_jobs.py``). The cron path keeps working beside it: a sync that another process is
running (status *running*, its process alive) is never started twice, and a busy database file
only postpones the tick.

Why freshness lives here too: "is this figure up to date?" is answered from the same facts — the
last successful sync, how far it read, the schedule — for the Explorer header and the cards.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.integration_list import status_label
from bedrock_explorer.sources import registry
from bedrock_explorer.store import Integration
from bedrock_explorer.sync_jobs import StoreOpener, SyncJobs

log = logging.getLogger(__name__)

#: The choices the Integrations page offers (minutes; ``None``: no schedule).
SCHEDULES: dict[str, int | None] = {
    "Off (Sync now or cron)": None,
    "Every 15 minutes": 15,
    "Every hour": 60,
    "Every day": 24 * 60,
}

#: Data whose last successful sync is older than this is stale (without a schedule to judge by).
STALE_AFTER = timedelta(days=1)

#: How often the scheduler looks for a due integration.
TICK_SECONDS = 30.0


def _utc(moment: datetime | None) -> datetime | None:
    """DuckDB hands back naive UTC timestamps; compare them as aware ones."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def next_run(integ: Integration, now: datetime) -> datetime | None:
    """When the schedule starts the next sync of ``integ`` (``None``: not scheduled)."""
    if not integ.sync_every_minutes or integ.is_demo:
        return None
    last = _utc(integ.last_sync_started_at)
    if last is None:
        return now
    return last + timedelta(minutes=integ.sync_every_minutes)


def due(integrations: list[Integration], now: datetime) -> list[str]:
    """The scheduled integrations whose next run has come and that no process is syncing."""
    out = []
    for integ in integrations:
        when = next_run(integ, now)
        if when is None or when > now:
            continue
        if status_label(integ) == "Syncing":
            continue  # a sync is under way (this dashboard, or cron): do not start another
        out.append(integ.name)
    return out


class Scheduler:
    """A daemon thread that starts due syncs as background jobs, one tick at a time."""

    def __init__(
        self,
        open_store: StoreOpener,
        jobs: SyncJobs,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        tick_seconds: float = TICK_SECONDS,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self._open_store = open_store
        self._ready = ready
        self._jobs = jobs
        self._clock = clock
        self._tick = tick_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> list[str]:
        """Start every due sync now; returns the integrations started."""
        if not self._ready():
            return []  # no database file (yet, or any more): nothing can be scheduled
        try:
            with self._open_store() as store:
                integrations = store.list_integrations()
        except UserFacingError as err:  # e.g. a cron sync holds the file: try next tick
            log.info("scheduler: %s", err)
            return []
        running = {job.integration for job in self._jobs.running()}
        started = [n for n in due(integrations, self._clock()) if n not in running]
        for name in started:
            self._jobs.start(name, trigger="schedule")
        return started

    def start(self) -> Scheduler:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="sync scheduler", daemon=True)
            self._thread.start()
            # A daemon thread caught inside the database engine while the interpreter shuts
            # down aborts the process: stop the loop and let a tick finish first.
            atexit.register(self.stop, wait_seconds=10.0)
        return self

    def stop(self, wait_seconds: float = 0.0) -> None:
        self._stop.set()
        if wait_seconds and self._thread is not None:
            self._thread.join(wait_seconds)

    def _loop(self) -> None:
        while not self._stop.wait(self._tick):
            try:
                self.tick()
            except Exception as err:  # noqa: BLE001 - the scheduler must outlive one bad tick
                log.error("scheduler tick failed: %s", type(err).__name__)


@dataclass(frozen=True)
class Freshness:
    """How up to date one integration's data is, in a sentence, and whether to flag it."""

    integration: str
    state: str  # fresh | stale | failing | syncing | never synced | demo
    sentence: str

    @property
    def flagged(self) -> bool:
        return self.state in ("stale", "failing", "never synced")


def freshness(integ: Integration, now: datetime) -> Freshness:
    """Fresh, stale or failing, judged by the last successful sync and the schedule."""
    name = integ.name
    status = status_label(integ)  # the Integrations page's words for the same facts
    if status == "Demo data":
        return Freshness(name, "demo", f"{name}: demo data")
    success = _utc(integ.last_success_at)
    read_to = _utc(integ.last_success_read_to) or success
    if not registry.reads_aws(integ.kind):  # a folder has no "read up to": its last import
        read_to = success
    since = (
        f"data up to {read_to:%Y-%m-%d %H:%M} UTC ({_ago(now - read_to)} ago)"
        if read_to
        else "no successful sync yet"
    )
    if status == "Interrupted":
        return Freshness(name, "failing", f"{name}: the last sync was interrupted; {since}")
    if status == "Syncing":
        return Freshness(name, "syncing", f"{name}: syncing now; {since}")
    if status == "Error":
        return Freshness(name, "failing", f"{name}: the last sync failed; {since}")
    if success is None:
        return Freshness(name, "never synced", f"{name}: never synced")
    limit = (
        timedelta(minutes=2 * integ.sync_every_minutes) if integ.sync_every_minutes else STALE_AFTER
    )
    if read_to is not None and now - read_to > limit:
        return Freshness(name, "stale", f"{name}: stale — {since}")
    return Freshness(name, "fresh", f"{name}: {since}")


def _ago(span: timedelta) -> str:
    minutes = max(0, int(span.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"
