"""Sync the Bedrock bill from Cost Explorer (``ce:GetCostAndUsage``), daily, per usage type and
linked account.

Why per service: third-party models bill as Marketplace services ("Claude Sonnet 4.5 (Amazon
Bedrock Edition)") whose usage types do not name the model (``USE1-MP:USE1_InputTokenCount-
Units``), and a request groups by two dimensions at most. So the first request lists the services
of the period (grouped by SERVICE) and each Bedrock one is then read grouped by USAGE_TYPE and
LINKED_ACCOUNT — the service names the model.

Why days are cached: each request costs $0.01 and a bill is final a few days after the day ends.
A day fetched once it was closed (:data:`CLOSED_AFTER_DAYS`) is never asked again; open days are
re-read on every sync, replacing what they gave before. ``max_requests`` caps a sync; what it did
not reach is read by the next one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

from bedrock_explorer import audit, aws
from bedrock_explorer.bill import lines, usage_types
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.store import Store

#: A day's bill is final this many days after the day ends.
CLOSED_AFTER_DAYS = 3
#: What one GetCostAndUsage request costs (USD).
REQUEST_COST = 0.01
NEEDS = "ce:GetCostAndUsage (in the payer account, or a member account allowed to see its costs)"
_METRICS = ["UnblendedCost", "NetUnblendedCost", "UsageQuantity"]
_USAGE_ONLY = {"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Usage"]}}


@dataclass
class CeSyncResult:
    requests: int = 0
    services: list[str] = field(default_factory=list)
    days: int = 0
    lines: int = 0
    unblended_cost: float = 0.0
    capped: bool = False
    remaining: list[str] = field(default_factory=list)

    @property
    def request_cost(self) -> float:
        return self.requests * REQUEST_COST


class _Capped(Exception):
    """The request cap was reached."""


def is_closed(day: date, today: date) -> bool:
    """Whether ``day``'s bill is final on ``today`` (UTC)."""
    return day + timedelta(days=1 + CLOSED_AFTER_DAYS) <= today


