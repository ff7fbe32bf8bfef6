"""Background syncs (a worker thread per sync, one per integration), schedules and freshness.

The syncs here are the real ``sync_integration`` against moto in process, through the same
shared store the dashboard uses; only the clock is injected.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.ingest import Progress
from bedrock_explorer.store import SharedStore, Store, schema
from bedrock_explorer.sync import UNEXPECTED_STOP, sync_integration
from bedrock_explorer.sync_jobs import SyncJob, SyncJobs
from bedrock_explorer.sync_schedule import Scheduler, due, freshness, next_run
from tests import test_sync as sync_tests
from tests.aws_seed import Seeded
from tests.test_sync import _add_cw, _totals, faulty_session

seeded = sync_tests.seeded  # the same 3,000 records in moto's log group
_fast_quota = sync_tests._fast_quota

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _shared(path: Path) -> SharedStore:
    return SharedStore(path, idle_seconds=0.05)


def test_a_background_sync_stores_what_the_cli_stores(
    db_path: Path, tmp_path: Path, seeded: Seeded
) -> None:
    shared = _shared(db_path)
    with shared.session() as store:
        _add_cw(store, first_sync_days=7)
    seen: list[tuple[int, int]] = []

    def watched(store: Store, name: str, **kw: Any) -> Any:
        update = kw.pop("progress")

        def progress(event: Progress) -> None:
            update(event)
            seen.append((job.read, job.stored))

        return sync_integration(store, name, progress=progress, **kw)

    jobs = SyncJobs(shared.session, sync=watched)
    job = jobs.start("prod")
    assert jobs.wait("prod", timeout=120) is job and not job.running and job.ok
    assert job.summary is not None and job.stored == job.summary.inserted == 3000
    assert seen and seen[-1] == (job.summary.fetched, 3000), "live counts reach the totals"
    # the same events synced by the CLI path into another file: the same totals
    with Store(tmp_path / "cli.duckdb") as cli:
        _add_cw(cli, first_sync_days=7)
        sync_integration(cli, "prod")
        cli_totals = _totals(cli, "prod")
    with shared.session() as store:
        assert _totals(store, "prod") == cli_totals
        integ = store.get_integration("prod")
    assert integ.last_success_message and "3,000 new invocations" in integ.last_success_message
    assert integ.last_success_read_to is not None
    shared.close()


def test_one_sync_at_a_time_per_integration(db_path: Path) -> None:
    gate, entered = threading.Event(), threading.Event()

    def slow(store: Store, name: str, **_: Any) -> Any:
        entered.set()
        gate.wait(30)
        raise UserFacingError("AWS denied access while reading the log group", "grant it")

    shared = _shared(db_path)
    jobs = SyncJobs(shared.session, sync=slow)
    first = jobs.start("prod")
    entered.wait(10)
    assert jobs.start("prod") is first, "a second start returns the running sync"
    assert [j.integration for j in jobs.running()] == ["prod"]
    other = jobs.start("staging")
    assert other is not first
    gate.set()
    jobs.wait("prod")
    jobs.wait("staging")
    assert first.error is not None and first.error.fix == "grant it" and not first.ok
    assert jobs.start("prod") is not first, "a finished sync can be started again"
    jobs.wait("prod")
    shared.close()


def test_an_unexpected_failure_shows_no_exception_name(db_path: Path, seeded: Seeded) -> None:
    shared = _shared(db_path)
    with shared.session() as store:
        _add_cw(store, first_sync_days=7)

    class StopException(Exception):
        pass

    def progress_that_dies(event: Progress) -> None:
        raise StopException()

    def sync(store: Store, name: str, **kw: Any) -> Any:
        kw["progress"] = progress_that_dies
        return sync_integration(store, name, **kw)

    jobs = SyncJobs(shared.session, sync=sync)
    job = jobs.start("prod")
    jobs.wait("prod", timeout=60)
    assert job.error is not None and job.error.message == UNEXPECTED_STOP
    with shared.session() as store:
        stored = store.get_integration("prod").last_sync_message or ""
    for text in (str(job.error), stored):
        assert "StopException" not in text and not re.search(r"\w+\(\)", text)
        assert "Sync now resumes" in text
    shared.close()


def test_an_aws_failure_keeps_the_last_successful_sync(db_path: Path, seeded: Seeded) -> None:
    with Store(db_path) as store:
        _add_cw(store, first_sync_days=7)
        sync_integration(store, "prod")
        good = store.get_integration("prod")
        failing = faulty_session("logs.FilterLogEvents", "AccessDeniedException", lambda n: True)
        with pytest.raises(UserFacingError):
            sync_integration(store, "prod", session_factory=failing)
        after = store.get_integration("prod")
    assert after.last_sync_status == "error" and "AWS denied access" in (
        after.last_sync_message or ""
    )
    assert after.last_success_at == good.last_success_at is not None
    assert after.last_success_message == good.last_success_message


def test_progress_rate_and_eta_from_the_injected_clock() -> None:
    job = SyncJob("prod", "manual", T0)
    job.update(Progress(25, 100, "slices", "Syncing prod", read=50_000, stored=49_000))
    later = T0 + timedelta(seconds=20)
    assert job.rate(later) == 2500
    assert job.eta(later) == timedelta(seconds=60)
    assert job.describe(later) == (
        "50,000 events read · 49,000 invocations stored · 2,500 events/s · about 1 min left"
    )
    assert job.fraction() == 0.25


def _integration(store: Store, name: str, kind: str = "local", **fields: Any) -> Any:
    config = (
        {"paths": ["/nowhere"]}
        if kind == "local"
        else {"region": "us-east-1", "log_group": "/aws/bedrock/modelinvocations"}
    )
    store.add_integration(name, kind, config)
    sets = ", ".join(f"{k} = ?" for k in fields)
    if fields:
        store.con.execute(
            f"UPDATE integrations SET {sets} WHERE name = ?", [*fields.values(), name]
        )
    return store.get_integration(name)


def test_schedules_start_due_syncs_and_never_twice(store: Store) -> None:
    naive = T0.replace(tzinfo=None)
    never = _integration(store, "never", sync_every_minutes=15)
    recent = _integration(
        store, "recent", sync_every_minutes=60, last_sync_started_at=naive - timedelta(minutes=10)
    )
    old = _integration(
        store, "old", sync_every_minutes=15, last_sync_started_at=naive - timedelta(minutes=16)
    )
    running_here = _integration(
        store,
        "running",
        sync_every_minutes=15,
        last_sync_status="running",
        last_sync_started_at=naive - timedelta(hours=2),
        last_sync_host=__import__("socket").gethostname(),
        last_sync_pid=__import__("os").getpid(),
    )
    unscheduled = _integration(store, "manual")
    assert next_run(recent, T0) == T0 + timedelta(minutes=50)
    assert next_run(unscheduled, T0) is None
    assert due([never, recent, old, running_here, unscheduled], T0) == ["never", "old"]

    started: list[str] = []

    class Jobs:
        def running(self) -> list[SyncJob]:
            return [SyncJob("old", "manual", T0)]  # already syncing in this dashboard

        def start(self, name: str, trigger: str = "manual") -> None:
            started.append(f"{name}:{trigger}")

    class Opener:
        def __enter__(self) -> Store:
            return store

        def __exit__(self, *exc: object) -> None:
            return None

    scheduler = Scheduler(Opener, Jobs(), clock=lambda: T0)  # type: ignore[arg-type]
    assert scheduler.tick() == ["never"] and started == ["never:schedule"]


def test_set_schedule_validates(store: Store) -> None:
    _integration(store, "prod")
    assert store.set_schedule("prod", 60).sync_every_minutes == 60
    assert store.set_schedule("prod", None).sync_every_minutes is None
    with pytest.raises(UserFacingError, match="not possible"):
        store.set_schedule("prod", 0)


@pytest.mark.parametrize(
    ("fields", "state", "words"),
    [
        (
            {"last_sync_status": "ok", "last_success_at": -30, "last_success_read_to": -32},
            "fresh",
            "data up to 2026-11-30 11:28 UTC (32 min ago)",
        ),
        (
            {"last_sync_status": "ok", "last_success_at": -3000, "last_success_read_to": -3000},
            "stale",
            "stale — data up to",
        ),
        (
            {
                "last_sync_status": "ok",
                "sync_every_minutes": 15,
                "last_success_at": -45,
                "last_success_read_to": -45,
            },
            "stale",
            "(45 min ago)",
        ),
        (
            {"last_sync_status": "error", "last_success_at": -30, "last_success_read_to": -30},
            "failing",
            "the last sync failed; data up to",
        ),
        ({}, "never synced", "never synced"),
    ],
    ids=["fresh", "stale-by-a-day", "stale-by-its-schedule", "failing", "never"],
)
def test_freshness(store: Store, fields: dict[str, Any], state: str, words: str) -> None:
    naive = T0.replace(tzinfo=None)
    values = {
        k: naive + timedelta(minutes=v) if k.startswith("last_success") else v
        for k, v in fields.items()
    }
    integ = _integration(store, "prod", "cloudwatch", **values)
    found = freshness(integ, T0)
    assert found.state == state and words in found.sentence, found.sentence
    assert found.flagged == (state in ("stale", "failing", "never synced"))


def test_migration_6_keeps_the_last_good_sync(db_path: Path) -> None:
    with Store(db_path) as store:
        store.add_integration("prod", "local", {"paths": ["/x"]})
        store.set_sync_status(store.get_integration("prod").id, "ok", "stored 5")
        # back to schema 5: drop what 6 added, as a file written by the previous release
        for column in (
            "last_success_at",
            "last_success_message",
            "last_success_read_to",
            "sync_every_minutes",
        ):
            store.con.execute(f"ALTER TABLE integrations DROP COLUMN {column}")
        store.con.execute("DELETE FROM schema_version WHERE version >= 6")
    with Store(db_path) as store:
        assert schema.current_version(store.con) == schema.SCHEMA_VERSION
        integ = store.get_integration("prod")
    assert integ.last_success_message == "stored 5" and integ.last_success_at is not None
