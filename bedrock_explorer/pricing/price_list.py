"""Layer 2 of the price book: on-demand rates read from the AWS Price List API (``prices refresh``).

Why it is careful rather than clever: the Price List names a model by a display name — the
``model`` attribute of ``AmazonBedrock`` products ("Nova Lite", "Llama 3.1 8B Instruct") or the
``servicename`` of ``AmazonBedrockFoundationModels`` ("Claude Sonnet 4.5 (Amazon Bedrock
Edition)") — never by its model id, and the usage type encodes meter, routing and tier. A wrong
guess would silently re-price history with another model's rate, so:

* a name is tied to model ids only by the user (``prices map``) or by an exact match of its
  normalised words with a known id's (dates, ``-v1`` and ``:0`` dropped); names that match
  nothing are reported, with the command that maps them;
* a matched rate that differs from the built-in one by more than 2x is held back and reported;
* what cannot be priced per token from the logs is skipped and counted: batch, flex, priority,
  provisioned and customization usage, long-context tiers (their threshold is not in the data),
  and images (the usage type names a size and quality class whose grammar is not read yet; the
  class rates come from the bundled file);
* units come from the price dimension ("1K tokens", "1M tokens"); when it names neither, the
  service code decides — ``AmazonBedrock`` quotes per 1K tokens, ``AmazonBedrockFoundationModels``
  per 1M — and the result still passes :class:`UnitPrice`'s plausibility bound.

Rates are regional: one region's Price List is read at a time (us-east-1 unless told otherwise;
``--all-regions`` reads every source region the logs name) and its rates apply to that source
region. A price that changed since the last
refresh ends the old row at the new row's effective date, so history keeps its price.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import botocore.exceptions

from bedrock_explorer import audit, aws, model_ids
from bedrock_explorer.defaults import PRICE_LIST_REGION
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.pricing import catalog, points
from bedrock_explorer.pricing.catalog import LAYER_PRICE_LIST, RateRow
from bedrock_explorer.pricing.units import Meter, UnitPrice
from bedrock_explorer.records import TIER_LATENCY_OPTIMIZED, TIER_STANDARD
from bedrock_explorer.store import Store

SERVICE_BEDROCK = "AmazonBedrock"
SERVICE_FOUNDATION_MODELS = "AmazonBedrockFoundationModels"
#: How each service quotes tokens when a price dimension's unit does not say.
_DEFAULT_SCALE: dict[str, Callable[[Decimal], UnitPrice]] = {
    SERVICE_BEDROCK: UnitPrice.per_thousand_tokens,
    SERVICE_FOUNDATION_MODELS: UnitPrice.per_million_tokens,
}
#: The Price List API answers in us-east-1 (and ap-south-1) whatever region it describes.
API_REGION = "us-east-1"
DEFAULT_REGION = PRICE_LIST_REGION
NAME_MAP_SETTING = "pricing.price_list_names"
#: A matched rate further than this factor from the built-in one is held back for a human.
_PLAUSIBLE_FACTOR = Decimal(2)

_NOT_ON_DEMAND = {
    "batch",
    "flex",
    "priority",
    "provisioned",
    "reserved",
    "commitment",
    "customization",
    "custom",
    "training",
    "storage",
    "import",
}
_LONG_CONTEXT = {"lctx", "long", "longcontext", "200k"}
_SUFFIXES = re.compile(r"\s*\((amazon bedrock edition|amazon bedrock)\)\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Offer:
    """One on-demand Price List SKU read as a rate, before it is tied to model ids."""

    service_code: str
    name: str
    sku: str
    usagetype: str
    meter: Meter
    routing_class: str
    tier: str
    price: UnitPrice
    effective_from: date


@dataclass
class RefreshReport:
    """What ``prices refresh`` read, stored, skipped and could not place."""

    region: str
    products: int = 0
    offers: int = 0
    stored: int = 0
    unchanged: int = 0
    models: set[str] = field(default_factory=set)
    skipped: Counter[str] = field(default_factory=Counter)
    unmatched: dict[str, int] = field(default_factory=dict)
    held_back: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "region": self.region,
            "products": self.products,
            "offers": self.offers,
            "rates_stored": self.stored,
            "rates_unchanged": self.unchanged,
            "models_priced": sorted(self.models),
            "skipped": dict(self.skipped),
            "unmatched_names": self.unmatched,
            "held_back": self.held_back,
        }


# -- reading products -----------------------------------------------------------------------------
def fetch_products(client: Any, service_code: str, region: str) -> Iterator[dict[str, Any]]:
    """Every product of a service in one region (``PriceList`` items are JSON strings)."""
    paginator = client.get_paginator("get_products")
    pages = paginator.paginate(
        ServiceCode=service_code,
        Filters=[{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}],
        FormatVersion="aws_v1",
    )
    for page in pages:
        for item in page.get("PriceList", []):
            yield json.loads(item) if isinstance(item, str) else item


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def parse_offer(service_code: str, item: dict[str, Any]) -> Offer | str:
    """The product as an :class:`Offer`, or the reason it is not one (counted, never silent)."""
    product = item.get("product") or {}
    attrs = product.get("attributes") or {}
    if service_code == SERVICE_BEDROCK:
        name = attrs.get("model") or attrs.get("titanModel")
    else:
        name = attrs.get("servicename")
    if not name:
        return "no model name"
    usagetype = attrs.get("usagetype", "")
    text = " ".join(
        attrs.get(key, "") for key in ("usagetype", "inferenceType", "feature", "group")
    )
    words = set(_words(text.replace("_", " ")))
    if words & _NOT_ON_DEMAND or attrs.get("service_tier") not in (None, "", "standard"):
        return "not on-demand (batch, flex, priority, provisioned, customization)"
    if words & _LONG_CONTEXT:
        return "long-context tier (its threshold is not in the Price List)"
    if "image" in words and not words & {"token", "tokens", "tokencount"}:
        return "image (price depends on size and quality, not in the logs)"
    meter = _meter(words, text.lower())
    if meter is None:
        return "not a token meter"
    dimension = _single_dimension(item)
    if dimension is None:
        return "no single on-demand price"
    term_date, unit, usd = dimension
    if usd == 0 and meter in (Meter.INPUT, Meter.OUTPUT):
        return "zero price for input or output (not trusted)"
    try:
        price = _unit_price(service_code, unit, usd)
    except UserFacingError:
        return "implausible price for its unit"
    tier = TIER_LATENCY_OPTIMIZED if "latency" in words else TIER_STANDARD
    routing_class = "global" if "global" in words else "regional"
    return Offer(
        service_code,
        _SUFFIXES.sub(" ", name).strip(),
        str(product.get("sku", "")),
        usagetype,
        meter,
        routing_class,
        tier,
        price,
        term_date,
    )


def _meter(words: set[str], text: str) -> Meter | None:
    cache = "cache" in words or "cacheread" in text or "cachewrite" in text
    if cache and ("read" in words or "cacheread" in text):
        return Meter.CACHE_READ
    if cache and ("write" in words or "cachewrite" in text):
        hour = words & {"1h", "1hr", "60m", "1hour"} or "1h" in text
        return Meter.CACHE_WRITE_1H if hour else Meter.CACHE_WRITE
    if "input" in words or "inputtokencount" in text:
        return Meter.INPUT
    if "output" in words or "outputtokencount" in text:
        return Meter.OUTPUT
    return None


def _single_dimension(item: dict[str, Any]) -> tuple[date, str, Decimal] | None:
    """(effective date, unit, USD) of the one on-demand price; None if absent or tiered."""
    terms = (item.get("terms") or {}).get("OnDemand") or {}
    found = []
    for term in terms.values():
        for dim in (term.get("priceDimensions") or {}).values():
            usd = (dim.get("pricePerUnit") or {}).get("USD")
            if usd is None:
                continue
            try:
                value = Decimal(usd)
                effective = date.fromisoformat(str(term.get("effectiveDate", ""))[:10])
            except (InvalidOperation, ValueError):
                continue
            found.append((effective, f"{dim.get('unit', '')} {dim.get('description', '')}", value))
    return found[0] if len(found) == 1 else None


def _unit_price(service_code: str, unit_text: str, usd: Decimal) -> UnitPrice:
    unit = unit_text.lower().replace(",", "")
    if re.search(r"\b1m\b|million|1000000", unit):
        return UnitPrice.per_million_tokens(usd)
    if re.search(r"\b1k\b|thousand|\b1000\b", unit):
        return UnitPrice.per_thousand_tokens(usd)
    return _DEFAULT_SCALE[service_code](usd)


# -- names to model ids ---------------------------------------------------------------------------
def _normal(text: str) -> tuple[str, ...]:
    text = re.sub(r"(\d+)\.0\b", r"\1", text.lower()).replace("+", " plus ")
    return tuple(re.findall(r"[a-z]+|\d+", text))


def name_forms(name: str) -> tuple[str, ...]:
    """A Price List name's words, without the marketplace suffix or parentheses."""
    return _normal(re.sub(r"\(.*?\)", " ", _SUFFIXES.sub(" ", name)))


