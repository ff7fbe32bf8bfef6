"""The price book: layered rates in the store, compiled into ``price_points`` for SQL cost.

Why compile: cost is computed in SQL at query time (a price correction re-prices history at once),
and a join of millions of invocations must be cheap. So the layers are resolved *here*, once, for
each raw model id seen, performance tier and period in which the chosen rates hold, into one small
row with a column per meter. Queries join that row by ``model_id`` and time.

Resolution for one model id:
* provisioned throughput ARNs → ``provisioned`` (billed per hour, not per token: not $0, not
  unpriced);
* no base model (an application inference profile not resolved yet, a custom model, a prompt
  router) → ``unpriced`` with the reason;
* otherwise, per meter, the rate from the highest layer; within a layer the most specific routing
  class (``global`` or ``regional`` before ``any``; a global request falls back to the regional
  price only when no global one is known, and says so). Anthropic 1-hour cache writes missing
  from every layer are derived as 2x input, the published rule. A meter with usage but no rate
  makes that usage *unpriced*, never $0.
"""

from __future__ import annotations

import functools
import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import pyarrow as pa

from bedrock_explorer import model_ids
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.pricing import catalog
from bedrock_explorer.pricing.catalog import LAYER_USER, RateRow
from bedrock_explorer.pricing.units import Meter, UnitPrice
from bedrock_explorer.records import TIER_LATENCY_OPTIMIZED, TIER_STANDARD
from bedrock_explorer.store import Store
from bedrock_explorer.store.transaction import transaction

STATUS_PRICED = "priced"
STATUS_UNPRICED = "unpriced"
STATUS_PROVISIONED = "provisioned"
TIERS = (TIER_STANDARD, TIER_LATENCY_OPTIMIZED)
_BUILTIN_VERSION_SETTING = "pricing.builtin_version"
_FAR_FUTURE = datetime(2999, 1, 1)
_FAR_PAST = datetime(2000, 1, 1)


# -- rates in the store ---------------------------------------------------------------------------
def insert_rates(store: Store, rows: Iterable[RateRow]) -> int:
    # One Arrow table in one statement: executemany costs ~1 ms per row, and the built-in
    # catalogue is ~1,000 rows written into every new database.
    rows = list(rows)
    if not rows:
        return 0
    table = pa.table(
        {
            "layer": pa.array([r.layer for r in rows], pa.int32()),
            "source": [r.source for r in rows],
            "source_url": pa.array([r.source_url for r in rows], pa.string()),
            "as_of": pa.array([r.as_of for r in rows], pa.date32()),
            "model_key": [r.model_key for r in rows],
            "routing_class": [r.routing_class for r in rows],
            "tier": [r.tier for r in rows],
            "meter": [str(r.meter) for r in rows],
            "usd_per_unit": pa.array([r.price.usd_per_unit for r in rows], pa.decimal128(24, 15)),
            "unit": [r.price.unit for r in rows],
            "min_input_tokens": pa.array([r.min_input_tokens for r in rows], pa.int64()),
            "effective_from": pa.array([r.effective_from for r in rows], pa.date32()),
            "effective_to": pa.array([r.effective_to for r in rows], pa.date32()),
            "note": pa.array([r.note for r in rows], pa.string()),
        }
    )
    store.con.register("new_rates", table)
    try:
        store.con.execute(
            "INSERT INTO rates SELECT *, current_timestamp AT TIME ZONE 'UTC' FROM new_rates"
        )
    finally:
        store.con.unregister("new_rates")
    return len(rows)


@functools.cache
def _builtin_version() -> str:
    """A fingerprint of layers 3 and 4 (they change only with a package upgrade)."""
    digest = hashlib.sha256()
    for row in catalog.builtin_rates():
        digest.update(repr(row).encode())
    return digest.hexdigest()[:16]


def refresh_builtin_rates(store: Store, *, force: bool = False) -> bool:
    """Load layers 3 and 4 into the store when they changed (a package upgrade).

    Returns True if they were (re)loaded.
    """
    version = _builtin_version()
    if not force and store.get_setting(_BUILTIN_VERSION_SETTING) == version:
        return False
    with transaction(store.con):
        store.con.execute(
            "DELETE FROM rates WHERE layer IN (?, ?)",
            [catalog.LAYER_GENAI_PRICES, catalog.LAYER_BUNDLED],
        )
        insert_rates(store, catalog.builtin_rates())
        store.set_setting(_BUILTIN_VERSION_SETTING, version)
    return True


