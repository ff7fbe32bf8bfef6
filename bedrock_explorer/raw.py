"""The contract between sources and the store: a batch of raw log lines and where they came from.

Sources know paging, files and retries and nothing of the schema; the store knows the schema and
nothing of where lines come from. A batch carries what the quarantine needs to point back at a bad
line (its *locator*: the source plus a line number or event id) and, optionally, a checkpoint
that is committed in the same transaction as the rows, so that a sync killed at any moment
resumes exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa


@dataclass
class RawBatch:
    """Raw JSON lines from one source object (a file, a log stream, an S3 object)."""

    source: str
    #: The raw lines; an Arrow string array when a source can avoid a Python string per line.
    lines: list[str] | pa.Array | pa.ChunkedArray
    #: Per-line locators (e.g. CloudWatch event ids).
    #: ``None``: lines are numbered from ``first_line``.
    refs: list[str] | pa.Array | None = None
    first_line: int = 1
    #: Checkpoints (cursor key → value) to commit atomically with this batch's rows.
    checkpoints: dict[str, str] = field(default_factory=dict)
    #: Bytes of input this batch accounts for (drives progress bars).
    nbytes: int = 0
    #: Problems that are not one bad line — a truncated or unreadable file — as (locator, reason);
    #: they are quarantined like bad lines so nothing is lost silently.
    problems: list[tuple[str, str]] = field(default_factory=list)


#: The most text one batch carries (a reader flushes, the joiner stops, at this size): with at
#: most three batches alive at once (reading, waiting, writing) it bounds an import's memory
#: whatever the records' size. 128 MB holds ~85k typical 1.5 KB records.
MAX_BATCH_BYTES = 128 * 1024 * 1024


def text_bytes(lines: list[str] | pa.Array | pa.ChunkedArray) -> int:
    """The size of a batch's lines (as UTF-8 for Arrow arrays, in characters for a list)."""
    if isinstance(lines, list):
        return sum(len(line) for line in lines)
    return int(lines.nbytes)


@dataclass
class BatchResult:
    """What happened to one batch."""

    lines: int = 0
    inserted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    #: Blank lines: neither records nor errors (inserted + duplicates + bad + blank = lines).
    blank: int = 0
