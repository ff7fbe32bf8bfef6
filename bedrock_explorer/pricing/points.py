"""Price points: the rates in force for one price key, compiled from the layered ``rates``.

Why compile: cost is computed in SQL at query time (a price correction re-prices history at once),
and a join of millions of invocations must be cheap. So the layers are resolved *here*, once per
**price key** — raw model id, source region and service tier, the three things that decide a
Bedrock price — and per period in which the chosen rates hold, into one small row with a column
per meter. Queries join that row by key and UTC day.

Why here and not in the readers: points are derived data. The writer compiles the keys a batch
brings in the same transaction that stores its rows (:func:`compile_new`), and opening a store
recompiles everything when the built-in rates changed (:func:`keep_current`), so no reader ever
has to remember a rebuild, and a figure is never $0 because a rebuild was forgotten.

Resolution for one key:

* provisioned throughput ARNs → ``provisioned``, the reserved tier → ``reserved`` (billed per
  hour or per reserved capacity, not per token: no cost, and not unpriced either);
* no base model (an application inference profile not resolved yet, a custom model, a prompt
  router) → ``unpriced`` with the reason; so are video (billed per second generated), rerank
  (per query) and speech (speech and text tokens bill apart; the log does not split them) unless
  the user set a price for the model;
* otherwise, per meter, the best rate: a user override first; then the most specific region
  scope (exact region, its geography, then the default US list price — flagged in the source
  when used outside the US); then the layer; then the most specific routing class (a global
  request falls back to a regional price only when no global one is known, and says so);
* a service tier without any rate of its own (flex, priority, latency-optimized) is priced at the
  standard rate with status ``estimated``, never silently as standard;
* Anthropic 1-hour cache writes missing from every layer are derived as 2x input, the published
  rule. A meter with usage but no rate makes that usage *unpriced*, never $0.
"""

from __future__ import annotations

import functools
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from importlib import resources

import duckdb
import pyarrow as pa

from bedrock_explorer import model_ids
from bedrock_explorer.pricing import catalog
from bedrock_explorer.pricing.catalog import LAYER_USER, RateRow
from bedrock_explorer.pricing.units import IMAGE_METERS, Meter, UnitPrice
from bedrock_explorer.records import (
    TIER_LATENCY_OPTIMIZED,
    TIER_RESERVED,
    TIER_STANDARD,
)
from bedrock_explorer.store.transaction import transaction

STATUS_PRICED = "priced"
STATUS_ESTIMATED = "estimated"  # priced at the standard rate: no rate of its tier is known
STATUS_UNPRICED = "unpriced"
STATUS_PROVISIONED = "provisioned"
STATUS_RESERVED = "reserved"

_BUILTIN_VERSION_SETTING = "pricing.builtin_version"
_POINTS_VERSION_SETTING = "pricing.points_version"
#: Bumped when the shape or the rules of price points change: opening a store recompiles them.
POINTS_VERSION = "3"
_FAR_FUTURE = datetime(2999, 1, 1)
_FAR_PAST = datetime(2000, 1, 1)
_NOW = "current_timestamp AT TIME ZONE 'UTC'"

_NOT_PER_TOKEN = {
    model_ids.SERVICE_VIDEO: "video is billed per second generated; the log does not say how many",
    model_ids.SERVICE_RERANK: "rerank is billed per query (up to 100 documents), not per token",
    model_ids.SERVICE_SPEECH: (
        "speech and text tokens bill at different rates and the log does not split them"
    ),
}


# -- rates in the store ---------------------------------------------------------------------------
def insert_rates(con: duckdb.DuckDBPyConnection, rows: Iterable[RateRow]) -> int:
    """Append rate rows (one Arrow table, one statement: the built-ins are ~3,000 rows)."""
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
            "region": [r.region for r in rows],
        }
    )
    con.register("new_rates", table)
    try:
        con.execute(
            "INSERT INTO rates (layer, source, source_url, as_of, model_key, routing_class, tier, "
            "meter, usd_per_unit, unit, min_input_tokens, effective_from, effective_to, note, "
            f"region, created_at) SELECT *, {_NOW} FROM new_rates"
        )
    finally:
        con.unregister("new_rates")
    return len(rows)


_RATE_COLUMNS = (
    "layer, source, source_url, as_of, model_key, routing_class, tier, meter, usd_per_unit, unit, "
    "min_input_tokens, effective_from, effective_to, note, region"
)


