"""The Bedrock model invocation log schema: the only module that knows it.

Why the parsing is SQL: a batch of raw lines goes to DuckDB as one Arrow string column and is
parsed there with one multi-path ``json_extract_string`` (one JSON parse per line) into exactly the
fields we keep. That is several times faster than ``json.loads`` per line (see
``bench/README.md``) and, as important, it is *privacy by construction*: the paths name only
metadata and token counts, so prompt and response text is never materialised as a value anywhere —
not in a table, not in Python, not in an error message.

:func:`parse_line` runs the very same SQL over a one-line batch, so tests and callers that want a
single record get exactly what an import would store.

Facts the SQL encodes (see ``shared/design.md`` and the fixtures):

* ``input.inputTokenCount`` excludes cache tokens; cache read / write counts are separate and absent
  on old records (absent = 0). 1-hour cache writes are reported only inside the response body:
  Converse ``usage.cacheDetails[ttl=1h]`` or Anthropic
  ``usage.cache_creation.ephemeral_1h_input_tokens`` (in the ``message_start`` chunk for streams).
  When the response body went to S3, the request's cache points say it: if every ``cachePoint``
  (Converse) or ``cache_control`` (Anthropic) of the request has ``ttl: "1h"``, all its cache
  writes are 1-hour writes.
* The service tier is ``serviceTier.type`` (``default``, ``flex``, ``priority``, ``reserved``):
  the response's, else the request's; latency-optimized is ``performanceConfig.latency``.
* ``output.outputBodyJson`` is an object, except for InvokeModelWithResponseStream where it is an
  array of stream chunks (which may contain non-objects such as ``"[DONE]"``); the last chunk
  carries ``amazon-bedrock-invocationMetrics``.
* A guardrail intervention shows as stop reason ``guardrail_intervened`` (Converse) or
  ``amazon-bedrock-guardrailAction: INTERVENED`` (InvokeModel bodies).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa

from bedrock_explorer import model_ids
from bedrock_explorer.tiers import (  # noqa: F401 - re-exported: the parser's names for them
    TIER_FLEX,
    TIER_LATENCY_OPTIMIZED,
    TIER_PRIORITY,
    TIER_RESERVED,
    TIER_STANDARD,
    TIERS,
)

_B = "$.output.outputBodyJson"
_METRICS = '"amazon-bedrock-invocationMetrics"'
_GUARDRAIL = '"amazon-bedrock-guardrailAction"'

#: Every value read from a record: (name in the SQL, JSONPath). They are read with *one*
#: ``json_extract_string`` call, i.e. one JSON parse per line, as text (so a non-numeric token count
#: can be told from an absent one). Nothing here points at prompt or response text.
#:
#: The response body is an object for most operations and an array of stream chunks for
#: InvokeModelWithResponseStream; both sets of paths are read and the inapplicable ones are NULL.
#: Stream facts sit at known places: the invocation metrics in the last chunk (or the one before a
#: trailing ``"[DONE]"``), the stop reason in the ``message_delta`` just before ``message_stop``,
#: 1-hour cache writes in ``message_start``.
PATHS: tuple[tuple[str, str], ...] = (
    ("schema_type", "$.schemaType"),
    ("schema_version", "$.schemaVersion"),
    ("ts_text", "$.timestamp"),
    ("account_id", "$.accountId"),
    ("region", "$.region"),
    ("request_id_text", "$.requestId"),
    ("operation", "$.operation"),
    ("model_id_text", "$.modelId"),
    ("inference_region", "$.inferenceRegion"),
    ("error_code", "$.errorCode"),
    ("identity_arn", "$.identity.arn"),
    ("metadata_json", "$.requestMetadata"),
    ("input_text", "$.input.inputTokenCount"),
    ("cache_read_text", "$.input.cacheReadInputTokenCount"),
    ("cache_write_text", "$.input.cacheWriteInputTokenCount"),
    ("input_s3", "$.input.inputBodyS3Path"),
    ("images_text", "$.input.inputBodyJson.imageGenerationConfig.numberOfImages"),
    ("image_quality_text", "$.input.inputBodyJson.imageGenerationConfig.quality"),
    ("image_width_text", "$.input.inputBodyJson.imageGenerationConfig.width"),
    ("image_height_text", "$.input.inputBodyJson.imageGenerationConfig.height"),
    ("latency_asked", "$.input.inputBodyJson.performanceConfig.latency"),
    ("latency_served", f"{_B}.performanceConfig.latency"),
    ("tier_asked", "$.input.inputBodyJson.serviceTier.type"),
    ("tier_served", f"{_B}.serviceTier.type"),
    ("output_text", "$.output.outputTokenCount"),
    ("output_s3", "$.output.outputBodyS3Path"),
    # response body object
    ("b_stop_reason", f"{_B}.stopReason"),
    ("b_stop_reason2", f"{_B}.stop_reason"),
    ("b_completion", f"{_B}.completionReason"),
    ("b_finish", f"{_B}.choices[0].finish_reason"),
    ("b_result_completion", f"{_B}.results[0].completionReason"),
    ("b_output_stop", f"{_B}.outputs[0].stop_reason"),
    ("b_guardrail", f"{_B}.{_GUARDRAIL}"),
    ("b_latency", f"{_B}.metrics.latencyMs"),
    ("b_cache_details", f"{_B}.usage.cacheDetails"),
    ("b_cw1h", f"{_B}.usage.cache_creation.ephemeral_1h_input_tokens"),
    ("b_metrics_latency", f"{_B}.{_METRICS}.invocationLatency"),
    ("b_metrics_first_byte", f"{_B}.{_METRICS}.firstByteLatency"),
    # response body as an array of stream chunks
    ("s1_latency", f"{_B}[#-1].{_METRICS}.invocationLatency"),
    ("s2_latency", f"{_B}[#-2].{_METRICS}.invocationLatency"),
    ("s1_first_byte", f"{_B}[#-1].{_METRICS}.firstByteLatency"),
    ("s2_first_byte", f"{_B}[#-2].{_METRICS}.firstByteLatency"),
    ("s2_delta_stop", f"{_B}[#-2].delta.stop_reason"),
    ("s3_delta_stop", f"{_B}[#-3].delta.stop_reason"),
    ("s1_stop", f"{_B}[#-1].stop_reason"),
    ("s1_completion", f"{_B}[#-1].completionReason"),
    ("s1_finish", f"{_B}[#-1].choices[0].finish_reason"),
    ("s2_finish", f"{_B}[#-2].choices[0].finish_reason"),
    ("s0_cw1h", f"{_B}[0].message.usage.cache_creation.ephemeral_1h_input_tokens"),
    ("s1_guardrail", f"{_B}[#-1].{_GUARDRAIL}"),
    ("s2_guardrail", f"{_B}[#-2].{_GUARDRAIL}"),
)

#: (column, the value read, name shown in a quarantine reason)
TOKEN_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("input_tokens", "input_text", "input.inputTokenCount"),
    ("output_tokens", "output_text", "output.outputTokenCount"),
    ("cache_read_tokens", "cache_read_text", "input.cacheReadInputTokenCount"),
    ("cache_write_tokens", "cache_write_text", "input.cacheWriteInputTokenCount"),
)

#: The ``reason`` of a blank line: not a record, not an error either; neither stored nor
#: quarantined.
BLANK = "blank line"

#: The largest token count a record may carry (one request of today's largest context window is
#: a few million tokens). Above it the record is quarantined: a count near 2^63 would overflow
#: every sum that includes it.
MAX_TOKENS = 1_000_000_000
#: Longer request or model ids are not Bedrock's (a model ARN is at most 2,048 characters).
MAX_ID_LENGTH = 2048
#: Timestamps outside these years (``infinity``, ``epoch``, year 0) are quarantined.
FIRST_YEAR = 1990
LAST_YEAR = 2100


OUTCOME_SUCCESS = "success"
OUTCOME_GUARDRAIL = "guardrail_intervened"
OUTCOME_ERROR = "error"

#: Columns of a parsed invocation (the store's ``invocations`` table adds ``integration_id``,
#: ``ingested_at`` and ``price_key``; the writer names every column it inserts).
INVOCATION_COLUMNS: tuple[str, ...] = (
    "request_id",
    "ts",
    "account_id",
    "region",
    "inference_region",
    "operation",
    "model_id",
    "identity_arn",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "image_count",
    "performance_tier",
    "stop_reason",
    "outcome",
    "error_code",
    "latency_ms",
    "first_byte_latency_ms",
    "body_offloaded",
    "request_metadata",
    "schema_version",
    "image_quality",
    "image_pixels",
)


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _build_parse_sql(tolerant: bool) -> str:
    """The SELECT that turns ``raw_batch(seq, ref, line)`` into parsed rows plus a ``reason``.

    ``reason`` is NULL for a good record and names the problem otherwise; it is built only from
    field names and fixed words, never from the line's content.

    ``tolerant`` wraps the JSON parse in ``try()`` so that malformed JSON becomes a reason instead
    of an error. It costs ~8% of the parse, so writers first run the strict form (which fails
    only on malformed JSON: a missing or mistyped field is a NULL either way; blank lines are
    not parsed at all) and retry a failed batch tolerantly.
    """
    wrap = "try" if tolerant else ""
    paths = "[" + ", ".join(_sql_literal(path) for _, path in PATHS) + "]"
    values = ",\n        ".join(f"v[{i}] AS {name}" for i, (name, _) in enumerate(PATHS, 1))
    extract = f"""
