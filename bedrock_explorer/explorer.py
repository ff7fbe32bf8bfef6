"""The Explorer's questions as functions: filters, headline figures, grouped costs, detail rows.

Shared by the Explorer page and ``python -m bedrock_explorer report``, so the screen, the CSV and
the CLI agree to the cent. Filters become SQL written here with every *value* bound as a
parameter; the only text chosen by the user that reaches SQL is checked against fixed lists
(granularity, dimension names). Dimension values that are user data (a ``requestMetadata`` key,
the display time zone) travel as DuckDB session variables set with a bound parameter.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import pandas as pd

from bedrock_explorer import periods, queries
from bedrock_explorer.bill import reconcile
from bedrock_explorer.dimensions import (
    BY_FIELD,
    BY_NAME,
    FILTERABLE,
    GRANULARITIES,
    GROUP_BY,
    filter_field,
)
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.periods import PRESETS, preset
from bedrock_explorer.pricing import catalog
from bedrock_explorer.records import FIRST_YEAR, LAST_YEAR
from bedrock_explorer.store import Store, metadata_sets

_META_VAR = "be_meta_key"
_TZ_VAR = "be_tz"


def _metadata_sql(direct: bool) -> str:
    """The chosen key's value: read from the invocation's metadata set (the distinct maps, a
    small table: store/metadata_sets.py) instead of from every invocation's map (154 -> 91 ms
    at 10M) — unless the store reads its maps directly (too many distinct ones)."""
    if direct:
        return f"request_metadata[getvariable('{_META_VAR}')]"
    return (
        f"(SELECT s.request_metadata[getvariable('{_META_VAR}')] FROM metadata_sets s "
        "WHERE s.set_id = invocations.metadata_set)"
    )


def _metadata_filter_sql(direct: bool) -> str:
    """One key's accepted values (parameters: the values, the key), as :func:`_metadata_sql`."""
    if direct:
        return "list_contains(?, request_metadata[?])"
    return (
        "metadata_set IN (SELECT s.set_id FROM metadata_sets s "
        "WHERE list_contains(?, s.request_metadata[?]))"
    )


METERS = {
    "input": "input_cost",
    "output": "output_cost",
    "cache read": "cache_read_cost",
    "cache write (5 min)": "cache_write_cost",
    "cache write (1 hour)": "cache_write_1h_cost",
    "images": "image_cost",
}
_SUMS = [
    *queries.STATUS_SUMS,
    "cost",
    *queries.METER_COLUMNS,
    *METERS.values(),
    "cache_read_at_input",
    "cache_write_at_input",
    "unbilled_invocations",  # the billed basis only (bill/reconcile.py)
]
#: What a dollar figure means: the list-price estimate of the logs, or the AWS bill's dollars
#: allocated to the logged calls (needs a bill: `bill import` / `bill sync`).
BASIS_ESTIMATE = "estimate"
BASIS_BILLED = "billed"
BASES = (BASIS_ESTIMATE, BASIS_BILLED)
#: The row that holds billed dollars no logged invocation carries (on the billed basis).
BILLED_NOT_LOGGED = "(billed, not logged)"
#: The ``Filters`` fields that hold lists of values, in the order the page shows them.
LIST_FILTERS: tuple[str, ...] = tuple(BY_FIELD)


