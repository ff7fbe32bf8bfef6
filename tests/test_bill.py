"""Reconciliation with the AWS bill: CUR 2.0 files (real DuckDB), Cost Explorer (moto's canned
results; Stubber for the errors moto never gives), the buckets' variances and statuses, and the
bill's dollars allocated to callers and tags (they add back to the bill).

The synthetic month is tests/bill_seed.py: its bill is built from AWS's published prices, with a
10% coverage gap, a 5% discount, an unknown usage type and a model billed but never logged.
"""

from __future__ import annotations

import gzip
import json
import os
import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
import requests
from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from bedrock_explorer import explorer
from bedrock_explorer.bill import cost_explorer, cur_files, lines, reconcile
from bedrock_explorer.cli import main
from bedrock_explorer.errors import UserFacingError
from bedrock_explorer.store import Store
from tests import bill_seed as S

WINDOW = reconcile.Window(date(2026, 3, 1), date(2026, 3, 10))
NOW = datetime(2026, 3, 10, 20, 20)


@pytest.fixture
def month(store: Store, tmp_path: Path) -> Store:
    S.seed_logs(store)
    folder = S.write_month(tmp_path / "export")
    got = cur_files.import_files(store, "prod", cur_files.local_files([str(folder)], []))
    assert (got.files, got.imported, got.errors) == (3, 3, [])
    return store


def _bucket(frame: pd.DataFrame, day: date, model: str, meter: str) -> dict[str, Any]:
    rows = frame[(frame.day == day) & (frame.model == model) & (frame.meter == meter)]
    assert len(rows) == 1, rows
    return rows.iloc[0].to_dict()


def _tokens(day: date, model: str, meter: str) -> int:
    return sum(
        (c.input_tokens if meter == "input" else c.output_tokens)
        for c in S.calls()
        if c.day == day and c.model == model
    )


def test_every_billed_dollar_is_in_a_bucket_and_other_services_are_left_out(month: Store) -> None:
    frame = reconcile.buckets(month, WINDOW, now=NOW)
    assert round(frame["billed_cost"].sum(), 9) == round(S.billed_total(), 9)
    assert round(frame["net_billed_cost"].sum(), 9) == round(S.billed_total(net=True), 9)
    assert "USE1-BoxUsage:t3.micro" not in set(frame["model"])  # EC2 in the same file
    assert set(frame["status"]) == {
        reconcile.STATUS_RECONCILED,
        reconcile.STATUS_MISMATCH,
        reconcile.STATUS_BILLED_NOT_LOGGED,
        reconcile.STATUS_UNMATCHED,
    }


def test_a_reconciled_bucket_in_each_grammar(month: Store) -> None:
    frame = reconcile.buckets(month, WINDOW, now=NOW)
    day = S.FIRST
    for model, base in ((S.NOVA, S.NOVA), (S.HAIKU, S.HAIKU), (S.SONNET, S.SONNET_BASE)):
        for meter in ("input", "output"):
            got = _bucket(frame, day, base, meter)
            tokens = _tokens(day, model, meter)
            rate = S.RATES[base][0 if meter == "input" else 1]
            assert got["logged_quantity"] == got["billed_quantity"] == tokens
            assert Decimal(str(got["billed_cost"])) == Decimal(tokens) * rate / 1_000_000
            assert abs(got["variance"]) < 1e-9 and got["status"] == reconcile.STATUS_RECONCILED
    sonnet = _bucket(frame, day, S.SONNET_BASE, "input")
    assert sonnet["routing"] == "global"  # the snake-case Marketplace _global_ meter
    assert _bucket(frame, day, S.HAIKU, "input")["routing"] == "regional"


def test_a_coverage_gap_is_a_mismatch_with_its_quantity_variance(month: Store) -> None:
    frame = reconcile.buckets(month, WINDOW, now=NOW)
    gap = _bucket(frame, S.GAP_DAY, S.NOVA, "input")
    logged = _tokens(S.GAP_DAY, S.NOVA, "input")
    assert (gap["logged_quantity"], gap["billed_quantity"]) == (logged, round(logged * 1.1))
    missing = (round(logged * 1.1) - logged) * 0.06 / 1e6
    assert gap["quantity_variance"] == pytest.approx(missing, abs=1e-12)
    assert gap["rate_variance"] == pytest.approx(0, abs=1e-12)
    assert gap["status"] == reconcile.STATUS_MISMATCH
    loose = reconcile.buckets(month, WINDOW, tolerance=0.15, now=NOW)
    assert _bucket(loose, S.GAP_DAY, S.NOVA, "input")["status"] == reconcile.STATUS_RECONCILED