j AS (
    SELECT seq, ref, line,
        -- Blank lines skip the parse: in the tolerant form each failed parse costs ~11 µs
        -- (an exception inside the engine), and a flood of blank lines must go at split speed.
        CASE WHEN NOT regexp_full_match(line, '\\s*')
             THEN {wrap}(json_extract_string(line, {paths})) END AS v
    FROM raw_batch
),
k AS (
    SELECT seq, ref, line, v,
        {values}
    FROM j
)"""
    # A key given twice makes the map transform fail; only then (coalesce is lazy) the keys are
    # read one by one, the first value of a repeated key winning, so the other tags survive.
    metadata = (
        "CASE WHEN starts_with(metadata_json, '{') THEN coalesce("
        "try(json_transform(metadata_json, '\"MAP(VARCHAR, VARCHAR)\"')), "
        "try(map_from_entries(list_transform(list_distinct(json_keys(metadata_json)), "
        "lambda k: {'key': k, 'value': json_extract_string(metadata_json, "
        "'$.\"' || replace(replace(k, '\\', '\\\\'), '\"', '\\\"') || '\"')})))) END"
    )
    return _parse_sql_over(extract, metadata)


def _build_file_parse_sql() -> str:
    """The same SELECT over whole NDJSON files, read by DuckDB's own ``read_json``.

    Why a second form: DuckDB reading the files itself parses on every core and skips handing
    lines over from Python — the import of a 1M-record file takes ~40 % less time (figures in
    ``bench/README.md``). Its reader types fields as it parses, so it is strict: a malformed line,
    or a field of an unexpected shape, fails the whole statement. Writers therefore use it only
    as a first attempt for a group of files and fall back to the line form, which quarantines
    bad lines with their line numbers. The reader's messages can quote a line, so they are
    never shown or logged.

    The column types are derived from :data:`PATHS`: every top-level path becomes a field of
    the struct ``read_json`` fills (as text, so token counts are validated exactly as in the
    line form); the response body, an object or an array of stream chunks, is kept as JSON and
    read with the same body paths. ``requestMetadata`` is read straight into a map.
    """
    tree: dict[str, object] = {}
    body_paths = []
    selects = []
    for name, path in PATHS:
        if path.startswith(_B + ".") or path.startswith(_B + "["):
            body_paths.append((name, "$" + path[len(_B) :]))
            continue
        keys = path[2:].split(".")
        node = tree
        for key in keys[:-1]:
            node = node.setdefault(key, {})  # type: ignore[assignment]
        node[keys[-1]] = "MAP(VARCHAR, VARCHAR)" if name == "metadata_json" else "VARCHAR"
        selects.append(".".join(f'"{key}"' for key in keys) + f" AS {name}")
    tree["output"]["outputBodyJson"] = "JSON"  # type: ignore[index]

    def sql_type(node: object) -> str:
        if isinstance(node, str):
            return node
        assert isinstance(node, dict)  # the tree holds only type names and sub-trees
        fields = ", ".join(f'"{k}" {sql_type(v)}' for k, v in node.items())
        return f"STRUCT({fields})"

    columns = (
        "{"
        + ", ".join(
            f"{_sql_literal(key)}: {_sql_literal(sql_type(value))}" for key, value in tree.items()
        )
        + "}"
    )
    body = "[" + ", ".join(_sql_literal(path) for _, path in body_paths) + "]"
    body_values = ", ".join(f"b[{i}] AS {name}" for i, (name, _) in enumerate(body_paths, 1))
    extract = f"""
