"""Read a Bedrock usage type from the AWS bill into (region, model, meter, routing, tier).

Why data, not code: AWS adds meters and suffixes as it adds models and tiers, in three grammars
(AmazonBedrock kebab-case, Marketplace CamelCase, Marketplace snake case). Their vocabulary lives
in ``usage_types.json``; this module only walks it: the billing-region prefix, then the longest
known meter phrase, then known suffix words. A usage type with any word the data does not know is
*not* guessed at: :func:`parse` returns ``None`` and the reconciliation shows the line as an
unmatched bill, with its dollars.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

#: What a bill line's meter can be (the logged side has the same names, see reconcile.py).
TOKEN_METERS = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
METERS = (*TOKEN_METERS, "image")

ROUTING_REGIONAL = "regional"
ROUTING_GLOBAL = "global"


@dataclass(frozen=True)
class BillMeter:
    """One usage type, read. ``model`` is the bill's own name for the model (``Claude4.6Opus``,
    ``anthropic.claude-opus-4-8``, or the Marketplace product ``Claude Sonnet 4.5``); matching it
    to a logged base model id is :mod:`bedrock_explorer.bill.model_match`'s job."""

    region: str
    model: str
    meter: str
    routing: str  # regional | global (geo profiles bill as regional: same rate, same meter)
    tier: str  # standard | batch | flex | priority | latency_optimized
    grammar: str
    unit_multiplier: float  # tokens (or images) per billed unit
    long_context: bool = False


@functools.cache
def grammar() -> dict[str, Any]:
    """The usage-type vocabulary (``usage_types.json``)."""
    text = resources.files("bedrock_explorer.bill").joinpath("usage_types.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def region_of_code(code: str) -> str | None:
    """``USE1`` → ``us-east-1``; ``None`` for a code the table does not hold."""
    found: str | None = grammar()["region_codes"].get(code.upper())
    return found


def unit_multiplier(unit: str | None, product: str) -> float:
    """Tokens (or images) per billed unit: from the bill's own unit text when it names one
    (``1K tokens``, ``1M tokens``), else the product's default (Marketplace usage types end in
    ``-Units`` and bill per million tokens, Bedrock's own per thousand)."""
    units: dict[str, float] = grammar()["units"]
    key = (unit or "").strip().lower()
    if key in units:
        return float(units[key])
    default = grammar()["products"][product]["default_unit"].lower()
    return float(units[default])


def product_of(service: str | None, product_code: str | None) -> str | None:
    """``bedrock`` or ``marketplace`` for a Bedrock bill line, ``None`` for any other service."""
    products = grammar()["products"]
    name = (service or "").strip()
    code = (product_code or "").strip()
    if name.endswith(products["marketplace"]["service_suffix"]):
        return "marketplace"
    if code in products["marketplace"]["product_codes"]:
        return "marketplace"
    if name in products["bedrock"]["services"] or code in products["bedrock"]["product_codes"]:
        return "bedrock"
    return None


def marketplace_model(service: str) -> str:
    """``Claude Sonnet 4.5 (Amazon Bedrock Edition)`` → ``Claude Sonnet 4.5``."""
    suffix = grammar()["products"]["marketplace"]["service_suffix"]
    return service[: -len(suffix)].strip() if service.endswith(suffix) else service.strip()


def parse(
    usage_type: str,
    service: str | None = None,
    product_code: str | None = None,
    unit: str | None = None,
) -> BillMeter | None:
    """The meaning of one usage type, or ``None`` when any part of it is unknown."""
    product = product_of(service, product_code)
    if product is None or not usage_type:
        return None
    prefix, sep, body = usage_type.partition("-")
    region = region_of_code(prefix) if sep else None
    if region is None:
        return None
    if body.startswith("MP:"):
        return _parse_marketplace(body, region, service or "", unit)
    if product == "marketplace":  # a Marketplace product always uses an MP: usage type
        return None
    return _parse_kebab(body, region, unit)


def _parse_marketplace(body: str, region: str, service: str, unit: str | None) -> BillMeter | None:
    # MP:USE1_InputTokenCount_Global-Units: the region is repeated after MP:
    match = re.fullmatch(r"MP:([A-Z0-9]+)_(.+?)(-Units)?", body)
    if match is None or region_of_code(match.group(1)) != region or not service:
        return None
    rest = match.group(2)
    for name in ("marketplace_snake", "marketplace_camel"):
        table = grammar()[name]
        found = _meter_then_suffixes(rest, table, "_", name)
        if found is not None:
            attrs, _ = found
            return _meter(attrs, region, marketplace_model(service), name, unit, "marketplace")
    return None


def _parse_kebab(body: str, region: str, unit: str | None) -> BillMeter | None:
    table = grammar()["kebab"]
    phrases = sorted(table["meters"], key=len, reverse=True)
    best: tuple[int, str] | None = None
    for phrase in phrases:  # the leftmost meter phrase, the longest one at that place
        for m in re.finditer(r"-" + re.escape(phrase) + r"(?=-|$)", body):
            if best is None or m.start() < best[0]:
                best = (m.start(), phrase)
            break
    if best is None:
        return None
    at, phrase = best
    model = body[:at]
    attrs: dict[str, Any] = dict(table["meters"][phrase])
    for suffix, extra in table["model_suffixes"].items():
        if model.endswith("-" + suffix):
            model = model[: -len(suffix) - 1]
            attrs.update(extra)
    words = _suffix_words(body[at + 1 + len(phrase) :].lstrip("-"), table["suffixes"], "-")
    if words is None or not model:
        return None
    for extra in words:
        attrs.update(extra)
    return _meter(attrs, region, model, "kebab", unit, "bedrock")


def _meter_then_suffixes(
    text: str, table: dict[str, Any], sep: str, name: str
) -> tuple[dict[str, Any], str] | None:
    for phrase in sorted(table["meters"], key=len, reverse=True):
        if text == phrase or text.startswith(phrase + sep):
            words = _suffix_words(text[len(phrase) :].lstrip(sep), table["suffixes"], sep)
            if words is None:
                continue
            attrs: dict[str, Any] = dict(table["meters"][phrase])
            for extra in words:
                attrs.update(extra)
            return attrs, name
    return None


def _suffix_words(
    text: str, suffixes: dict[str, dict[str, Any]], sep: str
) -> list[dict[str, Any]] | None:
    """The known suffix phrases ``text`` is made of, longest first; ``None`` if any is unknown."""
    found: list[dict[str, Any]] = []
    phrases = sorted(suffixes, key=len, reverse=True)
    while text:
        for phrase in phrases:
            if text == phrase or text.startswith(phrase + sep):
                found.append(suffixes[phrase])
                text = text[len(phrase) :].lstrip(sep)
                break
        else:
            return None
    return found


def _meter(
    attrs: dict[str, Any],
    region: str,
    model: str,
    grammar_name: str,
    unit: str | None,
    product: str,
) -> BillMeter:
    routing = attrs.get("routing", ROUTING_REGIONAL)
    return BillMeter(
        region=region,
        model=model,
        meter=attrs["meter"],
        routing=ROUTING_GLOBAL if routing == ROUTING_GLOBAL else ROUTING_REGIONAL,
        tier=attrs.get("tier", "standard"),
        grammar=grammar_name,
        unit_multiplier=unit_multiplier(attrs.get("unit") or unit, product),
        long_context=bool(attrs.get("long_context", False)),
    )
