"""The usage-type grammar (data in bedrock_explorer/bill/usage_types.json) and model matching."""

from __future__ import annotations

import pytest

from bedrock_explorer.bill import model_match, usage_types
from bedrock_explorer.bill.usage_types import BillMeter
from bedrock_explorer.pricing.catalog import REGION_CODE

BEDROCK = ("Amazon Bedrock", "AmazonBedrock")
SONNET_MP = ("Claude Sonnet 4.5 (Amazon Bedrock Edition)", "c2wy6h3vtk5i9klyv1pvk6zq7")

CASES = [
    # AmazonBedrock kebab case: the model is in the usage type; per 1K tokens
    (
        BEDROCK,
        "USE1-Claude4.6Opus-input-tokens",
        ("us-east-1", "Claude4.6Opus", "input", "regional", "standard", 1000.0),
    ),
    (
        BEDROCK,
        "USE1-Claude4.6Opus-cache-read-input-token-count",
        ("us-east-1", "Claude4.6Opus", "cache_read", "regional", "standard", 1000.0),
    ),
    (
        BEDROCK,
        "USE1-Claude4.6Opus-cache-write-input-token-count",
        ("us-east-1", "Claude4.6Opus", "cache_write", "regional", "standard", 1000.0),
    ),
    (
        BEDROCK,
        "USE1-Claude4.6Opus-output-tokens-cross-region-global",
        ("us-east-1", "Claude4.6Opus", "output", "global", "standard", 1000.0),
    ),
    (
        BEDROCK,
        "EUC1-NovaPro-input-tokens-cross-region-geo",
        ("eu-central-1", "NovaPro", "input", "regional", "standard", 1000.0),
    ),
    (
        BEDROCK,
        "USE1-NovaMicro-input-tokens-batch",
        ("us-east-1", "NovaMicro", "input", "regional", "batch", 1000.0),
    ),
    (
        BEDROCK,
        "USE1-Gemma-3-4B-IT-input-tokens-flex",
        ("us-east-1", "Gemma-3-4B-IT", "input", "regional", "flex", 1000.0),
    ),
    (
        BEDROCK,
        "USE1-GPT-OSS-Safeguard-20B-input-tokens-priority",
        ("us-east-1", "GPT-OSS-Safeguard-20B", "input", "regional", "priority", 1000.0),
    ),
    (
        BEDROCK,
        "USE2-Llama3-3-70B-output-tokens-latency-optimized",
        ("us-east-2", "Llama3-3-70B", "output", "regional", "latency_optimized", 1000.0),
    ),
    (
        BEDROCK,
        "USE1-Nova2.0Lite-input-tokens-cross-region-global-batch",
        ("us-east-1", "Nova2.0Lite", "input", "global", "batch", 1000.0),
    ),
    (
        BEDROCK,
        "USE1-Nova2.0Pro-text-input-tokens-priority-cross-region-global",
        ("us-east-1", "Nova2.0Pro", "input", "global", "priority", 1000.0),
    ),
    (
        BEDROCK,
        "USE1-Claude4Sonnet-output-tokens-long-context-cross-region-global",
        ("us-east-1", "Claude4Sonnet", "output", "global", "standard", 1000.0),
    ),
    (
        BEDROCK,
        "USW2-anthropic.claude-opus-4-8-mantle-input-tokens-global-standard",
        ("us-west-2", "anthropic.claude-opus-4-8", "input", "global", "standard", 1000.0),
    ),
    (
        BEDROCK,
        "USE1-nvidia.nemotron-nano-3-30b-mantle-output-tokens-standard",
        ("us-east-1", "nvidia.nemotron-nano-3-30b", "output", "regional", "standard", 1000.0),
    ),
    (
        BEDROCK,
        "APN1-Llama3-2-1B-output-tokens",
        ("ap-northeast-1", "Llama3-2-1B", "output", "regional", "standard", 1000.0),
    ),
    # Marketplace CamelCase: the model is the product; per 1M tokens
    (
        SONNET_MP,
        "USE1-MP:USE1_InputTokenCount-Units",
        ("us-east-1", "Claude Sonnet 4.5", "input", "regional", "standard", 1e6),
    ),
    (
        SONNET_MP,
        "USE1-MP:USE1_InputTokenCount_Global-Units",
        ("us-east-1", "Claude Sonnet 4.5", "input", "global", "standard", 1e6),
    ),
    (
        SONNET_MP,
        "USE1-MP:USE1_InputTokenCount_Global_Batch-Units",
        ("us-east-1", "Claude Sonnet 4.5", "input", "global", "batch", 1e6),
    ),
    (
        SONNET_MP,
        "APE1-MP:APE1_OutputTokenCount-Units",
        ("ap-east-1", "Claude Sonnet 4.5", "output", "regional", "standard", 1e6),
    ),
    (
        SONNET_MP,
        "USE1-MP:USE1_CacheWrite1hInputTokenCount_Global-Units",
        ("us-east-1", "Claude Sonnet 4.5", "cache_write_1h", "global", "standard", 1e6),
    ),
    (
        SONNET_MP,
        "EUW2-MP:EUW2_CacheReadInputTokenCount-Units",
        ("eu-west-2", "Claude Sonnet 4.5", "cache_read", "regional", "standard", 1e6),
    ),
    (
        SONNET_MP,
        "USE1-MP:USE1_MillionBatchInputTokens-Units",
        ("us-east-1", "Claude Sonnet 4.5", "input", "regional", "batch", 1e6),
    ),
    # Marketplace snake case (newer models)
    (
        SONNET_MP,
        "USE1-MP:USE1_input_tokens_global_standard-Units",
        ("us-east-1", "Claude Sonnet 4.5", "input", "global", "standard", 1e6),
    ),
    (
        SONNET_MP,
        "USW2-MP:USW2_output_tokens_standard-Units",
        ("us-west-2", "Claude Sonnet 4.5", "output", "regional", "standard", 1e6),
    ),
    (
        SONNET_MP,
        "USE1-MP:USE1_cache_write_1h_tokens_global_standard-Units",
        ("us-east-1", "Claude Sonnet 4.5", "cache_write_1h", "global", "standard", 1e6),
    ),
    (
        SONNET_MP,
        "EUC1-MP:EUC1_input_tokens_priority-Units",
        ("eu-central-1", "Claude Sonnet 4.5", "input", "regional", "priority", 1e6),
    ),
]