j AS (
    SELECT {", ".join(selects)},
        json_extract_string("output"."outputBodyJson", {body}) AS b
    FROM read_json($files, format = 'newline_delimited', compression = $compression,
                   columns = {columns})
),
k AS (
    SELECT CAST(NULL AS BIGINT) AS seq, CAST(NULL AS VARCHAR) AS ref,
        CAST(NULL AS VARCHAR) AS line, TRUE AS v, * EXCLUDE (b), {body_values}
    FROM j
)"""
    return _parse_sql_over(extract, "metadata_json")


#: The TTL of a request's cache points, read only when the response body went to S3 (lazy CASE),
#: as the full cache write count when every cache point asks for one hour, else NULL.
_TTL_PATHS = (
    "$.input.inputBodyJson.system[*].cachePoint.ttl",
    "$.input.inputBodyJson.messages[*].content[*].cachePoint.ttl",
    "$.input.inputBodyJson.toolConfig.tools[*].cachePoint.ttl",
    "$.input.inputBodyJson.system[*].cache_control.ttl",
    "$.input.inputBodyJson.messages[*].content[*].cache_control.ttl",
)
_TTLS = (
    "list_filter(flatten([coalesce(try("
    + "), []), coalesce(try(".join(f"json_extract_string(line, '{p}')" for p in _TTL_PATHS)
    + "), [])]), lambda x: x IS NOT NULL)"
)
# (list_bool_and of an empty list is NULL: no cache point with a TTL says nothing)
_REQUEST_TTL_1H = (
    f"CASE WHEN list_bool_and(list_transform({_TTLS}, lambda x: x = '1h')) "
    "THEN cache_write_tokens END"
)


def _parse_sql_over(extract: str, metadata: str) -> str:
    """Validation and the stored columns, over the CTEs ``extract`` defines up to ``k``.

    Why so many checks: one hostile value must cost only its own record. A token count near
    2^63 overflowed every later sum, an ``infinity`` timestamp crashed every page that formats a
    date, a ``requestId`` that was a number or an object was stored as its text. Each value is
    therefore held to a documented range (:data:`MAX_TOKENS`, :data:`FIRST_YEAR` to
    :data:`LAST_YEAR`, offsets within ±14:00) and the record is quarantined with the reason
    otherwise — nothing is coerced silently.

    A JSON ``null`` count reads as absent (0), in both forms: the file form's typed reader cannot
    tell the two apart, and a record must be judged the same whichever way it came in.

    Checks that need the JSON type of a value (``42`` versus ``"42"``)
    parse the line a second time, so they run only for the rare records whose text already looks
    suspicious (``CASE`` is lazy in DuckDB). The file form has no line to look at (``line`` is
    NULL there): a suspicious record then gets a reason, which sends its file to the line form.
    """
    known = " AND ".join(
        f"{name} IS NULL" for name in ("schema_type", "ts_text", "request_id_text", "model_id_text")
    )
    token_casts = ",\n        ".join(
        f"try_cast({text} AS BIGINT) AS {col}" for col, text, _ in TOKEN_FIELDS
    )
    token_checks = "\n            ".join(
        f"WHEN {text} IS NOT NULL AND {col} IS NULL THEN 'non-numeric {label}'\n"
        f"            WHEN {col} < 0 THEN 'negative {label}'\n"
        f"            WHEN CAST({col} AS VARCHAR) <> trim({text})\n"
        f"                THEN 'not a whole number: {label}'\n"
        f"            WHEN {col} > {MAX_TOKENS} THEN '{label} over {MAX_TOKENS:,}'"
        for col, text, label in TOKEN_FIELDS
    )

    json_scalar = "-?[0-9]+(\\.[0-9]+)?([eE][+-]?[0-9]+)?|true|false"

    def not_a_string(text: str, path: str) -> str:
        # A JSON number, boolean, array or object read as text looks like one of these.
        return (
            f"(regexp_full_match({text}, '\\s*({json_scalar})\\s*') "
            f"OR regexp_matches({text}, '^\\s*[\\[{{]')) "
            f"AND (line IS NULL OR json_type(line, {_sql_literal(path)}) <> 'VARCHAR')"
        )

    control = "regexp_matches({}, '[\\x00-\\x1f\\x7f]')"
    return f"""
