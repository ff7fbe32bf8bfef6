"""Every filter and every grouping of the registry against a plain-Python filter over the seeded
records — and proof that the comparison fails when a filter's SQL clause is taken away.

The seed has several values of every dimension, drawn independently (integrations, accounts,
regions, models of three routings and three service types, operations, roles and a user,
sessions, outcomes, service tiers, requestMetadata), so a filter that does nothing, or the wrong
thing, changes a count. The Python side derives each record's dimension values from what the
test wrote, never from our SQL or the registry's columns.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bedrock_explorer import dimensions, explorer
from bedrock_explorer.dimensions import BY_FIELD, DIMENSIONS, FILTERABLE
from bedrock_explorer.explorer import Filters
from bedrock_explorer.raw import RawBatch
from bedrock_explorer.store import Store
from bedrock_explorer.synthetic import RecordSpec, make_line

#: raw model id → (base model, service type, routing, provider), written out by hand
MODELS = {
    "amazon.nova-lite-v1:0": ("amazon.nova-lite-v1:0", "text", "in_region", "amazon"),
    "us.anthropic.claude-3-5-haiku-20241022-v1:0": (
        "anthropic.claude-3-5-haiku-20241022-v1:0",
        "text",
        "geo",
        "anthropic",
    ),
    "global.anthropic.claude-sonnet-4-5-20250929-v1:0": (
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "text",
        "global",
        "anthropic",
    ),
    "us.amazon.nova-lite-v1:0": ("amazon.nova-lite-v1:0", "text", "geo", "amazon"),
    "amazon.titan-embed-text-v2:0": (
        "amazon.titan-embed-text-v2:0",
        "embeddings",
        "in_region",
        "amazon",
    ),
    "amazon.nova-canvas-v1:0": ("amazon.nova-canvas-v1:0", "image", "in_region", "amazon"),
    "us.amazon.nova-2-lite-v1:0": ("amazon.nova-2-lite-v1:0", "text", "geo", "amazon"),
}
#: base model → the family it rolls up to, written out by hand (Nova Lite: two generations)
FAMILIES = {
    "amazon.nova-lite-v1:0": "Nova Lite",
    "amazon.nova-2-lite-v1:0": "Nova Lite",
    "anthropic.claude-3-5-haiku-20241022-v1:0": "Claude Haiku",
    "anthropic.claude-sonnet-4-5-20250929-v1:0": "Claude Sonnet",
    "amazon.titan-embed-text-v2:0": "Titan Text Embeddings",
    "amazon.nova-canvas-v1:0": "Nova Canvas",
}
ACCOUNTS = ("111111111111", "222222222222", "333333333333")
REGIONS = ("us-east-1", "eu-west-1", "ap-northeast-1")
#: (role or user name, session name or None)
CALLERS = (("app-0", "s-0"), ("app-0", "s-1"), ("app-1", "s-2"), ("alice", None))
START = date(2026, 3, 2)
DAYS = 6


@dataclass(frozen=True)
class Seeded:
    """One record: the spec written and every dimension's value, as the test knows them."""

    spec: RecordSpec
    values: dict[str, str | None]


def _values(spec: RecordSpec, integration: str, caller: tuple[str, str | None]) -> dict[str, Any]:
    base, service, routing, provider = MODELS[spec.model_id]
    if spec.error_code:
        outcome = "error"
    elif spec.guardrail_blocked:
        outcome = "guardrail_intervened"
    else:
        outcome = "success"
    tier = (
        "latency_optimized"
        if spec.latency_optimized
        else spec.service_tier
        if spec.service_tier
        else "standard"
    )
    return {
        "integration": integration,
        "account": spec.account_id,
        "region": spec.region,
        "model": base,
        "family": FAMILIES[base],
        "model id": spec.model_id,
        "service type": service,
        "operation": spec.operation,
        "routing": routing,
        "provider": provider,
        "identity": caller[0],
        "session": caller[1],
        "outcome": outcome,
        "tier": tier,
        "team": spec.request_metadata.get("team"),
    }


