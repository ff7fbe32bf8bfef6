"""Write one batch of raw lines: parse in SQL, quarantine bad lines, insert new invocations.

Why it is shaped this way (figures in ``bench/README.md``):

* The whole batch is parsed by SQL (``records.PARSE_SQL``); a line that is not a good record gets a
  ``reason`` instead of failing the batch.
* The good records are appended in the same statement that parses them (the line is parsed once);
  then what the batch repeated — inside itself, or against rows already stored — is deleted again
  (see :func:`_delete_repeats`). Appending first and deleting the rare repeats is much cheaper than
  a window plus anti-join in front of every insert, and the transaction makes it invisible.
* Only when fewer records were appended than lines given is the batch parsed a second time to
  find the bad lines for the quarantine (keyed by ``(integration_id, source, ref)``, so a
  re-import adds no second row).
* Batches of at least one DuckDB row group (122,880 rows) are written straight to the file instead
  of through the WAL, which is why sources batch ~130k lines.
* Rows and checkpoints commit in one transaction.
* One write transaction at a time in a process (:data:`_ONE_WRITER`): two syncs of different
  integrations running at once in the dashboard both register what their batches bring first —
  the same new model id, price key, identity or metadata set — and DuckDB refused the second
  commit ("PRIMARY KEY or UNIQUE constraint violation"): half the batches of two first syncs
  failed. DuckDB lets one process hold the file, so a lock in the process is enough.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout

import duckdb
import pyarrow as pa

from bedrock_explorer import model_ids, records
from bedrock_explorer.pricing import points
from bedrock_explorer.raw import BatchResult, RawBatch
from bedrock_explorer.store import metadata_sets, price_keys
from bedrock_explorer.store.transaction import transaction

_NOW = "current_timestamp AT TIME ZONE 'UTC'"
#: Held for each write transaction (see the module's docstring). Re-entrant: a writer that
#: falls back from one form to another takes it again on the same thread.
_ONE_WRITER = threading.RLock()
#: How often a long statement's progress is reported.
PROGRESS_EVERY_SECONDS = 0.5
_COLS = ", ".join(records.INVOCATION_COLUMNS)
_PARSED_COLS = ", ".join(f"p.{c}" for c in records.INVOCATION_COLUMNS)


def write_batch(
    cur: duckdb.DuckDBPyConnection, integration_id: int, batch: RawBatch
) -> BatchResult:
    """Parse and store ``batch`` for an integration inside one transaction."""
    with _ONE_WRITER:
        return _write_batch_alone(cur, integration_id, batch)


def _write_batch_alone(
    cur: duckdb.DuckDBPyConnection, integration_id: int, batch: RawBatch
) -> BatchResult:
    if batch.lines:
        # Registered outside the transaction: an aborted transaction refuses even unregister().
        cur.register(
            "raw_batch", records.raw_batch_table(batch.lines, batch.refs, batch.first_line)
        )
    try:
        try:
            return _write_batch(cur, integration_id, batch, strict=True)
        except (duckdb.InvalidInputException, UnicodeDecodeError) as err:
            if not is_engine_input_error(err):
                raise
            # A line is not valid JSON and the transaction rolled back: redo the batch with the
            # tolerant parse, which gives that line a quarantine reason instead of an error.
            return _write_batch(cur, integration_id, batch, strict=False)
    finally:
        cur.unregister("raw_batch")
        cur.unregister("outcome")


def is_engine_input_error(err: BaseException) -> bool:
    """Did DuckDB refuse the *input* (a line it cannot parse) rather than fail itself?

    Its message about a malformed line quotes the line and may be cut mid-character, in which
    case the Python binding raises ``UnicodeDecodeError`` instead of a ``duckdb.Error``; that is
    an input error too. An I/O failure (a full disk) or an interrupt is not: it must go on up.
    The message's text is only looked at, never kept.
    """
    if isinstance(err, UnicodeDecodeError):
        return True
    return isinstance(err, duckdb.InvalidInputException) and "json" in str(err).lower()


def write_files(
    cur: duckdb.DuckDBPyConnection,
    integration_id: int,
    files: list[str],
    compression: str,
    checkpoints: dict[str, str],
    progress: Callable[[float], None] | None = None,
    sound: Callable[[], bool] | None = None,
) -> BatchResult | None:
    """Store whole NDJSON files read by DuckDB itself, in one transaction; ``None`` if it cannot.

    ``sound`` is asked just before the commit: False (a gzip checksum that does not match, found
    by a check that ran meanwhile on another thread) rolls back and returns ``None`` as well.

    The fast way in for local files (see ``records.FILE_PARSE_SQL``). It succeeds only when every
    line of every file is a good record: a malformed line, an unexpected shape, or a record the
    line form would quarantine aborts the statement (``error()`` in the filter), the transaction
    rolls back, and the caller re-reads those files line by line, which quarantines the bad lines
    with their line numbers. DuckDB's message is dropped unread: it may quote a line's content.

    ``progress`` gets the fraction of the files read so far, about twice a second, on the
    caller's thread (the dashboard's progress bar must be updated from there).
    """
    with _ONE_WRITER:
        return _write_files_alone(
            cur, integration_id, files, compression, checkpoints, progress, sound
        )


def _write_files_alone(
    cur: duckdb.DuckDBPyConnection,
    integration_id: int,
    files: list[str],
    compression: str,
    checkpoints: dict[str, str],
    progress: Callable[[float], None] | None,
    sound: Callable[[], bool] | None,
) -> BatchResult | None:
    metadata_set, metadata_join = metadata_sets.insert_parts(cur, "p")
    sql = f"""
        INSERT INTO invocations ({_COLS}, integration_id, ingested_at, price_key, metadata_set)
        SELECT {_PARSED_COLS}, $integration, {_NOW}, k.price_key, {metadata_set}
        FROM ({records.FILE_PARSE_SQL}) p {price_keys.lookup_join("p")} {metadata_join}
        WHERE CASE WHEN p.reason IS NULL THEN true ELSE error('needs the line form') END
    """
    params = {"integration": integration_id, "files": files, "compression": compression}
    result = BatchResult()
    with _progress_tracked(cur, progress is not None):
        cur.execute("BEGIN TRANSACTION")
        try:
            good = _run_reporting(cur, sql, params, progress)[0][0]
        except BaseException as err:
            with contextlib.suppress(duckdb.Error):
                cur.execute("ROLLBACK")
            # Whatever DuckDB's reader refused (a bad line, an unreadable file, a message cut
            # mid-character), the line form reads those files again and says which line; a
            # fault of the machine (a full disk) recurs there and is reported from there.
            if isinstance(err, (duckdb.Error, UnicodeDecodeError)) and not isinstance(
                err, duckdb.InterruptException
            ):
                return None
            raise
    try:
        with transaction(cur, begun=True):
            result.inserted = good - _delete_repeats(cur, integration_id)
            result.duplicates = good - result.inserted
            result.lines = good
            if result.inserted:
                _register_new_dimensions(cur)
            _save_checkpoints(cur, integration_id, checkpoints)
            if sound is not None and not sound():
                raise _Unsound
    except _Unsound:
        return None
    return result


class _Unsound(Exception):
    """The files turned out damaged before the commit: roll back, read them line by line."""


@contextlib.contextmanager
def _progress_tracked(cur: duckdb.DuckDBPyConnection, on: bool) -> Iterator[None]:
    """DuckDB tracks a statement's progress only while its progress bar is on (printing off)."""
    if not on:
        yield
        return
    cur.execute("SET enable_progress_bar_print = false")
    cur.execute("SET enable_progress_bar = true")
    try:
        yield
    finally:
        cur.execute("SET enable_progress_bar = false")