WITH {extract},
p AS (
    SELECT *,
        -- Bedrock writes UTC with a Z; any other offset goes the slower, zone-aware way.
        coalesce(
            try_cast(CASE WHEN ends_with(ts_text, 'Z') THEN ts_text END AS TIMESTAMP),
            try_cast(ts_text AS TIMESTAMPTZ) AT TIME ZONE 'UTC') AS ts,
        {token_casts},
        coalesce(b_stop_reason, b_stop_reason2, b_completion, b_finish, b_result_completion,
                 b_output_stop, s2_delta_stop, s3_delta_stop, s1_stop, s1_completion, s1_finish,
                 s2_finish) AS stop_reason
    FROM k
),
q AS (
    SELECT *,
        CASE
            -- Only lines that failed to parse pay for finding out why (CASE is lazy in DuckDB).
            WHEN v IS NULL THEN
                CASE WHEN regexp_full_match(line, '\\s*') THEN '{BLANK}'
                     WHEN json_valid(line) THEN 'not a JSON object'
                     ELSE 'not valid JSON (malformed or truncated line)' END
            WHEN {known} THEN 'not an invocation log record (no known field)'
            WHEN schema_type IS NOT NULL AND schema_type <> 'ModelInvocationLog'
                THEN 'not a model invocation log record (schemaType)'
            WHEN coalesce(trim(request_id_text), '') = '' THEN 'missing requestId'
            WHEN {not_a_string("request_id_text", "$.requestId")}
                THEN 'requestId is not a string'
            WHEN {control.format("request_id_text")} THEN 'requestId holds control characters'
            WHEN length(request_id_text) > {MAX_ID_LENGTH}
                THEN 'requestId longer than {MAX_ID_LENGTH} characters'
            WHEN ts_text IS NULL THEN 'missing timestamp'
            WHEN ts IS NULL THEN 'impossible or unreadable timestamp'
            WHEN NOT ends_with(ts_text, 'Z') AND regexp_matches(ts_text,
                    '[+-](1[5-9]|[2-9][0-9]):?[0-9]{{2}}$|[+-]14:?([0-5][1-9]|[1-5]0)$')
                THEN 'timestamp offset beyond ±14:00'
            WHEN ts < TIMESTAMP '{FIRST_YEAR}-01-01' OR ts >= TIMESTAMP '{LAST_YEAR + 1}-01-01'
                THEN 'timestamp outside {FIRST_YEAR}–{LAST_YEAR}'
            WHEN coalesce(trim(model_id_text), '') = '' THEN 'missing modelId'
            WHEN {not_a_string("model_id_text", "$.modelId")} THEN 'modelId is not a string'
            WHEN {control.format("model_id_text")} THEN 'modelId holds control characters'
            WHEN length(model_id_text) > {MAX_ID_LENGTH}
                THEN 'modelId longer than {MAX_ID_LENGTH} characters'
            {token_checks}
            -- The file form has no line to read the request's cache points from.
            WHEN line IS NULL AND output_s3 IS NOT NULL AND input_s3 IS NULL
                AND cache_write_tokens > 0 THEN 'needs the line form'
        END AS reason
    FROM p
)
SELECT
    seq, ref, reason,
    trim(request_id_text) AS request_id,
    ts,
    account_id,
    region,
    inference_region,
    operation,
    trim(model_id_text) AS model_id,
    identity_arn,
    coalesce(input_tokens, 0) AS input_tokens,
    coalesce(output_tokens, 0) AS output_tokens,
    coalesce(cache_read_tokens, 0) AS cache_read_tokens,
    coalesce(cache_write_tokens, 0) AS cache_write_tokens,
    least(coalesce(cache_write_tokens, 0), coalesce(
        CASE WHEN b_cache_details IS NOT NULL THEN try_cast(list_sum(list_transform(
            list_filter(try(json_transform(b_cache_details,
                                           '[{{"ttl": "VARCHAR", "inputTokens": "BIGINT"}}]')),
                        lambda d: d.ttl = '1h'),
            lambda d: d.inputTokens)) AS BIGINT) END,
        try_cast(b_cw1h AS BIGINT),
        try_cast(s0_cw1h AS BIGINT),
        CASE WHEN output_s3 IS NOT NULL AND input_s3 IS NULL AND cache_write_tokens > 0
                  AND line IS NOT NULL THEN {_REQUEST_TTL_1H} END,
        0)) AS cache_write_1h_tokens,
    try_cast(images_text AS INTEGER) AS image_count,
    -- Image quality and size decide the price of a Nova Canvas or Titan image; anything but
    -- premium is the standard quality, a size outside 1..100,000 px a side is not a size.
    CASE WHEN lower(trim(image_quality_text)) = 'premium' THEN 'premium'
         WHEN image_quality_text IS NOT NULL THEN 'standard' END AS image_quality,
    CASE WHEN try_cast(image_width_text AS BIGINT) BETWEEN 1 AND 100000
          AND try_cast(image_height_text AS BIGINT) BETWEEN 1 AND 100000
         THEN try_cast(image_width_text AS BIGINT) * try_cast(image_height_text AS BIGINT)
    END AS image_pixels,
    -- Served latency-optimized only when the response says so (above its quota Bedrock falls back
    -- to, and bills, standard); the request's wish counts only when no response body was logged.
    -- The service tier the response names (else the request's); a flex or priority request the
    -- response says was served "default" is standard.
    CASE WHEN lower(coalesce(tier_served, tier_asked)) IN
              ('{TIER_FLEX}', '{TIER_PRIORITY}', '{TIER_RESERVED}')
         THEN lower(coalesce(tier_served, tier_asked))
         WHEN coalesce(latency_served, latency_asked) = 'optimized'
         THEN '{TIER_LATENCY_OPTIMIZED}' ELSE '{TIER_STANDARD}' END AS performance_tier,
    stop_reason,
    CASE
        WHEN error_code IS NOT NULL THEN '{OUTCOME_ERROR}'
        WHEN stop_reason = 'guardrail_intervened'
            OR 'INTERVENED' IN (b_guardrail, s1_guardrail, s2_guardrail)
            THEN '{OUTCOME_GUARDRAIL}'
        ELSE '{OUTCOME_SUCCESS}'
    END AS outcome,
    error_code,
    try_cast(coalesce(b_latency, b_metrics_latency, s1_latency, s2_latency) AS BIGINT)
        AS latency_ms,
    try_cast(coalesce(b_metrics_first_byte, s1_first_byte, s2_first_byte) AS BIGINT)
        AS first_byte_latency_ms,
    (input_s3 IS NOT NULL OR output_s3 IS NOT NULL) AS body_offloaded,
    {metadata} AS request_metadata,
    schema_version
FROM q
"""


#: Splits ``identity.arn`` (from a relation ``arns(identity_arn)``) into principal type, account,
#: role or user name and session. It runs once per distinct ARN to fill the ``identities``
#: dimension, not once per invocation: a gateway role has many sessions, but far fewer than calls.
IDENTITY_SQL = """
SELECT identity_arn,
    CASE WHEN who.kind IN ('user', 'assumed-role', 'role', 'root', 'federated-user')
         THEN who.kind ELSE 'unknown' END AS principal_type,
    nullif(who.acct, '') AS principal_account,
    CASE who.kind
        WHEN 'assumed-role' THEN split_part(who.rest, '/', 1)
        WHEN 'root' THEN 'root'
        WHEN '' THEN NULL
        ELSE nullif(split_part(who.rest, '/', -1), '')
    END AS principal_name,
    CASE WHEN who.kind = 'assumed-role' AND position('/' IN who.rest) > 0
         THEN substr(who.rest, position('/' IN who.rest) + 1) END AS session_name
FROM (
    SELECT identity_arn,
        regexp_extract(identity_arn,
            '^arn:aws[a-z-]*:(?:iam|sts)::([^:]*):([a-z-]+)(?:/(.*))?$',
            ['acct', 'kind', 'rest']) AS who
    FROM arns
)
"""

#: Parses every line; a line that is not valid JSON gets a reason.
PARSE_SQL = _build_parse_sql(tolerant=True)
#: Faster; raises ``duckdb.InvalidInputException`` if any line of the batch is not valid JSON.
PARSE_SQL_STRICT = _build_parse_sql(tolerant=False)
#: Parses whole NDJSON files (parameters ``$files``, ``$compression``); raises on the first line
#: that is malformed or shaped unexpectedly (see :func:`_build_file_parse_sql`).
FILE_PARSE_SQL = _build_file_parse_sql()

RAW_BATCH_SCHEMA = pa.schema(
    [("seq", pa.int64()), ("ref", pa.string()), ("line", pa.large_string())]
)
#: Rows per Arrow record batch handed to DuckDB: several batches let it parse on every core.
#: A small batch (a sync's few thousand lines) is cut into at least 4, so both cores of a small
#: machine parse it (S3 sync ~5 % faster); pieces below ~2k rows cost more than they share.
_SCAN_CHUNK = 16_384
#: ...and small pieces (an S3 object of a few hundred lines each) are joined up to this many:
#: each record batch becomes a row-group collection of its own that DuckDB's ordered insert
#: merges afterwards, so 34 objects as 34 batches took 49 CPU-ms to insert, as 4 batches 40.
_MIN_SCAN_CHUNK = 2_048


def raw_batch_table(
    lines: list[str] | pa.Array | pa.ChunkedArray,
    refs: list[str] | pa.Array | None = None,
    first_seq: int = 1,
) -> pa.Table:
    """Lines (and optional per-line locators) as the Arrow table the parse SQL reads.

    Lines stay in the buffers the source filled (no copy), sliced into record batches (see
    :data:`_SCAN_CHUNK`) so that DuckDB parses them on every core; only pieces smaller than
    :data:`_MIN_SCAN_CHUNK` are copied, to join them.
    """
    if isinstance(lines, list):
        lines = pa.array(lines, type=pa.large_string())
    chunks = lines.chunks if isinstance(lines, pa.ChunkedArray) else [lines]
    ref_all = (
        None
        if refs is None
        else refs.cast(pa.string())
        if isinstance(refs, pa.Array)
        else pa.array(refs, type=pa.string())
    )
    total = sum(len(chunk) for chunk in chunks)
    step = min(_SCAN_CHUNK, max(_MIN_SCAN_CHUNK, -(-total // 4)))
    batches: list[pa.RecordBatch] = []
    offset = 0

    def add(parts: list[pa.Array]) -> None:
        nonlocal offset
        part = parts[0] if len(parts) == 1 else pa.concat_arrays(parts)
        n = len(part)
        first = first_seq + offset
        seq = pa.array(np.arange(first, first + n, dtype=np.int64))
        ref = ref_all.slice(offset, n) if ref_all is not None else pa.nulls(n, pa.string())
        batches.append(pa.RecordBatch.from_arrays([seq, ref, part], schema=RAW_BATCH_SCHEMA))
        offset += n

    small: list[pa.Array] = []
    small_rows = 0
    for chunk in chunks:
        chunk = chunk.cast(pa.large_string())
        for start in range(0, len(chunk), step):
            part = chunk.slice(start, step)
            if len(part) >= _MIN_SCAN_CHUNK:
                if small:
                    add(small)
                    small, small_rows = [], 0
                add([part])
                continue
            small.append(part)
            small_rows += len(part)
            if small_rows >= _MIN_SCAN_CHUNK:
                add(small)
                small, small_rows = [], 0
    if small:
        add(small)
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
    performance_tier: str
    stop_reason: str | None
    outcome: str
    error_code: str | None
    latency_ms: int | None
    first_byte_latency_ms: int | None
    body_offloaded: bool
    request_metadata: dict[str, str] = field(default_factory=dict)
    schema_version: str | None = None
    image_quality: str | None = None  # standard | premium, as the image request asked
    image_pixels: int | None = None  # width x height asked, None when the request named none

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
        who = con.execute(
            f"WITH arns AS (SELECT CAST(? AS VARCHAR) AS identity_arn) {IDENTITY_SQL}",
            [values["identity_arn"]],
        ).fetchall()[0]
        con.unregister("raw_batch")
    finally:
        if own:
            con.close()
    if values["reason"] is not None:
        return ParseError(values["reason"])
    row = {c: values[c] for c in INVOCATION_COLUMNS}
    row["principal_type"], row["principal_account"], row["principal_name"] = who[1:4]
    row["session_name"] = who[4]
    row["request_metadata"] = dict(row["request_metadata"] or {})
    return InvocationRow(**row)
