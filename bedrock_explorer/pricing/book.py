"""The price book: the user's own prices and model mappings, on top of the layered rates.

The rates and how they are compiled into ``price_points`` live in :mod:`points`; this module is
what a user changes — an override from a date on (``prices set``), which model an application
profile runs (``prices resolve``) — and each change re-prices history at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from decimal import Decimal

from bedrock_explorer import audit, model_ids
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.pricing import catalog, points
from bedrock_explorer.pricing.catalog import LAYER_USER, RateRow
from bedrock_explorer.pricing.units import Meter, UnitPrice
from bedrock_explorer.store import Store
from bedrock_explorer.tiers import PRICED_TIERS, TIER_STANDARD

#: Tiers a price can be set for (the reserved tier is billed per capacity, not per token).


# -- rates in the store ---------------------------------------------------------------------------
def insert_rates(store: Store, rows: Iterable[RateRow]) -> int:
    return points.insert_rates(store.con, rows)


def load_rates(store: Store) -> list[RateRow]:
    return points.load_rates(store.con)


def compile_price_points(store: Store) -> int:
    """Rebuild every price point (after a change of rates or mappings)."""
    return points.compile_all(store.con)


def set_override(
    store: Store,
    model_key: str,
    prices: dict[Meter, Decimal],
    *,
    effective_from: date,
    routing_class: str = "any",
    tier: str = TIER_STANDARD,
    region: str = catalog.ANY_REGION,
    note: str | None = None,
    today: date | None = None,
) -> None:
    """A user's own price (negotiated discount, a correction), from a date on; history before keeps
    its price. Token meters are per 1M tokens, images per image. Recompiles at once.

    Overrides of one meter never overlap: a new one ends the one in force before it, and ends
    itself where a later one starts (so adding an earlier override after a later one works)."""
    store.authorize(audit.PRICE_SET)
    if routing_class not in catalog.ROUTING_CLASSES:
        raise UserFacingError(
            f"Unknown routing class {routing_class!r}",
            f"use one of {', '.join(catalog.ROUTING_CLASSES)}",
        )
    if tier not in PRICED_TIERS:
        raise UserFacingError(f"Unknown tier {tier!r}", f"use one of {', '.join(PRICED_TIERS)}")
    region = region.strip() or catalog.ANY_REGION
    if region != catalog.ANY_REGION and not catalog.is_region_scope(region):
        raise UserFacingError(
            f"Unknown region {region!r}",
            "give an AWS region (eu-west-1), a geography (eu, apac, us-gov …) or * for all",
        )
    if not prices:
        raise UserFacingError("No price given", "give at least one of --input, --output, …")
    rows = [
        RateRow(
            LAYER_USER,
            catalog.LAYER_NAMES[LAYER_USER],
            None,
            today or date.today(),
            model_key,
            routing_class,
            tier,
            meter,
            UnitPrice.for_meter(meter, value),
            effective_from=effective_from,
            note=note,
            region=region,
        )
        for meter, value in prices.items()
    ]
    same = (
        "layer = ? AND model_key = ? AND routing_class = ? AND region = ? AND tier = ? "
        "AND meter = ?"
    )
    with store.transaction():
        placed = []
        for row in rows:
            key = [LAYER_USER, model_key, routing_class, region, tier, str(row.meter)]
            # The override in force before this one ends where this one starts ...
            store.con.execute(
                f"UPDATE rates SET effective_to = ? WHERE {same} AND effective_from < ? "
                "AND (effective_to IS NULL OR effective_to > ?)",
                [effective_from, *key, effective_from, effective_from],
            )
            store.con.execute(
                f"DELETE FROM rates WHERE {same} AND effective_from = ?", [*key, effective_from]
            )
            # ... and this one ends where a later one starts.
            later = store.con.execute(
                f"SELECT min(effective_from) FROM rates WHERE {same} AND effective_from > ?",
                [*key, effective_from],
            ).fetchall()[0][0]
            placed.append(replace(row, effective_to=later))
        insert_rates(store, placed)
        rates = ", ".join(f"{meter} {value}" for meter, value in prices.items())
        store.audit(
            audit.PRICE_SET,
            model_key,
            f"{rates} from {effective_from} ({tier}, region {region}, routing {routing_class})",
        )
    compile_price_points(store)


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
