"""Demo data: deterministic, realistic, loaded through the real parse → store path, removable."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from bedrock_explorer import demo
from bedrock_explorer.store import Store

END = date(2026, 3, 31)
UNTIL = datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("demo") / "demo.duckdb")
    demo.load_demo(store, end=END)
    return store


def _one(store: Store, sql: str) -> object:
    return store.con.execute(sql).fetchall()[0][0]


def test_generation_is_deterministic() -> None:
    acct = demo.ACCOUNTS[0]
    first = [b.lines for b in demo.generate(acct, END, days=5, until=UNTIL)]
    again = [b.lines for b in demo.generate(acct, END, days=5, until=UNTIL)]
    assert first == again
    other_seed = [b.lines for b in demo.generate(acct, END, days=5, seed=1, until=UNTIL)]
    assert other_seed != first


def test_never_an_invocation_from_the_future() -> None:
    now = datetime(2026, 3, 31, 10, 30, tzinfo=UTC)
    lines = [x for b in demo.generate(demo.ACCOUNTS[0], END, days=2, until=now) for x in b.lines]
    stamps = [
        json.loads(x)["timestamp"]
        for x in lines
        if x.startswith('{"schemaType"') and '"timestamp":"2026' in x
    ]
    assert len(stamps) > 100
    assert max(stamps) <= "2026-03-31T10:30:00Z"
    assert min(stamps) < "2026-03-31T00:00:00Z"


def test_three_labelled_demo_integrations(demo_store: Store) -> None:
    integrations = demo_store.list_integrations()
    assert len(integrations) == 3 and all(i.is_demo and i.kind == "demo" for i in integrations)
    assert all(i.name.startswith("Demo") for i in integrations)
    assert _one(demo_store, "SELECT count(DISTINCT account_id) FROM invocations") == 3


def test_realistic_shape(demo_store: Store) -> None:
    assert 40_000 < _one(demo_store, "SELECT count(*) FROM invocations") < 120_000
    assert _one(demo_store, "SELECT count(DISTINCT region) FROM invocations") >= 3
    assert (
        _one(demo_store, "SELECT count(DISTINCT coalesce(base_model, model_id)) FROM model_ids")
        >= 12
    )
    routings = {
        r[0] for r in demo_store.con.execute("SELECT DISTINCT routing FROM model_ids").fetchall()
    }
    assert {"in_region", "geo", "global", "application_profile"} <= routings
    services = {
        r[0]
        for r in demo_store.con.execute("SELECT DISTINCT service_type FROM model_ids").fetchall()
    }
    assert {"text", "embeddings", "image"} <= services
    # ~20 identities: 13 users and roles, plus one gateway role with a session per tenant user
    assert (
        _one(
            demo_store,
            "SELECT count(DISTINCT principal_name) FROM invocations "
            "JOIN identities USING (identity_arn)",
        )
        >= 13
    )
    assert (
        _one(
            demo_store,
            "SELECT count(DISTINCT session_name) FROM invocations "
            "JOIN identities USING (identity_arn) "
            "WHERE principal_name = 'llm-gateway'",
        )
        >= 20
    )
    keys = {
        r[0]
        for r in demo_store.con.execute(
            "SELECT DISTINCT unnest(map_keys(request_metadata)) FROM invocations"
        ).fetchall()
    }
    assert {"team", "feature", "tenant"} <= keys
    assert _one(demo_store, "SELECT sum(cache_read_tokens) FROM invocations") > 0
    assert _one(demo_store, "SELECT sum(cache_write_1h_tokens) FROM invocations") > 0
    assert (
        _one(demo_store, "SELECT count(*) FROM invocations WHERE outcome = 'guardrail_intervened'")
        > 50
    )
    assert _one(demo_store, "SELECT count(*) FROM quarantine") == 15


def test_weekday_rhythm_and_one_spike(demo_store: Store) -> None:
    per_day = demo_store.query_df(
        "SELECT CAST(ts AS DATE) AS day, count(*) AS n FROM invocations GROUP BY ALL ORDER BY day"
    )
    per_day["weekend"] = [d.weekday() >= 5 for d in per_day["day"]]
    weekday = per_day[~per_day.weekend].n.median()
    weekend = per_day[per_day.weekend].n.median()
    assert weekend < 0.6 * weekday
    research = demo_store.query_df(
        "SELECT CAST(ts AS DATE) AS day, sum(input_tokens + output_tokens) AS tokens "
        "FROM invocations WHERE request_metadata['team'] = 'research' GROUP BY ALL"
    )
    top = research.sort_values("tokens").iloc[-1]
    assert (END - top.day.date()).days == demo.SPIKE_DAYS_BEFORE_END
    assert top.tokens > 5 * research.tokens.median()


def test_prompt_canaries_are_not_stored(demo_store: Store) -> None:
    for table in ("invocations", "quarantine", "integrations", "model_ids"):
        frame = demo_store.query_df(f"SELECT * FROM {table}")
        assert "DEMO-PROMPT-CANARY" not in frame.to_csv()
        assert "DEMO-RESPONSE-CANARY" not in frame.to_csv()


def test_reload_replaces_and_remove_deletes_and_is_remembered(tmp_path) -> None:
    with Store(tmp_path / "d.duckdb") as store:
        assert demo.should_autoload(store)
        first = demo.load_demo(store, end=END, days=3)
        second = demo.load_demo(store, end=END, days=3)
        assert first.inserted == second.inserted
        assert _one(store, "SELECT count(*) FROM invocations") == first.inserted
        store.add_integration("mine", "local")
        assert demo.remove_demo(store) == first.inserted
        assert [i.name for i in store.list_integrations()] == ["mine"]
        store.remove_integration("mine")
        assert not demo.should_autoload(store)
