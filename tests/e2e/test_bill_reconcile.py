"""Finance's first question in a real browser: import the CUR 2.0 export on the Integrations
page, then see *Estimate vs bill* in the Explorer and switch the figures to billed dollars.

The store holds the synthetic month of tests/bill_seed.py; the export folder is written with
AWS's column names (Parquet, CSV.gz, CSV). Its bill totals $2.84 unblended (net $2.84: the 5%
discount is on fractions of a cent), one closed bucket is a mismatch (a 10% coverage gap) and one
line has a usage type no grammar knows ($1.23).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from bedrock_explorer.store import Store
from tests import bill_seed as S
from tests.e2e.conftest import Servers, run_servers, settle, settle_after_change


@pytest.fixture
def month_servers(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Servers]:
    """The servers on a store holding the synthetic month's invocations (no bill yet)."""

    def prepare(_aws_url: str) -> dict[str, str]:
        with Store(tmp_path / "e2e.duckdb") as store:
            S.seed_logs(store)
        return {}

    yield from run_servers(tmp_path, request, prepare=prepare, demo=False)


def test_import_a_cur_export_then_compare_and_show_billed_dollars(  # type: ignore[no-untyped-def]
    month_servers: Servers, tmp_path: Path, page
) -> None:
    folder = S.write_month(tmp_path / "export")
    servers = month_servers
    pg = page
    pg.goto(f"{servers.app_url}/integrations")
    settle(pg)
    pg.get_by_text("Bill: estimate vs the AWS bill").click()
    field = pg.get_by_role("textbox", name="CUR 2.0 export files")
    field.fill(str(folder))
    field.press("Enter")
    settle_after_change(pg)
    button = pg.get_by_role("button", name="Import bill files")
    expect(button).to_be_enabled()  # the typed path has reached the server
    button.click()
    settle_after_change(pg)
    pg.get_by_text("3 files imported, 0 unchanged").wait_for()
    pg.get_by_text(
        "3 bill sources: 43 Bedrock lines, $2.84 billed, UTC days 2026-03-01 to 2026-03-07"
    ).wait_for()

    pg.goto(f"{servers.app_url}/?from=2026-03-01&to=2026-03-10")
    settle(pg)
    pg.get_by_role("heading", name="Estimate vs bill").wait_for()
    pg.get_by_text("Bill: 1 mismatched, 1 unmatched buckets").first.wait_for()
    section = pg.locator("body").inner_text()
    assert "7 UTC days compared (2026-03-01 to 2026-03-07)" in section
    assert "$1.23 of bill lines whose usage type is unknown" in section
    total = pg.get_by_test_id("stMetric").filter(has_text="Total cost")
    assert "$1.46" in total.inner_text()  # the estimate: list prices over the logs

    pg.get_by_text("Billed", exact=True).first.click()
    settle_after_change(pg)
    billed = pg.get_by_test_id("stMetric").filter(has_text="Billed cost")
    billed.wait_for()
    assert "$2.84" in billed.inner_text()  # the bill, every dollar of it
    assert re.search(r"basis=billed", pg.url)
    pg.get_by_text("invocations fall on days no imported bill covers").wait_for()