def key_forms(model_key: str) -> list[tuple[str, ...]]:
    """The word sequences a model id may be named by: with and without its provider."""
    provider, _, rest = model_key.lower().partition(".")
    if not rest:
        return []
    rest = re.sub(r"(:[0-9a-z]+)+$", "", rest)  # ":0", ":200k"
    rest = re.sub(r"-?\d{8}", "", rest)  # release dates
    rest = re.sub(r"-v1$", "", rest)  # the default version
    words = _normal(rest)
    return [words, _normal(provider) + words]


def match_names(
    names: Iterable[str], model_keys: Iterable[str], user_map: dict[str, str]
) -> tuple[dict[str, set[str]], set[str]]:
    """(name → model ids, names matched automatically). The user's map wins over matching."""
    index: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for key in model_keys:
        for form in key_forms(key):
            index[form].add(key)
    matched: dict[str, set[str]] = {}
    automatic: set[str] = set()
    for name in names:
        if name in user_map:
            matched[name] = {user_map[name]}
        elif index.get(name_forms(name)):
            matched[name] = set(index[name_forms(name)])
            automatic.add(name)
    return matched, automatic


def name_map(store: Store) -> dict[str, str]:
    text = store.get_setting(NAME_MAP_SETTING)
    return json.loads(text) if text else {}


