"""Coverage figures from the store: logged vs measured per UTC day, region and model id, the
regions' logging configuration with the fix for each gap, and log-delivery health.

The same functions feed ``coverage`` (CLI), the Integrations page's panel and the Explorer's
badge, so the three never disagree.

**What is compared.** AWS's ``Invocations`` metric counts the requests Bedrock accepted for
processing — ones that failed later included, throttled ones not — so the logged side counts
every logged invocation except throttling errors. Input tokens are compared without cache
tokens on both sides (the logs' ``inputTokenCount`` and the metric ``InputTokenCount``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from bedrock_explorer import queries
from bedrock_explorer.store import Store

#: What the screen and the CLI say about the comparison.
DEFINITION = (
    "AWS counts the requests Bedrock accepted (later failures included, throttled ones not); "
    "the logged side counts the same: every logged invocation except throttling errors."
)

_SCOPE = "(cardinality(?) = 0 OR list_contains(?, g.name))"

_DAILY = f"""
WITH measured AS (
    SELECT u.integration_id, u.region, u.day, u.model_id,
        sum(u.value) FILTER (WHERE metric = 'Invocations') AS measured_invocations,
        sum(u.value) FILTER (WHERE metric = 'InputTokenCount') AS measured_input_tokens,
        sum(u.value) FILTER (WHERE metric = 'OutputTokenCount') AS measured_output_tokens
    FROM measured_usage u JOIN integrations g ON g.id = u.integration_id
    WHERE u.model_id <> '' AND u.day BETWEEN ? AND ? AND {_SCOPE}
    GROUP BY 1, 2, 3, 4
),
logged AS (
    SELECT i.integration_id, i.region, CAST(i.ts AS DATE) AS day, i.model_id,
        count(*) AS logged_invocations,
        sum(i.input_tokens) AS logged_input_tokens,
        sum(i.output_tokens) AS logged_output_tokens
    FROM invocations i JOIN integrations g ON g.id = i.integration_id
    WHERE i.ts >= ? AND i.ts < CAST(? AS DATE) + INTERVAL 1 DAY AND {_SCOPE}
      AND NOT (i.outcome = 'error' AND coalesce(i.error_code, '') ILIKE '%throttl%')
      AND (i.integration_id, i.region) IN (SELECT integration_id, region FROM coverage_regions)
    GROUP BY 1, 2, 3, 4
)
SELECT g.name AS integration, region, day, model_id,
    CAST(coalesce(logged_invocations, 0) AS BIGINT) AS logged_invocations,
    CAST(coalesce(measured_invocations, 0) AS BIGINT) AS measured_invocations,
    CAST(coalesce(logged_input_tokens, 0) AS BIGINT) AS logged_input_tokens,
    CAST(coalesce(measured_input_tokens, 0) AS BIGINT) AS measured_input_tokens,
    CAST(coalesce(logged_output_tokens, 0) AS BIGINT) AS logged_output_tokens,
    CAST(coalesce(measured_output_tokens, 0) AS BIGINT) AS measured_output_tokens
