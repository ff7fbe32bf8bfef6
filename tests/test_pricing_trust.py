"""Pricing trust: no silent $0 in any output, prices kept where rows are written, rates with
history, region fallbacks said aloud, and coverage of a public catalogue."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from bedrock_explorer import cli, queries
from bedrock_explorer.pricing import book, catalog, points
from bedrock_explorer.pricing.catalog import LAYER_LITELLM, RateRow
from bedrock_explorer.pricing.units import Meter, UnitPrice
from bedrock_explorer.raw import RawBatch
from bedrock_explorer.store import Store
from tests.conftest import line

M = 1_000_000
#: One row of each kind a cost can go silent on, with a priced neighbour (cost known exactly).
SEED = [
    dict(request_id="known", model_id="amazon.nova-pro-v1:0", input_tokens=M, output_tokens=0),
    dict(request_id="unknown", model_id="dummy-model-v1", input_tokens=320, output_tokens=300),
    dict(
        request_id="provisioned",
        model_id="arn:aws:bedrock:us-east-1:111122223333:provisioned-model/abc123",
        input_tokens=5000,
        output_tokens=100,
    ),
    dict(
        request_id="video",
        model_id="amazon.nova-reel-v1:1",
        operation="StartAsyncInvoke",
        input_tokens=0,
        output_tokens=0,
    ),
    dict(
        request_id="rerank",
        model_id="cohere.rerank-v3-5:0",
        operation="Rerank",
        input_tokens=0,
        output_tokens=0,
    ),
    dict(request_id="tiny", model_id="amazon.nova-micro-v1:0", input_tokens=0, output_tokens=1),
]
SILENT = {
    "dummy-model-v1": "unpriced",
    "arn:aws:bedrock:us-east-1:111122223333:provisioned-model/abc123": (
        "provisioned (billed per hour)"
    ),
    "amazon.nova-reel-v1:1": "unpriced",
    "cohere.rerank-v3-5:0": "unpriced",
}


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    path = tmp_path / "trust.duckdb"
    with Store(path) as store:
        integ = store.add_integration("prod", "local")
        store.write_batch(integ.id, RawBatch("seed", [line(**spec) for spec in SEED]))
    return path


def _nova_pro_from(store: Store, regions: dict[str, str]) -> None:
    """One Nova Pro call of 1M input tokens per request id, from the region given."""
    integ = store.add_integration("x", "local")
    spec = dict(model_id="amazon.nova-pro-v1:0", input_tokens=M, output_tokens=0)
    lines = [line(request_id=rid, region=region, **spec) for rid, region in regions.items()]
    store.write_batch(integ.id, RawBatch("s", lines))


def _cli(path: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = cli.main(["--db", str(path), *argv])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def _report(path: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    return _cli(path, capsys, "report", "--from", "2025-05-01", "--to", "2025-07-01", *argv)


def test_grouped_csv_has_a_status_and_an_empty_cost_for_what_has_no_price(
    seeded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = list(csv.DictReader(io.StringIO(_report(seeded, capsys, "--group-by", "model_id"))))
    by_id = {r["model id"]: r for r in rows}
    for model_id, status in SILENT.items():
        assert by_id[model_id]["price_status"] == status
        assert by_id[model_id]["cost_usd"] == ""  # empty, not 0
    assert by_id["amazon.nova-pro-v1:0"]["cost_usd"] == "0.8"
    assert by_id["amazon.nova-micro-v1:0"]["cost_usd"] == "0.00000014"  # not 0.00000000


def test_grouped_json_and_table_say_unpriced_not_zero(
    seeded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(_report(seeded, capsys, "--group-by", "model_id", "--format", "json"))
    by_id = {r["model id"]: r for r in data}
    for model_id, status in SILENT.items():
        assert by_id[model_id]["price_status"] == status
        assert by_id[model_id]["cost_usd"] is None
    assert by_id["amazon.nova-micro-v1:0"]["cost_usd"] == pytest.approx(1.4e-7)
    table = _report(seeded, capsys, "--group-by", "model_id", "--format", "table")
    dummy = next(r for r in table.splitlines() if r.strip().startswith("dummy-model-v1"))
    assert "unpriced" in dummy and "0.0" not in dummy
    micro = next(r for r in table.splitlines() if "nova-micro" in r)
    assert "$0.000000140" in micro


def test_detail_csv_has_a_status_and_an_empty_cost_per_invocation(
    seeded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = list(csv.DictReader(io.StringIO(_report(seeded, capsys, "--detail"))))
    by_id = {r["request_id"]: r for r in rows}
    assert by_id["known"]["cost_usd"] == "0.8" and by_id["known"]["price_status"] == "priced"
    for request_id in ("unknown", "provisioned", "video", "rerank"):
        assert by_id[request_id]["cost_usd"] == "", request_id
        assert by_id[request_id]["price_status"] != "priced"


def test_headline_total_of_only_unpriced_usage_is_unknown_not_zero(seeded: Path) -> None:
    from bedrock_explorer import explorer

    with Store(seeded) as store:
        f = explorer.Filters(date(2025, 5, 1), date(2025, 7, 1), models=("dummy-model-v1",))
        head = explorer.headline(store, f)
        assert head["price_status"] == "unpriced" and not head["cost_known"]
        assert head["cost_per_1k"] is None  # no priced invocation to divide by
        # the period before held only unpriced usage: its cost is unknown, not $0
        later = explorer.Filters(date(2025, 6, 2), date(2025, 6, 2), models=("dummy-model-v1",))
        assert explorer.headline(store, later)["previous_cost"] is None
        assert explorer.total_cost(explorer.grouped(store, f, ["model"])["cost"]) is None
        f = explorer.Filters(date(2025, 5, 1), date(2025, 7, 1))
        head = explorer.headline(store, f)
        assert head["price_status"] == "partly unpriced"
        assert explorer.total_cost(explorer.grouped(store, f, ["model"])["cost"]) == (
            pytest.approx(0.8 + 1.4e-7)
        )
        # $0.80 + $0.00000014 over the 2 priced invocations, not over all 6
        assert head["priced_invocations"] == 2
        assert head["cost_per_1k"] == pytest.approx((0.8 + 1.4e-7) / 2 * 1000)


def test_demo_then_stats_shows_every_demo_integration_cost_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "demo.duckdb"
    _cli(path, capsys, "demo", "--days", "3")
    stats = json.loads(_cli(path, capsys, "stats", "--json"))["integrations"]
    assert len(stats) == 3
    for row in stats:
        assert row["cost_usd"] is not None and row["cost_usd"] > 0, row
        assert row["price_status"] in ("priced", "partly unpriced")


def test_rows_are_priced_in_the_transaction_that_stores_them(tmp_path: Path) -> None:
    with Store(tmp_path / "w.duckdb") as store:
        integ = store.add_integration("x", "local")
        lines = [
            line(request_id="a", model_id="amazon.nova-pro-v1:0", region="eu-west-1"),
            line(request_id="b", model_id="amazon.nova-pro-v1:0", region="us-east-1"),
            line(request_id="c", model_id="us.amazon.nova-2-lite-v1:0", service_tier="flex"),
        ]
        store.write_batch(integ.id, RawBatch("s", lines))
        keys = set(store.con.execute("SELECT model_id, region, tier FROM price_points").fetchall())
    assert keys >= {
        ("amazon.nova-pro-v1:0", "eu-west-1", "standard"),
        ("amazon.nova-pro-v1:0", "us-east-1", "standard"),
        ("us.amazon.nova-2-lite-v1:0", "us-east-1", "flex"),
    }


def test_a_region_without_its_own_rate_is_priced_at_the_us_list_price_and_says_so(
    tmp_path: Path,
) -> None:
    with Store(tmp_path / "r.duckdb") as store:
        _nova_pro_from(store, {"sa": "sa-east-1", "eu": "eu-west-1"})
        rows = {
            r[0]: r[1:]
            for r in store.con.execute(
                f"SELECT request_id, cost, price_source FROM ({queries.PRICED})"
            ).fetchall()
        }
    assert rows["sa"][0] == pytest.approx(0.80)
    assert "US list price: no sa-east-1 rate known" in rows["sa"][1]
    assert rows["eu"][0] == pytest.approx(1.05)
    assert "eu rate" in rows["eu"][1]


def test_long_context_rates_apply_only_in_the_period_that_has_them(tmp_path: Path) -> None:
    def rate(meter: Meter, usd: str, threshold: int = 0, start: date = catalog.OPEN_START):
        return RateRow(
            1, "test", None, None, "acme.long-v1:0", "any", "standard", meter,
            UnitPrice.per_million_tokens(usd), min_input_tokens=threshold, effective_from=start,
        )  # fmt: skip

    with Store(tmp_path / "lc.duckdb") as store:
        book.insert_rates(
            store,
            [
                rate(Meter.INPUT, "1"),
                rate(Meter.INPUT, "2", threshold=200_000, start=date(2026, 1, 1)),
            ],
        )
        integ = store.add_integration("x", "local")
        before = line(
            request_id="2025", model_id="acme.long-v1:0", input_tokens=300_000, output_tokens=0
        )
        after = line(
            request_id="2026",
            model_id="acme.long-v1:0",
            input_tokens=300_000,
            output_tokens=0,
            ts=pd.Timestamp("2026-02-01T00:00:00Z").to_pydatetime(),
        )
        store.write_batch(integ.id, RawBatch("s", [before, after]))
        book.compile_price_points(store)
        rows = {
            r[0]: r[1:]
            for r in store.con.execute(
                f"SELECT request_id, cost, price_status, unpriced_tokens FROM ({queries.PRICED})"
            ).fetchall()
        }
    assert rows["2025"] == (pytest.approx(0.30), "priced", 0)  # no long-context rate yet
    assert rows["2026"][:2] == (pytest.approx(0.60), "priced")


def test_an_upgrade_adds_a_period_and_keeps_the_past(tmp_path: Path) -> None:
    with Store(tmp_path / "u.duckdb", today=date(2026, 1, 10)) as store:
        old = [
            r
            for r in store.con.execute(
                "SELECT count(*) FROM rates WHERE layer = ? AND model_key = 'amazon.nova-pro-v1:0'",
                [LAYER_LITELLM],
            ).fetchall()
        ]
        assert old[0][0] > 0
        # The next package version lowers the default Nova Pro input rate from its release date.
        upgraded = [
            replace(r, price=UnitPrice.per_million_tokens("0.70"), as_of=date(2026, 3, 1))
            if (
                r.layer == LAYER_LITELLM
                and r.model_key == "amazon.nova-pro-v1:0"
                and r.region == "*"
                and r.meter == Meter.INPUT
                and r.tier == "standard"
            )
            else r
            for r in catalog.builtin_rates()
        ]
        assert points.refresh_builtin_rates(
            store.con, date(2026, 3, 5), rates=upgraded, version="v2"
        )
        periods = store.con.execute(
            "SELECT effective_from, effective_to, usd_per_unit * 1000000 FROM rates "
            "WHERE layer = ? AND model_key = 'amazon.nova-pro-v1:0' AND region = '*' "
            "AND meter = 'input' AND tier = 'standard' ORDER BY effective_from",
            [LAYER_LITELLM],
        ).fetchall()
        assert periods == [
            (catalog.OPEN_START, date(2026, 3, 1), Decimal("0.8")),
            (date(2026, 3, 1), None, Decimal("0.7")),
        ]
        # the same version again changes nothing
        assert not points.refresh_builtin_rates(store.con, date(2026, 3, 6), version="v2")


def test_an_earlier_override_added_after_a_later_one_ends_where_the_later_starts(
    tmp_path: Path,
) -> None:
    with Store(tmp_path / "o.duckdb") as store:
        key = "amazon.nova-pro-v1:0"
        book.set_override(
            store, key, {Meter.INPUT: Decimal("0.5")}, effective_from=date(2026, 6, 1)
        )
        book.set_override(
            store, key, {Meter.INPUT: Decimal("0.6")}, effective_from=date(2026, 1, 1)
        )
        rows = store.con.execute(
            "SELECT effective_from, effective_to FROM rates WHERE layer = 1 ORDER BY 1"
        ).fetchall()
    assert rows == [(date(2026, 1, 1), date(2026, 6, 1)), (date(2026, 6, 1), None)]


def test_an_override_for_one_region_prices_only_that_region(tmp_path: Path) -> None:
    with Store(tmp_path / "o.duckdb") as store:
        _nova_pro_from(store, {"eu": "eu-west-1", "us": "us-east-1"})
        book.set_override(
            store,
            "amazon.nova-pro-v1:0",
            {Meter.INPUT: Decimal("0.9")},
            effective_from=date(2025, 1, 1),
            region="eu-west-1",
        )
        costs = dict(
            store.con.execute(f"SELECT request_id, cost FROM ({queries.PRICED})").fetchall()
        )
    assert costs == {"eu": pytest.approx(0.90), "us": pytest.approx(0.80)}


def test_prices_coverage_is_at_least_95_percent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = json.loads(_cli(tmp_path / "c.duckdb", capsys, "prices", "coverage", "--json"))
    assert report["model_ids"] >= 400
    assert report["percent"] >= 95, report["missing"]
    assert (
        cli.main(["--db", str(tmp_path / "c.duckdb"), "prices", "coverage", "--min", "99.9"]) == 1
    )


def test_the_tier_filter_and_dimension_select_by_service_tier(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bedrock_explorer import explorer

    path = tmp_path / "t.duckdb"
    with Store(path) as store:
        integ = store.add_integration("x", "local")
        spec = dict(model_id="us.amazon.nova-2-lite-v1:0", input_tokens=M, output_tokens=0)
        lines = [
            line(request_id="s1", **spec),
            line(request_id="f1", service_tier="flex", **spec),
            line(request_id="f2", service_tier="flex", **spec),
            line(request_id="p1", service_tier="priority", **spec),
        ]
        store.write_batch(integ.id, RawBatch("s", lines))
        f = explorer.Filters(date(2025, 5, 1), date(2025, 7, 1), tiers=("flex",))
        head = explorer.headline(store, f)
        assert head["invocations"] == 2
        assert head["cost"] == pytest.approx(2 * 0.165)
        by_tier = explorer.grouped(store, replace(f, tiers=()), ["tier"]).set_index("tier")
        assert by_tier["invocations"].to_dict() == {"standard": 1, "flex": 2, "priority": 1}
        assert by_tier.loc["priority", "cost"] == pytest.approx(0.5775)
    rows = list(csv.DictReader(io.StringIO(_report(path, capsys, "--filter", "tier=priority"))))
    assert [r["invocations"] for r in rows] == ["1"]