def load_rates(
    con: duckdb.DuckDBPyConnection, model_keys: Sequence[str] | None = None
) -> list[RateRow]:
    """The stored rates (of ``model_keys`` only, when given)."""
    if model_keys is None:
        found = con.execute(f"SELECT {_RATE_COLUMNS} FROM rates").fetchall()
    else:
        found = con.execute(
            f"SELECT {_RATE_COLUMNS} FROM rates WHERE list_contains(?, model_key)",
            [list(model_keys)],
        ).fetchall()
    return [
        RateRow(
            layer=r[0],
            source=r[1],
            source_url=r[2],
            as_of=r[3],
            model_key=r[4],
            routing_class=r[5],
            tier=r[6],
            meter=Meter(r[7]),
            price=UnitPrice(r[8], r[9]),
            min_input_tokens=r[10],
            effective_from=r[11],
            effective_to=r[12],
            note=r[13],
            region=r[14],
        )
        for r in found
    ]


def rates_by_key(
    con: duckdb.DuckDBPyConnection, model_keys: Sequence[str] | None = None
) -> dict[str, list[RateRow]]:
    """The stored rates (of ``model_keys`` only, when given) by ``model_key``: what
    :func:`resolve` looks rates up in."""
    found: dict[str, list[RateRow]] = defaultdict(list)
    for row in load_rates(con, model_keys):
        found[row.model_key].append(row)
    return found


@functools.cache
def builtin_version() -> str:
    """A fingerprint of the built-in layers: the price files' bytes and genai-prices' version
    (cheap: no parsing, so opening a store stays fast)."""
    digest = hashlib.sha256(catalog.package_version("genai-prices").encode())
    folder = resources.files("bedrock_explorer.pricing")
    for name in ("litellm_prices.json", "bundled_prices.json"):
        digest.update(folder.joinpath(name).read_bytes())
    digest.update(POINTS_VERSION.encode())
    return digest.hexdigest()[:16]


