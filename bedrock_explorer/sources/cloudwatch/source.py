"""The CloudWatch Logs source: its sync (resumable time slices), its connection check (the log
group, a sample event), its IAM target and its error sentences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import botocore.exceptions

from bedrock_explorer import aws
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.iam.checker import LogGroupTarget
from bedrock_explorer.ingest import Progress, coalesce, prefetch
from bedrock_explorer.sources.cloudwatch import reader as cloudwatch
from bedrock_explorer.sources.cloudwatch.settings import CloudWatchSettings
from bedrock_explorer.sources.source import SessionFactory, SyncRun
from bedrock_explorer.sources.suggest import close_names, did_you_mean
from bedrock_explorer.verify import (
    FAIL,
    PASS,
    SKIP,
    WARN,
    ConnectionReport,
    LoggingDestinations,
    iam_fix,
    sample_check,
)

_AWS_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)
#: A sync commits at least this often when events arrive slowly (progress, resume points).
COMMIT_EVERY_SECONDS = 2.0


class CloudWatchSource:
    check_name = "Log group"

    def sync(self, run: SyncRun, since: datetime | None) -> None:
        """Finish an interrupted run first (its window is fixed), then fetch up to now."""
        store, integ, settings, summary = run.store, run.integ, run.settings, run.summary
        logs = aws.client(run.session, "logs", settings.region)
        fetched = requests = 0
        while True:
            saved = store.checkpoints(integ.id, "cloudwatch:")
            window = cloudwatch.plan_window(
                saved, now=run.now, since=since, first_sync_days=settings.first_sync_days
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
                store.replace_checkpoints(
                    integ.id, {}, [cloudwatch.SLICE_PREFIX, cloudwatch.KEY_RUN]
                )
            summary.window_from = summary.window_from or cloudwatch.from_ms(window.start_ms)
            summary.window_to = cloudwatch.from_ms(window.end_ms)
            reader = cloudwatch.LogGroupReader(
                logs, settings.log_group or "", requests_per_second=run.requests_per_second
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

            # Progress is reported here, on the caller's thread (st.progress needs that).
            batches = reader.batches(window, positions)
            for batch in prefetch(
                coalesce(batches, run.batch_lines, max_seconds=COMMIT_EVERY_SECONDS)
            ):
                summary.add(store.write_batch(integ.id, batch))
                report()
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

    def explain(
        self, err: Exception, settings: CloudWatchSettings, session_factory: SessionFactory
    ) -> UserFacingError:
        if aws.error_code(err) == "ResourceNotFoundException":
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
            f"reading the log group {settings.log_group} in {settings.region}",
            "logs:FilterLogEvents on it to the integration's credentials (the IAM Policy "
            "Checker writes the policy)",
        )

    def check_source(
        self, report: ConnectionReport, settings: CloudWatchSettings, session: Any, now: datetime
    ) -> None:
        """The log group exists (when it may be listed) and a record can be read the way the
        sync reads it: ``FilterLogEvents`` only, so the test needs no permission the sync does
        not."""
        group, region = settings.log_group or "", settings.region or ""
        logs = aws.client(session, "logs", region)
        listed = True
        try:
            exists = cloudwatch.log_group_exists(logs, group)
            if not exists:
                report.suggestions = close_names(group, cloudwatch.list_log_groups(logs))
        except _AWS_ERRORS as err:
            if not aws.is_access_denied(err):
                explained = aws.explain(err, f"looking for the log group {group}")
                report.add("Log group", FAIL, explained.message, explained.fix or "")
                report.add("Sample record", SKIP, "not checked: the log group could not be read")
                return
            listed, exists = False, True
            report.add(
                "Log group",
                WARN,
                f"Cannot list the log groups of {region} (logs:DescribeLogGroups is not "
                "allowed); syncs do not need it, the sample below checks the group itself",
                "optional: allow logs:DescribeLogGroups on "
                "arn:aws:logs:REGION:ACCOUNT:log-group:* for the wizard's picker and typo "
                "suggestions",
            )
        if not exists:
            fix = (
                did_you_mean(report.suggestions)
                if report.suggestions
                else "copy the exact name from Bedrock → Settings → Model invocation logging "
                "(names are case-sensitive), and check the region"
            )
            report.add("Log group", FAIL, f"There is no log group {group!r} in {region}", fix)
            report.add("Sample record", SKIP, "not checked: no log group")
            return
        if listed:
            report.add("Log group", PASS, f"{group} exists in {region}")
        try:
            event, recent = cloudwatch.sample_event(logs, group, now)
        except _AWS_ERRORS as err:
            if aws.error_code(err) == "ResourceNotFoundException":
                report.add(
                    "Sample record",
                    FAIL,
                    f"There is no log group {group!r} in {region}",
                    "copy the exact name from Bedrock → Settings → Model invocation logging",
                )
                return
            explained = aws.explain(
                err, f"reading a sample event from {group}", "logs:FilterLogEvents on the log group"
            )
            report.add("Sample record", FAIL, explained.message, iam_fix(explained))
            return
        if event is None:
            report.add(
                "Sample record",
                WARN,
                "The log group has no events yet",
                "invoke a model in this region, then test again in a few minutes",
            )
            return
        stamp = event.get("timestamp")
        sample_check(
            report,
            event.get("message") or "",
            cloudwatch.from_ms(stamp) if stamp else None,
            now,
            recent=recent,
        )

    def logging_mismatch(
        self, found: LoggingDestinations, settings: CloudWatchSettings
    ) -> tuple[str, str] | None:
        if found.log_group == settings.log_group:
            return None
        fix = (
            f"read the log group {found.log_group} instead"
            if found.log_group
            else f"add an S3 integration for bucket {found.bucket} instead"
        )
        return f", not to {settings.log_group}", fix

    def known_values(
        self, settings: CloudWatchSettings, session_factory: SessionFactory
    ) -> list[str]:
        return log_group_names(settings, session_factory)

    def check_known(self, settings: CloudWatchSettings, known: list[str]) -> None:
        check_log_group_name(settings, known)

    def iam_target(self, settings: CloudWatchSettings, account: str) -> LogGroupTarget:
        arn = f"arn:aws:logs:{settings.region}:{account}:log-group:{settings.log_group}"
        return LogGroupTarget.from_arn(arn)

    def deferred(self, summary: Any) -> str:
        if not summary.window_to:
            return ""
        minutes = int(cloudwatch.LATENCY_BUFFER.total_seconds() // 60)
        return (
            f"; read up to {summary.window_to:%H:%M} UTC — the last {minutes} minutes come with "
            "the next sync (CloudWatch may still be receiving them)"
        )


def log_group_names(settings: CloudWatchSettings, session_factory: SessionFactory) -> list[str]:
    """The account's log groups in the integration's region (empty if they cannot be listed)."""
    try:
        logs = aws.client(session_factory(settings), "logs", settings.region)
        return cloudwatch.list_log_groups(logs)
    except (*_AWS_ERRORS, UserFacingError):
        return []


def suggest_log_groups(
    settings: CloudWatchSettings, session_factory: SessionFactory, n: int = 3
) -> list[str]:
    """Existing log group names close to the configured one (a typo's likely fix)."""
    return close_names(settings.log_group or "", log_group_names(settings, session_factory), n)


def check_log_group_name(settings: CloudWatchSettings, known: list[str]) -> None:
    """Catch a typo before saving: the name must be one of the account's log groups."""
    name = settings.log_group or ""
    if not known or name in known:
        return
    close = close_names(name, known)
    fix = (
        did_you_mean(close)
        if close
        else "pick one of the account's log groups, or check the region"
    )
    raise UserFacingError(f"There is no log group {name!r} in {settings.region}", fix)


SOURCE = CloudWatchSource()
