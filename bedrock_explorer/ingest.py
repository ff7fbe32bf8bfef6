"""Move batches of raw lines from any source into the store, with progress and a summary.

Why a prefetch thread: reading a source (inflating gzip, an HTTP page from AWS) and parsing in
DuckDB both release the GIL, so on a 2-core machine running them side by side nearly halves the wall
time of an import. The queue is bounded so memory stays at a couple of batches.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TypeVar

import pyarrow as pa

from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.raw import BatchResult, RawBatch
from bedrock_explorer.sources import local_files
from bedrock_explorer.store import Integration, Store

T = TypeVar("T")

#: Lines written per transaction: a little over one DuckDB row group (122,880 rows).
BATCH_LINES = 131_072


@dataclass(frozen=True)
class Progress:
    """One progress report: ``done`` of ``total`` ``unit`` (total may be unknown)."""

    done: int
    total: int | None
    unit: str
    message: str


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
    seconds: float = 0.0
    integrations: list[str] = field(default_factory=list)

    def add(self, result: BatchResult) -> None:
        self.lines += result.lines
        self.inserted += result.inserted
        self.duplicates += result.duplicates
        self.quarantined += result.quarantined

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
        return f"{self.integration}: " + ", ".join(parts) + f" in {self.seconds:.1f} s"


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Produce ``items`` in a background thread, ``depth`` ahead of the consumer."""
    buffer: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(("end", None))
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, re-raised there
            buffer.put(("error", err))

    worker = threading.Thread(target=produce, name="bedrock-explorer-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = buffer.get()
            if kind == "end":
                return
            if kind == "error":
                raise value  # type: ignore[misc]
            yield value  # type: ignore[misc]
    finally:
        stop.set()


def coalesce(batches: Iterable[RawBatch], min_lines: int) -> Iterator[RawBatch]:
    """Join consecutive batches of one source into batches of at least ``min_lines`` lines.

    Why: sources hand over small pieces (a gzip block, a page of events) so that little is held
    in memory ahead of the writer, while DuckDB writes a batch of at least one row group (122,880
    rows) straight to the file instead of through its WAL, which is several times cheaper.
    """
    pending: list[RawBatch] = []
    count = 0
    try:
        for batch in batches:
            if pending and (batch.source != pending[0].source or not _joinable(pending[-1], batch)):
                yield _join(pending)
                pending, count = [], 0
            pending.append(batch)
            count += len(batch.lines)
            if count >= min_lines:
                yield _join(pending)
                pending, count = [], 0
    except Exception:
        # The source failed: what it handed over before is still written, then the error goes on.
        if pending:
            yield _join(pending)
        raise
    if pending:
        yield _join(pending)


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
        lines: object = [line for p in parts for line in p.lines]  # type: ignore[union-attr]
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
    refs = None if first.refs is None else [r for p in parts for r in (p.refs or [])]
    checkpoints: dict[str, str] = {}
    for p in parts:
        checkpoints.update(p.checkpoints)
    return RawBatch(
        first.source,
        lines,
        refs=refs,
        first_line=first.first_line,  # type: ignore[arg-type]
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
    for batch in coalesce(prefetch(batches, depth=4), BATCH_LINES):
        summary.add(store.write_batch(integration.id, batch))
        done += batch.nbytes
        progress(Progress(done, total_bytes, "B", message))


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
    files = local_files.discover(paths)
    if not files:
        raise UserFacingError(
            "No log files found in " + ", ".join(paths),
            "point at .jsonl / .json / .gz files or a folder that holds them",
        )
    integration = store.find_integration(integration_name) or store.add_integration(
        integration_name, "local", {"paths": [str(p) for p in paths]}
    )
    summary = ImportSummary(integration=integration.name, integrations=[integration.name])
    todo = []
    for log_file in files:
        seen = store.get_checkpoint(integration.id, log_file.checkpoint_key)
        if not force and seen == log_file.fingerprint:
            summary.files_unchanged += 1
        else:
            todo.append(log_file)
    summary.files = len(todo)

    def batches() -> Iterator[RawBatch]:
        for log_file in todo:
            yield from local_files.read_file(log_file)

    store.set_sync_status(integration.id, "running", f"importing {len(todo)} files")
    try:
        write_batches(
            store,
            integration,
            batches(),
            summary,
            total_bytes=sum(f.size for f in todo),
            progress=progress,
        )
    except BaseException as err:
        store.set_sync_status(integration.id, "error", str(err) or type(err).__name__)
        raise
    summary.seconds = time.monotonic() - started
    store.set_sync_status(integration.id, "ok", summary.describe())
    return summary
