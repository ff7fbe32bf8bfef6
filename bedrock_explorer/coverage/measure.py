"""Read what AWS measured for an integration's account: the logging configuration of every
region it uses, and the ``AWS/Bedrock`` metrics per UTC day, into the store.

Which regions: the integration's own, the regions its logs hold, the ones the user names, and
every region where ``cloudwatch:ListMetrics`` finds Bedrock metrics (ListMetrics only lists
metrics with data in the last two weeks, so model ids the logs hold are asked for too).

Each region stands alone: a region whose metrics are refused (AccessDenied) keeps its logging
configuration and its error, and the other regions are still read. Costs: ``GetMetricData``
is billed per metric asked ($0.01 per 1,000), ``ListMetrics`` and the logging call are free;
:class:`Measured` counts them so the CLI can say what a refresh asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import botocore.exceptions

from bedrock_explorer import aws
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.pricing import points
from bedrock_explorer.store import Store
from bedrock_explorer.store.writer import insert_model_id

NAMESPACE = "AWS/Bedrock"
#: The action an admin-only refresh is checked as (it calls AWS with the host's credentials).
COVERAGE_REFRESHED = "coverage refreshed"
#: Per model id: what the logs are compared with.
USAGE_METRICS = ("Invocations", "InputTokenCount", "OutputTokenCount")
#: Account-wide log delivery, per destination (the large-data ones: bodies offloaded to S3).
DELIVERY_METRICS = (
    "ModelInvocationLogsCloudWatchDeliverySuccess",
    "ModelInvocationLogsCloudWatchDeliveryFailure",
    "ModelInvocationLogsS3DeliverySuccess",
    "ModelInvocationLogsS3DeliveryFailure",
    "ModelInvocationLargeDataS3DeliverySuccess",
    "ModelInvocationLargeDataS3DeliveryFailure",
)
#: GetMetricData takes at most 500 metrics per request.
_PER_REQUEST = 500
_AWS_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)
#: Regions to look in when the SDK lists none (it lists every region with a Bedrock endpoint).
_FALLBACK_REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1")


@dataclass
class RegionResult:
    """One region's read: the logging configuration, the metrics, and what failed."""

    region: str
    logging_on: bool | None = None
    metrics: int = 0
    logging_error: str | None = None
    metrics_error: str | None = None


@dataclass
class Measured:
    """What a refresh read, and what it asked of AWS."""

    regions: list[RegionResult] = field(default_factory=list)
    metric_requests: int = 0
    metrics_asked: int = 0

    @property
    def errors(self) -> list[str]:
        return [
            f"{r.region}: {e}"
            for r in self.regions
            for e in (r.logging_error, r.metrics_error)
            if e
        ]


def _sentence(err: Exception, doing: str, needs: str) -> str:
    explained = aws.explain(err, doing, needs)
    return f"{explained.message} — {explained.fix}" if explained.fix else explained.message


def candidate_regions(session: Any) -> list[str]:
    """Every region with a Bedrock endpoint, from the SDK's own endpoint data."""
    try:
        found = list(session.get_available_regions("bedrock"))
    except (AttributeError, *_AWS_ERRORS):
        found = []
    return found or list(_FALLBACK_REGIONS)


def _listed(cw: Any) -> tuple[set[str], set[str]]:
    """(model ids, delivery metric names) with Bedrock metrics in a region (last two weeks)."""
    models: set[str] = set()
    delivery: set[str] = set()
    for page in cw.get_paginator("list_metrics").paginate(Namespace=NAMESPACE):
        for metric in page.get("Metrics", []):
            name = metric.get("MetricName", "")
            dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
            if name in USAGE_METRICS and "ModelId" in dims:
                models.add(dims["ModelId"])
            elif "Delivery" in name and not dims:
                delivery.add(name)
    return models, delivery


def active_regions(session: Any, regions: Iterable[str]) -> list[str]:
    """The regions among ``regions`` where the account has Bedrock metrics. A region that
    refuses (not opted in, or no access) is skipped: it is checked only when named."""
    found = []
    for region in regions:
        cw = aws.client(session, "cloudwatch", region, attempts=2)
        try:
            page = cw.list_metrics(Namespace=NAMESPACE)
        except _AWS_ERRORS:
            continue
        if page.get("Metrics"):
            found.append(region)
    return found


