"""A new user's first minutes, in a real browser: demo data on first start, then on and off."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlparse

from tests.e2e.conftest import Servers, settle


def _metric(pg, label: str) -> str:  # type: ignore[no-untyped-def]
    label_el = pg.locator("[data-testid=stMetricLabel]").get_by_text(label, exact=True)
    metric = pg.locator("[data-testid=stMetric]").filter(has=label_el)
    return metric.locator("[data-testid=stMetricValue]").inner_text()


def _background(pg) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    css = pg.evaluate(
        "getComputedStyle(document.querySelector('[data-testid=stApp]')).backgroundColor"
    )
    return tuple(int(x) for x in re.findall(r"\d+", css)[:3])


def test_first_start_shows_demo_data_and_it_can_be_removed(servers: Servers, page) -> None:  # type: ignore[no-untyped-def]
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(servers.app_url)
    page.get_by_text("Cost over time").wait_for(timeout=120_000)
    settle(page)
    # offline-proof: every request (the favicon included) goes to the dashboard itself
    foreign = [u for u in asked if urlparse(u).hostname not in ("127.0.0.1", None)]
    assert not foreign, foreign
    icon = page.locator("link[rel~=icon]").first.get_attribute("href") or ""
    assert urlparse(urljoin(page.url, icon)).hostname == "127.0.0.1", icon
    assert max(_background(page)) > 200, "light on a light system"
    page.emulate_media(color_scheme="dark")
    page.reload()
    page.get_by_text("Cost over time").wait_for(timeout=120_000)
    assert max(_background(page)) < 60, "the theme follows a dark system"
    page.emulate_media(color_scheme="light")
    page.reload()
    page.get_by_text("Cost over time").wait_for(timeout=120_000)
    settle(page)
    invocations = int(_metric(page, "Invocations").replace(",", ""))
    assert invocations > 15_000  # the last 30 days of the 90-day demo
    assert page.get_by_text("You are looking at demo data").is_visible()
    page.locator(".js-plotly-plot").nth(2).wait_for()  # the charts render after the text

    page.get_by_role("link", name="Integrations").click()
    page.get_by_text("Quarantined lines").wait_for()  # the demo has bad lines, shown as such
    page.get_by_role("button", name=re.compile("Remove demo data")).click()
    page.get_by_text("No integrations yet").wait_for()
    settle(page)
    page.goto(servers.app_url)
    page.get_by_text("No data yet").wait_for()  # removal is remembered across restarts

    page.get_by_role("button", name=re.compile("Load demo data")).click()
    page.get_by_text("Cost over time").wait_for(timeout=120_000)
    settle(page)
    assert int(_metric(page, "Invocations").replace(",", "")) > 15_000
