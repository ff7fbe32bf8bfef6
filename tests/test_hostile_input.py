"""Hostile input costs only itself: one regression test per failure found by the adversarial run
(issue 20), each with its minimal input. Numbers in the test names follow the issue's list."""

from __future__ import annotations

import codecs
import csv
import gzip
import html
import io
import json
import os
import re
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pandas as pd
import pytest
from markdown_it import MarkdownIt

from bedrock_explorer import export, queries, records
from bedrock_explorer.display import chart_text, md
from bedrock_explorer.errors import safe_reason
from bedrock_explorer.explorer import Filters
from bedrock_explorer.ingest import import_paths
from bedrock_explorer.raw import RawBatch
from bedrock_explorer.records import ParseError, parse_line
from bedrock_explorer.sources.cloudwatch.settings import CloudWatchSettings
from bedrock_explorer.sources.local import reader as local_files
from bedrock_explorer.store import SharedStore, Store
from bedrock_explorer.sync import sync_integration
from tests.aws_seed import LOG_GROUP
from tests.conftest import line

ROOT = Path(__file__).resolve().parent.parent
CANARY = "日本語のプロンプト😀CANARY"


def _record(**fields: object) -> dict[str, object]:
    return json.loads(line(**fields))  # type: ignore[no-any-return]


def _with(path: tuple[str, ...], value: object, **fields: object) -> str:
    record = _record(**fields)
    target = record
    for key in path[:-1]:
        target = target[key]  # type: ignore[assignment]
    target[path[-1]] = value  # type: ignore[index]
    return json.dumps(record)


def _count(store: Store) -> int:
    return store.con.execute("SELECT count(*) FROM invocations").fetchall()[0][0]


def _quarantine(store: Store) -> list[tuple[str, str, str]]:
    return store.con.execute(
        "SELECT source, ref, reason FROM quarantine ORDER BY source, ref"
    ).fetchall()


def _multibyte_malformed_lines() -> list[str]:
    """Malformed lines whose engine error message, quoting their first ~50 bytes, ends
    mid-character for two offsets of every three (3-byte characters from byte 23 on)."""
    return [
        '{"requestId":"x", "a":"' + "x" * n + "日本語のプロンプト" * 10 + CANARY + '" , oops'
        for n in range(4)
    ]


# -- 1. a malformed multi-byte line -----------------------------------------------------------


def test_1_the_engine_error_really_is_undecodable_for_these_lines() -> None:
    """The reproduction holds: DuckDB's own message for one of them cannot be decoded."""
    con = duckdb.connect()
    with pytest.raises(UnicodeDecodeError):
        for text in _multibyte_malformed_lines():
            con.register("raw_batch", records.raw_batch_table([text]))
            try:
                con.execute(records.PARSE_SQL_STRICT).fetchall()
            except duckdb.Error:
                continue


def test_1_a_multibyte_malformed_line_is_quarantined_and_the_rest_imported(
    store: Store, tmp_path: Path
) -> None:
    good = [line(request_id=f"g{i}") for i in range(50)]
    (tmp_path / "a.jsonl").write_text("\n".join([*_multibyte_malformed_lines(), *good]) + "\n")
    (tmp_path / "b.jsonl").write_text(line(request_id="later-file") + "\n")
    summary = import_paths(store, [str(tmp_path)], "x")
    assert (summary.inserted, summary.quarantined) == (51, 4)
    assert store.get_integration("x").last_sync_status == "ok"


def test_1_a_cloudwatch_sync_over_such_an_event_stores_the_good_ones(
    store: Store, aws_env: None
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    logs = boto3.client("logs", region_name="us-east-1")
    logs.create_log_group(logGroupName=LOG_GROUP)
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName="s")
    start = now - timedelta(hours=2)
    texts = [
        line(request_id=f"ok-{i}", ts=start + timedelta(seconds=i)) for i in range(50)
    ] + _multibyte_malformed_lines()
    events = [
        {"timestamp": int((start + timedelta(seconds=i)).timestamp() * 1000), "message": t}
        for i, t in enumerate(texts)
    ]
    logs.put_log_events(logGroupName=LOG_GROUP, logStreamName="s", logEvents=events)
    settings = CloudWatchSettings(region="us-east-1", log_group=LOG_GROUP)
    store.add_integration("cw", "cloudwatch", settings.to_config())
    summary = sync_integration(store, "cw", now=now)
    assert (summary.inserted, summary.quarantined) == (50, 4)
    integ = store.get_integration("cw")
    assert integ.last_sync_status == "ok"
    assert "CANARY" not in (integ.last_sync_message or "")