def _make(rng: random.Random, i: int) -> tuple[RecordSpec, str, tuple[str, str | None]]:
    model = rng.choice(list(MODELS))
    service = MODELS[model][1]
    account = rng.choice(ACCOUNTS)
    caller = rng.choice(CALLERS)
    name, session = caller
    arn = (
        f"arn:aws:sts::{account}:assumed-role/{name}/{session}"
        if session
        else f"arn:aws:iam::{account}:user/{name}"
    )
    ts = datetime.combine(START, datetime.min.time(), tzinfo=UTC) + timedelta(
        seconds=rng.randrange(DAYS * 86400)
    )
    kw: dict[str, Any] = {}
    if service == "text":
        kw["operation"] = rng.choice(("Converse", "ConverseStream"))
        kw.update(
            rng.choice(
                (
                    {},
                    {},
                    {"service_tier": "flex"},
                    {"service_tier": "priority"},
                    {"latency_optimized": True},
                )
            )
        )
        kw.update(rng.choice(({}, {}, {}, {"guardrail_blocked": True}, {"error_code": "X"})))
    elif service == "embedding":
        kw.update(operation="InvokeModel", embedding_dims=4, output_tokens=0)
        kw.update(rng.choice(({}, {}, {"error_code": "ValidationException"})))
    else:
        kw.update(operation="InvokeModel", images=1, output_tokens=0)
    team = rng.choice(("search", "support", "finance", None))
    spec = RecordSpec(
        request_id=f"req-{i:05d}",
        ts=ts,
        model_id=model,
        account_id=account,
        region=rng.choice(REGIONS),
        identity_arn=arn,
        input_tokens=rng.randint(10, 5000),
        request_metadata={"team": team} if team else {},
        **{"output_tokens": rng.randint(1, 900), **kw},
    )
    return spec, rng.choice(("prod", "staging")), caller


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, list[Seeded]]]:
    rng = random.Random(20260302)
    rows = [_make(rng, i) for i in range(600)]
    path: Path = tmp_path_factory.mktemp("filters") / "explorer.duckdb"
    with Store(path) as store:
        by_integration: dict[str, list[str]] = {}
        for spec, integration, _caller in rows:
            by_integration.setdefault(integration, []).append(make_line(spec))
        for name, lines in sorted(by_integration.items()):
            integ = store.add_integration(name, "local", {"paths": [name]})
            store.write_batch(integ.id, RawBatch(name, lines))
        yield store, [Seeded(s, _values(s, integ, caller)) for s, integ, caller in rows]


def everything(**kw: Any) -> Filters:
    return Filters(START, START + timedelta(days=DAYS - 1), **kw)


def _each_value(records: list[Seeded], dim: str) -> list[str]:
    return sorted({r.values[dim] for r in records if r.values[dim] is not None})  # type: ignore[type-var]


def _mismatch(store: Store, f: Filters, keep: Callable[[Seeded], bool], records: list[Seeded]):
    """What differs between the SQL answer for ``f`` and the Python filter (empty: none)."""
    picked = [r for r in records if keep(r)]
    frame = explorer.grouped(store, f, [])
    got = {
        "invocations": int(frame["invocations"].sum()),
        "input_tokens": int(frame["input_tokens"].sum()),
        "detail rows": explorer.detail_count(store, f),
    }
    want = {
        "invocations": len(picked),
        "input_tokens": sum(r.spec.input_tokens for r in picked),
        "detail rows": len(picked),
    }
    return {k: (got[k], want[k]) for k in got if got[k] != want[k]}


def _single_cases(records: list[Seeded]) -> Iterator[tuple[Filters, Callable[[Seeded], bool], str]]:
    """One case per value of every filterable dimension, and a two-value case each."""
    for dim in FILTERABLE:
        assert dim.field is not None
        values = _each_value(records, dim.name)
        assert len(values) >= 2, f"the seed needs several values of {dim.name}"
        for value in values:
            yield (
                everything(**{dim.field: (value,)}),
                lambda r, d=dim.name, v=value: r.values[d] == v,
                f"{dim.name}={value}",
            )
        two = tuple(values[:2])
        yield (
            everything(**{dim.field: two}),
            lambda r, d=dim.name, vs=two: r.values[d] in vs,
            f"{dim.name} in {two}",
        )