FROM measured FULL OUTER JOIN logged USING (integration_id, region, day, model_id)
JOIN integrations g ON g.id = integration_id
ORDER BY integration, region, day, model_id
"""

#: The missing volume of each (region, day, model) priced at our rates, as a source for
#: :func:`queries._rated` (standard tier: the metrics do not split by tier).
_MISSING_PRICED = """
SELECT k.key, c.cost, c.price_status FROM (
    SELECT key, sum(cost) AS cost, min(price_status) AS price_status FROM ({rated}) r
    GROUP BY key
) c RIGHT JOIN (SELECT DISTINCT key FROM missing) k USING (key)
"""


def daily(store: Store, start: date, end: date, integrations: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per integration, region, UTC day and model id: logged and measured invocations and
    tokens, the coverage (logged / measured, empty when nothing was measured), the missing
    volume and its estimated cost at our rates (empty when the model has no price)."""
    names = list(integrations)
    frame = store.query_df(_DAILY, [start, end, names, names, start, end, names, names])
    if frame.empty:
        added = ("coverage_pct", "missing_invocations", "missing_input_tokens",
                 "missing_output_tokens", "missing_cost", "missing_cost_status")  # fmt: skip
        return frame.assign(**{name: [] for name in added})
    frame["coverage_pct"] = _pct(frame["logged_invocations"], frame["measured_invocations"])
    for what in ("invocations", "input_tokens", "output_tokens"):
        gap = frame[f"measured_{what}"] - frame[f"logged_{what}"]
        frame[f"missing_{what}"] = gap.clip(lower=0).astype("int64")
    cost, status = _missing_cost(store, frame)
    frame["missing_cost"] = cost
    frame["missing_cost_status"] = status
    return frame


def _pct(logged: pd.Series, measured: pd.Series) -> pd.Series:
    """Coverage in percent; empty where AWS measured nothing (no share of nothing)."""
    share = logged.astype("float64") / measured.where(measured > 0).astype("float64") * 100
    return share.round(1)


def _missing_cost(store: Store, frame: pd.DataFrame) -> tuple[list[Any], list[Any]]:
    """What the missing tokens would cost at our rates (the price in force that day)."""
    missing = pd.DataFrame(
        {
            "key": range(len(frame)),
            "model_id": frame["model_id"],
            "tier": "standard",
            "price_region": frame["region"],
            "price_day": pd.to_datetime(frame["day"]),
            "lc_size": 0,
            "invocations": frame["missing_invocations"],
            "input_tokens": frame["missing_input_tokens"],
            "output_tokens": frame["missing_output_tokens"],
            "cache_read_tokens": 0,
            "cache_write_tokens": 0,
            "cache_write_1h_tokens": 0,
            "images": 0,
            "image_quality": "",
            "image_pixels": 0,
        }
    )
    missing = missing[(missing["input_tokens"] > 0) | (missing["output_tokens"] > 0)]
    cost: list[Any] = [0.0 if m == 0 else None for m in frame["missing_invocations"]]
    status: list[Any] = [None] * len(frame)
    if missing.empty:
        return cost, status
    store.con.register("missing_raw", missing)
    try:
        source = (
            "SELECT r.*, m.service_type FROM missing_raw r LEFT JOIN model_ids m USING (model_id)"
        )
        sql = _MISSING_PRICED.format(rated=queries.rated_sql(source))
        sql = f"WITH missing AS ({source}) {sql}"
        priced = store.con.execute(sql).fetchall()
    finally:
        store.con.unregister("missing_raw")
    for key, value, price_status in priced:
        unpriced = price_status in queries.NO_COST or value is None
        cost[key] = None if unpriced else float(value)
        status[key] = price_status
    return cost, status


def by_region(daily_frame: pd.DataFrame) -> pd.DataFrame:
    """Per integration and region: the period's totals and coverage."""
    if daily_frame.empty:
        return daily_frame
    sums = [
        "logged_invocations", "measured_invocations", "missing_invocations",
        "missing_input_tokens", "missing_output_tokens",
    ]  # fmt: skip
    out = daily_frame.groupby(["integration", "region"], as_index=False)[sums].sum()
    out["missing_cost"] = (
        daily_frame.groupby(["integration", "region"])["missing_cost"].sum(min_count=1).to_numpy()
    )
    out["coverage_pct"] = _pct(out["logged_invocations"], out["measured_invocations"])
    return out


def matrix(daily_frame: pd.DataFrame) -> pd.DataFrame:
    """Region by day: coverage in percent (the panel's small matrix)."""
    if daily_frame.empty:
        return pd.DataFrame()
    per = daily_frame.groupby(["region", "day"], as_index=False)[
        ["logged_invocations", "measured_invocations"]
    ].sum()
    per["coverage_pct"] = _pct(per["logged_invocations"], per["measured_invocations"])
    wide = per.pivot(index="region", columns="day", values="coverage_pct")
    wide.columns = [f"{d:%Y-%m-%d}" for d in wide.columns]
    return wide.reset_index()