def test_1_stored_messages_never_hold_input_bytes() -> None:
    err = duckdb.InvalidInputException(f'Malformed JSON at byte 3: unexpected. Input: "{CANARY}"')
    assert "CANARY" not in safe_reason(err) and "Malformed JSON" in safe_reason(err)
    undecodable = UnicodeDecodeError("utf-8", CANARY.encode(), 0, 1, "cut")
    assert "CANARY" not in safe_reason(undecodable)


# -- 2, 3, 19. values outside their range, silent coercions -------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (_with(("input", "inputTokenCount"), 2**63 - 1), "input.inputTokenCount over"),
        (_with(("output", "outputTokenCount"), 5 * 10**18), "output.outputTokenCount over"),
        (_with(("input", "inputTokenCount"), "12.5"), "not a whole number"),
        (_with(("input", "inputTokenCount"), 12.5), "not a whole number"),
        (_with(("input", "inputTokenCount"), "0x10"), "not a whole number"),
        (_with(("input", "inputTokenCount"), "1e3"), "not a whole number"),
        (_with(("input", "cacheReadInputTokenCount"), 1e3), "not a whole number"),
        (_with(("timestamp",), "infinity"), "timestamp outside 1990–2100"),
        (_with(("timestamp",), "-infinity"), "timestamp outside 1990–2100"),
        (_with(("timestamp",), "epoch"), "timestamp outside 1990–2100"),
        (_with(("timestamp",), "0000-01-01T00:00:00Z"), "timestamp outside 1990–2100"),
        (_with(("timestamp",), "0044-03-15T00:00:00 BC"), "impossible or unreadable timestamp"),
        (_with(("timestamp",), "2025-06-01T12:00:00+25:00"), "timestamp offset beyond ±14:00"),
        (_with(("timestamp",), "2025-06-01T12:00:00-14:30"), "timestamp offset beyond ±14:00"),
        (_with(("requestId",), 42), "requestId is not a string"),
        (_with(("requestId",), True), "requestId is not a string"),
        (_with(("requestId",), [1, 2]), "requestId is not a string"),
        (_with(("requestId",), {"a": 1}), "requestId is not a string"),
        (_with(("requestId",), "\t"), "requestId holds control characters"),
        (_with(("requestId",), "x" * 3000), "requestId longer than"),
        (_with(("modelId",), {}), "modelId is not a string"),
        (_with(("modelId",), 42), "modelId is not a string"),
        (_with(("modelId",), "amazon.nova\x00"), "modelId holds control characters"),
    ],
)
def test_2_3_19_out_of_range_and_mistyped_values_are_quarantined(raw: str, reason: str) -> None:
    result = parse_line(raw)
    assert isinstance(result, ParseError), result
    assert result.reason.startswith(reason)


@pytest.mark.parametrize(
    "raw",
    [
        _with(("timestamp",), "2025-06-01T12:00:00+14:00"),
        _with(("timestamp",), "2025-06-01T12:00:00-12:00"),
        _with(("timestamp",), "2025-06-01T12:00:00+05:30"),
        _with(("requestId",), "42"),  # a numeric *string* is a string
        _with(("requestId",), "1234e567-8901-2345-6789-012345678901"),  # digits, 'e', dashes
        _with(("input", "inputTokenCount"), "42"),
        _with(("input", "inputTokenCount"), records.MAX_TOKENS),
    ],
)
def test_values_at_the_edge_of_their_range_are_kept(raw: str) -> None:
    assert not isinstance(parse_line(raw), ParseError)


def test_2_figures_stay_computable_after_huge_token_counts_were_offered(
    store: Store, tmp_path: Path
) -> None:
    bad = [_with(("input", "inputTokenCount"), 5 * 10**18, request_id=f"b{i}") for i in range(2)]
    (tmp_path / "a.jsonl").write_text("\n".join([*bad, line(request_id="ok")]) + "\n")
    import_paths(store, [str(tmp_path)], "x")
    assert queries.overview_totals(store)["invocations"] == 1
    assert store.remove_integration("x") == 1


