"""Local sources: every file layout a user may have on disk, imported through the real path."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from bedrock_explorer.errors import SourceError
from bedrock_explorer.ingest import import_paths
from bedrock_explorer.sources import byte_stream
from bedrock_explorer.sources.local import reader as local_files
from bedrock_explorer.store import Store
from tests.conftest import PUBLIC_RECORDS, line


def _count(store: Store) -> int:
    return store.con.execute("SELECT count(*) FROM invocations").fetchall()[0][0]


def _write_gz(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")


def test_a_plain_jsonl_file(store: Store) -> None:
    summary = import_paths(store, [str(PUBLIC_RECORDS)], "fixtures")
    assert (summary.files, summary.inserted, summary.quarantined) == (1, 7, 0)


def test_folders_recursively_with_gz_json_and_jsonl(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "logs"
    (root / "a" / "b").mkdir(parents=True)
    (root / "one.jsonl").write_text(line(request_id="1") + "\n" + line(request_id="2") + "\n")
    (root / "a" / "two.json").write_text(line(request_id="3"))  # no final newline
    _write_gz(root / "a" / "b" / "three.jsonl.gz", [line(request_id="4"), line(request_id="5")])
    (root / "a" / "notes.md").write_text("# not a log")
    (root / ".hidden.jsonl").write_text(line(request_id="hidden"))
    summary = import_paths(store, [str(root)], "folder")
    assert (summary.files, summary.inserted) == (3, 5)


def test_s3_delivery_tree_skips_bodies_and_the_permission_marker(
    store: Store, tmp_path: Path
) -> None:
    hour = (
        tmp_path
        / "prefix"
        / "AWSLogs"
        / "111122223333"
        / "BedrockModelInvocationLogs"
        / "us-east-1"
        / "2025"
        / "06"
        / "01"
        / "12"
    )
    _write_gz(
        hour / "20250601T120000000Z_abc.json.gz", [line(request_id="1"), line(request_id="2")]
    )
    _write_gz(hour / "20250601T121500000Z_def.json.gz", [line(request_id="3")])
    _write_gz(hour / "data" / "offloaded-body.json.gz", ['{"prompt": "LARGE BODY"}'])
    (
        tmp_path
        / "prefix"
        / "AWSLogs"
        / "111122223333"
        / "BedrockModelInvocationLogs"
        / "amazon-bedrock-logs-permission-check"
    ).write_text("")
    files = local_files.discover([tmp_path / "prefix"]).files
    assert [f.path.name for f in files] == [
        "20250601T120000000Z_abc.json.gz",
        "20250601T121500000Z_def.json.gz",
    ]
    summary = import_paths(store, [str(tmp_path / "prefix")], "s3 copy")
    assert (summary.inserted, summary.quarantined) == (3, 0)


def test_a_folder_named_data_outside_the_delivery_layout_is_read(
    store: Store, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.jsonl").write_text(line())
    assert import_paths(store, [str(tmp_path)], "x").inserted == 1


def test_cloudwatch_export_task_files(store: Store, tmp_path: Path) -> None:
    export = tmp_path / "exportedlogs" / "task-1" / "stream-a" / "000000.gz"
    _write_gz(
        export,
        [
            "2025-06-01T12:00:00.000Z " + line(request_id="1"),
            "2025-06-01T12:00:01.000Z " + line(request_id="2"),
            "2025-06-01T12:00:02.000Z {broken",
        ],
    )
    summary = import_paths(store, [str(tmp_path / "exportedlogs")], "export")
    assert (summary.inserted, summary.quarantined) == (2, 1)
    assert store.con.execute("SELECT ref FROM quarantine").fetchall() == [("3",)]


@pytest.mark.parametrize("indent", [None, 2])
def test_filter_log_events_cli_output(store: Store, tmp_path: Path, indent: int | None) -> None:
    doc = {
        "events": [
            {
                "logStreamName": "aws/bedrock/modelinvocations",
                "timestamp": 1,
                "eventId": "e1",
                "message": line(request_id="1"),
                "ingestionTime": 2,
            },
            {
                "logStreamName": "aws/bedrock/modelinvocations",
                "timestamp": 1,
                "eventId": "e2",
                "message": "{oops",
                "ingestionTime": 2,
            },
            {"logStreamName": "aws/bedrock/modelinvocations", "eventId": "e3"},
        ],
        "searchedLogStreams": [],
    }
    path = tmp_path / "filter-log-events.json"
    path.write_text(json.dumps(doc, indent=indent))
    summary = import_paths(store, [str(path)], "cli")
    assert (summary.inserted, summary.quarantined) == (1, 2)
    refs = sorted(r[0] for r in store.con.execute("SELECT ref FROM quarantine").fetchall())
    assert refs == ["aws/bedrock/modelinvocations/e2", "aws/bedrock/modelinvocations/e3"]


def test_a_json_array_of_records(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "records.json"
    path.write_text(
        json.dumps([json.loads(line(request_id="1")), json.loads(line(request_id="2"))], indent=2)
    )
    assert import_paths(store, [str(path)], "array").inserted == 2


def test_bytes_that_are_not_utf8_inside_prompt_text_do_not_lose_the_record(
    store: Store, tmp_path: Path
) -> None:
    good = line(request_id="1", prompt="caf\u00e9 PLACEHOLDER").encode()
    bad = good.replace(b"PLACEHOLDER", b"\xff\xfe bytes")
    path = tmp_path / "latin.jsonl"
    path.write_bytes(bad + b"\n" + line(request_id="2").encode() + b"\n")
    summary = import_paths(store, [str(path)], "bytes")
    assert (summary.inserted, summary.quarantined) == (2, 0)


def test_line_numbers_survive_block_boundaries(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(byte_stream, "READ_BLOCK", 700)  # force many tiny blocks
    lines = [line(request_id=str(i)) for i in range(1, 40)]
    lines[24] = "{not json"
    path = tmp_path / "many.jsonl"
    path.write_text("\n".join(lines))
    summary = import_paths(store, [str(path)], "blocks")
    assert (summary.inserted, summary.quarantined) == (38, 1)
    assert store.con.execute("SELECT ref FROM quarantine").fetchall() == [("25",)]


def test_unchanged_files_are_skipped_and_force_rereads_them(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(line(request_id="1") + "\n")
    assert import_paths(store, [str(path)], "x").inserted == 1
    again = import_paths(store, [str(path)], "x")
    assert (again.files, again.files_unchanged, again.inserted) == (0, 1, 0)
    forced = import_paths(store, [str(path)], "x", force=True)
    assert (forced.files, forced.inserted, forced.duplicates) == (1, 0, 1)
    path.write_text(line(request_id="1") + "\n" + line(request_id="2") + "\n")
    os.utime(path, ns=(1, 1))
    grown = import_paths(store, [str(path)], "x")
    assert (grown.files, grown.inserted, grown.duplicates) == (1, 1, 1)
    assert _count(store) == 2


def test_missing_path_is_a_clear_error(store: Store, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="No such file or folder"):
        import_paths(store, [str(tmp_path / "nope")], "x")
    assert store.find_integration("x") is None


def test_a_folder_without_logs_is_a_clear_error(store: Store, tmp_path: Path) -> None:
    (tmp_path / "readme.txt.bak").write_text("x")
    with pytest.raises(Exception, match="No log files found"):
        import_paths(store, [str(tmp_path)], "x")


def test_a_truncated_gzip_file_keeps_what_can_be_read_and_quarantines_the_rest(
    store: Store, tmp_path: Path
) -> None:
    good = tmp_path / "a-good.jsonl.gz"
    _write_gz(good, [line(request_id=str(i)) for i in range(50)])
    broken = tmp_path / "b-broken.jsonl.gz"
    data = gzip.compress(("\n".join(line(request_id=f"b{i}") for i in range(400))).encode())
    broken.write_bytes(data[: len(data) // 2])
    summary = import_paths(store, [str(tmp_path)], "x")
    assert summary.inserted > 50 + 100  # all of the good file, the readable half of the other
    problems = store.con.execute("SELECT source, ref, reason FROM quarantine").fetchall()
    assert len(problems) == 1
    source, ref, reason = problems[0]
    assert source == str(broken.resolve())
    assert ref.startswith("after line ")
    assert "truncated" in reason
    assert store.get_integration("x").last_sync_status == "ok"


def test_an_unreadable_file_is_quarantined_and_the_others_imported(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.jsonl").write_text(line(request_id="1"))
    locked = tmp_path / "b.jsonl"
    locked.write_text(line(request_id="2"))
    real_open = local_files._open_regular

    def deny(path: Path) -> int:  # the tests run as root, who can read a chmod 0 file
        if path.name == "b.jsonl":
            raise local_files._Unreadable("file could not be opened (Permission denied)")
        return real_open(path)

    monkeypatch.setattr(local_files, "_open_regular", deny)
    summary = import_paths(store, [str(tmp_path)], "x")
    assert (summary.inserted, summary.quarantined) == (1, 1)
    assert store.con.execute("SELECT ref, reason FROM quarantine").fetchall() == [
        ("file", "file could not be opened (Permission denied)")
    ]
