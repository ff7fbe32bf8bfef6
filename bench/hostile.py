"""Hostile-input benchmark: what gzip bombs, floods and many small files cost a whole import.

    python bench/hostile.py [--scale 1.0]

Builds each input under ``bench/out/hostile/`` (cached), then runs ``python -m bedrock_explorer
import`` on it in a fresh process and database, as a user would, and prints a table: the input's
size on disk and inflated, the exit code, wall seconds, peak RSS, and what was stored and
quarantined. ``--scale`` multiplies the sizes (0.25 for a quick look).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bedrock_explorer.synthetic import RecordSpec, make_line
from tests.import_probe import measure_import

OUT = ROOT / "bench" / "out" / "hostile"
MB = 1024 * 1024


def _line(n: int, body: str = "") -> str:
    from datetime import UTC, datetime, timedelta

    spec = RecordSpec(
        request_id=f"hostile-{n}",
        ts=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n),
        model_id="amazon.nova-lite-v1:0",
        padding=body,
    )
    return make_line(spec)


def _gzip(path: Path, pieces: Iterable[bytes]) -> int:
    """Write ``pieces`` gzip-compressed; returns the inflated size."""
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    inflated = 0
    with path.open("wb") as out:
        for piece in pieces:
            inflated += len(piece)
            out.write(packer.compress(piece))
        out.write(packer.flush())
    return inflated


def array_bomb(path: Path, scale: float) -> int:
    record = json.loads(_line(0))

    def pieces() -> Iterable[bytes]:
        yield b"["
        for i in range(int(1200 * scale)):
            big = dict(record, requestId=f"big-{i}")
            big["input"] = dict(record["input"], inputBodyJson="0" * MB)
            yield (b"," if i else b"") + json.dumps(big).encode()
        yield b"]"

    return _gzip(path, pieces())


def zeros_line(path: Path, scale: float) -> int:
    return _gzip(path, (b"0" * MB for _ in range(int(1024 * scale))))


def truncated(path: Path, scale: float) -> int:
    full = path.with_suffix(".full")
    size = _gzip(full, (_line(i, "0" * 4000).encode() + b"\n" for i in range(int(120_000 * scale))))
    data = full.read_bytes()
    path.write_bytes(data[: len(data) * 3 // 4])
    full.unlink()
    return size * 3 // 4


def blank_flood(path: Path, scale: float) -> int:
    return _gzip(path, (b"\n" * MB for _ in range(max(1, int(4 * scale)))))


def deep_nesting(path: Path, scale: float) -> int:
    text = "[" * 100_000 + "]" * 100_000 + "\n" + _line(1) + "\n"
    path.write_text(text)
    return len(text)


def many_files(path: Path, scale: float) -> int:
    path.mkdir(exist_ok=True)
    count = int(20_000 * scale)
    for i in range(count):
        lines = "".join(_line(i * 5 + k) + "\n" for k in range(5))
        (path / f"f{i:05}.jsonl").write_text(lines)
    return sum(f.stat().st_size for f in path.iterdir())


CASES: list[tuple[str, str, Callable[[Path, float], int]]] = [
    ("JSON array of 1 MB records", "array.json.gz", array_bomb),
    ("1 GB line without a newline", "zeros.jsonl.gz", zeros_line),
    ("truncated large gzip", "truncated.jsonl.gz", truncated),
    ("blank-line flood", "blank.jsonl.gz", blank_flood),
    ("JSON nested 100,000 deep", "deep.jsonl", deep_nesting),
    ("20,000 small files", "many", many_files),
]


def _disk_size(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.iterdir())
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    print(
        f"machine: {platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores, "
        f"Python {platform.python_version()}; scale {args.scale}"
    )
    print(
        "| input | on disk | inflated | exit | seconds | peak RSS | stored | quarantined |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    for label, name, build in CASES:
        path = OUT / f"{args.scale}-{name}"
        marker = path.with_name(path.name + ".size")
        if not marker.exists():
            started = time.monotonic()
            marker.write_text(str(build(path, args.scale)))
            print(f"(built {name} in {time.monotonic() - started:.0f} s)", file=sys.stderr)
        inflated = int(marker.read_text())
        db = OUT / "bench.duckdb"
        for stale in OUT.glob("bench.duckdb*"):
            stale.unlink()
        runs = [label, f"{label}, again (unchanged)"] if path.is_dir() else [label]
        for shown in runs:
            result = measure_import(path, db)
            stored = quarantined = "?"
            text = str(result["stdout"])
            if "new invocations" in text:
                stored = text.split(" new invocations")[0].split()[-1]
                quarantined = text.split(" malformed lines")[0].split()[-1]
            seconds = float(result["seconds"])  # type: ignore[arg-type]
            rss = int(result["rss"]) / MB  # type: ignore[call-overload]
            print(
                f"| {shown} | {_disk_size(path) / MB:,.1f} MB | {inflated / MB:,.0f} MB "
                f"| {result['code']} | {seconds:.1f} | {rss:,.0f} MB | {stored} | {quarantined} |"
            )


if __name__ == "__main__":
    main()