def test_the_seed_has_several_values_of_every_dimension(seeded) -> None:
    _store, records = seeded
    for dim in DIMENSIONS:
        assert len(_each_value(records, dim.name)) >= 2, dim.name
    # a roll-up that merges: two models of one family, both in the seed
    assert len(_each_value(records, "family")) < len(_each_value(records, "model"))


def test_every_filter_value_matches_a_python_filter(seeded) -> None:
    store, records = seeded
    for f, keep, label in _single_cases(records):
        kept = sum(keep(r) for r in records)
        assert kept > 0, label
        if "=" in label:  # one value of several: a lost clause would keep more
            assert kept < len(records), f"{label} keeps all: it would not notice a lost clause"
        assert not _mismatch(store, f, keep, records), label


def test_pairs_of_filters_match_a_python_filter(seeded) -> None:
    store, records = seeded
    firsts = {d.name: _each_value(records, d.name)[0] for d in FILTERABLE}
    for a, b in itertools.combinations(FILTERABLE, 2):
        assert a.field and b.field
        f = everything(**{a.field: (firsts[a.name],), b.field: (firsts[b.name],)})

        def keep(r: Seeded, a: str = a.name, b: str = b.name) -> bool:
            return r.values[a] == firsts[a] and r.values[b] == firsts[b]

        assert not _mismatch(store, f, keep, records), (a.name, b.name)


def test_metadata_filters_match_a_python_filter(seeded) -> None:
    store, records = seeded
    cases = [
        ((("team", "search"),), {"search"}),
        ((("team", "search"), ("team", "finance")), {"search", "finance"}),
    ]
    for meta, teams in cases:
        f = everything(metadata=meta)
        assert not _mismatch(store, f, lambda r, t=teams: r.values["team"] in t, records), meta


def test_every_grouping_matches_a_python_count(seeded) -> None:
    store, records = seeded
    for dim in DIMENSIONS:
        frame = explorer.grouped(store, everything(), [dim.name])
        got = dict(zip(frame[dim.name], frame["invocations"].astype(int), strict=True))
        want = Counter(str(r.values[dim.name] or "(none)") for r in records)
        if dim.name == "session":  # a user has no session: grouped under its ARN
            want = Counter(
                r.values["session"] or f"arn:aws:iam::{r.spec.account_id}:user/alice"
                for r in records
            )
        assert got == dict(want), dim.name
    frame = explorer.grouped(store, everything(), ["metadata"], meta_key="team")
    got = dict(zip(frame["metadata"], frame["invocations"].astype(int), strict=True))
    assert got == dict(Counter(r.values["team"] or "(none)" for r in records))