def map_name(store: Store, name: str, model_key: str | None) -> None:
    """Tie a Price List name to a model id (``None`` removes the tie); used by the next refresh."""
    if model_key is not None and model_ids.resolve(model_key).base_model != model_key:
        raise UserFacingError(
            f"{model_key!r} is not a base model id",
            "give one such as anthropic.claude-sonnet-4-5-20250929-v1:0 (no geo prefix, no ARN)",
        )
    names = name_map(store)
    if model_key is None:
        names.pop(name, None)
    else:
        names[name] = model_key
    store.set_setting(NAME_MAP_SETTING, json.dumps(names, sort_keys=True))


def refresh_from_aws(
    store: Store, region: str = DEFAULT_REGION, profile: str | None = None
) -> RefreshReport:
    """:func:`refresh` with a Price List client from the default chain (or a named profile)."""
    return refresh_regions_from_aws(store, [region], profile)[0]


def regions_in_data(store: Store) -> list[str]:
    """Every source region the stored invocations (and coverage metrics) name, with the
    region the built-in prices describe: what ``prices refresh --all-regions`` reads."""
    rows = store.con.execute(
        "SELECT DISTINCT region FROM invocations WHERE coalesce(region, '') <> '' "
        "UNION SELECT DISTINCT region FROM measured_usage"
    ).fetchall()
    return sorted({DEFAULT_REGION, *(r[0] for r in rows)})


def refresh_regions_from_aws(
    store: Store, regions: list[str], profile: str | None = None
) -> list[RefreshReport]:
    """:func:`refresh` for each of ``regions`` (one Price List client; the price points are
    compiled once, after the last region)."""
    from bedrock_explorer.pricing import book

    client = aws.client(aws.session(profile), "pricing", API_REGION)
    reports = []
    try:
        for region in regions:
            reports.append(refresh(store, client, region, compile_points=False))
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
        raise aws.explain(err, "reading the AWS Price List", "pricing:GetProducts") from err
    finally:
        if any(r.stored for r in reports):
            book.compile_price_points(store)
    return reports


# -- storing --------------------------------------------------------------------------------------
def refresh(
    store: Store, client: Any, region: str = DEFAULT_REGION, *, compile_points: bool = True
) -> RefreshReport:
    """Read both services' on-demand prices for ``region`` and store them as layer 2
    (``compile_points``: re-price at once; a caller refreshing several regions does it once)."""
    from bedrock_explorer.pricing import book

    store.authorize(audit.PRICES_REFRESHED)  # before the first request to AWS

    report = RefreshReport(region)
    offers: list[Offer] = []
    for service_code in (SERVICE_BEDROCK, SERVICE_FOUNDATION_MODELS):
        for item in fetch_products(client, service_code, region):
            report.products += 1
            parsed = parse_offer(service_code, item)
            if isinstance(parsed, str):
                report.skipped[parsed] += 1
            else:
                offers.append(parsed)
    report.offers = len(offers)
    builtin = [r for r in book.load_rates(store) if r.layer > LAYER_PRICE_LIST]
    known_keys = {r.model_key for r in builtin} | {
        key
        for (key,) in store.con.execute(
            "SELECT DISTINCT base_model FROM model_ids WHERE base_model IS NOT NULL"
        ).fetchall()
    }
    by_name: dict[str, list[Offer]] = defaultdict(list)
    for offer in offers:
        by_name[offer.name].append(offer)
    matched, automatic = match_names(by_name, known_keys, name_map(store))
    report.unmatched = {n: len(o) for n, o in sorted(by_name.items()) if n not in matched}
    rows = _rows_for(by_name, matched, automatic, builtin, region, report)
    report.stored, report.unchanged = _store_rows(store, rows)
    if report.stored and compile_points:
        book.compile_price_points(store)
    store.audit(
        audit.PRICES_REFRESHED,
        f"AWS Price List ({region})",
        f"{report.stored:,} rates stored, {report.unchanged:,} unchanged",
    )
    return report