@pytest.mark.parametrize(("product", "usage_type", "expected"), CASES, ids=[c[1] for c in CASES])
def test_each_grammar_reads_region_model_meter_routing_tier_and_unit(
    product: tuple[str, str], usage_type: str, expected: tuple[object, ...]
) -> None:
    got = usage_types.parse(usage_type, *product)
    assert isinstance(got, BillMeter)
    assert (got.region, got.model, got.meter, got.routing, got.tier, got.unit_multiplier) == (
        expected
    )


@pytest.mark.parametrize(
    ("usage_type", "product"),
    [
        ("USE1-NovaLite-mystery-meter", BEDROCK),  # no meter phrase
        ("USE1-NovaLite-input-tokens-weekend-discount", BEDROCK),  # an unknown suffix word
        ("XXX9-NovaLite-input-tokens", BEDROCK),  # an unknown billing region
        ("NovaLite-input-tokens", BEDROCK),  # no region at all
        ("USE1-MP:USE2_InputTokenCount-Units", SONNET_MP),  # the two region codes disagree
        ("USE1-MP:USE1_SearchUnits-Units", SONNET_MP),  # a Marketplace meter we do not know
        ("USE1-NovaLite-input-tokens", SONNET_MP),  # a Marketplace product without MP:
        ("USE1-BoxUsage:t3.micro", ("Amazon Elastic Compute Cloud", "AmazonEC2")),
    ],
)
def test_a_usage_type_with_an_unknown_part_is_not_guessed(
    usage_type: str, product: tuple[str, str]
) -> None:
    assert usage_types.parse(usage_type, *product) is None


