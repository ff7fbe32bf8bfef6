"""The grouped SQL behind the dashboard and the CLI reports. Returns pandas DataFrames.

Why one module: pages and the CLI must show the same numbers, so neither writes SQL of its own.
Every filter value travels as a bound parameter, never pasted into SQL text.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from bedrock_explorer.pricing import catalog
from bedrock_explorer.store import Store


def usage_sql(source: str = "invocations") -> str:
    """Invocations (``source``: the table, or a subquery selecting some of it) with what pricing
    needs: the price key (model id, source region, tier), the UTC day (price points change only
    at midnight UTC), the input size that decides long context, and billable images."""
    return _USAGE.replace("FROM invocations i ", f"FROM {source} i ")


_USAGE = """
SELECT i.*, m.base_model, m.routing, m.service_type, m.provider,
    i.performance_tier AS tier,
    i.region AS price_region,
    date_trunc('day', i.ts) AS price_day,
    i.input_tokens + i.cache_read_tokens + i.cache_write_tokens AS lc_size,
    1 AS invocations,
    CASE WHEN m.service_type = 'image' AND i.outcome = 'success'
         THEN coalesce(i.image_count, 1) ELSE 0 END AS images
FROM invocations i LEFT JOIN model_ids m USING (model_id)
"""

#: What a row's (or a group's) price status can be. Only the first three carry a cost; an
#: ``unpriced``, ``provisioned`` or ``reserved`` row has an *empty* cost, never 0.
STATUS_PRICED = "priced"
STATUS_ESTIMATED = "estimated at standard"
STATUS_NO_METER = "no billable meter"
STATUS_PARTLY = "partly unpriced"
STATUS_UNPRICED = "unpriced"
STATUS_PROVISIONED = "provisioned (billed per hour)"
STATUS_RESERVED = "reserved (billed per capacity)"
STATUSES = (
    STATUS_PRICED,
    STATUS_ESTIMATED,
    STATUS_NO_METER,
    STATUS_PARTLY,
    STATUS_UNPRICED,
    STATUS_PROVISIONED,
    STATUS_RESERVED,
)
#: On the billed basis (bill/reconcile.py: the bill's dollars allocated to invocations).
STATUS_BILLED = "billed"
STATUS_PARTLY_BILLED = "partly billed (days without a bill: $0)"
STATUS_NOT_BILLED = "no bill for these days yet"
STATUS_BILLED_ONLY = "billed, not logged"
#: Statuses whose cost is left empty: there is no per-token figure to show.
NO_COST = (STATUS_UNPRICED, STATUS_PROVISIONED, STATUS_RESERVED, STATUS_NOT_BILLED)

_LONG = "(p.lc_threshold IS NOT NULL AND s.lc_size > p.lc_threshold)"
_TOKEN_RATES = (
    ("input_tokens", "r_input"),
    ("output_tokens", "r_output"),
    ("cache_read_tokens", "r_cache_read"),
    ("(cache_write_tokens - cache_write_1h_tokens)", "r_cache_write"),
    ("cache_write_1h_tokens", "r_cache_write_1h"),
)


#: The rate of one image: a model with size classes (Nova Canvas, Titan Image) bills premium
#: quality and images above its base size apart; a request that names no size is priced at the
#: APIs' default 1024 x 1024. Any other image model bills every image alike.
_IMAGE_PIXELS = f"coalesce(nullif(s.image_pixels, 0), {catalog.DEFAULT_IMAGE_PIXELS})"
_IMAGE_RATE = f"""CASE
            WHEN p.image_base_pixels IS NULL THEN
                CASE WHEN {_LONG} THEN coalesce(p.lc_image, p.image) ELSE p.image END
            WHEN s.image_quality = 'premium' AND {_IMAGE_PIXELS} > p.image_base_pixels
                THEN p.image_premium_large
            WHEN s.image_quality = 'premium' THEN p.image_premium
            WHEN {_IMAGE_PIXELS} > p.image_base_pixels THEN p.image_large
            ELSE p.image
        END"""


def _rated(source: str) -> str:
    """Price the rows of ``source`` — single invocations or pre-aggregated groups alike.

    ``source`` must have ``model_id, tier, price_region, price_day, lc_size, service_type,
    invocations``, the token meters, ``images`` (values or sums) and the images' class
    ``image_quality, image_pixels`` ('' and 0, or NULL, when the request named none).
    Rates are constant within such a group, so the cost of a sum is the sum of the costs:
    grouped queries aggregate first and price a few thousand rows instead of millions. A meter
    with usage but no rate adds no dollars; its tokens are *unpriced*, and a row with nothing
    priced has an empty cost — never a silent $0. The long-context rate applies above the
    threshold of the price point in force (a period without long-context rates prices every
    request at its base rates).
    """
    unpriced_meters = " + ".join(
        f"(CASE WHEN {rate} IS NULL THEN {tokens} ELSE 0 END)" for tokens, rate in _TOKEN_RATES
    )
    priced_meters = " + ".join(
        f"(CASE WHEN {rate} IS NOT NULL THEN {tokens} ELSE 0 END)" for tokens, rate in _TOKEN_RATES
    )
    summed = " + ".join(f"coalesce({tokens} * {rate}, 0)" for tokens, rate in _TOKEN_RATES)
    return f"""
