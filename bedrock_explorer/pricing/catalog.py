"""Where rates come from: the layers, highest first, each row with its provenance.

1. user overrides (``prices set``), kept in the store;
2. the AWS Price List API (``prices refresh``), cached in the store;
3. the genai-prices package (offline, maintained upstream; US list prices);
4. litellm's model price map, bundled as ``litellm_prices.json`` by
   ``scripts/bundle_litellm_prices.py`` (regional, geographic and global rates, flex and priority
   tiers, long context, images; most Bedrock models);
5. a small hand-kept file for what neither carries (latency-optimized rates, Nova's free cache
   writes, a few older ids).

Why we read genai-prices' rate tables instead of calling its ``calc_price``: its ``input_tokens``
*includes* cache tokens, while a Bedrock log's ``inputTokenCount`` excludes them. Using the rates
per meter, applied to our own meters, makes that double count impossible.

A rate row is keyed by the base model id, a routing class — ``regional`` (in-region and geo
profiles share a price), ``global``, or ``any`` —, a region scope and a service tier. The region
scope is an AWS region (``eu-west-1``), a geography of cross-region profiles (``eu``, ``apac``,
``jp``, ``us-gov`` …) or ``*``: the published default, which is the US list price (see
:func:`region_scopes` for the order in which they are tried).

Every built-in row carries ``as_of``, the date of its data source (the package's data date or
release date): when an upgrade changes a rate, the new one applies from that date and history
before it keeps the old one (see ``points.refresh_builtin_rates``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from importlib import resources

from bedrock_explorer import model_ids
from bedrock_explorer.pricing.units import Meter, UnitPrice

LAYER_USER = 1
LAYER_PRICE_LIST = 2
LAYER_GENAI_PRICES = 3
LAYER_LITELLM = 4
LAYER_BUNDLED = 5
BUILTIN_LAYERS = (LAYER_GENAI_PRICES, LAYER_LITELLM, LAYER_BUNDLED)

LAYER_NAMES = {
    LAYER_USER: "user override",
    LAYER_PRICE_LIST: "AWS Price List API",
    LAYER_GENAI_PRICES: "genai-prices",
    LAYER_LITELLM: "litellm price map",
    LAYER_BUNDLED: "bundled price file",
}

#: The region scope of a rate that applies anywhere no more specific one is known.
ANY_REGION = "*"
#: Regions whose price the default (``*``) rate is: the published list prices are US prices.
US_LIST_PRICE_REGIONS = frozenset({"us-east-1", "us-east-2", "us-west-1", "us-west-2"})
#: Regions of the finer geographies some cross-region profiles have (``jp.``, ``au.``, ``in.``).
_SUB_GEOGRAPHIES = {
    "ap-northeast-1": "jp",
    "ap-northeast-3": "jp",
    "ap-southeast-2": "au",
    "ap-southeast-4": "au",
    "ap-south-1": "in",
    "ap-south-2": "in",
}


def geographies(region: str) -> list[str]:
    """The geographies of cross-region profiles a region belongs to, finest first."""
    if region.startswith("us-gov-"):
        return ["us-gov"]
    prefix = region.split("-", 1)[0]
    if prefix == "ap":
        fine = _SUB_GEOGRAPHIES.get(region)
        return [fine, "apac"] if fine else ["apac"]
    return [prefix]


#: An AWS region code (``eu-west-1``, ``us-gov-west-1``).
REGION_CODE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
#: Region scopes besides regions: the geo prefixes of cross-region profiles, and the region
#: prefixes :func:`geographies` yields for regions without one (``sa``, ``me`` …).
_GEOGRAPHIES = frozenset(model_ids.GEO_PREFIXES) | {"sa", "me", "il", "af", "mx"}


def is_region_scope(text: str) -> bool:
    """An AWS region code or a geography of cross-region profiles (``eu``, ``apac`` …)."""
    return bool(REGION_CODE.match(text)) or text in _GEOGRAPHIES


def region_scopes(region: str | None, geo: str | None = None) -> list[tuple[str, int]]:
    """Region scopes to try for a request from ``region`` (``geo``: its model id's geo prefix),
    as (scope, rank): 0 the exact region, 1 its geography or the US list price for a US region,
    2 the default rate used for want of a regional one (flagged)."""
    scopes: list[tuple[str, int]] = []
    if region:
        scopes.append((region, 0))
        scopes += [(g, 1) for g in geographies(region)]
    elif geo and geo not in ("global", "geo"):
        scopes.append((geo, 1))
    default_rank = 1 if (region in US_LIST_PRICE_REGIONS or (not region and geo == "us")) else 2
    scopes.append((ANY_REGION, default_rank))
    return scopes


ROUTING_CLASSES = ("regional", "global", "any")
BEDROCK_PRICING_URL = "https://aws.amazon.com/bedrock/pricing/"
OPEN_START = date(2000, 1, 1)

#: The image models AWS bills by size class, and the largest image (width x height, pixels) of
#: their base class; a larger one bills at the ``image_large`` / ``image_premium_large`` rates
#: (AWS Bedrock pricing page: Nova Canvas "up to 1024 x 1024" and "up to 2048 x 2048"; Titan
#: Image Generator "512 x 512" and "larger than 512 x 512").
IMAGE_BASE_PIXELS: dict[str, int] = {
    "amazon.nova-canvas-v1:0": 1024 * 1024,
    "amazon.titan-image-generator-v1": 512 * 512,
    "amazon.titan-image-generator-v2:0": 512 * 512,
}
#: The image size priced when a request names none: 1024 x 1024, the default of both APIs (an
#: edit task's output takes its input image's size, which the log does not carry).
DEFAULT_IMAGE_PIXELS = 1024 * 1024

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
    region: str = ANY_REGION

    def key(self) -> tuple[object, ...]:
        """What one rate prices: a later rate with the same key replaces this one."""
        return (
            self.layer,
            self.model_key,
            self.routing_class,
            self.region,
            self.tier,
            self.meter,
            self.min_input_tokens,
        )


def split_routing_prefix(model_id: str) -> tuple[str, str]:
    """``global.x`` → (``global``, ``x``); ``regional.x`` → (``regional``, ``x``); else ``any``."""
    for prefix in ("global", "regional"):
        if model_id.startswith(prefix + "."):
            return prefix, model_id[len(prefix) + 1 :]
    return "any", model_id


@functools.cache
def display_name(model_id: str) -> str | None:
    """The name people use for a base model id ("Claude Sonnet 4.5", "Nova Lite"), from the
    genai-prices dataset (maintained upstream, not typed here): its AWS entry when that is
    named, else the model maker's own entry (``anthropic.claude-sonnet-4-5-20250929-v1:0`` is
    Anthropic's ``claude-sonnet-4-5-20250929``). ``None`` when neither names it."""
    import contextlib
    import re

    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    _routing, key = split_routing_prefix(model_id)
    aws = data_snapshot.find_provider_by_id(snapshot.providers, "aws")
    for model in aws.models if aws is not None else []:
        if split_routing_prefix(model.id)[1] == key and model.name:
            return str(model.name)
    maker, _, rest = key.partition(".")
    ref = re.sub(r"-v\d+(:\d+)?$", "", rest)
    if not ref:
        return None
    with contextlib.suppress(LookupError):
        _provider, found = snapshot.find_provider_model(ref, None, maker, None)
        return str(found.name) if found.name else None
    return None


#: Words of a model's name that name a variant, not a family.
_VARIANT_WORDS = frozenset({"instruct", "chat", "preview", "latest"})


@functools.lru_cache(maxsize=4096)
def family_name(model: str) -> str:
    """The model family a model rolls up to: its name without versions and sizes ("Claude
    Sonnet 4.5" and "Claude 3.7 Sonnet" → "Claude Sonnet", "Nova 2 Lite" → "Nova Lite",
    "Llama 3.3 70B Instruct" → "Llama"), so an analyst sees what a product line costs across
    its generations. Without a known name, the same rule on the id's own words
    (``amazon.nova-canvas-v1:0`` → "Nova Canvas"), else the maker; an id that is not a model
    name at all (an unresolved profile ARN) is its own family."""
    import re

    name = display_name(model)
    if name:
        words = [
            w for w in name.split()
            if not any(c.isdigit() for c in w) and not w.startswith("(")
            and w.lower() not in _VARIANT_WORDS
        ]  # fmt: skip
        if words:
            return " ".join(words)
    _routing, key = split_routing_prefix(model)
    maker, _, rest = key.partition(".")
    if not rest or ":" in maker or "/" in key:
        return model
    rest = re.sub(r"-v\d+(:\d+)?$", "", rest)
    words = []
    for word in re.split(r"[-_.]", rest):
        word = re.sub(r"\d+$", "", word)  # qwen3 → qwen, sd3 → sd; 70b, a22b, 2507 are dropped
        if len(word) > 1 and not any(c.isdigit() for c in word) and word not in _VARIANT_WORDS:
            words.append(word.upper() if len(word) <= 3 else word.capitalize())
    return " ".join(words) if words else maker.capitalize()


def genai_prices_rates() -> Iterator[RateRow]:
    """Every AWS Bedrock rate in the installed genai-prices snapshot, as rate rows."""
    from genai_prices import data_snapshot
    from genai_prices import types as gtypes

    version = package_version("genai-prices")
    snapshot = data_snapshot.get_snapshot()
    # genai-prices carries no date of its data: its rates take the day they were first loaded
    # into a store as their as_of (see ``points.refresh_builtin_rates``).
    as_of = None
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
                        as_of,
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


def _file_rates(name: str, layer: int) -> Iterator[RateRow]:
    """The rows of a price file shipped with the package (``name`` in this folder)."""
    text = resources.files("bedrock_explorer.pricing").joinpath(name).read_text()
    data = json.loads(text)
    source = data.get("source", LAYER_NAMES[layer])
    for entry in data["rates"]:
        as_of = entry.get("as_of", data.get("as_of"))
        for meter_name, value in entry["meters"].items():
            meter = Meter(meter_name)
            yield RateRow(
                layer,
                source,
                entry.get("source_url", data.get("source_url", BEDROCK_PRICING_URL)),
                date.fromisoformat(as_of) if as_of else None,
                entry["model_key"],
                entry["routing_class"],
                entry["tier"],
                meter,
                UnitPrice.for_meter(meter, Decimal(value)),
                min_input_tokens=int(entry.get("min_input_tokens", 0)),
                effective_from=date.fromisoformat(entry.get("effective_from", "2000-01-01")),
                note=entry.get("note")
                or ("long-context tier" if entry.get("min_input_tokens") else None),
                region=entry.get("region", ANY_REGION),
            )


def litellm_rates() -> Iterator[RateRow]:
    """Layer 4: ``litellm_prices.json``, generated from litellm's price map."""
    return _file_rates("litellm_prices.json", LAYER_LITELLM)


def bundled_rates() -> Iterator[RateRow]:
    """Layer 5: the rows of ``bundled_prices.json``, kept by hand for what no dataset carries."""
    return _file_rates("bundled_prices.json", LAYER_BUNDLED)


def builtin_rates() -> list[RateRow]:
    """Layers 3 to 5: what ships with the program."""
    return [*genai_prices_rates(), *litellm_rates(), *bundled_rates()]


def package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"
