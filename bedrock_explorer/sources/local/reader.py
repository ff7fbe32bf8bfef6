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

Hostile files cost only themselves (``byte_stream``, ``documents``): only regular files are read
(a FIFO, a device or a broken or looping link is listed as skipped, with the reason), memory is
bounded by a constant plus the largest record, damage keeps what came before it, and nothing
that could not be read is marked done, so the next import tries it again.
"""

from __future__ import annotations

import codecs
import errno
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from bedrock_explorer.errors import SourceError
from bedrock_explorer.raw import MAX_BATCH_BYTES, RawBatch
from bedrock_explorer.sources import byte_stream, documents
from bedrock_explorer.sources.byte_stream import DamagedInput

LOG_SUFFIXES = (".jsonl", ".ndjson", ".json", ".log", ".txt")
S3_LAYOUT_MARKER = "BedrockModelInvocationLogs"
PERMISSION_CHECK_MARKER = "amazon-bedrock-logs-permission-check"
#: Lines per batch a file yields; the writer joins batches into row-group-sized transactions.
DEFAULT_BATCH_LINES = 8_192
_GZIP_MAGIC = byte_stream.GZIP_MAGIC
#: The locator of a whole file or folder that could not be read (not one of its lines). Such a
#: problem is not a verdict on the content: it is forgotten when the next import starts, which
#: tries that file again and quarantines it again only if it still cannot be read.
FILE_REF = "file"
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


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


@dataclass
class Discovery:
    """What a walk found: the files to read, and what it would not read, with the reason."""

    files: list[LogFile] = field(default_factory=list)
    #: (path, reason): a broken or looping link, a FIFO or device, an unreadable folder.
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def discover(paths: Iterable[str | os.PathLike[str]]) -> Discovery:
    """Expand files and folders (recursively) into the sorted list of log files to read.

    Only regular files are read. A symbolic link to a regular file inside the walked folder is
    followed (a file reached twice is read once); any other link, a FIFO, a device or a socket is
    skipped with the reason, and so is a folder that cannot be listed — nothing is passed over
    unseen, and nothing in the walk can block or loop.
    """
    found: dict[Path, LogFile] = {}
    skipped: list[tuple[Path, str]] = []
    for given in paths:
        root = Path(given).expanduser()
        if not os.path.lexists(root):
            raise SourceError(f"No such file or folder: {root}", "check the path you gave")
        try:
            is_dir = root.is_dir()
        except OSError:
            is_dir = False
        if not is_dir:
            _consider(root, None, found, skipped)
            continue
        for path in _walk(root, skipped):
            _consider(path, root.resolve(), found, skipped)
    return Discovery([found[p] for p in sorted(found)], skipped)


def _consider(
    path: Path, inside: Path | None, found: dict[Path, LogFile], skipped: list[tuple[Path, str]]
) -> None:
    """Add ``path`` to ``found`` if it is a regular file to read; else say why in ``skipped``."""
    try:
        resolved = path.resolve(strict=True)
        info = os.stat(resolved)
    except (OSError, RuntimeError) as err:
        looping = isinstance(err, RuntimeError) or getattr(err, "errno", None) == errno.ELOOP
        reason = (
            "symbolic link that loops"
            if looping
            else "broken symbolic link"
            if path.is_symlink()
            else f"could not be examined ({getattr(err, 'strerror', None) or err})"
        )
        skipped.append((path, reason))
        return
    if not stat.S_ISREG(info.st_mode):
        skipped.append((path, f"not a regular file ({_file_type(info.st_mode)})"))
        return
    if inside is not None and path.is_symlink() and not resolved.is_relative_to(inside):
        skipped.append((path, "symbolic link to a file outside the folder being imported"))
        return
    found[resolved] = LogFile(resolved, info.st_size, info.st_mtime_ns)


def _file_type(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return name
    return "not a file"


def _walk(root: Path, skipped: list[tuple[Path, str]]) -> Iterator[Path]:
    def unreadable(err: OSError) -> None:
        where = Path(err.filename) if err.filename else root
        skipped.append((where, f"folder could not be read ({err.strerror or err})"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable):
        here = Path(dirpath)
        in_s3_layout = S3_LAYOUT_MARKER in here.parts
        # ``data/`` inside the delivery layout holds offloaded request/response bodies.
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and not (in_s3_layout and d == "data")
        )
        for name in list(dirnames):
            if (here / name).is_symlink():
                dirnames.remove(name)  # never walked: a link may lead anywhere, or in a circle
                skipped.append((here / name, "symbolic link to a folder (not followed)"))
        for name in sorted(filenames):
            path = here / name
            if _wanted_file(path):
                yield path


class _Unreadable(Exception):
    """The file could not be opened as a regular file; ``reason`` says why."""


def _open_regular(path: Path) -> int:
    """A file descriptor for ``path``, refusing anything but a regular file without blocking.

    ``O_NONBLOCK`` makes opening a FIFO return at once instead of waiting for a writer, and the
    type is checked on the open descriptor, so a file swapped for a FIFO after the walk is still
    refused.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise _Unreadable(f"file could not be opened ({err.strerror or err})") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise _Unreadable(f"not a regular file ({_file_type(info.st_mode)})")
    return fd


