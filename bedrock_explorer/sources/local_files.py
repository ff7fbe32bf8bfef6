"""Invocation logs from files and folders on disk.

Accepted, each file sniffed on its own (extensions only decide what a folder walk picks up):

* NDJSON — one record a line, plain or gzip (``.jsonl``, ``.ndjson``, ``.json``, ``.log``,
  ``.txt`` and the same with ``.gz``), as CloudWatch holds them and S3 delivers them;
* an S3 delivery tree copied to disk
  (``AWSLogs/<acct>/BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/*.json.gz``): the ``data/``
  folders (offloaded bodies, i.e. prompt text) and the ``amazon-bedrock-logs-permission-check``
  marker are skipped, never read;
* CloudWatch export-task files (``<ISO timestamp> <json>`` per line, gzip ``000000.gz``);
* the JSON printed by ``aws logs filter-log-events`` (``{"events": [{"message": …}]}``), the
  locator then being the log stream and event id;
* a JSON array of records.

Why the reader is chunked bytes rather than ``for line in file``: a gzip member is inflated in big
blocks (zlib releases the GIL, so this overlaps with DuckDB parsing the previous batch), and the
split into lines is one C call per block.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa
from isal import igzip

from bedrock_explorer.errors import SourceError
from bedrock_explorer.raw import RawBatch

LOG_SUFFIXES = (".jsonl", ".ndjson", ".json", ".log", ".txt")
S3_LAYOUT_MARKER = "BedrockModelInvocationLogs"
PERMISSION_CHECK_MARKER = "amazon-bedrock-logs-permission-check"
#: Lines per batch a file yields; the writer joins batches into row-group-sized transactions.
DEFAULT_BATCH_LINES = 8_192
_READ_BLOCK = 4 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class LogFile:
    """A file to import, with what identifies its content for skip-if-unchanged."""

    path: Path
    size: int
    mtime_ns: int

    @property
    def fingerprint(self) -> str:
        return f"{self.size}:{self.mtime_ns}"

    @property
    def checkpoint_key(self) -> str:
        return f"file:{self.path}"


def _wanted_file(path: Path) -> bool:
    name = path.name.lower()
    if name.startswith(".") or PERMISSION_CHECK_MARKER in name:
        return False
    if name.endswith(".gz"):
        return True
    return name.endswith(LOG_SUFFIXES)


def discover(paths: Iterable[str | os.PathLike[str]]) -> list[LogFile]:
    """Expand files and folders (recursively) into the sorted list of log files to read."""
    found: dict[Path, LogFile] = {}
    for given in paths:
        root = Path(given).expanduser()
        if not root.exists():
            raise SourceError(f"No such file or folder: {root}", "check the path you gave")
        if root.is_file():
            candidates: Iterable[Path] = [root]
        else:
            candidates = _walk(root)
        for path in candidates:
            stat = path.stat()
            resolved = path.resolve()
            found[resolved] = LogFile(resolved, stat.st_size, stat.st_mtime_ns)
    return [found[p] for p in sorted(found)]


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        in_s3_layout = S3_LAYOUT_MARKER in here.parts
        # ``data/`` inside the delivery layout holds offloaded request/response bodies.
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and not (in_s3_layout and d == "data")
        )
        for name in sorted(filenames):
            path = here / name
            if _wanted_file(path):
                yield path


def _open_bytes(path: Path) -> tuple[IO[bytes], IO[bytes]]:
    """(reader of the content, the raw file whose position measures progress).

    gzip is inflated with ISA-L (``isal``), about 3x faster than zlib here: inflating is a third of
    an import's CPU time otherwise.
    """
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
    head = raw.read(2)
    raw.seek(0)
    if head == _GZIP_MAGIC:
        return igzip.IGzipFile(fileobj=raw, mode="rb"), raw  # type: ignore[return-value]
    return raw, raw


def _decode(block: bytes) -> str:
    # A non-UTF-8 byte can only sit inside a string value (prompt text): replacing it keeps the
    # record's metadata; a damaged structure still fails to parse and is quarantined.
    return block.decode("utf-8", errors="replace")


def read_file(log_file: LogFile, batch_lines: int = DEFAULT_BATCH_LINES) -> Iterator[RawBatch]:
    """Yield batches of raw record lines from one file, whatever its format.

    The last batch carries the file's fingerprint as a checkpoint, so a file is marked done only
    once all its lines are stored. A file that cannot be read to its end (truncated gzip,
    permission denied) does not stop an import: what could be read is imported and the problem
    is quarantined with the file as its locator.
    """
    path = log_file.path
    progress = _Progress()
    try:
        reader, raw = _open_bytes(path)
    except OSError as err:
        yield _problem(log_file, "file", f"file could not be opened ({err.strerror or err})")
        return
    try:
        first = reader.read(4096)
        stripped = first.lstrip()
        if stripped[:1] == b"[" or _looks_like_filter_log_events(stripped):
            yield from _read_whole_document(str(path), first + reader.read(), log_file)
        else:
            yield from _read_lines(str(path), reader, raw, first, log_file, batch_lines, progress)
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as err:
        damaged = isinstance(err, (EOFError, gzip.BadGzipFile, zlib.error))
        if damaged:
            yield from _salvage_gzip(log_file, progress)
        reason = (
            "file ends early (truncated or damaged gzip): the lines before were imported, "
            "the rest is missing"
            if damaged
            else f"file could not be read to its end ({err})"
        )
        yield _problem(log_file, f"after line {progress.lines}", reason)
    finally:
        reader.close()
        raw.close()


def ndjson_compression(log_file: LogFile) -> str | None:
    """``"gzip"`` or ``"none"`` when the file looks like plain NDJSON records, else ``None``.

    Such files may be read by DuckDB itself (``store.write_files``), which is much faster; the
    other formats (export-task lines, ``filter-log-events`` output, JSON arrays) need this module.
    Looking is cheap (the first 4 KB) and only a hint: if DuckDB then meets a line it cannot read,
    the importer falls back to :func:`read_file` for that file.
    """
    try:
        reader, raw = _open_bytes(log_file.path)
    except OSError:
        return None
    try:
        head = reader.read(4096).lstrip()
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error):
        return None
    finally:
        reader.close()
        raw.close()
    if not head.startswith(b"{") or _looks_like_filter_log_events(head):
        return None
    return "gzip" if reader is not raw else "none"


def _salvage_gzip(log_file: LogFile, progress: _Progress) -> Iterator[RawBatch]:
    """The whole lines a damaged gzip file still holds, after those already handed on.

    A streaming inflater gives up the data it decoded before the damage; ``gzip`` / ``igzip``
    readers raise instead and drop the last block, so a failure falls back to this slow path.
    """
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(log_file.path.read_bytes())
    except zlib.error:
        return
    cut = data.rfind(b"\n")
    if cut < 0:
        return
    lines = _decode(data[:cut]).split("\n")[progress.lines :]
    if lines:
        first = progress.lines + 1
        progress.lines += len(lines)
        yield RawBatch(str(log_file.path), lines, first_line=first)


class _Progress:
    """How many lines of the current file were handed on (the locator of a late failure)."""

    def __init__(self) -> None:
        self.lines = 0


def _problem(log_file: LogFile, ref: str, reason: str) -> RawBatch:
    return RawBatch(
        str(log_file.path),
        [],
        problems=[(ref, reason)],
        checkpoints={log_file.checkpoint_key: log_file.fingerprint},
        nbytes=0,
    )


def _looks_like_filter_log_events(head: bytes) -> bool:
    """``aws logs filter-log-events`` output starts with an ``"events"`` key (pretty or compact)."""
    if not head.startswith(b"{"):
        return False
    key = head[1:200].lstrip()
    return key.startswith(b'"events"') or key.startswith(b'"searchedLogStreams"')


def _whole_line_blocks(reader: IO[bytes], first: bytes) -> Iterator[memoryview]:
    """Blocks of whole lines, a big block at a time (a final line may lack its newline).

    Each block is a fresh buffer that the caller's Arrow arrays may keep referencing; the partial
    line at its end is copied to the front of the next one (a few KB), nothing else is copied.
    """
    carry = first
    while True:
        buf = bytearray(len(carry) + _READ_BLOCK)
        buf[: len(carry)] = carry
        got = reader.readinto(memoryview(buf)[len(carry) :])  # type: ignore[attr-defined]
        end = len(carry) + (got or 0)
        if not got:
            if end:
                buf[end : end + 1] = b"\n"
                yield memoryview(buf)[: end + 1]
            return
        cut = buf.rfind(b"\n", 0, end)
        if cut < 0:
            carry = bytes(buf[:end])
            continue
        carry = bytes(buf[cut + 1 : end])
        yield memoryview(buf)[: cut + 1]


def lines_array(block: memoryview | bytes) -> pa.Array:
    """The lines of a block as an Arrow string array, without making a Python string per line.

    Each element keeps its trailing newline (JSON ignores it). Bytes that are not UTF-8 can only
    sit inside string values (prompt text); such a block is decoded with replacement characters,
    so the record's metadata survives and a damaged structure is quarantined by the parser.
    """
    ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
    offsets = np.empty(len(ends) + 1, dtype=np.int64)
    offsets[0] = 0
    offsets[1:] = ends + 1
    lines = pa.LargeStringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(block))
    try:
        lines.validate(full=True)
    except pa.ArrowInvalid:
        return lines_array(_decode(bytes(block)).encode("utf-8"))
    return lines


def _read_lines(
    source: str,
    reader: IO[bytes],
    raw: IO[bytes],
    first: bytes,
    log_file: LogFile,
    batch_lines: int,
    progress: _Progress,
) -> Iterator[RawBatch]:
    export_format = _is_export_format(first)
    pending: list[pa.Array] = []
    pending_count = 0
    first_line = next_line = 1
    reported = 0

    def flush(checkpoints: dict[str, str], nbytes: int) -> RawBatch:
        progress.lines = next_line - 1
        return RawBatch(
            source,
            pa.chunked_array(pending, type=pa.large_string()),
            first_line=first_line,
            checkpoints=checkpoints,
            nbytes=nbytes,
        )

    try:
        for block in _whole_line_blocks(reader, first):
            if export_format:
                lines = pa.array(
                    [_strip_export_prefix(x) for x in _decode(bytes(block)).split("\n")[:-1]],
                    type=pa.large_string(),
                )
            else:
                lines = lines_array(block)
            if not pending:
                first_line = next_line
            pending.append(lines)
            pending_count += len(lines)
            next_line += len(lines)
            if pending_count >= batch_lines:
                position = raw.tell()
                yield flush({}, position - reported)
                reported = position
                pending, pending_count = [], 0
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error):
        if pending:
            yield flush({}, 0)
        raise
    yield flush({log_file.checkpoint_key: log_file.fingerprint}, log_file.size - reported)


def _is_export_format(head: bytes) -> bool:
    """CloudWatch export-task lines start with an ISO timestamp, records with ``{``."""
    return head.lstrip()[:1].isdigit()


def _strip_export_prefix(line: str) -> str:
    """``2024-05-01T10:00:00.000Z {json}`` → ``{json}``."""
    space = line.find(" ")
    return line[space + 1 :] if space > 0 and line[:1].isdigit() else line


def _read_whole_document(source: str, data: bytes, log_file: LogFile) -> Iterator[RawBatch]:
    try:
        doc = json.loads(_decode(data))
    except json.JSONDecodeError:
        # Not one document after all (e.g. NDJSON whose first record starts with "events"):
        # fall back to lines, where each bad line is quarantined on its own.
        lines = _decode(data).split("\n")
        yield RawBatch(
            source,
            lines,
            checkpoints={log_file.checkpoint_key: log_file.fingerprint},
            nbytes=log_file.size,
        )
        return
    checkpoints = {log_file.checkpoint_key: log_file.fingerprint}
    if isinstance(doc, list):
        lines = [json.dumps(item) if not isinstance(item, str) else item for item in doc]
        refs = [f"item {i}" for i in range(1, len(lines) + 1)]
        yield RawBatch(source, lines, refs=refs, checkpoints=checkpoints, nbytes=log_file.size)
        return
    if isinstance(doc, dict) and isinstance(doc.get("events"), list):
        lines, refs = [], []
        for i, event in enumerate(doc["events"], start=1):
            event = event if isinstance(event, dict) else {}
            message = event.get("message")
            # An event without a text message is still a line we were given: "null" makes the
            # parser quarantine it ("not a JSON object") instead of dropping it unseen.
            lines.append(message if isinstance(message, str) else "null")
            stream = event.get("logStreamName", "?")
            refs.append(f"{stream}/{event.get('eventId', f'event {i}')}")
        yield RawBatch(source, lines, refs=refs, checkpoints=checkpoints, nbytes=log_file.size)
        return
    # A single record written as one (possibly pretty-printed) JSON object.
    yield RawBatch(
        source, [json.dumps(doc)], refs=["document"], checkpoints=checkpoints, nbytes=log_file.size
    )
