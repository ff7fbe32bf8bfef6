"""The DuckDB store: idempotent writes, quarantine, migrations, integrations, file locking."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from bedrock_explorer.errors import (
    DatabaseBusyError,
    DatabaseVersionError,
    IntegrationExistsError,
    IntegrationNotFoundError,
)
from bedrock_explorer.raw import RawBatch
from bedrock_explorer.store import Store, schema
from tests.conftest import held_by_another_process, line


def _totals(store: Store) -> tuple[int, int, int, int]:
    return store.con.execute(
        "SELECT count(*), count(DISTINCT request_id), sum(input_tokens), sum(output_tokens) "
        "FROM invocations"
    ).fetchall()[0]


def test_importing_the_same_lines_twice_changes_no_total(
    store: Store, public_lines: list[str]
) -> None:
    integ = store.add_integration("fixtures", "local")
    first = store.write_batch(integ.id, RawBatch("a.jsonl", public_lines))
    before = _totals(store)
    second = store.write_batch(integ.id, RawBatch("a.jsonl", public_lines))
    assert (first.inserted, first.duplicates) == (7, 0)
    assert (second.inserted, second.duplicates) == (0, 7)
    assert _totals(store) == before == (7, 7, 1807, 778)


def test_a_record_delivered_twice_in_one_batch_is_stored_once(store: Store) -> None:
    integ = store.add_integration("x", "local")
    lines = [line(request_id="a"), line(request_id="b"), line(request_id="a")]
    result = store.write_batch(integ.id, RawBatch("f", lines))
    assert (result.inserted, result.duplicates) == (2, 1)
    assert _totals(store)[:2] == (2, 2)


def test_a_record_delivered_again_from_another_source_is_stored_once(store: Store) -> None:
    integ = store.add_integration("x", "local")
    store.write_batch(integ.id, RawBatch("cloudwatch", [line(request_id="a")]))
    result = store.write_batch(
        integ.id, RawBatch("s3", [line(request_id="a"), line(request_id="c")])
    )
    assert (result.inserted, result.duplicates) == (1, 1)
    assert _totals(store)[:2] == (2, 2)


def test_the_same_request_id_in_two_integrations_is_two_invocations(store: Store) -> None:
    a = store.add_integration("account a", "local")
    b = store.add_integration("account b", "local")
    store.write_batch(a.id, RawBatch("f", [line(request_id="same")]))
    store.write_batch(b.id, RawBatch("f", [line(request_id="same")]))
    assert _totals(store)[0] == 2


def test_bad_lines_are_quarantined_with_reason_and_locator_once(store: Store) -> None:
    integ = store.add_integration("x", "local")
    lines = [
        line(request_id="a"),
        "{truncated",
        "",
        line(request_id="b")[:-40],
        line(request_id="c"),
    ]
    first = store.write_batch(integ.id, RawBatch("logs/day1.jsonl", lines, first_line=10))
    assert (first.inserted, first.quarantined) == (2, 2)
    rows = store.con.execute("SELECT source, ref, reason FROM quarantine ORDER BY ref").fetchall()
    assert rows == [
        ("logs/day1.jsonl", "11", "not valid JSON (malformed or truncated line)"),
        ("logs/day1.jsonl", "13", "not valid JSON (malformed or truncated line)"),
    ]
    again = store.write_batch(integ.id, RawBatch("logs/day1.jsonl", lines, first_line=10))
    assert (again.inserted, again.quarantined, again.duplicates) == (0, 0, 2)
    assert store.con.execute("SELECT count(*) FROM quarantine").fetchall()[0][0] == 2


def test_explicit_locators_are_used_for_quarantine(store: Store) -> None:
    integ = store.add_integration("x", "cloudwatch", {"log_group": "g"})
    store.write_batch(integ.id, RawBatch("stream-1", ["nope", line()], refs=["ev-1", "ev-2"]))
    assert store.con.execute("SELECT source, ref FROM quarantine").fetchall() == [
        ("stream-1", "ev-1")
    ]


def test_checkpoints_commit_with_the_rows(store: Store) -> None:
    integ = store.add_integration("x", "local")
    store.write_batch(integ.id, RawBatch("f", [line()], checkpoints={"file:f": "10:20"}))
    assert store.get_checkpoint(integ.id, "file:f") == "10:20"
    assert store.get_checkpoint(integ.id, "other") is None


def test_a_failing_batch_leaves_neither_rows_nor_checkpoint(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bedrock_explorer.store import writer

    integ = store.add_integration("x", "local")

    def boom(*_: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(writer, "_register_new_model_ids", boom)
    with pytest.raises(RuntimeError):
        store.write_batch(integ.id, RawBatch("f", [line()], checkpoints={"k": "v"}))
    assert _totals(store)[0] == 0
    assert store.get_checkpoint(integ.id, "k") is None


def test_model_ids_dimension_is_filled_once(store: Store) -> None:
    integ = store.add_integration("x", "local")
    for _ in range(2):
        store.write_batch(
            integ.id,
            RawBatch(
                "f",
                [
                    line(
                        request_id="1", model_id="global.anthropic.claude-sonnet-4-5-20250929-v1:0"
                    ),
                    line(request_id="2", model_id="amazon.nova-lite-v1:0"),
                ],
            ),
        )
    rows = store.con.execute(
        "SELECT model_id, base_model, routing, geo, resolved_by FROM model_ids ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0", "in_region", None, "derived"),
        (
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            "global",
            "global",
            "derived",
        ),
    ]


def test_integrations_are_unique_and_removable(store: Store) -> None:
    integ = store.add_integration("prod", "local", {"paths": ["/logs"]})
    assert store.get_integration("prod").config == {"paths": ["/logs"]}
    with pytest.raises(IntegrationExistsError):
        store.add_integration("prod", "local")
    store.write_batch(
        integ.id,
        RawBatch("f", [line(request_id="1"), line(request_id="2"), "x"], checkpoints={"k": "v"}),
    )
    assert store.remove_integration("prod") == 2
    for table in ("invocations", "quarantine", "sync_checkpoints", "integrations"):
        assert store.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] == 0
    with pytest.raises(IntegrationNotFoundError, match="no integration named 'prod'"):
        store.get_integration("prod")


def test_schema_version_is_recorded_and_reopening_is_a_no_op(db_path: Path) -> None:
    with Store(db_path) as s:
        assert schema.current_version(s.con) == schema.SCHEMA_VERSION
    with Store(db_path) as s:
        versions = s.con.execute("SELECT version FROM schema_version").fetchall()
    assert versions == [(v,) for v in range(1, schema.SCHEMA_VERSION + 1)]


def test_a_file_from_a_newer_version_is_refused_with_the_fix(db_path: Path) -> None:
    with Store(db_path) as s:
        s.con.execute("INSERT INTO schema_version VALUES (999, now())")
    with pytest.raises(DatabaseVersionError, match="upgrade Bedrock Explorer"):
        Store(db_path)


def test_migrations_bring_an_old_file_forward(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store(db_path):
        pass
    monkeypatch.setattr(
        schema,
        "MIGRATIONS",
        (*schema.MIGRATIONS, "ALTER TABLE integrations ADD COLUMN note VARCHAR"),
    )
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(schema.MIGRATIONS))
    with Store(db_path) as s:
        assert schema.current_version(s.con) == schema.SCHEMA_VERSION
        s.con.execute("SELECT note FROM integrations").fetchall()


def test_a_database_held_by_another_process_gives_a_clear_message(db_path: Path) -> None:
    Store(db_path).close()
    with held_by_another_process(db_path) as holder:
        started = time.monotonic()
        with pytest.raises(DatabaseBusyError) as err:
            Store(db_path, wait_seconds=0.5)
        assert time.monotonic() - started < 5
        assert f"process {holder.pid}" in str(err.value)
        assert "try again" in str(err.value)
    Store(db_path).close()  # free again once the other process is gone


def test_timestamps_are_stored_in_utc_whatever_the_session_zone(store: Store) -> None:
    store.con.execute("SET TimeZone = 'Asia/Tokyo'")
    integ = store.add_integration("x", "local")
    store.write_batch(integ.id, RawBatch("f", [line()]))
    assert (
        str(store.con.execute("SELECT ts FROM invocations").fetchall()[0][0])
        == "2025-06-01 12:00:00"
    )


def test_duckdb_version_is_pinned_to_a_compatible_major() -> None:
    assert duckdb.__version__.split(".")[0] == "2"


def test_a_sync_whose_process_is_gone_is_shown_as_interrupted(store: Store) -> None:

    from bedrock_explorer.integration_list import status_label

    integ = store.add_integration("x", "cloudwatch", {})
    store.set_sync_status(integ.id, "running", "syncing")
    assert status_label(store.get_integration("x")) == "Syncing"  # this process is alive
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    store.con.execute("UPDATE integrations SET last_sync_pid = ?", [int(dead.stdout)])
    assert status_label(store.get_integration("x")) == "Interrupted"
    store.set_sync_status(integ.id, "ok", "done")
    assert status_label(store.get_integration("x")) == "Active"


def test_a_file_this_version_cannot_use_is_let_go_at_once(db_path: Path) -> None:
    """A newer schema raises, and the failed open keeps no lock on the file (another process
    can open it at once)."""
    from bedrock_explorer.errors import DatabaseVersionError

    Store(db_path).close()
    con = duckdb.connect(str(db_path))
    con.execute("INSERT INTO schema_version VALUES (999, now())")
    con.close()
    with pytest.raises(DatabaseVersionError) as caught:
        Store(db_path)
    other = subprocess.run(
        [sys.executable, "-c", f"import duckdb; duckdb.connect({str(db_path)!r}).close()"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert other.returncode == 0, other.stderr
    assert caught.value is not None
