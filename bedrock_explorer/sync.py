"""Sync an integration: fetch what is new from CloudWatch Logs, S3 or local files into the store.

One entry point for the CLI (cron), the dashboard's "Sync now" and the wizard's first sync. A sync
never leaves the store inconsistent: rows and checkpoints commit together per batch, so a failure
or a kill keeps what was committed and the next sync resumes from there; the integration records
the outcome (``ok`` or ``error`` with the sentence and the fix) for the Integrations page.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import boto3
import botocore.exceptions

from bedrock_explorer import audit, aws
from bedrock_explorer.errors import UserFacingError, safe_reason
from bedrock_explorer.ingest import ImportSummary, Progress, ProgressCallback
from bedrock_explorer.sources import registry
from bedrock_explorer.sources.cloudwatch import reader as cloudwatch_reader
from bedrock_explorer.sources.settings import RemoteSettings
from bedrock_explorer.sources.source import SessionFactory, SyncRun
from bedrock_explorer.store import Integration, Store

#: Lines per transaction during a sync. Smaller than an import's row group: a sync is bound by
#: the network, and a commit every ~16k events keeps the progress bar and the resume point fresh.
SYNC_BATCH_LINES = 16_384

#: What a user sees when a sync stopped on something that is not an AWS or input problem.
UNEXPECTED_STOP = (
    "The sync stopped on an unexpected problem (the details are in the log of the dashboard or "
    "the CLI). What it stored is kept: Sync now resumes where it stopped"
)
log = logging.getLogger(__name__)


def _no_progress(_: Progress) -> None:
    return None


def default_session(settings: RemoteSettings) -> boto3.Session:
    return aws.session_for(settings.auth, settings.region)


def integration_session(integ: Integration) -> boto3.Session:
    """The AWS session of an integration's own settings (its profile or role), for the calls
    beside its sync: coverage, the bill. Callers check first that its kind reads AWS
    (``registry.reads_aws``), each with its own sentence for a files-on-disk integration."""
    settings = registry.settings_from_config(integ.kind, integ.config)
    if not isinstance(settings, RemoteSettings):
        raise TypeError(f"{integ.kind} integrations have no AWS session")
    return default_session(settings)


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
        """How far this sync read: the end of its window (CloudWatch stops a few minutes
        before the sync's start on purpose, S3 reads what is delivered; an import of a folder
        has no window)."""
        return self.window_to

    def describe(self) -> str:
        if not registry.settings_class(self.kind).remote:
            return super().describe()
        span = ""
        if self.window_from and self.window_to:
            span = (
                f" ({self.window_from:%Y-%m-%d %H:%M} → {self.window_to:%Y-%m-%d %H:%M} UTC"
                + (", resumed" if self.resumed else "")
                + ")"
            )
        deferred = registry.source(self.kind).deferred(self)
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
    :data:`~bedrock_explorer.sources.cloudwatch.reader.REQUESTS_PER_SECOND`, the API's quota;
    ``0`` for no cap).
    """
    store.authorize(audit.SYNC_STARTED)  # before any AWS call with the host's credentials
    if requests_per_second is None:
        requests_per_second = cloudwatch_reader.REQUESTS_PER_SECOND
    integ = store.get_integration(name)
    if integ.is_demo:
        raise UserFacingError(
            f"{name!r} is demo data; it has no source to sync",
            "add an integration for your own logs, or remove the demo data",
        )
    settings = registry.settings_from_config(integ.kind, integ.config)
    source = registry.source(integ.kind)
    started = time.monotonic()
    now = now or datetime.now(UTC)
    summary = SyncSummary(integration=name, kind=settings.kind, integrations=[name])
    store.audit(audit.SYNC_STARTED, name, settings.describe())

    def run(session: boto3.Session | None) -> SyncRun:
        return SyncRun(
            store, integ, settings, session, summary, now, progress, batch_lines,
            requests_per_second,
        )  # fmt: skip

    if not settings.remote:  # an import: it keeps the integration's status itself
        source.sync(run(None), since)
        return summary
    store.set_sync_status(integ.id, "running", f"syncing from {settings.describe()}")
    try:
        try:
            settings.validate()
            source.sync(run(session_factory(settings)), since)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
            raise source.explain(err, settings, session_factory) from err
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
