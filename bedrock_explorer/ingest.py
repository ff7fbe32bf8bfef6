"""Move batches of raw lines from any source into the store, with progress and a summary.

Why a prefetch thread: reading a source (inflating gzip, an HTTP page from AWS) and parsing in
DuckDB both release the GIL, so on a 2-core machine running them side by side nearly halves the wall
time of an import. At most two batches exist at once (see :func:`prefetch`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

from bedrock_explorer.errors import UserFacingError, safe_reason
from bedrock_explorer.raw import MAX_BATCH_BYTES, BatchResult, RawBatch, text_bytes
from bedrock_explorer.sources.local import reader as local_files
from bedrock_explorer.store import Integration, Store

T = TypeVar("T")

#: Input bytes (on disk) of local NDJSON files that DuckDB reads in one transaction: a progress
#: step every few seconds, and little to redo line by line if one of them holds a bad line.
FILE_GROUP_BYTES = 64 * 1024 * 1024
#: ...and at most this many files: DuckDB's reader keeps buffers per file of a statement, so
#: 20,000 small files in one group peaked at 4.3 GB.
FILE_GROUP_FILES = 256

#: Checks gzip files beside DuckDB reading them (see ``_import_files``).
_CHECKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bedrock-explorer-gzip-check")

#: Lines written per transaction: one DuckDB row group (122,880 rows), the smallest insert DuckDB
#: writes straight to the file instead of through its WAL.
BATCH_LINES = 122_880


@dataclass(frozen=True)
class Progress:
    """One progress report: ``done`` of ``total`` ``unit`` (total may be unknown)."""

    done: int
    total: int | None
    unit: str
    message: str
    #: A second line for the user, e.g. "12,345 events fetched".
    detail: str = ""
    #: Events (CloudWatch) or objects (S3) read so far, and new invocations stored so far, for
    #: the dashboard's live rate and ETA (``None``: not a sync).
    read: int | None = None
    stored: int | None = None


ProgressCallback = Callable[[Progress], None]


def _no_progress(_: Progress) -> None:
    return None


@dataclass
class ImportSummary:
    """What an import or a demo load did; printed by the CLI, shown by the dashboard."""

    integration: str
    files: int = 0
    files_unchanged: int = 0
    lines: int = 0
    inserted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    blank: int = 0
    #: Files and folders not read (a FIFO, a broken link, an unreadable folder), each quarantined.
    skipped: int = 0
    seconds: float = 0.0
    integrations: list[str] = field(default_factory=list)

    def add(self, result: BatchResult) -> None:
        self.lines += result.lines
        self.inserted += result.inserted
        self.duplicates += result.duplicates
        self.quarantined += result.quarantined
        self.blank += result.blank

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def describe(self) -> str:
        parts = [
            f"{self.inserted:,} new invocations",
            f"{self.duplicates:,} already stored",
            f"{self.quarantined:,} malformed lines quarantined",
        ]
        if self.files or self.files_unchanged:
            parts.insert(0, f"{self.files:,} files read, {self.files_unchanged:,} unchanged")
        if self.skipped:
            parts.insert(1, f"{self.skipped:,} not readable (see quarantine)")
        return f"{self.integration}: " + ", ".join(parts) + f" in {self.seconds:.1f} s"


def prefetch(items: Iterable[T]) -> Iterator[T]:
    """Produce the next item on a background thread while the consumer works on the current one.

    A hand-off, not a queue: the producer starts on item k+2 only once the consumer has taken k+1,
    so at most two items exist at once. With batches of ~190 MB of raw lines that bound is what
    keeps an import under ~1 GB resident.
    """
    for group in arrived(items, lambda _: 1, budget=1):
        yield from group


def arrived(items: Iterable[T], weight: Callable[[T], int], budget: int) -> Iterator[list[T]]:
    """Produce items on a background thread; hand on, each time, *all* that arrived meanwhile.

    Why: writing a batch has a fixed cost (10 to 25 ms: handing the batch over, the repeat
    check, new model ids and identities), while fetched objects come in many small pieces.
    Taking whatever has arrived whenever the writer is free batches by itself — small groups
    while the writer keeps up, larger ones when it falls behind — so fetching and writing
    overlap without a tuned group size. The producer pulls the next item only while less than
    ``budget`` (by ``weight``) is held untaken, which bounds memory: at most ``budget`` plus one
    item waits, besides the group the consumer holds.
    """
    cond = threading.Condition()
    buffer: list[T] = []
    state: dict[str, Any] = {"held": 0, "done": False, "error": None, "stop": False}

    def produce() -> None:
        try:
            for item in items:
                size = weight(item)
                with cond:
                    if state["stop"]:
                        return
                    buffer.append(item)
                    state["held"] += size
                    cond.notify_all()
                    while state["held"] >= budget and not state["stop"]:
                        cond.wait(0.1)
                del item
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, re-raised there
            with cond:
                state["error"] = err
                cond.notify_all()
            return
        with cond:
            state["done"] = True
            cond.notify_all()

    worker = threading.Thread(target=produce, name="bedrock-explorer-hand-off", daemon=True)
    worker.start()
    try:
        while True:
            with cond:
                while not buffer and not state["done"] and state["error"] is None:
                    cond.wait(0.1)
                if buffer:
                    group = buffer[:]
                    buffer.clear()
                    state["held"] = 0
                    cond.notify_all()
                elif state["error"] is not None:
                    raise state["error"]
                else:
                    return
            yield group
            del group
    finally:
        with cond:
            state["stop"] = True
            cond.notify_all()


def coalesce(
    batches: Iterable[RawBatch],
    min_lines: int,
    max_seconds: float | None = None,
    max_bytes: int = MAX_BATCH_BYTES,
) -> Iterator[RawBatch]:
    """Join consecutive batches of one source into batches of at least ``min_lines`` lines.

    Why: sources hand over small pieces (a gzip block, a page of events) so that little is held
    in memory ahead of the writer, while DuckDB writes a batch of at least one row group (122,880
    rows) straight to the file instead of through its WAL, which is several times cheaper.
    With ``max_seconds``, what has waited that long is handed on anyway: a sync bound by the
    network then still commits (and shows progress, and can resume) every few seconds. A batch
    is handed on once it holds ``max_bytes`` of text, however few its lines: records of a
    megabyte each must not pile up 122,880 deep.
    """
    pending: list[RawBatch] = []
    count = 0
    size = 0
    started = 0.0
    held: RawBatch | None = None  # a full batch, kept until we know a small tail does not follow

    def emit(batch: RawBatch) -> Iterator[RawBatch]:
        nonlocal held
        # A short batch right after a full one of the same source (the end of a file) is joined
        # to it: below one row group DuckDB would route it through its WAL, ~3x the cost.
        if (
            held is not None
            and held.source == batch.source
            and len(batch.lines) < min_lines
            and _joinable(held, batch)
            and text_bytes(held.lines) + text_bytes(batch.lines) <= max_bytes
        ):
            batch, held = _join([held, batch]), None
        if held is not None:
            yield held
            held = None
        if len(batch.lines) >= min_lines:
            held = batch
        else:
            yield batch

    try:
        for batch in batches:
            if pending and (batch.source != pending[0].source or not _joinable(pending[-1], batch)):
                yield from emit(_join(pending))
                pending, count, size = [], 0, 0
            if not pending:
                started = time.monotonic()
            pending.append(batch)
            count += len(batch.lines)
            size += text_bytes(batch.lines)
            overdue = max_seconds is not None and time.monotonic() - started >= max_seconds
            if count >= min_lines or overdue or size >= max_bytes:
                yield from emit(_join(pending))
                pending, count, size = [], 0, 0
    except Exception:
        # The source failed: what it handed over before is still written, then the error goes on.
        if pending:
            yield from emit(_join(pending))
        if held is not None:
            yield held
        raise
    if pending:
        yield from emit(_join(pending))
    if held is not None:
        yield held


def _joinable(before: RawBatch, after: RawBatch) -> bool:
    """Line-numbered batches join only when the numbering runs on without a gap."""
    if (before.refs is None) != (after.refs is None):
        return False
    return before.refs is not None or before.first_line + len(before.lines) == after.first_line


def _join(parts: list[RawBatch]) -> RawBatch:
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    if all(isinstance(p.lines, list) for p in parts):
        lines: object = [line for p in parts for line in p.lines]
    else:
        chunks = []
        for p in parts:
            if isinstance(p.lines, pa.ChunkedArray):
                chunks.extend(p.lines.chunks)
            elif isinstance(p.lines, list):
                chunks.append(pa.array(p.lines, type=pa.large_string()))
            else:
                chunks.append(p.lines)
        lines = pa.chunked_array(
            [c.cast(pa.large_string()) for c in chunks], type=pa.large_string()
        )
    refs: list[str] | pa.Array | None = None
    if first.refs is not None:
        if all(isinstance(p.refs, list) for p in parts):
            refs = [r for p in parts for r in (p.refs or [])]
        else:
            refs = pa.concat_arrays(
                [
                    p.refs.cast(pa.string())
                    if isinstance(p.refs, pa.Array)
                    else pa.array(p.refs or [], pa.string())
                    for p in parts
                ]
            )
    checkpoints: dict[str, str] = {}
    for p in parts:
        checkpoints.update(p.checkpoints)
    return RawBatch(
        first.source,
        lines,
        refs=refs,
        first_line=first.first_line,
        checkpoints=checkpoints,
        nbytes=sum(p.nbytes for p in parts),
        problems=[problem for p in parts for problem in p.problems],
    )


def write_batches(
    store: Store,
    integration: Integration,
    batches: Iterable[RawBatch],
    summary: ImportSummary,
    *,
    total_bytes: int | None = None,
    progress: ProgressCallback = _no_progress,
    message: str = "Importing",
) -> None:
    """Write every batch, reporting progress in bytes of input."""
    done = 0
    # Joining happens on the reading thread, so the next full batch is ready when the writer is.
    for batch in prefetch(coalesce(batches, BATCH_LINES)):
        summary.add(store.write_batch(integration.id, batch))
        done += batch.nbytes
        progress(Progress(done, total_bytes, "B", message))


def _file_groups(
    files: list[local_files.LogFile],
) -> Iterator[tuple[str | None, list[local_files.LogFile]]]:
    """Runs of files DuckDB may read itself — (compression, files) up to :data:`FILE_GROUP_BYTES`
    each — and every other file on its own as ``(None, [file])``."""
    group: list[local_files.LogFile] = []
    group_compression: str | None = None
    size = 0
    for log_file in files:
        compression = local_files.ndjson_compression(log_file)
        if group and (
            compression != group_compression
            or size + log_file.size > FILE_GROUP_BYTES
            or len(group) >= FILE_GROUP_FILES
        ):
            yield group_compression, group
            group, size = [], 0
        if compression is None:
            yield None, [log_file]
            continue
        group.append(log_file)
        group_compression = compression
        size += log_file.size
    if group:
        yield group_compression, group


def _offset(progress: ProgressCallback, before: int, total: int) -> ProgressCallback:
    """Progress of one part of an import, reported as progress of the whole."""

    def report(step: Progress) -> None:
        progress(Progress(before + step.done, total, step.unit, step.message))

    return report


def import_paths(
    store: Store,
    paths: Iterable[str],
    integration_name: str,
    *,
    force: bool = False,
    progress: ProgressCallback = _no_progress,
) -> ImportSummary:
    """Import log files and folders into an integration (created as ``local`` if new).

    Files already imported unchanged (same size and modification time) are skipped unless
    ``force``; either way a record already stored is never stored twice.
    """
    started = time.monotonic()
    paths = list(paths)
    found = local_files.discover(paths)
    files = found.files
    if not files and not found.skipped:
        raise UserFacingError(
            "No log files found in " + ", ".join(paths),
            "point at .jsonl / .json / .gz files or a folder that holds them",
        )
    integration = store.find_integration(integration_name)
    created = integration is None
    if integration is None:
        integration = store.add_integration(
            integration_name, "local", {"paths": [str(p) for p in paths]}
        )
    summary = ImportSummary(integration=integration.name, integrations=[integration.name])
    try:
        _import_files(store, integration, found, paths, summary, force, progress)
    except BaseException as err:
        if created and not store.has_invocations(integration.id):
            # Nothing of this import stayed (a full disk, Ctrl-C at once): no empty integration
            # in "error" is left behind.
            with contextlib.suppress(Exception):
                store.remove_integration(integration.name)
        else:
            with contextlib.suppress(Exception):
                store.set_sync_status(integration.id, "error", safe_reason(err))
        raise
    summary.seconds = time.monotonic() - started
    store.set_sync_status(integration.id, "ok", summary.describe())
    return summary


def _import_files(
    store: Store,
    integration: Integration,
    found: local_files.Discovery,
    paths: list[str],
    summary: ImportSummary,
    force: bool,
    progress: ProgressCallback,
) -> None:
    # What could not be read last time is tried again: its old problem rows go, and come back
    # only if it still cannot be read.
    store.forget_file_problems(
        integration.id, [str(Path(p).expanduser().resolve()) for p in paths], local_files.FILE_REF
    )
    for path, reason in found.skipped:
        summary.skipped += 1
        summary.add(
            store.write_batch(
                integration.id,
                RawBatch(str(path), [], problems=[(local_files.FILE_REF, reason)]),
            )
        )
    seen = store.checkpoints(integration.id, "file:")
    todo = []
    for log_file in found.files:
        if not force and seen.get(log_file.checkpoint_key) == log_file.fingerprint:
            summary.files_unchanged += 1
        else:
            todo.append(log_file)
    summary.files = len(todo)

    total = sum(f.size for f in todo)
    done = 0
    store.set_sync_status(integration.id, "running", f"importing {len(todo)} files")
    for compression, group in _file_groups(todo):
        size = sum(f.size for f in group)
        result = None
        if compression is not None:
            # DuckDB's reader ignores a damaged gzip checksum: the files are checked on another
            # thread while it reads them (inflating releases the GIL), and the transaction
            # commits only if they are sound; otherwise the line form reads them and says where.
            check = (
                _CHECKER.submit(local_files.gzip_sound, group) if compression == "gzip" else None
            )

            def report(part: float, before: int = done, size: int = size) -> None:
                progress(Progress(before + int(part * size), total, "B", "Importing"))

            result = store.write_files(
                integration.id,
                [str(f.path) for f in group],
                compression,
                {f.checkpoint_key: f.fingerprint for f in group},
                progress=report,
                sound=None if check is None else check.result,
            )
        if result is not None:
            summary.add(result)
        else:
            write_batches(
                store,
                integration,
                (batch for f in group for batch in local_files.read_file(f)),
                summary,
                progress=_offset(progress, done, total),
            )
        done += size
        progress(Progress(done, total, "B", "Importing"))