def test_a_discount_is_a_rate_figure_not_a_mismatch(month: Store) -> None:
    frame = reconcile.buckets(month, WINDOW, now=NOW)
    got = _bucket(frame, S.DISCOUNT_DAY, S.HAIKU, "input")
    assert got["status"] == reconcile.STATUS_RECONCILED
    assert got["net_billed_cost"] == pytest.approx(0.95 * got["billed_cost"], rel=1e-12)
    assert got["discount"] == pytest.approx(0.05 * got["billed_cost"], rel=1e-9)


def test_an_unknown_usage_type_keeps_its_dollars_and_unlogged_use_is_named(month: Store) -> None:
    frame = reconcile.buckets(month, WINDOW, now=NOW)
    unknown = frame[frame.status == reconcile.STATUS_UNMATCHED]
    assert list(unknown["model"]) == ["USE1-NovaLite-mystery-meter"]
    assert unknown["billed_cost"].sum() == pytest.approx(S.UNKNOWN_COST)
    unlogged = frame[frame.status == reconcile.STATUS_BILLED_NOT_LOGGED]
    assert set(unlogged["day"]) == {S.UNLOGGED_DAY}
    assert set(unlogged["model"]) == {S.SONNET_BASE}  # matched to the model the logs know
    assert unlogged["billed_cost"].sum() == pytest.approx((30_000 * 3 + 4_000 * 15) / 1e6)
    summary = reconcile.summary(month, WINDOW, now=NOW)
    assert summary is not None
    assert summary["unmatched_cost"] == pytest.approx(S.UNKNOWN_COST)
    assert summary["days_compared"] == 7 and summary["days_not_in_bill"] == 3
    assert summary["mismatches"] == 1


def test_pending_days_and_days_without_a_bill(month: Store) -> None:
    # 9 March is logged but no bill covers it: not compared (not "logged, not billed")
    frame = reconcile.buckets(month, WINDOW, now=NOW)
    assert S.PENDING_DAY not in set(frame["day"])
    # seen from 5 March, the 3rd to the 5th are still pending, whatever they say
    early = reconcile.buckets(month, WINDOW, now=datetime(2026, 3, 5, 12))
    recent = early[(early.day >= date(2026, 3, 3)) & (early.day <= date(2026, 3, 5))]
    # (a line no grammar reads stays unmatched, pending or not)
    assert set(recent["status"]) == {reconcile.STATUS_PENDING, reconcile.STATUS_UNMATCHED}
    assert set(recent.loc[recent.meter != "", "status"]) == {reconcile.STATUS_PENDING}
    assert set(early.loc[early.day == date(2026, 3, 2), "status"]) == {reconcile.STATUS_RECONCILED}


def test_a_coarser_grouping_is_as_severe_as_its_worst_bucket(month: Store) -> None:
    by_model = reconcile.grouped(month, WINDOW, ["model"], now=NOW).set_index("model")
    assert by_model.loc[S.NOVA, "status"] == reconcile.STATUS_MISMATCH  # the gap day
    assert by_model.loc[S.HAIKU, "status"] == reconcile.STATUS_RECONCILED
    assert by_model.loc[S.SONNET_BASE, "status"] == reconcile.STATUS_BILLED_NOT_LOGGED
    assert by_model["billed_cost"].sum() == pytest.approx(S.billed_total())


