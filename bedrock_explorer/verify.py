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
from bedrock_explorer.sources import registry
from bedrock_explorer.sources.settings import RemoteSettings, SourceSettings
from bedrock_explorer.sources.source import SessionFactory
from bedrock_explorer.sync import default_session

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
    """Run every check for an integration's settings (saved or not yet saved): the
    credentials and the logging configuration here, the source itself by its kind."""
    now = now or datetime.now(UTC)
    report = ConnectionReport()
    source = registry.source(settings.kind)
    names = ["AWS credentials", "Model invocation logging", source.check_name, "Sample record"]
    if not isinstance(settings, RemoteSettings):
        report.add(source.check_name, SKIP, "a folder on this machine needs no connection test")
        return report
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
    source.check_source(report, settings, session, now)
    return report


def _skip_rest(
    report: ConnectionReport, names: list[str], message: str, fix: str
) -> ConnectionReport:
    report.add(names[0], FAIL, message, fix)
    for name in names[1:]:
        report.add(name, SKIP, "not checked: the credentials come first")
    return report


def _check_logging(report: ConnectionReport, settings: RemoteSettings, session: Any) -> None:
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
    elsewhere = registry.source(settings.kind).logging_mismatch(found, settings)
    if elsewhere is not None:
        status = WARN
        message += elsewhere[0]
        fix = elsewhere[1]
    if not found.text:
        status = WARN
        message += "; text delivery is off, so text-model invocations are not logged"
        fix = fix or "tick Text in Bedrock's model invocation logging settings"
    report.add(name, status, message, fix)


def sample_check(
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


def iam_fix(err: UserFacingError) -> str:
    return (err.fix or "") + " (the IAM Policy Checker writes the policy)"