def _run_reporting(
    cur: duckdb.DuckDBPyConnection,
    sql: str,
    params: dict[str, object],
    progress: Callable[[float], None] | None,
) -> list[tuple]:
    """Run one statement; while it runs, report DuckDB's progress of it from this thread.

    One statement may read a large file for a minute: without this a progress bar would stand
    still. The statement runs on a helper thread (DuckDB releases the GIL), so that ``progress``
    is called here; Ctrl-C here interrupts the statement.
    """
    if progress is None:
        return cur.execute(sql, params).fetchall()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bedrock-explorer-sql") as pool:
        running = pool.submit(lambda: cur.execute(sql, params).fetchall())
        try:
            while True:
                try:
                    return running.result(timeout=PROGRESS_EVERY_SECONDS)
                except FuturesTimeout:
                    percent = cur.query_progress()
                    if percent >= 0:
                        progress(min(percent, 100.0) / 100.0)
        except BaseException:
            if not running.done():
                cur.interrupt()
            raise


def _write_batch(
    cur: duckdb.DuckDBPyConnection, integration_id: int, batch: RawBatch, *, strict: bool
) -> BatchResult:
    result = BatchResult(lines=len(batch.lines))
    with transaction(cur):
        if batch.lines:
            _write_rows(cur, integration_id, batch, result, strict)
        if batch.problems:
            result.quarantined += _quarantine_problems(cur, integration_id, batch)
        if batch.checkpoints:
            _save_checkpoints(cur, integration_id, batch.checkpoints)
    return result