def _rows_for(
    by_name: dict[str, list[Offer]],
    matched: dict[str, set[str]],
    automatic: set[str],
    builtin: list[RateRow],
    region: str,
    report: RefreshReport,
) -> list[RateRow]:
    today = date.today()
    # What the built-ins say for this region (its own rate, its geography's, or the default),
    # the most specific last so it wins.
    scopes = [catalog.ANY_REGION, *reversed(catalog.geographies(region)), region]
    current = {
        (r.model_key, r.routing_class, r.tier, r.meter): r.price.usd_per_unit
        for r in sorted(builtin, key=lambda r: scopes.index(r.region) if r.region in scopes else -1)
        if r.min_input_tokens == 0 and r.effective_to is None and r.region in scopes
    }
    chosen: dict[tuple[str, str, str, Meter], tuple[Offer, str]] = {}
    for name, keys in matched.items():
        for offer in by_name[name]:
            for key in sorted(keys):
                slot = (key, offer.routing_class, offer.tier, offer.meter)
                # Two SKUs for one meter (an old and a new usage type): the later price holds.
                if slot not in chosen or chosen[slot][0].effective_from < offer.effective_from:
                    chosen[slot] = (offer, name)
    rows = []
    for (key, routing_class, tier, meter), (offer, name) in sorted(chosen.items()):
        known = next(
            (
                current[(key, cls, tier, meter)]
                for cls in (routing_class, "any", "regional")
                if (key, cls, tier, meter) in current
            ),
            None,
        )
        if name in automatic and known and not _close(offer.price.usd_per_unit, known):
            report.held_back.append(
                f"{name} → {key} {meter} ({routing_class}, {tier}): "
                f"{offer.price.display} vs built-in {UnitPrice(known, offer.price.unit).display}"
                " per 1M — check it, then `prices map` the name or `prices set` the price"
            )
            continue
        report.models.add(key)
        rows.append(
            RateRow(
                LAYER_PRICE_LIST,
                f"{catalog.LAYER_NAMES[LAYER_PRICE_LIST]} ({offer.service_code}, {region})",
                f"https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/{offer.service_code}"
                f"/current/{region}/index.json",
                today,
                key,
                routing_class,
                tier,
                meter,
                offer.price,
                effective_from=offer.effective_from,
                note=f"{name}: SKU {offer.sku}, usage type {offer.usagetype}",
                region=region,  # the Price List describes one region at a time
            )
        )
    return rows


def _close(a: Decimal, b: Decimal) -> bool:
    if a == b:
        return True
    if a == 0 or b == 0:
        return False
    return b / _PLAUSIBLE_FACTOR <= a <= b * _PLAUSIBLE_FACTOR


def _store_rows(store: Store, rows: list[RateRow]) -> tuple[int, int]:
    """Insert new or changed rates; a changed one ends the old row where the new one starts."""
    stored = unchanged = 0
    with store.transaction():
        for row in rows:
            open_rows = store.con.execute(
                "SELECT usd_per_unit FROM rates WHERE layer = ? AND model_key = ? "
                "AND routing_class = ? AND tier = ? AND meter = ? AND region = ? "
                "AND effective_to IS NULL",
                [
                    LAYER_PRICE_LIST,
                    row.model_key,
                    row.routing_class,
                    row.tier,
                    str(row.meter),
                    row.region,
                ],
            ).fetchall()
            if any(price == row.price.usd_per_unit for (price,) in open_rows):
                unchanged += 1
                continue
            points.supersede(store.con, row)
            stored += points.insert_rates(store.con, [row])
    return stored, unchanged
