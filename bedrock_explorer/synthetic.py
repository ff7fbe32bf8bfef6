"""Build realistic Bedrock invocation log records (as Bedrock writes them) for demo data and tests.

Why one builder: the demo generator, the benchmarks, the end-to-end seeding of moto and the parser
tests all need records in every real shape (Converse, ConverseStream, InvokeModel and its stream
chunk array, cache tokens, guardrail blocks, errors, offloaded bodies). Writing that shape once
keeps them honest with each other; the shapes follow the public records in ``shared/fixtures``.

The records *do* contain prompt and response text — that is the point: the store must drop it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class RecordSpec:
    """What one invocation was; :func:`make_record` turns it into the logged JSON object."""

    request_id: str
    ts: datetime
    model_id: str
    account_id: str = "111122223333"
    region: str = "us-east-1"
    operation: str = "Converse"
    identity_arn: str = "arn:aws:iam::111122223333:user/demo"
    input_tokens: int = 100
    output_tokens: int = 50
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    cache_write_1h_tokens: int = 0
    latency_ms: int = 800
    prompt: str = "Summarise the attached quarterly report in three bullet points."
    answer: str = "Revenue grew; costs fell; the outlook is stable."
    request_metadata: dict[str, str] = field(default_factory=dict)
    inference_region: str | None = None
    guardrail_blocked: bool = False
    error_code: str | None = None
    images: int | None = None
    image_quality: str | None = None  # imageGenerationConfig.quality: standard, premium
    image_size: tuple[int, int] | None = (1024, 1024)  # width, height; None: not in the request
    embedding_dims: int | None = None
    offloaded: bool = False
    latency_optimized: bool = False
    service_tier: str | None = None  # Converse serviceTier.type: default, flex, priority, reserved
    output_offloaded: bool = False  # only the response body went to S3 (it was large)
    cache_ttl: str | None = None  # the request's cachePoint ttl ("5m", "1h")
    padding: str = ""  # extra prompt text, for benchmarks that need a given record size


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _converse_output(spec: RecordSpec) -> dict[str, Any]:
    stop = "guardrail_intervened" if spec.guardrail_blocked else "end_turn"
    usage: dict[str, Any] = {
        "inputTokens": spec.input_tokens,
        "outputTokens": spec.output_tokens,
        "totalTokens": spec.input_tokens + spec.output_tokens,
    }
    if spec.cache_read_tokens is not None:
        usage["cacheReadInputTokens"] = spec.cache_read_tokens
    if spec.cache_write_tokens is not None:
        usage["cacheWriteInputTokens"] = spec.cache_write_tokens
        details = []
        if spec.cache_write_1h_tokens:
            details.append({"ttl": "1h", "inputTokens": spec.cache_write_1h_tokens})
        five_minute = spec.cache_write_tokens - spec.cache_write_1h_tokens
        if five_minute:
            details.append({"ttl": "5m", "inputTokens": five_minute})
        usage["cacheDetails"] = details
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": spec.answer}]}},
        "stopReason": stop,
        "metrics": {"latencyMs": spec.latency_ms},
        "usage": usage,
    }


def _anthropic_usage(spec: RecordSpec) -> dict[str, Any]:
    usage: dict[str, Any] = {"input_tokens": spec.input_tokens, "output_tokens": spec.output_tokens}
    if spec.cache_read_tokens is not None:
        usage["cache_read_input_tokens"] = spec.cache_read_tokens
    if spec.cache_write_tokens is not None:
        usage["cache_creation_input_tokens"] = spec.cache_write_tokens
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": spec.cache_write_tokens - spec.cache_write_1h_tokens,
            "ephemeral_1h_input_tokens": spec.cache_write_1h_tokens,
        }
    return usage


def _invoke_output(spec: RecordSpec) -> dict[str, Any]:
    if spec.images is not None:
        return {
            "images": [
                "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGBgAAAABQABpfZFQAAAAABJRU5ErkJggg=="
            ]
            * spec.images
        }
    if spec.embedding_dims is not None:
        return {
            "embedding": [0.0125] * spec.embedding_dims,
            "inputTextTokenCount": spec.input_tokens,
        }
    body: dict[str, Any] = {
        "id": "msg_bdrk_demo",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "text", "text": spec.answer}],
        "stop_reason": "end_turn",
        "usage": _anthropic_usage(spec),
    }
    if spec.guardrail_blocked:
        body["amazon-bedrock-guardrailAction"] = "INTERVENED"
    return body


def _stream_chunks(spec: RecordSpec) -> list[Any]:
    metrics: dict[str, Any] = {
        "inputTokenCount": spec.input_tokens,
        "outputTokenCount": spec.output_tokens,
        "invocationLatency": spec.latency_ms,
        "firstByteLatency": max(1, spec.latency_ms // 6),
    }
    return [
        {
            "type": "message_start",
            "message": {"role": "assistant", "usage": _anthropic_usage(spec)},
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": spec.answer},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": spec.output_tokens},
        },
        {"type": "message_stop", "amazon-bedrock-invocationMetrics": metrics},
        "[DONE]",
    ]


def make_record(spec: RecordSpec) -> dict[str, Any]:
    """The invocation log record Bedrock would write for ``spec``."""
    input_part: dict[str, Any] = {"inputContentType": "application/json"}
    output_part: dict[str, Any] = {"outputContentType": "application/json"}
    prompt = spec.prompt + spec.padding
    if spec.operation in ("Converse", "ConverseStream"):
        input_body: dict[str, Any] = {
            "messages": [{"role": "user", "content": [{"text": prompt}]}],
            "inferenceConfig": {"maxTokens": 1024, "temperature": 0.5},
        }
        output_body: Any = _converse_output(spec)
        if spec.latency_optimized:
            input_body["performanceConfig"] = {"latency": "optimized"}
            output_body["performanceConfig"] = {"latency": "optimized"}
        if spec.service_tier:
            input_body["serviceTier"] = {"type": spec.service_tier}
            output_body["serviceTier"] = {"type": spec.service_tier}
        if spec.cache_ttl:
            input_body["system"] = [
                {"text": "You are a careful analyst."},
                {"cachePoint": {"type": "default", "ttl": spec.cache_ttl}},
            ]
    elif spec.images is not None:
        input_body = {
            "taskType": "TEXT_IMAGE",
            "textToImageParams": {"text": prompt},
            "imageGenerationConfig": {"numberOfImages": spec.images},
        }
        if spec.image_size is not None:
            input_body["imageGenerationConfig"]["width"] = spec.image_size[0]
            input_body["imageGenerationConfig"]["height"] = spec.image_size[1]
        if spec.image_quality is not None:
            input_body["imageGenerationConfig"]["quality"] = spec.image_quality
        output_body = _invoke_output(spec)
    elif spec.embedding_dims is not None:
        input_body = {"inputText": prompt}
        output_body = _invoke_output(spec)
    else:
        input_body = {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 1024,
            "messages": [{"role": "user", "content": [{"type": "text", "text": prompt}]}],
        }
        output_body = (
            _stream_chunks(spec)
            if spec.operation == "InvokeModelWithResponseStream"
            else _invoke_output(spec)
        )
    if spec.offloaded:
        base = f"s3://demo-bedrock-logs/AWSLogs/{spec.account_id}/BedrockModelInvocationLogs/"
        input_part["inputBodyS3Path"] = base + f"data/{spec.request_id}-input.json.gz"
        output_part["outputBodyS3Path"] = base + f"data/{spec.request_id}-output.json.gz"
    elif spec.output_offloaded:
        base = f"s3://demo-bedrock-logs/AWSLogs/{spec.account_id}/BedrockModelInvocationLogs/"
        input_part["inputBodyJson"] = input_body
        output_part["outputBodyS3Path"] = base + f"data/{spec.request_id}-output.json.gz"
    else:
        input_part["inputBodyJson"] = input_body
        output_part["outputBodyJson"] = output_body
    input_part["inputTokenCount"] = spec.input_tokens
    if spec.cache_read_tokens is not None:
        input_part["cacheReadInputTokenCount"] = spec.cache_read_tokens
    if spec.cache_write_tokens is not None:
        input_part["cacheWriteInputTokenCount"] = spec.cache_write_tokens
    output_part["outputTokenCount"] = spec.output_tokens
    record: dict[str, Any] = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": _iso(spec.ts),
        "accountId": spec.account_id,
        "identity": {"arn": spec.identity_arn},
        "region": spec.region,
        "requestId": spec.request_id,
        "operation": spec.operation,
        "modelId": spec.model_id,
        "input": input_part,
        "output": output_part,
    }
    if spec.inference_region:
        record["inferenceRegion"] = spec.inference_region
    if spec.request_metadata:
        record["requestMetadata"] = dict(spec.request_metadata)
    if spec.error_code:
        record["errorCode"] = spec.error_code
        record.pop("output")
    return record


def make_line(spec: RecordSpec) -> str:
    """The record as one compact JSON line (NDJSON), as CloudWatch and S3 hold it."""
    return json.dumps(make_record(spec), separators=(",", ":"))