def _logging(session: Any, region: str) -> dict[str, Any]:
    """The region's logging configuration as stored columns (``logging_on`` False: off)."""
    bedrock = aws.client(session, "bedrock", region)
    config = bedrock.get_model_invocation_logging_configuration().get("loggingConfig") or {}
    cw = config.get("cloudWatchConfig") or {}
    s3 = config.get("s3Config") or {}
    on = bool(cw.get("logGroupName") or s3.get("bucketName"))
    return {
        "logging_on": on,
        "log_group": cw.get("logGroupName") or None,
        "bucket": s3.get("bucketName") or None,
        "prefix": s3.get("keyPrefix") or None,
        "text_delivery": bool(config.get("textDataDeliveryEnabled")) if on else None,
        "image_delivery": bool(config.get("imageDataDeliveryEnabled")) if on else None,
        "embedding_delivery": bool(config.get("embeddingDataDeliveryEnabled")) if on else None,
        "video_delivery": bool(config.get("videoDataDeliveryEnabled")) if on else None,
    }


def _metric_rows(
    cw: Any, queries: list[tuple[str, str]], start: datetime, end: datetime, measured: Measured
) -> list[tuple[date, str, str, float]]:
    """Daily sums of (model id or '', metric) pairs: (day, model id, metric, value)."""
    rows: list[tuple[date, str, str, float]] = []
    for offset in range(0, len(queries), _PER_REQUEST):
        chunk = queries[offset : offset + _PER_REQUEST]
        asked = [
            {
                "Id": f"q{i}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": metric,
                        "Dimensions": [{"Name": "ModelId", "Value": model}] if model else [],
                    },
                    "Period": 86400,
                    "Stat": "Sum",
                },
                "ReturnData": True,
            }
            for i, (model, metric) in enumerate(chunk)
        ]
        measured.metrics_asked += len(asked)
        token = None
        while True:
            kwargs: dict[str, Any] = {
                "MetricDataQueries": asked, "StartTime": start, "EndTime": end,
            }  # fmt: skip
            if token:
                kwargs["NextToken"] = token
            page = cw.get_metric_data(**kwargs)
            measured.metric_requests += 1
            for result in page.get("MetricDataResults", []):
                model, metric = chunk[int(result["Id"][1:])]
                for stamp, value in zip(result["Timestamps"], result["Values"], strict=True):
                    day = stamp.astimezone(UTC).date() if stamp.tzinfo else stamp.date()
                    rows.append((day, model, metric, float(value)))
            token = page.get("NextToken")
            if not token:
                break
    return rows


def refresh(
    store: Store,
    integration: str,
    session: Any,
    start: date,
    end: date,
    *,
    regions: Iterable[str] = (),
    scan: Callable[[Any], list[str]] | None = candidate_regions,
    now: datetime | None = None,
) -> Measured:
    """Read the logging configuration and the metrics of the days ``start``..``end`` (UTC,
    inclusive) for one integration, replacing what was stored for those days.

    ``regions`` are checked whatever the metrics say; ``scan`` lists the regions searched for
    Bedrock metrics (``None``: none searched)."""
    store.authorize(COVERAGE_REFRESHED)  # it reads AWS with the host's credentials
    now = now or datetime.now(UTC)
    integ = store.get_integration(integration)
    require_aws(integ.kind)
    from bedrock_explorer.sources import registry  # the settings of its kind

    settings = registry.settings_from_config(integ.kind, integ.config)
    own = getattr(settings, "region", None)
    logged = [
        r[0]
        for r in store.con.execute(
            "SELECT DISTINCT region FROM invocations WHERE integration_id = ? AND region IS NOT "
            "NULL AND ts >= ? AND ts < ?",
            [integ.id, _midnight(start), _midnight(end + timedelta(days=1))],
        ).fetchall()
    ]
    wanted = list(dict.fromkeys([*(r for r in [own] if r), *regions, *logged]))
    if scan is not None:
        wanted = list(dict.fromkeys([*wanted, *active_regions(session, scan(session))]))
    measured = Measured()
    begin, finish = _midnight(start), _midnight(end + timedelta(days=1))
    for region in wanted:
        result = RegionResult(region)
        columns: dict[str, Any] = {}
        try:
            columns = _logging(session, region)
            result.logging_on = columns["logging_on"]
        except _AWS_ERRORS as err:
            result.logging_error = _sentence(
                err,
                f"reading the model invocation logging configuration of {region}",
                f"bedrock:GetModelInvocationLoggingConfiguration in {region}",
            )
        rows: list[tuple[date, str, str, float]] = []
        try:
            cw = aws.client(session, "cloudwatch", region)
            models, delivery = _listed(cw)
            models |= {
                m[0]
                for m in store.con.execute(
                    "SELECT DISTINCT model_id FROM invocations WHERE integration_id = ? AND "
                    "region = ? AND ts >= ? AND ts < ?",
                    [integ.id, region, begin, finish],
                ).fetchall()
            }
            queries = [(m, metric) for m in sorted(models) for metric in USAGE_METRICS]
            queries += [("", name) for name in sorted(delivery | set(DELIVERY_METRICS))]
            rows = _metric_rows(cw, queries, begin, finish, measured)
            result.metrics = len(rows)
        except _AWS_ERRORS as err:
            result.metrics_error = _sentence(
                err,
                f"reading the AWS/Bedrock metrics of {region}",
                f"cloudwatch:ListMetrics and cloudwatch:GetMetricData in {region}",
            )
        _store_region(store, integ.id, region, start, end, columns, result, rows, now)
        measured.regions.append(result)
    return measured


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time())