def set_override(
    store: Store,
    model_key: str,
    prices: dict[Meter, Decimal],
    *,
    effective_from: date,
    routing_class: str = "any",
    tier: str = TIER_STANDARD,
    note: str | None = None,
) -> None:
    """A user's own price (negotiated discount, a correction), from a date on; history before keeps
    its price. Token meters are per 1M tokens, images per image. Recompiles at once."""
    if routing_class not in catalog.ROUTING_CLASSES:
        raise UserFacingError(
            f"Unknown routing class {routing_class!r}",
            f"use one of {', '.join(catalog.ROUTING_CLASSES)}",
        )
    if tier not in TIERS:
        raise UserFacingError(f"Unknown tier {tier!r}", f"use one of {', '.join(TIERS)}")
    if not prices:
        raise UserFacingError("No price given", "give at least one of --input, --output, …")
    rows = [
        RateRow(
            LAYER_USER,
            catalog.LAYER_NAMES[LAYER_USER],
            None,
            date.today(),
            model_key,
            routing_class,
            tier,
            meter,
            UnitPrice.for_meter(meter, value),
            effective_from=effective_from,
            note=note,
        )
        for meter, value in prices.items()
    ]
    with transaction(store.con):
        # A later override for the same meter ends the earlier one where it starts.
        for row in rows:
            store.con.execute(
                "UPDATE rates SET effective_to = ? WHERE layer = ? AND model_key = ? "
                "AND routing_class = ? AND tier = ? AND meter = ? AND effective_from < ? "
                "AND (effective_to IS NULL OR effective_to > ?)",
                [
                    effective_from,
                    LAYER_USER,
                    model_key,
                    routing_class,
                    tier,
                    str(row.meter),
                    effective_from,
                    effective_from,
                ],
            )
            store.con.execute(
                "DELETE FROM rates WHERE layer = ? AND model_key = ? AND routing_class = ? "
                "AND tier = ? AND meter = ? AND effective_from = ?",
                [LAYER_USER, model_key, routing_class, tier, str(row.meter), effective_from],
            )
        insert_rates(store, rows)
    compile_price_points(store)


def load_rates(store: Store) -> list[RateRow]:
    rows = store.con.execute(
        "SELECT layer, source, source_url, as_of, model_key, routing_class, tier, meter, "
        "usd_per_unit, unit, min_input_tokens, effective_from, effective_to, note FROM rates"
    ).fetchall()
    return [
        RateRow(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            Meter(r[7]),
            UnitPrice(r[8], r[9]),
            r[10],
            r[11],
            r[12],
            r[13],
        )
        for r in rows
    ]


def resolve_model_id(
    store: Store, model_id: str, base_model: str, routing: str | None = None
) -> None:
    """Say by hand which model an application inference profile (or custom model) runs.

    Stored on the ``model_ids`` row as ``resolved_by = 'user'``; history is re-priced at once.
    ``routing`` is what the profile routes to: ``in_region``, ``geo`` or ``global`` (default:
    ``geo`` for an id with a geo prefix, ``global`` for ``global.``, else ``in_region``).
    """
    found = store.con.execute(
        "SELECT routing FROM model_ids WHERE model_id = ?", [model_id]
    ).fetchall()
    if not found:
        raise UserFacingError(
            f"No invocations with model id {model_id!r} have been seen",
            "copy the id from `python -m bedrock_explorer prices unpriced`",
        )
    target = model_ids.resolve(base_model)
    if target.base_model is None:
        raise UserFacingError(
            f"{base_model!r} is not a model id",
            "give a base model id such as anthropic.claude-sonnet-4-5-20250929-v1:0",
        )
    chosen = routing or (
        target.routing
        if target.routing in (model_ids.ROUTING_GEO, model_ids.ROUTING_GLOBAL)
        else model_ids.ROUTING_IN_REGION
    )
    if chosen not in (model_ids.ROUTING_IN_REGION, model_ids.ROUTING_GEO, model_ids.ROUTING_GLOBAL):
        raise UserFacingError(f"Unknown routing {chosen!r}", "use in_region, geo or global")
    # An application profile keeps its routing (that is what the user called); what it routes to
    # is kept in ``geo``: "global" prices as global, anything else as regional.
    geo = {model_ids.ROUTING_GLOBAL: "global", model_ids.ROUTING_GEO: target.geo or "geo"}.get(
        chosen
    )
    store.con.execute(
        "UPDATE model_ids SET base_model = ?, provider = ?, service_type = ?, geo = ?, "
        "resolved_by = 'user', updated_at = current_timestamp AT TIME ZONE 'UTC' "
        "WHERE model_id = ?",
        [target.base_model, target.provider, target.service_type, geo, model_id],
    )
    compile_price_points(store)


