"""Pricing: every trap from the issue, as a table of invocations with their published USD cost.

Expected figures are computed by hand from AWS's public Bedrock pricing (per 1M tokens unless
noted): Claude 3 Haiku $0.25/$1.25; Claude Sonnet 4.5 global $3/$15, in-region and geo $3.30/$16.50
(cache read 0.1x, 5-minute write 1.25x, 1-hour write 2x input), above 200K input tokens 2x input
and 1.5x output; Claude Haiku 4.5 global $1, regional $1.10 input; Claude Opus 4.5 global $5,
regional $5.50 input; Claude 3.5 Haiku $0.80/$4 (latency-optimized $1/$5); Nova Pro $0.80/$3.20
(latency-optimized $1/$4), cache read 0.25x, cache writes free; Nova Lite $0.06 in, Nova Micro $0.14
out; Llama 3.3 70B $0.72/$0.72; Mistral Large (24.02) $4/$12; Cohere Embed English $0.10; Titan
Embeddings V2 $0.02; AI21 Jamba-Instruct $0.50/$0.70; DeepSeek-V3 $0.58/$1.68; Titan Text Premier
$0.50/$1.50; Nova Canvas $0.04 per standard image.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pandas as pd
import pytest

from bedrock_explorer import queries
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.pricing import book
from bedrock_explorer.pricing.units import Meter, UnitPrice
from bedrock_explorer.raw import RawBatch
from bedrock_explorer.store import Store
from tests.conftest import line

M = 1_000_000
SONNET45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"

# Source region, service tier and the silent-$0 traps. Expected USD from AWS's Bedrock pricing
# page per region and tier as carried by litellm 1.110.2's price map (released 2026-11-20) and
# the published rules: Nova Pro $0.80 in the US, $1.05 in the EU, $0.84 in APAC, $0.96 in
# GovCloud; Claude Sonnet 4.5 in GovCloud $3.60 input; Claude 3 Haiku in GovCloud $0.30/$1.50;
# Llama 3 8B $0.30/$0.60 (US), $0.32/$0.65 (eu-west-1); Nova 2 Lite $0.30/$2.50 global,
# $0.33/$2.75 US geo, priority $0.5775/$4.8125 (US geo), flex $0.165/$1.375 (US geo); DeepSeek V3.2
# $0.62/$1.85 (US), $0.74/$2.22 (eu-north-1, Tokyo), flex $0.31/$0.925, priority $1.085/$3.2375;
# Kimi K2.5 $0.60/$3 (US), $0.72/$3.60 (Tokyo); MiniMax M2.1 $0.30/$1.20 (US), $0.47/$1.86
# (London); Qwen3 235B $0.22/$0.88; gpt-oss-safeguard-120b $0.15/$0.60; Nemotron Nano 12B
# $0.20/$0.60, GovCloud $0.24/$0.72; Gemma 3 27B $0.23/$0.38; Claude 2.1 $8/$24 (legacy ids
# are still in old logs); Claude Sonnet 4.5 1-hour cache write 2x input.
REGION_TIER_CASES: list[tuple[str, dict, float | None, str]] = [
    (
        "EU geo Nova Pro in eu-west-1",
        dict(
            model_id="eu.amazon.nova-pro-v1:0", region="eu-west-1", input_tokens=M, output_tokens=0
        ),
        1.05,
        "priced",
    ),
    (
        "in-region Nova Pro in eu-central-1",
        dict(
            model_id="amazon.nova-pro-v1:0", region="eu-central-1", input_tokens=M, output_tokens=0
        ),
        1.05,
        "priced",
    ),
    (
        "APAC geo Nova Pro",
        dict(
            model_id="apac.amazon.nova-pro-v1:0",
            region="ap-southeast-1",
            input_tokens=M,
            output_tokens=0,
        ),
        0.84,
        "priced",
    ),
    (
        "Nova Pro in Tokyo (APAC rate)",
        dict(
            model_id="amazon.nova-pro-v1:0",
            region="ap-northeast-1",
            input_tokens=M,
            output_tokens=M,
        ),
        0.84 + 3.36,
        "priced",
    ),
    (
        "Nova Pro in GovCloud",
        dict(
            model_id="amazon.nova-pro-v1:0", region="us-gov-west-1", input_tokens=M, output_tokens=0
        ),
        0.96,
        "priced",
    ),
    (
        "Nova Pro in us-west-2 (US list)",
        dict(model_id="amazon.nova-pro-v1:0", region="us-west-2", input_tokens=M, output_tokens=M),
        4.00,
        "priced",
    ),
    (
        "GovCloud Claude Sonnet 4.5",
        dict(
            model_id="us-gov." + SONNET45,
            region="us-gov-west-1",
            input_tokens=100_000,
            output_tokens=0,
        ),
        0.36,
        "priced",
    ),
    (
        "Claude 3 Haiku in GovCloud",
        dict(
            model_id="anthropic.claude-3-haiku-20240307-v1:0",
            region="us-gov-west-1",
            input_tokens=M,
            output_tokens=M,
        ),
        1.80,
        "priced",
    ),
    (
        "Llama 3 8B in eu-west-1",
        dict(
            model_id="meta.llama3-8b-instruct-v1:0",
            region="eu-west-1",
            input_tokens=M,
            output_tokens=M,
        ),
        0.97,
        "priced",
    ),
    (
        "Llama 3 8B in us-east-1",
        dict(model_id="meta.llama3-8b-instruct-v1:0", input_tokens=M, output_tokens=M),
        0.90,
        "priced",
    ),
    (
        "global Sonnet 4.5 from eu-west-1",
        dict(
            model_id="global." + SONNET45, region="eu-west-1", input_tokens=100_000, output_tokens=0
        ),
        0.30,
        "priced",
    ),
    (
        "Nova Micro in the EU",
        dict(
            model_id="eu.amazon.nova-micro-v1:0",
            region="eu-west-3",
            input_tokens=M,
            output_tokens=M,
        ),
        0.046 + 0.184,
        "priced",
    ),
    (
        "Nova 2 Lite global",
        dict(model_id="global.amazon.nova-2-lite-v1:0", input_tokens=M, output_tokens=M),
        2.80,
        "priced",
    ),
    (
        "Nova 2 Lite US geo",
        dict(model_id="us.amazon.nova-2-lite-v1:0", input_tokens=M, output_tokens=M),
        3.08,
        "priced",
    ),
    (
        "Nova 2 Lite US geo, priority tier",
        dict(
            model_id="us.amazon.nova-2-lite-v1:0",
            service_tier="priority",
            input_tokens=M,
            output_tokens=M,
        ),
        0.5775 + 4.8125,
        "priced",
    ),
    (
        "Nova 2 Lite US geo, flex tier",
        dict(
            model_id="us.amazon.nova-2-lite-v1:0",
            service_tier="flex",
            input_tokens=M,
            output_tokens=M,
        ),
        0.165 + 1.375,
        "priced",
    ),
    (
        "Nova 2 Lite, default tier is standard",
        dict(
            model_id="us.amazon.nova-2-lite-v1:0",
            service_tier="default",
            input_tokens=M,
            output_tokens=M,
        ),
        3.08,
        "priced",
    ),
    (
        "DeepSeek V3.2 in us-east-1",
        dict(model_id="deepseek.v3.2", input_tokens=M, output_tokens=M),
        2.47,
        "priced",
    ),
    (
        "DeepSeek V3.2 in eu-north-1",
        dict(model_id="deepseek.v3.2", region="eu-north-1", input_tokens=M, output_tokens=M),
        2.96,
        "priced",
    ),
    (
        "DeepSeek V3.2 flex",
        dict(model_id="deepseek.v3.2", service_tier="flex", input_tokens=M, output_tokens=M),
        1.235,
        "priced",
    ),
    (
        "DeepSeek V3.2 priority in us-west-2",
        dict(
            model_id="deepseek.v3.2",
            region="us-west-2",
            service_tier="priority",
            input_tokens=M,
            output_tokens=M,
        ),
        4.3225,
        "priced",
    ),
    (
        "Kimi K2.5 in Tokyo",
        dict(
            model_id="moonshotai.kimi-k2.5",
            region="ap-northeast-1",
            input_tokens=M,
            output_tokens=M,
        ),
        4.32,
        "priced",
    ),
    (
        "Kimi K2.5 in us-east-1",
        dict(model_id="moonshotai.kimi-k2.5", input_tokens=M, output_tokens=M),
        3.60,
        "priced",
    ),
    (
        "MiniMax M2.1 in London",
        dict(model_id="minimax.minimax-m2.1", region="eu-west-2", input_tokens=M, output_tokens=M),
        2.33,
        "priced",
    ),
    (
        "Qwen3 235B",
        dict(model_id="qwen.qwen3-235b-a22b-2507-v1:0", input_tokens=M, output_tokens=M),
        1.10,
        "priced",
    ),
    (
        "gpt-oss-safeguard-120b",
        dict(model_id="openai.gpt-oss-safeguard-120b", input_tokens=M, output_tokens=M),
        0.75,
        "priced",
    ),
    (
        "Nemotron Nano 12B in GovCloud",
        dict(
            model_id="nvidia.nemotron-nano-12b-v2",
            region="us-gov-east-1",
            input_tokens=M,
            output_tokens=M,
        ),
        0.96,
        "priced",
    ),
    (
        "Gemma 3 27B",
        dict(model_id="google.gemma-3-27b-it", input_tokens=M, output_tokens=M),
        0.61,
        "priced",
    ),
    (
        "legacy Claude 2.1",
        dict(model_id="anthropic.claude-v2:1", input_tokens=M, output_tokens=0),
        8.00,
        "priced",
    ),
    (
        "flex on a model without flex rates: estimated at standard",
        dict(
            model_id="anthropic.claude-3-haiku-20240307-v1:0",
            service_tier="flex",
            input_tokens=M,
            output_tokens=0,
        ),
        0.25,
        "estimated at standard",
    ),
    (
        "reserved tier: billed per capacity",
        dict(
            model_id="us.amazon.nova-2-lite-v1:0",
            service_tier="reserved",
            input_tokens=M,
            output_tokens=M,
        ),
        None,
        "reserved (billed per capacity)",
    ),
    (
        "1-hour cache write, response offloaded to S3",
        dict(
            model_id="global." + SONNET45,
            input_tokens=0,
            output_tokens=0,
            cache_read_tokens=0,
            cache_write_tokens=100_000,
            cache_ttl="1h",
            output_offloaded=True,
        ),
        100_000 * 6e-6,
        "priced",
    ),
    (
        "5-minute cache write, response offloaded to S3",
        dict(
            model_id="global." + SONNET45,
            input_tokens=0,
            output_tokens=0,
            cache_read_tokens=0,
            cache_write_tokens=100_000,
            cache_ttl="5m",
            output_offloaded=True,
        ),
        100_000 * 3.75e-6,
        "priced",
    ),
    (
        "Nova Reel video: billed per second, flagged",
        dict(
            model_id="amazon.nova-reel-v1:1",
            operation="StartAsyncInvoke",
            input_tokens=0,
            output_tokens=0,
        ),
        None,
        "unpriced",
    ),
    (
        "Luma Ray video: flagged",
        dict(
            model_id="luma.ray-v2:0", operation="StartAsyncInvoke", input_tokens=0, output_tokens=0
        ),
        None,
        "unpriced",
    ),
    (
        "Cohere Rerank: per query, flagged",
        dict(model_id="cohere.rerank-v3-5:0", operation="Rerank", input_tokens=0, output_tokens=0),
        None,
        "unpriced",
    ),
    (
        "Nova Sonic speech: flagged",
        dict(
            model_id="amazon.nova-sonic-v1:0",
            operation="InvokeModelWithBidirectionalStream",
            input_tokens=5000,
            output_tokens=5000,
        ),
        None,
        "unpriced",
    ),
    (
        "one Nova Micro token is not $0",
        dict(model_id="amazon.nova-micro-v1:0", input_tokens=0, output_tokens=1),
        0.14e-6,
        "priced",
    ),
]

# (name, RecordSpec overrides, expected USD or None for no cost, expected status)
CASES: list[tuple[str, dict, float, str]] = [
    (
        "old model in-region",
        dict(
            model_id="anthropic.claude-3-haiku-20240307-v1:0", input_tokens=1000, output_tokens=500
        ),
        0.000875,
        "priced",
    ),
    (
        "old model geo = in-region",
        dict(
            model_id="us.anthropic.claude-3-haiku-20240307-v1:0",
            input_tokens=1000,
            output_tokens=500,
        ),
        0.000875,
        "priced",
    ),
    (
        "foundation-model ARN",
        dict(
            model_id="arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
            input_tokens=1000,
            output_tokens=500,
        ),
        0.000875,
        "priced",
    ),
    # (100K input tokens: a million would cross the 200K long-context threshold)
    (
        "Sonnet 4.5 global input",
        dict(model_id="global." + SONNET45, input_tokens=100_000, output_tokens=0),
        0.30,
        "priced",
    ),
    (
        "Sonnet 4.5 geo input (10% more)",
        dict(model_id="us." + SONNET45, input_tokens=100_000, output_tokens=0),
        0.33,
        "priced",
    ),
    (
        "Sonnet 4.5 in-region input",
        dict(model_id=SONNET45, input_tokens=100_000, output_tokens=0),
        0.33,
        "priced",
    ),
    (
        "Sonnet 4.5 global output",
        dict(model_id="global." + SONNET45, input_tokens=0, output_tokens=M),
        15.00,
        "priced",
    ),
    (
        "Sonnet 4.5 eu geo output",
        dict(model_id="eu." + SONNET45, input_tokens=0, output_tokens=M),
        16.50,
        "priced",
    ),
    (
        "Haiku 4.5 global",
        dict(
            model_id="global.anthropic.claude-haiku-4-5-20251001-v1:0",
            input_tokens=M,
            output_tokens=0,
        ),
        1.00,
        "priced",
    ),
    (
        "Haiku 4.5 geo",
        dict(
            model_id="us.anthropic.claude-haiku-4-5-20251001-v1:0", input_tokens=M, output_tokens=0
        ),
        1.10,
        "priced",
    ),
    (
        "Opus 4.5 global",
        dict(
            model_id="global.anthropic.claude-opus-4-5-20251101-v1:0",
            input_tokens=M,
            output_tokens=0,
        ),
        5.00,
        "priced",
    ),
    (
        "Opus 4.5 geo",
        dict(
            model_id="us.anthropic.claude-opus-4-5-20251101-v1:0", input_tokens=M, output_tokens=0
        ),
        5.50,
        "priced",
    ),
    (
        "cache read + 5-minute write at their own rates",
        dict(
            model_id="us." + SONNET45,
            input_tokens=100,
            output_tokens=0,
            cache_read_tokens=10_000,
            cache_write_tokens=2_000,
        ),
        100 * 3.3e-6 + 10_000 * 0.33e-6 + 2_000 * 4.125e-6,
        "priced",
    ),
    (
        "1-hour cache write is 2x input",
        dict(
            model_id="global." + SONNET45,
            input_tokens=0,
            output_tokens=0,
            cache_read_tokens=0,
            cache_write_tokens=2_000,
            cache_write_1h_tokens=2_000,
        ),
        2_000 * 6e-6,
        "priced",
    ),
    (
        "mixed 5-minute and 1-hour writes",
        dict(
            model_id="global." + SONNET45,
            input_tokens=0,
            output_tokens=0,
            cache_read_tokens=0,
            cache_write_tokens=3_000,
            cache_write_1h_tokens=1_000,
        ),
        2_000 * 3.75e-6 + 1_000 * 6e-6,
        "priced",
    ),
    (
        "Claude 3.5 Haiku cache read and write",
        dict(
            model_id="anthropic.claude-3-5-haiku-20241022-v1:0",
            input_tokens=0,
            output_tokens=0,
            cache_read_tokens=M,
            cache_write_tokens=M,
        ),
        0.08 + 1.00,
        "priced",
    ),
    (
        "Nova Pro",
        dict(model_id="amazon.nova-pro-v1:0", input_tokens=M, output_tokens=M),
        4.00,
        "priced",
    ),
    (
        "Nova cache read is 0.25x input",
        dict(model_id="amazon.nova-pro-v1:0", input_tokens=0, output_tokens=0, cache_read_tokens=M),
        0.20,
        "priced",
    ),
    (
        "Nova cache writes are free",
        dict(
            model_id="us.amazon.nova-pro-v1:0",
            input_tokens=0,
            output_tokens=0,
            cache_write_tokens=M,
        ),
        0.0,
        "priced",
    ),
    (
        "Nova Lite input",
        dict(model_id="amazon.nova-lite-v1:0", input_tokens=M, output_tokens=0),
        0.06,
        "priced",
    ),
    (
        "Nova Micro output via eu geo",
        dict(model_id="eu.amazon.nova-micro-v1:0", input_tokens=0, output_tokens=M),
        0.14,
        "priced",
    ),
    (
        "latency-optimized Claude 3.5 Haiku",
        dict(
            model_id="us.anthropic.claude-3-5-haiku-20241022-v1:0",
            input_tokens=M,
            output_tokens=M,
            latency_optimized=True,
        ),
        6.00,
        "priced",
    ),
    (
        "latency-optimized Nova Pro",
        dict(
            model_id="us.amazon.nova-pro-v1:0",
            input_tokens=M,
            output_tokens=0,
            latency_optimized=True,
        ),
        1.00,
        "priced",
    ),
    (
        "long context above 200K input",
        dict(model_id="us." + SONNET45, input_tokens=250_000, output_tokens=1_000),
        250_000 * 6.6e-6 + 1_000 * 24.75e-6,
        "priced",
    ),
    (
        "long context counts cache tokens",
        dict(
            model_id="us." + SONNET45,
            input_tokens=50_000,
            output_tokens=0,
            cache_read_tokens=180_000,
        ),
        50_000 * 6.6e-6 + 180_000 * 0.66e-6,
        "priced",
    ),
    (
        "just below the long-context threshold",
        dict(model_id="global." + SONNET45, input_tokens=200_000, output_tokens=0),
        200_000 * 3e-6,
        "priced",
    ),
    (
        "Llama 3.3 70B",
        dict(model_id="us.meta.llama3-3-70b-instruct-v1:0", input_tokens=M, output_tokens=M),
        1.44,
        "priced",
    ),
    (
        "Mistral Large 24.02",
        dict(model_id="mistral.mistral-large-2402-v1:0", input_tokens=M, output_tokens=M),
        16.00,
        "priced",
    ),
    (
        "Cohere Embed English (bundled)",
        dict(
            model_id="cohere.embed-english-v3",
            input_tokens=M,
            output_tokens=0,
            embedding_dims=4,
            operation="InvokeModel",
        ),
        0.10,
        "priced",
    ),
    (
        "Titan Embeddings V2",
        dict(
            model_id="amazon.titan-embed-text-v2:0",
            input_tokens=M,
            output_tokens=0,
            embedding_dims=4,
            operation="InvokeModel",
        ),
        0.02,
        "priced",
    ),
    (
        "AI21 Jamba-Instruct (bundled)",
        dict(model_id="ai21.jamba-instruct-v1:0", input_tokens=M, output_tokens=M),
        1.20,
        "priced",
    ),
    (
        "DeepSeek-V3 (bundled)",
        dict(model_id="deepseek.v3-v1:0", input_tokens=M, output_tokens=M),
        2.26,
        "priced",
    ),
    (
        "Titan Text Premier (bundled)",
        dict(model_id="amazon.titan-text-premier-v1:0", input_tokens=M, output_tokens=M),
        2.00,
        "priced",
    ),
    (
        "Nova Canvas per image (bundled)",
        dict(
            model_id="amazon.nova-canvas-v1:0",
            images=3,
            operation="InvokeModel",
            input_tokens=40,
            output_tokens=0,
        ),
        0.12,
        "priced",
    ),
    # Images by quality and size (AWS Bedrock pricing page, on-demand, 2025-11: Nova Canvas
    # $0.04 / $0.06 standard / premium up to 1024x1024, $0.06 / $0.08 up to 2048x2048; Titan
    # Image Generator v1 and v2 $0.008 / $0.01 at 512x512, $0.01 / $0.012 larger).
    *(
        (
            f"{name} {quality or 'no quality'} {size or 'no size'} x{count}",
            dict(
                model_id=model,
                images=count,
                image_quality=quality,
                image_size=size,
                operation="InvokeModel",
                input_tokens=40,
                output_tokens=0,
            ),
            usd,
            "priced",
        )
        for name, model, quality, size, count, usd in (
            ("Nova Canvas", "amazon.nova-canvas-v1:0", "premium", (1024, 1024), 2, 0.12),
            ("Nova Canvas", "amazon.nova-canvas-v1:0", "standard", (2048, 2048), 1, 0.06),
            ("Nova Canvas", "amazon.nova-canvas-v1:0", "premium", (2048, 2048), 1, 0.08),
            ("Nova Canvas", "amazon.nova-canvas-v1:0", "standard", (1280, 720), 1, 0.04),
            ("Nova Canvas", "amazon.nova-canvas-v1:0", "premium", (1536, 1536), 2, 0.16),
            ("Nova Canvas", "amazon.nova-canvas-v1:0", None, None, 1, 0.04),
            ("Nova Canvas", "amazon.nova-canvas-v1:0", "PREMIUM", None, 1, 0.06),
            (
                "Titan Image v2",
                "amazon.titan-image-generator-v2:0",
                "standard",
                (512, 512),
                1,
                0.008,
            ),
            ("Titan Image v2", "amazon.titan-image-generator-v2:0", "premium", (512, 512), 1, 0.01),
            ("Titan Image v2", "amazon.titan-image-generator-v2:0", None, (1024, 1024), 1, 0.01),
            (
                "Titan Image v2",
                "amazon.titan-image-generator-v2:0",
                "premium",
                (1024, 1024),
                4,
                0.048,
            ),
            ("Titan Image v1", "amazon.titan-image-generator-v1", "premium", (768, 768), 1, 0.012),
            ("Titan Image v1", "amazon.titan-image-generator-v1", None, None, 1, 0.01),
            # Stability bills every image alike: quality and size change nothing.
            ("SD3.5 Large", "stability.sd3-5-large-v1:0", "premium", (1536, 1536), 1, 0.08),
        )
    ),
    (
        "a failed invocation costs nothing",
        dict(
            model_id="amazon.nova-pro-v1:0",
            input_tokens=0,
            output_tokens=0,
            error_code="ThrottlingException",
        ),
        0.0,
        "no billable meter",
    ),
    (
        "unknown model is unpriced",
        dict(model_id="dummy-model-v1", input_tokens=320, output_tokens=300),
        None,
        "unpriced",
    ),
    (
        "provisioned throughput",
        dict(
            model_id="arn:aws:bedrock:us-east-1:111122223333:provisioned-model/abc123",
            input_tokens=5000,
            output_tokens=100,
        ),
        None,
        "provisioned (billed per hour)",
    ),
    (
        "unresolved application profile",
        dict(
            model_id="arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/x1",
            input_tokens=5000,
            output_tokens=100,
        ),
        None,
        "unpriced",
    ),
    *REGION_TIER_CASES,
]


@pytest.fixture(scope="module")
def priced(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    store = Store(tmp_path_factory.mktemp("pricing") / "p.duckdb")
    integ = store.add_integration("cases", "local")
    lines = [line(request_id=f"case-{i}", **spec) for i, (_, spec, _, _) in enumerate(CASES)]
    result = store.write_batch(integ.id, RawBatch("cases", lines))
    assert result.inserted == len(CASES)
    book.compile_price_points(store)
    frame = store.query_df(f"SELECT * FROM ({queries.PRICED})")
    return {r["request_id"]: r for r in frame.to_dict(orient="records")}


def test_the_table_has_at_least_60_cases() -> None:
    assert len(CASES) >= 60


@pytest.mark.parametrize(("index", "case"), list(enumerate(CASES)), ids=[c[0] for c in CASES])
def test_published_price(priced: dict[str, dict], index: int, case: tuple) -> None:
    name, spec, expected, status = case
    row = priced[f"case-{index}"]
    assert row["price_status"] == status, (row["price_reason"], row["price_source"])
    if expected is None:
        assert pd.isna(row["cost"]), name  # an empty cost, never 0
    else:
        assert row["cost"] == pytest.approx(expected, abs=1e-9), (name, row["price_source"])
    if status == "unpriced":
        assert row["unpriced_tokens"] == spec["input_tokens"] + spec["output_tokens"]
        assert row["price_reason"]
    elif status == "priced":
        assert row["unpriced_tokens"] == 0
        assert row["price_source"]


def test_grouped_cost_of_every_case_equals_its_published_price(tmp_path) -> None:
    """The grouped query (summed per price key, then priced) gives each case its published
    price too — images by quality and size included, which travel in the price key."""
    with Store(tmp_path / "grouped.duckdb") as store:
        integ = store.add_integration("cases", "local")
        lines = [line(request_id=f"case-{i}", **spec) for i, (_, spec, _, _) in enumerate(CASES)]
        store.write_batch(integ.id, RawBatch("cases", lines))
        frame = queries.with_price_status(
            queries.grouped_cost(store, {"request_id": "request_id"})
        ).set_index("request_id")
    for index, (name, _, expected, status) in enumerate(CASES):
        row = frame.loc[f"case-{index}"]
        assert row["price_status"] == status, name
        if expected is None:
            assert pd.isna(row["cost"]), name
        else:
            assert row["cost"] == pytest.approx(expected, abs=1e-9), name


def test_totals_show_unpriced_usage_with_its_tokens(priced: dict[str, dict]) -> None:
    unpriced = sum(r["unpriced_tokens"] for r in priced.values())
    # dummy model + application profile + Nova Sonic's speech and text tokens
    assert unpriced == (320 + 300) + (5000 + 100) + (5000 + 5000)
    assert sum(r["provisioned"] for r in priced.values()) == 1
    # video and rerank calls carry no tokens: they count as unpriced invocations instead
    assert sum(r["unpriced_invocations"] for r in priced.values()) == 6


def test_a_price_override_reprices_history_at_once(store: Store) -> None:
    integ = store.add_integration("x", "local")
    store.write_batch(
        integ.id,
        RawBatch(
            "f",
            [
                line(
                    request_id="old",
                    model_id="amazon.nova-pro-v1:0",
                    input_tokens=M,
                    output_tokens=0,
                    ts=datetime(2025, 1, 10, tzinfo=UTC),
                ),
                line(
                    request_id="new",
                    model_id="amazon.nova-pro-v1:0",
                    input_tokens=M,
                    output_tokens=0,
                    ts=datetime(2025, 3, 10, tzinfo=UTC),
                ),
            ],
        ),
    )
    book.compile_price_points(store)
    assert queries.cost_totals(store)["cost"] == pytest.approx(1.60)
    # A negotiated price from March on: history before keeps the list price.
    book.set_override(
        store,
        "amazon.nova-pro-v1:0",
        {Meter.INPUT: Decimal("0.50")},
        effective_from=date(2025, 3, 1),
    )
    costs = dict(store.con.execute(f"SELECT request_id, cost FROM ({queries.PRICED})").fetchall())
    assert costs == {"old": pytest.approx(0.80), "new": pytest.approx(0.50)}
    sources = store.con.execute(
        "SELECT source FROM price_points WHERE model_id = 'amazon.nova-pro-v1:0' "
        "AND tier = 'standard' ORDER BY valid_from"
    ).fetchall()
    assert "user override (input)" in sources[-1][0]
    assert "user override" not in sources[0][0]
    # A correction of everything, from the start: all history changes, no re-import.
    book.set_override(
        store,
        "amazon.nova-pro-v1:0",
        {Meter.INPUT: Decimal("0.70")},
        effective_from=date(2000, 1, 1),
    )
    costs = dict(store.con.execute(f"SELECT request_id, cost FROM ({queries.PRICED})").fetchall())
    assert costs == {"old": pytest.approx(0.70), "new": pytest.approx(0.50)}


def test_unit_mistakes_are_impossible_by_construction() -> None:
    assert UnitPrice.per_thousand_tokens("0.003") == UnitPrice.per_million_tokens("3")
    assert UnitPrice.per_million_tokens(3).display == Decimal("3")
    with pytest.raises(UserFacingError, match="per 1M tokens"):
        UnitPrice(Decimal("3"), "token")  # $3 per single token: a per-1M figure given raw
    with pytest.raises(UserFacingError):
        UnitPrice.per_million_tokens(-1)


def test_every_demo_and_fixture_invocation_is_priced_or_listed(tmp_path) -> None:
    from bedrock_explorer.demo import load_demo
    from bedrock_explorer.ingest import import_paths
    from tests.conftest import FIXTURES

    with Store(tmp_path / "all.duckdb") as store:
        load_demo(store, days=7)
        import_paths(store, [str(FIXTURES)], "fixtures")
        book.compile_price_points(store)
        frame = store.query_df(f"SELECT * FROM ({queries.PRICED})")
        listed = set(queries.unpriced_models(store).model_id)
    assert set(frame.price_status) <= set(queries.STATUSES)
    for row in frame.to_dict(orient="records"):
        if row["price_status"] in ("priced", "no billable meter"):
            assert row["price_source"]
        else:
            assert row["model_id"] in listed
    assert "dummy-model-v1" in listed


def test_grouped_cost_agrees_with_the_per_invocation_sum_to_the_cent(tmp_path) -> None:
    from bedrock_explorer.demo import load_demo

    with Store(tmp_path / "agree.duckdb") as store:
        load_demo(store, days=14)
        detail = (
            store.query_df(
                f"SELECT date_trunc('day', ts) AS day, coalesce(base_model, model_id) AS model, "
                f"sum(cost) AS cost, sum(unpriced_tokens) AS unpriced "
                f"FROM ({queries.PRICED}) GROUP BY ALL"
            )
            .set_index(["day", "model"])
            .sort_index()
        )
        grouped = queries.daily_cost_by_model(store).set_index(["day", "model"]).sort_index()
        totals = queries.cost_totals(store)
    assert list(grouped.index) == list(detail.index)
    assert (grouped.cost - detail.cost).abs().max() < 0.005
    assert (grouped.unpriced_tokens == detail.unpriced).all()
    assert round(totals["cost"], 2) == round(detail.cost.sum(), 2)
    assert totals["unpriced_tokens"] == detail.unpriced.sum() > 0


def test_an_application_profile_resolved_by_hand_is_priced_through_history(store: Store) -> None:
    arn = "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/team-a"
    integ = store.add_integration("x", "local")
    store.write_batch(
        integ.id,
        RawBatch(
            "f",
            [
                line(request_id="1", model_id=arn, input_tokens=100_000, output_tokens=0),
                line(request_id="2", model_id=arn, input_tokens=100_000, output_tokens=0),
            ],
        ),
    )
    book.compile_price_points(store)
    assert queries.cost_totals(store)["unpriced_tokens"] == 200_000
    book.resolve_model_id(store, arn, "global." + SONNET45)
    totals = queries.cost_totals(store)
    assert totals["unpriced_tokens"] == 0
    assert totals["cost"] == pytest.approx(2 * 100_000 * 3e-6)  # the global price
    book.resolve_model_id(store, arn, SONNET45, "geo")
    assert queries.cost_totals(store)["cost"] == pytest.approx(2 * 100_000 * 3.3e-6)
    routing, resolved_by = store.con.execute(
        "SELECT routing, resolved_by FROM model_ids WHERE model_id = ?", [arn]
    ).fetchall()[0]
    assert (routing, resolved_by) == ("application_profile", "user")
    with pytest.raises(UserFacingError, match="No invocations"):
        book.resolve_model_id(store, "arn:aws:bedrock:::nothing", SONNET45)


def _profile_answer(*model_arns: str) -> dict:
    return {
        "inferenceProfileName": "team-a",
        "inferenceProfileArn": "arn",
        "inferenceProfileId": "x",
        "status": "ACTIVE",
        "type": "APPLICATION",
        "models": [{"modelArn": arn} for arn in model_arns],
    }


def test_application_profiles_resolve_through_get_inference_profile(store: Store) -> None:
    import boto3
    from botocore.stub import Stubber

    from bedrock_explorer.pricing import profiles

    geo_arn = "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/geo1"
    global_arn = "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/glob"
    denied_arn = "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/nope"
    by_hand = "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/hand"
    integ = store.add_integration("x", "local")
    store.write_batch(
        integ.id,
        RawBatch(
            "f",
            [
                line(request_id=arn, model_id=arn, input_tokens=100_000, output_tokens=0)
                for arn in (geo_arn, global_arn, denied_arn, by_hand)
            ],
        ),
    )
    book.resolve_model_id(store, by_hand, "amazon.nova-pro-v1:0")
    fm = "arn:aws:bedrock:{}::foundation-model/" + SONNET45
    client = boto3.client(
        "bedrock", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stub:  # calls come in model id order: geo1, glob, nope
        stub.add_response(
            "get_inference_profile",
            _profile_answer(fm.format("us-east-1"), fm.format("us-east-2"), fm.format("us-west-2")),
        )
        stub.add_response(
            "get_inference_profile",
            _profile_answer(
                fm.format("us-east-1"), fm.format("eu-west-1"), fm.format("ap-northeast-1")
            ),
        )
        stub.add_client_error(
            "get_inference_profile", "AccessDeniedException", "not authorized", 403
        )
        results = profiles.resolve_profiles(store, clients={"us-east-1": client})
    got = {r.model_id: (r.base_model, r.routing, r.error is not None) for r in results}
    assert got == {
        geo_arn: (SONNET45, "geo", False),
        global_arn: (SONNET45, "global", False),
        denied_arn: (None, None, True),
    }  # the profile resolved by hand was not asked about, nor overwritten
    denied = next(r for r in results if r.model_id == denied_arn)
    assert "bedrock:GetInferenceProfile" in (denied.error or "")
    costs = dict(store.con.execute(f"SELECT request_id, cost FROM ({queries.PRICED})").fetchall())
    assert costs[geo_arn] == pytest.approx(100_000 * 3.3e-6)  # regional price
    assert costs[global_arn] == pytest.approx(100_000 * 3e-6)  # global price
    assert costs[by_hand] == pytest.approx(100_000 * 0.8e-6)  # Nova Pro, as set by hand
    assert costs[denied_arn] is None  # not resolved: no cost, not $0
    assert [m for m, _ in profiles.unresolved_profiles(store)] == [denied_arn]
