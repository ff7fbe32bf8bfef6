"""Sync an integration: fetch what is new from CloudWatch Logs, S3 or local files into the store.

One entry point for the CLI (cron), the dashboard's "Sync now" and the wizard's first sync. A sync
never leaves the store inconsistent: rows and checkpoints commit together per batch, so a failure
or a kill keeps what was committed and the next sync resumes from there; the integration records
the outcome (``ok`` or ``error`` with the sentence and the fix) for the Integrations page.
"""

from __future__ import annotations

import difflib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.exceptions

from bedrock_explorer import audit, aws
from bedrock_explorer.errors import UserFacingError, safe_reason
from bedrock_explorer.ingest import (
    ImportSummary,
    Progress,
    ProgressCallback,
    arrived,
    coalesce,
    import_paths,
    prefetch,
)
from bedrock_explorer.sources import cloudwatch, s3
from bedrock_explorer.sources.settings import SourceSettings
from bedrock_explorer.store import Integration, Store

#: Lines per transaction during a sync. Smaller than an import's row group: a sync is bound by
#: the network, and a commit every ~16k events keeps the progress bar and the resume point fresh.
SYNC_BATCH_LINES = 16_384

#: ...and at least this often when events arrive slowly (progress, resume points).
COMMIT_EVERY_SECONDS = 2.0

#: S3 object checkpoints kept behind the last sync: one more day than the next listing reaches.
S3_CHECKPOINT_DAYS = timedelta(days=2)

#: Bytes of fetched S3 objects (as stored, mostly gzip: ~20k records a MB) held at most while
#: waiting to be written; the fetchers pause above it.
OBJECT_BUDGET_BYTES = 32 * 1024 * 1024

SessionFactory = Callable[[SourceSettings], boto3.Session]

#: What a user sees when a sync stopped on something that is not an AWS or input problem.
UNEXPECTED_STOP = (
    "The sync stopped on an unexpected problem (the details are in the log of the dashboard or "
    "the CLI). What it stored is kept: Sync now resumes where it stopped"
)
log = logging.getLogger(__name__)


def _no_progress(_: Progress) -> None:
    return None


def default_session(settings: SourceSettings) -> boto3.Session:
    return aws.session_for(settings.auth, settings.region)


