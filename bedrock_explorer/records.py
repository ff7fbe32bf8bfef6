"""The Bedrock model invocation log schema: the only module that knows it.

Why the parsing is SQL: a batch of raw lines goes to DuckDB as one Arrow string column and is
parsed there with ``json_transform`` into exactly the fields we keep. That runs several times faster
than ``json.loads`` per line (see ``bench/README.md``) and, as important, it is *privacy by
construction*: the target type names only metadata and token counts, so prompt and response text is
never materialised as a value anywhere — not in a table, not in Python, not in an error message.

:func:`parse_line` runs the very same SQL over a one-line batch, so tests and callers that want a
single record get exactly what an import would store.

Facts the SQL encodes (see ``shared/design.md`` and the fixtures):

* ``input.inputTokenCount`` excludes cache tokens; cache read / write counts are separate and absent
  on old records (absent = 0). 1-hour cache writes are reported only inside the response body:
  Converse ``usage.cacheDetails[ttl=1h]`` or Anthropic
  ``usage.cache_creation.ephemeral_1h_input_tokens`` (in the ``message_start`` chunk for streams).
* ``output.outputBodyJson`` is an object, except for InvokeModelWithResponseStream where it is an
  array of stream chunks (which may contain non-objects such as ``"[DONE]"``); the last chunk
  carries ``amazon-bedrock-invocationMetrics``.
* A guardrail intervention shows as stop reason ``guardrail_intervened`` (Converse) or
  ``amazon-bedrock-guardrailAction: INTERVENED`` (InvokeModel bodies).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from bedrock_explorer import model_ids

V = "VARCHAR"

#: The fields read from a response body object. Nothing here holds generated text.
_BODY_OBJECT_TYPE: dict[str, Any] = {
    "stopReason": V,
    "stop_reason": V,
    "completionReason": V,
    "amazon-bedrock-guardrailAction": V,
    "metrics": {"latencyMs": V},
    "usage": {
        "cacheDetails": [{"ttl": V, "inputTokens": V}],
        "cache_creation": {"ephemeral_1h_input_tokens": V},
    },
    "choices": [{"finish_reason": V}],
    "results": [{"completionReason": V}],
    "outputs": [{"stop_reason": V}],
    "images": [V],
    "amazon-bedrock-invocationMetrics": {"invocationLatency": V, "firstByteLatency": V},
}

#: One stream chunk of InvokeModelWithResponseStream. Non-object chunks become all-NULL structs.
_STREAM_CHUNK_TYPE: dict[str, Any] = {
    "delta": {"stop_reason": V},
    "stop_reason": V,
    "completionReason": V,
    "choices": [{"finish_reason": V}],
    "message": {"usage": {"cache_creation": {"ephemeral_1h_input_tokens": V}}},
    "amazon-bedrock-invocationMetrics": {"invocationLatency": V, "firstByteLatency": V},
    "amazon-bedrock-guardrailAction": V,
}

#: Token counts are read as text so that a non-numeric value can be told from an absent one.
LINE_TYPE: dict[str, Any] = {
    "schemaType": V,
    "schemaVersion": V,
    "timestamp": V,
    "accountId": V,
    "region": V,
    "requestId": V,
    "operation": V,
    "modelId": V,
    "inferenceRegion": V,
    "errorCode": V,
    "identity": {"arn": V},
    "requestMetadata": "MAP(VARCHAR, VARCHAR)",
    "input": {
        "inputTokenCount": V,
        "cacheReadInputTokenCount": V,
        "cacheWriteInputTokenCount": V,
        "inputBodyS3Path": V,
        "inputBodyJson": {"imageGenerationConfig": {"numberOfImages": V}},
    },
    "output": {
        "outputTokenCount": V,
        "outputBodyS3Path": V,
        "outputBodyJson": _BODY_OBJECT_TYPE,
    },
}

STREAM_LINE_TYPE: dict[str, Any] = {"output": {"outputBodyJson": [_STREAM_CHUNK_TYPE]}}

#: (column, SQL path into the transformed record, name shown in a quarantine reason)
TOKEN_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("input_tokens", "r.input.inputTokenCount", "input.inputTokenCount"),
    ("output_tokens", "r.output.outputTokenCount", "output.outputTokenCount"),
    ("cache_read_tokens", "r.input.cacheReadInputTokenCount", "input.cacheReadInputTokenCount"),
    ("cache_write_tokens", "r.input.cacheWriteInputTokenCount", "input.cacheWriteInputTokenCount"),
)

#: The ``reason`` of a blank line: not a record, not an error either; neither stored nor
#: quarantined.
BLANK = "blank line"

OUTCOME_SUCCESS = "success"
OUTCOME_GUARDRAIL = "guardrail_intervened"
OUTCOME_ERROR = "error"

#: Columns of a parsed invocation, in table order (the store's ``invocations`` table adds
#: ``integration_id`` and ``ingested_at``).
INVOCATION_COLUMNS: tuple[str, ...] = (
    "request_id",
    "ts",
    "account_id",
    "region",
    "inference_region",
    "operation",
    "model_id",
    "identity_arn",
    "principal_type",
    "principal_account",
    "principal_name",
    "session_name",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "image_count",
    "stop_reason",
    "outcome",
    "error_code",
    "latency_ms",
    "first_byte_latency_ms",
    "body_offloaded",
    "request_metadata",
    "schema_version",
)


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _build_parse_sql() -> str:
    """The SELECT that turns ``raw_batch(seq, ref, line)`` into parsed rows plus a ``reason``.

    ``reason`` is NULL for a good record and names the problem otherwise; it is built only from
    field names and fixed words, never from the line's content.
    """
    line_type = _sql_literal(json.dumps(LINE_TYPE))
    stream_type = _sql_literal(json.dumps(STREAM_LINE_TYPE))
    token_casts = ",\n".join(
        f"try_cast({path} AS BIGINT) AS {col}, {path} IS NOT NULL AS {col}_present"
        for col, path, _ in TOKEN_FIELDS
    )
    token_checks = "\n".join(
        f"WHEN {col}_present AND {col} IS NULL THEN 'non-numeric {label}'\n"
        f"WHEN {col} < 0 THEN 'negative {label}'"
        for col, _, label in TOKEN_FIELDS
    )
    return f"""