def _save_checkpoints(
    cur: duckdb.DuckDBPyConnection, integration_id: int, checkpoints: dict[str, str]
) -> None:
    # One statement for all: an S3 batch carries one checkpoint per object (hundreds), and a
    # statement per checkpoint cost more than parsing the batch.
    table = pa.table(
        {"k": pa.array(list(checkpoints), pa.string()), "v": pa.array(list(checkpoints.values()))}
    )
    cur.register("new_checkpoints", table)
    try:
        cur.execute(
            f"INSERT OR REPLACE INTO sync_checkpoints SELECT ?, k, v, {_NOW} FROM new_checkpoints",
            [integration_id],
        )
    finally:
        with contextlib.suppress(duckdb.Error):  # an aborted transaction refuses unregister
            cur.unregister("new_checkpoints")


def _write_rows(
    cur: duckdb.DuckDBPyConnection,
    integration_id: int,
    batch: RawBatch,
    result: BatchResult,
    strict: bool,
) -> None:
    parse_sql = records.PARSE_SQL_STRICT if strict else records.PARSE_SQL
    good = _insert_parsed(cur, integration_id, parse_sql)
    result.inserted = good - _delete_repeats(cur, integration_id)
    result.duplicates = good - result.inserted
    if good < len(batch.lines):
        # Some lines were not records: blank or malformed. Only now pay for a second pass that
        # says which, so the common all-good batch is parsed once.
        outcome = cur.sql(
            f"SELECT seq, ref, reason FROM ({records.PARSE_SQL}) "
            "WHERE reason IS NOT NULL AND reason <> $blank",
            params={"blank": records.BLANK},
        ).to_arrow_table()
        result.blank = len(batch.lines) - good - outcome.num_rows
        if outcome.num_rows:
            cur.register("outcome", outcome)
            result.quarantined = _quarantine(cur, integration_id, batch.source)
    if result.inserted:
        _register_new_dimensions(cur)


def _register_new_dimensions(cur: duckdb.DuckDBPyConnection) -> None:
    """What the rows just stored bring for the first time: identities, metadata sets, price
    keys and — only when there is a new price key, since a new model id, region or tier always
    makes one — model ids and their price points, priced in the transaction that adds them. The
    common batch, all of whose keys are known, pays one statement for identities and a probe
    each for metadata sets and keys."""
    _register_new_identities(cur)
    metadata_sets.assign_new(cur)
    if price_keys.assign_new(cur):
        _register_new_model_ids(cur)
        points.compile_new(cur)


def _insert_parsed(cur: duckdb.DuckDBPyConnection, integration_id: int, parse_sql: str) -> int:
    """Append every good record of the batch, stamped with this transaction's time."""
    metadata_set, metadata_join = metadata_sets.insert_parts(cur, "p")
    return cur.execute(
        f"""
        INSERT INTO invocations ({_COLS}, integration_id, ingested_at, price_key, metadata_set)
        SELECT {_PARSED_COLS}, ?, {_NOW}, k.price_key, {metadata_set}
        FROM ({parse_sql}) p {price_keys.lookup_join("p")} {metadata_join}
        WHERE p.reason IS NULL
        """,
        [integration_id],
    ).fetchall()[0][0]


