"""The connection test: can this integration read Bedrock invocation logs, and are there any?

Used by the wizard's *Enable logs* and *Verify* steps, by the Integrations page's "Test connection"
and by ``integrations test``. Each check ends ``pass``, ``warn`` or ``fail`` with a sentence that
says what to do; a check that cannot run because an earlier one failed is ``skip``. Nothing here
changes anything in AWS.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.exceptions

from bedrock_explorer import aws, records
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.sources import cloudwatch, s3
from bedrock_explorer.sources.settings import SourceSettings
from bedrock_explorer.sync import SessionFactory, close_names, default_session, did_you_mean

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
_AWS_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)
STALE_AFTER = timedelta(days=2)


@dataclass
class Check:
    name: str
    status: str
    message: str
    fix: str = ""


@dataclass
class LoggingDestinations:
    """Where Bedrock model invocation logging delivers in one region (``None``: logging off)."""

    log_group: str | None = None
    bucket: str | None = None
    prefix: str = ""
    text: bool = False

    @classmethod
    def from_response(cls, response: dict[str, Any]) -> LoggingDestinations | None:
        config = response.get("loggingConfig")
        if not config:
            return None
        cw = config.get("cloudWatchConfig") or {}
        s3cfg = config.get("s3Config") or {}
        return cls(
            log_group=cw.get("logGroupName") or None,
            bucket=s3cfg.get("bucketName") or None,
            prefix=s3cfg.get("keyPrefix") or "",
            text=bool(config.get("textDataDeliveryEnabled")),
        )

    def describe(self) -> str:
        where = []
        if self.log_group:
            where.append(f"CloudWatch Logs log group {self.log_group}")
        if self.bucket:
            where.append(
                f"S3 bucket {self.bucket}" + (f" (prefix {self.prefix})" if self.prefix else "")
            )
        return " and ".join(where) or "no destination"


@dataclass
class ConnectionReport:
    checks: list[Check] = field(default_factory=list)
    caller_arn: str | None = None
    logging: LoggingDestinations | None = None
    newest_event: datetime | None = None
    suggestions: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    def add(self, name: str, status: str, message: str, fix: str = "") -> None:
        self.checks.append(Check(name, status, message, fix))

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


def logging_destinations(session: Any, region: str) -> LoggingDestinations | None:
    """Bedrock's model invocation logging configuration of a region (``None``: off)."""
    bedrock = aws.client(session, "bedrock", region)
    return LoggingDestinations.from_response(bedrock.get_model_invocation_logging_configuration())


def check_connection(
    settings: SourceSettings,
    session_factory: SessionFactory = default_session,
    now: datetime | None = None,
) -> ConnectionReport:
    """Run every check for an integration's settings (saved or not yet saved)."""
    now = now or datetime.now(UTC)
    report = ConnectionReport()
    names = ["AWS credentials", "Model invocation logging", _source_check_name(settings)]
    names += ["Sample record"]
    try:
        settings.validate()
        session = session_factory(settings)
        who = aws.client(session, "sts", settings.region).get_caller_identity()
    except UserFacingError as err:
        return _skip_rest(report, names, err.message, err.fix or "")
    except _AWS_ERRORS as err:
        explained = aws.explain(err, "signing in to AWS")
        return _skip_rest(report, names, explained.message, explained.fix or "")
    report.caller_arn = who.get("Arn")
    report.add(names[0], PASS, f"Signed in as {who.get('Arn')} (account {who.get('Account')})")
    _check_logging(report, settings, session)
    if settings.kind == "cloudwatch":
        _check_log_group(report, settings, session, now)
    else:
        _check_bucket(report, settings, session, now)
    return report


def _source_check_name(settings: SourceSettings) -> str:
    return "Log group" if settings.kind == "cloudwatch" else "Bucket and prefix"


def _skip_rest(
    report: ConnectionReport, names: list[str], message: str, fix: str
) -> ConnectionReport:
    report.add(names[0], FAIL, message, fix)
    for name in names[1:]:
        report.add(name, SKIP, "not checked: the credentials come first")
    return report


def _check_logging(report: ConnectionReport, settings: SourceSettings, session: Any) -> None:
    name = "Model invocation logging"
    region = settings.region or ""
    try:
        found = logging_destinations(session, region)
    except _AWS_ERRORS as err:
        explained = aws.explain(err, f"reading Bedrock's logging settings in {region}")
        report.add(
            name,
            WARN,
            f"Could not read the logging configuration: {explained.message}",
            "optional: grant bedrock:GetModelInvocationLoggingConfiguration so this check can run",
        )
        return
    report.logging = found
    if found is None:
        report.add(
            name,
            FAIL,
            f"Model invocation logging is off in {region}: Bedrock records nothing to analyse",
            "Bedrock console → Settings → Model invocation logging: turn it on, tick Text, and "
            "choose CloudWatch Logs or S3 as the destination",
        )
        return
    message = f"On in {region}, delivering to {found.describe()}"
    status, fix = PASS, ""
    if settings.kind == "cloudwatch" and found.log_group != settings.log_group:
        status = WARN
        fix = (
            f"read the log group {found.log_group} instead"
            if found.log_group
            else f"add an S3 integration for bucket {found.bucket} instead"
        )
        message += f", not to {settings.log_group}"
    elif settings.kind == "s3" and found.bucket != settings.bucket:
        status = WARN
        fix = (
            f"read the bucket {found.bucket} instead"
            if found.bucket
            else f"add a CloudWatch integration for {found.log_group} instead"
        )
        message += f", not to {settings.bucket}"
    if not found.text:
        status = WARN
        message += "; text delivery is off, so text-model invocations are not logged"
        fix = fix or "tick Text in Bedrock's model invocation logging settings"
    report.add(name, status, message, fix)


