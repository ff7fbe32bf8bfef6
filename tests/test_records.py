"""The parser: every public fixture record, every shape the design notes list, every bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bedrock_explorer.records import (
    BLANK,
    OUTCOME_ERROR,
    OUTCOME_GUARDRAIL,
    OUTCOME_SUCCESS,
    InvocationRow,
    ParseError,
    parse_line,
)
from tests.conftest import PUBLIC_RECORDS, line

# requestId → (operation, model_id, input, output, cache read, cache write, stop reason, outcome,
#              latency ms, principal type, principal name, session, region)
EXPECTED_PUBLIC = {
    "ff4b6c63-5561-4431-93b8-06a817275900": (
        "ConverseStream",
        "amazon.nova-lite-v1:0",
        4,
        38,
        0,
        0,
        "end_turn",
        OUTCOME_SUCCESS,
        302,
        "user",
        "dheeraj",
        None,
        "us-east-1",
    ),
    "6f9e9644-95a1-4c3c-892f-b51372320d5e": (
        "InvokeModelWithResponseStream",
        "anthropic.claude-3-haiku-20240307-v1:0",
        571,
        281,
        0,
        0,
        "end_turn",
        OUTCOME_SUCCESS,
        3848,
        "user",
        "john.doe@example.com",
        None,
        "us-east-1",
    ),
    "142471d6-56dd-46a8-b502-08711ec9a410": (
        "Converse",
        "ai21.jamba-instruct-v1:0",
        0,
        0,
        0,
        0,
        "guardrail_intervened",
        OUTCOME_GUARDRAIL,
        271,
        "user",
        "user",
        None,
        "us-east-1",
    ),
    "6d97c170-4ec6-4798-8035-6a38a1bc751f": (
        "Converse",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        37,
        62,
        0,
        0,
        "end_turn",
        OUTCOME_SUCCESS,
        2455,
        "user",
        "shashank",
        None,
        "us-east-1",
    ),
    "9b6c3dc7-5ace-4a53-94f4-8dd7e551f41a": (
        "Converse",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        16,
        82,
        0,
        0,
        "end_turn",
        OUTCOME_SUCCESS,
        2435,
        "user",
        "shashank",
        None,
        "us-east-1",
    ),
    "6f902217-521c-4d33-aa6f-95b9715b2fe8": (
        "InvokeModel",
        "anthropic.claude-3-sonnet-20240229-v1:0",
        859,
        15,
        0,
        0,
        "stop_sequence",
        OUTCOME_SUCCESS,
        None,
        "unknown",
        None,
        None,
        "ap-south-1",
    ),
    "abcdef12-3456-7890-abcd-ef1234567890": (
        "ConverseStream",
        "dummy-model-v1",
        320,
        300,
        0,
        0,
        "max_tokens",
        OUTCOME_SUCCESS,
        5561,
        "assumed-role",
        "DUMMYROLE",
        "dummyuser",
        "us-west-2",
    ),
}


def _parsed(raw: str) -> InvocationRow:
    row = parse_line(raw)
    assert isinstance(row, InvocationRow), row
    return row


def test_every_public_fixture_record_parses_with_exact_counts() -> None:
    lines = PUBLIC_RECORDS.read_text().splitlines()
    assert len(lines) == len(EXPECTED_PUBLIC)
    for raw in lines:
        row = _parsed(raw)
        (op, model, inp, out, cr, cw, stop, outcome, latency, ptype, pname, session, region) = (
            EXPECTED_PUBLIC[row.request_id]
        )
        got = (
            row.operation,
            row.model_id,
            row.input_tokens,
            row.output_tokens,
            row.cache_read_tokens,
            row.cache_write_tokens,
            row.stop_reason,
            row.outcome,
            row.latency_ms,
            row.principal_type,
            row.principal_name,
            row.session_name,
            row.region,
        )
        assert got == (
            op,
            model,
            inp,
            out,
            cr,
            cw,
            stop,
            outcome,
            latency,
            ptype,
            pname,
            session,
            region,
        ), row.request_id


def test_public_stream_record_reads_first_byte_latency_from_the_last_chunk() -> None:
    raw = next(x for x in PUBLIC_RECORDS.read_text().splitlines() if "6f9e9644" in x)
    assert _parsed(raw).first_byte_latency_ms == 509


def test_timestamp_is_utc_and_offsets_are_converted() -> None:
    assert _parsed(line()).ts == datetime(2025, 6, 1, 12, 0, 0)
    record = json.loads(line())
    record["timestamp"] = "2025-06-01T14:00:00+02:00"
    assert _parsed(json.dumps(record)).ts == datetime(2025, 6, 1, 12, 0, 0)


@pytest.mark.parametrize(
    "operation", ["Converse", "ConverseStream", "InvokeModel", "InvokeModelWithResponseStream"]
)
def test_cache_tokens_and_one_hour_writes_for_every_body_shape(operation: str) -> None:
    row = _parsed(
        line(
            operation=operation,
            model_id="us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            input_tokens=12,
            output_tokens=300,
            cache_read_tokens=5000,
            cache_write_tokens=2048,
            cache_write_1h_tokens=1024,
        )
    )
    assert (row.input_tokens, row.output_tokens) == (12, 300)
    assert (row.cache_read_tokens, row.cache_write_tokens, row.cache_write_1h_tokens) == (
        5000,
        2048,
        1024,
    )


def test_absent_cache_counts_are_zero() -> None:
    row = _parsed(line(cache_read_tokens=None, cache_write_tokens=None))
    assert (row.cache_read_tokens, row.cache_write_tokens, row.cache_write_1h_tokens) == (0, 0, 0)


def test_stream_chunks_with_non_object_items() -> None:
    row = _parsed(line(operation="InvokeModelWithResponseStream", latency_ms=4200))
    record = json.loads(line(operation="InvokeModelWithResponseStream"))
    assert "[DONE]" in record["output"]["outputBodyJson"]
    assert row.stop_reason == "end_turn"
    assert row.latency_ms == 4200
    assert row.first_byte_latency_ms == 700


@pytest.mark.parametrize(
    ("model_id", "base", "routing", "geo"),
    [
        (
            "anthropic.claude-3-haiku-20240307-v1:0",
            "anthropic.claude-3-haiku-20240307-v1:0",
            "in_region",
            None,
        ),
        (
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            "geo",
            "us",
        ),
        ("eu.amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0", "geo", "eu"),
        ("apac.amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0", "geo", "apac"),
        (
            "jp.anthropic.claude-haiku-4-5-20251001-v1:0",
            "anthropic.claude-haiku-4-5-20251001-v1:0",
            "geo",
            "jp",
        ),
        ("in.moonshotai.kimi-k3", "moonshotai.kimi-k3", "geo", "in"),
        (
            "au.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            "geo",
            "au",
        ),
        (
            "us-gov.anthropic.claude-3-5-sonnet-20240620-v1:0",
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            "geo",
            "us-gov",
        ),
        (
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            "global",
            "global",
        ),
        (
            "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0",
            "amazon.titan-embed-text-v2:0",
            "in_region",
            None,
        ),
        (
            "arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.meta.llama3-3-70b-instruct-v1:0",
            "meta.llama3-3-70b-instruct-v1:0",
            "geo",
            "us",
        ),
        (
            "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc123",
            None,
            "application_profile",
            None,
        ),
        ("arn:aws:bedrock:us-east-1:111122223333:provisioned-model/xyz", None, "provisioned", None),
        (
            "arn:aws:bedrock:us-east-1:111122223333:custom-model/amazon.nova-micro-v1:0/abc",
            None,
            "custom",
            None,
        ),
        ("arn:aws:bedrock:us-east-1:111122223333:imported-model/k1", None, "custom", None),
        (
            "arn:aws:bedrock:us-east-1:111122223333:default-prompt-router/anthropic.claude:1",
            None,
            "prompt_router",
            None,
        ),
    ],
)
def test_raw_model_id_is_kept_and_base_model_and_routing_derived(
    model_id: str, base: str | None, routing: str, geo: str | None
) -> None:
    row = _parsed(line(model_id=model_id))
    assert row.model_id == model_id
    assert (row.model.base_model, row.model.routing, row.model.geo) == (base, routing, geo)


def test_request_metadata_and_inference_region() -> None:
    row = _parsed(
        line(request_metadata={"team": "search", "tenant": "acme"}, inference_region="us-west-2")
    )
    assert row.request_metadata == {"team": "search", "tenant": "acme"}
    assert row.inference_region == "us-west-2"
    assert _parsed(line()).inference_region is None


@pytest.mark.parametrize(
    ("arn", "ptype", "account", "name", "session"),
    [
        ("arn:aws:iam::111122223333:user/alice", "user", "111122223333", "alice", None),
        ("arn:aws:iam::111122223333:user/division/team/bob", "user", "111122223333", "bob", None),
        (
            "arn:aws:sts::111122223333:assumed-role/llm-gateway/tenant-42",
            "assumed-role",
            "111122223333",
            "llm-gateway",
            "tenant-42",
        ),
        (
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Dev_1a2b/maria@example.com",
            "assumed-role",
            "111122223333",
            "AWSReservedSSO_Dev_1a2b",
            "maria@example.com",
        ),
        ("arn:aws:iam::111122223333:root", "root", "111122223333", "root", None),
        (
            "arn:aws:sts::111122223333:federated-user/carol",
            "federated-user",
            "111122223333",
            "carol",
            None,
        ),
        ("arn:aws-us-gov:iam::111122223333:user/gov", "user", "111122223333", "gov", None),
        ("<redacted>", "unknown", None, None, None),
    ],
)
def test_identity_is_split(
    arn: str, ptype: str, account: str | None, name: str | None, session: str | None
) -> None:
    row = _parsed(line(identity_arn=arn))
    assert (row.principal_type, row.principal_account, row.principal_name, row.session_name) == (
        ptype,
        account,
        name,
        session,
    )
    assert row.identity_arn == arn


def test_offloaded_bodies_keep_token_counts() -> None:
    row = _parsed(line(offloaded=True, input_tokens=150_000, output_tokens=4_000))
    assert row.body_offloaded is True
    assert (row.input_tokens, row.output_tokens) == (150_000, 4_000)
    assert row.stop_reason is None


def test_unknown_extra_fields_are_ignored() -> None:
    record = json.loads(line())
    record["someFutureField"] = {"nested": [1, 2, {"x": "y"}]}
    record["input"]["anotherNewThing"] = 7
    row = _parsed(json.dumps(record))
    assert row.input_tokens == 100


def test_guardrail_intervention_in_an_invoke_model_body() -> None:
    row = _parsed(
        line(
            operation="InvokeModel",
            model_id="anthropic.claude-3-haiku-20240307-v1:0",
            guardrail_blocked=True,
            output_tokens=0,
        )
    )
    assert row.outcome == OUTCOME_GUARDRAIL


def test_error_code_marks_a_failed_invocation() -> None:
    row = _parsed(line(error_code="ThrottlingException", input_tokens=0, output_tokens=0))
    assert (row.outcome, row.error_code) == (OUTCOME_ERROR, "ThrottlingException")


def test_image_count_from_the_request() -> None:
    row = _parsed(line(operation="InvokeModel", model_id="amazon.nova-canvas-v1:0", images=3))
    assert row.image_count == 3
    assert row.model.service_type == "image"


def test_embeddings_and_image_models_get_their_service_type() -> None:
    assert (
        _parsed(
            line(model_id="amazon.titan-embed-text-v2:0", embedding_dims=4, operation="InvokeModel")
        ).model.service_type
        == "embeddings"
    )
    assert _parsed(line(model_id="cohere.rerank-v3-5:0")).model.service_type == "rerank"
    assert _parsed(line(model_id="amazon.nova-reel-v1:0")).model.service_type == "video"


VALID = json.loads(line())


def _without(*path: str) -> str:
    record = json.loads(json.dumps(VALID))
    target = record
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return json.dumps(record)


def _with(value: object, *path: str) -> str:
    record = json.loads(json.dumps(VALID))
    target = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(record)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("this is not json", "not valid JSON (malformed or truncated line)"),
        (line()[:120], "not valid JSON (malformed or truncated line)"),
        (
            '{"requestId": "x", "timestamp": "2025-01-01T00:00:00Z",',
            "not valid JSON (malformed or truncated line)",
        ),
        ("[1, 2, 3]", "not an invocation log record (no known field)"),
        ("{}", "not an invocation log record (no known field)"),
        ('"just a string"', "not an invocation log record (no known field)"),
        (_without("requestId"), "missing requestId"),
        (_with("   ", "requestId"), "missing requestId"),
        (_without("timestamp"), "missing timestamp"),
        (_with("2025-06-99T12:00:00Z", "timestamp"), "impossible or unreadable timestamp"),
        (_with("2025-02-30T12:00:00Z", "timestamp"), "impossible or unreadable timestamp"),
        (_with("yesterday", "timestamp"), "impossible or unreadable timestamp"),
        (_without("modelId"), "missing modelId"),
        (_with(-5, "input", "inputTokenCount"), "negative input.inputTokenCount"),
        (_with("lots", "input", "inputTokenCount"), "non-numeric input.inputTokenCount"),
        (_with(-1, "output", "outputTokenCount"), "negative output.outputTokenCount"),
        (_with({"n": 1}, "output", "outputTokenCount"), "non-numeric output.outputTokenCount"),
        (
            _with("x", "input", "cacheReadInputTokenCount"),
            "non-numeric input.cacheReadInputTokenCount",
        ),
        (
            _with(-9, "input", "cacheWriteInputTokenCount"),
            "negative input.cacheWriteInputTokenCount",
        ),
        (_with("SomethingElse", "schemaType"), "not a model invocation log record (schemaType)"),
        ("", BLANK),
        ("   \t ", BLANK),
    ],
)
def test_bad_input_becomes_a_parse_error_with_a_reason(raw: str, reason: str) -> None:
    result = parse_line(raw)
    assert result == ParseError(reason)


def test_parse_error_reasons_never_echo_the_line() -> None:
    canary = "PROMPT-CANARY-7f3a"
    bad = [
        _with(canary, "timestamp"),
        _with(canary, "input", "inputTokenCount"),
        '{"requestId": "' + canary + '", "timestamp": ',
        _with(canary, "schemaType"),
    ]
    for raw in bad:
        result = parse_line(raw)
        assert isinstance(result, ParseError)
        assert canary not in result.reason


def test_numeric_strings_are_accepted_as_token_counts() -> None:
    row = _parsed(_with("42", "input", "inputTokenCount"))
    assert row.input_tokens == 42


def test_parse_is_pure_and_timezone_independent() -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/Los_Angeles'")
    row = parse_line(line(), con)
    assert isinstance(row, InvocationRow)
    assert row.ts == datetime(2025, 6, 1, 12, 0, tzinfo=UTC).replace(tzinfo=None)


def test_latency_optimized_is_what_the_response_says() -> None:
    assert _parsed(line(latency_optimized=True)).performance_tier == "latency_optimized"
    assert _parsed(line()).performance_tier == "standard"
    record = json.loads(line(latency_optimized=True))
    record["output"]["outputBodyJson"]["performanceConfig"]["latency"] = "standard"  # quota hit
    assert _parsed(json.dumps(record)).performance_tier == "standard"
    record = json.loads(line(latency_optimized=True, offloaded=True))
    record["input"]["inputBodyJson"] = {"performanceConfig": {"latency": "optimized"}}
    assert _parsed(json.dumps(record)).performance_tier == "latency_optimized"


def test_raw_batch_table_joins_small_pieces_and_keeps_large_ones_in_place() -> None:
    """Many small pieces (an S3 object each) become few record batches; large pieces are only
    sliced, never copied; line numbers and locators stay aligned with their lines."""
    import pyarrow as pa

    from bedrock_explorer import records

    small = [pa.array([f"s{i}-{n}\n" for n in range(300)], pa.large_string()) for i in range(20)]
    large = pa.array([f"L-{n}\n" for n in range(40_000)], pa.large_string())
    lines = pa.chunked_array([*small, large, small[0]])
    refs = pa.array([f"ref {n}" for n in range(1, len(lines) + 1)])

    table = records.raw_batch_table(lines, refs, first_seq=11)

    sizes = [b.num_rows for b in table.to_batches()]
    assert sum(sizes) == len(lines)
    assert len(sizes) < 10  # not one record batch per small piece (20 + 3 of them)
    # Below the minimum only: the small pieces left just before the large one, and the end.
    assert sum(size < records._MIN_SCAN_CHUNK for size in sizes) <= 2
    assert all(size <= records._SCAN_CHUNK for size in sizes)
    # The large piece's record batches point into its own buffer (sliced, not copied).
    large_data = large.buffers()[2].address
    in_place = [b for b in table.to_batches() if b.column(2).buffers()[2].address == large_data]
    assert sum(b.num_rows for b in in_place) >= len(large) - records._SCAN_CHUNK
    assert table.column("line").to_pylist() == lines.to_pylist()
    assert table.column("seq").to_pylist() == list(range(11, 11 + len(lines)))
    assert table.column("ref").to_pylist() == refs.to_pylist()
