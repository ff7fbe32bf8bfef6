"""Sign-in for a team, end to end: a real OpenID Connect provider on 127.0.0.1
(``oidc-provider-mock``), the dashboard started with a secrets file naming it, and Chromium.

An admin signs in and syncs; a viewer sees the data but no control that changes it, and a
forged websocket message carrying the admin's *Sync now* click is refused; someone outside the
allow-list is turned away with the reason; signing out ends the session.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bedrock_explorer import audit, demo
from bedrock_explorer.store import Store
from tests.conftest import PUBLIC_RECORDS
from tests.e2e.conftest import Servers, run_servers, settle, settle_after_change

oidc_provider_mock = pytest.importorskip("oidc_provider_mock")

ADMIN, VIEWER, OUTSIDER = "alice@example.com", "vera@example.com", "mallory@evil-example.com"


@pytest.fixture
def provider() -> Iterator[str]:
    """The identity provider: two predefined users (and anyone typed in, as the mock allows)."""
    users = [
        oidc_provider_mock.User(sub=ADMIN, claims={"email": ADMIN, "name": "Alice"}),
        oidc_provider_mock.User(sub=VIEWER, claims={"email": VIEWER, "name": "Vera"}),
    ]
    with oidc_provider_mock.run_server_in_thread(user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def team(tmp_path: Path, request: pytest.FixtureRequest, provider: str) -> Iterator[Servers]:
    """The dashboard behind sign-in, with one integration (files on disk) to sync."""
    secrets = tmp_path / "secrets.toml"
    db = tmp_path / "e2e.duckdb"

    def prepare(_aws_url: str) -> dict[str, str]:
        with Store(db) as store:
            store.add_integration("team-logs", "local", {"paths": [str(PUBLIC_RECORDS)]})
            store.set_setting(demo.DEMO_DECLINED_SETTING, "true")
        return {}

    def app_args(app_url: str) -> list[str]:
        secrets.write_text(
            f"""
[auth]
redirect_uri = "{app_url}/oauth2callback"
cookie_secret = "e2e-only-cookie-secret-0123456789abcdef0123456789"
client_id = "bedrock-explorer"
client_secret = "e2e-secret"
server_metadata_url = "{provider}/.well-known/openid-configuration"