def _delete_repeats(cur: duckdb.DuckDBPyConnection, integration_id: int) -> int:
    """Remove what the batch just appended twice or what was stored before; returns how many.

    Rows of this batch carry ``ingested_at`` = this transaction's start time, which no earlier
    (committed, hence earlier-started) transaction shares. Inside the batch the first occurrence
    (lowest rowid, i.e. line order) stays. Against stored rows the key alone decides — not the
    timestamp: the same ``requestId`` delivered again with another timestamp (a re-export, a
    clock fix) is the same invocation. DuckDB builds the hash table on the batch's ids and
    probes the integration's stored ids with it: with 5M rows stored, 0.70 s for a batch of
    122,880 against 0.55 s for the old check of the batch's time span alone (measured).
    """
    return cur.execute(
        f"""
        DELETE FROM invocations WHERE rowid IN (
            WITH new AS (
                SELECT rowid AS rid, request_id FROM invocations
                WHERE integration_id = ? AND ingested_at = {_NOW}
            ),
            old AS (
                SELECT request_id FROM invocations
                WHERE integration_id = ? AND ingested_at < {_NOW}
                  AND request_id IN (SELECT request_id FROM new)
            )
            SELECT rid FROM new WHERE request_id IN (SELECT request_id FROM old)
            UNION ALL
            SELECT rid FROM (
                SELECT rid, row_number() OVER (PARTITION BY request_id ORDER BY rid) AS n
                FROM new
                WHERE request_id IN (
                    SELECT request_id FROM new GROUP BY request_id HAVING count(*) > 1)
            ) WHERE n > 1
        )
        """,
        [integration_id, integration_id],
    ).fetchall()[0][0]


def _quarantine_problems(
    cur: duckdb.DuckDBPyConnection, integration_id: int, batch: RawBatch
) -> int:
    added = 0
    for ref, reason in batch.problems:
        added += cur.execute(
            f"""
            INSERT INTO quarantine SELECT ?, ?, ?, ?, {_NOW}
            WHERE NOT EXISTS (SELECT 1 FROM quarantine
                              WHERE integration_id = ? AND source = ? AND ref = ?)
            """,
            [integration_id, batch.source, ref, reason, integration_id, batch.source, ref],
        ).fetchall()[0][0]
    return added


def _quarantine(cur: duckdb.DuckDBPyConnection, integration_id: int, source: str) -> int:
    """Record bad lines by locator and reason (a re-import adds no second row)."""
    return cur.execute(
        f"""
        INSERT INTO quarantine
        SELECT DISTINCT ON (ref) ?, ?, ref, reason, {_NOW}
        FROM (SELECT coalesce(ref, CAST(seq AS VARCHAR)) AS ref, reason FROM outcome) p
        WHERE NOT EXISTS (
            SELECT 1 FROM quarantine q
            WHERE q.integration_id = ? AND q.source = ? AND q.ref = p.ref)
        """,
        [integration_id, source, integration_id, source],
    ).fetchall()[0][0]


def _register_new_identities(cur: duckdb.DuckDBPyConnection) -> None:
    """Add an ``identities`` row, split into principal and session, for each new identity ARN."""
    cur.execute(
        f"""
        INSERT INTO identities
        WITH arns AS (
            SELECT DISTINCT i.identity_arn FROM invocations i
            WHERE i.ingested_at = {_NOW} AND i.identity_arn IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM identities d WHERE d.identity_arn = i.identity_arn)
        )
        {records.IDENTITY_SQL}
        """
    )


def _register_new_model_ids(cur: duckdb.DuckDBPyConnection) -> None:
    """Add a ``model_ids`` row for each raw model id seen for the first time."""
    new = cur.execute(
        """
        SELECT DISTINCT i.model_id FROM invocations i
        WHERE i.ingested_at = current_timestamp AT TIME ZONE 'UTC'
          AND NOT EXISTS (SELECT 1 FROM model_ids m WHERE m.model_id = i.model_id)
        """
    ).fetchall()
    for (raw_id,) in new:
        insert_model_id(cur, raw_id)


def insert_model_id(cur: duckdb.DuckDBPyConnection, raw_id: str) -> None:
    """The ``model_ids`` row for a raw model id, derived from the id alone."""
    ref = model_ids.resolve(raw_id)
    cur.execute(
        "INSERT INTO model_ids (model_id, base_model, routing, geo, arn_region, provider, "
        "service_type, resolved_by, updated_at) "
        f"VALUES (?, ?, ?, ?, ?, ?, ?, 'derived', {_NOW})",
        [
            raw_id,
            ref.base_model,
            ref.routing,
            ref.geo,
            ref.arn_region,
            ref.provider,
            ref.service_type,
        ],
    )
