"""The S3 source: its sync (each object once, by key and ETag), its connection check (the
delivery folders, a sample object), its IAM target and its error sentences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.exceptions

from bedrock_explorer import aws
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.iam.checker import BucketTarget
from bedrock_explorer.ingest import Progress, arrived, coalesce
from bedrock_explorer.sources.s3 import reader as s3
from bedrock_explorer.sources.s3.settings import S3Settings
from bedrock_explorer.sources.source import SessionFactory, SyncRun
from bedrock_explorer.verify import (
    FAIL,
    PASS,
    SKIP,
    ConnectionReport,
    LoggingDestinations,
    iam_fix,
    sample_check,
)

_AWS_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)
#: Object checkpoints kept behind the last sync: one more day than the next listing reaches.
S3_CHECKPOINT_DAYS = timedelta(days=2)
#: Bytes of fetched objects (as stored, mostly gzip: ~20k records a MB) held at most while
#: waiting to be written; the fetchers pause above it.
OBJECT_BUDGET_BYTES = 32 * 1024 * 1024


class S3Source:
    check_name = "Bucket and prefix"

    def sync(self, run: SyncRun, since: datetime | None) -> None:
        """Fetch the objects not processed yet (by key and ETag) from a day before the last
        sync."""
        store, integ, settings, summary, now = (
            run.store, run.integ, run.settings, run.summary, run.now,
        )  # fmt: skip
        client = aws.client(
            run.session, "s3", settings.region, connections=s3.WORKERS, adaptive=False
        )
        bucket, prefix = settings.bucket or "", settings.normalised_prefix
        synced_to = store.get_checkpoint(integ.id, s3.KEY_SYNCED_TO)
        if since is None:
            # Objects land in the hour folder of their records; a day back covers late ones.
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
                    f"{reader.objects_done:,} of {len(todo):,} new objects, "
                    f"{summary.inserted:,} new",
                    read=reader.objects_done,
                    stored=summary.inserted,
                )
            )

        # Objects are fetched and inflated on other threads and pile up while DuckDB writes;
        # each round of writing takes all that arrived, so small objects share a transaction.
        batches = (reader.to_batch(fetched) for fetched in reader.fetched(todo))
        for group in arrived(batches, lambda batch: batch.nbytes, OBJECT_BUDGET_BYTES):
            for batch in coalesce(group, run.batch_lines):
                summary.add(store.write_batch(integ.id, batch))
            report()
        report()
        previous = datetime.fromisoformat(synced_to) if synced_to else now
        synced = max(now, previous)
        store.replace_checkpoints(integ.id, {s3.KEY_SYNCED_TO: synced.isoformat()}, [])
        # The next sync lists from a day before ``synced``; older objects' (key, ETag) rows
        # would only grow the table and every sync's lookup. A ``--since`` further back reads
        # those objects again, and their records are recognised by requestId: no total changes.
        store.forget_checkpoints(
            integ.id,
            s3.OBJECT_PREFIX,
            s3.DAY_FOLDER_PATTERN,
            s3.day_folder(synced - S3_CHECKPOINT_DAYS),
        )

    def explain(
        self, err: Exception, settings: S3Settings, session_factory: SessionFactory
    ) -> UserFacingError:
        if aws.error_code(err) == "NoSuchBucket":
            return UserFacingError(
                f"There is no bucket {settings.bucket!r}",
                "check the bucket name in Bedrock → Settings → Model invocation logging",
            )
        return aws.explain(
            err,
            f"reading s3://{settings.bucket}/{settings.normalised_prefix}",
            "s3:ListBucket and s3:GetObject on it to the integration's credentials "
            "(the IAM Policy Checker writes the policy)",
        )

    def check_source(
        self, report: ConnectionReport, settings: S3Settings, session: Any, now: datetime
    ) -> None:
        bucket, prefix = settings.bucket or "", settings.normalised_prefix
        client = aws.client(session, "s3", settings.region)
        name = self.check_name
        try:
            folders = s3.region_folders(client, bucket, prefix)
            newest: Any = None
            for folder in folders:
                for page in client.get_paginator("list_objects_v2").paginate(
                    Bucket=bucket, Prefix=folder
                ):
                    for obj in page.get("Contents", []):
                        key = obj["Key"]
                        if s3.is_log_key(key) and (newest is None or key > newest["Key"]):
                            newest = obj
        except _AWS_ERRORS as err:
            if aws.error_code(err) == "NoSuchBucket":
                report.add(name, FAIL, f"There is no bucket {bucket!r}", "check the bucket name")
            else:
                explained = aws.explain(err, f"listing s3://{bucket}/{prefix}", "s3:ListBucket")
                report.add(name, FAIL, explained.message, iam_fix(explained))
            report.add("Sample record", SKIP, "not checked: the bucket could not be listed")
            return
        if newest is None:
            report.add(
                name,
                FAIL,
                f"No Bedrock log objects under s3://{bucket}/{prefix}AWSLogs/",
                "check the bucket and the key prefix in Bedrock's logging settings (the prefix "
                "is what comes before AWSLogs/)",
            )
            report.add("Sample record", SKIP, "not checked: no log objects")
            return
        report.add(name, PASS, f"Log objects found in {len(folders)} account/region folder(s)")
        try:
            body = client.get_object(Bucket=bucket, Key=newest["Key"])["Body"].read()
            data, _damage = s3.inflate_bounded(body)  # a damaged tail spares the first line
        except _AWS_ERRORS as err:
            explained = aws.explain(err, f"reading {newest['Key']}", "s3:GetObject")
            report.add("Sample record", FAIL, explained.message, iam_fix(explained))
            return
        first = data.split(b"\n", 1)[0].decode("utf-8", errors="replace")
        modified = newest.get("LastModified")
        sample_check(report, first, modified.astimezone(UTC) if modified else None, now)

    def logging_mismatch(
        self, found: LoggingDestinations, settings: S3Settings
    ) -> tuple[str, str] | None:
        if found.bucket == settings.bucket:
            return None
        fix = (
            f"read the bucket {found.bucket} instead"
            if found.bucket
            else f"add a CloudWatch integration for {found.log_group} instead"
        )
        return f", not to {settings.bucket}", fix

    def known_values(self, settings: S3Settings, session_factory: SessionFactory) -> list[str]:
        return []  # listing buckets needs s3:ListAllMyBuckets, which a sync never needs

    def check_known(self, settings: S3Settings, known: list[str]) -> None:
        return None

    def iam_target(self, settings: S3Settings, account: str) -> BucketTarget:
        return BucketTarget(settings.bucket or "", settings.prefix)

    def deferred(self, summary: Any) -> str:
        return ""


SOURCE = S3Source()