def test_19_a_repeated_metadata_key_keeps_the_other_tags() -> None:
    text = line(request_metadata={"team": "a", "app": "x"}).replace(
        '"team":"a"', '"team":"a","team":"b"'
    )
    assert '"team":"b"' in text
    row = parse_line(text)
    assert not isinstance(row, ParseError)
    assert row.request_metadata == {"team": "a", "app": "x"}


# -- 4. repeats found by key alone -------------------------------------------------------


def test_4_a_request_id_seen_again_with_another_timestamp_is_stored_once(
    store: Store, tmp_path: Path
) -> None:
    first = tmp_path / "first.jsonl"
    first.write_text(line(request_id="same", ts=datetime(2025, 6, 1, 12, tzinfo=UTC)) + "\n")
    import_paths(store, [str(first)], "x")
    again = tmp_path / "again.jsonl"
    again.write_text(line(request_id="same", ts=datetime(2025, 9, 1, 8, tzinfo=UTC)) + "\n")
    summary = import_paths(store, [str(again)], "x")
    assert (summary.inserted, summary.duplicates) == (0, 1)
    assert _count(store) == 1


# -- 5, 6. encodings and documents ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        ("bom.jsonl", lambda t: codecs.BOM_UTF8 + t.encode()),
        ("utf16.jsonl", lambda t: t.encode("utf-16")),  # with its byte-order mark
        ("utf16be.jsonl", lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be")),
        ("utf16le-nobom.jsonl", lambda t: t.encode("utf-16-le")),
        ("cr.jsonl", lambda t: t.replace("\n", "\r").encode()),
        ("crlf.jsonl", lambda t: t.replace("\n", "\r\n").encode()),
        ("bom.jsonl.gz", lambda t: gzip.compress(codecs.BOM_UTF8 + t.encode())),
        ("utf16.json.gz", lambda t: gzip.compress(t.encode("utf-16"))),
    ],
)
def test_5_boms_utf16_and_cr_line_ends_lose_nothing(
    store: Store, tmp_path: Path, name: str, encode: object
) -> None:
    text = "\n".join(line(request_id=f"r{i}", account_id="日本") for i in range(3)) + "\n"
    (tmp_path / name).write_bytes(encode(text))  # type: ignore[operator]
    summary = import_paths(store, [str(tmp_path)], "x")
    assert (summary.inserted, summary.quarantined) == (3, 0), _quarantine(store)
    assert store.con.execute("SELECT DISTINCT account_id FROM invocations").fetchall() == [
        ("日本",)
    ]


def test_6_a_pretty_printed_record_is_one_record(store: Store, tmp_path: Path) -> None:
    (tmp_path / "one.json").write_text(json.dumps(_record(request_id="p1"), indent=2))
    two = [json.dumps(_record(request_id=f"c{i}"), indent=4) for i in range(2)]
    (tmp_path / "two.json").write_text("\n".join(two) + "\n")
    (tmp_path / "glued.json").write_text("".join(two))  # no newline between them
    summary = import_paths(store, [str(tmp_path)], "x")
    assert (summary.inserted, summary.duplicates, summary.quarantined) == (3, 2, 0)


def test_6_a_document_that_stops_being_json_keeps_the_records_before(
    store: Store, tmp_path: Path
) -> None:
    items = ",\n".join(json.dumps(_record(request_id=f"a{i}"), indent=2) for i in range(5))
    (tmp_path / "cut.json").write_text("[\n" + items + ",\n{ broken")
    summary = import_paths(store, [str(tmp_path)], "x")
    assert summary.inserted == 5
    ((_, ref, reason),) = _quarantine(store)
    assert ref == "after item 5" and "stops being valid JSON" in reason


def test_filter_log_events_output_is_read_event_by_event(store: Store, tmp_path: Path) -> None:
    doc = {
        "events": [
            {"logStreamName": "s1", "eventId": f"e{i}", "message": line(request_id=f"f{i}")}
            for i in range(3)
        ]
        + [{"logStreamName": "s1", "eventId": "e9"}],
        "searchedLogStreams": [{"logStreamName": "s1", "searchedCompletely": True}],
    }
    (tmp_path / "events.json").write_text(json.dumps(doc, indent=2))
    summary = import_paths(store, [str(tmp_path)], "x")
    assert (summary.inserted, summary.quarantined) == (3, 1)
    assert _quarantine(store)[0][1:] == ("s1/e9", "not an invocation log record (no known field)")


