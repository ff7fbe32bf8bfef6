"""Estimate vs bill: the logged usage and the bill in the same buckets, with variances and a
status per bucket — and the bill's dollars allocated back to the invocations.

A bucket is (UTC day, account, source region, model, meter, routing, tier). Routing is
``regional`` or ``global``: geo profiles (``us.``, ``eu.``) bill at the regional rate under the
regional meter, so in-region and geo calls share a bucket.

Variances (USD, on the unblended cost, the list-price figure the estimate also is):

- ``quantity_variance`` = (billed - logged quantity) x the estimate's own rate: usage the logs
  miss (logging off, failed deliveries) or that they hold and AWS did not bill;
- ``rate_variance`` = billed cost - billed quantity x that rate: a price table that is wrong;
- ``discount`` = unblended - net unblended (credits, private pricing, EDP), shown apart.

Why the billed basis allocates by estimated cost: within a bucket every token has the same list
rate, so the estimate's share *is* the usage share, and billed dollars split this way add back to
the bill of each bucket. A bucket whose estimate is empty (unpriced model) splits by tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from bedrock_explorer import model_ids, queries
from bedrock_explorer.bill import model_match, usage_types
from bedrock_explorer.store import Store

STATUS_PENDING = "pending"
STATUS_RECONCILED = "reconciled"
STATUS_MISMATCH = "mismatch"
STATUS_BILLED_NOT_LOGGED = "billed, not logged"
STATUS_LOGGED_NOT_BILLED = "logged, not billed"
STATUS_UNMATCHED = "unmatched bill"
STATUSES = (
    STATUS_RECONCILED,
    STATUS_MISMATCH,
    STATUS_PENDING,
    STATUS_BILLED_NOT_LOGGED,
    STATUS_LOGGED_NOT_BILLED,
    STATUS_UNMATCHED,
)
#: Statuses the cron exit code fails on.
FAILING = (STATUS_MISMATCH,)
#: The last days whose bill is not final yet.
PENDING_DAYS = 2
DEFAULT_TOLERANCE = 0.02
#: Differences under a millionth of a dollar are the bill's rounding (CUR and Cost Explorer give
#: ten decimals), whatever the tolerance: real buckets are often fractions of a cent.
ROUNDING = 1e-6

KEYS = ["day", "account_id", "region", "model", "meter", "routing", "tier"]
GROUPINGS = {
    "day": "day",
    "account": "account_id",
    "region": "region",
    "model": "model",
    "meter": "meter",
    "routing": "routing",
    "tier": "tier",
}
_USAGE_LINES = ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage")

#: Logged meters: (quantity column of grouped_cost, its estimated cost column).
_LOGGED_METERS = {
    "input": ("input_tokens", "input_cost"),
    "output": ("output_tokens", "output_cost"),
    "cache_read": ("cache_read_tokens", "cache_read_cost"),
    "cache_write": ("cache_write_5m_tokens", "cache_write_cost"),
    "cache_write_1h": ("cache_write_1h_tokens", "cache_write_1h_cost"),
    "image": ("images", "image_cost"),
}
#: Grouping columns added to a grouped_cost question so its rows fall into single buckets.
BUCKET_DIMS = {
    "b_day": "CAST(date_trunc('day', ts) AS DATE)",
    "b_account": "account_id",
    "b_region": "region",
    "b_tier": "performance_tier",
}
BUCKET_MODEL_DIMS = {"b_model": "coalesce(m.base_model, a.model_id)", "b_routing": "m.routing"}
_BUCKET_COLUMNS = {
    "b_day": "day",
    "b_account": "account_id",
    "b_region": "region",
    "b_model": "model",
    "b_routing": "routing",
    "b_tier": "tier",
}
_SCOPE = (
    "(cardinality(?) = 0 OR integration_id IN "
    "(SELECT id FROM integrations WHERE list_contains(?, name)))"
)


@dataclass(frozen=True)
class Window:
    """UTC days ``start``..``end`` inclusive, and the integrations (all when empty)."""

    start: date
    end: date
    integrations: tuple[str, ...] = ()

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        lo = datetime.combine(self.start, datetime.min.time())
        return lo, datetime.combine(self.end + timedelta(days=1), datetime.min.time())


def routing_class(routing: object) -> str:
    """The bill's routing for a logged routing (geo and in-region bill alike)."""
    return (
        usage_types.ROUTING_GLOBAL
        if routing == model_ids.ROUTING_GLOBAL
        else usage_types.ROUTING_REGIONAL
    )