def sync(
    store: Store,
    integration: str,
    session: Any,
    start: date,
    end: date,
    *,
    max_requests: int | None = None,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> CeSyncResult:
    """Read the Bedrock bill of ``start``..``end`` (UTC days, inclusive) into the store."""
    store.authorize(audit.BILL_SYNCED)
    now = now or datetime.now(UTC).replace(tzinfo=None)
    today = now.date()
    integ = store.get_integration(integration)
    result = CeSyncResult()
    end = min(end, today)
    if end < start:
        return result
    answered = {
        row[0]
        for row in store.con.execute(
            "SELECT day FROM bill_ce_days WHERE integration_id = ? AND service = '' AND "
            "day BETWEEN ? AND ? AND fetched_at >= day + to_days(CAST(? AS INTEGER) + 1)",
            [integ.id, start, end, CLOSED_AFTER_DAYS],
        ).fetchall()
    }
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    needed = [d for d in days if d not in answered]
    if not needed:
        return result
    lo, hi = min(needed), max(needed) + timedelta(days=1)
    ce = aws.client(session, "ce", "us-east-1")
    period = {"Start": lo.isoformat(), "End": hi.isoformat()}

    def ask(**kwargs: Any) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            if max_requests is not None and result.requests >= max_requests:
                raise _Capped
            request = dict(kwargs, TimePeriod=period, Granularity="DAILY")
            if token:
                request["NextPageToken"] = token
            result.requests += 1
            try:
                page = ce.get_cost_and_usage(**request)
            except Exception as err:  # noqa: BLE001 - every AWS failure becomes a sentence
                raise _explained(err) from None
            yield page
            token = page.get("NextPageToken")
            if not token:
                return

    span = [d for d in needed if lo <= d < hi]
    try:
        services = sorted(
            {
                group["Keys"][0]
                for page in ask(
                    Metrics=["UnblendedCost"],
                    Filter=_USAGE_ONLY,
                    GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"}],
                )
                for day in page.get("ResultsByTime", [])
                for group in day.get("Groups", [])
                if usage_types.product_of(group["Keys"][0], None) is not None
            }
        )
        stored = {
            row[0]
            for row in store.con.execute(
                "SELECT DISTINCT service FROM bill_lines WHERE integration_id = ? AND kind = ? "
                "AND list_contains(?, day)",
                [integ.id, lines.KIND_COST_EXPLORER, span],
            ).fetchall()
        }
        result.services = services
        for service in services:
            if progress:
                progress(f"Cost Explorer: {service}, {lo} to {hi - timedelta(days=1)}")
            rows = [
                row
                for page in ask(
                    Metrics=_METRICS,
                    Filter={
                        "And": [
                            _USAGE_ONLY,
                            {"Dimensions": {"Key": "SERVICE", "Values": [service]}},
                        ]
                    },
                    GroupBy=[
                        {"Type": "DIMENSION", "Key": "USAGE_TYPE"},
                        {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"},
                    ],
                )
                for row in _rows(page, service)
            ]
            frame = _frame(rows)
            # the period can hold closed days already stored (between two open ones): only
            # the days asked for are replaced, the others are kept as they were
            frame = frame[frame["day"].isin(span)]
            lines.replace_days(store, integ.id, service, span, frame, now=now)
            result.lines += len(frame)
            result.unblended_cost += float(frame["unblended_cost"].sum()) if len(frame) else 0.0
        for gone in sorted(stored - set(services)):  # a service the period no longer shows
            lines.replace_days(store, integ.id, gone, span, _frame([]), now=now)
        lines.replace_days(store, integ.id, "", span, _frame([]), now=now)
        result.days = len(span)
    except _Capped:
        result.capped = True
        result.remaining = [s for s in (result.services or ["(the list of services)"]) if s]
    store.audit(
        audit.BILL_SYNCED,
        integration,
        f"Cost Explorer {lo}..{hi - timedelta(days=1)}: {result.requests} requests, "
        f"{result.lines:,} lines",
    )
    return result


def _rows(page: dict[str, Any], service: str) -> Iterator[dict[str, Any]]:
    for day in page.get("ResultsByTime", []):
        start = date.fromisoformat(day["TimePeriod"]["Start"][:10])
        for group in day.get("Groups", []):
            keys = group.get("Keys", [])
            metrics = group.get("Metrics", {})

            yield {
                "day": start,
                "account_id": keys[1] if len(keys) > 1 else None,
                "service": service,
                "product_code": None,
                "usage_type": keys[0] if keys else "",
                "line_item_type": "Usage",
                "region_code": None,
                "unit": (metrics.get("UsageQuantity") or {}).get("Unit"),
                "usage_amount": _amount(metrics, "UsageQuantity") or 0.0,
                "unblended_cost": _amount(metrics, "UnblendedCost") or 0.0,
                "net_unblended_cost": _amount(metrics, "NetUnblendedCost"),
            }


def _amount(metrics: dict[str, Any], name: str) -> float | None:
    found = metrics.get(name)
    return float(found["Amount"]) if found and found.get("Amount") is not None else None


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(lines.LINE_COLUMNS))
    for column in ("usage_amount", "unblended_cost", "net_unblended_cost"):
        frame[column] = frame[column].astype(float)
    return frame


def _explained(err: Exception) -> UserFacingError:
    code = aws.error_code(err)
    if code == "DataUnavailableException":
        return UserFacingError(
            "Cost Explorer has no data for this period (it is not enabled, or the account is new)",
            "enable Cost Explorer in the Billing console (data appears within 24 hours)",
        )
    if code in aws.ACCESS_DENIED_CODES:
        return UserFacingError(
            "AWS denied access to Cost Explorer while reading the Bedrock bill",
            f"grant {NEEDS}; in an AWS Organization, the management account must allow "
            "member accounts to see Cost Explorer, or import the CUR 2.0 export instead "
            "(`bill import`)",
        )
    return aws.explain(err, "reading the Bedrock bill from Cost Explorer", NEEDS)