def summary(
    store: Store, start: date, end: date, integrations: tuple[str, ...] = ()
) -> dict[str, Any] | None:
    """The period's coverage in one figure (the Explorer's badge); ``None`` when nothing was
    measured for these integrations (then the logs are not read at all: the Explorer asks on
    every rerun)."""
    names = list(integrations)
    checked = store.con.execute(
        f"SELECT count(*) FROM coverage_regions c JOIN integrations g ON g.id = c.integration_id "
        f"WHERE {_SCOPE}",
        [names, names],
    ).fetchall()[0][0]
    if not checked:
        return None
    frame = daily(store, start, end, integrations)
    if frame.empty or not frame["measured_invocations"].sum():
        return None
    measured = int(frame["measured_invocations"].sum())
    logged = int(frame["logged_invocations"].sum())
    regions = logging_status(store, integrations)
    return {
        "coverage_pct": round(logged / measured * 100, 1),
        "logged_invocations": logged,
        "measured_invocations": measured,
        "missing_invocations": int(frame["missing_invocations"].sum()),
        "missing_cost": frame["missing_cost"].sum(min_count=1),
        "regions_without_logging": sorted(
            set(regions.loc[regions["logging_on"].eq(False), "region"])
        ),
        "delivery_failures": int(delivery(store, start, end, integrations)["failed"].sum()),
    }


def logging_status(store: Store, integrations: tuple[str, ...] = ()) -> pd.DataFrame:
    """Each checked region: where it logs, what it delivers, what could not be read, and the
    fix for a gap (the console path and the API call)."""
    names = list(integrations)
    frame = store.query_df(
        f"""
        SELECT g.name AS integration, c.region, c.checked_at, c.logging_on, c.log_group,
               c.bucket, c.prefix, c.text_delivery, c.image_delivery, c.embedding_delivery,
               c.video_delivery, c.logging_error, c.metrics_error
        FROM coverage_regions c JOIN integrations g ON g.id = c.integration_id
        WHERE {_SCOPE}
        ORDER BY integration, region
        """,
        [names, names],
    )
    frame["fix"] = [_fix({str(k): v for k, v in row.items()}) for row in frame.to_dict("records")]
    return frame


def _fix(row: dict[str, Any]) -> str:
    region = row["region"]
    console = f"Bedrock console ({region}) → Settings → Model invocation logging"
    api = (
        f"aws bedrock put-model-invocation-logging-configuration --region {region} "
        '--logging-config \'{"cloudWatchConfig": {"logGroupName": "…", "roleArn": "…"}, '
        '"textDataDeliveryEnabled": true}\''
    )
    if row["logging_error"]:
        return str(row["logging_error"])
    if row["logging_on"] is False:
        return f"turn logging on: {console}; or {api}"
    if row["text_delivery"] is False:
        return f"turn on text delivery (token counts come with it): {console}"
    return ""


def delivery(
    store: Store, start: date, end: date, integrations: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Log delivery per integration, region and day: successes and failures per destination;
    ``failed`` is the day's failures (flagged when not zero)."""
    names = list(integrations)
    frame = store.query_df(
        f"""
        SELECT g.name AS integration, u.region, u.day, u.metric, u.value
        FROM measured_usage u JOIN integrations g ON g.id = u.integration_id
        WHERE u.model_id = '' AND u.day BETWEEN ? AND ? AND {_SCOPE}
        ORDER BY integration, region, day, metric
        """,
        [start, end, names, names],
    )
    frame["failed"] = frame["value"].where(frame["metric"].str.endswith("Failure"), 0)
    return frame
