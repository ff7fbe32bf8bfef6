"""Where rates come from: the layers, highest first, each row with its provenance.

1. user overrides (``prices set``), kept in the store;
2. the AWS Price List API (``prices refresh``), cached in the store;
3. the genai-prices package (offline, maintained upstream);
4. a small bundled file for what genai-prices lacks (Cohere, Titan Text Premier, AI21 Jamba,
   DeepSeek V3, image models, latency-optimized and long-context rates, Nova's free cache writes).

Why we read genai-prices' rate tables instead of calling its ``calc_price``: its ``input_tokens``
*includes* cache tokens, while a Bedrock log's ``inputTokenCount`` excludes them. Using the rates
per meter, applied to our own meters, makes that double count impossible.

A rate row is keyed by the base model id, a routing class — ``regional`` (in-region and geo
profiles share a price), ``global``, or ``any`` — and a performance tier.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from importlib import resources

from bedrock_explorer.pricing.units import Meter, UnitPrice

LAYER_USER = 1
LAYER_PRICE_LIST = 2
LAYER_GENAI_PRICES = 3
LAYER_BUNDLED = 4

LAYER_NAMES = {
    LAYER_USER: "user override",
    LAYER_PRICE_LIST: "AWS Price List API",
    LAYER_GENAI_PRICES: "genai-prices",
    LAYER_BUNDLED: "bundled price file",
}

ROUTING_CLASSES = ("regional", "global", "any")
BEDROCK_PRICING_URL = "https://aws.amazon.com/bedrock/pricing/"
OPEN_START = date(2000, 1, 1)

_GENAI_FIELDS = {
    "input_mtok": Meter.INPUT,
    "output_mtok": Meter.OUTPUT,
    "cache_read_mtok": Meter.CACHE_READ,
    "cache_write_mtok": Meter.CACHE_WRITE,
    "cache_write_1h_mtok": Meter.CACHE_WRITE_1H,
}


@dataclass(frozen=True)
class RateRow:
    """One meter's price for one model, routing class and tier, over a period, with its source."""

    layer: int
    source: str
    source_url: str | None
    as_of: date | None
    model_key: str
    routing_class: str
    tier: str
    meter: Meter
    price: UnitPrice
    min_input_tokens: int = 0  # > 0: a long-context rate for requests above this input size
    effective_from: date = OPEN_START
    effective_to: date | None = None  # exclusive
    note: str | None = None


def split_routing_prefix(model_id: str) -> tuple[str, str]:
    """``global.x`` → (``global``, ``x``); ``regional.x`` → (``regional``, ``x``); else ``any``."""
    for prefix in ("global", "regional"):
        if model_id.startswith(prefix + "."):
            return prefix, model_id[len(prefix) + 1 :]
    return "any", model_id


def genai_prices_rates() -> Iterator[RateRow]:
    """Every AWS Bedrock rate in the installed genai-prices snapshot, as rate rows."""
    from genai_prices import data_snapshot
    from genai_prices import types as gtypes

    version = _package_version("genai-prices")
    snapshot = data_snapshot.get_snapshot()
    provider = data_snapshot.find_provider_by_id(snapshot.providers, "aws")
    if provider is None:
        return
    url = (provider.pricing_urls or [BEDROCK_PRICING_URL])[0]
    source = f"genai-prices {version}"
    for model in provider.models:
        routing_class, key = split_routing_prefix(model.id)
        variants = model.prices if isinstance(model.prices, list) else [model.prices]
        periods: list[tuple[date, object]] = []
        for variant in variants:
            constraint = getattr(variant, "constraint", None)
            prices = getattr(variant, "prices", variant)
            if isinstance(constraint, gtypes.StartDateConstraint):
                periods.append((constraint.start_date, prices))
            elif constraint is None:
                periods.append((OPEN_START, prices))
            # Time-of-day price variants do not apply to Bedrock; ignored on purpose.
        periods.sort(key=lambda p: p[0])
        for i, (start, prices) in enumerate(periods):
            end = periods[i + 1][0] if i + 1 < len(periods) else None
            for field, meter in _GENAI_FIELDS.items():
                value = getattr(prices, field, None)
                if value is None:
                    continue
                tiered = isinstance(value, gtypes.TieredPrices)
                # (threshold, USD per 1M): the base price, then any long-context tiers
                steps = [(0, value.base if tiered else value)]
                steps += [(t.start, t.price) for t in value.tiers] if tiered else []
                for threshold, usd_per_million in steps:
                    yield RateRow(
                        LAYER_GENAI_PRICES,
                        source,
                        url,
                        None,
                        key,
                        routing_class,
                        "standard",
                        meter,
                        UnitPrice.per_million_tokens(usd_per_million),
                        min_input_tokens=threshold,
                        effective_from=start,
                        effective_to=end,
                        note="long-context tier" if threshold else None,
                    )


def bundled_rates() -> Iterator[RateRow]:
    """The rows of ``bundled_prices.json``, shipped with the package."""
    text = resources.files("bedrock_explorer.pricing").joinpath("bundled_prices.json").read_text()
    for entry in json.loads(text)["rates"]:
        for meter_name, value in entry["meters"].items():
            meter = Meter(meter_name)
            yield RateRow(
                LAYER_BUNDLED,
                LAYER_NAMES[LAYER_BUNDLED],
                entry.get("source_url", BEDROCK_PRICING_URL),
                date.fromisoformat(entry["as_of"]),
                entry["model_key"],
                entry["routing_class"],
                entry["tier"],
                meter,
                UnitPrice.for_meter(meter, Decimal(value)),
                min_input_tokens=int(entry.get("min_input_tokens", 0)),
                effective_from=date.fromisoformat(entry.get("effective_from", "2000-01-01")),
                note=entry.get("note"),
            )


def builtin_rates() -> list[RateRow]:
    """Layers 3 and 4: what ships with the program."""
    return [*genai_prices_rates(), *bundled_rates()]


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"