[access]
admins = ["{ADMIN}"]
viewers = ["@example.com"]
"""
        )
        return ["--secrets.files", str(secrets)]

    yield from run_servers(tmp_path, request, prepare=prepare, app_args=app_args)


def _sign_in(pg, servers: Servers, who: str, *, predefined: bool = True) -> None:  # type: ignore[no-untyped-def]
    pg.goto(servers.app_url)
    settle(pg)
    pg.get_by_role("button", name="Sign in", exact=True).click()
    pg.get_by_role("heading", name="Authorize Client").wait_for()
    if predefined:
        pg.get_by_role("button", name=who, exact=True).click()
    else:
        pg.get_by_placeholder("sub").fill(who)
        pg.get_by_role("button", name="Authorize", exact=True).click()
    pg.wait_for_url(re.compile(re.escape(servers.app_url)))
    settle(pg)


def _signed_in_as(pg, who: str, role: str) -> None:  # type: ignore[no-untyped-def]
    box = pg.locator("[data-testid=stSidebar]").get_by_text(re.compile("^Signed in as"))
    box.wait_for()
    text = " ".join(box.inner_text().replace("\u2060", "").split())
    assert text == f"Signed in as {who} ({role})", text


def _trail(servers: Servers) -> list[tuple[str, str, str | None]]:
    with Store(servers.db_path, read_only=True, wait_seconds=30) as store:
        return [(r.actor, r.action, r.target) for r in audit.trail(store.con).itertuples()]


CHANGES = ("Sync now", "Edit", "Delete", "Add Bedrock integration", "Remove demo data")


def _buttons(pg) -> set[str]:  # type: ignore[no-untyped-def]
    """Which of the state-changing buttons the page shows."""
    main = pg.locator("[data-testid=stMain]")
    return {name for name in CHANGES if main.get_by_role("button", name=name, exact=True).count()}


def test_admins_viewers_outsiders_and_sign_out(team: Servers, page) -> None:  # type: ignore[no-untyped-def]
    browser = page.context.browser

    # -- nobody signed in: only the sign-in screen, no spend; also for a bookmark to a page
    # opened first on the fresh server (Streamlit would run that page file on its own)
    page.goto(f"{team.app_url}/integrations")
    settle(page)
    assert page.get_by_text("team-logs").count() == 0
    page.get_by_role("button", name="Sign in", exact=True).wait_for()
    assert page.locator("[data-testid=stMetric]").count() == 0

    # -- the admin signs in and syncs; the click is captured to be forged later
    sent: list[bytes] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda f: sent.append(f)))
    _sign_in(page, team, ADMIN)
    _signed_in_as(page, ADMIN, "admin")
    page.get_by_role("link", name="Integrations").click()
    page.get_by_role("button", name="Sync now", exact=True).wait_for()
    settle(page)
    assert _buttons(page) == {"Sync now", "Edit", "Delete", "Add Bedrock integration"}
    sent.clear()
    page.get_by_role("button", name="Sync now", exact=True).click()
    page.get_by_text(re.compile("^Last successful sync")).wait_for(timeout=120_000)
    click = next(f for f in sent if isinstance(f, bytes) and b"sync_" in f)
    rows = _trail(team)
    assert (ADMIN, audit.SYNC_STARTED, "team-logs") in rows
    assert (ADMIN, audit.SIGNED_IN, ADMIN) in rows
    syncs = rows.count((ADMIN, audit.SYNC_STARTED, "team-logs"))

    # -- sign-out ends the session (the provider's end-session page confirms it)
    page.locator("[data-testid=stSidebar]").get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="End Session").wait_for()  # the provider's own page
    page.get_by_role("button", name="End session").click()
    page.get_by_role("button", name="Sign in", exact=True).wait_for()
    page.goto(f"{team.app_url}/integrations")
    settle(page)
    assert page.get_by_role("button", name="Sign in", exact=True).is_visible()
    assert page.get_by_text("team-logs").count() == 0

    # -- a viewer: the data, no control; a forged click is refused
    viewer_ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    viewer = viewer_ctx.new_page()
    viewer.set_default_timeout(60_000)
    routes = []

    def keep(ws) -> None:  # type: ignore[no-untyped-def]
        routes.append(ws.connect_to_server())  # forwards both ways; kept to inject into

    viewer.route_web_socket(re.compile(r"/_stcore/stream"), keep)
    _sign_in(viewer, team, VIEWER)
    _signed_in_as(viewer, VIEWER, "viewer")
    nav = viewer.locator("[data-testid=stSidebarNav]")
    assert nav.get_by_text("Integrations").count() == 1
    assert nav.get_by_text("IAM Policy Checker").count() == 0
    viewer.get_by_role("link", name="Integrations").click()
    viewer.get_by_text("team-logs").first.wait_for()
    settle(viewer)
    assert _buttons(viewer) == set()
    assert viewer.get_by_text("Sync schedule").count() == 0
    assert routes, "the viewer's websocket was not seen"
    routes[-1].send(click)  # the admin's Sync now, replayed on the viewer's own session
    settle_after_change(viewer)
    time.sleep(2)  # a sync would have started within this
    assert _trail(team).count((ADMIN, audit.SYNC_STARTED, "team-logs")) == syncs
    assert not any(r[0] == VIEWER and r[1] == audit.SYNC_STARTED for r in _trail(team))
    # the IAM checker by its address: not a viewer's page
    viewer.goto(f"{team.app_url}/iam_checker")
    settle(viewer)
    assert viewer.get_by_text("Where the logs are").count() == 0
    viewer_ctx.close()

    # -- someone outside the allow-list is turned away with the reason
    outsider_ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    outsider = outsider_ctx.new_page()
    outsider.set_default_timeout(60_000)
    _sign_in(outsider, team, OUTSIDER, predefined=False)
    outsider.get_by_text(re.compile("is not on this dashboard's allow-list")).wait_for()
    assert outsider.locator("[data-testid=stMetric]").count() == 0
    assert outsider.get_by_text("team-logs").count() == 0
    outsider_ctx.close()
    assert (OUTSIDER, audit.SIGN_IN_REFUSED, OUTSIDER) in _trail(team)
    assert "Traceback" not in team.logs["streamlit"].read_text()