@dataclass(frozen=True)
class Filters:
    """What the user is looking at. ``end`` is inclusive; days are in the display time zone."""

    start: date
    end: date
    tz: str = "UTC"
    granularity: str = "day"
    integrations: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    service_types: tuple[str, ...] = ()
    operations: tuple[str, ...] = ()
    routings: tuple[str, ...] = ()
    identities: tuple[str, ...] = ()
    sessions: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    #: service tiers: standard, flex, priority, reserved, latency_optimized
    tiers: tuple[str, ...] = ()
    #: requestMetadata key = value pairs: values of one key are alternatives, keys all apply.
    metadata: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    #: an exact UTC window [start, end) in place of the days (a comparison's same elapsed time)
    window: tuple[datetime, datetime] | None = None
    #: estimate (list prices over the logs) or billed (the bill's dollars, allocated)
    basis: str = BASIS_ESTIMATE

    def validate(self) -> None:
        if self.end < self.start:
            raise UserFacingError("The date range ends before it starts", "swap the dates")
        if self.granularity not in GRANULARITIES:
            raise UserFacingError(
                f"Unknown granularity {self.granularity!r}", f"use {', '.join(GRANULARITIES)}"
            )
        if not (date(FIRST_YEAR, 1, 1) <= self.start and self.end <= date(LAST_YEAR, 12, 31)):
            raise UserFacingError(
                "The date range reaches outside the years the data can hold",
                f"use dates from {FIRST_YEAR} to {LAST_YEAR}",
            )
        if self.tz not in _zones():
            raise UserFacingError(
                f"Unknown time zone {self.tz[:40]!r}", "use an IANA name such as Europe/Paris"
            )
        if self.basis not in BASES:
            raise UserFacingError(
                f"Unknown cost basis {self.basis[:20]!r}", "use estimate or billed"
            )

    @property
    def utc_bounds(self) -> tuple[datetime, datetime]:
        """[start, end + 1 day) in the display zone, as naive UTC (how ``ts`` is stored)."""
        if self.window is not None:
            return self.window
        zone = ZoneInfo(self.tz)
        lo = datetime.combine(self.start, time(), tzinfo=zone).astimezone(UTC)
        hi = datetime.combine(self.end + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
        return lo.replace(tzinfo=None), hi.replace(tzinfo=None)

    def previous(self) -> Filters:
        """The period of the same length just before (for the change figures)."""
        days = (self.end - self.start).days + 1
        return replace(
            self, start=self.start - timedelta(days=days), end=self.start - timedelta(days=1)
        )

    def describe(self) -> str:
        """A short slug for file names: the range and the filters that are set."""
        parts = [f"{self.start:%Y%m%d}-{self.end:%Y%m%d}"]
        for name in LIST_FILTERS:
            values = getattr(self, name)
            if values:
                parts.append(f"{name}-" + "+".join(values))
        parts.extend(f"{k}-{v}" for k, v in self.metadata)
        if self.basis != BASIS_ESTIMATE:
            parts.append(self.basis)
        slug = "_".join(parts)
        safe = "".join(c if c.isalnum() or c in "-+_." else "-" for c in slug)
        return safe[:150]

    # -- URLs --------------------------------------------------------------------------------
    def to_params(self, period: str | None = None) -> dict[str, str | list[str]]:
        """The query-string form (``st.query_params``): a bookmarkable, shareable view.

        With ``period`` (one of :data:`PRESETS`) the link keeps the preset, not its dates."""
        params: dict[str, str | list[str]] = (
            {"period": period.replace(" ", "-")}
            if period in PRESETS
            else {"from": self.start.isoformat(), "to": self.end.isoformat()}
        )
        if self.tz != "UTC":
            params["tz"] = self.tz
        if self.granularity != "day":
            params["granularity"] = self.granularity
        for name in LIST_FILTERS:
            values = getattr(self, name)
            if values:
                params[name] = list(values)
        if self.metadata:
            params["meta"] = [f"{k}={v}" for k, v in self.metadata]
        if self.basis != BASIS_ESTIMATE:
            params["basis"] = self.basis
        return params

    @classmethod
    def from_params(
        cls,
        params: Mapping[str, Any],
        default: Filters,
        problems: list[str] | None = None,
        today: date | None = None,
    ) -> Filters:
        """Filters from a query string; each part missing or unreadable falls back to
        ``default`` on its own (a bad time zone does not lose the filters beside it).

        ``period`` (``last-30-days``…) is a relative preset, resolved against ``today``: a saved
        "last 30 days" link means the last 30 days whenever it is opened. Links with ``from`` and
        ``to`` (older ones, custom ranges) keep working.

        Why it never raises: a link is user input. What was wrong with it goes, one sentence per
        part, into ``problems`` (when given) for the page to show.
        """

        def many(name: str) -> tuple[str, ...]:
            value = params.get(name)
            if value is None:
                return ()
            values = value if isinstance(value, list) else [value]
            return tuple(v for v in values if v)

        def note(problem: str) -> None:
            if problems is not None:
                problems.append(problem)

        def day(name: str, fallback: date) -> date:
            if params.get(name) is None:
                return fallback
            try:
                return date.fromisoformat(str(params.get(name)))
            except (TypeError, ValueError):
                note(f"{name}: not a date (YYYY-MM-DD)")
                return fallback

        meta = tuple(
            (k, v) for k, _, v in (m.partition("=") for m in many("meta")) if k and _ == "="
        )

        # Each part stands on its own: one bad part falls back alone, the rest of the link holds.
        start, end = day("from", default.start), day("to", default.end)
        tz = str(params.get("tz") or default.tz)
        if tz not in _zones():
            note(f"tz: unknown time zone {tz[:40]!r} (use an IANA name such as Europe/Paris)")
            tz = default.tz
        period = params.get("period")
        if period is not None:
            name = preset_in_link(period)
            if name is not None:  # relative to the date it is in the link's zone
                start, end = preset(name, today or today_in(tz))
            else:
                note(f"period: {str(period)[:40]!r} is not one of {', '.join(PRESETS)}")
        granularity = str(params.get("granularity") or default.granularity)
        if granularity not in GRANULARITIES:
            note(f"granularity: {granularity[:20]!r} is not one of {', '.join(GRANULARITIES)}")
            granularity = default.granularity
        basis = str(params.get("basis") or default.basis)
        if basis not in BASES:
            note(f"basis: {basis[:20]!r} is not one of {', '.join(BASES)}")
            basis = default.basis
        lists: dict[str, Any] = {name: many(name) for name in LIST_FILTERS}
        found = cls(
            start=start,
            end=end,
            tz=tz,
            granularity=granularity,
            metadata=meta,
            basis=basis,
            **lists,
        )
        try:
            found.validate()
        except UserFacingError as err:  # the dates: the only part left that can be wrong
            note(f"from/to: {err}")
            return replace(found, start=default.start, end=default.end)
        return found


@functools.cache
def _zones() -> frozenset[str]:
    """Zone names both Python and DuckDB know: ``zoneinfo`` also accepts ``localtime`` and
    file names such as ``posixrules``, which DuckDB refuses mid-query."""
    return frozenset(available_timezones() - {"localtime", "posixrules", "Factory"})


def preset_in_link(value: object) -> str | None:
    """The preset a link's ``period`` names (``last-30-days``, as :meth:`Filters.to_params`
    writes it), or ``None``."""
    name = str(value or "").replace("-", " ")
    return name if name in PRESETS else None


def default_filters(today: date | None = None) -> Filters:
    start, end = preset("last 30 days", today or datetime.now(UTC).date())
    return Filters(start, end)


def still_running(f: Filters, now: datetime | None = None) -> bool:
    """Whether the period ends after ``now`` (its last bucket is partial)."""
    return periods.is_running(periods.Window(*f.utc_bounds), now or datetime.now(UTC))


def today_in(tz: str, now: datetime | None = None) -> date:
    """Today's date in ``tz`` (UTC's when the zone is unknown: the filters then say so)."""
    moment = now or datetime.now(UTC)
    return periods.today_in(tz, moment) if tz in _zones() else moment.astimezone(UTC).date()


def _where(f: Filters, direct: bool = False) -> tuple[str, list[Any], str | None, list[Any]]:
    """(invocation filter SQL, its params, model filter SQL, its params); ``direct``: the
    store's metadata is read from the maps themselves (:func:`metadata_sets.direct`)."""
    lo, hi = f.utc_bounds
    clauses: list[str] = ["ts >= ? AND ts < ?"]
    params: list[Any] = [lo, hi]
    model_clauses: list[str] = []
    model_params: list[Any] = []
    for dim in FILTERABLE:
        values = getattr(f, dim.field or "")
        if values:
            into, into_params = (
                (model_clauses, model_params) if dim.scope == "model" else (clauses, params)
            )
            into.append(dim.filter_sql())
            into_params.append(list(values))
    # Values of one key are alternatives (team=a or team=b); different keys must all match.
    by_key: dict[str, list[str]] = {}
    for key, value in f.metadata:
        by_key.setdefault(key, []).append(value)
    for key, values in by_key.items():
        clauses.append(_metadata_filter_sql(direct))
        params.extend([values, key])
    model_where = " AND ".join(model_clauses) if model_clauses else None
    return " AND ".join(clauses), params, model_where, model_params


def _direct(store: Store, f: Filters) -> bool:
    """Whether this question's metadata filter reads the maps themselves (only asked when there
    is one)."""
    return bool(f.metadata) and metadata_sets.direct(store.con)


def _set_variables(store: Store, f: Filters, meta_key: str | None) -> None:
    store.con.execute(f"SET VARIABLE {_TZ_VAR} = ?", [f.tz])
    store.con.execute(f"SET VARIABLE {_META_VAR} = ?", [meta_key or ""])


def _bucket_sql(f: Filters) -> str:
    """The time bucket, computed cheaply in UTC.

    Converting every row's timestamp to a display zone in SQL cost ~7x a plain ``date_trunc``
    (measured at 10M rows, ``bench/explorer.py``). So in UTC the bucket is truncated directly; in
    another zone rows are summed by UTC hour (15 minutes for zones with such offsets) and the few
    sums are moved to local time and truncated in :func:`_local_buckets`.
    """
    if f.granularity not in GRANULARITIES:  # never user text in SQL
        raise UserFacingError(f"Unknown granularity {f.granularity!r}", "use day")
    if f.tz == "UTC":
        return f"date_trunc('{f.granularity}', ts)"
    if _whole_hour_offsets(f):
        return "date_trunc('hour', ts)"
    return "time_bucket(INTERVAL 15 minutes, ts)"


def _whole_hour_offsets(f: Filters) -> bool:
    """Whether the zone's UTC offset is whole hours across the period (probed at 9 moments,
    enough to see a change of offset inside a 90-day view)."""
    zone = ZoneInfo(f.tz)
    lo, hi = f.utc_bounds
    moments = (lo + (hi - lo) * i / 8 for i in range(9))
    offsets = (m.replace(tzinfo=UTC).astimezone(zone).utcoffset() for m in moments)
    return all(o is not None and o.total_seconds() % 3600 == 0 for o in offsets)


def _local_buckets(buckets: pd.Series, f: Filters) -> pd.Series:
    """UTC sub-buckets → the display zone's buckets (naive local times)."""
    local = pd.to_datetime(buckets).dt.tz_localize("UTC").dt.tz_convert(f.tz).dt.tz_localize(None)
    if f.granularity == "hour":
        return local.dt.floor("h")
    if f.granularity == "day":
        return local.dt.floor("D")
    if f.granularity == "week":
        return local.dt.to_period("W-SUN").dt.start_time
    return local.dt.to_period("M").dt.start_time


def grouped(
    store: Store,
    f: Filters,
    by: list[str],
    *,
    meta_key: str | None = None,
    time_bucket: bool = False,
    memo: dict[Any, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Cost and usage grouped by dimensions (and the time bucket), with unpriced volume.

    The one query behind every chart, table and grouped export. ``memo`` (one dict per page
    rerun) returns a frame already computed for the same question instead of asking again.
    """
    f.validate()
    key = (f, tuple(by), meta_key, time_bucket)
    if memo is not None:
        found = _from_memo(memo, key)
        if found is not None:
            return _with_billed_not_logged(store, f, found, by, time_bucket)
    unknown = [d for d in by if d not in GROUP_BY]
    if unknown:
        raise UserFacingError(
            f"Unknown dimension {unknown[0]!r}", f"use one of {', '.join(GROUP_BY)}"
        )
    if "metadata" in by and not meta_key:
        raise UserFacingError("Grouping by metadata needs a key", "choose a requestMetadata key")
    if memo is not None and by == ["metadata"] and not time_bucket and meta_key:
        per_set = cost_by_metadata_set(store, f, memo)
        if per_set is not None:  # the page asked it to rank the keys: this is a roll-up of it
            frame = _by_metadata_value(per_set, meta_key)
            return _with_billed_not_logged(store, f, frame, by, time_bucket)
    derived = {d: BY_NAME[d].derived_from for d in by if d in BY_NAME and BY_NAME[d].derived_from}
    if derived:
        source = list(dict.fromkeys(derived.get(d) or d for d in by))
        finer = grouped(store, f, source, meta_key=meta_key, time_bucket=time_bucket, memo=memo)
        return _roll_up_derived(finer, by, derived, time_bucket)
    asked = by
    if memo is not None and "model" in by:
        # The model decides its service type: grouping by both costs no extra groups, and the
        # page's "cost by service type" is then rolled up from this frame instead of asked.
        by = [*by, *(d for d in MODEL_DECIDES if d not in by)]
    direct = "metadata" in by and metadata_sets.direct(store.con)
    dims, model_dims = _group_dims(f, by, time_bucket, direct)
    frame = _grouped_raw(store, f, dims, model_dims, meta_key)
    if time_bucket and f.tz != "UTC":
        frame["bucket"] = _local_buckets(frame["bucket"], f)
    frame = _finish(store, frame, by, time_bucket)
    if memo is None:
        return _with_billed_not_logged(store, f, frame, by, time_bucket)
    memo[(f, tuple(by), meta_key, time_bucket)] = frame.copy()  # kept without that row
    found = _from_memo(memo, (f, tuple(asked), meta_key, time_bucket))
    answer = found if found is not None else frame  # (the frame just stored always answers it)
    return _with_billed_not_logged(store, f, answer, asked, time_bucket)


#: The memo key of :func:`cost_by_metadata_set` (no dimension of that name: never a match for
#: a question of another kind in :func:`_from_memo`).
_BY_SET = "metadata set"


def cost_by_metadata_set(
    store: Store, f: Filters, memo: dict[Any, pd.DataFrame] | None = None
) -> pd.DataFrame | None:
    """Cost and usage per metadata set (one row per distinct ``requestMetadata`` map in the
    selection, its map in ``metadata``; ``None`` for invocations without one), or ``None`` when
    the sets are too many to help (:func:`metadata_sets.direct`).

    Why: from it, the cost by *any* key is a roll-up (every figure is a sum), so one query
    ranks the keys by the spend they cover and answers the page's cost by the chosen key."""
    key = (f, (_BY_SET,), None, False)
    if memo is not None and key in memo:
        return memo[key]
    if metadata_sets.direct(store.con):
        return None
    frame = _grouped_raw(store, f, {"d_set": "metadata_set"}, {}, None)  # a row per set
    present = [int(s) for s in frame["d_set"].dropna()]
    maps = dict(
        store.con.execute(
            "SELECT set_id, request_metadata FROM metadata_sets WHERE list_contains(?, set_id)",
            [present],
        ).fetchall()
    )
    frame.insert(0, "metadata", [maps.get(s) if pd.notna(s) else None for s in frame["d_set"]])
    frame = frame.drop(columns="d_set")
    if memo is not None:
        memo[key] = frame
    return frame


def _by_metadata_value(per_set: pd.DataFrame, meta_key: str) -> pd.DataFrame:
    """Cost by one key's value, rolled up from the cost per metadata set ("(none)": the
    invocations whose map lacks the key, or that have none) — the figures of a direct query."""
    values = [
        str(m[meta_key]) if isinstance(m, dict) and m.get(meta_key) is not None else "(none)"
        for m in per_set["metadata"]
    ]
    return _summed(per_set.assign(metadata=values), ["metadata"])


def keys_by_spend(
    store: Store, f: Filters, keys: list[str], memo: dict[Any, pd.DataFrame] | None = None
) -> list[str]:
    """The ``requestMetadata`` keys, the one covering the most spend of the selection first
    (then by how many invocations carry it: the order ``keys`` came in). When the sets are too
    many to price each, ``keys`` as they came."""
    per_set = cost_by_metadata_set(store, f, memo) if keys else None
    if per_set is None:
        return keys
    costs = per_set["cost"].fillna(0.0).to_numpy()
    spend = {k: 0.0 for k in keys}
    for meta, cost in zip(per_set["metadata"], costs, strict=True):
        for k in meta or ():
            if k in spend:
                spend[k] += float(cost)
    return sorted(keys, key=lambda k: -spend[k])  # stable: ties keep the usage order


def _roll_up_derived(
    frame: pd.DataFrame, by: list[str], derived: dict[str, str | None], time_bucket: bool
) -> pd.DataFrame:
    """A roll-up dimension (the model family) from the frame of its source (the model): each
    row named, then summed — exact, because every figure is a sum."""
    for name, source in derived.items():
        if name == "family" and source:
            frame[name] = frame[source].map(lambda m: catalog.family_name(str(m)))
    return _summed(frame, (["bucket"] if time_bucket else []) + list(by))


def _summed(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``frame`` summed to one row per ``keys`` (one row when none), its price status named
    again, the most expensive first — exact from any finer frame, since every figure is a sum."""
    sums = [c for c in _SUMS if c in frame]
    rolled = (
        frame.groupby(keys, as_index=False)[sums].sum() if keys else frame[sums].sum().to_frame().T
    )
    rolled = queries.with_price_status(rolled)
    return rolled.sort_values("cost", ascending=False, kind="stable").reset_index(drop=True)


#: Dimensions the model dimension decides (one value per model), added to a memoised grouping
#: by model so that their own charts are roll-ups of it.
MODEL_DECIDES = ("service type", "provider")


def _group_dims(
    f: Filters, by: list[str], time_bucket: bool, direct: bool = False
) -> tuple[dict[str, str], dict[str, str]]:
    """The grouping columns of a question: (over invocations, over the model dimension)."""
    dims: dict[str, str] = {}
    model_dims: dict[str, str] = {}
    if time_bucket:
        dims["bucket"] = _bucket_sql(f)
    for name in by:
        if name == "metadata":
            dims["d_metadata"] = _metadata_sql(direct)
            continue
        dim = BY_NAME[BY_NAME[name].derived_from or name]  # a roll-up reads its source
        if dim.scope == "model":
            model_dims[dim.alias] = dim.group_sql or dim.column
        elif dim.scope == "identity":  # resolved to names after summing, in _finish
            dims["d_identity_arn"] = "identity_arn"
        else:
            dims[dim.alias] = dim.group_sql or dim.column
    return dims, model_dims


def grouped_sql(f: Filters, by: list[str], *, time_bucket: bool = False) -> str:
    """The SQL :func:`grouped` runs for this question (for the portability check)."""
    dims, model_dims = _group_dims(f, by, time_bucket)
    where, _params, model_where, _model_params = _where(f)
    return queries.grouped_cost_sql(dims, model_dims, where, model_where, periods=2)


def _from_memo(memo: dict[Any, pd.DataFrame], key: tuple[Any, ...]) -> pd.DataFrame | None:
    """The answer from a frame already computed this rerun: the same question, or a finer one
    (more dimensions, or split by time) rolled up — sums are additive, so a roll-up is exact."""
    f, by, meta_key, time_bucket = key
    if key in memo:
        return memo[key].copy()
    for (kf, kby, kmeta, kbucket), frame in memo.items():
        same_meta = kmeta == meta_key or "metadata" not in by
        if kf == f and set(by) <= set(kby) and same_meta and (kbucket or not time_bucket):
            return _summed(frame, (["bucket"] if time_bucket else []) + list(by))
    return None


def _grouped_raw(
    store: Store,
    f: Filters,
    dims: dict[str, str],
    model_dims: dict[str, str],
    meta_key: str | None,
) -> pd.DataFrame:
    where, params, model_where, model_params = _where(f, _direct(store, f))
    _set_variables(store, f, meta_key)
    if f.basis == BASIS_BILLED:
        return _billed_raw(store, f, dims, model_dims, (where, params, model_where, model_params))
    return queries.grouped_cost(
        store,
        dims,
        model_dims=model_dims,
        where=where,
        params=params,
        model_where=model_where,
        model_params=model_params,
    )


def bill_window(f: Filters) -> reconcile.Window:
    """The whole UTC days the view touches (the bill is per UTC day)."""
    lo, hi = f.utc_bounds
    return reconcile.Window(lo.date(), (hi - timedelta(microseconds=1)).date(), f.integrations)


def _billed_raw(
    store: Store,
    f: Filters,
    dims: dict[str, str],
    model_dims: dict[str, str],
    where: tuple[str, list[Any], str | None, list[Any]],
) -> pd.DataFrame:
    """The estimate grouped finely enough that each row sits in one bill bucket, its dollars
    replaced by the bill's and summed back to the question's groups (reconcile.allocate)."""
    sql_where, params, model_where, model_params = where
    query = queries.grouped_cost_query(
        store,
        {**dims, **reconcile.BUCKET_DIMS},
        model_dims={**model_dims, **reconcile.BUCKET_MODEL_DIMS},
        where=sql_where,
        params=params,
        model_where=model_where,
        model_params=model_params,
    )
    factors, days, _unallocated = _allocation(store, f)
    return reconcile.allocate(store, query, [*dims, *model_dims], factors, days)


#: Allocations computed, by database, window and what they depend on (a page asks the same one
#: for every chart; at 10M rows one costs a grouped query over the window).
_ALLOCATIONS: dict[tuple[Any, ...], tuple[pd.DataFrame, set[date], float]] = {}
_ALLOCATIONS_KEPT = 16
_ALLOCATION_INPUTS = """
    SELECT (SELECT count(*) FROM invocations), (SELECT max(ingested_at) FROM invocations),
           (SELECT count(*) FROM bill_lines), (SELECT max(imported_at) FROM bill_sources),
           (SELECT max(fetched_at) FROM bill_ce_days), (SELECT count(*) FROM rates),
           (SELECT max(created_at) FROM rates), (SELECT count(*) FROM model_ids),
           (SELECT max(updated_at) FROM model_ids), (SELECT count(*) FROM price_points)
"""


def _allocation(store: Store, f: Filters) -> tuple[pd.DataFrame, set[date], float]:
    """reconcile.allocation for the view's days, computed once per change of its inputs (the
    invocations, the bill, the rates and model resolutions) — milliseconds to check."""
    window = bill_window(f)
    key = (str(store.path), window, *store.con.execute(_ALLOCATION_INPUTS).fetchall()[0])
    found = _ALLOCATIONS.get(key)
    if found is None:
        found = reconcile.allocation(store, window)
        if len(_ALLOCATIONS) >= _ALLOCATIONS_KEPT:
            _ALLOCATIONS.pop(next(iter(_ALLOCATIONS)), None)
        _ALLOCATIONS[key] = found
    factors, days, unallocated = found
    return factors.copy(), set(days), unallocated


def _only_period_and_integrations(f: Filters) -> bool:
    return not f.metadata and all(not getattr(f, n) for n in LIST_FILTERS if n != "integrations")


def _with_billed_not_logged(
    store: Store, f: Filters, frame: pd.DataFrame, by: list[str], time_bucket: bool
) -> pd.DataFrame:
    """On the billed basis, the view's own row for the bill's dollars no logged call carries,
    so the view adds up to the bill. Only for an unfiltered view without time buckets: such
    dollars have no model, caller or tag to filter by, nor an hour (the page says so)."""
    if f.basis != BASIS_BILLED or time_bucket or not _only_period_and_integrations(f):
        return frame
    _factors, _days, unallocated = _allocation(store, f)
    if abs(unallocated) < reconcile.ROUNDING:
        return frame
    row: dict[str, Any] = {c: 0 for c in _SUMS if c in frame}
    row.update({d: BILLED_NOT_LOGGED for d in by})
    row["cost"] = unallocated
    extra = queries.with_price_status(pd.DataFrame([row]))
    return pd.concat([frame, extra], ignore_index=True)


def _finish(store: Store, frame: pd.DataFrame, by: list[str], time_bucket: bool) -> pd.DataFrame:
    """Names for ids (integrations, identities), one row per group, readable column names."""
    if "integration" in by:
        names = dict(store.con.execute("SELECT id, name FROM integrations").fetchall())
        frame["d_integration"] = frame["d_integration"].map(names)
    if "d_identity_arn" in frame:
        who = store.query_df(
            "SELECT identity_arn AS d_identity_arn, principal_name AS d_identity, "
            "session_name AS d_session FROM identities"
        )
        frame = frame.merge(who, on="d_identity_arn", how="left")
        for col in ("d_identity", "d_session"):
            frame[col] = frame[col].fillna(frame["d_identity_arn"])
    keys = (["bucket"] if time_bucket else []) + ["d_" + d.replace(" ", "_") for d in by]
    sums = [c for c in _SUMS if c in frame]
    if keys:
        for key in keys:
            if key != "bucket":
                frame[key] = frame[key].fillna("(none)").astype(str)
        frame = frame.groupby(keys, as_index=False, dropna=False)[sums].sum()
    else:
        frame = frame[sums]
    frame = frame.rename(columns={"d_" + d.replace(" ", "_"): d for d in by})
    frame = queries.with_price_status(frame)
    return frame.sort_values("cost", ascending=False, kind="stable").reset_index(drop=True)


def headline(
    store: Store,
    f: Filters,
    memo: dict[Any, pd.DataFrame] | None = None,
    *,
    period: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Totals for the selection and the change against a like-for-like previous period
    (:func:`periods.comparison`: the calendar period before for calendar presets, the same
    elapsed time when the period is still running). No change is given when the previous period
    began before the data did (a new integration is not "+350%")."""
    now = now or datetime.now(UTC)
    compared = periods.comparison(f.start, f.end, f.tz, now, period)
    now_frame = grouped(store, f, [], memo=memo)
    before_filters = replace(f, window=(compared.window.start, compared.window.end))
    before = grouped(store, before_filters, [], memo=memo)
    row: dict[str, Any] = {k: float(now_frame[k].sum()) for k in _SUMS if k in now_frame}
    prev = {k: float(before[k].sum()) for k in _SUMS if k in before}
    status = queries.with_price_status(pd.DataFrame([row]))
    row["price_status"] = status["price_status"].iloc[0]
    row["cost_known"] = not pd.isna(status["cost"].iloc[0])  # False: nothing has a token price
    # Per 1,000 *priced* invocations: unpriced and provisioned ones add no dollars to divide.
    row["priced_invocations"] = queries.priced_invocations(row)
    row["cost_per_1k"] = (
        row["cost"] / row["priced_invocations"] * 1000 if row["priced_invocations"] else None
    )
    row["comparison"] = compared.label
    row["comparison_short"] = compared.short
    row["partial"] = compared.partial
    first = queries.first_invocation(store, f.integrations)
    row["comparison_note"] = (
        f"No comparison: the data starts {first:%-d %b %Y}, after the previous period began"
        if first is not None and first > compared.window.start
        else None
    )
    before_status = queries.with_price_status(pd.DataFrame([prev]))
    # None when the previous period had usage but nothing with a price: not "$0 before".
    row["previous_cost"] = None if pd.isna(before_status["cost"].iloc[0]) else prev["cost"]
    row["previous_invocations"] = prev["invocations"]
    comparable = row["comparison_note"] is None
    row["cost_change"] = (
        (row["cost"] - prev["cost"]) / prev["cost"] if prev["cost"] and comparable else None
    )
    row["invocations_change"] = (
        (row["invocations"] - prev["invocations"]) / prev["invocations"]
        if prev["invocations"] and comparable
        else None
    )
    return row


def total_cost(costs: pd.Series) -> float | None:
    """The sum of a cost column, None when no row has a cost (all unpriced): not $0."""
    total = costs.sum(min_count=1)
    return None if pd.isna(total) else float(total)


def top_n(frame: pd.DataFrame, column: str, n: int) -> pd.DataFrame:
    """Keep the ``n`` groups of ``column`` with the largest cost; sum the rest as ``Other``."""
    totals = frame.groupby(column)["cost"].sum().sort_values(ascending=False)
    keep = set(totals.index[:n])
    if len(totals) <= n:
        return frame
    out = frame.copy()
    out[column] = out[column].where(out[column].isin(keep), "Other")
    keys = [c for c in out.columns if c not in _SUMS and c != "price_status"]
    rolled = out.groupby(keys, as_index=False)[[c for c in _SUMS if c in out]].sum()
    return queries.with_price_status(rolled)


def over_time(
    store: Store,
    f: Filters,
    by: str,
    *,
    n: int = 8,
    meta_key: str | None = None,
    memo: dict[Any, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Cost per time bucket stacked by one dimension (its top ``n`` + Other)."""
    frame = grouped(store, f, [by], meta_key=meta_key, time_bucket=True, memo=memo)
    return top_n(frame, by, n).sort_values(["bucket", "cost"]).reset_index(drop=True)


def by_meter(totals: Mapping[str, float]) -> pd.DataFrame:
    """Cost split by what was metered (input, output, cache read/write, images)."""
    return pd.DataFrame(
        [{"usage type": label, "cost": float(totals[col])} for label, col in METERS.items()]
    )


def cache_economics(
    store: Store, f: Filters, memo: dict[Any, pd.DataFrame] | None = None
) -> dict[str, float]:
    """What prompt caching saved, and what cache writes cost that were never read back.

    Saved: cache-read tokens at the input price minus what they cost. Writes never read back:
    the write cost in model-and-day groups (days of the display zone) with no cache read at all
    (a write is only useful if a later request of the same model reads it, within minutes or an
    hour). The groups are those of the cost-over-time chart stacked by model per day, so with
    that chart on the page (``memo``) this asks nothing more of the database.
    """
    frame = grouped(store, replace(f, granularity="day"), ["model"], time_bucket=True, memo=memo)
    saved = float((frame["cache_read_at_input"] - frame["cache_read_cost"]).sum())
    write_premium = float(
        (
            frame["cache_write_cost"] + frame["cache_write_1h_cost"] - frame["cache_write_at_input"]
        ).sum()
    )
    unread = frame[(frame["cache_read_tokens"] == 0) & (frame["cache_write_tokens"] > 0)]
    return {
        "cache_read_tokens": float(frame["cache_read_tokens"].sum()),
        "cache_write_tokens": float(frame["cache_write_tokens"].sum()),
        "saved": saved,
        "write_premium": write_premium,
        "net": saved - write_premium,
        "unread_write_tokens": float(unread["cache_write_tokens"].sum()),
        "unread_write_cost": float(
            (unread["cache_write_cost"] + unread["cache_write_1h_cost"]).sum()
        ),
    }


# -- detail rows ---------------------------------------------------------------------------

_DETAIL_COLUMNS = """
    strftime(timezone(getvariable('be_tz'), ts::TIMESTAMPTZ), '%Y-%m-%d %H:%M:%S') AS time,
    (SELECT name FROM integrations g WHERE g.id = integration_id) AS integration,
    request_id, account_id AS account, region, operation, model_id,
    coalesce(base_model, '') AS base_model, routing, service_type,
    (SELECT principal_name FROM identities d WHERE d.identity_arn = r.identity_arn) AS identity,
    (SELECT session_name FROM identities d WHERE d.identity_arn = r.identity_arn) AS session,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, images,
    outcome, performance_tier AS tier, latency_ms, cost AS cost_usd, price_status, unpriced_tokens,
    price_source,
    CAST(request_metadata AS VARCHAR) AS request_metadata
"""


def _detail_sql(
    f: Filters, order: str, limit: bool = False, direct: bool = False
) -> tuple[str, list[Any]]:
    """The detail rows of a selection; ``order`` is applied (and a page cut, with ``limit``)
    *before* pricing, so a page prices 100 rows, not the whole selection."""
    where, params, model_where, model_params = _where(f, direct)
    model_filter = (
        f" AND i.model_id IN (SELECT m.model_id FROM model_ids m WHERE {model_where})"
        if model_where
        else ""
    )
    # Select (and cut a page of) invocations first, then join the model dimension and price.
    if limit:
        # The page's row ids first, then only those rows' columns: sorting every column of a
        # filtered selection to keep 100 rows cost 3x as much (97 ms against 32 ms for one
        # model at 10M invocations, bench/explorer.py).
        picked = f"""(SELECT * FROM invocations WHERE rowid IN (
            SELECT i.rowid FROM invocations i WHERE {where}{model_filter}
            ORDER BY {order} LIMIT ? OFFSET ?))"""
    else:
        picked = f"(SELECT * FROM invocations i WHERE {where}{model_filter} ORDER BY {order})"
    usage = queries.usage_sql(picked)
    outer = order.replace("i.", "r.")
    sql = f"SELECT {_DETAIL_COLUMNS} FROM ({queries.rated_sql(usage)}) r ORDER BY {outer}"
    return sql, [*params, *model_params]


def detail_count(store: Store, f: Filters) -> int:
    where, params, model_where, model_params = _where(f, _direct(store, f))
    model_filter = (
        f" AND model_id IN (SELECT m.model_id FROM model_ids m WHERE {model_where})"
        if model_where
        else ""
    )
    sql = f"SELECT count(*) FROM invocations WHERE {where}{model_filter}"
    return int(store.con.execute(sql, [*params, *model_params]).fetchall()[0][0])


def detail_page(store: Store, f: Filters, *, page: int = 0, size: int = 100) -> pd.DataFrame:
    """One page of invocations, newest first (metadata and counts; no prompt text exists)."""
    f.validate()
    _set_variables(store, f, None)
    sql, params = _detail_sql(f, "i.ts DESC, i.request_id", limit=True, direct=_direct(store, f))
    return store.query_df(sql, [*params, size, page * size])


def detail_batches(store: Store, f: Filters, rows: int = 50_000) -> Iterator[pd.DataFrame]:
    """Every invocation of the selection, a batch at a time (a million-row export never sits in
    memory at once)."""
    f.validate()
    cur = store.cursor()
    cur.execute(f"SET VARIABLE {_TZ_VAR} = ?", [f.tz])
    sql, params = _detail_sql(f, "i.ts, i.request_id", direct=_direct(store, f))
    reader = cur.sql(sql, params=params).to_arrow_reader(rows)
    try:
        for batch in reader:
            yield batch.to_pandas(integer_object_nulls=True)
    finally:
        cur.close()


def filter_options(store: Store, cache: dict[str, Any] | None = None) -> dict[str, list[str]]:
    """The values each filter can take: its fixed choices, or what is stored (one query per
    table the dimensions live in).

    The invocations' own values (regions, accounts, operations) take a scan of every row and
    change only when rows are written, so with a ``cache`` (one dict per browser session) they
    are read again only when :func:`invocations_version` changes; the other tables are small
    and always read."""
    options: dict[str, list[str]] = {}
    stored = [d for d in FILTERABLE if not d.choices]
    for scope, table in (
        ("invocation", "invocations"),
        ("model", "model_ids m"),
        ("identity", "identities"),
        ("integration", "integrations"),
    ):
        dims = [d for d in stored if d.scope == scope]
        if not dims:
            continue
        version = (
            invocations_version(store) if scope == "invocation" and cache is not None else None
        )
        if version is not None and cache is not None and cache.get("version") == version:
            options.update(cache["options"])
            continue
        lists = ", ".join(
            f"list(DISTINCT {d.column} ORDER BY {d.column}) FILTER (WHERE {d.column} IS NOT NULL "
            f"AND CAST({d.column} AS VARCHAR) <> '')"
            for d in dims
        )
        row = store.con.execute(f"SELECT {lists} FROM {table}").fetchall()[0]
        found = {dim.field or "": list(values or []) for dim, values in zip(dims, row, strict=True)}
        options.update(found)
        if version is not None and cache is not None:
            cache.update(version=version, options=found)
    options.update({d.field or "": list(d.choices) for d in FILTERABLE if d.choices})
    return {name: options[name] for name in LIST_FILTERS}


def invocations_version(store: Store) -> tuple[object, ...]:
    """Changes whenever invocation rows are added, replaced or deleted (a count and the newest
    write time — every write stamps its rows with its own time): milliseconds at 10M rows."""
    return tuple(
        store.con.execute("SELECT count(*), max(ingested_at) FROM invocations").fetchall()[0]
    )


def metadata_summary(store: Store, f: Filters, limit: int = 500) -> tuple[list[str], list[str]]:
    """The ``requestMetadata`` keys of the selection (the invocations the filters keep, its own
    metadata filter aside), the most used first, and its ``key=value`` pairs (at most
    ``limit``), in one pass.

    Why the selection, not the period: a key only another integration's data has would make
    the chart of a filtered view 100% "(none)". Why through the metadata sets: invocations are
    counted per set (one integer each) and only the distinct maps are unnested — a tenth of the
    cost of unnesting every map, unless nearly every map is different
    (:func:`metadata_sets.direct`)."""
    where, params, model_where, model_params = _where(replace(f, metadata=()))
    model_filter = (
        f" AND model_id IN (SELECT m.model_id FROM model_ids m WHERE {model_where})"
        if model_where
        else ""
    )
    picked = f"FROM invocations WHERE {where}{model_filter}"
    entries = (
        f"SELECT unnest(map_entries(request_metadata)) AS e, 1 AS n {picked} "
        "AND request_metadata IS NOT NULL"
        if metadata_sets.direct(store.con)
        else f"""SELECT unnest(map_entries(s.request_metadata)) AS e, c.n
            FROM (SELECT metadata_set, count(*) AS n {picked} AND metadata_set IS NOT NULL
                  GROUP BY metadata_set) c
            JOIN metadata_sets s ON s.set_id = c.metadata_set"""
    )
    rows = store.con.execute(
        f"""
        SELECT e.key, e.value, CAST(sum(n) AS BIGINT) AS n FROM ({entries})
        GROUP BY e.key, e.value ORDER BY n DESC, e.key, e.value
        """,
        [*params, *model_params],
    ).fetchall()
    uses: dict[str, int] = {}
    for key, _value, n in rows:
        uses[key] = uses.get(key, 0) + n
    keys = sorted(uses, key=lambda k: (-uses[k], k))
    pairs = sorted(f"{k}={v}" for k, v, _ in rows[:limit])
    return keys, pairs


def unknown_filter_values(store: Store, f: Filters) -> list[str]:
    """Filter values no stored invocation can match (a typo in ``report --filter``), each as
    ``KEY=VALUE`` with the known values when they are few."""
    options = filter_options(store)
    raw_models = {m for (m,) in store.con.execute("SELECT model_id FROM model_ids").fetchall()}
    problems = []
    for name in LIST_FILTERS:
        known = set(options[name]) | (raw_models if name == "models" else set())
        for value in getattr(f, name):
            if value not in known:
                hint = (
                    f" (known: {', '.join(sorted(known))})"
                    if 0 < len(known) <= 12
                    else f" ({len(known):,} known values)"
                    if known
                    else " (nothing stored yet)"
                )
                problems.append(f"{name}={value}{hint}")
    if f.metadata:
        keys, _pairs = metadata_summary(store, f)
        for key, value in f.metadata:
            if key not in keys:
                problems.append(f"{key}={value} (no invocation in the period has the key {key})")
    return problems


def filters_from_pairs(base: Filters, pairs: list[str]) -> Filters:
    """``KEY=VALUE`` pairs (CLI ``--filter``) onto filters; an unknown key is a metadata key."""
    values: dict[str, list[str]] = {name: list(getattr(base, name)) for name in LIST_FILTERS}
    meta = list(base.metadata)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserFacingError(
                f"--filter {pair!r} is not KEY=VALUE", "e.g. --filter team=search"
            )
        key = key.strip()
        if key.startswith("meta."):
            meta.append((key[5:], value))
        elif (name := filter_field(key)) is not None:
            values[name].append(value)
        else:
            meta.append((key, value))
    lists: dict[str, Any] = {k: tuple(v) for k, v in values.items()}
    return replace(base, metadata=tuple(meta), **lists)