WITH j AS (
    SELECT seq, ref, line, try(json_transform(line, {line_type})) AS r
    FROM raw_batch
),
k AS (
    SELECT seq, ref, r,
        -- Only lines that failed to parse pay for finding out why (CASE is lazy in DuckDB).
        CASE WHEN r IS NULL THEN
            CASE WHEN regexp_full_match(line, '\\s*') THEN '{BLANK}'
                 WHEN json_valid(line) THEN 'not a JSON object'
                 ELSE 'not valid JSON (malformed or truncated line)' END
        END AS json_problem,
        CASE WHEN r.operation = 'InvokeModelWithResponseStream'
             THEN try(json_transform(line, {stream_type})).output.outputBodyJson
        END AS chunks,
        -- Bedrock writes UTC with a Z; any other offset goes the slower, zone-aware way.
        coalesce(
            try_cast(CASE WHEN ends_with(r.timestamp, 'Z') THEN r.timestamp END AS TIMESTAMP),
            try_cast(r.timestamp AS TIMESTAMPTZ) AT TIME ZONE 'UTC') AS ts,
        {token_casts},
        regexp_extract(r.identity.arn,
            '^arn:aws[a-z-]*:(?:iam|sts)::([^:]*):([a-z-]+)(?:/(.*))?$',
            ['acct', 'kind', 'rest']) AS who
    FROM j
),
p AS (
    SELECT *,
        CASE
            WHEN json_problem IS NOT NULL THEN json_problem
            WHEN r.schemaType IS NULL AND r.requestId IS NULL AND r.timestamp IS NULL
                AND r.modelId IS NULL THEN 'not an invocation log record (no known field)'
            WHEN r.schemaType IS NOT NULL AND r.schemaType <> 'ModelInvocationLog'
                THEN 'not a model invocation log record (schemaType)'
            WHEN coalesce(trim(r.requestId), '') = '' THEN 'missing requestId'
            WHEN r.timestamp IS NULL THEN 'missing timestamp'
            WHEN ts IS NULL THEN 'impossible or unreadable timestamp'
            WHEN coalesce(trim(r.modelId), '') = '' THEN 'missing modelId'
            {token_checks}
        END AS reason,
        coalesce(
            r.output.outputBodyJson.stopReason,
            r.output.outputBodyJson.stop_reason,
            r.output.outputBodyJson.completionReason,
            r.output.outputBodyJson.choices[1].finish_reason,
            r.output.outputBodyJson.results[1].completionReason,
            r.output.outputBodyJson.outputs[1].stop_reason,
            list_filter(list_transform(chunks, lambda c: coalesce(
                c.delta.stop_reason, c.stop_reason, c.completionReason,
                c.choices[1].finish_reason)), lambda s: s IS NOT NULL)[-1]
        ) AS stop_reason_any,
        coalesce(
            r.output.outputBodyJson."amazon-bedrock-guardrailAction" = 'INTERVENED', false)
        OR coalesce(list_bool_or(list_transform(chunks,
            lambda c: c."amazon-bedrock-guardrailAction" = 'INTERVENED')), false)
            AS guardrail_flag,
        coalesce(
            try_cast(list_sum(list_transform(
                list_filter(r.output.outputBodyJson.usage.cacheDetails, lambda d: d.ttl = '1h'),
                lambda d: try_cast(d.inputTokens AS BIGINT))) AS BIGINT),
            try_cast(r.output.outputBodyJson.usage.cache_creation.ephemeral_1h_input_tokens
                AS BIGINT),
            list_max(list_transform(chunks, lambda c: try_cast(
                c.message.usage.cache_creation.ephemeral_1h_input_tokens AS BIGINT))),
            0) AS cw1h_reported,
        list_filter(chunks, lambda c: c."amazon-bedrock-invocationMetrics" IS NOT NULL)[-1]
            ."amazon-bedrock-invocationMetrics" AS stream_metrics
    FROM k
)
SELECT
    seq, ref, reason,
    trim(r.requestId) AS request_id,
    ts,
    r.accountId AS account_id,
    r.region AS region,
    r.inferenceRegion AS inference_region,
    r.operation AS operation,
    trim(r.modelId) AS model_id,
    r.identity.arn AS identity_arn,
    CASE WHEN who.kind IN ('user', 'assumed-role', 'role', 'root', 'federated-user')
         THEN who.kind ELSE 'unknown' END AS principal_type,
    nullif(who.acct, '') AS principal_account,
    CASE who.kind
        WHEN 'assumed-role' THEN split_part(who.rest, '/', 1)
        WHEN 'root' THEN 'root'
        ELSE nullif(split_part(who.rest, '/', -1), '')
    END AS principal_name,
    CASE WHEN who.kind = 'assumed-role' AND position('/' IN who.rest) > 0
         THEN substr(who.rest, position('/' IN who.rest) + 1) END AS session_name,
    coalesce(input_tokens, 0) AS input_tokens,
    coalesce(output_tokens, 0) AS output_tokens,
    coalesce(cache_read_tokens, 0) AS cache_read_tokens,
    coalesce(cache_write_tokens, 0) AS cache_write_tokens,
    least(cw1h_reported, coalesce(cache_write_tokens, 0)) AS cache_write_1h_tokens,
    coalesce(len(r.output.outputBodyJson.images),
        try_cast(r.input.inputBodyJson.imageGenerationConfig.numberOfImages AS INTEGER))
        AS image_count,
    stop_reason_any AS stop_reason,
    CASE
        WHEN r.errorCode IS NOT NULL THEN '{OUTCOME_ERROR}'
        WHEN guardrail_flag OR stop_reason_any = 'guardrail_intervened' THEN '{OUTCOME_GUARDRAIL}'
        ELSE '{OUTCOME_SUCCESS}'
    END AS outcome,
    r.errorCode AS error_code,
    coalesce(
        try_cast(r.output.outputBodyJson.metrics.latencyMs AS BIGINT),
        try_cast(stream_metrics.invocationLatency AS BIGINT),
        try_cast(r.output.outputBodyJson."amazon-bedrock-invocationMetrics".invocationLatency
            AS BIGINT)
    ) AS latency_ms,
    coalesce(
        try_cast(stream_metrics.firstByteLatency AS BIGINT),
        try_cast(r.output.outputBodyJson."amazon-bedrock-invocationMetrics".firstByteLatency
            AS BIGINT)
    ) AS first_byte_latency_ms,
    (r.input.inputBodyS3Path IS NOT NULL OR r.output.outputBodyS3Path IS NOT NULL)
        AS body_offloaded,
    r.requestMetadata AS request_metadata,
    r.schemaVersion AS schema_version
