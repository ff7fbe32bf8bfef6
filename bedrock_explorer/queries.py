"""The grouped SQL behind the dashboard and the CLI reports. Returns pandas DataFrames.

Why one module: pages and the CLI must show the same numbers, so neither writes SQL of its own.
Every filter value travels as a bound parameter, never pasted into SQL text.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from bedrock_explorer.store import Store


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