# -- compiling ------------------------------------------------------------------------------------
@dataclass
class PricePoint:
    """One row of ``price_points``: the rates in force for a model id and tier over a period."""

    model_id: str
    tier: str
    valid_from: datetime
    valid_to: datetime
    status: str
    pricing_key: str | None = None
    routing_class: str | None = None
    source: str | None = None
    reason: str | None = None
    rates: dict[Meter, float] | None = None
    long_context_threshold: int | None = None
    long_context_rates: dict[Meter, float] | None = None

    def row(self) -> list[object]:
        base = self.rates or {}
        lc = self.long_context_rates or {}
        return [
            self.model_id,
            self.tier,
            self.valid_from,
            self.valid_to,
            self.status,
            self.pricing_key,
            self.routing_class,
            self.source,
            self.reason,
            *(base.get(m) for m in Meter),
            self.long_context_threshold,
            *(lc.get(m) for m in Meter),
        ]


def _genai_alias(base_model: str, routing_class: str) -> tuple[str, str] | None:
    """genai-prices' own name for a model (it matches dated ids, context suffixes, geo prefixes)."""
    from genai_prices import data_snapshot

    ref = ("global." if routing_class == "global" else "") + base_model
    try:
        _, model = data_snapshot.get_snapshot().find_provider_model(ref, None, "aws", None)
    except LookupError:
        return None
    alias_class, alias_key = catalog.split_routing_prefix(model.id)
    return alias_key, alias_class


def _preference(row: RateRow, routing_class: str) -> tuple[bool, int, int]:
    """Sort key (lower wins): a regional price for a global request only when no layer knows a
    global one; otherwise layer first, then how specific the routing class is."""
    if row.routing_class == routing_class:
        specific = 0
    elif row.routing_class == "any":
        specific = 1
    else:  # a regional price used for a global request
        specific = 2
    return specific == 2, row.layer, specific


def _candidates(
    rates_by_key: dict[str, list[RateRow]], ref: model_ids.ModelRef, tier: str
) -> tuple[list[RateRow], str]:
    global_routing = ref.routing == model_ids.ROUTING_GLOBAL or ref.geo == "global"
    routing_class = "global" if global_routing else "regional"
    assert ref.base_model is not None
    keys = {ref.base_model}
    alias = _genai_alias(ref.base_model, routing_class)
    if alias:
        keys.add(alias[0])
    allowed = {routing_class, "any"} | ({"regional"} if routing_class == "global" else set())
    rows = [
        r
        for key in keys
        for r in rates_by_key.get(key, [])
        if r.tier == tier and r.routing_class in allowed
    ]
    return rows, routing_class


def _pick(
    rows: list[RateRow], routing_class: str, start: date, long_context: bool
) -> dict[Meter, RateRow]:
    chosen: dict[Meter, RateRow] = {}
    for row in sorted(rows, key=lambda r: _preference(r, routing_class)):
        if (row.min_input_tokens > 0) != long_context:
            continue
        if row.effective_from <= start and (row.effective_to is None or row.effective_to > start):
            chosen.setdefault(row.meter, row)
    return chosen


def _as_floats(chosen: dict[Meter, RateRow]) -> dict[Meter, float]:
    return {m: float(r.price.usd_per_unit) for m, r in chosen.items()}


def _unpriced(ref: model_ids.ModelRef, tier: str, reason: str) -> list[PricePoint]:
    """One point for all time: this model id and tier have no price, and why."""
    return [PricePoint(ref.model_id, tier, _FAR_PAST, _FAR_FUTURE, STATUS_UNPRICED, reason=reason)]


