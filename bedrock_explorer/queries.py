"""The grouped SQL behind the dashboard and the CLI reports. Returns pandas DataFrames.

Why one module: pages and the CLI must show the same numbers, so neither writes SQL of its own.
Every filter value travels as a bound parameter, never pasted into SQL text.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from bedrock_explorer.store import Store

#: Every invocation with its price point and its cost per meter, in USD (DOUBLE). Rates live in
#: ``price_points`` (compiled from the layered rates), joined by raw model id, performance tier
#: and time, so a price correction re-prices history at the next query. A meter with usage but no
#: rate contributes no dollars and its tokens are counted as *unpriced*: never a silent $0.
PRICED = """
WITH j AS (
    SELECT i.*, m.base_model, m.routing, m.service_type, m.provider,
        coalesce(p.status, 'unpriced') AS price_status,
        p.source AS price_source,
        coalesce(p.reason, CASE WHEN p.status IS NULL THEN 'not priced yet' END) AS price_reason,
        p.lc_threshold IS NOT NULL
            AND i.input_tokens + i.cache_read_tokens + i.cache_write_tokens > p.lc_threshold
            AS long_context,
        p.input, p.output, p.cache_read, p.cache_write, p.cache_write_1h, p.image,
        p.lc_input, p.lc_output, p.lc_cache_read, p.lc_cache_write, p.lc_cache_write_1h, p.lc_image
    FROM invocations i
    LEFT JOIN model_ids m USING (model_id)
    LEFT JOIN price_points p
        ON p.model_id = i.model_id AND p.tier = i.performance_tier
       AND i.ts >= p.valid_from AND i.ts < p.valid_to
),
r AS (
    SELECT *,
        CASE WHEN long_context THEN lc_input ELSE input END AS r_input,
        CASE WHEN long_context THEN lc_output ELSE output END AS r_output,
        CASE WHEN long_context THEN lc_cache_read ELSE cache_read END AS r_cache_read,
        CASE WHEN long_context THEN lc_cache_write ELSE cache_write END AS r_cache_write,
        CASE WHEN long_context THEN lc_cache_write_1h ELSE cache_write_1h END AS r_cache_write_1h,
        CASE WHEN long_context THEN coalesce(lc_image, image) ELSE image END AS r_image,
        CASE WHEN service_type = 'image' AND outcome = 'success'
             THEN coalesce(image_count, 1) ELSE 0 END AS images
    FROM j
)
SELECT *,
    CASE WHEN price_status = 'priced' THEN input_tokens * r_input END AS input_cost,
    CASE WHEN price_status = 'priced' THEN output_tokens * r_output END AS output_cost,
    CASE WHEN price_status = 'priced' THEN cache_read_tokens * r_cache_read END AS cache_read_cost,
    CASE WHEN price_status = 'priced'
         THEN (cache_write_tokens - cache_write_1h_tokens) * r_cache_write END AS cache_write_cost,
    CASE WHEN price_status = 'priced'
         THEN cache_write_1h_tokens * r_cache_write_1h END AS cache_write_1h_cost,
    CASE WHEN price_status = 'priced' THEN images * r_image END AS image_cost,
    CASE WHEN price_status = 'priced' THEN
        coalesce(input_tokens * r_input, 0) + coalesce(output_tokens * r_output, 0)
        + coalesce(cache_read_tokens * r_cache_read, 0)
        + coalesce((cache_write_tokens - cache_write_1h_tokens) * r_cache_write, 0)
        + coalesce(cache_write_1h_tokens * r_cache_write_1h, 0)
        + coalesce(images * r_image, 0)
    ELSE 0 END AS cost,
    CASE
        -- Image models bill per image; their prompt tokens are part of that price.
        WHEN price_status = 'priced' AND service_type = 'image' AND r_image IS NOT NULL THEN 0
        WHEN price_status = 'priced' THEN
            (CASE WHEN r_input IS NULL THEN input_tokens ELSE 0 END)
            + (CASE WHEN r_output IS NULL THEN output_tokens ELSE 0 END)
            + (CASE WHEN r_cache_read IS NULL THEN cache_read_tokens ELSE 0 END)
            + (CASE WHEN r_cache_write IS NULL
                    THEN cache_write_tokens - cache_write_1h_tokens ELSE 0 END)
            + (CASE WHEN r_cache_write_1h IS NULL THEN cache_write_1h_tokens ELSE 0 END)
        WHEN price_status = 'unpriced' THEN
            input_tokens + output_tokens + cache_read_tokens + cache_write_tokens
        ELSE 0
    END AS unpriced_tokens,
    CASE WHEN price_status = 'unpriced' OR (price_status = 'priced' AND r_image IS NULL)
         THEN images ELSE 0 END AS unpriced_images,
    price_status = 'provisioned' AS provisioned