def _counted(chunks: Iterator[bytes], progress: _Progress) -> Iterator[bytes]:
    for chunk in chunks:
        progress.raw_bytes += len(chunk)
        yield chunk


def _utf8_chunks(path: Path, progress: _Progress) -> Iterator[bytes]:
    """The file's content as UTF-8 bytes: gunzipped, transcoded, line ends made ``\n``.

    Raises :class:`_Unreadable` before yielding anything if the file cannot be opened, and
    :class:`DamagedInput` (or ``OSError``) where reading stops.
    """
    fd = _open_regular(path)
    with os.fdopen(fd, "rb", buffering=0) as raw:
        chunks: Iterator[bytes] = _counted(byte_stream.file_blocks(raw), progress)
        first = next(chunks, b"")
        head: Iterator[bytes] = iter([first]) if first else iter(())

        def all_chunks() -> Iterator[bytes]:
            yield from head
            yield from chunks

        stream = all_chunks()
        if first.startswith(_GZIP_MAGIC):
            stream = byte_stream.inflate(stream)
        yield from byte_stream.to_utf8(stream)


def _sniff(chunks: Iterator[bytes]) -> tuple[bytes, Iterator[bytes]]:
    """The first bytes (at least 4 KB, or all there is) and an iterator over the whole stream.

    Damage met while sniffing is raised by the iterator *after* the bytes decoded before it, so
    a small damaged file keeps its readable lines like a large one.
    """
    first = b""
    damage: DamagedInput | None = None
    try:
        for chunk in chunks:
            first += chunk
            if len(first) >= 4096:
                break
    except DamagedInput as err:
        damage = err

    def again() -> Iterator[bytes]:
        if first:
            yield first
        if damage is not None:
            raise damage
        yield from chunks

    return first, again()


def read_file(log_file: LogFile, batch_lines: int = DEFAULT_BATCH_LINES) -> Iterator[RawBatch]:
    """Yield batches of raw record lines from one file, whatever its format.

    The last batch carries the file's fingerprint as a checkpoint, so a file is marked done only
    once all its lines are stored. A file that cannot be read to its end (damaged gzip, a JSON
    document that stops being JSON) does not stop an import: what could be read is imported and
    the problem is quarantined with its place. A file that cannot be opened at all is
    quarantined *without* a checkpoint, so the next import tries it again.
    """
    path = log_file.path
    progress = _Progress()
    try:
        first, stream = _sniff(_utf8_chunks(path, progress))
    except _Unreadable as err:
        yield _problem(log_file, FILE_REF, str(err), checkpoint=False)
        return
    except OSError as err:
        reason = f"file could not be read ({err.strerror or err})"
        yield _problem(log_file, FILE_REF, reason, checkpoint=False)
        return
    try:
        stripped = first.lstrip()
        if _is_document(stripped):
            yield from _read_document(str(path), stream, log_file, batch_lines, progress)
        else:
            yield from _read_lines(str(path), stream, first, log_file, batch_lines, progress)
    except DamagedInput as err:
        where = f"after line {progress.lines}" if not progress.items else f"after {progress.where}"
        # Bytes after the data's end lose nothing: then the reason says only that.
        reason = (
            f"{err.reason}: the {progress.count} before were read, the rest is missing"
            if err.rest_missing
            else err.reason
        )
        yield _problem(log_file, where, reason, checkpoint=True)
    except OSError as err:
        yield _problem(
            log_file,
            f"after line {progress.lines}",
            f"file could not be read to its end ({err.strerror or err})",
            checkpoint=False,
        )


