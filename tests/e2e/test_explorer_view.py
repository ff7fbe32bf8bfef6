"""The Explorer's view in a real browser: it never changes by itself, and the link holds all of it.

A view set by hand (last month, weekly, stacked by region, top 5, grouped by identity) survives
five trips to another page and back, and a reload of its link; a link with one bad part keeps
the rest and says what was ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from bedrock_explorer import demo
from bedrock_explorer.store import Store
from tests.e2e.conftest import Servers, run_servers, settle, settle_after_change


@pytest.fixture
def small_demo(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Servers]:
    """The demo data, 45 days of it (enough for "last month"): every page draws in a fraction
    of the first start's 90 days, and five round trips stay quick."""

    def prepare(_aws_url: str) -> dict[str, str]:
        with Store(tmp_path / "e2e.duckdb") as store:
            demo.load_demo(store, days=45)
        return {}

    yield from run_servers(tmp_path, request, prepare=prepare)


def _metric(pg, label: str) -> str:  # type: ignore[no-untyped-def]
    label_el = pg.locator("[data-testid=stMetricLabel]").get_by_text(label, exact=True)
    metric = pg.locator("[data-testid=stMetric]").filter(has=label_el)
    return metric.locator("[data-testid=stMetricValue]").inner_text()


def _select(pg, label: str, option: str) -> None:  # type: ignore[no-untyped-def]
    pg.get_by_role("combobox", name=label, exact=True).click()
    pg.get_by_role("option", name=option, exact=True).click()
    settle_after_change(pg)


def _selected(pg, label: str) -> str:  # type: ignore[no-untyped-def]
    return pg.get_by_role("combobox", name=label, exact=True).input_value()


def _snapshot(pg) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Every widget and headline figure the test set or reads, and the link."""
    settle(pg)
    pg.get_by_text("Cost over time").wait_for(timeout=60_000)
    return {
        "query": parse_qs(urlparse(pg.url).query),
        "period": _selected(pg, "Period"),
        "stack": _selected(pg, "Stacked by"),
        "week": pg.get_by_role("radio", name="week").is_checked(),
        "top": pg.get_by_label("Top", exact=True).input_value(),
        "group": pg.locator("[data-testid=stMultiSelect]")
        .filter(has=pg.get_by_text("Group by", exact=True))
        .inner_text(),
        "total": _metric(pg, "Total cost"),
        "invocations": _metric(pg, "Invocations"),
    }


def test_a_view_survives_navigation_and_reload_and_a_bad_link_keeps_the_rest(
    small_demo: Servers, page
) -> None:  # type: ignore[no-untyped-def]
    servers = small_demo
    page.goto(servers.app_url)
    page.get_by_text("Cost over time").wait_for(timeout=120_000)
    settle(page)
    _select(page, "Period", "last month")
    page.get_by_text("week", exact=True).click()
    settle_after_change(page)
    _select(page, "Stacked by", "region")
    top = page.get_by_label("Top", exact=True)
    top.fill("5")
    top.press("Enter")
    settle_after_change(page)
    group = page.locator("[data-testid=stMultiSelect]").filter(
        has=page.get_by_text("Group by", exact=True)
    )
    group.locator("input").click()
    page.keyboard.type("identity")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    settle_after_change(page)
    view = _snapshot(page)
    assert view["period"] == "last month" and view["stack"] == "region" and view["week"]
    assert view["query"] == {
        "period": ["last-month"],
        "granularity": ["week"],
        "stack": ["region"],
        "top": ["5"],
        "group": ["model", "identity"],
    }, view["query"]

    for _ in range(5):
        page.get_by_role("link", name="Integrations").click()
        page.get_by_role("heading", name="Integrations").wait_for()
        settle(page)
        page.get_by_role("link", name="Explorer").click()
        assert _snapshot(page) == view

    link = page.url
    page.goto("about:blank")
    page.goto(link)  # a bookmark: a new session
    assert _snapshot(page) == view

    # one bad part (the zone): the rest of the link holds, and the page says what was ignored
    page.goto(f"{servers.app_url}/?period=last-month&granularity=week&tz=Mars/Olympus&stack=region")
    page.get_by_text(re.compile("Part of this link was ignored, the rest is shown: tz")).wait_for()
    kept = _snapshot(page)
    assert (kept["period"], kept["week"], kept["stack"]) == ("last month", True, "region")

    # a narrow screen: the headline tiles wrap, no figure is cut short
    page.set_viewport_size({"width": 800, "height": 1000})
    page.reload()
    page.get_by_text("Cost over time").wait_for(timeout=60_000)
    settle(page)
    tiles = page.locator("[data-testid=stMetric]")
    assert tiles.count() >= 8  # the headline and the cache figures
    for i in range(tiles.count()):
        # any text in the tile (value, label, change) laid out wider than the box that clips
        # it: shown with an ellipsis ("$17…", "Cost per 1,000 priced invoca…")
        cut = tiles.nth(i).evaluate(
            """tile => [...tile.querySelectorAll('*')].filter(el => {
                 const r = document.createRange(); r.selectNodeContents(el);
                 const clips = getComputedStyle(el).overflow !== 'visible';
                 return el.scrollWidth > el.clientWidth + 1 && clips
                   || r.getBoundingClientRect().right > tile.getBoundingClientRect().right + 1;
               }).map(el => el.innerText)"""
        )
        assert not cut, f"{cut!r} does not fit its tile"
    total = _metric(page, "Total cost")
    assert re.fullmatch(r"\$[\d,]+\.\d{2}", total), total


def test_a_bookmark_opened_first_on_a_fresh_server_gets_the_apps_navigation(
    servers_without_demo: Servers, page
) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{servers_without_demo.app_url}/integrations")  # before anyone opened /
    page.get_by_role("heading", name="Integrations").wait_for()
    settle(page)
    nav = page.locator("[data-testid=stSidebarNav]")
    names = [" ".join(t.split()) for t in nav.get_by_role("link").all_inner_texts()]
    assert [n.split()[-1] for n in names] == ["Explorer", "Integrations", "Checker"], names
    assert "common" not in nav.inner_text() and "streamlit app" not in nav.inner_text()
    # the page's own content, not only its heading (waited for: it renders after the rerun)
    page.get_by_role("button", name="Add Bedrock integration").wait_for(state="visible")
    # the shared module is not a page
    page.goto(f"{servers_without_demo.app_url}/common")
    page.get_by_role("heading", name="Explorer").wait_for()  # the app's default page instead
    settle(page)
    assert page.get_by_role("heading", name="Integrations").count() == 0