# -- 7. unreadable folders and files are retried ------------------------------------------


def test_7_an_unreadable_folder_is_quarantined_and_read_once_it_can_be(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "a.jsonl").write_text(line(request_id="a") + "\n")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "b.jsonl").write_text(line(request_id="b") + "\n")
    real_scandir = os.scandir

    def deny(path: object = ".") -> object:  # the tests run as root, who reads a chmod 0 folder
        if Path(str(path)) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", deny)
    summary = import_paths(store, [str(tmp_path)], "x")
    assert (summary.inserted, summary.skipped) == (1, 1)
    assert _quarantine(store) == [
        (str(locked), "file", "folder could not be read (Permission denied)")
    ]
    monkeypatch.setattr(os, "scandir", real_scandir)
    again = import_paths(store, [str(tmp_path)], "x")
    assert (again.inserted, again.files_unchanged) == (1, 1)
    assert _quarantine(store) == [], "the fixed folder's problem is gone"


def test_7_a_file_that_could_not_be_opened_is_read_by_the_next_import(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "b.jsonl"
    target.write_text(line(request_id="b") + "\n")
    real_open = local_files._open_regular

    def deny(path: Path) -> int:
        raise local_files._Unreadable("file could not be opened (Permission denied)")

    monkeypatch.setattr(local_files, "_open_regular", deny)
    assert import_paths(store, [str(tmp_path)], "x").inserted == 0
    assert len(_quarantine(store)) == 1
    monkeypatch.setattr(local_files, "_open_regular", real_open)
    summary = import_paths(store, [str(tmp_path)], "x")  # a plain import, no --force
    assert (summary.inserted, summary.files_unchanged) == (1, 0)
    assert _quarantine(store) == []


# -- 8. damaged gzip -------------------------------------------------------------------------


def _gz_lines(n: int) -> tuple[bytes, bytes]:
    text = "".join(line(request_id=f"z{i}") + "\n" for i in range(n)).encode()
    return text, gzip.compress(text, compresslevel=6)


def test_8_a_flipped_byte_mid_stream_keeps_what_was_decoded_before(
    store: Store, tmp_path: Path
) -> None:
    _, data = _gz_lines(2000)
    damaged = bytearray(data)
    damaged[len(damaged) // 2] ^= 0xFF
    (tmp_path / "flip.jsonl.gz").write_bytes(bytes(damaged))
    summary = import_paths(store, [str(tmp_path)], "x")
    assert summary.inserted > 500, "a streaming inflate keeps the lines before the damage"
    problems = [p for p in _quarantine(store) if p[1].startswith("after line")]
    assert len(problems) == 1
    assert "damaged" in problems[0][2] and "were read" in problems[0][2]
    assert "were imported" not in problems[0][2]


def test_8_a_damaged_checksum_is_reported(store: Store, tmp_path: Path) -> None:
    _, data = _gz_lines(300)
    damaged = bytearray(data)
    damaged[-8] ^= 0x01  # the CRC32 of the trailer
    (tmp_path / "crc.jsonl.gz").write_bytes(bytes(damaged))
    import_paths(store, [str(tmp_path)], "x")
    ((_, _, reason),) = _quarantine(store)
    assert "checksum" in reason


def test_8_trailing_garbage_is_not_called_missing_data(store: Store, tmp_path: Path) -> None:
    _, data = _gz_lines(300)
    (tmp_path / "tail.jsonl.gz").write_bytes(data + b"garbage after the member")
    summary = import_paths(store, [str(tmp_path)], "x")
    assert summary.inserted == 300
    ((_, _, reason),) = _quarantine(store)
    assert "after the end of the gzip data" in reason and "missing" not in reason


def test_8_two_gzip_members_are_one_file(store: Store, tmp_path: Path) -> None:
    _, one = _gz_lines(10)
    other = gzip.compress("".join(line(request_id=f"m{i}") + "\n" for i in range(5)).encode())
    (tmp_path / "multi.jsonl.gz").write_bytes(one + other)
    assert import_paths(store, [str(tmp_path)], "x").inserted == 15
    assert _quarantine(store) == []


# -- 9. deep nesting ---------------------------------------------------------------------------


def test_9_deep_json_costs_only_its_record(store: Store, tmp_path: Path) -> None:
    deep = "[" * 5000 + "]" * 5000
    (tmp_path / "deep-array.json").write_text(
        "[" + deep + "," + json.dumps(_record(request_id="after-deep")) + "]"
    )
    (tmp_path / "deep-first-line.jsonl").write_text(
        deep + "\n" + line(request_id="next-line") + "\n"
    )
    body = _record(request_id="deep-body")
    body["output"]["outputBodyJson"] = json.loads("[" * 900 + "]" * 900)  # type: ignore[index]
    text = json.dumps(body).replace("[[", "[" * 3000 + "[", 1).replace("]]", "]" * 3000 + "]", 1)
    (tmp_path / "deep-body.jsonl").write_text(text + "\n")
    summary = import_paths(store, [str(tmp_path)], "x")
    ids = {r[0] for r in store.con.execute("SELECT request_id FROM invocations").fetchall()}
    assert {"after-deep", "next-line"} <= ids
    reasons = {r[2] for r in _quarantine(store)}
    assert any("nested deeper" in r for r in reasons), reasons
    assert summary.inserted == len(ids)


# -- 10. links, FIFOs and devices -------------------------------------------------------------


@pytest.mark.timeout(60)
def test_10_links_fifos_and_devices_are_skipped_with_a_reason(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "a.jsonl").write_text(line(request_id="a") + "\n")
    (folder / "dangling.jsonl").symlink_to(folder / "gone.jsonl")
    (folder / "self.jsonl").symlink_to(folder / "self.jsonl")
    (folder / "zero.jsonl").symlink_to("/dev/zero")
    (folder / "again.jsonl").symlink_to(folder / "a.jsonl")  # inside: followed, read once
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    os.mkfifo(folder / "pipe.jsonl")
    outside = tmp_path / "outside.jsonl"
    outside.write_text(line(request_id="outside") + "\n")
    (folder / "out.jsonl").symlink_to(outside)
    summary = import_paths(store, [str(folder)], "x")
    assert summary.inserted == 1 and summary.files == 1
    reasons = {Path(s).name: r for s, _, r in _quarantine(store)}
    assert reasons == {
        "dangling.jsonl": "broken symbolic link",
        "self.jsonl": "symbolic link that loops",
        "zero.jsonl": "not a regular file (a character device)",
        "pipe.jsonl": "not a regular file (a FIFO)",
        "out.jsonl": "symbolic link to a file outside the folder being imported",
        "loop": "symbolic link to a folder (not followed)",
    }


@pytest.mark.timeout(60)
def test_10_a_fifo_swapped_in_after_the_walk_is_refused_without_blocking(
    tmp_path: Path,
) -> None:
    fifo = tmp_path / "late.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(local_files._Unreadable, match="FIFO"):
        local_files._open_regular(fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


# -- 11, 12. bounded memory; many files -----------------------------------------------------


def test_11_an_over_long_line_is_cut_out_and_the_lines_after_kept(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bedrock_explorer.sources import byte_stream

    monkeypatch.setattr(byte_stream, "READ_BLOCK", 4096)
    monkeypatch.setattr(byte_stream, "MAX_RECORD_BYTES", 10_000)
    text = line(request_id="a") + "\n" + "0" * 50_000 + "\n" + line(request_id="b") + "\n"
    (tmp_path / "long.jsonl.gz").write_bytes(gzip.compress(text.encode()))

    def bounded(chunks: Iterator[bytes], max_line: int = 10_000) -> Iterator[object]:
        return real(chunks, max_line)

    real = byte_stream.line_blocks
    monkeypatch.setattr(byte_stream, "line_blocks", bounded)
    summary = import_paths(store, [str(tmp_path)], "x")
    assert summary.inserted == 2
    ((_, ref, reason),) = _quarantine(store)
    assert ref == "2" and "too large" in reason


def test_12_checkpoints_are_read_once_and_files_grouped_in_bounded_groups(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bedrock_explorer import ingest

    for i in range(40):
        (tmp_path / f"f{i:03}.jsonl").write_text(line(request_id=f"r{i}") + "\n")
    monkeypatch.setattr(ingest, "FILE_GROUP_FILES", 7)
    found = local_files.discover([tmp_path])
    groups = list(ingest._file_groups(found.files))
    assert max(len(g) for _, g in groups) == 7 and sum(len(g) for _, g in groups) == 40
    assert import_paths(store, [str(tmp_path)], "x").inserted == 40

    def no_single_lookups(*_: object) -> None:
        raise AssertionError("a checkpoint query per file")

    monkeypatch.setattr(store, "get_checkpoint", no_single_lookups)
    again = import_paths(store, [str(tmp_path)], "x")
    assert (again.files, again.files_unchanged) == (0, 40)


# -- 13. CSV formula injection through CR ----------------------------------------------------


def test_13_a_bare_cr_cannot_start_a_formula_cell_in_any_reader() -> None:
    frame = pd.DataFrame(
        {
            "metadata": ["x\r=1+1", " =cmd|' /C calc'!A0", "\t=HYPERLINK(1)", "\x01@SUM(1)", "a"],
            "invocations": [1, 2, 3, 4, 5],
        }
    )
    buffer = io.StringIO()
    export.neutralise(frame).to_csv(buffer, index=False, lineterminator=export.LINE_END)
    text = buffer.getvalue()
    for reader_rows in (
        list(csv.reader(io.StringIO(text, newline=None))),  # universal newlines
        [list(r) for r in pd.read_csv(io.StringIO(text), dtype=str).itertuples(index=False)],
    ):
        cells = [cell for row in reader_rows for cell in row]
        assert not any(c.lstrip(" \t\r\n\x01").startswith(("=", "+", "@")) for c in cells), cells


def test_13_the_grouped_and_detail_exports_quote_cr(store: Store, tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(
        line(request_id="a", request_metadata={"team": "x\r=1+1"}) + "\n"
    )
    import_paths(store, [str(tmp_path)], "x")
    f = Filters(datetime(2025, 6, 1).date(), datetime(2025, 6, 1).date())
    detail = "".join(text for text, _ in export.detail_csv_chunks(store, f))
    rows = list(csv.reader(io.StringIO(detail, newline=None)))
    assert len(rows) == 2, "the CR stays inside its quoted cell"
    assert not any(c.startswith("=") for row in rows for c in row)


# -- 14. stored strings shown as text --------------------------------------------------------

# CommonMark with links by schema (``http://…``). Bare domains are left to _GFM_AUTOLINK:
# Streamlit's renderer (remark-gfm) links ``http(s)://``, ``www.`` and e-mail addresses found in
# the *text* after escapes are resolved, when a space, punctuation or the start precedes them.
_MD = MarkdownIt("gfm-like", {"linkify": True})
_MD.linkify.set({"fuzzy_link": False, "fuzzy_email": False})
_GFM_AUTOLINK = re.compile(
    r"(?:^|(?<=[\s\W]))(?<!\u2060)(?:https?://|www\.|[-.\w+]+@[-\w]+\.)", re.IGNORECASE
)


def _links_in_text(rendered: str) -> list[str]:
    """What remark-gfm would autolink in the rendered text (tags stripped, entities decoded)."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", rendered))
    return _GFM_AUTOLINK.findall(text)


@pytest.mark.parametrize(
    "hostile",
    [
        "![x](http://127.0.0.1:9/beacon.png)",
        "[re-login](http://127.0.0.1:9/phish)",
        "<http://127.0.0.1:9/auto>",
        "see http://127.0.0.1:9/bare and www.example.com",
        "write to someone@example.com",
        "**bold** _it_ `code` ~~s~~ $x$ <b>raw</b>",
        "# heading",
        "- list",
        "1. numbered",
        "> quote",
    ],
)
def test_14_markdown_from_stored_data_renders_as_its_text(hostile: str) -> None:
    rendered = _MD.render(md(hostile))
    for tag in ("<a ", "<img", "<strong", "<em", "<code", "<s>", "<b>", "<h1", "<li", "<ol"):
        assert tag not in rendered, rendered
    assert "blockquote" not in rendered
    assert _links_in_text(rendered) == [], rendered


def test_14_chart_labels_carry_no_plotly_markup() -> None:
    assert chart_text('<a href="http://x">m</a><b>b</b>') == (
        '&lt;a href="http://x"&gt;m&lt;/a&gt;&lt;b&gt;b&lt;/b&gt;'
    )


def test_14_a_hostile_integration_name_on_the_page_is_escaped(
    store: Store, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    name = "![x](http://127.0.0.1:9/beacon.png)"
    store.add_integration(name, "local", {"paths": ["/nowhere"]})
    store.close()
    at = AppTest.from_file(str(ROOT / "pages" / "integrations.py"), default_timeout=60)
    monkeypatch.setenv("BEDROCK_EXPLORER_DB", str(db_path))  # not left for the next test
    at.run()
    assert not at.exception
    sources = [m.value for m in at.markdown]
    assert any(md(name) in s for s in sources)
    assert not any("<a " in _MD.render(s) or "<img" in _MD.render(s) for s in sources)
    assert not any(_links_in_text(_MD.render(s)) for s in sources)


def test_14_the_autolink_model_finds_what_remark_would_link() -> None:
    """The check above can fail: unescaped, each of these is a link."""
    for plain in ("see http://127.0.0.1:9/x", "www.example.com", "me@example.com"):
        assert _links_in_text(_MD.render(plain)), plain


# -- 15. input from links and the command line ----------------------------------------------


@pytest.mark.parametrize(
    ("params", "kept"),
    [
        ({"to": "9999-12-31"}, {}),
        ({"from": "0001-01-01", "tz": "Asia/Tokyo"}, {"tz": "Asia/Tokyo"}),  # the zone holds
        ({"tz": "posixrules", "granularity": "week"}, {"granularity": "week"}),
        ({"tz": "localtime", "models": "m1"}, {"models": ("m1",)}),
        ({"from": "yesterday"}, {}),
        ({"granularity": "fortnight", "tz": "Asia/Tokyo"}, {"tz": "Asia/Tokyo"}),
        ({"period": "last-fortnight", "regions": ["eu-west-1"]}, {"regions": ("eu-west-1",)}),
        ({"from": "2026-11-20", "to": "2026-11-02", "tz": "Europe/Paris"}, {"tz": "Europe/Paris"}),
    ],
)
def test_15_a_bad_part_of_a_link_falls_back_alone_and_says_why(
    params: dict[str, Any], kept: dict[str, Any]
) -> None:
    default = Filters(datetime(2026, 11, 1).date(), datetime(2026, 11, 30).date())
    problems: list[str] = []
    assert Filters.from_params(params, default, problems) == replace(default, **kept)
    assert len(problems) == 1 and "Traceback" not in problems[0], problems


def _cli(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bedrock_explorer", "--db", str(db), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [
        ("report", "--to", "9999-12-31"),
        ("report", "--from", "0001-01-01", "--tz", "Asia/Tokyo"),
        ("report", "--tz", "posixrules"),
        ("prices", "set", "amazon.nova-pro-v1:0", "--input", "NaN"),
        ("prices", "set", "amazon.nova-pro-v1:0", "--input", "-1"),
    ],
)
def test_15_the_cli_refuses_bad_values_in_one_line(args: tuple[str, ...], tmp_path: Path) -> None:
    done = _cli(*args, db=tmp_path / "x.duckdb")
    assert done.returncode in (1, 2)
    assert "Traceback" not in done.stderr
    assert len([x for x in done.stderr.splitlines() if x.startswith(("error", "python"))]) == 1


# -- 16. private files, hidden secrets ---------------------------------------------------------


def test_16_the_database_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "new" / "deeper" / "db.duckdb"
        with Store(path) as store:
            store.add_integration("x", "local", {})  # a write: the WAL exists now
            wal = path.with_name(path.name + ".wal")
            assert wal.exists()
            assert stat.S_IMODE(wal.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    finally:
        os.umask(old)


def test_16_a_looser_existing_file_is_warned_about(tmp_path: Path) -> None:
    path = tmp_path / "db.duckdb"
    Store(path).close()
    os.chmod(path, 0o644)
    with Store(path) as store:
        assert any("can be read by other users" in w and "chmod 600" in w for w in store.warnings)
    done = _cli("stats", db=path)
    assert "warning: the database file" in done.stderr


def test_16_the_external_id_is_never_printed(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    done = _cli(
        "integrations", "add", "prod", "--log-group", LOG_GROUP, "--region", "us-east-1",
        "--role-arn", "arn:aws:iam::123456789012:role/R", "--external-id", "S3cretExt1d",
        "--skip-test", "--json", db=db,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = _cli("integrations", "show", "prod", "--json", db=db)
    assert "S3cretExt1d" not in done.stdout + shown.stdout
    assert "(set, hidden)" in shown.stdout


# -- 17. a busy dashboard does not starve cron ---------------------------------------------


def test_17_a_cli_write_gets_in_while_a_tab_reloads_every_two_seconds(
    tmp_path: Path, db_path: Path
) -> None:
    Store(db_path).close()
    shared = SharedStore(db_path)
    stop = threading.Event()

    def reloading_tab() -> None:
        while not stop.is_set():
            with shared.session() as view:
                queries.overview_totals(view)
                stop.wait(0.3)  # a rerun's work
            stop.wait(1.7)

    tab = threading.Thread(target=reloading_tab, daemon=True)
    tab.start()
    try:
        (tmp_path / "a.jsonl").write_text(line(request_id="cron") + "\n")
        for _ in range(3):
            done = _cli("import", str(tmp_path / "a.jsonl"), "--integration", "cron", db=db_path)
            assert done.returncode == 0, done.stderr
    finally:
        stop.set()
        tab.join()
        shared.close()


# -- 18. a full disk -------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs (root only; skipped where mounting is not allowed)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_18_a_full_disk_is_one_sentence_and_leaves_no_empty_integration(
    tiny_disk: Path, tmp_path: Path
) -> None:
    logs = tmp_path / "big.jsonl"
    with logs.open("w") as out:
        for i in range(30_000):
            out.write(line(request_id=f"big-{i}", account_id=f"{i:012}") + "\n")
    db = tiny_disk / "db.duckdb"
    done = _cli("import", str(logs), "--integration", "big", db=db)
    assert done.returncode == 1
    lines = [x for x in done.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, done.stderr
    assert "is full" in lines[0] and str(tiny_disk) in lines[0] and "MB" in lines[0]
    assert "rollback" not in lines[0].lower()
    with Store(db, read_only=True) as store:
        assert store.find_integration("big") is None


# -- the invariant: every line is accounted for --------------------------------------------


def test_every_line_is_inserted_repeated_quarantined_or_blank(store: Store) -> None:
    lines = [
        line(request_id="a"),
        line(request_id="a"),
        "",
        "   ",
        "not json",
        _with(("timestamp",), "infinity"),
        *_multibyte_malformed_lines(),
        line(request_id="b"),
    ]
    integ = store.add_integration("x", "local", {})
    result = store.write_batch(integ.id, RawBatch("s", lines))
    assert (result.inserted, result.duplicates, result.quarantined, result.blank) == (2, 1, 6, 2)
    assert result.inserted + result.duplicates + result.quarantined + result.blank == len(lines)
    reasons = " ".join(r[2] for r in _quarantine(store))
    assert "CANARY" not in reasons and "日本" not in reasons


def test_2_3_rows_stored_before_the_range_checks_move_to_the_quarantine(db_path: Path) -> None:
    with Store(db_path) as store:
        integ = store.add_integration("old", "local", {})
        store.write_batch(integ.id, RawBatch("s", [line(request_id=f"ok{i}") for i in range(3)]))
        # What an older version stored: a huge count and a timestamp of 'infinity'.
        store.con.execute("UPDATE invocations SET input_tokens = 5e18 WHERE request_id = 'ok0'")
        store.con.execute("UPDATE invocations SET ts = 'infinity' WHERE request_id = 'ok1'")
        store.con.execute("DELETE FROM schema_version WHERE version >= 4")
    with Store(db_path) as store:
        assert queries.overview_totals(store)["invocations"] == 1
        assert _quarantine(store) == [
            ("stored before range checks", "ok0", "a token count over 1,000,000,000"),
            ("stored before range checks", "ok1", "timestamp outside 1990–2100"),
        ]


def test_8_damage_within_the_sniffed_head_keeps_what_came_before(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Damage met while the reader sniffs the first 4 KB loses no more than damage elsewhere
    (the call that meets it loses at most one inflate step; 1 KB here)."""
    from bedrock_explorer.sources import byte_stream

    monkeypatch.setattr(byte_stream, "_INFLATE_STEP", 1024)
    text, data = _gz_lines(4)
    assert len(text) < 4096
    (tmp_path / "small.jsonl.gz").write_bytes(data[:-8] + b"\0" * 8)  # a broken trailer
    summary = import_paths(store, [str(tmp_path)], "x")
    assert summary.inserted >= 2
    ((_, ref, reason),) = _quarantine(store)
    assert ref.startswith("after line ") and "checksum" in reason