def test_reimporting_is_idempotent_and_a_rewritten_file_replaces_its_lines(
    month: Store, tmp_path: Path
) -> None:
    folder = tmp_path / "export"
    again = cur_files.import_files(month, "prod", cur_files.local_files([str(folder)], []))
    assert (again.imported, again.unchanged) == (0, 3)
    csv = next(folder.rglob("*00003.csv"))
    rows = [r for r in S.bill_rows() if "Sonnet" in r["product"]["product_name"]][:2]
    S.write_csv(csv, rows)  # the export rewrote the file with fewer lines
    os.utime(csv, ns=(1, 1))
    third = cur_files.import_files(month, "prod", cur_files.local_files([str(folder)], []))
    assert (third.imported, third.unchanged) == (1, 2)
    stored = month.con.execute(
        "SELECT count(*) FROM bill_lines WHERE ref = ?", [str(csv.resolve())]
    ).fetchall()[0][0]
    assert stored == 2


def test_the_same_file_under_a_second_integration_is_refused(month: Store, tmp_path: Path) -> None:
    month.add_integration("other", "local", {"path": "/tmp/other"})
    got = cur_files.import_files(
        month, "other", cur_files.local_files([str(tmp_path / "export")], [])
    )
    assert got.imported == 0 and len(got.errors) == 3
    assert "already imported for integration 'prod'" in got.errors[0]


# -- hostile files ---------------------------------------------------------------------------


def test_a_fifo_a_symlink_loop_and_a_folder_of_junk_never_hang(
    store: Store, tmp_path: Path
) -> None:
    S.seed_logs(store)
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.parquet"
    loop.symlink_to(loop)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.csv").write_text("hello,world\n1,2\n")
    (junk / "broken.parquet").write_bytes(b"PAR1 not really")
    (junk / "fifo.csv").parent.mkdir(exist_ok=True)
    os.mkfifo(junk / "fifo.csv")
    errors: list[str] = []
    done = threading.Event()
    result: dict[str, Any] = {}

    def run() -> None:
        files = cur_files.local_files([str(fifo), str(loop), str(junk)], errors)
        result["got"] = cur_files.import_files(store, "prod", files, errors=errors)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(30), "the import hung"
    text = "\n".join(errors)
    assert "pipe.csv: not a regular file" in text and "fifo.csv: not a regular file" in text
    assert "loop.parquet: cannot be read" in text
    assert "notes.csv: is not a CUR 2.0 file" in text
    assert "broken.parquet: is not a readable CUR 2.0 file" in text
    assert result["got"].imported == 0
    assert store.con.execute("SELECT count(*) FROM bill_lines").fetchall()[0][0] == 0


