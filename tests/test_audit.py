"""The audit trail: every audited action writes exactly one row, with the right user; and the
dashboard is private by default (it listens on 127.0.0.1 only, and says so when it does not)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bedrock_explorer import audit, demo
from bedrock_explorer.audit import Actor
from bedrock_explorer.cli import main
from bedrock_explorer.config import is_loopback
from bedrock_explorer.pricing import book
from bedrock_explorer.pricing.units import Meter
from bedrock_explorer.store import SharedStore, Store
from bedrock_explorer.sync import sync_integration
from bedrock_explorer.sync_jobs import SyncJobs
from tests.conftest import PUBLIC_RECORDS
from tests.e2e.conftest import ROOT, free_port

ALICE = Actor("alice@example.com", "dashboard")
LOCAL = {"paths": [str(PUBLIC_RECORDS)]}


def _rows(store: Store) -> list[tuple[str, str, str, str | None]]:
    frame = audit.trail(store.con)
    return [(r.actor, r.via, r.action, r.target) for r in frame.itertuples()]


def _with_prod(store: Store) -> None:
    store.actor = Actor("setup", "cli")
    store.add_integration("prod", "local", LOCAL)


# what is done, the (action, target) it must record
ACTIONS: list[tuple[str, Callable[[Store], object], str, str]] = [
    (
        "add",
        lambda s: s.add_integration("staging", "local", LOCAL),
        audit.INTEGRATION_ADDED,
        "staging",
    ),
    (
        "edit",
        lambda s: s.update_integration_config("prod", {"paths": ["/elsewhere"]}),
        audit.INTEGRATION_EDITED,
        "prod",
    ),
    (
        "rename",
        lambda s: s.rename_integration("prod", "production"),
        audit.INTEGRATION_RENAMED,
        "production",
    ),
    ("schedule", lambda s: s.set_schedule("prod", 60), audit.SCHEDULE_CHANGED, "prod"),
    ("delete", lambda s: s.remove_integration("prod"), audit.INTEGRATION_DELETED, "prod"),
    ("sync", lambda s: sync_integration(s, "prod"), audit.SYNC_STARTED, "prod"),
    (
        "price",
        lambda s: book.set_override(
            s,
            "amazon.nova-lite-v1:0",
            {Meter.INPUT: Decimal("0.05")},
            effective_from=date(2026, 1, 1),
            today=date(2026, 11, 30),
        ),
        audit.PRICE_SET,
        "amazon.nova-lite-v1:0",
    ),
    (
        "demo load",
        lambda s: demo.load_demo(s, end=date(2026, 3, 31), days=2),
        audit.DEMO_LOADED,
        "demo data",
    ),
]


@pytest.mark.parametrize(("name", "act", "action", "target"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_each_action_writes_exactly_one_row_with_the_right_user(
    store: Store, name: str, act: Callable[[Store], object], action: str, target: str
) -> None:
    _with_prod(store)
    before = len(_rows(store))
    store.actor = ALICE
    act(store)
    rows = _rows(store)
    assert len(rows) == before + 1, rows
    assert rows[0] == (ALICE.name, ALICE.via, action, target)


def test_demo_removal_is_one_row_and_no_change_is_no_row(store: Store) -> None:
    demo.load_demo(store, end=date(2026, 3, 31), days=2)
    _with_prod(store)
    count = len(_rows(store))
    store.actor = ALICE
    store.update_integration_config("prod", LOCAL)  # the same settings: nothing changed
    store.rename_integration("prod", "prod")
    assert len(_rows(store)) == count
    demo.remove_demo(store)
    rows = _rows(store)
    assert len(rows) == count + 1 and rows[0][2:] == (audit.DEMO_REMOVED, "demo data")


def test_a_dashboard_sync_is_recorded_as_who_asked_or_the_schedule(db_path: Path) -> None:
    shared = SharedStore(db_path, idle_seconds=0.05)
    with shared.session() as store:
        _with_prod(store)
    jobs = SyncJobs(shared.session)
    jobs.start("prod", actor=ALICE)
    jobs.wait("prod")
    jobs.start("prod", trigger="schedule")
    jobs.wait("prod")
    with shared.session() as store:
        syncs = [r for r in _rows(store) if r[2] == audit.SYNC_STARTED]
    assert [(r[0], r[1]) for r in syncs][::-1] == [
        (ALICE.name, "dashboard"),
        (audit.os_user(), "schedule"),
    ]
    shared.close()


def test_cli_actions_are_recorded_with_the_os_user_and_printed_by_audit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "cli.duckdb")
    assert (
        main(["--db", db, "integrations", "add", "=HYPERLINK(1)", "--path", str(PUBLIC_RECORDS)])
        == 0
    )
    assert main(["--db", db, "sync", "=HYPERLINK(1)"]) == 0
    capsys.readouterr()
    assert main(["--db", db, "audit", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["actor"], r["via"], r["action"]) for r in rows] == [
        (audit.os_user(), "cli", audit.SYNC_STARTED),
        (audit.os_user(), "cli", audit.INTEGRATION_ADDED),
    ]
    assert main(["--db", db, "audit", "--format", "csv"]) == 0
    cells = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert cells[0]["target"] == "'=HYPERLINK(1)", "formulas are neutralised"
    assert main(["--db", db, "audit", "--to", "2000-01-01"]) == 0
    assert "Nothing recorded in this period." in capsys.readouterr().out
    assert main(["--db", str(tmp_path / "none.duckdb"), "audit"]) == 1


@pytest.mark.parametrize(
    ("address", "private"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("", False),
        ("0.0.0.0", False),
        ("192.168.1.20", False),
    ],
)
def test_loopback_addresses(address: str, private: bool) -> None:
    assert is_loopback(address) == private


def _listening(port: int) -> list[str]:
    """The local addresses of the LISTEN sockets on ``port`` (Linux /proc)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                found.append(address)
    return found


def test_the_dashboard_started_the_readme_way_listens_on_localhost_only(tmp_path: Path) -> None:
    port = free_port()
    env = {"BEDROCK_EXPLORER_DB": str(tmp_path / "x.duckdb"), "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
               "--server.port", str(port), "--server.headless", "true"]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        listening = _listening(port)
        assert listening, "the dashboard did not start"
        # 0100007F is 127.0.0.1 (tcp); ::1 is 00000000000000000000000001000000 (tcp6)
        assert set(listening) <= {"0100007F", "00000000000000000000000001000000"}, listening
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_a_dashboard_open_to_the_network_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit import config

    monkeypatch.setenv("BEDROCK_EXPLORER_DB", str(tmp_path / "x.duckdb"))
    app = str(ROOT / "streamlit_app.py")
    before = config.get_option("server.address")
    try:
        config.set_option("server.address", "0.0.0.0")
        at = AppTest.from_file(app, default_timeout=90).run()
        shown = [e.value.replace("\\", "") for e in at.sidebar.error]
        assert any("listens on **0.0.0.0** without sign-in" in text for text in shown), shown
        config.set_option("server.address", "127.0.0.1")
        at = AppTest.from_file(app, default_timeout=90).run()
        assert not any("without sign-in" in e.value for e in at.error)
    finally:
        config.set_option("server.address", before)
