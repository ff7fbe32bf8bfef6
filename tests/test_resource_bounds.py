"""Gzip bombs and floods stay within the stated bounds: peak RSS and a time limit.

Each import runs as the CLI in its own process (what a user runs), started by a small wrapper
that reports the child's peak resident memory. The bound is the README's: 1.5 GB plus twice
the largest record; every input here inflates to more than the old code needed to exceed it.
The time limit is a hang guard (a subprocess timeout), not a speed measurement.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from pathlib import Path

from tests.conftest import line
from tests.import_probe import measure_import

MB = 1024 * 1024
RSS_BOUND = 1536 * MB  # README: "peak RSS within 1.5 GB plus twice the largest record"


def _gzip(path: Path, pieces: Iterable[bytes]) -> Path:
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    with path.open("wb") as out:
        for piece in pieces:
            out.write(packer.compress(piece))
        out.write(packer.flush())
    return path


def _import(path: Path, db: Path, timeout: float) -> tuple[int, int, str]:
    """(exit code, peak RSS in bytes, stderr) of ``import PATH`` as a whole process."""
    result = measure_import(path, db, timeout)
    return result["code"], result["rss"], result["stderr"]


def _array_of_big_records(count: int, body_bytes: int) -> Iterable[bytes]:
    record = json.loads(line(request_id="r"))
    yield b"["
    for i in range(count):
        big = dict(record, requestId=f"big-{i}")
        big["input"] = dict(record["input"], inputBodyJson="0" * body_bytes)
        yield (b"," if i else b"") + json.dumps(big).encode()
    yield b"]"


def test_a_json_array_bomb_is_read_a_record_at_a_time(tmp_path: Path) -> None:
    """600 MB inflated from ~3 MB; the old reader held the document three times over."""
    bomb = _gzip(tmp_path / "array.json.gz", _array_of_big_records(600, MB))
    assert bomb.stat().st_size < 8 * MB
    code, rss, err = _import(bomb, tmp_path / "db.duckdb", timeout=300)
    assert code == 0, err
    assert rss < RSS_BOUND + 2 * MB, f"peak RSS {rss / MB:.0f} MB"


def test_a_gigabyte_line_without_a_newline_is_cut_out(tmp_path: Path) -> None:
    bomb = _gzip(tmp_path / "zeros.jsonl.gz", (b"0" * MB for _ in range(1024)))
    code, rss, err = _import(bomb, tmp_path / "db.duckdb", timeout=300)
    assert code == 0, err
    assert rss < RSS_BOUND, f"peak RSS {rss / MB:.0f} MB"


def test_a_truncated_large_gzip_is_salvaged_by_streaming(tmp_path: Path) -> None:
    full = _gzip(
        tmp_path / "full.gz",
        (line(request_id=f"t{i}", padding="0" * 4000).encode() + b"\n" for i in range(60_000)),
    )
    data = full.read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) * 3 // 4])
    code, rss, err = _import(cut, tmp_path / "db.duckdb", timeout=300)
    assert code == 0, err
    assert rss < RSS_BOUND, f"peak RSS {rss / MB:.0f} MB"


def test_a_flood_of_blank_lines_goes_at_splitting_speed(tmp_path: Path) -> None:
    """4 MB of blank lines (a few KB of gzip) took 85 s; the limit here is 60 s, whole process."""
    bomb = _gzip(tmp_path / "blank.jsonl.gz", (b"\n" * MB for _ in range(4)))
    assert bomb.stat().st_size < 64 * 1024
    code, rss, err = _import(bomb, tmp_path / "db.duckdb", timeout=60)
    assert code == 0, err
    assert rss < RSS_BOUND
