"""Syncs started from the dashboard, run by the dashboard process rather than by a page's run.

Why not in the page: Streamlit stops a script run when the user clicks elsewhere, and a sync run
inside it died with the run (a first sync stored nothing when the user opened the Explorer two
seconds later). Here each sync runs on a worker thread owned by the process: page switches,
reloads and closed tabs do not touch it, and every session reads the same live progress and the
final result from this registry.

Why a thread, not a subprocess: DuckDB lets one process hold the file. A subprocess would lock
every session out of the database for the whole sync; a thread writes through its own cursor of
the process's shared connection while the sessions keep reading. If the dashboard is killed, the
sync dies with it; its integration is then marked *Interrupted* (its process is gone) and the
next sync resumes from the committed checkpoints — the same resumable code as the CLI.

One sync at a time per integration: a second start while one runs returns the running one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bedrock_explorer import access, audit
from bedrock_explorer.audit import Actor, os_actor
from bedrock_explorer.errors import UserFacingError, safe_reason
from bedrock_explorer.ingest import Progress
from bedrock_explorer.store import Store
from bedrock_explorer.sync import UNEXPECTED_STOP, SyncSummary, sync_integration

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
StoreOpener = Callable[[], AbstractContextManager[Store]]
SyncFunction = Callable[..., SyncSummary]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SyncJob:
    """One sync run by the dashboard: its live counts, then its summary or its error."""

    integration: str
    trigger: str  # "manual" or "schedule"
    started_at: datetime
    read: int = 0
    stored: int = 0
    done: int = 0
    total: int | None = None
    unit: str = ""
    message: str = "Starting"
    finished_at: datetime | None = None
    summary: SyncSummary | None = None
    error: UserFacingError | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def running(self) -> bool:
        return self.finished_at is None

    @property
    def ok(self) -> bool:
        return self.finished_at is not None and self.error is None

    def update(self, event: Progress) -> None:
        with self._lock:
            self.done, self.total, self.unit, self.message = (
                event.done,
                event.total,
                event.unit,
                event.message,
            )
            if event.read is not None:
                self.read = event.read
            if event.stored is not None:
                self.stored = event.stored

    def rate(self, now: datetime) -> float | None:
        """Events (or objects) read per second since the start."""
        seconds = (now - self.started_at).total_seconds()
        return self.read / seconds if seconds > 0 and self.read else None

    def eta(self, now: datetime) -> timedelta | None:
        """Time left, from the share of slices or objects done so far (``None``: unknown)."""
        if not self.total or not self.done or self.done >= self.total:
            return None
        elapsed = now - self.started_at
        return elapsed * ((self.total - self.done) / self.done)

    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    def describe(self, now: datetime) -> str:
        """``12,345 events read · 12,000 invocations stored · 2,100 events/s · about 1 min left``"""
        noun = "objects" if self.unit == "objects" else "events"
        parts = [f"{self.read:,} {noun} read", f"{self.stored:,} invocations stored"]
        rate = self.rate(now)
        if rate:
            parts.append(f"{rate:,.0f} {noun}/s")
        left = self.eta(now)
        if left is not None:
            parts.append(f"about {_duration(left)} left")
        elif self.running:
            parts.append(f"running for {_duration(now - self.started_at)}")
        return " · ".join(parts)


def _duration(span: timedelta) -> str:
    seconds = max(0, int(span.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


class SyncJobs:
    """The dashboard process's syncs, one worker thread each, at most one per integration."""

    def __init__(
        self,
        open_store: StoreOpener,
        *,
        clock: Clock = _utc_now,
        sync: SyncFunction = sync_integration,
        sync_options: dict[str, Any] | None = None,
    ) -> None:
        self._open_store = open_store
        self._clock = clock
        self._sync = sync
        self._options = sync_options or {}
        self._lock = threading.Lock()
        self._jobs: dict[str, SyncJob] = {}
        self._threads: dict[str, threading.Thread] = {}

    def start(self, name: str, trigger: str = "manual", actor: Actor | None = None) -> SyncJob:
        """Start a sync of ``name`` in the background (or return the one already running).

        ``actor``: who asked (the audit trail); a scheduled sync is recorded as the schedule.
        A viewer is refused here, in the caller, before any thread or AWS call.
        """
        if actor is not None:
            access.require_admin(actor.role, audit.SYNC_STARTED)
        with self._lock:
            current = self._jobs.get(name)
            if current is not None and current.running:
                return current
            job = SyncJob(name, trigger, self._clock())
            self._jobs[name] = job
            who = actor or os_actor("schedule" if trigger == "schedule" else "dashboard")
            thread = threading.Thread(
                target=self._run, args=(job, who), name=f"sync {name}", daemon=True
            )
            self._threads[name] = thread
        thread.start()
        return job

    def _run(self, job: SyncJob, actor: Actor) -> None:
        try:
            with self._open_store() as store:
                store.actor = actor
                job.summary = self._sync(
                    store, job.integration, progress=job.update, **self._options
                )
            job.stored = job.summary.inserted
            job.read = job.summary.fetched or job.read
        except UserFacingError as err:
            job.error = err
        except Exception as err:  # noqa: BLE001 - a worker must record, never raise into nothing
            log.error("background sync of %s stopped: %s", job.integration, safe_reason(err))
            job.error = UserFacingError(UNEXPECTED_STOP, "")
        finally:
            job.finished_at = self._clock()

    def get(self, name: str) -> SyncJob | None:
        with self._lock:
            return self._jobs.get(name)

    def running(self) -> list[SyncJob]:
        with self._lock:
            return [job for job in self._jobs.values() if job.running]

    def forget(self, name: str) -> None:
        """Drop a finished job (the integration was deleted or renamed)."""
        with self._lock:
            job = self._jobs.get(name)
            if job is not None and not job.running:
                del self._jobs[name]

    def wait(self, name: str, timeout: float = 60.0) -> SyncJob | None:
        """Block until the job of ``name`` ends (tests, and a clean shutdown)."""
        with self._lock:
            thread = self._threads.get(name)
        if thread is not None:
            thread.join(timeout)
        return self.get(name)