def _is_document(head: bytes) -> bool:
    """A JSON document (array, ``filter-log-events`` output, a pretty-printed or several
    concatenated objects) rather than one record per line."""
    if head[:1] == b"[" or _looks_like_filter_log_events(head):
        return True
    if head[:1] != b"{":
        return False
    # NDJSON: the first line is a whole JSON value by itself. A pretty-printed record's first
    # line ("{") is not. A first line longer than the sniffed head counts as NDJSON.
    end = head.find(b"\n")
    if end < 0:
        return False
    first_line = head[:end].strip()
    return first_line == b"{" or first_line.endswith((b",", b"{", b"[", b":"))


def ndjson_compression(log_file: LogFile) -> str | None:
    """``"gzip"`` or ``"none"`` when the file looks like plain NDJSON records, else ``None``.

    Such files may be read by DuckDB itself (``store.write_files``), which is much faster; the
    other formats (export-task lines, documents, UTF-16, a byte-order mark, CR line ends) need
    this module. Looking is cheap (the first 4 KB) and only a hint: if DuckDB then meets a line
    it cannot read, the importer falls back to :func:`read_file` for that file. DuckDB's reader
    ignores a damaged gzip checksum, so the importer also runs :func:`gzip_sound` on such files
    while DuckDB reads them.
    """
    try:
        fd = _open_regular(log_file.path)
    except _Unreadable:
        return None
    with os.fdopen(fd, "rb", buffering=0) as raw:
        head = raw.read(4096)
        gz = head.startswith(_GZIP_MAGIC)
        if gz:
            raw.seek(0)
            try:
                text = next(byte_stream.inflate(byte_stream.file_blocks(raw, 65536)), b"")[:4096]
            except DamagedInput:
                return None
        else:
            text = head
    # A byte-order mark, UTF-16 or CR-only line ends: DuckDB's reader would refuse the file.
    if text.startswith(_BOMS) or b"\x00" in text[:64] or (b"\r" in text and b"\n" not in text):
        return None
    stripped = text.lstrip()
    if not stripped.startswith(b"{") or _is_document(stripped):
        return None
    return "gzip" if gz else "none"


def gzip_sound(files: list[LogFile]) -> bool:
    """Every one of these gzip files inflates to its end with matching checksums."""
    for log_file in files:
        try:
            fd = _open_regular(log_file.path)
        except _Unreadable:
            return False
        with os.fdopen(fd, "rb", buffering=0) as raw:
            if byte_stream.gzip_damage(raw) is not None:
                return False
    return True


class _Progress:
    """Where in the current file reading has got (the locator and wording of a late failure)."""

    def __init__(self) -> None:
        self.lines = 0
        self.items = 0
        self.where = ""
        #: Bytes of the file (as stored, compressed or not) read so far, and reported so far.
        self.raw_bytes = 0
        self.reported = 0

    def take_bytes(self) -> int:
        """Bytes read since the last call: what a batch accounts for in a progress bar."""
        got, self.reported = self.raw_bytes - self.reported, self.raw_bytes
        return got

    @property
    def count(self) -> str:
        if self.items:
            return f"{self.items:,} records"
        return f"{self.lines:,} lines"


def _problem(log_file: LogFile, ref: str, reason: str, *, checkpoint: bool = True) -> RawBatch:
    return RawBatch(
        str(log_file.path),
        [],
        problems=[(ref, reason)],
        checkpoints={log_file.checkpoint_key: log_file.fingerprint} if checkpoint else {},
        nbytes=0,
    )


def _looks_like_filter_log_events(head: bytes) -> bool:
    """``aws logs filter-log-events`` output starts with an ``"events"`` key (pretty or compact)."""
    if not head.startswith(b"{"):
        return False
    key = head[1:200].lstrip()
    return key.startswith(b'"events"') or key.startswith(b'"searchedLogStreams"')


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