@pytest.mark.parametrize("name", [d.name for d in FILTERABLE])
def test_removing_a_filter_clause_fails_the_comparison(
    seeded, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mutation check, run every time: the dimension's clause replaced by one that keeps
    every row (the parameter still bound) must make the comparison above report a difference."""
    store, records = seeded
    real = dimensions.Dimension.filter_sql

    def without(self: dimensions.Dimension) -> str:
        return "(? IS NOT NULL)" if self.name == name else real(self)

    monkeypatch.setattr(dimensions.Dimension, "filter_sql", without)
    caught = [
        label
        for f, keep, label in _single_cases(records)
        if label.startswith(f"{name}=") and _mismatch(store, f, keep, records)
    ]
    assert caught, f"no check notices the {name} filter doing nothing"


def test_the_registry_and_the_filters_agree() -> None:
    list_fields = tuple(
        fl.name
        for fl in fields(Filters)
        if fl.name not in ("start", "end", "tz", "granularity", "window", "basis")
    )
    assert tuple(BY_FIELD) == explorer.LIST_FILTERS
    assert set(list_fields) == {*BY_FIELD, "metadata"}
    assert explorer.GROUP_BY[-1] == "metadata"
    assert len({d.name for d in DIMENSIONS}) == len(DIMENSIONS)


@pytest.mark.parametrize("dim", FILTERABLE, ids=lambda d: d.name)
def test_each_filter_travels_in_a_link_and_on_the_command_line(dim: dimensions.Dimension) -> None:
    assert dim.field
    f = everything(**{dim.field: ("a", "b")})
    params = f.to_params()
    assert params[dim.field] == ["a", "b"]
    assert Filters.from_params(params, everything()) == f
    for key in (dim.cli_key, dim.field, *dim.aliases):
        got = explorer.filters_from_pairs(everything(), [f"{key}=a", f"{key}=b"])
        assert got == f, key
    assert dim.field in f.describe()


def test_filter_options_offer_every_stored_value(seeded) -> None:
    store, records = seeded
    options = explorer.filter_options(store)
    assert list(options) == list(explorer.LIST_FILTERS)
    for dim in FILTERABLE:
        assert dim.field
        stored = set(_each_value(records, dim.name))
        assert stored <= set(options[dim.field]), dim.name
        if not dim.choices:
            assert set(options[dim.field]) == stored, dim.name


def test_an_unknown_cli_key_is_a_metadata_key() -> None:
    got = explorer.filters_from_pairs(everything(), ["team=search", "meta.region=x"])
    assert got == replace(everything(), metadata=(("team", "search"), ("region", "x")))


def test_metadata_keys_come_from_the_selection_most_used_first(tmp_path: Path) -> None:
    def spec(i: int, meta: dict[str, str]) -> RecordSpec:
        ts = datetime.combine(START, datetime.min.time(), tzinfo=UTC) + timedelta(hours=i)
        return RecordSpec(request_id=f"k-{i}", ts=ts, model_id="amazon.nova-lite-v1:0",
                          request_metadata=meta)  # fmt: skip

    with Store(tmp_path / "keys.duckdb") as store:
        a = store.add_integration("a", "local", {"paths": ["a"]})
        b = store.add_integration("b", "local", {"paths": ["b"]})
        store.write_batch(
            a.id, RawBatch("a", [make_line(spec(i, {"team": "x"})) for i in range(3)])
        )
        lines = [make_line(spec(10 + i, {"feature": "chat", "team": "y"})) for i in range(5)]
        store.write_batch(b.id, RawBatch("b", lines))
        keys, pairs = explorer.metadata_summary(store, everything())
        assert keys == ["team", "feature"]  # team on 8 invocations, feature on 5
        keys, pairs = explorer.metadata_summary(store, everything(integrations=("a",)))
        assert keys == ["team"] and pairs == ["team=x"]
        # its own metadata filter does not hide the other values of the key
        keys, pairs = explorer.metadata_summary(store, everything(metadata=(("team", "x"),)))
        assert pairs == ["feature=chat", "team=x", "team=y"]


def test_cached_filter_options_follow_every_write(tmp_path: Path) -> None:
    """The session's cache of stored values is read again after rows are added or deleted."""

    def write(store: Store, name: str, region: str) -> None:
        integ = store.add_integration(name, "local", {"paths": [name]})
        spec = RecordSpec(request_id=f"{name}-1", ts=datetime(2026, 3, 2, tzinfo=UTC),
                          model_id="amazon.nova-lite-v1:0", region=region)  # fmt: skip
        store.write_batch(integ.id, RawBatch(name, [make_line(spec)]))

    cache: dict[str, Any] = {}
    with Store(tmp_path / "options.duckdb") as store:
        write(store, "first", "eu-west-1")
        assert explorer.filter_options(store, cache)["regions"] == ["eu-west-1"]
        write(store, "second", "ap-south-1")
        assert explorer.filter_options(store, cache)["regions"] == ["ap-south-1", "eu-west-1"]
        assert explorer.filter_options(store, cache) == explorer.filter_options(store)
        store.remove_integration("second")
        assert explorer.filter_options(store, cache)["regions"] == ["eu-west-1"]