def _check_log_group(
    report: ConnectionReport, settings: SourceSettings, session: Any, now: datetime
) -> None:
    """The log group exists (when it may be listed) and a record can be read the way the sync
    reads it: ``FilterLogEvents`` only, so the test needs no permission the sync does not."""
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
            f"Cannot list the log groups of {region} (logs:DescribeLogGroups is not allowed); "
            "syncs do not need it, the sample below checks the group itself",
            "optional: allow logs:DescribeLogGroups on arn:aws:logs:REGION:ACCOUNT:log-group:* "
            "for the wizard's picker and typo suggestions",
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
        code = aws.error_code(err)
        if code == "ResourceNotFoundException":
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
        report.add("Sample record", FAIL, explained.message, _iam_fix(explained))
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
    _sample(
        report,
        event.get("message") or "",
        cloudwatch.from_ms(stamp) if stamp else None,
        now,
        recent=recent,
    )


def _check_bucket(
    report: ConnectionReport, settings: SourceSettings, session: Any, now: datetime
) -> None:
    bucket, prefix = settings.bucket or "", settings.normalised_prefix
    client = aws.client(session, "s3", settings.region)
    name = "Bucket and prefix"
    try:
        folders = s3.region_folders(client, bucket, prefix)
        newest: Any = None
        for folder in folders:
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=folder
            ):
                for obj in page.get("Contents", []):
                    if s3.is_log_key(obj["Key"]) and (newest is None or obj["Key"] > newest["Key"]):
                        newest = obj
    except _AWS_ERRORS as err:
        code = aws.error_code(err)
        if code == "NoSuchBucket":
            report.add(name, FAIL, f"There is no bucket {bucket!r}", "check the bucket name")
        else:
            explained = aws.explain(err, f"listing s3://{bucket}/{prefix}", "s3:ListBucket")
            report.add(name, FAIL, explained.message, _iam_fix(explained))
        report.add("Sample record", SKIP, "not checked: the bucket could not be listed")
        return
    if newest is None:
        report.add(
            name,
            FAIL,
            f"No Bedrock log objects under s3://{bucket}/{prefix}AWSLogs/",
            "check the bucket and the key prefix in Bedrock's logging settings (the prefix is "
            "what comes before AWSLogs/)",
        )
        report.add("Sample record", SKIP, "not checked: no log objects")
        return
    report.add(name, PASS, f"Log objects found in {len(folders)} account/region folder(s)")
    try:
        body = client.get_object(Bucket=bucket, Key=newest["Key"])["Body"].read()
        data, _damage = s3.inflate_bounded(body)  # a damaged tail does not spoil the first line
    except _AWS_ERRORS as err:
        explained = aws.explain(err, f"reading {newest['Key']}", "s3:GetObject")
        report.add("Sample record", FAIL, explained.message, _iam_fix(explained))
        return
    first = data.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    modified = newest.get("LastModified")
    _sample(report, first, modified.astimezone(UTC) if modified else None, now)


def _sample(
    report: ConnectionReport,
    line: str,
    newest: datetime | None,
    now: datetime,
    *,
    recent: bool | None = None,
) -> None:
    """``recent``: whether the sample came from the last :data:`STALE_AFTER` (CloudWatch's
    sample is the oldest of its window, so its own time says little); ``None``: judge by
    ``newest`` (S3's newest object)."""
    report.newest_event = newest
    parsed = records.parse_line(line)
    if isinstance(parsed, records.ParseError):
        report.add(
            "Sample record",
            WARN,
            f"The newest record does not parse ({parsed.reason}); it would be quarantined",
            "check that this is a Bedrock model invocation log, not another log",
        )
        return
    age = ""
    status = PASS
    if recent is not None and newest is not None:
        age = f"; logged {newest:%Y-%m-%d %H:%M} UTC"
        status = PASS if recent else WARN
    elif newest is not None:
        age = f"; newest event {newest:%Y-%m-%d %H:%M} UTC"
        if now - newest > STALE_AFTER:
            status = WARN
    report.add(
        "Sample record",
        status,
        f"A record parses: {parsed.operation} on {parsed.model_id}{age}",
        "no invocation for over two days: is logging still on, in this region?"
        if status == WARN
        else "",
    )


def _iam_fix(err: UserFacingError) -> str:
    return (err.fix or "") + " (the IAM Policy Checker writes the policy)"
