"""The Explorer's figures: charts, grouped CSV, detail CSV and an independent computation agree.

The independent side prices the seeded records in plain Python with AWS's published on-demand
prices written out below (not read from our catalogue), so a wrong rate, a wrong unit or a lost
row shows up as a difference in cents.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from bedrock_explorer import explorer, export
from bedrock_explorer.cli import main
from bedrock_explorer.explorer import Filters
from bedrock_explorer.raw import RawBatch
from bedrock_explorer.store import Store
from bedrock_explorer.synthetic import RecordSpec, make_line
from tests.aws_seed import Seeded, make_records
from tests.clock import NOW, TODAY

#: USD per 1M tokens (input, output), aws.amazon.com/bedrock/pricing, on-demand, us-east-1.
PUBLISHED = {
    "us.anthropic.claude-3-5-haiku-20241022-v1:0": (Decimal("0.80"), Decimal("4.00")),
    "anthropic.claude-3-haiku-20240307-v1:0": (Decimal("0.25"), Decimal("1.25")),
    "amazon.nova-lite-v1:0": (Decimal("0.06"), Decimal("0.24")),
    "amazon.nova-pro-v1:0": (Decimal("0.80"), Decimal("3.20")),
}

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")


def expected_cost(specs: list[RecordSpec]) -> Decimal:
    total = Decimal(0)
    for s in specs:
        rate_in, rate_out = PUBLISHED[s.model_id]
        total += (s.input_tokens * rate_in + s.output_tokens * rate_out) / Decimal(1_000_000)
    return total


@pytest.fixture
def seeded(store: Store) -> Seeded:
    records = make_records(2000, start=NOW - timedelta(days=9), end=NOW - timedelta(minutes=1))
    integ = store.add_integration("prod", "local", {"paths": ["seed"]})
    store.write_batch(integ.id, RawBatch("seed", records.lines))
    return records


def whole(**kw: object) -> Filters:
    # A day of margin on each side: in a zone ahead of UTC (Asia/Kolkata, +5:30) the newest
    # records fall on tomorrow's local date from 18:30 UTC on, whatever the wall clock says.
    return Filters(TODAY - timedelta(days=11), TODAY + timedelta(days=1), **kw)  # type: ignore[arg-type]


def cents(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def test_every_view_agrees_with_an_independent_computation(store: Store, seeded: Seeded) -> None:
    f = whole()
    truth = cents(expected_cost(seeded.specs))
    head = explorer.headline(store, f)
    assert cents(head["cost"]) == truth and head["invocations"] == 2000
    assert head["unpriced_tokens"] == 0
    for by in (["model"], ["service type"], ["identity"], ["integration", "region"]):
        assert cents(explorer.grouped(store, f, by)["cost"].sum()) == truth, by
    over_time = explorer.over_time(store, f, "model", n=2)
    assert cents(over_time["cost"].sum()) == truth
    assert len(set(over_time["model"])) == 3 and "Other" in set(over_time["model"])
    assert cents(explorer.grouped(store, f, ["metadata"], meta_key="team")["cost"].sum()) == truth
    assert cents(explorer.by_meter(head)["cost"].sum()) == truth
    grouped_rows = list(csv.DictReader(io.StringIO(export.grouped_csv(
        explorer.grouped(store, f, ["model"], time_bucket=True), ["model"]))))  # fmt: skip
    assert cents(sum(Decimal(r["cost_usd"]) for r in grouped_rows)) == truth
    detail = io.StringIO()
    assert export.write_detail_csv(store, f, detail) == 2000
    rows = list(csv.DictReader(io.StringIO(detail.getvalue())))
    assert cents(sum(Decimal(r["cost_usd"]) for r in rows)) == truth
    assert {r["request_id"] for r in rows} == {s.request_id for s in seeded.specs}


def test_per_model_figures_match_the_published_prices(store: Store, seeded: Seeded) -> None:
    frame = explorer.grouped(store, whole(), ["model id"]).set_index("model id")
    for model_id in PUBLISHED:
        specs = [s for s in seeded.specs if s.model_id == model_id]
        assert cents(frame.loc[model_id, "cost"]) == cents(expected_cost(specs)), model_id
        assert frame.loc[model_id, "invocations"] == len(specs)


def test_filter_combinations_match_a_python_filter(store: Store, seeded: Seeded) -> None:
    cases = [
        (whole(models=("amazon.nova-lite-v1:0",)), lambda s: s.model_id == "amazon.nova-lite-v1:0"),
        (whole(metadata=(("team", "search"),)), lambda s: s.request_metadata["team"] == "search"),
        (
            whole(metadata=(("team", "search"), ("team", "finance"))),
            lambda s: s.request_metadata["team"] in ("search", "finance"),
        ),
        (
            whole(models=("anthropic.claude-3-5-haiku-20241022-v1:0",), identities=("app-1",)),
            lambda s: "claude-3-5-haiku" in s.model_id and "/app-1/" in s.identity_arn,
        ),
        (whole(routings=("geo",)), lambda s: s.model_id.startswith("us.")),
        (whole(sessions=("session-3",)), lambda s: s.identity_arn.endswith("/session-3")),
    ]
    for filters, keep in cases:
        specs = [s for s in seeded.specs if keep(s)]
        head = explorer.headline(store, filters)
        assert head["invocations"] == len(specs), filters
        assert cents(head["cost"]) == cents(expected_cost(specs)), filters
        assert explorer.detail_count(store, filters) == len(specs)


def test_an_empty_selection_is_empty_not_an_error(store: Store, seeded: Seeded) -> None:
    for filters in (
        whole(models=("no-such-model",)),
        whole(metadata=(("team", "nobody"),)),
        Filters(date(2001, 1, 1), date(2001, 1, 31)),
    ):
        assert explorer.headline(store, filters)["invocations"] == 0
        assert explorer.grouped(store, filters, ["model"]).empty
        assert explorer.detail_page(store, filters).empty
        out = io.StringIO()
        assert export.write_detail_csv(store, filters, out) == 0
        assert out.getvalue().startswith("time,integration,request_id")


def test_days_follow_the_display_time_zone(store: Store) -> None:
    integ = store.add_integration("tz", "local", {})
    late = datetime(2025, 3, 1, 22, 30, tzinfo=UTC)  # 07:30 on 2 March in Tokyo
    line = make_line(RecordSpec("tz-1", late, "amazon.nova-lite-v1:0"))
    store.write_batch(integ.id, RawBatch("x", [line]))
    utc = explorer.grouped(store, Filters(date(2025, 3, 1), date(2025, 3, 2)), [], time_bucket=True)
    tokyo = explorer.grouped(
        store, Filters(date(2025, 3, 1), date(2025, 3, 2), tz="Asia/Tokyo"), [], time_bucket=True
    )
    assert (
        str(utc["bucket"][0])[:10] == "2025-03-01" and str(tokyo["bucket"][0])[:10] == "2025-03-02"
    )
    only_first = Filters(date(2025, 3, 2), date(2025, 3, 2), tz="Asia/Tokyo")
    assert explorer.headline(store, only_first)["invocations"] == 1


def test_previous_period_and_change(store: Store, seeded: Seeded) -> None:
    # a finished period: the four whole days before it (the seed starts 9 days back)
    done = Filters(TODAY - timedelta(days=4), TODAY - timedelta(days=1))
    head = explorer.headline(store, done, now=NOW)
    before = explorer.headline(store, done.previous(), now=NOW)
    assert done.previous().end == done.start - timedelta(days=1)
    assert head["previous_cost"] == pytest.approx(before["cost"]) and before["cost"] > 0
    assert head["cost_change"] == pytest.approx((head["cost"] - before["cost"]) / before["cost"])
    # a period still running (ends today, at 20:20): the same 3 days 20 h 20 min before it
    running = Filters(TODAY - timedelta(days=3), TODAY)
    head = explorer.headline(store, running, now=NOW)
    lo = datetime.combine(running.start - timedelta(days=4), datetime.min.time())
    cut = lo + (NOW.replace(tzinfo=None) - datetime.combine(running.start, datetime.min.time()))
    same_time = explorer.grouped(store, replace(running, window=(lo, cut)), [])
    assert head["previous_invocations"] == same_time["invocations"].sum() > 0
    assert "the same elapsed time" in head["comparison"] and head["partial"]


def test_filters_round_trip_through_the_url() -> None:
    f = Filters(
        date(2026, 1, 1),
        date(2026, 1, 31),
        tz="Europe/Paris",
        granularity="week",
        models=("amazon.nova-lite-v1:0", "x"),
        metadata=(("team", "a=b"),),
    )
    assert Filters.from_params(f.to_params(), whole()) == f
    junk = {"from": "2026-13-45", "granularity": "decade", "tz": "Mars/Olympus"}
    problems: list[str] = []
    assert Filters.from_params(junk, whole(), problems) == whole()
    assert [p.split(":")[0] for p in problems] == ["from", "tz", "granularity"]


def test_a_preset_in_a_link_stays_relative() -> None:
    f = Filters(date(2026, 11, 2), date(2026, 12, 1), models=("m",))
    params = f.to_params("last 30 days")
    assert params == {"period": "last-30-days", "models": ["m"]}  # no dates to freeze
    later = Filters.from_params(params, whole(), today=date(2027, 1, 31))
    assert (later.start, later.end, later.models) == (date(2027, 1, 2), date(2027, 1, 31), ("m",))
    assert Filters.from_params(f.to_params(), whole()) == f  # a custom range keeps its dates


def test_presets() -> None:
    today = date(2026, 3, 15)
    assert explorer.preset("last 7 days", today) == (date(2026, 3, 9), today)
    assert explorer.preset("month to date", today) == (date(2026, 3, 1), today)
    assert explorer.preset("last month", today) == (date(2026, 2, 1), date(2026, 2, 28))


def test_csv_cells_cannot_run_as_formulas(store: Store) -> None:
    integ = store.add_integration("evil", "local", {})
    spec = RecordSpec(
        "req-evil",
        datetime.now(UTC) - timedelta(hours=1),
        "amazon.nova-lite-v1:0",
        identity_arn="arn:aws:sts::111122223333:assumed-role/app/=HYPERLINK(1)",
        request_metadata={"team": "+cmd|calc"},
    )
    store.write_batch(integ.id, RawBatch("x", [make_line(spec)]))
    out = io.StringIO()
    export.write_detail_csv(store, whole(), out)
    row = next(csv.DictReader(io.StringIO(out.getvalue())))
    assert row["session"] == "'=HYPERLINK(1)"
    grouped = explorer.grouped(store, whole(), ["metadata"], meta_key="team")
    assert "'+cmd|calc" in export.grouped_csv(grouped, ["metadata"])
    assert float(row["cost_usd"]) > 0, "numbers stay numbers"


def test_file_names_carry_the_range_and_filters() -> None:
    f = whole(models=("amazon.nova-lite-v1:0",), metadata=(("team", "search"),))
    name = export.file_name("cost", f, ["model", "day"])
    assert name.startswith("bedrock-cost_by-model-day_")
    assert "models-amazon.nova-lite-v1-0" in name and "team-search" in name
    assert name.endswith(".csv") and "/" not in name


def test_cli_report_matches_the_grouped_query(
    store: Store, seeded: Seeded, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store.close()
    argv = ["--db", str(db_path), "report", "--group-by", "model,day",
            "--from", str(TODAY - timedelta(days=10)), "--to", str(TODAY),
            "--filter", "team=search"]  # fmt: skip
    assert main(argv) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    specs = [s for s in seeded.specs if s.request_metadata["team"] == "search"]
    assert cents(sum(Decimal(r["cost_usd"]) for r in rows)) == cents(expected_cost(specs))
    assert {"period", "model"} <= set(rows[0])
    assert main([*argv, "--format", "table"]) == 0
    assert "Total: $" in capsys.readouterr().out
    out = db_path.parent / "detail.csv"
    assert main([*argv[:-2], "--detail", "--output", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 2001


# -- the page ---------------------------------------------------------------------------------


@pytest.fixture
def app(seeded: Seeded, store: Store, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    store.close()
    monkeypatch.setenv("BEDROCK_EXPLORER_DB", str(db_path))
    return AppTest.from_file(APP, default_timeout=90)


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_page_shows_the_same_total_and_follows_the_url(app: AppTest, seeded: Seeded) -> None:
    app.query_params["models"] = ["amazon.nova-lite-v1:0"]
    app.run()
    assert not app.exception
    specs = [s for s in seeded.specs if s.model_id == "amazon.nova-lite-v1:0"]
    assert _metrics(app)["Total cost"] == f"${cents(expected_cost(specs)):,}"
    assert _metrics(app)["Invocations"] == f"{len(specs):,}"
    assert app.multiselect(key="ex_models").value == ["amazon.nova-lite-v1:0"]
    app.multiselect(key="ex_models").set_value([]).run()
    assert _metrics(app)["Total cost"] == f"${cents(expected_cost(seeded.specs)):,}"
    assert "models" not in app.query_params
    assert app.selectbox(key="ex_preset").value == "last 30 days"
    app.query_params["models"] = ["amazon.nova-pro-v1:0"]  # a shared link opened later
    app.run()
    nova_pro = [s for s in seeded.specs if s.model_id == "amazon.nova-pro-v1:0"]
    assert _metrics(app)["Total cost"] == f"${cents(expected_cost(nova_pro)):,}"
    charts = [c for c in app.get("plotly_chart")]
    assert len(charts) >= 5


def test_page_empty_selection_shows_a_helpful_state(app: AppTest) -> None:
    app.query_params["meta"] = ["team=nobody"]
    app.run()
    assert not app.exception
    assert any("No invocations between" in i.value for i in app.info)


def test_grouped_table_on_the_page_totals_to_the_headline(app: AppTest, seeded: Seeded) -> None:
    app.run()
    app.multiselect(key="ex_group").set_value(["identity", "model"]).run()
    table = next(d.value for d in app.dataframe if "Price status" in d.value.columns)
    assert list(table.columns[:5]) == [
        "Identity", "Model", "Model name", "Cost (USD)", "Price status",
    ]  # fmt: skip
    names = dict(zip(table["Model"], table["Model name"], strict=True))
    assert names["amazon.nova-lite-v1:0"] == "Nova Lite"  # from genai-prices, not typed here
    assert names["anthropic.claude-3-5-haiku-20241022-v1:0"] == "Claude Haiku 3.5"
    rows, total = table.iloc[:-1], table.iloc[-1]
    assert total["Identity"] == "Total" and total["Invocations"] == 2000
    assert cents(rows["Cost (USD)"].sum()) == cents(total["Cost (USD)"])
    assert cents(total["Cost (USD)"]) == cents(expected_cost(seeded.specs))


def test_rolled_up_answers_equal_fresh_ones(store: Store, seeded: Seeded) -> None:
    f = whole(tz="Asia/Kolkata")  # a half-hour offset: summed by 15-minute UTC buckets
    memo: dict = {}
    explorer.over_time(store, f, "model", memo=memo)
    for by, bucket in (([], False), (["model"], False), (["model"], True), ([], True)):
        rolled = explorer.grouped(store, f, by, time_bucket=bucket, memo=memo)
        fresh = explorer.grouped(store, f, by, time_bucket=bucket)
        keys = (["bucket"] if bucket else []) + by
        if keys:
            rolled, fresh = (x.sort_values(keys).reset_index(drop=True) for x in (rolled, fresh))
        assert rolled["invocations"].tolist() == fresh["invocations"].tolist()
        assert rolled["cost"].round(9).tolist() == fresh["cost"].round(9).tolist()


def test_local_days_in_a_half_hour_zone_match_python(store: Store, seeded: Seeded) -> None:
    from zoneinfo import ZoneInfo

    f = whole(tz="Asia/Kolkata")
    frame = explorer.grouped(store, f, [], time_bucket=True)
    got = {str(b)[:10]: n for b, n in zip(frame["bucket"], frame["invocations"], strict=True)}
    expected: dict[str, int] = {}
    for s in seeded.specs:
        day = s.ts.astimezone(ZoneInfo("Asia/Kolkata")).date().isoformat()
        expected[day] = expected.get(day, 0) + 1
    assert got == expected


def test_the_header_flags_a_stale_or_failing_integration_of_the_selection(
    app: AppTest, db_path: Path
) -> None:
    with Store(db_path) as store:
        prod = store.get_integration("prod")
        store.con.execute(
            "UPDATE integrations SET last_sync_status = 'ok', "
            "last_success_at = TIMESTAMP '2020-01-01 08:00' WHERE id = ?",
            [prod.id],
        )
        staging = store.add_integration("staging", "local", {"paths": ["seed"]})
        store.set_sync_status(staging.id, "error", "AWS denied access while reading …")
    app.run()
    warnings = [w.value for w in app.warning]
    assert any("prod: stale — data up to 2020-01-01 08:00 UTC" in w for w in warnings), warnings
    assert any("staging: the last sync failed" in w and "Integrations" in w for w in warnings)
    app.query_params["integrations"] = ["prod"]
    app.run()
    warnings = [w.value for w in app.warning]
    assert any("prod: stale" in w for w in warnings)
    assert not any("staging" in w for w in warnings), "only the selected integrations"


def test_active_filters_are_chips_that_remove_themselves(app: AppTest) -> None:
    app.query_params["regions"] = ["us-east-1"]
    app.query_params["meta"] = ["team=search"]
    app.run()
    chips = [b for b in app.button if b.key and b.key.startswith("chip_")]
    labels = [b.label.replace("\\", "") for b in chips]
    assert labels == ["Region: us-east-1", "requestMetadata: team=search", "Clear all"]
    assert any("2 active" in e.label for e in app.expander)
    app.button(key="chip_0").click().run()
    assert app.multiselect(key="ex_regions").value == []
    assert "regions" not in app.query_params and "team=search" in str(app.query_params["meta"])
    app.button(key="chip_clear").click().run()
    assert app.multiselect(key="ex_meta").value == [] and "meta" not in app.query_params
    assert not [b for b in app.button if b.key and b.key.startswith("chip_")]


def test_presets_follow_the_display_zone(app: AppTest) -> None:
    # 20:20 UTC on 10 March is already 11 March in Tokyo, still 10 March in Los Angeles
    app.query_params["period"] = "today"
    app.query_params["tz"] = "Asia/Tokyo"
    app.run()
    assert not app.exception
    assert app.date_input(key="ex_range").value == (date(2026, 3, 11), date(2026, 3, 11))
    app.query_params["tz"] = "America/Los_Angeles"
    app.run()
    assert app.date_input(key="ex_range").value == (date(2026, 3, 10), date(2026, 3, 10))


def test_the_grouped_table_reads_like_an_analysts() -> None:
    import pandas as pd

    from bedrock_explorer.display import grouped_for_screen, grouped_formats

    table = pd.DataFrame(
        {
            "model": ["a", "b"],
            "invocations": [1234567, 3],
            "input_tokens": [10, 20],
            "cost_usd": [12.3456, None],
            "price_status": ["priced", "unpriced"],
            "unpriced_tokens": [0, 20],
        }
    )
    screen = grouped_for_screen(table, ["model"])
    assert list(screen.columns) == ["Model", "Cost (USD)", "Price status", "Invocations",
                                    "Input tokens", "Unpriced tokens"]  # fmt: skip
    assert screen.iloc[-1]["Model"] == "Total" and screen.iloc[-1]["Invocations"] == 1234570
    html = screen.style.format(grouped_formats(screen), na_rep="").to_html()
    assert "$12.35" in html and "1,234,567" in html and "1,234,570" in html
    # the unpriced group: an empty cost beside the status "unpriced", never $0.00
    cell = re.search(r'class="data row1 col1" >([^<]*)<', html)
    status = re.search(r'class="data row1 col2" >([^<]*)<', html)
    assert cell is not None and cell.group(1) == "", html
    assert status is not None and status.group(1) == "unpriced"
    sub_cent = grouped_for_screen(table.assign(cost_usd=[0.0042, 0.0001]), ["model"])
    assert "$0.00420" in sub_cent.style.format(grouped_formats(sub_cent)).to_html()
    nothing = grouped_for_screen(table.assign(cost_usd=[None, None]), ["model"])
    assert pd.isna(nothing.iloc[-1]["Cost (USD)"]), "a total of nothing priced is empty"


def test_charts_put_other_last_in_grey_with_date_ticks(app: AppTest) -> None:
    import json

    from bedrock_explorer.display import OTHER_GREY

    app.query_params["top"] = "3"
    app.run()
    specs = [json.loads(c.proto.spec) for c in app.get("plotly_chart")]
    stacked = specs[0]
    names = [t["name"] for t in stacked["data"]]
    assert names[-1] == "Other" and len(names) == 4, names  # top 3 of 4 models, then Other
    assert stacked["data"][-1]["marker"]["color"] == OTHER_GREY
    assert stacked["layout"]["xaxis"]["tickformat"] == "%-d %b"
    # a tick on each day's bar, not Plotly's every 12 hours ("28 Nov, 28 Nov, 29 Nov")
    assert stacked["layout"]["xaxis"]["dtick"] == 86_400_000
    by_model = specs[1]["data"]  # the same top-N in the next chart: one trace, Other grey last
    assert len(by_model) == 1 and len(by_model[0]["y"]) == 4 and by_model[0]["y"][-1] == "Other"
    assert by_model[0]["marker"]["color"][-1] == OTHER_GREY
    assert OTHER_GREY not in by_model[0]["marker"]["color"][:-1]
    assert specs[1]["layout"]["yaxis"]["categoryarray"][0] == "Other"  # drawn at the bottom


def test_bucket_ticks_fall_on_bucket_starts_at_most_twelve() -> None:
    import pandas as pd

    from bedrock_explorer.charts import bucket_ticks

    days = pd.Series(pd.date_range("2026-01-01", periods=90, freq="D"))
    assert bucket_ticks(days, "day") == {"tick0": days[0], "dtick": 8 * 86_400_000}
    assert bucket_ticks(days[:5], "day")["dtick"] == 86_400_000
    weeks = pd.Series(pd.date_range("2026-01-05", periods=13, freq="7D"))
    assert bucket_ticks(weeks, "week")["dtick"] == 14 * 86_400_000
    months = pd.Series(pd.date_range("2025-01-01", periods=24, freq="MS"))
    assert bucket_ticks(months, "month") == {"tick0": months[0], "dtick": "M2"}
    assert bucket_ticks(days, "hour") == {}


def test_legend_order_and_colours() -> None:
    import pandas as pd

    from bedrock_explorer.display import OTHER_GREY, PALETTE, colours, legend_order, tick_format

    frame = pd.DataFrame({"m": ["a", "Other", "b", "a"], "cost": [1.0, 9.0, 3.0, 1.0]})
    assert legend_order(frame, "m") == ["b", "a", "Other"]
    assert colours(["b", "a", "Other"]) == {"b": PALETTE[0], "a": PALETTE[1], "Other": OTHER_GREY}
    assert tick_format("month") == "%b %Y" and tick_format("day") == "%-d %b"


def test_an_admin_sets_a_price_for_an_unpriced_model_on_the_page(
    seeded: Seeded, store: Store, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mystery = [
        RecordSpec(request_id=f"mystery-{i}", ts=NOW - timedelta(hours=i + 1),
                   model_id="acme.mystery-v1:0", input_tokens=1000, output_tokens=500)
        for i in range(10)
    ]  # fmt: skip
    integ = store.add_integration("acme", "local", {"paths": ["acme"]})
    store.write_batch(integ.id, RawBatch("acme", [make_line(s) for s in mystery]))
    store.close()
    monkeypatch.setenv("BEDROCK_EXPLORER_DB", str(db_path))
    at = AppTest.from_file(APP, default_timeout=90).run()
    assert any("15,000 tokens have no known price" in w.value for w in at.warning)
    at.session_state["ex_prices_box"] = True  # the analyst opens the prices panel
    at.run()
    assert at.selectbox(key="sp_model").value == "acme.mystery-v1:0"  # offered first
    at.date_input(key="sp_from").set_value(TODAY - timedelta(days=20))
    at.number_input(key="sp_input").set_value(2.0)
    at.number_input(key="sp_output").set_value(4.0)
    at.text_input(key="sp_note").input("contract rate")
    next(b for b in at.button if b.label == "Set price").click().run()
    assert not at.exception and not at.error
    assert not any("have no known price" in w.value for w in at.warning)
    added = Decimal(10 * (1000 * 2 + 500 * 4)) / Decimal(1_000_000)  # $0.04
    total = cents(expected_cost(seeded.specs) + added)
    assert _metrics(at)["Total cost"] == f"${total:,}"
    with Store(db_path) as check:
        trail = check.audit_trail()
    assert "acme.mystery-v1:0" in " ".join(trail["target"].astype(str))


def test_every_chart_has_a_text_alternative_and_a_table(app: AppTest, seeded: Seeded) -> None:
    app.run()
    charts = list(app.get("plotly_chart"))
    alts = [c.proto.alt for c in charts]
    assert alts[0].startswith("Cost over time by model, per day (UTC). Total $")
    assert all(alt for alt in alts), alts
    truth = f"${cents(expected_cost(seeded.specs)):,}"
    assert any(alt.startswith(f"Cost by model. Total {truth} over 4 groups") for alt in alts)
    tables = [e for e in app.expander if e.label == "View as table"]
    assert len(tables) == len(charts)
    by_model = next(t for t in tables if "Model" in t.dataframe[0].value.columns
                    and "Bucket" not in t.dataframe[0].value.columns)  # fmt: skip
    assert cents(by_model.dataframe[0].value["Cost"].sum()) == cents(expected_cost(seeded.specs))


def test_model_names_never_merge_two_models() -> None:
    import pandas as pd

    from bedrock_explorer.display import named_models

    names = {"a.one-v1:0": "One", "a.one-v2:0": "One", "b.two-v1:0": "Two"}.get
    frame = pd.DataFrame({"model": ["a.one-v1:0", "a.one-v2:0", "b.two-v1:0", "c.x-v1:0"]})
    shown = named_models(frame, "model", names)
    assert list(shown["model"]) == ["a.one-v1:0", "a.one-v2:0", "Two", "c.x-v1:0"]
    assert list(shown["model id"]) == list(frame["model"])


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", "Claude Sonnet"),
        ("anthropic.claude-3-5-sonnet-20240620-v1:0", "Claude Sonnet"),  # older naming order
        ("anthropic.claude-3-haiku-20240307-v1:0", "Claude Haiku"),
        ("amazon.nova-2-lite-v1:0", "Nova Lite"),
        ("amazon.nova-lite-v1:0", "Nova Lite"),
        ("meta.llama3-1-70b-instruct-v1:0", "Llama"),
        ("mistral.mistral-large-2402-v1:0", "Mistral Large"),
        ("amazon.titan-embed-text-v2:0", "Titan Text Embeddings"),
        ("amazon.nova-canvas-v1:0", "Nova Canvas"),  # not named upstream: from the id
        ("qwen.qwen3-235b-a22b-2507-v1:0", "Qwen"),
        ("acme.mystery-v1:0", "Mystery"),
        ("arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/ab12",
         "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/ab12"),
    ],
)  # fmt: skip
def test_model_family_drops_versions_and_sizes(model: str, family: str) -> None:
    from bedrock_explorer.pricing import catalog

    assert catalog.family_name(model) == family


def test_family_rolls_up_the_models_on_the_page(app: AppTest, seeded: Seeded) -> None:
    import json

    app.query_params["stack"] = "family"
    app.query_params["group"] = ["family"]
    app.run()
    assert not app.exception
    assert app.selectbox(key="ex_stack").value == "family"
    table = next(d.value for d in app.dataframe if "Cost (USD)" in d.value.columns)
    rows = dict(zip(table["Family"], table["Cost (USD)"], strict=True))
    haiku = [s for s in seeded.specs if "haiku" in s.model_id]  # Claude 3 and 3.5 Haiku: one
    assert {k for k in rows if k != "Total"} == {"Claude Haiku", "Nova Lite", "Nova Pro"}
    assert cents(Decimal(str(rows["Claude Haiku"]))) == cents(expected_cost(haiku))
    assert cents(Decimal(str(rows["Total"]))) == cents(expected_cost(seeded.specs))
    stacked = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert sorted(t["name"] for t in stacked["data"]) == ["Claude Haiku", "Nova Lite", "Nova Pro"]


def test_the_pivot_has_a_column_per_day_and_totals_to_the_headline(
    store: Store, seeded: Seeded
) -> None:
    f = whole()
    frame = explorer.grouped(store, f, ["model"], time_bucket=True)
    wide = export.pivot_table(frame, ["model"], "day")
    truth = cents(expected_cost(seeded.specs))
    assert cents(wide["total_usd"].sum()) == truth and len(wide) == 4
    days = [c for c in wide.columns if c not in ("model", "total_usd")]
    assert days == sorted(days) and len(days) == 10  # NOW - 9 days to NOW, by UTC day
    by_day = explorer.grouped(store, f, [], time_bucket=True).sort_values("bucket")
    assert [cents(wide[d].sum()) for d in days] == [cents(c) for c in by_day["cost"]]
    rows = list(csv.DictReader(io.StringIO(export.pivot_csv(frame, ["model"], "day"))))
    assert cents(sum(Decimal(r["total_usd"]) for r in rows)) == truth


def test_a_pivot_cell_is_zero_without_usage_and_empty_when_unpriced() -> None:
    import pandas as pd

    frame = pd.DataFrame({
        "bucket": pd.to_datetime(["2026-03-01", "2026-03-02", "2026-03-02"]),
        "model": ["a", "a", "mystery"],
        "invocations": [1, 2, 5],
        "cost": [0.5, 0.25, float("nan")],
    })  # fmt: skip
    wide = export.pivot_table(frame, ["model"], "day").set_index("model")
    assert wide.loc["a", "2026-03-01"] == 0.5 and wide.loc["a", "total_usd"] == 0.75
    assert wide.loc["mystery", "2026-03-01"] == 0.0, "no usage that day: nothing to pay"
    assert pd.isna(wide.loc["mystery", "2026-03-02"]), "usage without a price: empty, not $0"
    assert pd.isna(wide.loc["mystery", "total_usd"])


def test_the_pivot_is_on_the_page_and_in_the_link(app: AppTest, seeded: Seeded) -> None:
    app.query_params["pivot"] = "1"
    app.run()
    assert not app.exception and app.toggle(key="ex_pivot").value
    table = next(d.value for d in app.dataframe if "total_usd" in d.value.columns)
    assert cents(table["total_usd"].sum()) == cents(expected_cost(seeded.specs))
    assert "trend" in table.columns
    app.toggle(key="ex_pivot").set_value(False).run()
    assert "pivot" not in app.query_params


def test_every_figure_is_computed_under_the_updating_indicator(
    app: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow change says "Updating…" above the figures (Streamlit's spinner, shown after half
    a second): every query behind a figure must run while that indicator is up."""
    import contextlib

    import streamlit as st

    up: list[str] = []
    calls: dict[str, list[bool]] = {}
    real_spinner = st.spinner

    @contextlib.contextmanager
    def spinner(text: str = "", **kw: Any) -> Iterator[None]:
        with real_spinner(text, **kw):
            up.append(text)
            try:
                yield
            finally:
                up.pop()

    def watched(name: str) -> None:
        real = getattr(explorer, name)

        def call(*a: Any, **k: Any) -> Any:
            calls.setdefault(name, []).append(any("Updating the figures" in t for t in up))
            return real(*a, **k)

        monkeypatch.setattr(explorer, name, call)

    monkeypatch.setattr(st, "spinner", spinner)
    for name in ("over_time", "headline", "grouped", "cache_economics", "by_meter"):
        watched(name)
    app.run()
    assert not app.exception
    assert set(calls) >= {"over_time", "headline", "cache_economics", "by_meter"}
    figure_calls = {name: flags for name, flags in calls.items() if name != "grouped"}
    assert all(all(flags) for flags in figure_calls.values()), figure_calls
    assert sum(calls["grouped"]) >= 4  # model, service type, identity, metadata charts