WITH j AS (
    SELECT s.*,
        coalesce(p.status, 'unpriced') AS point_status,
        p.source AS price_source,
        coalesce(p.reason, CASE WHEN p.status IS NULL THEN 'not priced yet' END) AS price_reason,
        {_LONG} AS long_context,
        CASE WHEN {_LONG} THEN p.lc_input ELSE p.input END AS r_input,
        CASE WHEN {_LONG} THEN p.lc_output ELSE p.output END AS r_output,
        CASE WHEN {_LONG} THEN p.lc_cache_read ELSE p.cache_read END AS r_cache_read,
        CASE WHEN {_LONG} THEN p.lc_cache_write ELSE p.cache_write END AS r_cache_write,
        CASE WHEN {_LONG} THEN p.lc_cache_write_1h ELSE p.cache_write_1h END
            AS r_cache_write_1h,
        {_IMAGE_RATE} AS r_image
    FROM ({source}) s
    LEFT JOIN price_points p
        ON p.model_id = s.model_id AND p.tier = s.tier
       AND p.region = coalesce(s.price_region, '')
       AND s.price_day >= p.valid_from AND s.price_day < p.valid_to
),
k AS (
    SELECT *,
        point_status IN ('priced', 'estimated') AS rated,
        -- Image models bill per image; their prompt tokens are part of that price.
        (service_type = 'image' AND r_image IS NOT NULL) AS per_image
    FROM j
),
u AS (
    SELECT *,
        CASE
            WHEN rated AND per_image THEN 0
            WHEN rated THEN {unpriced_meters}
            WHEN point_status = 'unpriced' THEN
                input_tokens + output_tokens + cache_read_tokens + cache_write_tokens
            ELSE 0
        END AS unpriced_tokens,
        CASE WHEN point_status = 'unpriced' OR (rated AND r_image IS NULL) THEN images ELSE 0 END
            AS unpriced_images,
        CASE WHEN NOT rated THEN 0
             WHEN per_image THEN images
             ELSE {priced_meters} + (CASE WHEN r_image IS NOT NULL THEN images ELSE 0 END)
        END AS priced_units
    FROM k
),
v AS (
    SELECT *,
        CASE
            WHEN point_status = 'provisioned' THEN '{STATUS_PROVISIONED}'
            WHEN point_status = 'reserved' THEN '{STATUS_RESERVED}'
            WHEN point_status = 'unpriced' THEN '{STATUS_UNPRICED}'
            WHEN unpriced_tokens > 0 OR unpriced_images > 0 THEN
                CASE WHEN priced_units > 0 THEN '{STATUS_PARTLY}' ELSE '{STATUS_UNPRICED}' END
            WHEN priced_units = 0 THEN '{STATUS_NO_METER}'
            WHEN point_status = 'estimated' THEN '{STATUS_ESTIMATED}'
            ELSE '{STATUS_PRICED}'
        END AS price_status
    FROM u
)
SELECT *,
    CASE WHEN rated THEN input_tokens * r_input END AS input_cost,
    CASE WHEN rated THEN output_tokens * r_output END AS output_cost,
    CASE WHEN rated THEN cache_read_tokens * r_cache_read END AS cache_read_cost,
    CASE WHEN rated
         THEN (cache_write_tokens - cache_write_1h_tokens) * r_cache_write END AS cache_write_cost,
    CASE WHEN rated THEN cache_write_1h_tokens * r_cache_write_1h END AS cache_write_1h_cost,
    CASE WHEN rated THEN images * r_image END AS image_cost,
    CASE WHEN price_status IN ('{"', '".join(NO_COST)}') THEN NULL
         WHEN per_image THEN images * r_image
         ELSE {summed} + coalesce(images * r_image, 0)
    END AS cost,
    CASE WHEN point_status = 'unpriced' THEN invocations ELSE 0 END AS unpriced_invocations,
    CASE WHEN point_status = 'estimated' THEN invocations ELSE 0 END AS estimated_invocations,
    CASE WHEN point_status = 'reserved' THEN invocations ELSE 0 END AS reserved_invocations,
    point_status = 'provisioned' AS provisioned