def test_a_gzip_bomb_is_stopped_and_a_damaged_gzip_is_refused(store: Store, tmp_path: Path) -> None:
    S.seed_logs(store)
    header = b"line_item_usage_start_date,line_item_usage_type,line_item_unblended_cost\n"
    bomb = tmp_path / "bomb.csv.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as out:
        out.write(header)
        block = b"Bedrock" * (1024 * 1024 // 7) + b"\n"
        for _ in range(300):  # 300 MB of near-zero entropy
            out.write(block)
    assert bomb.stat().st_size < 2_000_000
    damaged = tmp_path / "damaged.csv.gz"
    whole = gzip.compress(header + b"2026-03-01T00:00:00Z,USE1-NovaLite-input-tokens,1\n" * 50)
    damaged.write_bytes(whole[: len(whole) // 2])
    errors: list[str] = []
    got = cur_files.import_files(
        store, "prod", cur_files.local_files([str(bomb), str(damaged)], errors), errors=errors
    )
    assert got.imported == 0
    assert any("bomb.csv.gz: inflates more than" in e for e in errors), errors
    assert any("damaged.csv.gz: is damaged" in e for e in errors), errors


# -- the billed basis ------------------------------------------------------------------------


def test_billed_dollars_per_caller_and_tag_add_up_to_the_bill(month: Store) -> None:
    f = explorer.Filters(date(2026, 3, 1), date(2026, 3, 10), basis=explorer.BASIS_BILLED)
    net = S.billed_total(net=True)
    for by, meta in ((["session"], None), (["metadata"], "team"), (["model"], None), ([], None)):
        frame = explorer.grouped(month, f, by, meta_key=meta)
        assert frame["cost"].sum() == pytest.approx(net, abs=1e-9), by
    teams = explorer.grouped(month, f, ["metadata"], meta_key="team").set_index("metadata")
    assert set(teams.index) == {"search", "support", explorer.BILLED_NOT_LOGGED}
    # the page's way: rolled up from the cost per metadata set that ranked the keys
    memo: dict = {}
    assert explorer.keys_by_spend(month, f, ["team"], memo) == ["team"] and memo
    paged = explorer.grouped(month, f, ["metadata"], meta_key="team", memo=memo)
    paged = paged.set_index("metadata").loc[teams.index]
    assert list(paged["cost"]) == pytest.approx(list(teams["cost"]))
    assert list(paged["price_status"]) == list(teams["price_status"])
    sessions = explorer.grouped(month, f, ["session"]).set_index("session")
    unlogged = (30_000 * 3 + 4_000 * 15) / 1e6
    assert sessions.loc[explorer.BILLED_NOT_LOGGED, "cost"] == pytest.approx(
        S.UNKNOWN_COST + unlogged
    )
    # alice made the pending-day call no bill covers yet: partly billed, never silently $0
    assert sessions.loc["alice", "price_status"].startswith("partly billed")
    assert sessions.loc["bob", "price_status"] == "billed"
    estimate = explorer.grouped(month, explorer.Filters(date(2026, 3, 1), date(2026, 3, 10)), [])
    assert estimate["cost"].sum() == pytest.approx(
        reconcile.buckets(month, WINDOW, now=NOW)["estimated_cost"].sum()
        + 5_000 * 0.06 / 1e6
        + 500 * 0.24 / 1e6
    )  # the estimate is untouched by the bill (the pending day's call included)


def test_a_filtered_billed_view_has_no_unallocatable_row(month: Store) -> None:
    f = explorer.Filters(
        date(2026, 3, 1), date(2026, 3, 10), basis=explorer.BASIS_BILLED, models=(S.HAIKU,)
    )
    frame = explorer.grouped(month, f, ["session"])
    assert explorer.BILLED_NOT_LOGGED not in set(frame["session"])
    haiku_net = sum(
        r["line_item_net_unblended_cost"]
        for r in S.bill_rows()
        if "Haiku" in r["product"]["product_name"]
    )
    assert frame["cost"].sum() == pytest.approx(haiku_net, abs=1e-12)


def test_no_bill_means_no_billed_dollars_not_zero(store: Store) -> None:
    S.seed_logs(store)
    f = explorer.Filters(date(2026, 3, 1), date(2026, 3, 10), basis=explorer.BASIS_BILLED)
    frame = explorer.grouped(store, f, ["model"])
    assert frame["cost"].isna().all()
    assert set(frame["price_status"]) == {"no bill for these days yet"}


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    factors=st.lists(st.floats(0.5, 2.0), min_size=7, max_size=7),
    discount=st.floats(0.0, 0.3),
)
def test_property_allocated_dollars_sum_to_each_buckets_bill(
    tmp_path_factory: pytest.TempPathFactory, factors: list[float], discount: float
) -> None:
    """Whatever AWS billed per day (here: list price x a factor, less a discount), the billed
    basis gives every bucket exactly its bill, and the estimate does not move."""
    store = Store(tmp_path_factory.mktemp("prop") / "p.duckdb")
    try:
        S.seed_logs(store)
        rows = [
            r for r in S.bill_rows() if r["line_item_usage_type"] != "USE1-NovaLite-mystery-meter"
        ]
        frame_rows = []
        for r in rows:
            day = r["line_item_usage_start_date"].date()
            k = factors[(day - S.FIRST).days]
            cost = r["line_item_unblended_cost"] * k
            frame_rows.append(
                {
                    "day": day,
                    "account_id": S.ACCOUNT,
                    "service": r["product"]["product_name"],
                    "product_code": r["line_item_product_code"],
                    "usage_type": r["line_item_usage_type"],
                    "line_item_type": "Usage",
                    "region_code": "us-east-1",
                    "unit": r["pricing_unit"],
                    "usage_amount": r["line_item_usage_amount"],
                    "unblended_cost": cost,
                    "net_unblended_cost": cost * (1 - discount),
                }
            )
        integ = store.get_integration("prod")
        lines.replace_source(
            store,
            integ.id,
            lines.KIND_CUR,
            "prop.parquet",
            pd.DataFrame(frame_rows),
            fingerprint="x",
            first_day=S.FIRST,
            last_day=S.FIRST + timedelta(days=6),
            now=NOW,
        )
        before = explorer.grouped(store, explorer.Filters(S.FIRST, S.FIRST + timedelta(days=6)), [])
        f = explorer.Filters(S.FIRST, S.FIRST + timedelta(days=6), basis=explorer.BASIS_BILLED)
        by_day = explorer.grouped(store, f, ["session"])
        total_net = sum(r["net_unblended_cost"] for r in frame_rows)
        assert by_day["cost"].sum() == pytest.approx(total_net, rel=1e-9)
        window = reconcile.Window(S.FIRST, S.FIRST + timedelta(days=6))
        factors_frame, _days, _ = reconcile.allocation(store, window)
        buckets = reconcile.buckets(store, window, now=NOW)
        logged = buckets[buckets.logged_quantity > 0]
        merged = logged.merge(factors_frame, on=reconcile.KEYS)
        allocated = merged["estimated_cost"] * merged["per_estimated_dollar"]
        assert (allocated - merged["net_billed_cost"]).abs().max() < 1e-12
        after = explorer.grouped(store, explorer.Filters(S.FIRST, S.FIRST + timedelta(days=6)), [])
        assert after["cost"].sum() == before["cost"].sum()
    finally:
        store.close()


# -- CLI -------------------------------------------------------------------------------------


def test_cli_import_reconcile_and_report_in_billed_dollars(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store(db_path) as store:
        S.seed_logs(store)
    folder = S.write_month(tmp_path / "export")
    db = ["--db", str(db_path)]
    assert main([*db, "bill", "import", str(folder)]) == 0
    assert "3 files — 3 imported" in capsys.readouterr().out
    assert main([*db, "bill", "import", str(folder), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["unchanged"] == 3
    args = [*db, "reconcile", "--from", "2026-03-01", "--to", "2026-03-10"]
    assert main([*args, "--format", "json"]) == 1  # the gap day: a closed mismatch
    out = json.loads(capsys.readouterr().out)
    assert {
        "day",
        "model",
        "meter",
        "account_id",
        "region",
        "estimated_cost",
        "billed_cost",
        "logged_quantity",
        "billed_quantity",
        "variance",
        "status",
    } <= set(out["buckets"][0])
    assert main([*args, "--tolerance", "15", "--group-by", "day,model"]) == 0
    table = capsys.readouterr().out
    assert "unmatched bill" in table and "billed, not logged" in table
    assert main([*args, "--group-by", "model", "--format", "csv"]) == 1
    csv_text = capsys.readouterr().out
    assert csv_text.splitlines()[0].startswith("model,estimated_cost,billed_cost")
    report = [
        *db,
        "report",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-10",
        "--group-by",
        "session",
        "--format",
        "json",
        "--basis",
        "billed",
    ]
    assert main(report) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sum(r["cost_usd"] for r in rows) == pytest.approx(S.billed_total(net=True), abs=1e-6)
    assert main([*db, "bill", "list"]) == 0
    assert "export-00001.snappy.parquet" in capsys.readouterr().out


def test_cli_reconcile_without_a_bill_says_how_to_get_one(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store(db_path) as store:
        S.seed_logs(store)
    assert main(["--db", str(db_path), "reconcile", "--from", "2026-03-01"]) == 1
    err = capsys.readouterr().err
    assert "No bill covers" in err and "bill import" in err


# -- Cost Explorer ---------------------------------------------------------------------------


def _ce_group(
    usage_type: str, cost: float, quantity: float, unit: str = "1K tokens"
) -> dict[str, Any]:
    return {
        "Keys": [usage_type, S.ACCOUNT],
        "Metrics": {
            "UnblendedCost": {"Amount": str(cost), "Unit": "USD"},
            "NetUnblendedCost": {"Amount": str(cost * 0.9), "Unit": "USD"},
            "UsageQuantity": {"Amount": str(quantity), "Unit": unit},
        },
    }


def _day(day: date, groups: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
        "Groups": groups,
        "Estimated": False,
    }


@pytest.fixture
def ce_account(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        S.seed_logs(store)
        store.add_integration("aws", "cloudwatch", {"region": "us-east-1", "log_group": "/b"})
        yield store


def _queue(results: list[dict[str, Any]]) -> None:
    requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results",
        json={"results": results},
        timeout=10,
    )


def test_cost_explorer_sync_pages_stores_and_caches_closed_days(ce_account: Store) -> None:
    d1, d2 = date(2026, 3, 1), date(2026, 3, 2)
    nova = [_ce_group("USE1-NovaLite-input-tokens", 0.0012, 20.0)]
    _queue(
        [
            {
                "ResultsByTime": [
                    _day(
                        d1,
                        [
                            {"Keys": ["Amazon Bedrock"], "Metrics": {}},
                            {"Keys": ["Amazon EC2"], "Metrics": {}},
                        ],
                    ),
                    _day(
                        d2, [{"Keys": ["Claude 3 Haiku (Amazon Bedrock Edition)"], "Metrics": {}}]
                    ),
                ]
            },
            {"ResultsByTime": [_day(d1, nova)], "NextPageToken": "page-2"},
            {"ResultsByTime": [_day(d2, nova)]},
            {
                "ResultsByTime": [
                    _day(
                        d2,
                        [
                            _ce_group(
                                "USE1-MP:USE1_InputTokenCount-Units", 0.002, 0.008, "1M tokens"
                            )
                        ],
                    )
                ]
            },
        ]
    )
    session = boto3.Session(region_name="us-east-1")
    got = cost_explorer.sync(ce_account, "aws", session, d1, d2, now=NOW)
    # the services, then Amazon Bedrock (two pages), then the Haiku edition; EC2 not asked
    assert got.requests == 4 and got.request_cost == pytest.approx(0.04)
    assert got.services == ["Amazon Bedrock", "Claude 3 Haiku (Amazon Bedrock Edition)"]
    stored = ce_account.query_df("SELECT * FROM bill_lines ORDER BY day, service")
    assert len(stored) == 3 and stored["unblended_cost"].sum() == pytest.approx(0.0044)
    assert stored["net_unblended_cost"].sum() == pytest.approx(0.0044 * 0.9)
    window = reconcile.Window(d1, d2, ("aws", "prod"))
    frame = reconcile.billed_buckets(ce_account, window)
    haiku = frame[frame.model == S.HAIKU]
    assert haiku["billed_quantity"].sum() == pytest.approx(8000)  # 0.008 x 1M tokens
    # both days are closed on 10 March: a second sync asks nothing
    again = cost_explorer.sync(ce_account, "aws", session, d1, d2, now=NOW)
    assert again.requests == 0


def test_cost_explorer_open_days_are_asked_again_and_a_cap_stops_a_sync(ce_account: Store) -> None:
    d = date(2026, 3, 9)  # open on 10 March
    _queue(
        [
            {"ResultsByTime": [_day(d, [{"Keys": ["Amazon Bedrock"], "Metrics": {}}])]},
            {"ResultsByTime": [_day(d, [_ce_group("USE1-NovaLite-input-tokens", 0.001, 10)])]},
        ]
    )
    session = boto3.Session(region_name="us-east-1")
    first = cost_explorer.sync(ce_account, "aws", session, d, d, now=NOW)
    assert first.requests == 2
    capped = cost_explorer.sync(ce_account, "aws", session, d, d, max_requests=1, now=NOW)
    assert capped.capped and capped.requests == 1  # the day is open: asked again, then capped
    lines_now = ce_account.con.execute("SELECT count(*) FROM bill_lines").fetchall()[0][0]
    assert lines_now == 1  # what the capped sync did not reach stays as it was


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("AccessDeniedException", "grant ce:GetCostAndUsage"),
        ("ThrottlingException", "throttling"),
        ("DataUnavailableException", "enable Cost Explorer"),
    ],
)
def test_cost_explorer_failures_are_sentences_with_the_fix(
    ce_account: Store, monkeypatch: pytest.MonkeyPatch, code: str, expected: str
) -> None:
    session = boto3.Session(region_name="us-east-1")
    client = session.client("ce", region_name="us-east-1")
    stub = Stubber(client)
    for _ in range(10):  # every retry is refused too
        stub.add_client_error("get_cost_and_usage", service_error_code=code, service_message="no")
    stub.activate()
    monkeypatch.setattr(cost_explorer.aws, "client", lambda *_a, **_k: client)
    with pytest.raises(UserFacingError) as err:
        cost_explorer.sync(ce_account, "aws", session, date(2026, 3, 1), date(2026, 3, 2), now=NOW)
    assert expected in str(err.value)
    assert ce_account.con.execute("SELECT count(*) FROM bill_lines").fetchall()[0][0] == 0


def test_unreadable_bill_lines_are_counted_and_the_rest_imported(
    store: Store, tmp_path: Path
) -> None:
    S.seed_logs(store)
    rows = [r for r in S.bill_rows() if r["line_item_product_code"] == "AmazonBedrock"][:3]
    path = S.write_csv(tmp_path / "part.csv", rows)
    text = path.read_text().splitlines()
    bad = text[1].replace(str(rows[0]["line_item_unblended_cost"]), "n/a", 1)
    path.write_text("\n".join([text[0], bad, *text[2:]]) + "\n")
    errors: list[str] = []
    got = cur_files.import_files(
        store, "prod", cur_files.local_files([str(path)], errors), errors=errors
    )
    assert got.imported == 1 and got.lines == 2
    assert errors == [
        f"{path.resolve()}: 1 Bedrock lines without a readable usage date or cost were left "
        "out (the rest was imported)"
    ]


def test_a_credit_lowers_the_net_bill_and_a_new_bill_reaches_the_billed_view(
    month: Store,
) -> None:
    f = explorer.Filters(date(2026, 3, 1), date(2026, 3, 10), basis=explorer.BASIS_BILLED)
    before = explorer.grouped(month, f, ["session"])["cost"].sum()
    credit = pd.DataFrame([{
        "day": date(2026, 3, 2), "account_id": S.ACCOUNT, "service": "Amazon Bedrock",
        "product_code": "AmazonBedrock", "usage_type": "USE1-NovaLite-input-tokens",
        "line_item_type": "Credit", "region_code": "us-east-1", "unit": "1K tokens",
        "usage_amount": 0.0, "unblended_cost": -0.002, "net_unblended_cost": -0.002,
    }])  # fmt: skip
    integ = month.get_integration("prod")
    lines.replace_source(month, integ.id, lines.KIND_CUR, "credits.csv", credit,
                         fingerprint="c", first_day=date(2026, 3, 2), last_day=date(2026, 3, 2),
                         now=NOW)  # fmt: skip
    bucket = _bucket(reconcile.buckets(month, WINDOW, now=NOW), date(2026, 3, 2), S.NOVA, "input")
    assert bucket["billed_quantity"] == _tokens(date(2026, 3, 2), S.NOVA, "input")  # unchanged
    assert bucket["net_billed_cost"] == pytest.approx(bucket["billed_cost"] - 0.002)
    assert bucket["discount"] == pytest.approx(0.002)
    after = explorer.grouped(month, f, ["session"])["cost"].sum()
    assert after == pytest.approx(before - 0.002, abs=1e-12)


def test_a_closed_day_between_two_asked_is_not_stored_twice(ce_account: Store) -> None:
    d1, d2, d3 = (date(2026, 3, d) for d in (1, 2, 3))
    service = [{"Keys": ["Amazon Bedrock"], "Metrics": {}}]
    nova = [_ce_group("USE1-NovaLite-input-tokens", 0.0012, 20.0)]
    _queue([
        {"ResultsByTime": [_day(d2, service)]},
        {"ResultsByTime": [_day(d2, nova)]},
        {"ResultsByTime": [_day(d, service) for d in (d1, d2, d3)]},
        {"ResultsByTime": [_day(d, nova) for d in (d1, d2, d3)]},
    ])  # fmt: skip
    session = boto3.Session(region_name="us-east-1")
    assert cost_explorer.sync(ce_account, "aws", session, d2, d2, now=NOW).requests == 2
    # 1 and 3 are asked for; Cost Explorer's answer for 1..3 holds the stored 2 again
    assert cost_explorer.sync(ce_account, "aws", session, d1, d3, now=NOW).requests == 2
    per_day = dict(
        ce_account.con.execute("SELECT day, count(*) FROM bill_lines GROUP BY day").fetchall()
    )
    assert per_day == {d1: 1, d2: 1, d3: 1}