def _get(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    row = con.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchall()
    return row[0][0] if row else None


def _set(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", [key, value])


def refresh_builtin_rates(
    con: duckdb.DuckDBPyConnection,
    today: date,
    *,
    rates: list[RateRow] | None = None,
    version: str | None = None,
) -> bool:
    """Load the built-in layers when they changed (a package upgrade); True if they did.

    An upgrade adds a period, it never rewrites the past: a rate whose value changed is closed
    on the new data's date (``as_of``; ``today`` for a source without a date) and the new value
    applies from then; a rate seen for the first time applies to all history (nothing was known
    before); a rate the new data no longer lists stays as it was. ``rates``/``version`` let tests
    stand in for a package upgrade.
    """
    version = version or builtin_version()
    if _get(con, _BUILTIN_VERSION_SETTING) == version:
        return False
    new = rates if rates is not None else catalog.builtin_rates()
    layers = list(catalog.BUILTIN_LAYERS)
    old = [r for r in load_rates(con) if r.layer in layers]
    with transaction(con):
        if not old:
            insert_rates(con, new)
        else:
            known = {r.key() for r in old}
            open_now = {r.key(): r for r in old if r.effective_to is None}
            added: list[RateRow] = []
            for row in new:
                key = row.key()
                if key not in known:
                    added.append(row)
                    continue
                if row.effective_to is not None:
                    continue  # a closed period of the past: what is stored stays
                before = open_now.get(key)
                if before is not None and before.price == row.price:
                    continue
                since = max(row.as_of or today, row.effective_from)
                row = replace(row, effective_from=since, as_of=row.as_of or today)
                supersede(con, row)
                added.append(row)
            insert_rates(con, added)
        _set(con, _BUILTIN_VERSION_SETTING, version)
    return True


def supersede(con: duckdb.DuckDBPyConnection, row: RateRow) -> None:
    """Make way for ``row``: the open rate of its key ends where ``row`` starts, or goes if it
    started on that day or later (its source moved the date back). Used by a package upgrade
    and by ``prices refresh``; the caller inserts ``row``."""
    where = (
        "layer = ? AND model_key = ? AND routing_class = ? AND region = ? AND tier = ? "
        "AND meter = ? AND min_input_tokens = ? AND effective_to IS NULL"
    )
    key = [
        row.layer,
        row.model_key,
        row.routing_class,
        row.region,
        row.tier,
        str(row.meter),
        row.min_input_tokens,
    ]
    con.execute(
        f"DELETE FROM rates WHERE {where} AND effective_from >= ?", [*key, row.effective_from]
    )
    con.execute(f"UPDATE rates SET effective_to = ? WHERE {where}", [row.effective_from, *key])


# -- resolving one key ----------------------------------------------------------------------------
@dataclass
class PricePoint:
    """One row of ``price_points``: the rates in force for a price key over a period."""

    model_id: str
    region: str
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
    #: Images above this many pixels bill at the large-image rates (None: no size classes).
    image_base_pixels: int | None = None

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
            *(base.get(m) for m in _LC_METERS),
            self.long_context_threshold,
            *(lc.get(m) for m in _LC_METERS),
            self.region,
            *(base.get(m) for m in _IMAGE_CLASS_METERS),
            self.image_base_pixels,
        ]


#: The image size classes beyond the base one (their columns follow ``region``).
_IMAGE_CLASS_METERS = IMAGE_METERS[1:]
#: Meters with a long-context column as well: every meter but the image size classes.
_LC_METERS = tuple(m for m in Meter if m not in _IMAGE_CLASS_METERS)
_POINT_COLUMNS = (
    "model_id, tier, valid_from, valid_to, status, pricing_key, routing_class, source, reason, "
    "input, output, cache_read, cache_write, cache_write_1h, image, lc_threshold, lc_input, "
    "lc_output, lc_cache_read, lc_cache_write, lc_cache_write_1h, lc_image, region, "
    "image_premium, image_large, image_premium_large, image_base_pixels"
)


@functools.cache
def genai_alias(base_model: str, routing_class: str) -> str | None:
    """genai-prices' own name for a model (it matches dated ids, context suffixes, geo prefixes)."""
    from genai_prices import data_snapshot

    ref = ("global." if routing_class == "global" else "") + base_model
    try:
        _, model = data_snapshot.get_snapshot().find_provider_model(ref, None, "aws", None)
    except LookupError:
        return None
    return catalog.split_routing_prefix(model.id)[1]


def _routing_class(ref: model_ids.ModelRef) -> str:
    return (
        "global" if ref.routing == model_ids.ROUTING_GLOBAL or ref.geo == "global" else "regional"
    )


def rate_keys(ref: model_ids.ModelRef) -> list[str]:
    """The ``model_key`` values whose rates can price this model id."""
    if ref.base_model is None:
        return []
    keys = [ref.base_model]
    alias = genai_alias(ref.base_model, _routing_class(ref))
    if alias and alias != ref.base_model:
        keys.append(alias)
    return keys


@dataclass(frozen=True)
class _Ranked:
    row: RateRow
    sort: tuple[object, ...]
    region_rank: int


def _ranked(
    rates_by_key: dict[str, list[RateRow]],
    ref: model_ids.ModelRef,
    region: str | None,
    tier: str,
    user_only: bool,
) -> list[_Ranked]:
    routing_class = _routing_class(ref)
    allowed = {routing_class, "any"} | ({"regional"} if routing_class == "global" else set())
    scopes = dict(catalog.region_scopes(region, ref.geo))
    out = []
    for key in rate_keys(ref):
        for r in rates_by_key.get(key, []):
            if r.tier != tier or r.routing_class not in allowed or r.region not in scopes:
                continue
            if user_only and r.layer != LAYER_USER:
                continue
            rank = scopes[r.region]
            if routing_class == "global" and r.routing_class == "global":
                rank = 0  # a global price is one price for every source region
            if r.routing_class == routing_class:
                specific = 0
            elif r.routing_class == "any":
                specific = 1
            else:  # a regional price used for a global request
                specific = 2
            out.append(
                _Ranked(r, (specific == 2, r.layer != LAYER_USER, rank, r.layer, specific), rank)
            )
    return sorted(out, key=lambda x: x.sort)


def _pick(rows: list[_Ranked], start: date, long_context: bool) -> dict[Meter, _Ranked]:
    chosen: dict[Meter, _Ranked] = {}
    for item in rows:
        row = item.row
        if (row.min_input_tokens > 0) != long_context:
            continue
        if row.effective_from <= start and (row.effective_to is None or row.effective_to > start):
            chosen.setdefault(row.meter, item)
    return chosen


def _as_floats(chosen: dict[Meter, _Ranked]) -> dict[Meter, float]:
    return {m: float(r.row.price.usd_per_unit) for m, r in chosen.items()}


def _whole_time(
    ref: model_ids.ModelRef, region: str, tier: str, status: str, reason: str
) -> list[PricePoint]:
    return [PricePoint(ref.model_id, region, tier, _FAR_PAST, _FAR_FUTURE, status, reason=reason)]


def resolve(
    ref: model_ids.ModelRef, region: str, tier: str, rates_by_key: dict[str, list[RateRow]]
) -> list[PricePoint]:
    """The price points of one key (``region`` '' when the log named none)."""
    if ref.routing == model_ids.ROUTING_PROVISIONED:
        return _whole_time(
            ref,
            region,
            tier,
            STATUS_PROVISIONED,
            "provisioned throughput: billed per hour, not per token",
        )
    if tier == TIER_RESERVED:
        return _whole_time(
            ref,
            region,
            tier,
            STATUS_RESERVED,
            "reserved tier: billed per reserved capacity, not per token",
        )
    if ref.base_model is None:
        reason = {
            model_ids.ROUTING_APPLICATION_PROFILE: (
                "application inference profile not resolved to a model yet"
            ),
            model_ids.ROUTING_PROMPT_ROUTER: "prompt router: the model it chose is not logged",
        }.get(ref.routing, "custom or imported model: no public price")
        return _whole_time(ref, region, tier, STATUS_UNPRICED, reason)
    user_only = ref.service_type in _NOT_PER_TOKEN
    rows = _ranked(rates_by_key, ref, region or None, tier, user_only)
    estimated = False
    if not rows and tier != TIER_STANDARD:
        rows = _ranked(rates_by_key, ref, region or None, TIER_STANDARD, user_only)
        estimated = bool(rows)
    if not rows:
        if user_only:
            reason = _NOT_PER_TOKEN[ref.service_type] + ": set a price with `prices set`"
        else:
            reason = f"no price known for {ref.base_model}"
        return _whole_time(ref, region, tier, STATUS_UNPRICED, reason)
    bounds = sorted(
        {r.row.effective_from for r in rows}
        | {r.row.effective_to for r in rows if r.row.effective_to}
        | {catalog.OPEN_START}
    )
    points = []
    tier_name = "latency-optimized" if tier == TIER_LATENCY_OPTIMIZED else tier
    for i, start in enumerate(bounds):
        end = bounds[i + 1] if i + 1 < len(bounds) else None
        base = _pick(rows, start, long_context=False)
        if not base:
            continue
        long_ctx = _pick(rows, start, long_context=True)
        rates = _as_floats(base)
        by_source: dict[str, list[str]] = defaultdict(list)
        for meter, item in base.items():
            by_source[item.row.source].append(str(meter))
        if (
            Meter.CACHE_WRITE_1H not in rates
            and Meter.INPUT in rates
            and ref.base_model.startswith("anthropic.")
        ):
            rates[Meter.CACHE_WRITE_1H] = 2 * rates[Meter.INPUT]
            by_source["derived: 2x input"].append(str(Meter.CACHE_WRITE_1H))
        sources = [f"{src} ({', '.join(meters)})" for src, meters in sorted(by_source.items())]
        lead = base.get(Meter.INPUT, next(iter(base.values())))
        notes = []
        if _routing_class(ref) == "global" and lead.row.routing_class == "regional":
            notes.append("regional price: no global price known")
        if lead.region_rank == 2:
            notes.append(
                f"US list price: no {region} rate known"
                if region
                else "region not logged: US list price"
            )
        elif lead.row.region != catalog.ANY_REGION:
            notes.append(f"{lead.row.region} rate")
        if estimated:
            notes.append(f"no {tier_name} rate known: estimated at the standard rate")
        points.append(
            PricePoint(
                ref.model_id,
                region,
                tier,
                datetime.combine(start, datetime.min.time())
                if start > catalog.OPEN_START
                else _FAR_PAST,
                datetime.combine(end, datetime.min.time()) if end else _FAR_FUTURE,
                STATUS_ESTIMATED if estimated else STATUS_PRICED,
                pricing_key=ref.base_model,
                routing_class=lead.row.routing_class,
                source="; ".join(sources) + "".join(f" ({n})" for n in notes),
                reason=f"no {tier_name} rate known: estimated at the standard rate"
                if estimated
                else None,
                rates=rates,
                long_context_threshold=(
                    min(r.row.min_input_tokens for r in long_ctx.values()) if long_ctx else None
                ),
                long_context_rates=_as_floats(long_ctx) if long_ctx else None,
                image_base_pixels=catalog.IMAGE_BASE_PIXELS.get(ref.base_model)
                if any(m in rates for m in IMAGE_METERS)
                else None,
            )
        )
    if not points:
        return _whole_time(
            ref,
            region,
            tier,
            STATUS_UNPRICED,
            f"no price known for {ref.base_model} at these dates",
        )
    # Before the first known price there is none: say so rather than stretch the first one back.
    if points[0].valid_from > _FAR_PAST:
        points.insert(
            0,
            PricePoint(
                ref.model_id,
                region,
                tier,
                _FAR_PAST,
                points[0].valid_from,
                STATUS_UNPRICED,
                reason="before the first known price",
            ),
        )
    return points


# -- compiling ------------------------------------------------------------------------------------
def _refs(
    con: duckdb.DuckDBPyConnection, ids: Sequence[str] | None
) -> dict[str, model_ids.ModelRef]:
    sql = (
        "SELECT model_id, base_model, routing, geo, arn_region, provider, service_type "
        "FROM model_ids"
    )
    found = (
        con.execute(sql).fetchall()
        if ids is None
        else con.execute(sql + " WHERE list_contains(?, model_id)", [list(ids)]).fetchall()
    )
    return {r[0]: model_ids.ModelRef(*r) for r in found}


def _compile(con: duckdb.DuckDBPyConnection, keys: list[tuple[str, str, str]], full: bool) -> int:
    """Price points for ``keys`` (model id, region or '', tier), written in the caller's
    transaction; ``full`` replaces every point, else only those of ``keys``."""
    refs = _refs(con, None if full else sorted({k[0] for k in keys}))
    wanted = sorted({key for ref in refs.values() for key in rate_keys(ref)})
    rates = rates_by_key(con, None if full else wanted)
    points = [
        p
        for model_id, region, tier in keys
        if model_id in refs
        for p in resolve(refs[model_id], region, tier, rates)
    ]
    if full:
        con.execute("DELETE FROM price_points")
    elif keys:
        con.register(
            "compiled_keys",
            pa.table(
                {
                    "model_id": [k[0] for k in keys],
                    "region": [k[1] for k in keys],
                    "tier": [k[2] for k in keys],
                }
            ),
        )
        try:
            con.execute(
                "DELETE FROM price_points p USING compiled_keys k WHERE p.model_id = k.model_id "
                "AND p.region = k.region AND p.tier = k.tier"
            )
        finally:
            con.unregister("compiled_keys")
    if points:
        marks = ", ".join("?" * len(points[0].row()))
        con.executemany(
            f"INSERT INTO price_points ({_POINT_COLUMNS}) VALUES ({marks})",
            [p.row() for p in points],
        )
    return len(points)


_SEEN_KEYS = (
    "SELECT DISTINCT model_id, coalesce(region, '') AS region, performance_tier AS tier "
    "FROM invocations "
    # model ids only the coverage metrics name (a region that logs nothing): priced too
    "UNION SELECT DISTINCT model_id, region, 'standard' FROM measured_usage WHERE model_id <> ''"
)


def compile_all(con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild every price point (after rates changed); returns the row count. The built-in
    rates are current: opening a writable store loaded them (:func:`keep_current`)."""
    with transaction(con):
        keys = [tuple(r) for r in con.execute(_SEEN_KEYS).fetchall()]
        count = _compile(con, keys, full=True)
        _set(con, _POINTS_VERSION_SETTING, POINTS_VERSION)
    return count


def compile_new(con: duckdb.DuckDBPyConnection) -> int:
    """Price points for the keys this transaction's rows brought (the writer calls it before its
    commit, after registering new model ids). Returns the number of new keys."""
    keys = con.execute(
        f"""
        SELECT DISTINCT model_id, coalesce(region, ''), performance_tier
        FROM invocations WHERE ingested_at = {_NOW}
        EXCEPT
        SELECT model_id, region, tier FROM price_points
        """
    ).fetchall()
    if keys:
        _compile(con, [tuple(k) for k in keys], full=False)
    return len(keys)


def compile_keys(con: duckdb.DuckDBPyConnection, keys: list[tuple[str, str, str]]) -> int:
    """Price points for ``keys`` (model id, region, tier) that have none yet, in the caller's
    transaction (coverage's model ids seen only in metrics). Returns how many were new."""
    if not keys:
        return 0
    have = {
        tuple(r) for r in con.execute("SELECT model_id, region, tier FROM price_points").fetchall()
    }
    new = [k for k in dict.fromkeys(keys) if k not in have]
    if new:
        _compile(con, new, full=False)
    return len(new)


def keep_current(con: duckdb.DuckDBPyConnection, today: date) -> bool:
    """On opening a store: load changed built-in rates and recompile if they (or the rules of
    compiling) changed. True if points were rebuilt. Costs two setting reads when nothing did."""
    changed = refresh_builtin_rates(con, today)
    if changed or _get(con, _POINTS_VERSION_SETTING) != POINTS_VERSION:
        compile_all(con)
        return True
    return False