def _store_region(
    store: Store,
    integration_id: int,
    region: str,
    start: date,
    end: date,
    columns: dict[str, Any],
    result: RegionResult,
    rows: list[tuple[date, str, str, float]],
    now: datetime,
) -> None:
    """One region's read, in one transaction: its days replaced only if the metrics were read
    (a refused read keeps the figures of an earlier one), its model ids priced."""
    stamp = now.astimezone(UTC).replace(tzinfo=None)
    names = (
        "logging_on", "log_group", "bucket", "prefix", "text_delivery", "image_delivery",
        "embedding_delivery", "video_delivery",
    )  # fmt: skip
    with store.transaction():
        cur = store.con
        old = cur.execute(
            f"SELECT {', '.join(names)} FROM coverage_regions "
            "WHERE integration_id = ? AND region = ?",
            [integration_id, region],
        ).fetchall()
        kept = dict(zip(names, old[0], strict=True)) if old and result.logging_error else {}
        values = {n: columns.get(n, kept.get(n)) for n in names}
        cur.execute(
            "DELETE FROM coverage_regions WHERE integration_id = ? AND region = ?",
            [integration_id, region],
        )
        cur.execute(
            f"INSERT INTO coverage_regions (integration_id, region, checked_at, "
            f"{', '.join(names)}, logging_error, metrics_error) "
            f"VALUES (?, ?, ?, {', '.join('?' for _ in names)}, ?, ?)",
            [integration_id, region, stamp, *values.values(), result.logging_error,
             result.metrics_error],
        )  # fmt: skip
        if result.metrics_error:
            return
        cur.execute(
            "DELETE FROM measured_usage WHERE integration_id = ? AND region = ? "
            "AND day BETWEEN ? AND ?",
            [integration_id, region, start, end],
        )
        if rows:
            cur.executemany(
                # a series split over pages brings each day once; a repeat replaces, never adds
                "INSERT INTO measured_usage VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE "
                "SET value = EXCLUDED.value",
                [(integration_id, region, d, m, k, v, stamp) for d, m, k, v in rows],
            )
        _price_new_models(cur, region, {m for _d, m, _k, _v in rows if m})


def _price_new_models(cur: Any, region: str, models: set[str]) -> None:
    """Model ids only the metrics name (a region that logs nothing) get their model dimension
    row and price points, so their missing volume is priced like logged usage."""
    known = {r[0] for r in cur.execute("SELECT model_id FROM model_ids").fetchall()}
    for model in sorted(models - known):
        insert_model_id(cur, model)
    points.compile_keys(cur, [(m, region, "standard") for m in sorted(models)])


def require_aws(kind: str) -> None:
    """Coverage reads AWS with the integration's credentials: files on disk have none."""
    from bedrock_explorer.sources import registry

    if not registry.reads_aws(kind):
        raise UserFacingError(
            "Coverage needs an AWS integration (CloudWatch Logs or S3): this one reads files "
            "on disk, with no AWS account to ask",
            "add the account as a CloudWatch Logs or S3 integration to measure its coverage",
        )