FROM p
"""


PARSE_SQL = _build_parse_sql()

RAW_BATCH_SCHEMA = pa.schema(
    [("seq", pa.int64()), ("ref", pa.string()), ("line", pa.large_string())]
)
#: Rows per Arrow record batch handed to DuckDB: several batches let it parse on every core.
_SCAN_CHUNK = 16_384


def raw_batch_table(
    lines: list[str] | pa.Array | pa.ChunkedArray,
    refs: list[str] | None = None,
    first_seq: int = 1,
) -> pa.Table:
    """Lines (and optional per-line locators) as the Arrow table the parse SQL reads.

    Lines stay in the buffers the source filled (no copy); they are only sliced into record
    batches of :data:`_SCAN_CHUNK` rows so that DuckDB parses them on every core.
    """
    if isinstance(lines, list):
        lines = pa.array(lines, type=pa.large_string())
    chunks = lines.chunks if isinstance(lines, pa.ChunkedArray) else [lines]
    ref_all = pa.array(refs, type=pa.string()) if refs is not None else None
    batches = []
    offset = 0
    for chunk in chunks:
        chunk = chunk.cast(pa.large_string())
        for start in range(0, len(chunk), _SCAN_CHUNK):
            part = chunk.slice(start, _SCAN_CHUNK)
            n = len(part)
            first = first_seq + offset
            seq = pa.array(np.arange(first, first + n, dtype=np.int64))
            ref = ref_all.slice(offset, n) if ref_all is not None else pa.nulls(n, pa.string())
            batches.append(pa.RecordBatch.from_arrays([seq, ref, part], schema=RAW_BATCH_SCHEMA))
            offset += n
    return pa.Table.from_batches(batches, RAW_BATCH_SCHEMA)


@dataclass(frozen=True)
class InvocationRow:
    """One invocation as stored: metadata and token counts, never prompt or response text."""

    request_id: str
    ts: datetime
    account_id: str | None
    region: str | None
    inference_region: str | None
    operation: str | None
    model_id: str
    identity_arn: str | None
    principal_type: str
    principal_account: str | None
    principal_name: str | None
    session_name: str | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cache_write_1h_tokens: int
    image_count: int | None
    stop_reason: str | None
    outcome: str
    error_code: str | None
    latency_ms: int | None
    first_byte_latency_ms: int | None
    body_offloaded: bool
    request_metadata: dict[str, str] = field(default_factory=dict)
    schema_version: str | None = None

    @property
    def model(self) -> model_ids.ModelRef:
        """Base model and routing derived from the raw ``model_id``."""
        return model_ids.resolve(self.model_id)


@dataclass(frozen=True)
class ParseError:
    """Why a line was rejected. Holds no content of the line, which may contain prompt text."""

    reason: str


def parse_line(
    raw: str, con: duckdb.DuckDBPyConnection | None = None
) -> InvocationRow | ParseError:
    """Parse one raw log line with the same SQL an import uses."""
    own = con is None
    con = con or duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("raw_batch", raw_batch_table([raw]))
        cur = con.execute(PARSE_SQL)
        names = [d[0] for d in cur.description]
        (first,) = cur.fetchall()
        values = dict(zip(names, first, strict=True))
        con.unregister("raw_batch")
    finally:
        if own:
            con.close()
    if values["reason"] is not None:
        return ParseError(values["reason"])
    row = {c: values[c] for c in INVOCATION_COLUMNS}
    row["request_metadata"] = dict(row["request_metadata"] or {})
    return InvocationRow(**row)