def _resolve(
    ref: model_ids.ModelRef, tier: str, rates_by_key: dict[str, list[RateRow]]
) -> list[PricePoint]:
    if ref.routing == model_ids.ROUTING_PROVISIONED:
        return [
            PricePoint(
                ref.model_id,
                tier,
                _FAR_PAST,
                _FAR_FUTURE,
                STATUS_PROVISIONED,
                reason="provisioned throughput: billed per hour, not per token",
            )
        ]
    if ref.base_model is None:
        reason = {
            model_ids.ROUTING_APPLICATION_PROFILE: (
                "application inference profile not resolved to a model yet"
            ),
            model_ids.ROUTING_PROMPT_ROUTER: "prompt router: the model it chose is not logged",
        }.get(ref.routing, "custom or imported model: no public price")
        return _unpriced(ref, tier, reason)
    rows, routing_class = _candidates(rates_by_key, ref, tier)
    if not rows:
        what = "latency-optimized " if tier == TIER_LATENCY_OPTIMIZED else ""
        return _unpriced(ref, tier, f"no {what}price known for {ref.base_model}")
    bounds = sorted(
        {r.effective_from for r in rows}
        | {r.effective_to for r in rows if r.effective_to}
        | {catalog.OPEN_START}
    )
    points = []
    for i, start in enumerate(bounds):
        end = bounds[i + 1] if i + 1 < len(bounds) else None
        base = _pick(rows, routing_class, start, long_context=False)
        if not base:
            continue
        long_ctx = _pick(rows, routing_class, start, long_context=True)
        rates = _as_floats(base)
        by_source: dict[str, list[str]] = defaultdict(list)
        for meter, row in base.items():
            by_source[row.source].append(str(meter))
        if (
            Meter.CACHE_WRITE_1H not in rates
            and Meter.INPUT in rates
            and ref.base_model.startswith("anthropic.")
        ):
            rates[Meter.CACHE_WRITE_1H] = 2 * rates[Meter.INPUT]
            by_source["derived: 2x input"].append(str(Meter.CACHE_WRITE_1H))
        sources = [f"{src} ({', '.join(meters)})" for src, meters in sorted(by_source.items())]
        used_class = base.get(Meter.INPUT, next(iter(base.values()))).routing_class
        note = (
            " (regional price: no global price known)"
            if (routing_class == "global" and used_class == "regional")
            else ""
        )
        points.append(
            PricePoint(
                ref.model_id,
                tier,
                datetime.combine(start, datetime.min.time())
                if start > catalog.OPEN_START
                else _FAR_PAST,
                datetime.combine(end, datetime.min.time()) if end else _FAR_FUTURE,
                STATUS_PRICED,
                pricing_key=ref.base_model,
                routing_class=used_class,
                source="; ".join(sources) + note,
                rates=rates,
                long_context_threshold=(
                    min(r.min_input_tokens for r in long_ctx.values()) if long_ctx else None
                ),
                long_context_rates=_as_floats(long_ctx) if long_ctx else None,
            )
        )
    if not points:
        return _unpriced(ref, tier, f"no price known for {ref.base_model} at these dates")
    # Before the first known price there is none: say so rather than stretch the first one back.
    if points[0].valid_from > _FAR_PAST:
        points.insert(
            0,
            PricePoint(
                ref.model_id,
                tier,
                _FAR_PAST,
                points[0].valid_from,
                STATUS_UNPRICED,
                reason="before the first known price",
            ),
        )
    return points


def _model_refs(store: Store) -> list[model_ids.ModelRef]:
    rows = store.con.execute(
        "SELECT model_id, base_model, routing, geo, arn_region, provider, service_type "
        "FROM model_ids"
    ).fetchall()
    return [model_ids.ModelRef(*r) for r in rows]


def compile_price_points(store: Store) -> int:
    """Rebuild ``price_points`` from the rates and the model ids seen. Returns the row count."""
    refresh_builtin_rates(store)
    rates_by_key: dict[str, list[RateRow]] = defaultdict(list)
    for row in load_rates(store):
        rates_by_key[row.model_key].append(row)
    points = [
        p for ref in _model_refs(store) for tier in TIERS for p in _resolve(ref, tier, rates_by_key)
    ]
    with transaction(store.con):
        store.con.execute("DELETE FROM price_points")
        if points:
            marks = ", ".join("?" * len(points[0].row()))
            store.con.executemany(
                f"INSERT INTO price_points VALUES ({marks})", [p.row() for p in points]
            )
        store.con.execute(
            "UPDATE model_ids SET lc_threshold = (SELECT min(p.lc_threshold) FROM price_points p "
            "WHERE p.model_id = model_ids.model_id)"
        )
    return len(points)


def ensure_compiled(store: Store) -> None:
    """Compile if a model id has no price point yet or the built-in rates changed (cheap check)."""
    changed = refresh_builtin_rates(store)
    missing = store.con.execute(
        "SELECT count(*) FROM model_ids m "
        "WHERE NOT EXISTS (SELECT 1 FROM price_points p WHERE p.model_id = m.model_id)"
    ).fetchall()[0][0]
    if changed or missing:
        compile_price_points(store)
