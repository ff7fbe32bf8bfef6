"""Schema of the DuckDB file, as an ordered list of migrations.

Why migrations from day one: the file is the user's history of spend. A newer Bedrock Explorer must
open an older file and bring it forward in place, never ask for a re-import. Each migration runs in
one transaction together with the ``schema_version`` row that records it.

Why ``invocations`` has no PRIMARY KEY: measured on this project's target machine, a key made loads
~3x slower and the file ~3.5x larger. Uniqueness of ``(integration_id, request_id)`` is kept by the
writer instead: what a batch repeats, inside itself or against stored rows, is deleted right after
the insert, in the same transaction — see ``writer.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from bedrock_explorer.errors import DatabaseVersionError
from bedrock_explorer.records import FIRST_YEAR, LAST_YEAR, MAX_TOKENS
from bedrock_explorer.store.transaction import transaction

_OUT_OF_RANGE = (
    f"ts < TIMESTAMP '{FIRST_YEAR}-01-01' OR ts >= TIMESTAMP '{LAST_YEAR + 1}-01-01' OR "
    + " OR ".join(
        f"{column} > {MAX_TOKENS}"
        for column in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
    )
)

MIGRATIONS: Sequence[str] = (
    # 1: the foundation
    """
    CREATE SEQUENCE integration_id_seq START 1;
    CREATE TABLE integrations (
        id INTEGER PRIMARY KEY DEFAULT nextval('integration_id_seq'),
        name VARCHAR NOT NULL UNIQUE,
        kind VARCHAR NOT NULL,              -- local | cloudwatch | s3 | demo
        config JSON NOT NULL,               -- where the logs are, how to authenticate; no secrets
        is_demo BOOLEAN NOT NULL DEFAULT false,
        created_at TIMESTAMP NOT NULL,
        last_sync_started_at TIMESTAMP,
        last_sync_finished_at TIMESTAMP,
        last_sync_status VARCHAR,           -- ok | error | running
        last_sync_message VARCHAR
    );
    CREATE TABLE invocations (
        integration_id INTEGER NOT NULL,
        request_id VARCHAR NOT NULL,
        ts TIMESTAMP NOT NULL,              -- UTC
        account_id VARCHAR,
        region VARCHAR,
        inference_region VARCHAR,
        operation VARCHAR,
        model_id VARCHAR NOT NULL,          -- verbatim; see model_ids for base model and routing
        identity_arn VARCHAR,               -- see identities for principal, account, session
        input_tokens BIGINT NOT NULL,       -- excludes cache tokens, as Bedrock logs it
        output_tokens BIGINT NOT NULL,
        cache_read_tokens BIGINT NOT NULL,
        cache_write_tokens BIGINT NOT NULL, -- all cache writes, 5-minute and 1-hour
        cache_write_1h_tokens BIGINT NOT NULL, -- the 1-hour part of cache_write_tokens
        image_count INTEGER,
        performance_tier VARCHAR NOT NULL,  -- standard | latency_optimized | flex | priority | …
        stop_reason VARCHAR,
        outcome VARCHAR NOT NULL,           -- success | guardrail_intervened | error
        error_code VARCHAR,
        latency_ms BIGINT,
        first_byte_latency_ms BIGINT,
        body_offloaded BOOLEAN NOT NULL,
        request_metadata MAP(VARCHAR, VARCHAR),
        schema_version VARCHAR,
        ingested_at TIMESTAMP NOT NULL
    );
    CREATE TABLE model_ids (
        model_id VARCHAR PRIMARY KEY,       -- the raw modelId as logged
        base_model VARCHAR,                 -- NULL until resolved (provisioned, app profiles)
        routing VARCHAR NOT NULL,
        geo VARCHAR,
        arn_region VARCHAR,
        provider VARCHAR,
        service_type VARCHAR NOT NULL,
        resolved_by VARCHAR NOT NULL,       -- derived | aws | user
        updated_at TIMESTAMP NOT NULL
    );
    CREATE TABLE identities (
        identity_arn VARCHAR PRIMARY KEY,
        principal_type VARCHAR NOT NULL,    -- user | assumed-role | role | root | federated-user
        principal_account VARCHAR,
        principal_name VARCHAR,             -- role or user name
        session_name VARCHAR                -- role session (gateways: one per end user)
    );
    CREATE TABLE quarantine (
        integration_id INTEGER NOT NULL,
        source VARCHAR NOT NULL,            -- file path, log stream or S3 key
        ref VARCHAR NOT NULL,               -- line number or event id inside the source
        reason VARCHAR NOT NULL,            -- never the line itself: it can hold prompt text
        quarantined_at TIMESTAMP NOT NULL
    );
    CREATE TABLE settings (
        key VARCHAR PRIMARY KEY,
        value VARCHAR NOT NULL
    );
    CREATE TABLE sync_checkpoints (
        integration_id INTEGER NOT NULL,
        cursor_key VARCHAR NOT NULL,
        cursor_value VARCHAR NOT NULL,
        updated_at TIMESTAMP NOT NULL,
        PRIMARY KEY (integration_id, cursor_key)
    );
    """,
    # 2: pricing — layered rates with provenance, compiled into price_points (see pricing/book.py)
    """
    -- the smallest long-context threshold of a model id's price points (NULL: none), so a query
    -- could flag long-context invocations with the join it already made to model_ids; unused
    -- since schema 5 (the threshold of the price point in force decides)
    ALTER TABLE model_ids ADD COLUMN lc_threshold BIGINT;
    CREATE TABLE rates (
        layer INTEGER NOT NULL,             -- 1 user, 2 AWS Price List, 3 genai-prices, 4 bundled
        source VARCHAR NOT NULL,
        source_url VARCHAR,
        as_of DATE,
        model_key VARCHAR NOT NULL,         -- base model id (or genai-prices' name for it)
        routing_class VARCHAR NOT NULL,     -- regional | global | any
        tier VARCHAR NOT NULL,              -- standard | latency_optimized
        meter VARCHAR NOT NULL,             -- input | output | cache_read | cache_write | ...
        usd_per_unit DECIMAL(24, 15) NOT NULL,  -- per ONE token or image, never per 1K/1M
        unit VARCHAR NOT NULL,              -- token | image
        min_input_tokens BIGINT NOT NULL,   -- > 0: long-context rate above this input size
        effective_from DATE NOT NULL,
        effective_to DATE,                  -- exclusive; NULL = still in force
        note VARCHAR,
        created_at TIMESTAMP NOT NULL
    );
    CREATE TABLE price_points (
        model_id VARCHAR NOT NULL,
        tier VARCHAR NOT NULL,
        valid_from TIMESTAMP NOT NULL,
        valid_to TIMESTAMP NOT NULL,        -- exclusive
        status VARCHAR NOT NULL,            -- priced | unpriced | provisioned
        pricing_key VARCHAR,
        routing_class VARCHAR,
        source VARCHAR,
        reason VARCHAR,
        input DOUBLE, output DOUBLE, cache_read DOUBLE, cache_write DOUBLE,
        cache_write_1h DOUBLE, image DOUBLE,    -- USD per token / image; NULL = no rate
        lc_threshold BIGINT,
        lc_input DOUBLE, lc_output DOUBLE, lc_cache_read DOUBLE, lc_cache_write DOUBLE,
        lc_cache_write_1h DOUBLE, lc_image DOUBLE
    );
    """,
    # 3: which process runs a sync, so a sync that was killed is not shown as running forever
    """
    ALTER TABLE integrations ADD COLUMN last_sync_host VARCHAR;
    ALTER TABLE integrations ADD COLUMN last_sync_pid INTEGER;
    """,
    # 4: rows stored before values were held to their ranges (token counts up to 1e9, timestamps
    # 1990-2100) move to the quarantine, keyed by request id: one such row made every figure fail.
    f"""
    INSERT INTO quarantine
    SELECT integration_id, 'stored before range checks', request_id,
        CASE WHEN ts < TIMESTAMP '{FIRST_YEAR}-01-01' OR ts >= TIMESTAMP '{LAST_YEAR + 1}-01-01'
             THEN 'timestamp outside {FIRST_YEAR}–{LAST_YEAR}'
             ELSE 'a token count over {MAX_TOKENS:,}' END,
        current_timestamp AT TIME ZONE 'UTC'
    FROM invocations WHERE {_OUT_OF_RANGE};
    DELETE FROM invocations WHERE {_OUT_OF_RANGE};
    """,
    # 5: prices by source region and service tier. A rate gets a region scope (an AWS region, a
    # geography such as eu or apac, or * for the published default); a price point is keyed by
    # model id, source region and tier. The hand-kept bundled file moves to layer 5 (litellm's
    # price map is layer 4). Points are recompiled on the next open (pricing/points.py).
    """
    ALTER TABLE rates ADD COLUMN IF NOT EXISTS region VARCHAR DEFAULT '*';
    UPDATE rates SET region = '*';
    UPDATE rates SET layer = 5 WHERE layer = 4 AND source NOT LIKE 'litellm%';
    DELETE FROM price_points;
    ALTER TABLE price_points ADD COLUMN IF NOT EXISTS region VARCHAR DEFAULT '';
    DELETE FROM settings WHERE key IN ('pricing.builtin_version', 'pricing.points_version');
    """,
    # 6: the last *successful* sync survives a later failure (the Integrations card and the
    # Explorer's freshness show it), with how far it read; an optional in-app sync schedule.
    """
    ALTER TABLE integrations ADD COLUMN IF NOT EXISTS last_success_at TIMESTAMP;
    ALTER TABLE integrations ADD COLUMN IF NOT EXISTS last_success_message VARCHAR;
    ALTER TABLE integrations ADD COLUMN IF NOT EXISTS last_success_read_to TIMESTAMP;
    ALTER TABLE integrations ADD COLUMN IF NOT EXISTS sync_every_minutes INTEGER;
    UPDATE integrations SET last_success_at = last_sync_finished_at,
        last_success_message = last_sync_message WHERE last_sync_status = 'ok';
    """,
    # 7: the audit trail (audit.py): who changed what, when, through the CLI or the dashboard.
    """
    CREATE TABLE IF NOT EXISTS audit_log (
        logged_at TIMESTAMP NOT NULL,       -- UTC
        actor VARCHAR NOT NULL,             -- signed-in user, or the OS user
        via VARCHAR NOT NULL,               -- cli | dashboard | schedule
        action VARCHAR NOT NULL,
        target VARCHAR,
        detail VARCHAR
    );
    """,
    # 8: coverage (coverage/): what AWS measured beside what the logs hold — the logging
    # configuration of each region an integration's account uses, and the AWS/Bedrock metrics
    # per UTC day (per model id; the log-delivery metrics with model_id '').
    """
    CREATE TABLE IF NOT EXISTS coverage_regions (
        integration_id INTEGER NOT NULL,
        region VARCHAR NOT NULL,
        checked_at TIMESTAMP NOT NULL,      -- UTC
        logging_on BOOLEAN,                 -- NULL: the configuration could not be read
        log_group VARCHAR,
        bucket VARCHAR,
        prefix VARCHAR,
        text_delivery BOOLEAN,
        image_delivery BOOLEAN,
        embedding_delivery BOOLEAN,
        video_delivery BOOLEAN,
        logging_error VARCHAR,              -- why the configuration could not be read
        metrics_error VARCHAR,              -- why the metrics could not be read
        PRIMARY KEY (integration_id, region)
    );
    CREATE TABLE IF NOT EXISTS measured_usage (
        integration_id INTEGER NOT NULL,
        region VARCHAR NOT NULL,
        day DATE NOT NULL,                  -- UTC
        model_id VARCHAR NOT NULL,          -- '' for the account-wide delivery metrics
        metric VARCHAR NOT NULL,            -- AWS/Bedrock metric name, e.g. Invocations
        value DOUBLE NOT NULL,              -- the day's Sum
        fetched_at TIMESTAMP NOT NULL,
        PRIMARY KEY (integration_id, region, day, model_id, metric)
    );
    """,
    # 9: the AWS bill (bill/): lines from CUR 2.0 files or Cost Explorer, kept as billed (the
    # usage type unparsed: its meaning is read at query time from bill/usage_types.json, so a
    # better grammar re-reads old bills without a re-import), per source for idempotent imports.
    """
    CREATE TABLE IF NOT EXISTS bill_sources (
        integration_id INTEGER NOT NULL,
        kind VARCHAR NOT NULL,              -- cur | cost_explorer
        ref VARCHAR NOT NULL,               -- a file path or s3:// URI; 'Cost Explorer'
        fingerprint VARCHAR,                -- size and mtime, or the S3 ETag: unchanged → skipped
        first_day DATE,                     -- the UTC days it covers, inclusive
        last_day DATE,
        lines BIGINT NOT NULL,
        unblended_cost DOUBLE NOT NULL,
        imported_at TIMESTAMP NOT NULL,
        PRIMARY KEY (integration_id, kind, ref)
    );
    CREATE TABLE IF NOT EXISTS bill_lines (
        integration_id INTEGER NOT NULL,
        kind VARCHAR NOT NULL,
        ref VARCHAR NOT NULL,
        day DATE NOT NULL,                  -- UTC usage day
        account_id VARCHAR,
        service VARCHAR,                    -- Cost Explorer service, or the CUR product name
        product_code VARCHAR,
        usage_type VARCHAR NOT NULL,
        line_item_type VARCHAR NOT NULL,    -- Usage, Credit, Discount, … (Cost Explorer: Usage)
        region_code VARCHAR,                -- product_region_code, when the file has it
        unit VARCHAR,                       -- the pricing unit as billed (1K tokens, …)
        usage_amount DOUBLE NOT NULL,       -- in that unit
        unblended_cost DOUBLE NOT NULL,
        net_unblended_cost DOUBLE           -- NULL: the source gives none (= unblended)
    );
    -- the days Cost Explorer answered for, per service ('' = the list of services itself)
    CREATE TABLE IF NOT EXISTS bill_ce_days (
        integration_id INTEGER NOT NULL,
        service VARCHAR NOT NULL,
        day DATE NOT NULL,
        fetched_at TIMESTAMP NOT NULL,
        PRIMARY KEY (integration_id, service, day)
    );
    """,
    # 10: a small integer price key on each invocation. Grouped cost queries sum invocations per
    # price key before pricing; hashing one integer instead of model id, region and tier (three
    # strings) per row is what keeps cost at the price of tokens (bench/pricing.py). The writer
    # assigns it in the transaction that stores the rows (store/price_keys.py).
    """
    CREATE TABLE IF NOT EXISTS price_keys (
        price_key INTEGER PRIMARY KEY,
        model_id VARCHAR NOT NULL,
        region VARCHAR NOT NULL,            -- the source region, '' when the record had none
        tier VARCHAR NOT NULL               -- performance_tier
    );
    ALTER TABLE invocations ADD COLUMN IF NOT EXISTS price_key INTEGER;
    INSERT INTO price_keys (price_key, model_id, region, tier)
    SELECT CAST((SELECT coalesce(max(price_key), 0) FROM price_keys)
                + row_number() OVER (ORDER BY model_id, region, tier) AS INTEGER),
        model_id, region, tier
    FROM (SELECT DISTINCT model_id, coalesce(region, '') AS region, performance_tier AS tier
          FROM invocations WHERE price_key IS NULL
          EXCEPT SELECT model_id, region, tier FROM price_keys);
    UPDATE invocations i SET price_key = k.price_key FROM price_keys k
    WHERE i.price_key IS NULL AND k.model_id = i.model_id AND k.region = coalesce(i.region, '')
      AND k.tier = i.performance_tier;
    """,
    # 11: images priced by quality and size (Nova Canvas, Titan Image): the request's
    # imageGenerationConfig quality and width x height on each invocation and in its price key
    # ('' and 0 when the request named none), and the class rates in price points. Older rows
    # keep '' / 0: priced as the API's default, standard quality at 1024 x 1024. Price points
    # are recompiled on the next open (pricing/points.py POINTS_VERSION).
    """
    ALTER TABLE invocations ADD COLUMN IF NOT EXISTS image_quality VARCHAR;
    ALTER TABLE invocations ADD COLUMN IF NOT EXISTS image_pixels BIGINT;
    ALTER TABLE price_keys ADD COLUMN IF NOT EXISTS image_quality VARCHAR DEFAULT '';
    ALTER TABLE price_keys ADD COLUMN IF NOT EXISTS image_pixels BIGINT DEFAULT 0;
    ALTER TABLE price_points ADD COLUMN IF NOT EXISTS image_premium DOUBLE;
    ALTER TABLE price_points ADD COLUMN IF NOT EXISTS image_large DOUBLE;
    ALTER TABLE price_points ADD COLUMN IF NOT EXISTS image_premium_large DOUBLE;
    ALTER TABLE price_points ADD COLUMN IF NOT EXISTS image_base_pixels BIGINT;
    """,
    # 12: the metadata set of each invocation, one integer for its whole requestMetadata map,
    # and the distinct maps in metadata_sets: the Explorer's metadata keys and cost by a key
    # read the integer instead of every map (store/metadata_sets.py). The writer assigns it in
    # the transaction that stores the rows.
    """
    CREATE TABLE IF NOT EXISTS metadata_sets (
        set_id INTEGER PRIMARY KEY,
        request_metadata MAP(VARCHAR, VARCHAR) NOT NULL
    );
    ALTER TABLE invocations ADD COLUMN IF NOT EXISTS metadata_set INTEGER;
    -- more distinct maps than metadata_sets.CAP: the store reads the maps directly, no sets
    INSERT OR REPLACE INTO settings
    SELECT 'metadata_sets.direct', '1'
    WHERE (SELECT count(DISTINCT request_metadata) FROM invocations) > 50000;
    INSERT INTO metadata_sets (set_id, request_metadata)
    SELECT CAST((SELECT coalesce(max(set_id), 0) FROM metadata_sets)
                + row_number() OVER (ORDER BY CAST(m AS VARCHAR)) AS INTEGER), m
    FROM (SELECT DISTINCT request_metadata AS m FROM invocations
          WHERE metadata_set IS NULL AND request_metadata IS NOT NULL
          EXCEPT SELECT request_metadata FROM metadata_sets)
    WHERE NOT EXISTS (SELECT 1 FROM settings WHERE key = 'metadata_sets.direct');
    UPDATE invocations i SET metadata_set = s.set_id FROM metadata_sets s
    WHERE i.metadata_set IS NULL AND i.request_metadata IS NOT NULL
      AND s.request_metadata = i.request_metadata;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version recorded in the file (0 for a new file)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchall()[0][0]
    if not exists:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0]


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the file to :data:`SCHEMA_VERSION`; returns the version found before."""
    found = current_version(con)
    if found > SCHEMA_VERSION:
        raise DatabaseVersionError(
            f"This database was written by a newer Bedrock Explorer (schema {found}, "
            f"this one knows {SCHEMA_VERSION})",
            "upgrade Bedrock Explorer (git pull; pip install -r requirements.txt)",
        )
    if found == SCHEMA_VERSION:
        return found
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version "
        "(version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    for version in range(found + 1, SCHEMA_VERSION + 1):
        with transaction(con):
            con.execute(MIGRATIONS[version - 1])
            con.execute(
                "INSERT INTO schema_version VALUES (?, current_timestamp AT TIME ZONE 'UTC')",
                [version],
            )
    return found