def covered_days(store: Store, window: Window) -> set[date]:
    """The days of the window some bill source of these integrations answers for."""
    rows = store.con.execute(
        f"""
        SELECT DISTINCT CAST(d.day AS DATE) FROM bill_sources s,
            LATERAL (SELECT unnest(generate_series(s.first_day, s.last_day,
                                                   INTERVAL 1 DAY)) AS day) d
        WHERE s.kind = 'cur' AND s.first_day IS NOT NULL
          AND {_SCOPE.replace("integration_id", "s.integration_id")}
        UNION
        SELECT day FROM bill_ce_days WHERE service = '' AND {_SCOPE}
        """,
        [list(window.integrations)] * 4,
    ).fetchall()
    return {r[0] for r in rows if window.start <= r[0] <= window.end}


def _melt_logged(frame: pd.DataFrame) -> pd.DataFrame:
    """grouped_cost rows (with the bucket columns) → one row per bucket column set and meter."""
    if frame.empty:
        return pd.DataFrame(columns=[*KEYS, "logged_quantity", "estimated_cost", "invocations"])
    frame = queries.with_price_status(frame)
    frame["cache_write_5m_tokens"] = frame["cache_write_tokens"] - frame["cache_write_1h_tokens"]
    no_cost = frame["price_status"].isin(queries.NO_COST).to_numpy()
    has_unpriced = (frame["unpriced_tokens"] + frame["unpriced_images"] > 0).to_numpy()
    parts = []
    for meter, (quantity, cost) in _LOGGED_METERS.items():
        part = frame[[*_BUCKET_COLUMNS, "invocations"]].rename(columns=_BUCKET_COLUMNS)
        part["meter"] = meter
        part["logged_quantity"] = frame[quantity].astype(float).to_numpy()
        estimate = frame[cost].astype(float).to_numpy()
        unknown = no_cost | (has_unpriced & (estimate == 0) & (part["logged_quantity"] > 0))
        part["estimated_cost"] = np.where(unknown, np.nan, estimate)
        parts.append(part[part["logged_quantity"] > 0])
    out = pd.concat(parts, ignore_index=True)
    out["routing"] = out["routing"].map(routing_class)
    out["day"] = pd.to_datetime(out["day"]).dt.date
    return out


def logged_buckets(store: Store, window: Window, days: set[date] | None = None) -> pd.DataFrame:
    """The logged usage and its estimate per bucket (provisioned calls, billed per hour, and
    invocations outside ``days`` left out)."""
    lo, hi = window.bounds
    integrations = list(window.integrations)
    frame = queries.grouped_cost(
        store,
        BUCKET_DIMS,
        model_dims=BUCKET_MODEL_DIMS,
        where=f"ts >= ? AND ts < ? AND {_SCOPE}",
        params=[lo, hi, integrations, integrations],
    )
    frame = frame[frame["b_routing"] != model_ids.ROUTING_PROVISIONED].copy()
    melted = _melt_logged(frame)
    if days is not None:
        melted = melted[melted["day"].isin(days)]
    sums = ["logged_quantity", "estimated_cost"]
    grouped = melted.groupby(KEYS, as_index=False, dropna=False).agg(
        logged_quantity=("logged_quantity", "sum"),
        estimated_cost=("estimated_cost", lambda s: s.sum(min_count=len(s))),
    )
    return grouped[[*KEYS, *sums]]