FROM v
"""


#: Every invocation with its price and cost per meter (USD, DOUBLE): for detail rows and checks.
#: Grouped figures go through :func:`grouped_cost`, which gives the same sums much faster.
PRICED = _rated(_USAGE)

#: The usage counted per invocation, one column per meter (tokens by kind, images).
METER_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "images",
)


def grouped_cost(
    store: Store,
    dims: dict[str, str] | None = None,
    *,
    model_dims: dict[str, str] | None = None,
    where: str = "TRUE",
    params: list[object] | None = None,
    model_where: str | None = None,
    model_params: list[object] | None = None,
    order_by: str | None = None,
) -> pd.DataFrame:
    """Cost, usage and unpriced volume grouped by ``dims`` and ``model_dims``.

    ``dims`` map an alias to SQL over ``invocations`` columns; ``model_dims`` over ``model_ids``
    columns (``m.base_model`` …); ``where`` / ``model_where`` filter each. They are SQL written in
    this module, never user text: filter *values* travel in ``params`` / ``model_params``.

    Why it is fast: prices are constant for a model id, tier, source region and price period
    (long-context requests aside), so invocations are first summed by those keys plus ``dims`` —
    no join on the big table — and only the few thousand sums are joined to the model dimension
    and priced.
    Long-context candidates (input above the smallest threshold any price has) are kept apart by
    their exact size, which is cheap because such requests are rare.

    ``cost`` is the sum of what could be priced; :func:`with_price_status` (which every caller
    applies after its own roll-ups) names each group's status and empties the cost of a group
    with nothing priced.
    """
    sql, bound = grouped_cost_query(
        store,
        dims,
        model_dims=model_dims,
        where=where,
        params=params,
        model_where=model_where,
        model_params=model_params,
        order_by=order_by,
    )
    return store.query_df(sql, bound)


def grouped_cost_query(
    store: Store,
    dims: dict[str, str] | None = None,
    *,
    model_dims: dict[str, str] | None = None,
    where: str = "TRUE",
    params: list[object] | None = None,
    model_where: str | None = None,
    model_params: list[object] | None = None,
    order_by: str | None = None,
) -> tuple[str, list[object]]:
    """The SQL of :func:`grouped_cost` with every parameter bound, for a caller that builds on
    it inside DuckDB (the billed basis joins it to the bill's allocation)."""
    threshold = store.con.execute(
        "SELECT coalesce(min(lc_threshold), 9223372036854775807) FROM price_points"
    ).fetchall()[0][0]
    starts = price_period_starts(store)
    sql = grouped_cost_sql(dims, model_dims, where, model_where, order_by, periods=len(starts))
    bound = [*(p for start in starts for p in (start, start)), threshold, *(params or [])]
    return sql, [*bound, *(model_params or [])]


def price_period_starts(store: Store) -> list[datetime]:
    """Every moment at which some price point starts or ends, latest first.

    Between two of these moments every rate of every model is constant, so invocations can be
    summed per such period instead of per UTC day: a 30-day view by identity sums ~30k groups
    instead of ~550k (``bench/explorer.py``), and the price join is exact all the same."""
    rows = store.con.execute(
        "SELECT DISTINCT valid_from FROM price_points UNION "
        "SELECT DISTINCT valid_to FROM price_points ORDER BY 1 DESC"
    ).fetchall()
    return [row[0] for row in rows]


def _price_period_sql(periods: int) -> str:
    """The start of the price period ``ts`` falls in (its UTC day before the first one): the
    ``periods`` starts are bound parameters, latest first, so most rows stop at the first test."""
    if not periods:
        return "date_trunc('day', ts)"
    tests = " ".join("WHEN ts >= ? THEN CAST(? AS TIMESTAMP)" for _ in range(periods))
    return f"CASE {tests} ELSE date_trunc('day', ts) END"


def grouped_cost_sql(
    dims: dict[str, str] | None = None,
    model_dims: dict[str, str] | None = None,
    where: str = "TRUE",
    model_where: str | None = None,
    order_by: str | None = None,
    *,
    periods: int = 0,
) -> str:
    """The SQL of :func:`grouped_cost`: its parameters are ``periods`` pairs of price period
    starts (:func:`price_period_starts`, each twice), then the long-context threshold, then the
    filters' values.

    Written in portable SQL — groups by ordinal, no ``GROUP BY ALL`` or ``QUALIFY`` — so another
    engine (Athena/Trino) is an adapter; ``tests/test_portable_sql.py`` transpiles it."""
    dims = dims or {}
    model_dims = model_dims or {}
    inner_dims = "".join(f"{expr} AS {alias}, " for alias, expr in dims.items())
    sums = ", ".join(f"sum({m}) AS {m}" for m in METER_COLUMNS if m != "images")
    model_filter = (
        f"AND model_id IN (SELECT m.model_id FROM model_ids m WHERE {model_where})"
        if model_where
        else ""
    )
    # Summed per price key (one integer for model id, region, tier and image class:
    # store/price_keys.py), which the next step turns back into those values.
    inner = f"""
        SELECT {inner_dims} price_key, {_price_period_sql(periods)} AS price_day,
            CASE WHEN input_tokens + cache_read_tokens + cache_write_tokens > ?
                 THEN input_tokens + cache_read_tokens + cache_write_tokens ELSE 0 END AS lc_size,
            count(*) AS invocations, {sums},
            sum(CASE WHEN outcome = 'success' THEN coalesce(image_count, 1) ELSE 0 END)
                AS success_images
        FROM invocations
        WHERE ({where}) {model_filter}
        GROUP BY {", ".join(str(i) for i in range(1, len(dims) + 4))}
    """
    keyed = f"""
        SELECT g.*, k.model_id, k.tier, k.region AS price_region,
            k.image_quality, k.image_pixels
        FROM ({inner}) g JOIN price_keys k ON k.price_key = g.price_key
    """
    outer_model_dims = "".join(f"{expr} AS {alias}, " for alias, expr in model_dims.items())
    source = f"""
        SELECT a.*, {outer_model_dims} m.service_type,
            CASE WHEN m.service_type = 'image' THEN a.success_images ELSE 0 END AS images
        FROM ({keyed}) a LEFT JOIN model_ids m USING (model_id)
    """
    aliases = [*dims, *model_dims]
    select_dims = "".join(f"{alias}, " for alias in aliases)
    group = f"GROUP BY {', '.join(aliases)}" if aliases else ""
    outer_sums = ", ".join(f"CAST(sum({m}) AS BIGINT) AS {m}" for m in METER_COLUMNS)
    sql = f"""
        SELECT {select_dims}
            CAST(sum(invocations) AS BIGINT) AS invocations,
            coalesce(sum(cost), 0) AS cost,
            CAST(coalesce(sum(unpriced_tokens), 0) AS BIGINT) AS unpriced_tokens,
            CAST(coalesce(sum(unpriced_images), 0) AS BIGINT) AS unpriced_images,
            -- an upper bound: every invocation of a (model, tier, day) group that has some
            -- unpriced usage, even one whose own tokens are all priced
            CAST(coalesce(sum(invocations) FILTER (
                WHERE unpriced_tokens > 0 OR unpriced_images > 0), 0) AS BIGINT)
                AS invocations_in_unpriced_groups,
            CAST(coalesce(sum(invocations) FILTER (WHERE provisioned), 0) AS BIGINT)
                AS provisioned_invocations,
            CAST(sum(reserved_invocations) AS BIGINT) AS reserved_invocations,
            CAST(sum(unpriced_invocations) AS BIGINT) AS unpriced_invocations,
            CAST(sum(estimated_invocations) AS BIGINT) AS estimated_invocations,
            CAST(coalesce(sum(priced_units), 0) AS BIGINT) AS priced_units,
            {outer_sums},
            coalesce(sum(input_cost), 0) AS input_cost,
            coalesce(sum(output_cost), 0) AS output_cost,
            coalesce(sum(cache_read_cost), 0) AS cache_read_cost,
            coalesce(sum(cache_write_cost), 0) AS cache_write_cost,
            coalesce(sum(cache_write_1h_cost), 0) AS cache_write_1h_cost,
            coalesce(sum(image_cost), 0) AS image_cost,
            -- what the cached tokens would have cost at the input price (cache economics)
            coalesce(sum(CASE WHEN price_status = 'priced'
                              THEN cache_read_tokens * r_input END), 0) AS cache_read_at_input,
            coalesce(sum(CASE WHEN price_status = 'priced'
                              THEN cache_write_tokens * r_input END), 0) AS cache_write_at_input,
            string_agg(DISTINCT price_reason, '; ') AS price_reasons
        FROM ({_rated(source)}) r
        {group}
        {"ORDER BY " + order_by if order_by else ""}
    """
    return sql


#: Sums a group's status is derived from (they survive any roll-up: all are additive).
STATUS_SUMS = (
    "invocations",
    "unpriced_invocations",
    "provisioned_invocations",
    "reserved_invocations",
    "estimated_invocations",
    "unpriced_tokens",
    "unpriced_images",
    "priced_units",
)


def with_price_status(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``price_status`` per group and an empty cost where nothing is priced.

    Why from sums: every view rolls groups up (top N + Other, totals, a coarser grouping), so the
    status must be recomputable from additive columns; ``cost`` holds the priced part (NaN sums
    as 0) and is emptied again here whenever the group's status has no cost.
    """
    out = frame.copy()
    if out.empty:
        out["price_status"] = pd.Series(dtype=object)
        return out
    if "unbilled_invocations" in out:
        return _with_billed_status(out)
    n = {c: out[c].fillna(0).astype(float).to_numpy() for c in STATUS_SUMS}
    capacity = n["provisioned_invocations"] + n["reserved_invocations"]
    unpriced_any = (
        (n["unpriced_invocations"] > 0) | (n["unpriced_tokens"] > 0) | (n["unpriced_images"] > 0)
    )
    priced = n["priced_units"] > 0
    conditions = [
        n["invocations"] == 0,
        (capacity == n["invocations"]) & (n["provisioned_invocations"] > 0),
        capacity == n["invocations"],
        ~priced & unpriced_any,
        ~priced & (capacity > 0),
        ~priced,
        unpriced_any | (capacity > 0),
        n["estimated_invocations"] > 0,
    ]
    choices = [
        STATUS_NO_METER,
        STATUS_PROVISIONED,
        STATUS_RESERVED,
        STATUS_UNPRICED,
        STATUS_PARTLY,
        STATUS_NO_METER,
        STATUS_PARTLY,
        STATUS_ESTIMATED,
    ]
    out["price_status"] = np.select(conditions, choices, default=STATUS_PRICED)
    out["cost"] = out["cost"].astype(float).where(~out["price_status"].isin(NO_COST))
    return out


def _with_billed_status(out: pd.DataFrame) -> pd.DataFrame:
    """The billed basis: a group is billed, partly billed (some of its days have no bill, their
    calls count $0), not billed yet (no bill covers any of its days: an empty cost), or the
    bill's dollars no logged call carries."""
    invocations = out["invocations"].fillna(0).astype(float).to_numpy()
    unbilled = out["unbilled_invocations"].fillna(0).astype(float).to_numpy()
    out["price_status"] = np.select(
        [invocations == 0, unbilled >= invocations, unbilled > 0],
        [STATUS_BILLED_ONLY, STATUS_NOT_BILLED, STATUS_PARTLY_BILLED],
        default=STATUS_BILLED,
    )
    out["cost"] = out["cost"].astype(float).where(~out["price_status"].isin(NO_COST))
    return out


def priced_invocations(row: dict[str, object] | pd.Series) -> float:
    """Invocations with a per-token price: the divisor of cost per 1,000 invocations."""
    return float(
        row["invocations"]
        - row["unpriced_invocations"]  # type: ignore[operator]
        - row["provisioned_invocations"]
        - row["reserved_invocations"]
    )


def overview_totals(store: Store) -> dict[str, object]:
    """Headline figures over everything stored."""
    row = store.con.execute(
        """
        SELECT count(*) AS invocations,
               coalesce(sum(input_tokens), 0) AS input_tokens,
               coalesce(sum(output_tokens), 0) AS output_tokens,
               coalesce(sum(cache_read_tokens), 0) AS cache_read_tokens,
               coalesce(sum(cache_write_tokens), 0) AS cache_write_tokens,
               count(DISTINCT model_id) AS model_ids,
               count(*) FILTER (WHERE outcome = 'guardrail_intervened') AS guardrail_blocks,
               count(*) FILTER (WHERE outcome = 'error') AS errors,
               min(ts) AS first_ts, max(ts) AS last_ts,
               (SELECT count(*) FROM quarantine) AS quarantined,
               (SELECT count(*) FROM integrations) AS integrations
        FROM invocations
        """
    ).fetchall()[0]
    names = [
        "invocations",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "model_ids",
        "guardrail_blocks",
        "errors",
        "first_ts",
        "last_ts",
        "quarantined",
        "integrations",
    ]
    return dict(zip(names, row, strict=True))


def store_summary(store: Store) -> dict[str, object]:
    """What the sidebar shows on every page: counts and the newest invocation — no sums, so it
    costs milliseconds at 10M rows (:func:`overview_totals` sums every token column)."""
    row = store.con.execute(
        """
        SELECT (SELECT count(*) FROM invocations), (SELECT max(ts) FROM invocations),
               (SELECT count(*) FROM quarantine), (SELECT count(*) FROM integrations)
        """
    ).fetchall()[0]
    return dict(zip(("invocations", "last_ts", "quarantined", "integrations"), row, strict=True))


def cost_totals(store: Store, since: datetime | None = None) -> dict[str, object]:
    """Total cost with what could not be priced, the way every view must show it."""
    frame = with_price_status(
        grouped_cost(store, where="? IS NULL OR ts >= ?", params=[since, since])
    )
    row = frame.iloc[0].to_dict()
    keys = (
        "invocations",
        "unpriced_tokens",
        "unpriced_images",
        "invocations_in_unpriced_groups",
        *STATUS_SUMS,
    )
    out: dict[str, object] = {k: (0 if pd.isna(row[k]) else row[k]) for k in keys}
    # An empty cost stays empty (None): nothing in the selection has a per-token price.
    out["cost"] = None if pd.isna(row["cost"]) else float(row["cost"])
    out["price_status"] = row["price_status"]
    return out


def daily_cost_by_model(store: Store, since: datetime | None = None) -> pd.DataFrame:
    """Per UTC day and model: cost, invocations and unpriced tokens."""
    frame = grouped_cost(
        store,
        {"day": "date_trunc('day', ts)"},
        model_dims={"model": "coalesce(m.base_model, a.model_id)"},
        where="? IS NULL OR ts >= ?",
        params=[since, since],
        order_by="day, model",
    )
    return frame[["day", "model", "invocations", "cost", "unpriced_tokens"]]


def unpriced_models(store: Store) -> pd.DataFrame:
    """Price keys seen without a (complete, exact) price, with their volume and the reason."""
    frame = grouped_cost(
        store,
        {"raw_model_id": "model_id", "src_region": "region", "perf_tier": "performance_tier"},
        # (aliases differ from model_ids' own column names, which DuckDB would confuse)
        model_dims={"model_base": "coalesce(m.base_model, '')", "model_routing": "m.routing"},
        order_by="unpriced_tokens DESC",
    )
    frame = with_price_status(frame)
    frame = frame[~frame.price_status.isin((STATUS_PRICED, STATUS_NO_METER))]
    frame = frame.assign(
        model_id=frame.raw_model_id,
        base_model=frame.model_base,
        routing=frame.model_routing,
        region=frame.src_region,
        tier=frame.perf_tier,
        status=frame.price_status,
        reason=frame.price_reasons.fillna("a meter with usage has no rate"),
    )
    columns = [
        "model_id",
        "base_model",
        "routing",
        "region",
        "tier",
        "status",
        "reason",
        "invocations",
        "unpriced_tokens",
        "unpriced_images",
    ]
    return frame[columns].reset_index(drop=True)


def integration_stats(store: Store) -> pd.DataFrame:
    """Per integration: invocations, cost, date range, quarantined lines, last sync."""
    costs = with_price_status(grouped_cost(store, {"integration_id": "integration_id"}))
    store.con.register("integration_costs", costs)
    try:
        return store.query_df(
            """
            SELECT i.name AS integration, i.kind, i.is_demo,
                   coalesce(v.invocations, 0) AS invocations,
                   c.cost AS cost_usd,
                   coalesce(c.price_status, 'no billable meter') AS price_status,
                   coalesce(c.unpriced_tokens, 0) AS unpriced_tokens,
                   v.first_ts AS first_invocation, v.last_ts AS last_invocation,
                   coalesce(q.quarantined, 0) AS quarantined,
                   i.last_sync_status, i.last_sync_finished_at, i.last_sync_message
            FROM integrations i
            LEFT JOIN (SELECT integration_id, count(*) AS invocations,
                              min(ts) AS first_ts, max(ts) AS last_ts
                       FROM invocations GROUP BY integration_id) v ON v.integration_id = i.id
            LEFT JOIN integration_costs c ON c.integration_id = i.id
            LEFT JOIN (SELECT integration_id, count(*) AS quarantined
                       FROM quarantine GROUP BY integration_id) q ON q.integration_id = i.id
            ORDER BY i.name
            """
        )
    finally:
        store.con.unregister("integration_costs")


def price_list(store: Store, model_filter: str | None = None) -> pd.DataFrame:
    """The compiled prices per model id seen: status, rates (per 1M tokens / per image), source."""
    return store.query_df(
        """
        SELECT model_id, nullif(region, '') AS region, tier, status, routing_class,
               round(input * 1e6, 6) AS input_per_m, round(output * 1e6, 6) AS output_per_m,
               round(cache_read * 1e6, 6) AS cache_read_per_m,
               round(cache_write * 1e6, 6) AS cache_write_per_m,
               round(cache_write_1h * 1e6, 6) AS cache_write_1h_per_m,
               image AS per_image, image_premium AS per_image_premium,
               image_large AS per_image_large, image_premium_large AS per_image_premium_large,
               image_base_pixels AS large_image_above_pixels,
               lc_threshold AS long_context_above,
               CAST(valid_from AS DATE) AS valid_from,
               CASE WHEN valid_to < TIMESTAMP '2999-01-01' THEN CAST(valid_to AS DATE) END
                   AS valid_to,
               coalesce(source, reason) AS source_or_reason
        FROM price_points
        WHERE ($filter IS NULL OR model_id ILIKE '%' || $filter || '%')
          AND (tier = 'standard' OR status = 'priced')
        ORDER BY model_id, region, tier, valid_from
        """,
        {"filter": model_filter},
    )


def first_invocation(store: Store, integrations: tuple[str, ...] = ()) -> datetime | None:
    """When the stored data of these integrations (all when none) begins, naive UTC. (For all
    of them DuckDB answers from the column's statistics: 0.3 ms at 10M rows instead of 20.)"""
    if not integrations:
        row = store.con.execute("SELECT min(ts) FROM invocations").fetchall()[0]
    else:
        row = store.con.execute(
            "SELECT min(ts) FROM invocations WHERE integration_id IN "
            "(SELECT id FROM integrations WHERE list_contains(?, name))",
            [list(integrations)],
        ).fetchall()[0]
    found: datetime | None = row[0]
    return found


def usage_by_model(store: Store) -> pd.DataFrame:
    """Per raw model id: how it resolves (base model, routing, service type) and its usage."""
    return store.query_df(
        """
        SELECT coalesce(m.base_model, '(resolved later)') AS base_model,
               m.routing, m.service_type, i.model_id,
               count(*) AS invocations,
               sum(i.input_tokens) AS input_tokens,
               sum(i.output_tokens) AS output_tokens,
               sum(i.cache_read_tokens) AS cache_read_tokens,
               sum(i.cache_write_tokens) AS cache_write_tokens,
               sum(i.image_count) AS images
        FROM invocations i LEFT JOIN model_ids m USING (model_id)
        GROUP BY 1, 2, 3, 4
        ORDER BY invocations DESC
        """
    )


#: The public name of the pricing step, for the Explorer's detail rows and coverage's missing
#: volume (priced with the very same rates and statuses).
rated_sql = _rated