FROM r
"""


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


def cost_totals(store: Store, since: datetime | None = None) -> dict[str, object]:
    """Total cost with what could not be priced, the way every view must show it."""
    row = store.con.execute(
        f"""
        SELECT count(*) AS invocations,
               coalesce(sum(cost), 0) AS cost,
               coalesce(sum(unpriced_tokens), 0) AS unpriced_tokens,
               coalesce(sum(unpriced_images), 0) AS unpriced_images,
               count(*) FILTER (WHERE unpriced_tokens > 0 OR unpriced_images > 0)
                   AS invocations_with_unpriced_usage,
               count(*) FILTER (WHERE provisioned) AS provisioned_invocations
        FROM ({PRICED}) WHERE ? IS NULL OR ts >= ?
        """,
        [since, since],
    ).fetchall()[0]
    names = [
        "invocations",
        "cost",
        "unpriced_tokens",
        "unpriced_images",
        "invocations_with_unpriced_usage",
        "provisioned_invocations",
    ]
    return dict(zip(names, row, strict=True))


def daily_cost_by_model(store: Store, since: datetime | None = None) -> pd.DataFrame:
    """Per UTC day and model: cost, invocations and unpriced tokens."""
    return store.query_df(
        f"""
        SELECT date_trunc('day', ts) AS day,
               coalesce(base_model, model_id) AS model,
               count(*) AS invocations,
               sum(cost) AS cost,
               sum(unpriced_tokens) AS unpriced_tokens
        FROM ({PRICED})
        WHERE ? IS NULL OR ts >= ?
        GROUP BY ALL ORDER BY day, model
        """,
        [since, since],
    )


def unpriced_models(store: Store) -> pd.DataFrame:
    """Models seen without a (complete) price, with their token volume and the reason."""
    return store.query_df(
        f"""
        SELECT model_id, coalesce(base_model, '') AS base_model, routing, performance_tier AS tier,
               price_status AS status,
               coalesce(price_reason, 'a meter with usage has no rate') AS reason,
               count(*) AS invocations,
               sum(unpriced_tokens) AS unpriced_tokens,
               sum(unpriced_images) AS unpriced_images
        FROM ({PRICED})
        WHERE unpriced_tokens > 0 OR unpriced_images > 0 OR price_status <> 'priced'
        GROUP BY ALL ORDER BY unpriced_tokens DESC
        """
    )


def integration_stats(store: Store) -> pd.DataFrame:
    """Per integration: invocations, cost, date range, quarantined lines, last sync."""
    return store.query_df(
        f"""
        SELECT i.name AS integration, i.kind, i.is_demo,
               coalesce(v.invocations, 0) AS invocations,
               round(coalesce(v.cost, 0), 2) AS cost_usd,
               coalesce(v.unpriced_tokens, 0) AS unpriced_tokens,
               v.first_ts AS first_invocation, v.last_ts AS last_invocation,
               coalesce(q.quarantined, 0) AS quarantined,
               i.last_sync_status, i.last_sync_finished_at, i.last_sync_message
        FROM integrations i
        LEFT JOIN (SELECT integration_id, count(*) AS invocations,
                          sum(cost) AS cost, sum(unpriced_tokens) AS unpriced_tokens,
                          min(ts) AS first_ts, max(ts) AS last_ts
                   FROM ({PRICED}) GROUP BY ALL) v ON v.integration_id = i.id
        LEFT JOIN (SELECT integration_id, count(*) AS quarantined
                   FROM quarantine GROUP BY ALL) q ON q.integration_id = i.id
        ORDER BY i.name
        """
    )


def price_list(store: Store, model_filter: str | None = None) -> pd.DataFrame:
    """The compiled prices per model id seen: status, rates (per 1M tokens / per image), source."""
    return store.query_df(
        """
        SELECT model_id, tier, status, routing_class,
               round(input * 1e6, 6) AS input_per_m, round(output * 1e6, 6) AS output_per_m,
               round(cache_read * 1e6, 6) AS cache_read_per_m,
               round(cache_write * 1e6, 6) AS cache_write_per_m,
               round(cache_write_1h * 1e6, 6) AS cache_write_1h_per_m,
               image AS per_image, lc_threshold AS long_context_above,
               CAST(valid_from AS DATE) AS valid_from,
               CASE WHEN valid_to < TIMESTAMP '2999-01-01' THEN CAST(valid_to AS DATE) END
                   AS valid_to,
               coalesce(source, reason) AS source_or_reason
        FROM price_points
        WHERE ($filter IS NULL OR model_id ILIKE '%' || $filter || '%')
          AND (tier = 'standard' OR status = 'priced')
        ORDER BY model_id, tier, valid_from
        """,
        {"filter": model_filter},
    )


def daily_tokens_by_model(store: Store, since: datetime | None = None) -> pd.DataFrame:
    """Per UTC day and base model: invocations and tokens by meter."""
    return store.query_df(
        """
        SELECT date_trunc('day', i.ts) AS day,
               coalesce(m.base_model, i.model_id) AS model,
               count(*) AS invocations,
               sum(i.input_tokens) AS input_tokens,
               sum(i.output_tokens) AS output_tokens,
               sum(i.cache_read_tokens) AS cache_read_tokens,
               sum(i.cache_write_tokens) AS cache_write_tokens
        FROM invocations i LEFT JOIN model_ids m USING (model_id)
        WHERE ? IS NULL OR i.ts >= ?
        GROUP BY ALL
        ORDER BY day, model
        """,
        [since, since],
    )


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
        GROUP BY ALL
        ORDER BY invocations DESC
        """
    )