def _bill_meanings(raw: pd.DataFrame, base_models: list[str]) -> pd.DataFrame:
    """One row per distinct (usage type, service, product code, unit, region code): what it
    means (parsed with the data in usage_types.json), the model matched to a logged id."""
    distinct = raw[
        ["usage_type", "service", "product_code", "unit", "region_code"]
    ].drop_duplicates()
    meanings = []
    for row in distinct.to_dict("records"):
        text = {k: (None if v is None or v != v else str(v)) for k, v in row.items()}
        parsed = usage_types.parse(
            text["usage_type"] or "", text["service"], text["product_code"], text["unit"]
        )
        meanings.append(parsed)
    names = {m.model for m in meanings if m is not None}
    matched = model_match.match_models(sorted(names), base_models)
    out = distinct.copy()
    out["parsed"] = [m is not None for m in meanings]
    out["p_region"] = [
        m.region if m else (r or None)
        for m, r in zip(meanings, distinct["region_code"], strict=True)
    ]
    out["p_model"] = [matched.get(m.model, m.model) if m else None for m in meanings]
    out["p_meter"] = [m.meter if m else "" for m in meanings]
    out["p_routing"] = [m.routing if m else "" for m in meanings]
    out["p_tier"] = [m.tier if m else "" for m in meanings]
    out["multiplier"] = [m.unit_multiplier if m else 1.0 for m in meanings]
    return out


def billed_buckets(store: Store, window: Window) -> pd.DataFrame:
    """The bill per bucket: quantity (tokens or images), unblended and net cost. A line whose
    usage type cannot be read is a bucket of its own, meter '' and model = its usage type."""
    integrations = list(window.integrations)
    raw = store.query_df(
        f"""
        SELECT day, account_id, service, product_code, usage_type, line_item_type, region_code,
               unit, sum(usage_amount) AS usage_amount, sum(unblended_cost) AS unblended_cost,
               sum(coalesce(net_unblended_cost, unblended_cost)) AS net_cost
        FROM bill_lines
        WHERE day BETWEEN ? AND ? AND {_SCOPE}
        GROUP BY ALL
        """,
        [window.start, window.end, integrations, integrations],
    )
    columns = [*KEYS, "billed_quantity", "billed_cost", "net_billed_cost"]
    if raw.empty:
        return pd.DataFrame(columns=columns)
    base_models = [
        r[0]
        for r in store.con.execute(
            "SELECT DISTINCT base_model FROM model_ids WHERE base_model IS NOT NULL"
        ).fetchall()
    ]
    meanings = _bill_meanings(raw, base_models)
    keys = ["usage_type", "service", "product_code", "unit", "region_code"]
    frame = raw.merge(meanings, on=keys, how="left")
    usage = frame["line_item_type"].isin(_USAGE_LINES)
    parsed = frame["parsed"].astype(bool)
    out = pd.DataFrame(
        {
            "day": pd.to_datetime(frame["day"]).dt.date,
            "account_id": frame["account_id"],
            "region": frame["p_region"],
            "model": frame["p_model"].where(parsed, frame["usage_type"]),
            "meter": frame["p_meter"],
            "routing": frame["p_routing"],
            "tier": frame["p_tier"],
            "billed_quantity": np.where(
                usage & parsed, frame["usage_amount"] * frame["multiplier"], 0.0
            ),
            "billed_cost": np.where(usage, frame["unblended_cost"], 0.0),
            "net_billed_cost": frame["net_cost"],
        }
    )
    return out.groupby(KEYS, as_index=False, dropna=False)[columns[len(KEYS) :]].sum()


def _logged_beside_billed(store: Store, window: Window) -> tuple[pd.DataFrame, set[date]]:
    """The logged and the billed buckets of the days a bill covers, side by side (one row per
    bucket either has; quantities and billed dollars 0 where one side has none, the estimate
    left empty there), and those days."""
    days = covered_days(store, window)
    logged = logged_buckets(store, window, days)
    billed = billed_buckets(store, window)
    for frame in (logged, billed):
        for key in KEYS:
            frame[key] = frame[key].astype(object).where(frame[key].notna(), "")
    merged = logged.merge(billed, on=KEYS, how="outer")
    for column in ("logged_quantity", "billed_quantity", "billed_cost", "net_billed_cost"):
        merged[column] = merged[column].astype(float).fillna(0.0)
    merged["estimated_cost"] = merged["estimated_cost"].astype(float)
    return merged, days


