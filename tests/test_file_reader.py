"""Local NDJSON files read by DuckDB itself: the rows the line path stores, or a fall back to it."""

from __future__ import annotations

import gzip
import json
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from bedrock_explorer import demo, records
from bedrock_explorer.ingest import import_paths
from bedrock_explorer.raw import RawBatch
from bedrock_explorer.sources.local import reader as local_files
from bedrock_explorer.store import Store
from tests.conftest import PUBLIC_RECORDS, line

_ROWS = f"""
    SELECT {", ".join(records.INVOCATION_COLUMNS)}, p.principal_type, p.principal_name,
           p.session_name, m.base_model, m.routing
    FROM invocations i
    LEFT JOIN identities p USING (identity_arn)
    LEFT JOIN model_ids m USING (model_id)
    ORDER BY request_id
"""


def _good_lines() -> list[str]:
    """Every record shape we know: the public fixtures and two weeks of every demo account."""
    lines = PUBLIC_RECORDS.read_text().splitlines()
    until = datetime(2026, 3, 15, tzinfo=UTC)
    for account in demo.ACCOUNTS:
        for batch in demo.generate(account, end=date(2026, 3, 14), days=14, until=until):
            lines.extend(batch.lines)  # type: ignore[arg-type]
    con = duckdb.connect()
    con.register("raw_batch", records.raw_batch_table(lines))
    bad = {
        seq
        for (seq,) in con.execute(
            f"SELECT seq FROM ({records.PARSE_SQL}) WHERE reason IS NOT NULL"
        ).fetchall()
    }
    good = [text for seq, text in enumerate(lines, 1) if seq not in bad]
    assert len(good) > 3000 and len(good) < len(lines)  # the demo's malformed lines are left out
    return good


def test_duckdb_reading_files_stores_exactly_what_the_line_path_stores(tmp_path: Path) -> None:
    lines = _good_lines()
    path = tmp_path / "records.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    with Store(tmp_path / "files.duckdb") as by_file, Store(tmp_path / "lines.duckdb") as by_line:
        a = by_file.add_integration("x", "local", {})
        result = by_file.write_files(a.id, [str(path)], "gzip", {"file:x": "1"})
        assert result is not None, "DuckDB's reader refused a record shape the line path accepts"
        b = by_line.add_integration("x", "local", {})
        by_line.write_batch(b.id, RawBatch("records", lines))
        stored = by_file.con.execute(_ROWS).fetchall()
        expected = by_line.con.execute(_ROWS).fetchall()
        assert len(stored) == result.inserted == len({text for text in lines}) - result.duplicates
        assert stored == expected
        assert by_file.get_checkpoint(a.id, "file:x") == "1"


def _edited(**changes: object) -> str:
    record = json.loads(line(request_id="r-x"))
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        node = record
        for parent in parents:
            node = node[parent]
        node[key] = value
    return json.dumps(record)


@pytest.mark.parametrize(
    ("bad", "quarantined"),
    [
        ('{"schemaType": "ModelInvocationLog", "requestId": "r-x", "timestamp": ', 1),
        (_edited(input__inputTokenCount="many"), 1),
        (_edited(timestamp="2026-13-99T00:00:00Z"), 1),
        (_edited(requestId=""), 1),
        # The line path reads what it can of an odd record; DuckDB's typed reader refuses it.
        (_edited(identity="someone"), 0),
        ("[1, 2, 3]", 1),
    ],
    ids=[
        "truncated",
        "non-numeric tokens",
        "impossible time",
        "no requestId",
        "odd shape",
        "array",
    ],
)
def test_a_file_duckdb_cannot_take_whole_is_read_line_by_line(
    store: Store, tmp_path: Path, bad: str, quarantined: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean = tmp_path / "a-clean.jsonl"
    clean.write_text("\n".join(line(request_id=f"c-{n}") for n in range(20)) + "\n")
    dirty = tmp_path / "b-dirty.jsonl"
    dirty.write_text("\n".join([line(request_id="d-1"), bad, line(request_id="d-3")]) + "\n")
    other = tmp_path / "c-other.jsonl.gz"
    with gzip.open(other, "wt") as fh:
        fh.write(line(request_id="o-1") + "\n")
    read_line_by_line: list[str] = []
    real_read_file = local_files.read_file

    def spy(log_file: local_files.LogFile, *args: object) -> object:
        read_line_by_line.append(log_file.path.name)
        return real_read_file(log_file, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(local_files, "read_file", spy)
    # Group the two plain files apart, so the clean one shows it is read by DuckDB.
    monkeypatch.setattr("bedrock_explorer.ingest.FILE_GROUP_BYTES", clean.stat().st_size)
    summary = import_paths(store, [str(tmp_path)], "local")
    assert read_line_by_line == ["b-dirty.jsonl"]
    assert summary.inserted == 20 + 3 - quarantined + 1
    assert summary.quarantined == quarantined
    where = store.con.execute("SELECT source, ref FROM quarantine").fetchall()
    assert where == [(str(dirty.resolve()), "2")] * quarantined
    # Nothing of the bad line is kept, and a second import reads nothing again.
    again = import_paths(store, [str(tmp_path)], "local")
    assert (again.files, again.files_unchanged, again.inserted) == (0, 3, 0)


def test_which_files_duckdb_may_read_itself(tmp_path: Path) -> None:
    def kind(name: str, content: bytes) -> str | None:
        path = tmp_path / name
        path.write_bytes(content)
        return local_files.ndjson_compression(local_files.discover([path]).files[0])

    record = line().encode()
    assert kind("a.jsonl", b"\n  " + record) == "none"
    assert kind("b.json.gz", gzip.compress(record)) == "gzip"
    assert kind("c.json", b"[" + record + b"]") is None
    assert kind("d.json", b'{"events": [{"message": "x"}]}') is None
    assert kind("e.log", b"2024-05-01T10:00:00.000Z " + record) is None
    assert kind("f.gz", b"\x1f\x8b not really gzip") is None


def test_progress_of_a_long_statement_is_reported_on_the_callers_thread(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bedrock_explorer.store import writer

    monkeypatch.setattr(writer, "PROGRESS_EVERY_SECONDS", 0.02)
    caller = threading.get_ident()
    seen: list[tuple[float, bool]] = []
    with writer._progress_tracked(store.con, True):
        rows = writer._run_reporting(
            store.con,
            "SELECT sum(hash(i)) FROM range($n) t(i)",
            {"n": 100_000_000},
            lambda part: seen.append((part, threading.get_ident() == caller)),
        )
    assert rows[0][0] is not None
    assert seen and all(on_caller for _, on_caller in seen)
    assert all(0 <= part <= 1 for part, _ in seen)