def _decode(block: bytes) -> str:
    # A non-UTF-8 byte can only sit inside a string value (prompt text): replacing it keeps the
    # record's metadata; a damaged structure still fails to parse and is quarantined.
    return block.decode("utf-8", errors="replace")


def _read_lines(
    source: str,
    stream: Iterator[bytes],
    first: bytes,
    log_file: LogFile,
    batch_lines: int,
    progress: _Progress,
) -> Iterator[RawBatch]:
    export_format = _is_export_format(first)
    pending: list[pa.Array] = []
    pending_count = 0
    pending_bytes = 0
    problems: list[tuple[str, str]] = []
    first_line = next_line = 1

    def flush(checkpoints: dict[str, str]) -> RawBatch:
        progress.lines = next_line - 1
        return RawBatch(
            source,
            pa.chunked_array(pending, type=pa.large_string()),
            first_line=first_line,
            checkpoints=checkpoints,
            nbytes=progress.take_bytes(),
            problems=list(problems),
        )

    try:
        for block in byte_stream.line_blocks(stream):
            if block.too_long:
                # Stands in for its line, so the numbering of the lines after stays right.
                if pending:
                    yield flush({})
                    pending, pending_count, pending_bytes, problems = [], 0, 0, []
                problems.append(
                    (
                        str(next_line),
                        f"line longer than {byte_stream.MAX_RECORD_BYTES // 2**20} MB "
                        "(too large to be a record)",
                    )
                )
                next_line += block.too_long
                first_line = next_line
                continue
            if export_format:
                lines = pa.array(
                    [_strip_export_prefix(x) for x in _decode(bytes(block.lines)).split("\n")[:-1]],
                    type=pa.large_string(),
                )
            else:
                lines = lines_array(block.lines)
            if not pending:
                first_line = next_line
            pending.append(lines)
            pending_count += len(lines)
            pending_bytes += len(block.lines)
            next_line += len(lines)
            if pending_count >= batch_lines or pending_bytes >= MAX_BATCH_BYTES:
                yield flush({})
                pending, pending_count, pending_bytes, problems = [], 0, 0, []
    except (DamagedInput, OSError):
        if pending or problems:
            yield flush({})
        raise
    yield flush({log_file.checkpoint_key: log_file.fingerprint})


def _is_export_format(head: bytes) -> bool:
    """CloudWatch export-task lines start with an ISO timestamp, records with ``{``."""
    return head.lstrip()[:1].isdigit()


def _strip_export_prefix(line: str) -> str:
    """``2024-05-01T10:00:00.000Z {json}`` → ``{json}``."""
    space = line.find(" ")
    return line[space + 1 :] if space > 0 and line[:1].isdigit() else line


def _read_document(
    source: str,
    stream: Iterator[bytes],
    log_file: LogFile,
    batch_lines: int,
    progress: _Progress,
) -> Iterator[RawBatch]:
    """The records of a JSON document, streamed (see ``documents``), ``batch_lines`` a batch."""
    lines: list[str] = []
    refs: list[str] = []
    problems: list[tuple[str, str]] = []
    size = 0

    def flush(checkpoints: dict[str, str]) -> RawBatch:
        nonlocal size
        size = 0
        batch = RawBatch(
            source,
            list(lines),
            refs=list(refs),
            checkpoints=checkpoints,
            problems=list(problems),
            nbytes=progress.take_bytes(),
        )
        lines.clear()
        refs.clear()
        problems.clear()
        return batch

    try:
        for item in documents.items(stream):
            progress.items += 1
            progress.where = item.ref
            if item.line is None:
                problems.append((item.ref, item.problem or "unreadable record"))
            else:
                lines.append(item.line)
                refs.append(item.ref)
                size += len(item.line)
            if len(lines) + len(problems) >= batch_lines or size >= MAX_BATCH_BYTES:
                yield flush({})
    except DamagedInput:
        if lines or problems:
            yield flush({})
        raise
    yield flush({log_file.checkpoint_key: log_file.fingerprint})