def buckets(
    store: Store,
    window: Window,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Every bucket of the window with logged and billed figures, variances and status.

    Only days a bill source answers for are compared (a day no bill covers is not "logged, not
    billed"; :func:`summary` names the days left out)."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    merged, _days = _logged_beside_billed(store, window)
    merged.loc[merged["logged_quantity"] == 0, "estimated_cost"] = 0.0
    return with_status(merged, tolerance=tolerance, today=now.date())


def with_status(frame: pd.DataFrame, *, tolerance: float, today: date) -> pd.DataFrame:
    """Variances and the status of each row (a bucket, or a sum of buckets: all figures are
    additive, so a coarser grouping gets its status from its sums by the same rule)."""
    out = frame.copy()
    est = out["estimated_cost"].astype(float)
    logged = out["logged_quantity"].astype(float)
    billed_q = out["billed_quantity"].astype(float)
    billed = out["billed_cost"].astype(float)
    rate = np.where(logged > 0, est / logged.where(logged > 0, 1.0), np.nan)
    out["variance"] = (billed - est).round(10)
    out["quantity_variance"] = np.round(
        np.where(logged > 0, (billed_q - logged) * rate, billed), 10
    )
    out["rate_variance"] = (out["variance"] - out["quantity_variance"]).round(10)
    out["discount"] = (billed - out["net_billed_cost"].astype(float)).round(10)
    scale = np.maximum(np.abs(billed), np.abs(est.fillna(0)))
    out["variance_pct"] = np.where(
        scale > 0, out["variance"] / np.where(scale > 0, scale, 1) * 100, 0
    )
    close_cost = (np.abs(out["variance"]) <= np.maximum(tolerance * scale, ROUNDING)).fillna(False)
    q_scale = np.maximum(billed_q, logged)
    close_quantity = np.abs(billed_q - logged) <= tolerance * q_scale
    close = np.where(est.isna(), close_quantity, close_cost)
    unmatched = out["meter"].fillna("") == ""
    billed_any = (billed_q > 0) | (np.abs(out["net_billed_cost"]) >= ROUNDING) | (billed > 0)
    pending = (
        out["day"].map(lambda d: isinstance(d, date) and (today - d).days <= PENDING_DAYS)
        if "day" in out
        else pd.Series(False, index=out.index)
    ).astype(bool)
    conditions = [
        unmatched & billed_any,
        pending,
        (logged == 0) & billed_any,
        (logged > 0) & ~billed_any,
        close.astype(bool),
    ]
    choices = [
        STATUS_UNMATCHED,
        STATUS_PENDING,
        STATUS_BILLED_NOT_LOGGED,
        STATUS_LOGGED_NOT_BILLED,
        STATUS_RECONCILED,
    ]
    out["status"] = np.select(conditions, choices, default=STATUS_MISMATCH)
    return out


#: A coarser row's status is its most severe bucket's: a day holding one mismatched bucket is
#: a mismatch even when the day's sums happen to agree.
SEVERITY = (
    STATUS_MISMATCH,
    STATUS_UNMATCHED,
    STATUS_BILLED_NOT_LOGGED,
    STATUS_LOGGED_NOT_BILLED,
    STATUS_PENDING,
    STATUS_RECONCILED,
)
_MONEY = (
    "estimated_cost",
    "billed_cost",
    "net_billed_cost",
    "variance",
    "quantity_variance",
    "rate_variance",
    "discount",
)


def grouped(
    store: Store,
    window: Window,
    by: list[str],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: datetime | None = None,
    finest: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The buckets summed by ``by`` (names of :data:`GROUPINGS`): every figure a sum of its
    buckets', the status the most severe of theirs (:data:`SEVERITY`). ``finest``: the
    :func:`buckets` of the same window and tolerance, when the caller has them already."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    if finest is None:
        finest = buckets(store, window, tolerance=tolerance, now=now)
    finest = finest.copy()
    columns = [GROUPINGS[b] for b in by]
    if not columns or set(columns) == set(KEYS):
        return _rounded(finest)
    rank = {s: i for i, s in enumerate(SEVERITY)}
    finest["severity"] = finest["status"].map(rank)
    sums = finest.groupby(columns, as_index=False, dropna=False).agg(
        logged_quantity=("logged_quantity", "sum"),
        estimated_cost=("estimated_cost", lambda s: s.sum(min_count=len(s))),
        billed_quantity=("billed_quantity", "sum"),
        billed_cost=("billed_cost", "sum"),
        net_billed_cost=("net_billed_cost", "sum"),
        variance=("variance", "sum"),
        quantity_variance=("quantity_variance", "sum"),
        rate_variance=("rate_variance", "sum"),
        discount=("discount", "sum"),
        severity=("severity", "min"),
        buckets=("status", "size"),
    )
    sums["status"] = sums["severity"].map(dict(enumerate(SEVERITY)))
    scale = np.maximum(np.abs(sums["billed_cost"]), np.abs(sums["estimated_cost"].fillna(0)))
    sums["variance_pct"] = np.where(
        scale > 0, sums["variance"] / np.where(scale > 0, scale, 1) * 100, 0
    )
    return _rounded(sums.drop(columns=["severity"]))


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """Dollars to 10 decimals (the bill's own precision), percentages to 0.01."""
    out = frame.copy()
    for column in _MONEY:
        if column in out:
            out[column] = out[column].astype(float).round(10)
    if "variance_pct" in out:
        out["variance_pct"] = out["variance_pct"].astype(float).round(2)
    return out


def summary(
    store: Store,
    window: Window,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: datetime | None = None,
    finest: pd.DataFrame | None = None,
) -> dict[str, Any] | None:
    """The headline of the reconciliation: totals, counts per status, the days compared.
    ``None`` when no bill covers any day of the window."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    days = covered_days(store, window)
    if not days:
        return None
    frame = finest if finest is not None else buckets(store, window, tolerance=tolerance, now=now)
    estimated = frame["estimated_cost"].sum(min_count=1)
    billed = float(frame["billed_cost"].sum())
    counts = frame["status"].value_counts().to_dict()
    closed = frame[frame["status"] != STATUS_PENDING]
    closed_est = float(closed["estimated_cost"].fillna(0).sum())
    closed_billed = float(closed["billed_cost"].sum())
    return {
        "days_compared": len(days),
        "first_day": min(days),
        "last_day": max(days),
        "days_not_in_bill": (window.end - window.start).days + 1 - len(days),
        "estimated_cost": None if pd.isna(estimated) else float(estimated),
        "billed_cost": billed,
        "net_billed_cost": float(frame["net_billed_cost"].sum()),
        "variance": billed - float(frame["estimated_cost"].fillna(0).sum()),
        "closed_variance_pct": (
            (closed_billed - closed_est) / closed_billed * 100 if closed_billed else None
        ),
        "unmatched_cost": float(
            frame.loc[frame["status"] == STATUS_UNMATCHED, "net_billed_cost"].sum()
        ),
        "billed_not_logged_cost": float(
            frame.loc[frame["status"] == STATUS_BILLED_NOT_LOGGED, "net_billed_cost"].sum()
        ),
        "statuses": {s: int(counts.get(s, 0)) for s in STATUSES},
        "mismatches": int(counts.get(STATUS_MISMATCH, 0)),
    }


# -- bill-allocated cost -----------------------------------------------------------------------


def allocation(store: Store, window: Window) -> tuple[pd.DataFrame, set[date], float]:
    """Per bucket: what one estimated dollar and one logged unit are worth in billed (net)
    dollars; the days the bill covers; and the net dollars no logged invocation can carry
    (billed, not logged, and unmatched lines)."""
    merged, days = _logged_beside_billed(store, window)
    est = merged["estimated_cost"]
    carried = merged["logged_quantity"] > 0
    unallocated = float(merged.loc[~carried, "net_billed_cost"].sum())
    factors = merged[carried].copy()
    by_cost = est[carried].fillna(0) > 0
    factors["per_estimated_dollar"] = np.where(
        by_cost, factors["net_billed_cost"] / est[carried].where(by_cost, 1.0), np.nan
    )
    factors["per_unit"] = np.where(
        ~by_cost, factors["net_billed_cost"] / factors["logged_quantity"], np.nan
    )
    return factors[[*KEYS, "per_estimated_dollar", "per_unit"]], days, unallocated


#: The grouped_cost sums a billed frame carries unchanged (its dollar columns are replaced).
_CARRIED = (
    "invocations",
    "unpriced_tokens",
    "unpriced_images",
    "invocations_in_unpriced_groups",
    "provisioned_invocations",
    "reserved_invocations",
    "unpriced_invocations",
    "estimated_invocations",
    "priced_units",
    *queries.METER_COLUMNS,
    "cache_read_at_input",
    "cache_write_at_input",
)
#: Logged quantity per meter, as SQL over grouped_cost's columns.
_QUANTITY_SQL = {
    "input": "input_tokens",
    "output": "output_tokens",
    "cache_read": "cache_read_tokens",
    "cache_write": "(cache_write_tokens - cache_write_1h_tokens)",
    "cache_write_1h": "cache_write_1h_tokens",
    "image": "images",
}


def allocate(
    store: Store,
    source: tuple[str, list[object]],
    dims: list[str],
    factors: pd.DataFrame,
    days: set[date],
) -> pd.DataFrame:
    """A grouped_cost question (its SQL and parameters, grouped by ``dims`` plus the bucket
    columns :data:`BUCKET_DIMS` / :data:`BUCKET_MODEL_DIMS`) answered in billed dollars, summed
    back to ``dims`` inside DuckDB (at 10M rows the finer frame has millions of rows).

    ``unbilled_invocations`` counts the invocations of days no bill covers: their cost is then
    empty (queries.with_price_status), not $0."""
    sql, params = source
    keys = [k for k in KEYS if k != "meter"]
    wide = factors.pivot_table(
        index=keys, columns="meter", values=["per_estimated_dollar", "per_unit"], aggfunc="first"
    )
    table = pd.DataFrame(index=wide.index)
    for meter in _LOGGED_METERS:
        for short, value in (("pe", "per_estimated_dollar"), ("pu", "per_unit")):
            column = (value, meter)
            table[f"{short}_{meter}"] = wide[column] if column in wide.columns else np.nan
    table = table.reset_index()
    table["day"] = pd.to_datetime(table["day"])
    billed = {
        meter: f"""CASE WHEN NOT covered THEN 0
                      WHEN a.pe_{meter} IS NOT NULL THEN g.{cost} * a.pe_{meter}
                      WHEN a.pu_{meter} IS NOT NULL THEN {_QUANTITY_SQL[meter]} * a.pu_{meter}
                      ELSE 0 END"""
        for meter, (_quantity, cost) in _LOGGED_METERS.items()
    }
    select_dims = "".join(f"g.{d}, " for d in dims)
    group = f"GROUP BY {', '.join(f'g.{d}' for d in dims)}" if dims else ""
    outer = f"""
        WITH g AS (
            SELECT *, list_contains(?, b_day) AS covered FROM ({sql}) q
        )
        SELECT {select_dims}
            {", ".join(f"sum(g.{c}) AS {c}" for c in _CARRIED)},
            {", ".join(f"sum({expr}) AS {_LOGGED_METERS[m][1]}" for m, expr in billed.items())},
            sum({" + ".join(billed.values())}) AS cost,
            sum(CASE WHEN covered THEN 0 ELSE g.invocations END) AS unbilled_invocations
        FROM g LEFT JOIN bill_allocation a
          ON a.day = CAST(g.b_day AS TIMESTAMP)
         AND a.account_id = coalesce(g.b_account, '') AND a.region = coalesce(g.b_region, '')
         AND a.model = coalesce(g.b_model, '') AND a.tier = coalesce(g.b_tier, '')
         AND a.routing = CASE WHEN g.b_routing = '{model_ids.ROUTING_GLOBAL}'
                              THEN '{usage_types.ROUTING_GLOBAL}'
                              ELSE '{usage_types.ROUTING_REGIONAL}' END
        {group}
    """
    # on the store's own connection: the question may read its session variables (the
    # requestMetadata key, the display zone), which a cursor would not see
    store.con.register("bill_allocation", table)
    try:
        return store.con.execute(outer, [sorted(days), *params]).df()
    finally:
        store.con.unregister("bill_allocation")