@dataclass
class SyncSummary(ImportSummary):
    """What a sync did."""

    kind: str = ""
    fetched: int = 0  # events (CloudWatch) or objects (S3)
    unit: str = "events"
    requests: int = 0
    window_from: datetime | None = None
    window_to: datetime | None = None
    resumed: bool = False

    @property
    def read_to(self) -> datetime | None:
        """How far this sync read: CloudWatch stops :data:`cloudwatch.LATENCY_BUFFER` before
        its start on purpose (events still arriving), S3 reads what is delivered."""
        return self.window_to if self.kind in ("cloudwatch", "s3") else None

    def describe(self) -> str:
        if self.kind == "local":
            return super().describe()
        span = ""
        if self.window_from and self.window_to:
            span = (
                f" ({self.window_from:%Y-%m-%d %H:%M} → {self.window_to:%Y-%m-%d %H:%M} UTC"
                + (", resumed" if self.resumed else "")
                + ")"
            )
        deferred = ""
        if self.kind == "cloudwatch" and self.window_to:
            minutes = int(cloudwatch.LATENCY_BUFFER.total_seconds() // 60)
            deferred = (
                f"; read up to {self.window_to:%H:%M} UTC — the last {minutes} minutes come with "
                "the next sync (CloudWatch may still be receiving them)"
            )
        return (
            f"{self.integration}: {self.fetched:,} {self.unit} fetched{span}, "
            f"{self.inserted:,} new invocations, {self.duplicates:,} already stored, "
            f"{self.quarantined:,} malformed lines quarantined in {self.seconds:.1f} s{deferred}"
        )


def sync_integration(
    store: Store,
    name: str,
    *,
    since: datetime | None = None,
    now: datetime | None = None,
    progress: ProgressCallback = _no_progress,
    session_factory: SessionFactory = default_session,
    batch_lines: int = SYNC_BATCH_LINES,
    requests_per_second: float | None = None,
) -> SyncSummary:
    """Fetch what is new for one integration; raises :class:`UserFacingError` on failure.

    ``requests_per_second`` caps CloudWatch requests (default
    :data:`cloudwatch.REQUESTS_PER_SECOND`, the API's quota; ``0`` for no cap).
    """
    store.authorize(audit.SYNC_STARTED)  # before any AWS call with the host's credentials
    if requests_per_second is None:
        requests_per_second = cloudwatch.REQUESTS_PER_SECOND
    integ = store.get_integration(name)
    if integ.is_demo:
        raise UserFacingError(
            f"{name!r} is demo data; it has no source to sync",
            "add an integration for your own logs, or remove the demo data",
        )
    settings = SourceSettings.from_config(integ.kind, integ.config)
    started = time.monotonic()
    now = now or datetime.now(UTC)
    if settings.kind == "local":
        store.audit(audit.SYNC_STARTED, name, settings.describe())
        summary = SyncSummary(integration=name, kind="local", integrations=[name])
        result = import_paths(store, settings.paths, name, progress=progress)
        for key in ("files", "files_unchanged", "lines", "inserted", "duplicates", "quarantined"):
            setattr(summary, key, getattr(result, key))
        summary.seconds = result.seconds
        return summary
    summary = SyncSummary(integration=name, kind=settings.kind, integrations=[name])
    store.audit(audit.SYNC_STARTED, name, settings.describe())
    store.set_sync_status(integ.id, "running", f"syncing from {settings.describe()}")
    try:
        try:
            settings.validate()
            run = _Run(store, integ, settings, session_factory(settings), summary, now, progress)
            if settings.kind == "cloudwatch":
                _sync_cloudwatch(run, since, batch_lines, requests_per_second)
            else:
                _sync_s3(run, since, batch_lines)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
            raise _explain(err, settings, session_factory) from err
    except UserFacingError as err:
        store.set_sync_status(integ.id, "error", str(err))
        raise
    except BaseException as err:
        if not isinstance(err, KeyboardInterrupt):
            # The details go to the log, never to the screen (an exception name helps nobody).
            log.error("sync of %s stopped: %s", name, safe_reason(err))
        store.set_sync_status(
            integ.id,
            "error",
            "interrupted: what was committed stays; sync again to resume"
            if isinstance(err, KeyboardInterrupt)
            else UNEXPECTED_STOP,
        )
        raise
    summary.seconds = time.monotonic() - started
    store.set_sync_status(integ.id, "ok", summary.describe(), read_to=summary.read_to)
    return summary


def _write(
    store: Store,
    integ: Integration,
    batches: Any,
    summary: SyncSummary,
    batch_lines: int,
    report: Callable[[], None],
) -> None:
    # Progress is reported here, on the caller's thread (the dashboard's st.progress needs that).
    for batch in prefetch(coalesce(batches, batch_lines, max_seconds=COMMIT_EVERY_SECONDS)):
        summary.add(store.write_batch(integ.id, batch))
        report()


@dataclass
class _Run:
    """What one sync of one integration works with, whatever its source."""

    store: Store
    integ: Integration
    settings: SourceSettings
    session: boto3.Session
    summary: SyncSummary
    now: datetime
    progress: ProgressCallback


def _sync_cloudwatch(
    run: _Run, since: datetime | None, batch_lines: int, requests_per_second: float | None
) -> None:
    """Finish an interrupted run first (its window is fixed), then fetch up to now."""
    store, integ, settings, summary, now = run.store, run.integ, run.settings, run.summary, run.now
    logs = aws.client(run.session, "logs", settings.region)
    fetched = requests = 0
    while True:
        saved = store.checkpoints(integ.id, "cloudwatch:")
        window = cloudwatch.plan_window(
            saved, now=now, since=since, first_sync_days=settings.first_sync_days
        )
        positions: dict[str, cloudwatch.Position] = {}
        if window.resumed:
            positions = {
                k: cloudwatch.Position.loads(v)
                for k, v in saved.items()
                if k.startswith(cloudwatch.SLICE_PREFIX)
            }
            summary.resumed = True
        else:
            store.replace_checkpoints(integ.id, {}, [cloudwatch.SLICE_PREFIX, cloudwatch.KEY_RUN])
        summary.window_from = summary.window_from or cloudwatch.from_ms(window.start_ms)
        summary.window_to = cloudwatch.from_ms(window.end_ms)
        reader = cloudwatch.LogGroupReader(
            logs, settings.log_group or "", requests_per_second=requests_per_second
        )

        def report(
            reader: cloudwatch.LogGroupReader = reader,
            before: tuple[int, int] = (fetched, requests),
        ) -> None:
            summary.fetched = before[0] + reader.events
            summary.requests = before[1] + reader.requests
            run.progress(
                Progress(
                    reader.slices_done,
                    reader.slices_total,
                    "slices",
                    f"Syncing {integ.name}",
                    f"{summary.fetched:,} events fetched, {summary.inserted:,} new",
                    read=summary.fetched,
                    stored=summary.inserted,
                )
            )

        _write(store, integ, reader.batches(window, positions), summary, batch_lines, report)
        report()
        fetched, requests = summary.fetched, summary.requests
        synced_to = max(window.end_ms, int(saved.get(cloudwatch.KEY_SYNCED_TO) or 0))
        store.replace_checkpoints(
            integ.id,
            {cloudwatch.KEY_SYNCED_TO: str(synced_to)},
            [cloudwatch.SLICE_PREFIX, cloudwatch.KEY_RUN],
        )
        if not window.resumed:
            return
        since = None  # the interrupted run is done: now from its end to now


def _sync_s3(run: _Run, since: datetime | None, batch_lines: int) -> None:
    """Fetch the objects not processed yet (by key and ETag) from a day before the last sync."""
    store, integ, settings, summary, now = run.store, run.integ, run.settings, run.summary, run.now
    client = aws.client(run.session, "s3", settings.region, connections=s3.WORKERS, adaptive=False)
    bucket, prefix = settings.bucket or "", settings.normalised_prefix
    synced_to = store.get_checkpoint(integ.id, s3.KEY_SYNCED_TO)
    if since is None:
        # Objects land in the hour folder of their records; a day back covers late deliveries.
        since = (
            datetime.fromisoformat(synced_to) - timedelta(days=1)
            if synced_to
            else now - timedelta(days=settings.first_sync_days)
        )
    summary.window_from, summary.window_to, summary.unit = since, now, "objects"
    seen = store.checkpoints(integ.id, s3.OBJECT_PREFIX)
    run.progress(Progress(0, None, "objects", f"Listing s3://{bucket}/{prefix}"))
    todo = [
        obj
        for obj in s3.list_log_objects(client, bucket, prefix, since)
        if seen.get(obj.checkpoint_key) != obj.etag
    ]
    del seen
    reader = s3.BucketReader(client, bucket, prefix)

    def report() -> None:
        summary.fetched = reader.objects_done
        run.progress(
            Progress(
                reader.objects_done,
                len(todo),
                "objects",
                f"Syncing {integ.name}",
                f"{reader.objects_done:,} of {len(todo):,} new objects, {summary.inserted:,} new",
                read=reader.objects_done,
                stored=summary.inserted,
            )
        )

    # Objects are fetched and inflated on other threads and pile up while DuckDB writes; each
    # round of writing takes all that arrived, so small objects share a transaction.
    batches = (reader.to_batch(fetched) for fetched in reader.fetched(todo))
    for group in arrived(batches, lambda batch: batch.nbytes, OBJECT_BUDGET_BYTES):
        for batch in coalesce(group, batch_lines):
            summary.add(store.write_batch(integ.id, batch))
        report()
    report()
    previous = datetime.fromisoformat(synced_to) if synced_to else now
    synced = max(now, previous)
    store.replace_checkpoints(integ.id, {s3.KEY_SYNCED_TO: synced.isoformat()}, [])
    # The next sync lists from a day before ``synced``; older objects' (key, ETag) rows would only
    # grow the table and every sync's lookup. A ``--since`` further back reads those objects
    # again, and their records are recognised by requestId: no total changes.
    store.forget_checkpoints(
        integ.id,
        s3.OBJECT_PREFIX,
        s3.DAY_FOLDER_PATTERN,
        s3.day_folder(synced - S3_CHECKPOINT_DAYS),
    )


def _explain(
    err: Exception, settings: SourceSettings, session_factory: SessionFactory
) -> UserFacingError:
    """An AWS failure during a sync, in words naming the integration's resource and the fix."""
    code = aws.error_code(err)
    if settings.kind == "cloudwatch":
        where = f"the log group {settings.log_group} in {settings.region}"
        if code == "ResourceNotFoundException":
            close = suggest_log_groups(settings, session_factory)
            fix = (
                did_you_mean(close) + " Edit the integration"
                if close
                else "check the log group name and region in Bedrock → Settings → Model "
                "invocation logging, then edit the integration"
            )
            missing = f"There is no log group {settings.log_group!r} in {settings.region}"
            return UserFacingError(missing, fix)
        return aws.explain(
            err,
            f"reading {where}",
            "logs:FilterLogEvents on it to the integration's credentials (the IAM Policy "
            "Checker writes the policy)",
        )
    where = f"reading s3://{settings.bucket}/{settings.normalised_prefix}"
    if code == "NoSuchBucket":
        return UserFacingError(
            f"There is no bucket {settings.bucket!r}",
            "check the bucket name in Bedrock → Settings → Model invocation logging",
        )
    return aws.explain(
        err,
        where,
        "s3:ListBucket and s3:GetObject on it to the integration's credentials "
        "(the IAM Policy Checker writes the policy)",
    )


def log_group_names(
    settings: SourceSettings, session_factory: SessionFactory = default_session
) -> list[str]:
    """The account's log groups in the integration's region (empty if they cannot be listed)."""
    try:
        logs = aws.client(session_factory(settings), "logs", settings.region)
        return cloudwatch.list_log_groups(logs)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, UserFacingError):
        return []


def suggest_log_groups(
    settings: SourceSettings, session_factory: SessionFactory = default_session, n: int = 3
) -> list[str]:
    """Existing log group names close to the configured one (a typo's likely fix)."""
    return close_names(settings.log_group or "", log_group_names(settings, session_factory), n)


def did_you_mean(names: list[str]) -> str:
    """``did you mean 'a' or 'b'?`` — the fix offered for a mistyped name."""
    return "did you mean " + " or ".join(repr(name) for name in names) + "?"


def close_names(name: str, names: list[str], n: int = 3) -> list[str]:
    """Names close to ``name``, ignoring case (``/aws/Bedrock`` vs ``/aws/bedrock``)."""
    lowered = {candidate.lower(): candidate for candidate in names}
    matches = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    return [lowered[m] for m in matches]