def test_the_region_code_table_in_full() -> None:
    codes = usage_types.grammar()["region_codes"]
    assert len(codes) >= 36
    for code, region in codes.items():
        assert REGION_CODE.match(region), (code, region)
        got = usage_types.parse(f"{code}-NovaLite-input-tokens", *BEDROCK)
        assert got is not None and got.region == region, code
    # the ones people get wrong
    assert codes["APN1"] == "ap-northeast-1"  # Tokyo
    assert codes["APE1"] == "ap-east-1"  # Hong Kong
    assert codes["APS3"] == "ap-south-1"  # Mumbai, not a southeast region
    assert codes["APS4"] == "ap-southeast-3"  # Jakarta
    assert codes["EUW2"] == "eu-west-2" and codes["EU"] == codes["EUW1"] == "eu-west-1"
    assert codes["EUC1"] == "eu-central-1" and codes["CAN1"] == "ca-central-1"
    assert codes["UGW1"] == "us-gov-west-1"


def test_units_are_read_per_line_and_per_product() -> None:
    assert usage_types.unit_multiplier("1K tokens", "marketplace") == 1000
    assert usage_types.unit_multiplier("1M tokens", "bedrock") == 1_000_000
    assert usage_types.unit_multiplier("Units", "marketplace") == 1_000_000  # the default
    assert usage_types.unit_multiplier(None, "bedrock") == 1000
    marketplace_in_thousands = usage_types.parse(
        "USE1-MP:USE1_InputTokenCount-Units", *SONNET_MP, unit="1K tokens"
    )
    assert marketplace_in_thousands is not None
    assert marketplace_in_thousands.unit_multiplier == 1000


def test_bedrock_lines_are_told_from_other_services() -> None:
    assert usage_types.product_of("Amazon Bedrock", None) == "bedrock"
    assert usage_types.product_of(None, "AmazonBedrock") == "bedrock"
    assert usage_types.product_of("Claude 3 Haiku (Amazon Bedrock Edition)", "x1") == "marketplace"
    assert usage_types.product_of("Amazon Simple Storage Service", "AmazonS3") is None


@pytest.mark.parametrize(
    ("bill_name", "model_id"),
    [
        ("Claude4.6Opus", "anthropic.claude-opus-4-6-v1"),
        ("Nova2.0Lite", "amazon.nova-2-lite-v1:0"),
        ("NovaLite", "amazon.nova-lite-v1:0"),
        ("Llama3-2-1B", "meta.llama3-2-1b-instruct-v1:0"),
        ("Claude Sonnet 4.5", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("anthropic.claude-opus-4-8", "anthropic.claude-opus-4-8-v1"),
        ("Claude 3.5 Sonnet v2", "anthropic.claude-3-5-sonnet-20241022-v2:0"),
        ("Claude4Sonnet", "anthropic.claude-sonnet-4-20250514-v1:0"),
        ("Gemma-3-4B-IT", "google.gemma-3-4b-it"),
    ],
)
def test_bill_names_match_logged_model_ids(bill_name: str, model_id: str) -> None:
    others = [
        "amazon.nova-micro-v1:0",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "meta.llama3-2-3b-instruct-v1:0",
        "anthropic.claude-opus-4-5-20251101-v1:0",
    ]
    assert model_match.match_models([bill_name], [model_id, *others]) == {bill_name: model_id}


def test_a_name_matching_no_model_or_two_stays_the_bills_own() -> None:
    models = ["amazon.nova-lite-v1:0", "anthropic.claude-3-haiku-20240307-v1:0"]
    assert model_match.match_models(["Claude4.6Opus"], models) == {}
    twins = ["us.amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0"]  # the same words twice
    assert model_match.match_models(["NovaLite"], twins) == {}
